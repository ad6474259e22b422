/** ingest's partitioner puts each keyed record where kafkajs's default partitioner (Java's murmur2) does. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import '../../services/common/kafkajs-aborted-filter.js';
import { Partitioners, type PartitionMetadata } from 'kafkajs';
import { CachedDefaultPartitioner } from '../../services/ingest/partitioner.js';

const metadata = (n: number): PartitionMetadata[] =>
  Array.from({ length: n }, (_, i) => ({
    partitionId: i,
    leader: 0,
    partitionErrorCode: 0,
    replicas: [0],
    isr: [0],
    offlineReplicas: [],
  }));

describe('ingest partitioner', () => {
  it('gives every string key the partition kafkajs gives it, asked once or many times', () => {
    const ours = CachedDefaultPartitioner();
    const theirs = Partitioners.DefaultPartitioner();
    const keys = [
      ...Array.from({ length: 3000 }, (_, i) => `shop/web-${i}`),
      'a',
      '',
      'é/€/😀',
      'x'.repeat(301),
    ];
    for (const partitions of [1, 3, 7, 12, 64])
      for (let round = 0; round < 2; round++)
        for (const key of keys) {
          const args = { topic: 't', partitionMetadata: metadata(partitions), message: { key, value: 'v' } };
          assert.equal(ours(args), theirs(args), `key ${key} over ${partitions} partitions`);
        }
  });

  it('leaves a set partition, a Buffer key and no key to kafkajs', () => {
    const ours = CachedDefaultPartitioner();
    const pm = metadata(5);
    assert.equal(
      ours({ topic: 't', partitionMetadata: pm, message: { key: 'k', value: 'v', partition: 4 } }),
      4,
    );
    const theirs = Partitioners.DefaultPartitioner();
    const buffer = { key: Buffer.from('shop/web-1'), value: 'v' };
    assert.equal(
      ours({ topic: 't', partitionMetadata: pm, message: buffer }),
      theirs({ topic: 't', partitionMetadata: pm, message: buffer }),
    );
    const unkeyed = ours({ topic: 't', partitionMetadata: pm, message: { value: 'v' } });
    assert.ok(unkeyed >= 0 && unkeyed < 5);
  });
});

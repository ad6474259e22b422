/** ingest's one-pass produce request and CRC-32C: the same bytes as kafkajs's own, or kafkajs's own. */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it, mock } from 'node:test';
import '../../services/common/kafkajs-aborted-filter.js';
import { crc32c } from '../../services/ingest/crc32c.js';
import {
  encodeProduceRequest,
  forgetFastProduceRequests,
  useFastProduceRequests,
  type ProduceArgs,
} from '../../services/ingest/produce-request.js';
import { seededRandom as random } from '../../services/classifier/seeded-random.js';

const require = createRequire(import.meta.url);
type Encoded = { buf: Buffer; offset: number };
const kafkajsCrc = require('kafkajs/src/protocol/recordBatch/crc32C/index.js') as (b: Buffer) => number;
const kafkajsV3 = require('kafkajs/src/protocol/requests/produce/v3/request.js') as (a: ProduceArgs) => {
  encode: () => Promise<Encoded>;
};
const produce = require('kafkajs/src/protocol/requests/produce/index.js') as {
  protocol: (v: { version: number }) => (a: ProduceArgs) => {
    request: { apiVersion: number; encode: () => Promise<Encoded> };
  };
};
const Long = require('kafkajs/src/utils/long.js') as { fromString(s: string): unknown };
const bytes = (e: Encoded) => Buffer.from(e.buf.subarray(0, e.offset));

const rand = random(20);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
const text = (n: number) => {
  const head = Array.from({ length: Math.min(n, 40) }, () =>
    pick(['a', 'é', '€', '😀', '"', '\\', '{']),
  ).join('');
  return head + 'x'.repeat(Math.max(0, n - 40));
};
const field = (): Buffer | string | null | undefined => {
  // Lengths about each varint's size boundary; a few large ones (a record over 8 KiB takes 3 bytes).
  const n = rand() < 0.02 ? pick([8191, 8192, 70_000]) : pick([0, 1, 20, 63, 64, 127, 128, 300]);
  const r = rand();
  if (r < 0.1) return null;
  if (r < 0.15) return undefined;
  return r < 0.6 ? text(n) : Buffer.from(text(n));
};
const messages = (n: number) =>
  Array.from({ length: n }, () => ({
    key: field(),
    value: field(),
    ...(rand() < 0.2 ? { headers: {} } : {}),
  }));

function request(over: Partial<ProduceArgs> = {}): ProduceArgs {
  return {
    acks: pick([-1, 1, 0]),
    timeout: pick([30_000, 5000]),
    transactionalId: pick(['ingest-host-1-0', null, undefined, 'tx-é']),
    producerId: pick([Long.fromString('4711'), Long.fromString('-1'), 1234, '99']),
    producerEpoch: pick([0, 7, 32_000]),
    topicData: Array.from({ length: pick([1, 2, 3]) }, (_, t) => ({
      topic: `autoglm.t${t}.metrics`,
      partitions: Array.from({ length: pick([1, 2, 5]) }, (_, p) => ({
        partition: p * 3 + t,
        firstSequence: pick([0, 1, 1000, 2 ** 31 - 1]),
        messages: messages(pick([1, 2, 127, 128, 129, 300])),
      })),
    })),
    ...over,
  };
}

describe('ingest produce request', () => {
  it('has the CRC-32C of the standard check value and of kafkajs on every length and offset', () => {
    assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
    for (let n = 0; n < 300; n += pick([1, 3, 7, 13])) {
      const b = Buffer.from(Array.from({ length: n + 9 }, () => Math.floor(rand() * 256)));
      const start = n % 9;
      assert.equal(crc32c(b, start, start + n), kafkajsCrc(b.subarray(start, start + n)), `length ${n}`);
    }
  });

  it('writes the same bytes as kafkajs for every size of key, value, record count and batch', async (t) => {
    t.mock.method(Date, 'now', () => 1_800_000_000_123);
    for (let i = 0; i < 60; i++) {
      const args = request();
      const ours = encodeProduceRequest(args);
      assert.ok(ours, `request ${i} is encoded here`);
      assert.deepEqual(bytes(ours), bytes(await kafkajsV3(args).encode()), `request ${i}`);
    }
  });

  it('leaves headers, a timestamp, another key type and compression to kafkajs', () => {
    const base = request({ compression: 0 });
    const first = base.topicData[0]!.partitions[0]!;
    const withMessage = (m: object): ProduceArgs => ({
      ...base,
      topicData: [{ ...base.topicData[0]!, partitions: [{ ...first, messages: [...first.messages, m] }] }],
    });
    assert.ok(encodeProduceRequest(base));
    assert.equal(encodeProduceRequest(withMessage({ key: 'k', value: 'v', headers: { h: '1' } })), undefined);
    assert.equal(encodeProduceRequest(withMessage({ key: 'k', value: 'v', timestamp: 5 })), undefined);
    assert.equal(encodeProduceRequest(withMessage({ key: 7, value: 'v' })), undefined);
    assert.equal(encodeProduceRequest({ ...base, compression: 1 }), undefined);
  });

  it("is what kafkajs's produce lookup encodes for a registered transactional id only, v3 to v7", async () => {
    mock.method(Date, 'now', () => 1_800_000_000_456);
    try {
      const id = 'ingest-produce-request-test-0';
      useFastProduceRequests(id);
      // 1000 two-byte messages: kafkajs's own encoder leaves its buffer a power of two, larger than its bytes.
      const args = request({
        transactionalId: id,
        compression: 0,
        topicData: [
          {
            topic: 'm',
            partitions: [{ partition: 0, messages: Array(1000).fill({ key: 'k', value: 'v' }) }],
          },
        ],
      });
      for (const version of [3, 4, 5, 6, 7]) {
        const made = produce.protocol({ version })(args).request;
        assert.equal(made.apiVersion, version);
        const e = await made.encode();
        assert.equal(e.buf.length, e.offset, `v${version}: one exact buffer`);
        assert.deepEqual(bytes(e), bytes(await kafkajsV3(args).encode()));
      }
      const other = await produce
        .protocol({ version: 7 })({ ...args, transactionalId: 'another' })
        .request.encode();
      assert.notEqual(other.buf.length, other.offset, "another producer's request is kafkajs's");
      forgetFastProduceRequests(id);
      const forgotten = await produce.protocol({ version: 7 })(args).request.encode();
      assert.notEqual(forgotten.buf.length, forgotten.offset);
      assert.deepEqual(bytes(forgotten), bytes(await kafkajsV3(args).encode()));
    } finally {
      mock.restoreAll();
    }
  });
});

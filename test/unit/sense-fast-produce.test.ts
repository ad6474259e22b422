/** sense's produce requests go through the one-pass encoder, byte for byte kafkajs's; other requests do not. */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it, mock } from 'node:test';
import '../../services/common/kafkajs-aborted-filter.js';
import type { ProduceArgs } from '../../services/ingest/produce-request.js';
import { isSenseRequest, useFastProduceFor } from '../../services/sense/fast-produce.js';

const require = createRequire(import.meta.url);
type Encoded = { buf: Buffer; offset: number };
const kafkajsV3 = require('kafkajs/src/protocol/requests/produce/v3/request.js') as (a: ProduceArgs) => {
  encode: () => Promise<Encoded>;
};
const produce = require('kafkajs/src/protocol/requests/produce/index.js') as {
  protocol: (v: { version: number }) => (a: ProduceArgs) => { request: { encode: () => Promise<Encoded> } };
};
const bytes = (e: Encoded) => Buffer.from(e.buf.subarray(0, e.offset));

const request = (topics: string[], transactionalId: string | null = null): ProduceArgs => ({
  acks: -1,
  timeout: 30_000,
  compression: 0,
  transactionalId,
  topicData: topics.map((topic, i) => ({
    topic,
    partitions: [
      {
        partition: i,
        messages: Array.from({ length: 300 }, (_, n) => ({
          key: Buffer.from(`svc-${n}`),
          value: Buffer.from(JSON.stringify({ entity: `svc-${n}`, features: { 'cpu.avg': n / 7 } })),
        })),
      },
    ],
  })),
});

describe('sense produce requests', () => {
  it('encodes the requests to its output topics in one exact buffer, the same bytes as kafkajs', async () => {
    mock.method(Date, 'now', () => 1_800_000_000_123);
    try {
      useFastProduceFor(['t.observations', 't.baselines']);
      const ours = request(['t.observations', 't.baselines']);
      assert.equal(isSenseRequest(ours), true);
      for (const version of [3, 5, 7]) {
        const e = await produce.protocol({ version })(ours).request.encode();
        assert.equal(e.buf.length, e.offset, `v${version}: one exact buffer`);
        assert.deepEqual(bytes(e), bytes(await kafkajsV3(ours).encode()));
      }
      // Another topic in the request, or a transactional producer: kafkajs' own (a power-of-two buffer).
      for (const other of [request(['t.observations', 't.dlq']), request(['t.observations'], 'tx-1')]) {
        assert.equal(isSenseRequest(other), false);
        const e = await produce.protocol({ version: 7 })(other).request.encode();
        assert.notEqual(e.buf.length, e.offset);
        assert.deepEqual(bytes(e), bytes(await kafkajsV3(other).encode()));
      }
    } finally {
      mock.restoreAll();
    }
  });
});

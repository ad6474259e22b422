/**
 * Ingest when Kafka goes away (the shared broker keeps running: ingest reaches it through a TCP
 * proxy that is cut and restored). While it is cut, requests are answered 503 with Retry-After and
 * nothing is kept; once it is back, the sender's retries are taken, and every sample ever answered
 * 2xx is in the metrics topic exactly once (read as sense reads it, read_committed).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka } from 'kafkajs';
import { Registry } from 'prom-client';
import { topicNames, type Config } from '../../services/common/config.js';
import type { MetricSample } from '../../services/common/contracts.js';
import { createKafka } from '../../services/common/kafka.js';
import { createLogger } from '../../services/common/logger.js';
import { startIngest, type IngestService } from '../../services/ingest/main.js';
import { testConfig, unique } from '../support/config.js';
import { deleteTopicsWithPrefix, TopicTap } from '../support/kafka.js';
import { postRemoteWrite, remoteWriteBody } from '../support/remote-write.js';
import { TcpProxy } from '../support/tcp-proxy.js';

/**
 * A broker's answers name its advertised host:port (Metadata, FindCoordinator), which kafkajs then
 * dials directly: rewrite the port to the proxy's so every connection goes through the proxy.
 * The pattern is the INT16-length host and the INT32 port of the non-flexible versions kafkajs uses.
 */
function advertiseProxy(broker: string, proxy: () => number) {
  const [host, port] = broker.split(':') as [string, string];
  const hostBytes = Buffer.from(host);
  const pattern = Buffer.alloc(2 + hostBytes.length + 4);
  pattern.writeInt16BE(hostBytes.length, 0);
  hostBytes.copy(pattern, 2);
  pattern.writeInt32BE(Number(port), 2 + hostBytes.length);
  return (chunk: Buffer) => {
    let at = chunk.indexOf(pattern);
    if (at < 0) return undefined;
    const out = Buffer.from(chunk);
    while (at >= 0) {
      out.writeInt32BE(proxy(), at + 2 + hostBytes.length);
      at = out.indexOf(pattern, at + pattern.length);
    }
    return out;
  };
}

/** Kafka's EndTxn (a transaction's commit or abort), the api key at bytes 4-5 of a request. */
const END_TXN = 26;

describe('ingest under a Kafka outage (through a proxy; the shared broker keeps running)', () => {
  const logger = createLogger('error');
  let base: Config;
  let kafka: Kafka;
  let proxy: TcpProxy;
  let ingest: IngestService;
  /** Set by a test: the next EndTxn ingest sends cuts the proxy instead of reaching the broker. */
  let cutAtEndTxn = false;

  before(async () => {
    base = testConfig();
    const broker = base.kafkaBrokers[0]!;
    proxy = await TcpProxy.start(broker, {
      fromServer: advertiseProxy(broker, () => proxy.port),
      fromClient: async (chunk) => {
        if (!cutAtEndTxn || chunk.length < 6 || chunk.readInt16BE(4) !== END_TXN) return undefined;
        cutAtEndTxn = false;
        await proxy.down(); // the chunk is dropped: the broker keeps the transaction open
        return undefined;
      },
    });
    const config = testConfig({
      topicPrefix: base.topicPrefix,
      kafkaBrokers: proxy.address,
      ingestPort: '0',
      ingestAuth: 'none',
      ingestKafkaTimeout: '3s',
      ingestRetryAfter: '1s',
    });
    kafka = createKafka(base, logger);
    ingest = await startIngest({ config, logger, registry: new Registry() });
  });

  after(async () => {
    await proxy?.up();
    await ingest?.stop();
    await proxy?.down();
    if (kafka) await deleteTopicsWithPrefix(kafka, base.topicPrefix);
  });

  it('answers 503 with Retry-After while Kafka is cut; every acknowledged sample is in the topic exactly once', async (t) => {
    const entity = `${unique('outage')}/pod`;
    const [ns, pod] = entity.split('/') as [string, string];
    const t0 = Date.now() - 60_000;
    const PER_REQUEST = 25;
    const bodyOf = (n: number) =>
      remoteWriteBody([
        {
          labels: { __name__: 'cpu', namespace: ns, pod },
          // Each sample's value names its request and place: found again exactly once, or not.
          samples: Array.from({ length: PER_REQUEST }, (_, j) => ({
            value: n * 1000 + j,
            timestamp: t0 + n,
          })),
        },
      ]);
    const send = async (n: number) => {
      const res = await postRemoteWrite(`http://127.0.0.1:${ingest.port}/api/v1/write`, bodyOf(n));
      return { status: res.status, retryAfter: res.headers.get('retry-after'), text: await res.text() };
    };
    const acked = new Set<number>();
    const refused = new Set<number>();
    let next = 0;
    const round = async (count: number) => {
      for (let i = 0; i < count; i++) {
        const n = next++;
        const r = await send(n);
        if (r.status === 204) acked.add(n);
        else {
          assert.equal(r.status, 503, r.text);
          assert.equal(r.retryAfter, '1');
          assert.match(r.text, /nothing of this request was kept/);
          refused.add(n);
        }
      }
    };

    await round(10);
    assert.equal(acked.size, 10, 'all taken while Kafka is up');

    // Cut while a request is on its way: its commit is sent but never reaches the broker (its
    // transaction stays open there); then send during the cut.
    cutAtEndTxn = true;
    const downSince = Date.now();
    await round(3);
    assert.equal(cutAtEndTxn, false, 'the proxy was cut at a commit');
    assert.ok(refused.has(10), 'the request whose commit was cut is refused');
    await round(5);
    assert.ok(refused.size >= 5, `requests during the cut are refused (${refused.size} were)`);
    assert.ok(Date.now() - downSince < 8 * 3000 + 5000, 'each answered within the Kafka timeout, not held');

    await proxy.up();
    // The sender retries what was refused, as Prometheus does after Retry-After: taken within
    // seconds (well inside the 60 s a transaction left open lives on the broker).
    const upSince = Date.now();
    const deadline = upSince + 30_000;
    while (refused.size > 0) {
      assert.ok(Date.now() < deadline, `retries still refused after 30s: ${[...refused].join(',')}`);
      for (const n of [...refused]) {
        const r = await send(n);
        if (r.status === 204) {
          refused.delete(n);
          acked.add(n);
        }
      }
      if (refused.size > 0) await sleep(1000);
    }
    t.diagnostic(`every refused request was taken ${Date.now() - upSince} ms after Kafka came back`);
    await round(10);

    const tap = await new TopicTap(kafka, topicNames(base).metrics, logger).start();
    try {
      const expected = acked.size * PER_REQUEST;
      const waitUntil = Date.now() + 30_000;
      while (tap.values<MetricSample>((s) => s.entity === entity).length < expected && Date.now() < waitUntil)
        await sleep(200);
      await sleep(1000); // a duplicate would come right behind
      const seen = new Map<number, number>();
      for (const s of tap.values<MetricSample>((v) => v.entity === entity))
        seen.set(s.value, (seen.get(s.value) ?? 0) + 1);
      for (const n of acked) {
        for (let j = 0; j < PER_REQUEST; j++)
          assert.equal(seen.get(n * 1000 + j), 1, `sample ${n * 1000 + j} of acknowledged request ${n}`);
      }
      assert.equal(
        [...seen.values()].reduce((a, b) => a + b, 0),
        expected,
        'nothing but the acknowledged samples, each once',
      );
    } finally {
      await tap.stop();
    }
  });
});

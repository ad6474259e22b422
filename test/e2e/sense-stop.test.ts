/**
 * Stopping sense leaves nothing running: a read back in flight is cut short, and no Kafka
 * connection outlives the service. kafkajs's admin connects again when used after its disconnect;
 * a rebuild that ran on after stop did that, and kept a stopped process (in CI, a test file with
 * two senses in one group) alive until the broker closed the idle connection, 10 minutes later.
 * Real Kafka, topics and groups of their own.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { topicNames } from '../../services/common/config.js';
import type { MetricSample, OpsEvent } from '../../services/common/contracts.js';
import { readPartitions } from '../../services/common/kafka-read.js';
import { createLogger } from '../../services/common/logger.js';
import { unique } from '../support/config.js';
import { SenseRun } from '../support/sense-run.js';

const logger = createLogger('warn');
const T0 = Date.now() - 3_600_000;

/** Open TCP connections of this process, polled until none or `ms` passed. */
async function openConnections(ms: number): Promise<number> {
  const deadline = Date.now() + ms;
  for (;;) {
    const open = process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;
    if (open === 0 || Date.now() > deadline) return open;
    await sleep(100);
  }
}

describe('stopping sense (real Kafka)', () => {
  const runs: SenseRun[] = [];
  after(async () => {
    for (const r of runs) await r.cleanUp();
  });

  it('a read back cut short by its signal ends incomplete with what it had read, and one aborted before it begins reads nothing', async () => {
    const run = new SenseRun(1, logger);
    runs.push(run);
    const topic = topicNames(run.config).events;
    const entity = unique('pod');
    // 2 MB: more than one fetch (1 MB a partition), so the read is cut short between two batches.
    const big = 'x'.repeat(10_000);
    await run.produceEvents(
      Array.from({ length: 200 }, (_, i) => ({ entity, kind: 'deploy', message: big, ts: T0 + i })),
    );
    const signal = new AbortController();
    let seen = 0;
    const limits = { maxMessages: Number.MAX_SAFE_INTEGER, timeoutMs: 60_000, signal: signal.signal };
    const cut = await readPartitions(
      run.kafka,
      topic,
      new Map([[0, 'earliest' as const]]),
      () => {
        if (++seen === 10) signal.abort();
      },
      limits,
      `${run.config.groupPrefix}-read`,
    );
    assert.equal(cut.complete, false, 'a read cut short is incomplete');
    assert.deepEqual(cut.partitionsLeft, [0]);
    assert.ok(cut.messages >= 10 && cut.messages < 200, `${cut.messages} of 200 read before the cut`);
    const none = await readPartitions(
      run.kafka,
      topic,
      new Map([[0, 'earliest' as const]]),
      () => undefined,
      limits,
      `${run.config.groupPrefix}-read`,
    );
    assert.deepEqual(none, { messages: 0, complete: false, partitionsLeft: [0] }, 'aborted before it began');
    const whole = await readPartitions(
      run.kafka,
      topic,
      new Map([[0, 'earliest' as const]]),
      () => undefined,
      { maxMessages: Number.MAX_SAFE_INTEGER, timeoutMs: 60_000 },
      `${run.config.groupPrefix}-read`,
    );
    assert.deepEqual(whole, { messages: 200, complete: true, partitionsLeft: [] }, 'without a signal');
  });

  it('a read back reaches the end of a partition that ends with a transaction marker, without waiting for its timeout', async () => {
    const run = new SenseRun(1, logger);
    runs.push(run);
    const topic = topicNames(run.config).events;
    await run.produceEvents([{ entity: unique('pod'), kind: 'deploy', message: 'v1', ts: T0 }]);
    // Ingest writes transactions like this one: the partition's last offset is the commit marker,
    // a control record no reader hands out (verify reads ingest's metrics back the same way).
    const producer = run.kafka.producer({
      transactionalId: unique('tx'),
      maxInFlightRequests: 1,
      idempotent: true,
    });
    await producer.connect();
    try {
      const tx = await producer.transaction();
      await tx.send({ topic, messages: [{ key: 'k', value: '{}' }] });
      await tx.commit();
    } finally {
      await producer.disconnect();
    }
    // The commit returns before the coordinator has written the marker to the partition; until
    // then the transaction is open there and a read_committed end stops before its message. Wait
    // for the marker (the event 0, the message 1, the marker 2: the committed end is 3).
    const admin = run.kafka.admin();
    await admin.connect();
    try {
      const deadline = Date.now() + 10_000;
      let end = '';
      while (
        (end = (await admin.fetchTopicOffsets(topic)).find((p) => p.partition === 0)?.high ?? '') !== '3'
      ) {
        assert.ok(Date.now() < deadline, `the commit marker was not written in 10 s (committed end ${end})`);
        await sleep(50);
      }
    } finally {
      await admin.disconnect();
    }
    const started = Date.now();
    const read = await readPartitions(
      run.kafka,
      topic,
      new Map([[0, 'earliest' as const]]),
      () => undefined,
      { maxMessages: Number.MAX_SAFE_INTEGER, timeoutMs: 30_000 },
      `${run.config.groupPrefix}-read`,
    );
    const seconds = (Date.now() - started) / 1000;
    assert.deepEqual(read, { messages: 2, complete: true, partitionsLeft: [] });
    assert.ok(seconds < 10, `read in ${seconds}s (its timeout is 30s)`);
  });

  for (const gapMs of [0, 1500, 3000]) {
    it(`two senses stopped ${gapMs} ms apart while their group rebalances leave no connection open`, async () => {
      const run = new SenseRun(3, logger);
      runs.push(run);
      const entities = Array.from({ length: 12 }, (_, i) => unique(`pod-${i}`));
      const first = await run.startSense();
      const second = await run.startSense();
      const events: OpsEvent[] = entities.map((entity) => ({
        entity,
        kind: 'deploy',
        message: 'v2',
        ts: T0 + 2_000,
      }));
      await run.produceEvents(events);
      const samples: MetricSample[] = [];
      for (let i = 0; i < 20; i++)
        for (const entity of entities) samples.push({ entity, metric: 'cpu', value: 50, ts: T0 + i * 250 });
      await run.produce(samples);
      await run.caughtUp();
      // The first one leaves: the second joins again and rebuilds its new partitions while it stops.
      await run.stopSense(first);
      await sleep(gapMs);
      await run.stopSense(second);
      assert.equal(await openConnections(5_000), 0, 'open connections 5 s after both stopped');
    });
  }
});

/**
 * The verify activity's out-of-order replay (services/verify/activities.ts): a verification that
 * starts after the action reads the evidence since the action back from the observations topic
 * (real Kafka, the real read-back), while newer observations already arrive live. The older ones
 * read back must count in event-time order: a streak they start is credited from its start, and
 * a failing one among them breaks the streak the live ones had begun. The activity runs in
 * Temporal's MockActivityEnvironment (its context, heartbeats and cancellation).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { Kafka, Producer } from 'kafkajs';
import { Registry } from 'prom-client';
import { topicNames, type Config } from '../../services/common/config.js';
import type { Observation } from '../../services/common/contracts.js';
import { connectProducer, createKafka, ensureTopics, sendJson } from '../../services/common/kafka.js';
import { createLogger } from '../../services/common/logger.js';
import { createVerifyActivities, type VerificationResult } from '../../services/verify/activities.js';
import { ObservationState } from '../../services/verify/observation-state.js';
import { readBack } from '../../services/verify/read-back.js';
import { testConfig, unique } from '../support/config.js';
import { deleteTopicsWithPrefix } from '../support/kafka.js';

describe('verify: observations read back after newer live ones (real Kafka)', () => {
  const logger = createLogger('warn');
  let config: Config;
  let kafka: Kafka;
  let producer: Producer;

  before(async () => {
    config = testConfig();
    kafka = createKafka(config, logger);
    await ensureTopics(kafka, Object.values(topicNames(config)), config.topicPartitions);
    producer = await connectProducer(kafka);
  });

  after(async () => {
    await producer?.disconnect();
    if (kafka) await deleteTopicsWithPrefix(kafka, config.topicPrefix);
  });

  const observation = (entity: string, ts: number, cpu: number): Observation => ({
    entity,
    seq: ts,
    window: { start: ts - 3000, end: ts },
    features: { 'cpu.avg': cpu },
    events: [],
    ts,
  });

  /**
   * Runs one verification that began 10s after the action (so it reads back): `topic` observations
   * are on the topic before it starts; `live` arrive from the live stream before the read-back
   * returns; `later` arrive live after it.
   */
  async function verify(script: {
    topic: readonly [number, number][];
    live: readonly [number, number][];
    later?: readonly [number, number][];
  }): Promise<{ result: VerificationResult; actedAt: number }> {
    const entity = unique('read-back');
    const actedAt = Date.now() - 10_000;
    const at = (list: readonly [number, number][]) =>
      list.map(([ms, cpu]) => observation(entity, actedAt + ms, cpu));
    await sendJson(
      producer,
      topicNames(config).observations,
      at(script.topic).map((o) => ({ key: entity, value: o })),
    );
    const state = new ObservationState();
    let liveAdded!: () => void;
    const liveIn = new Promise<void>((resolve) => (liveAdded = resolve));
    let readBackDone = false;
    const activities = createVerifyActivities({
      registry: new Registry(),
      state,
      graceMs: 5000,
      heartbeatMs: 200,
      startedAt: Date.now(),
      logger,
      // The real read-back, handed over only once the newer live observations are in: the order
      // that needs the replay.
      readBack: async (e, since) => {
        const r = await readBack(
          kafka,
          topicNames(config).observations,
          e,
          since,
          { maxMessages: 100_000, timeoutMs: 30_000 },
          logger,
        );
        await liveIn;
        readBackDone = true;
        return r;
      },
    });
    const running = new MockActivityEnvironment({ attempt: 1 }).run(activities.verifyRemediation, {
      entity,
      verify: {
        conditions: { all: [{ fact: 'cpu.avg', operator: 'lessThan', value: 70 }] },
        within: '30s',
        stableFor: '3s',
      },
      actedAt,
    });
    while (!state.isWatched(entity)) await sleep(10);
    for (const o of at(script.live)) state.add(o);
    liveAdded();
    while (!readBackDone) await sleep(20);
    await sleep(200);
    for (const o of at(script.later ?? [])) state.add(o);
    return { result: (await running) as VerificationResult, actedAt };
  }

  it('credits a streak from its first observation read back, though newer ones came live first', async () => {
    const { result, actedAt } = await verify({
      topic: [
        [1000, 50],
        [2000, 50],
        [3000, 50],
        [4000, 50],
        [5000, 50],
      ],
      live: [
        [6000, 50],
        [7000, 50],
      ],
    });
    assert.equal(result.outcome, 'verified', JSON.stringify(result.evidence));
    assert.equal(result.evidence.holdingSince, actedAt + 1000, 'the streak began with the oldest read back');
    assert.equal((result.evidence.readBack as { observations: number }).observations, 5);
  });

  it('lets a failing observation read back break the streak the live ones had begun', async () => {
    const { result, actedAt } = await verify({
      topic: [
        [1000, 50],
        [2000, 50],
        [2500, 90],
      ],
      live: [
        [3000, 50],
        [4000, 50],
      ],
      later: [
        [5000, 50],
        [6000, 50],
      ],
    });
    assert.equal(result.outcome, 'verified', JSON.stringify(result.evidence));
    assert.equal(result.evidence.holdingSince, actedAt + 3000, 'the streak after the break');
    const seen = (result.evidence.observations as Array<{ ts: number; holds: boolean }>).map((o) => [
      o.ts - actedAt,
      o.holds,
    ]);
    assert.deepEqual(
      seen,
      [
        [1000, true],
        [2000, true],
        [2500, false],
        [3000, true],
        [4000, true],
        [5000, true],
        [6000, true],
      ],
      'checked in event-time order',
    );
  });
});

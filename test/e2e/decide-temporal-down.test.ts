/**
 * decide while Temporal cannot be reached (a real client to a port nothing listens on, real
 * Kafka): each start fails within AUTOGLM_START_TIMEOUT, is counted, and the observation is
 * retried without publishing its decision again; a run of failures turns readiness false.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import type { EachMessagePayload, Kafka, Producer } from 'kafkajs';
import { Registry } from 'prom-client';
import { topicNames, type Config } from '../../services/common/config.js';
import type { Decision, Observation } from '../../services/common/contracts.js';
import { DeadLetters } from '../../services/common/dead-letters.js';
import { connectProducer, createKafka, ensureTopics } from '../../services/common/kafka.js';
import { createLogger } from '../../services/common/logger.js';
import { DecideHandler } from '../../services/decide/decide-handler.js';
import { Decider } from '../../services/decide/decider.js';
import { loadRuleDir } from '../../services/decide/rule-file.js';
import { RemediationStarter } from '../../services/decide/workflow-starter.js';
import { fastCpuRule, writeRuleDir } from '../../services/fleet-sim/fast-loop.js';
import { testConfig, unique } from '../support/config.js';
import { deleteTopicsWithPrefix, TopicTap } from '../support/kafka.js';

describe('decide with Temporal unreachable (real Kafka)', () => {
  const logger = createLogger('silent');
  const rulesDir = writeRuleDir([fastCpuRule('down-cpu-scale-out', '5s')]);
  let config: Config;
  let kafka: Kafka;
  let producer: Producer;
  let decisions: TopicTap;
  let unreachable: Client;

  before(async () => {
    config = testConfig({ rulesDir, startTimeout: '1s', maxStartFailures: '2' });
    kafka = createKafka(config, logger);
    await ensureTopics(kafka, Object.values(topicNames(config)), config.topicPartitions);
    producer = await connectProducer(kafka);
    decisions = await new TopicTap(kafka, topicNames(config).decisions, logger).start();
    unreachable = new Client({ connection: Connection.lazy({ address: '127.0.0.1:1' }) });
  });

  after(async () => {
    await decisions?.stop();
    await producer?.disconnect();
    await unreachable?.connection.close().catch(() => undefined);
    if (kafka) await deleteTopicsWithPrefix(kafka, config.topicPrefix);
  });

  it('publishes the decision once, counts each failed start and turns readiness false', async () => {
    const registry = new Registry();
    const topics = topicNames(config);
    const handler = new DecideHandler({
      decider: new Decider(loadRuleDir(rulesDir), { maxDecisionAgeMs: config.maxDecisionAge }),
      starter: new RemediationStarter(unreachable, config),
      producer,
      decisionsTopic: topics.decisions,
      deadLetters: new DeadLetters(producer, topics.dlq, 'decide', registry, logger),
      maxClockSkewMs: config.maxClockSkew,
      maxStartFailures: config.maxStartFailures,
      logger,
      registry,
    });
    const entity = unique('down');
    const end = Date.now();
    const obs: Observation = {
      entity,
      seq: 1,
      window: { start: end - 3000, end },
      features: { 'cpu.avg': 95, 'cpu.count': 6 },
      events: [],
      ts: end,
    };
    // The message as kafkajs hands it over, delivered again after each failure, as kafkajs does.
    const payload = {
      topic: topics.observations,
      partition: 0,
      message: { key: Buffer.from(entity), value: Buffer.from(JSON.stringify(obs)), offset: '0' },
    } as unknown as EachMessagePayload;
    assert.equal(handler.startsHealthy(), true);
    for (let attempt = 1; attempt <= 3; attempt++) {
      const started = Date.now();
      await assert.rejects(handler.handle(payload));
      assert.ok(Date.now() - started < 10_000, 'a start fails within its timeout, not after ~20s');
      assert.equal(handler.startsHealthy(), attempt < 2, `readiness after ${attempt} failures`);
    }
    const failures = (await registry.getSingleMetric('autoglm_decide_start_failures_total')?.get())
      ?.values[0];
    assert.equal(failures?.value, 3);
    await decisions.waitFor<Decision>((d) => d.entity === entity, 10_000);
    await sleep(500);
    assert.equal(decisions.values<Decision>((d) => d.entity === entity).length, 1, 'published once');
  });
});

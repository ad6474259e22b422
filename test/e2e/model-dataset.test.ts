/**
 * `model dataset`'s Kafka edge on a real broker: the loop's observations, decisions and verdicts
 * (written to topics of this test's own) become labeled rows — a verified remediation confirms its
 * class, a failed one is a negative, quiet windows are healthy — and the reading group is removed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Kafka, Producer } from 'kafkajs';
import { buildDataset } from '../../services/classifier/dataset-from-topics.js';
import { topicNames, type Config } from '../../services/common/config.js';
import type { Decision, Observation, Verdict } from '../../services/common/contracts.js';
import { connectProducer, createKafka, ensureTopics, sendJson } from '../../services/common/kafka.js';
import { createLogger } from '../../services/common/logger.js';
import { testConfig, unique } from '../support/config.js';
import { deleteTopicsWithPrefix } from '../support/kafka.js';

describe('model dataset from the topics (real Kafka)', () => {
  const logger = createLogger('silent');
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

  it('labels verified remediations, counts failed ones as negatives, samples quiet windows as healthy', async () => {
    const topics = topicNames(config);
    const t0 = Date.now() - 3_600_000;
    const obs = (entity: string, end: number, mem: number): Observation => ({
      entity,
      seq: 0,
      window: { start: end - 30_000, end },
      features: { 'mem.avg': mem, 'mem.slope': mem > 80 ? 0.02 : 0 },
      events: mem > 80 ? [{ kind: 'k8s', message: 'OOMKilled', ts: end - 1000 }] : [],
      ts: end,
    });
    const leaking = unique('leak');
    const refuted = unique('refuted');
    const quiet = unique('quiet');
    const observations = [obs(leaking, t0, 92), obs(refuted, t0, 91), obs(quiet, t0 - 1_800_000, 40)];
    const decision = (o: Observation, id: string): Decision => ({
      decisionId: id,
      entity: o.entity,
      rule: 'memory-leak-restart',
      ruleVersion: 'test',
      mode: 'enforce',
      action: 'restart',
      args: {},
      actuator: { type: 'http' },
      cooldown: '10m',
      approval: 'none',
      verify: {
        conditions: { all: [{ fact: 'mem.avg', operator: 'lessThan', value: 70 }] },
        within: '5m',
        stableFor: '0s',
      },
      incident: { class: 'memory_leak', confidence: 0.9, modelVersion: 'test' },
      facts: {},
      window: o.window,
      stale: false,
      ts: o.ts,
    });
    const decisions = [
      decision(observations[0]!, `d-${leaking}`),
      decision(observations[1]!, `d-${refuted}`),
    ];
    const verdict = (d: Decision, outcome: Verdict['outcome']): Verdict => ({
      decisionId: d.decisionId,
      workflowId: `remediate-${d.decisionId}`,
      entity: d.entity,
      rule: d.rule,
      action: d.action,
      outcome,
      evidence: {},
      ts: d.ts + 60_000,
    });
    await sendJson(
      producer,
      topics.observations,
      observations.map((o) => ({ key: o.entity, value: o })),
    );
    await sendJson(
      producer,
      topics.decisions,
      decisions.map((d) => ({ key: d.entity, value: d })),
    );
    await sendJson(producer, topics.verdicts, [
      { key: leaking, value: verdict(decisions[0]!, 'verified') },
      { key: refuted, value: verdict(decisions[1]!, 'failed') },
    ]);

    const result = await buildDataset({
      kafka,
      topics,
      classes: ['healthy', 'memory_leak'],
      groupPrefix: config.groupPrefix,
      timeoutMs: 30_000,
    });
    assert.equal(result.read.timedOut, false);
    assert.deepEqual(result.read.read, {
      [topics.observations]: 3,
      [topics.decisions]: 2,
      [topics.verdicts]: 2,
    });
    assert.deepEqual(
      result.rows.map((r) => r.label).sort(),
      ['healthy', 'memory_leak'],
      'one confirmed leak and one quiet healthy window',
    );
    assert.equal(result.rows.find((r) => r.label === 'memory_leak')?.features['mem.avg'], 92);
    assert.equal(result.negatives.length, 1);
    assert.equal(result.negatives[0]?.notClass, 'memory_leak');
    const admin = kafka.admin();
    await admin.connect();
    try {
      const groups = (await admin.listGroups()).groups.map((g) => g.groupId);
      assert.deepEqual(
        groups.filter((g) => g.startsWith(config.groupPrefix)),
        [],
        'the reading group is removed',
      );
    } finally {
      await admin.disconnect();
    }
  });
});

/**
 * `model dataset`'s Kafka edge on a real broker: the loop's observations, decisions and verdicts
 * (written to topics of this test's own) become labeled rows — a verified remediation confirms its
 * class, a failed one is a negative, quiet windows are healthy — the command writes all of them (the
 * negative as a "notClass" row), and the reading group is removed.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Kafka, Producer } from 'kafkajs';
import { modelCommand } from '../../cli/model-commands.js';
import { readTrainingData } from '../../services/classifier/dataset-file.js';
import { buildDataset } from '../../services/classifier/dataset-from-topics.js';
import { readModelConfig } from '../../services/classifier/model-config.js';
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

  it('labels verified remediations, writes failed ones as negatives, samples quiet windows as healthy', async () => {
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

    // The command writes all three to the file, the refuted window as a "notClass" row that the
    // trainer's reader accepts.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-dataset-'));
    const file = path.join(dir, 'rows.jsonl');
    const saved = { topics: process.env.AUTOGLM_TOPIC_PREFIX, groups: process.env.AUTOGLM_GROUP_PREFIX };
    process.env.AUTOGLM_TOPIC_PREFIX = config.topicPrefix;
    process.env.AUTOGLM_GROUP_PREFIX = config.groupPrefix;
    const out: string[] = [];
    const err: string[] = [];
    try {
      const code = await modelCommand(['dataset', '--out', file, '--timeout', '30s'], {
        out: (line) => out.push(line),
        err: (line) => err.push(line),
      });
      assert.equal(code, 0, err.join('\n'));
    } finally {
      process.env.AUTOGLM_TOPIC_PREFIX = saved.topics;
      process.env.AUTOGLM_GROUP_PREFIX = saved.groups;
      if (saved.topics === undefined) delete process.env.AUTOGLM_TOPIC_PREFIX;
      if (saved.groups === undefined) delete process.env.AUTOGLM_GROUP_PREFIX;
    }
    assert.ok(out.includes('wrote 3 rows to ' + file + ' (2 labeled, 1 negative)'), out.join('\n'));
    const lines = fs
      .readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(lines.map((l) => l.label ?? `not ${l.notClass}`).sort(), [
      'healthy',
      'memory_leak',
      'not memory_leak',
    ]);
    const negative = lines.find((l) => l.notClass !== undefined);
    assert.equal(negative.features['mem.avg'], 91);
    assert.equal('label' in negative, false);
    const written = readTrainingData(file, readModelConfig('models/incident.config.json'));
    assert.deepEqual(
      written.negatives.map((n) => [n.notClass, n.features['mem.avg']]),
      [['memory_leak', 91]],
    );
    assert.equal(written.rows.length, 2);
    fs.rmSync(dir, { recursive: true, force: true });

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

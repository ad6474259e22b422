/**
 * The backtest is the product's code, not a model of it: one recording replayed by `runBacktest`
 * and the same recording produced to a fresh metrics topic (each sample with its own timestamp)
 * and handled by the live sense and decide services (real Kafka, Temporal, the shipped classifier
 * and the starter rules in shadow mode) give the same decisions: rule, entity, window, action.
 * The recording's times end two minutes ago and AUTOGLM_MAX_DECISION_AGE is an hour, so decide
 * does not mark its decisions stale (it would still publish them, but the test keeps the paths
 * alike).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { runBacktest } from '../../services/backtest/backtest.js';
import { loadBacktestClassifier, loadBacktestRules } from '../../services/backtest/run.js';
import { topicNames } from '../../services/common/config.js';
import type { Decision, MetricSample } from '../../services/common/contracts.js';
import { connectProducer, createKafka, ensureTopics, sendJson } from '../../services/common/kafka.js';
import { createLogger } from '../../services/common/logger.js';
import type { Service } from '../../services/common/service.js';
import { startDecide } from '../../services/decide/main.js';
import { startSense } from '../../services/sense/main.js';
import { testConfig } from '../support/config.js';
import { waitForGroupCaughtUp, waitForTapCaughtUp } from '../support/group-offsets.js';
import { deleteTopicsWithPrefix, TopicTap } from '../support/kafka.js';

const logger = createLogger('warn');
const root = path.resolve(import.meta.dirname, '..', '..');

/** The starter rules (and their context files) in a folder of their own, every rule in shadow mode. */
function shadowStarterRules(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autoglm-backtest-live-'));
  fs.cpSync(path.join(root, 'rules'), dir, { recursive: true });
  for (const f of fs.readdirSync(dir)) {
    if (!f.endsWith('.json') || f.endsWith('.test.json') || f === 'rule.schema.json') continue;
    const file = path.join(dir, f);
    const rule = JSON.parse(fs.readFileSync(file, 'utf8')) as { event: { params: { mode: string } } };
    rule.event.params.mode = 'shadow';
    fs.writeFileSync(file, JSON.stringify(rule, null, 2));
  }
  return dir;
}

/**
 * Three entities, one CPU sample each every 5 s for 25 minutes of event time, ending two minutes
 * ago: "hot" at the ceiling twice for 2.5 minutes (from minutes 5 and 19, more than the rule's
 * cooldown and keepFiringFor apart), "spiky" far above its own normal once for 3 minutes (from
 * minute 13), "calm" never. Noise from a fixed seed.
 */
function recording(end: number): MetricSample[] {
  const step = 5_000;
  const n = 300;
  const start = Math.floor((end - n * step) / 1000) * 1000;
  let seed = 7;
  const noise = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return (seed / 2 ** 31 - 0.5) * 6;
  };
  const samples: MetricSample[] = [];
  for (let i = 0; i < n; i++) {
    const ts = start + i * step;
    const minute = (i * step) / 60_000;
    const hot = (minute >= 5 && minute < 7.5) || (minute >= 19 && minute < 21.5) ? 99.5 : 45 + noise();
    const spiky = minute >= 13 && minute < 16 ? 88 + noise() : 30 + noise();
    samples.push({ entity: 'hot', metric: 'cpu', value: hot, ts });
    samples.push({ entity: 'spiky', metric: 'cpu', value: spiky, ts });
    samples.push({ entity: 'calm', metric: 'cpu', value: 50 + noise(), ts });
  }
  return samples;
}

type Key = Pick<Decision, 'rule' | 'entity' | 'window' | 'action' | 'decisionId'>;
const keyOf = (d: Key) =>
  `${d.window.start} ${d.window.end} ${d.entity} ${d.rule} ${d.action} ${d.decisionId}`;

describe('backtest and the live services on one recording (real Kafka and Temporal)', () => {
  const rulesDir = shadowStarterRules();
  // The services' defaults (30 s window, an observation every 5 s); decisions an hour old are not stale.
  const config = testConfig({ rulesDir, window: '30s', emitEvery: '5s', maxDecisionAge: '1h' });
  const kafka = createKafka(config, logger);
  const services: Service[] = [];
  let tap: TopicTap | undefined;
  after(async () => {
    for (const s of services.reverse()) await s.stop();
    await tap?.stop();
    await deleteTopicsWithPrefix(kafka, config.topicPrefix);
    fs.rmSync(rulesDir, { recursive: true, force: true });
  });

  it('makes the same decisions (rule, entity, window, action)', async () => {
    const samples = recording(Date.now() - 2 * 60_000);
    const ruleSet = await loadBacktestRules(rulesDir, config);
    const classifier = await loadBacktestClassifier(config.modelDir);
    const replay = await runBacktest(
      { samples, events: [] },
      { config, ruleSet, ...(classifier ? { classifier } : {}) },
    );
    assert.equal(replay.stale, 0);

    const topics = topicNames(config);
    await ensureTopics(kafka, Object.values(topics), config.topicPartitions);
    tap = await new TopicTap(kafka, topics.decisions, logger).start();
    services.push(await startDecide({ config, logger, registry: new Registry() }));
    services.push(await startSense({ config, logger, registry: new Registry() }));
    const producer = await connectProducer(kafka);
    try {
      // In event-time order, as a recorder would have seen them; each entity keyed to its partition.
      for (let i = 0; i < samples.length; i += 150)
        await sendJson(
          producer,
          topics.metrics,
          samples.slice(i, i + 150).map((s) => ({ key: s.entity, value: s })),
        );
    } finally {
      await producer.disconnect();
    }
    await waitForGroupCaughtUp(kafka, `${config.groupPrefix}-sense`, topics.metrics, 60_000);
    await waitForGroupCaughtUp(kafka, `${config.groupPrefix}-decide`, topics.observations, 60_000);
    await waitForTapCaughtUp(kafka, tap, topics.decisions, 30_000);
    const live = tap.values<Decision>(() => true);

    assert.ok(
      live.every((d) => !d.stale && d.mode === 'shadow'),
      'live decisions are fresh shadow decisions',
    );
    const expected = live.map(keyOf).sort();
    const actual = replay.decisions.map(keyOf).sort();
    // The recording's breaches decide: the ceiling on "hot", the deviation on "spiky", nothing on "calm".
    const on = (entity: string) =>
      live.filter((d) => d.entity === entity && d.rule === 'cpu-saturation-scale-out').length;
    assert.ok(on('hot') >= 1 && on('spiky') >= 1, `decisions:\n${expected.join('\n')}`);
    assert.equal(on('calm'), 0, `decisions:\n${expected.join('\n')}`);
    assert.deepEqual(actual, expected, 'the backtest decides what the live services decided');
  });
});

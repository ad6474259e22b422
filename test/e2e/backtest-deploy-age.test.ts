/**
 * `deploy.ageSeconds` is the same fact in the backtest and in the live services: one recording
 * with deploy events (the events written ahead of the samples, as a backlog is read) replayed by
 * `runBacktest` and handled by the live sense and decide services (real Kafka and Temporal) gives
 * the same decisions of a rule that matches only a minute after a deploy, when the deploy event
 * has left the 30 s window. Rules-only, shadow mode.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { runBacktest } from '../../services/backtest/backtest.js';
import { loadBacktestRules } from '../../services/backtest/run.js';
import { topicNames } from '../../services/common/config.js';
import type { Decision, MetricSample, OpsEvent } from '../../services/common/contracts.js';
import { connectProducer, createKafka, ensureTopics, sendJson } from '../../services/common/kafka.js';
import { createLogger } from '../../services/common/logger.js';
import type { Service } from '../../services/common/service.js';
import { startDecide } from '../../services/decide/main.js';
import { startSense } from '../../services/sense/main.js';
import { testConfig, unique } from '../support/config.js';
import { writeRuleDir } from '../support/fast-loop.js';
import { waitForGroupCaughtUp, waitForTapCaughtUp } from '../support/group-offsets.js';
import { deleteTopicsWithPrefix, TopicTap } from '../support/kafka.js';

const logger = createLogger('warn');
const RULE = 'deploy-age-probe';
/** Matches from 55 to 70 s after an entity's deploy, when the deploy is no longer in the window. */
const probe = {
  name: RULE,
  priority: 10,
  conditions: {
    all: [
      { fact: 'deploy.ageSeconds', operator: 'greaterThanInclusive', value: 55 },
      { fact: 'deploy.ageSeconds', operator: 'lessThanInclusive', value: 70 },
      { not: { fact: 'eventKinds', operator: 'contains', value: 'deploy' } },
    ],
  },
  event: {
    type: 'remediate',
    params: {
      action: 'rollback',
      args: { entity: '{{entity}}', age: '{{deploy.ageSeconds}}' },
      mode: 'shadow',
      cooldown: '1s',
      verify: {
        conditions: { all: [{ fact: 'cpu.avg', operator: 'lessThan', value: 70 }] },
        within: '1m',
        stableFor: '1s',
      },
    },
  },
};

const DEPLOYED = unique('deployed');
const OTHER = unique('other');

/** Both entities, one CPU sample every 5 s for 6 minutes ending two minutes ago; two deploys of one. */
function recording(end: number): { samples: MetricSample[]; events: OpsEvent[] } {
  const step = 5000;
  const n = 72;
  const start = Math.floor((end - n * step) / 5000) * 5000;
  const samples: MetricSample[] = [];
  for (let i = 0; i < n; i++)
    for (const entity of [DEPLOYED, OTHER])
      samples.push({ entity, metric: 'cpu', value: 40 + ((i * 7) % 11), ts: start + i * step });
  const events: OpsEvent[] = [
    { entity: DEPLOYED, kind: 'deploy', message: 'v2', ts: start + 61_234 },
    { entity: OTHER, kind: 'log', message: 'GC pause', ts: start + 100_000 },
    { entity: DEPLOYED, kind: 'deploy', message: 'v3', ts: start + 201_234 },
  ];
  return { samples, events };
}

type Key = Pick<Decision, 'rule' | 'entity' | 'window' | 'action' | 'decisionId'>;
const keyOf = (d: Key) =>
  `${d.window.start} ${d.window.end} ${d.entity} ${d.rule} ${d.action} ${d.decisionId}`;

describe('deploy.ageSeconds in the backtest and the live services (real Kafka and Temporal)', () => {
  const rulesDir = writeRuleDir([probe]);
  const config = testConfig({
    rulesDir,
    window: '30s',
    emitEvery: '5s',
    maxDecisionAge: '1h',
    modelDir: 'off',
  });
  const kafka = createKafka(config, logger);
  const services: Service[] = [];
  let tap: TopicTap | undefined;
  after(async () => {
    for (const s of services.reverse()) await s.stop();
    await tap?.stop();
    await deleteTopicsWithPrefix(kafka, config.topicPrefix);
    fs.rmSync(rulesDir, { recursive: true, force: true });
  });

  it('makes the same decisions a minute after each deploy', async () => {
    const { samples, events } = recording(Date.now() - 2 * 60_000);
    const ruleSet = await loadBacktestRules(rulesDir, config);
    const replay = await runBacktest({ samples, events }, { config, ruleSet });

    const topics = topicNames(config);
    await ensureTopics(kafka, Object.values(topics), config.topicPartitions);
    tap = await new TopicTap(kafka, topics.decisions, logger).start();
    services.push(await startDecide({ config, logger, registry: new Registry() }));
    services.push(await startSense({ config, logger, registry: new Registry() }));
    const producer = await connectProducer(kafka);
    try {
      // Every event first: sense reads its events partitions ahead of the samples.
      await sendJson(
        producer,
        topics.events,
        events.map((e) => ({ key: e.entity, value: e })),
      );
      await sendJson(
        producer,
        topics.metrics,
        samples.map((s) => ({ key: s.entity, value: s })),
      );
    } finally {
      await producer.disconnect();
    }
    await waitForGroupCaughtUp(kafka, `${config.groupPrefix}-sense`, topics.metrics, 60_000);
    await waitForGroupCaughtUp(kafka, `${config.groupPrefix}-decide`, topics.observations, 60_000);
    await waitForTapCaughtUp(kafka, tap, topics.decisions, 30_000);
    const live = tap.values<Decision>(() => true);

    const expected = live.map(keyOf).sort();
    const ages = live.map((d) => Number(d.args.age));
    // 55-70 s after each of the two deploys, every 5 s: 3 windows each; none on the other entity.
    assert.equal(live.filter((d) => d.entity === DEPLOYED).length, 6, expected.join('\n'));
    assert.equal(live.filter((d) => d.entity === OTHER).length, 0, expected.join('\n'));
    assert.ok(
      ages.every((a) => a >= 55 && a <= 70),
      `ages ${ages.join(', ')}`,
    );
    assert.deepEqual(
      replay.decisions.map(keyOf).sort(),
      expected,
      'the backtest decides what the live services decided',
    );
  });
});

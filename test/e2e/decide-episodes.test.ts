/**
 * One decision per episode on the real decide service (its own process, real Kafka): a rule with
 * `for` that matches 20 observations in a row decides once; a decide killed with -9 in the middle
 * of an episode (after it decided) is replaced by one that reads the episode back from the
 * changelog and decides nothing more for it; the episode's end is recorded in the changelog.
 * Without the changelog the new process would open a second episode (and decision) from the
 * observations after the crash.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { after, describe, it } from 'node:test';
import type { Producer } from 'kafkajs';
import { topicNames } from '../../services/common/config.js';
import type { Decision, Observation } from '../../services/common/contracts.js';
import { connectProducer, createKafka, ensureTopics, sendJson } from '../../services/common/kafka.js';
import { createLogger } from '../../services/common/logger.js';
import { decisionIdFor } from '../../services/decide/decision-id.js';
import type { EpisodeState } from '../../services/decide/episodes.js';
import { testConfig, unique } from '../support/config.js';
import { fastCpuRule, writeRuleDir } from '../support/fast-loop.js';
import { waitForGroupCaughtUp, waitForTapCaughtUp } from '../support/group-offsets.js';
import { deleteTopicsWithPrefix, TopicTap } from '../support/kafka.js';
import { spawnService, stepEnv } from '../support/service-process.js';

const logger = createLogger('silent');
const RULE = 'episode-cpu';
/** Shadow (nothing to start), every match would decide without episodes (cooldown 0s). */
const rule = (() => {
  const r = fastCpuRule(RULE, '5s');
  return {
    ...r,
    event: {
      ...r.event,
      params: { ...r.event.params, mode: 'shadow', cooldown: '0s', for: '5s', keepFiringFor: '5s' },
    },
  };
})();

/** Observations of `entity` one second apart from `from`, 3s windows, cpu `cpu(i)`. */
function observations(entity: string, from: number, n: number, cpu: (i: number) => number): Observation[] {
  return Array.from({ length: n }, (_, i) => {
    const end = from + i * 1000;
    return {
      entity,
      seq: i,
      window: { start: end - 3000, end },
      features: { 'cpu.avg': cpu(i), 'cpu.count': 6 },
      events: [],
      ts: end,
    };
  });
}

describe('one decision per episode, across a kill -9 of decide (real Kafka)', () => {
  const rulesDir = writeRuleDir([rule]);
  const config = testConfig({ rulesDir, modelDir: 'off', maxDecisionAge: '1h' });
  const topics = topicNames(config);
  const kafka = createKafka(config, logger);
  const children: ChildProcess[] = [];
  let producer: Producer | undefined;
  let decisions: TopicTap | undefined;
  let changelog: TopicTap | undefined;

  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await decisions?.stop();
    await changelog?.stop();
    await producer?.disconnect();
    await deleteTopicsWithPrefix(kafka, config.topicPrefix);
    const fs = await import('node:fs');
    fs.rmSync(rulesDir, { recursive: true, force: true });
  });

  const decide = () => {
    const child = spawnService('decide', config, stepEnv(config));
    children.push(child);
    return child;
  };
  const send = (list: Observation[]) =>
    sendJson(
      producer!,
      topics.observations,
      list.map((o) => ({ key: o.entity, value: o })),
    );
  const settled = async () => {
    await waitForGroupCaughtUp(kafka, `${config.groupPrefix}-decide`, topics.observations, 90_000);
    await waitForTapCaughtUp(kafka, decisions!, topics.decisions);
  };

  it('20 matching observations in a row give one decision, and a restart mid-episode none more', async () => {
    await ensureTopics(kafka, Object.values(topics), config.topicPartitions);
    producer = await connectProducer(kafka);
    decisions = await new TopicTap(kafka, topics.decisions, logger).start();
    changelog = await new TopicTap(kafka, topics.episodes, logger).start();
    const steady = unique('steady');
    const crashed = unique('crashed');
    const t0 = Date.now() - 120_000;
    const crashedObs = [
      ...observations(crashed, t0, 20, () => 95), // decides at the 6th (5s held), the crash after the 10th
      ...observations(crashed, t0 + 20_000, 8, () => 40), // 8s without a match: over after keepFiringFor 5s
    ];

    const first = decide();
    await send([...observations(steady, t0, 20, () => 95), ...crashedObs.slice(0, 10)]);
    await settled();
    assert.equal(
      decisions.values<Decision>((d) => d.entity === crashed).length,
      1,
      'decided before the crash',
    );
    first.kill('SIGKILL');
    await once(first, 'exit');

    await send(crashedObs.slice(10));
    decide();
    await settled();

    const of = (entity: string) => decisions!.values<Decision>((d) => d.entity === entity);
    assert.equal(of(steady).length, 1, JSON.stringify(of(steady).map((d) => d.window)));
    assert.equal(of(crashed).length, 1, JSON.stringify(of(crashed).map((d) => d.window)));
    const d = of(crashed)[0]!;
    const start = { start: t0 - 3000, end: t0 };
    assert.equal(d.window.end, t0 + 5000, 'decided where the condition had held for 5s');
    assert.deepEqual(d.episode, { start: start.start, window: start, heldMs: 5000 });
    assert.equal(d.decisionId, decisionIdFor(crashed, RULE, start));

    // The episode's end is in the changelog: its last record is the ended episode, with its decision.
    await waitForTapCaughtUp(kafka, changelog, topics.episodes);
    const last = changelog.values<EpisodeState>((s) => s.entity === crashed).at(-1);
    assert.equal(last?.phase, 'ended');
    assert.equal(last?.endReason, 'resolved');
    assert.deepEqual(last?.decidedWindow, d.window);
    assert.equal(last?.end, t0 + 19_000 + 5000, 'over at the first observation 5s after the last match');
  });
});

/**
 * A decision whose remediation ended stale never acted, so it must not spend its episode: on the
 * real decide service (its own process, real Kafka), a rule with `for` and a 10m cooldown decides
 * once; a `stale` verdict for that decision (as act publishes it when the workflow found its input
 * too old) lets the episode decide again on its next matching observation, under a new id and past
 * the cooldown, and only once. Without it, the episode stays spent and the incident is never acted on.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, describe, it } from 'node:test';
import type { Producer } from 'kafkajs';
import { topicNames } from '../../services/common/config.js';
import type { Decision, Observation, Verdict } from '../../services/common/contracts.js';
import { connectProducer, createKafka, ensureTopics, sendJson } from '../../services/common/kafka.js';
import { createLogger } from '../../services/common/logger.js';
import { workflowIdFor } from '../../services/decide/decision-id.js';
import { episodeDecisionId } from '../../services/decide/episodes.js';
import { testConfig, unique } from '../support/config.js';
import { fastCpuRule, writeRuleDir } from '../support/fast-loop.js';
import { waitForGroupCaughtUp, waitForTapCaughtUp } from '../support/group-offsets.js';
import { deleteTopicsWithPrefix, TopicTap } from '../support/kafka.js';
import { spawnService, stepEnv } from '../support/service-process.js';

const logger = createLogger('silent');
const RULE = 'stale-reopen-cpu';
/** Shadow (nothing to start: the verdict is sent by the test), for 5s, the fast loop's 10m cooldown. */
const rule = (() => {
  const r = fastCpuRule(RULE, '5s');
  return {
    ...r,
    event: { ...r.event, params: { ...r.event.params, mode: 'shadow', for: '5s', keepFiringFor: '1m' } },
  };
})();

/** A matching observation of `entity` whose 3s window ends at `end`. */
const hot = (entity: string, end: number, seq: number): Observation => ({
  entity,
  seq,
  window: { start: end - 3000, end },
  features: { 'cpu.avg': 95, 'cpu.count': 6 },
  events: [],
  ts: end,
});

describe('a remediation that ended stale lets its episode decide again (real Kafka)', () => {
  const rulesDir = writeRuleDir([rule]);
  const config = testConfig({ rulesDir, modelDir: 'off', maxDecisionAge: '1h' });
  const topics = topicNames(config);
  const kafka = createKafka(config, logger);
  let child: ChildProcess | undefined;
  let producer: Producer | undefined;
  let decisions: TopicTap | undefined;

  after(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await decisions?.stop();
    await producer?.disconnect();
    await deleteTopicsWithPrefix(kafka, config.topicPrefix);
    const fs = await import('node:fs');
    fs.rmSync(rulesDir, { recursive: true, force: true });
  });

  it('decides once, again once after a stale verdict of that decision, and not more', async () => {
    await ensureTopics(kafka, Object.values(topics), config.topicPartitions);
    producer = await connectProducer(kafka);
    decisions = await new TopicTap(kafka, topics.decisions, logger).start();
    const entity = unique('stale');
    const t0 = Date.now() - 120_000;
    let seq = 0;
    const send = (n: number) =>
      sendJson(
        producer!,
        topics.observations,
        Array.from({ length: n }, () => {
          const o = hot(entity, t0 + seq * 1000, seq++);
          return { key: o.entity, value: o };
        }),
      );
    const settled = async () => {
      await waitForGroupCaughtUp(kafka, `${config.groupPrefix}-decide`, topics.observations, 90_000);
      await waitForTapCaughtUp(kafka, decisions!, topics.decisions);
    };
    const of = () => decisions!.values<Decision>((d) => d.entity === entity);

    child = spawnService('decide', config, stepEnv(config));
    await send(10); // decides at the 6th: 5s held
    await settled();
    assert.equal(of().length, 1, 'one decision per episode');
    const first = of()[0]!;

    const verdict: Verdict = {
      decisionId: first.decisionId,
      workflowId: workflowIdFor(first),
      entity,
      rule: RULE,
      action: first.action,
      outcome: 'stale',
      evidence: { reason: 'before the guards: the input is 200s old' },
      ts: Date.now(),
    };
    await sendJson(producer, topics.verdicts, [{ key: entity, value: verdict }]);
    // The incident goes on: an observation a second until the episode decides again (30 s at most).
    const deadline = Date.now() + 30_000;
    while (of().length < 2 && Date.now() < deadline) {
      await send(1);
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    assert.equal(of().length, 2, 'the stale end opened the episode again');
    const second = of()[1]!;
    assert.notEqual(second.decisionId, first.decisionId, 'a new workflow, not the stale one');
    assert.deepEqual(second.episode?.window, first.episode?.window, 'the same episode');
    assert.equal(
      second.decisionId,
      episodeDecisionId(entity, RULE, { startWindow: first.episode!.window, reopened: 1 }),
    );

    // Once: the matches after it are held by the episode again.
    await send(5);
    await settled();
    assert.equal(of().length, 2, JSON.stringify(of().map((d) => d.window.end)));
  });
});

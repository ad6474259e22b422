/**
 * A decision published fresh whose workflow never started (decide killed with -9 after the publish,
 * before the start), replayed after a restart past the decision age: on the real decide process
 * (real Kafka, the Temporal dev server behind a proxy the test cuts so the first start cannot
 * happen) and the act service, the replay starts that decision's workflow, which ends it `stale` at
 * once, so the decision gets its verdict, exactly once, even when replayed again; it is not
 * published a second time. Without it the decision has no verdict (nothing acted, nothing said so),
 * and with a rule that has episodes the episode stays spent. Both kinds of rule: with and without
 * `for`.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Decision, Verdict } from '../../services/common/contracts.js';
import { sendJson } from '../../services/common/kafka.js';
import { uniqueName } from '../../services/common/unique-name.js';
import { episodeDecisionId } from '../../services/decide/episodes.js';
import { eventually } from '../support/budget-env.js';
import { fastCpuRule, writeRuleDir } from '../support/fast-loop.js';
import { waitForGroupCaughtUp, waitForTapCaughtUp } from '../support/group-offsets.js';
import { hotObservations, SafetyHarness, SAFETY_RULE } from '../support/safety-harness.js';
import { spawnService, stepEnv } from '../support/service-process.js';
import { TcpProxy } from '../support/tcp-proxy.js';

const MAX_AGE_MS = 8_000;
const EPISODE_RULE = (() => {
  const r = fastCpuRule('replay-stale-episode-cpu', '2s');
  return { ...r, event: { ...r.event, params: { ...r.event.params, for: '2s', keepFiringFor: '1m' } } };
})();

/** Waits for `check` to hold (real time); fails naming `what` after `ms`. */
const until = (what: string, check: () => boolean | Promise<boolean>, ms: number) =>
  eventually(
    async () => check(),
    (ok) => ok,
    what,
    ms,
  );

describe('a decision published fresh, never started, replayed past the decision age (real services)', () => {
  let h: SafetyHarness;
  let proxy: TcpProxy;
  const children: ChildProcess[] = [];
  const dirs: string[] = [];

  before(async () => {
    h = await SafetyHarness.start({ maxDecisionAge: `${MAX_AGE_MS}ms`, modelDir: 'off' });
    proxy = await TcpProxy.start(h.config.temporalAddress);
    await h.startAct();
  });
  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await proxy?.down();
    await h?.stop();
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  /** A decide process on `rulesDir`, its Temporal through `temporal`, in consumer group `group`. */
  const decide = (rulesDir: string, temporal: string, group = h.config.groupPrefix) => {
    const child = spawnService('decide', h.config, {
      ...stepEnv(h.config),
      AUTOGLM_RULES_DIR: rulesDir,
      TEMPORAL_ADDRESS: temporal,
      AUTOGLM_GROUP_PREFIX: group,
    });
    children.push(child);
    return child;
  };
  const kill = async (child: ChildProcess) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  };
  /** Each case leaves no decide process behind (the next one shares the group). */
  const killAll = async () => {
    for (const c of children.splice(0)) await kill(c);
  };

  async function lostStart(rule: { name: string }, rulesDir: string, ends: (now: number) => number[]) {
    const e = h.entity('replay-stale');
    const send = (windowEnds: number[]) =>
      sendJson(
        h.producer,
        h.topics.observations,
        hotObservations(e, windowEnds).map((o) => ({ key: o.entity, value: o })),
      );
    const mine = () => h.decisions.values<Decision>((d) => d.entity === e);
    // A decide process that can reach Temporal at start-up; then Temporal is cut, so the start of
    // the decision fails (and is retried) after the decision is published.
    let first = decide(rulesDir, proxy.address);
    // Another entity's old window (a stale decision for the audit): decide is up and committing.
    const warm = h.entity('replay-stale-warm');
    await sendJson(
      h.producer,
      h.topics.observations,
      hotObservations(warm, [Date.now() - 60_000]).map((o) => ({ key: o.entity, value: o })),
    );
    await waitForGroupCaughtUp(h.kafka, `${h.config.groupPrefix}-decide`, h.topics.observations, 60_000);
    await proxy.down();
    await send(ends(Date.now()));
    await until('the fresh decision', () => mine().some((d) => !d.stale), 30_000);
    await sleep(500);
    await kill(first);
    await proxy.up();
    const fresh = mine().filter((d) => !d.stale);
    assert.equal(fresh.length, 1, JSON.stringify(mine()));
    const decision = fresh[0]!;
    assert.equal(decision.rule, rule.name);
    assert.equal(h.verdicts.values<Verdict>((v) => v.decisionId === decision.decisionId).length, 0);

    // Restarted past the decision age: the batch is replayed, and the decision is stale now.
    await sleep(Math.max(0, decision.window.end + MAX_AGE_MS + 1_000 - Date.now()));
    first = decide(rulesDir, h.config.temporalAddress);
    const verdict = await h.verdicts.waitFor<Verdict>((v) => v.decisionId === decision.decisionId, 90_000);
    assert.equal(verdict.outcome, 'stale', JSON.stringify(verdict.evidence));
    assert.equal(verdict.entity, e);
    assert.deepEqual(h.callsFor(e), [], 'nothing acted');
    await waitForGroupCaughtUp(h.kafka, `${h.config.groupPrefix}-decide`, h.topics.observations, 60_000);
    await kill(first);

    // Replayed again (a new group reads everything from the start): still one verdict.
    const group = uniqueName('replay-stale-again');
    const again = decide(rulesDir, h.config.temporalAddress, group);
    await until(
      'the second replay',
      async () => {
        try {
          await waitForGroupCaughtUp(h.kafka, `${group}-decide`, h.topics.observations, 1_000);
          return true;
        } catch {
          return false;
        }
      },
      90_000,
    );
    await sleep(3_000);
    await kill(again);
    await waitForTapCaughtUp(h.kafka, h.verdicts, h.topics.verdicts);
    await waitForTapCaughtUp(h.kafka, h.decisions, h.topics.decisions);
    const verdicts = h.verdicts.values<Verdict>((v) => v.decisionId === decision.decisionId);
    assert.equal(verdicts.length, 1, JSON.stringify(verdicts));
    assert.equal(
      mine().filter((d) => d.decisionId === decision.decisionId).length,
      1,
      'the decision is published once',
    );
    return { e, decision };
  }

  it('without episodes: the decision ends stale, with one verdict', async () => {
    const dir = writeRuleDir([SAFETY_RULE]);
    dirs.push(dir);
    await lostStart(SAFETY_RULE, dir, (now) => [now]).finally(killAll);
  });

  it('with an episode: the decision ends stale, with one verdict', async () => {
    const dir = writeRuleDir([EPISODE_RULE]);
    dirs.push(dir);
    try {
      await episodeCase(dir);
    } finally {
      await killAll();
    }
  });

  async function episodeCase(dir: string) {
    const { e, decision } = await lostStart(EPISODE_RULE, dir, (now) => [now - 2_000, now - 1_000, now]);
    // The stale end opens the episode again: the incident, still going, is decided again on fresh
    // input under the episode's next id (`reopened`), and acted on.
    const child = decide(dir, h.config.temporalAddress);
    const reopenedId = episodeDecisionId(e, EPISODE_RULE.name, {
      startWindow: decision.episode!.window,
      reopened: 1,
    });
    const deadline = Date.now() + 60_000;
    let seq = 0;
    while (!h.decisions.values<Decision>((d) => d.decisionId === reopenedId).length) {
      assert.ok(Date.now() < deadline, 'the episode decided again after its stale end');
      await sendJson(h.producer, h.topics.observations, [
        { key: e, value: { ...hotObservations(e, [Date.now()])[0]!, seq: 100 + seq++ } },
      ]);
      await sleep(1_000);
    }
    const again = h.decisions.values<Decision>((d) => d.decisionId === reopenedId)[0]!;
    assert.equal(again.stale, false);
    await until('the reopened decision to act', () => h.callsFor(e).length === 1, 60_000);
    await kill(child);
  }
});

/**
 * The Decider's side of a decision published fresh whose workflow may never have started: an
 * episode's deciding window replayed after a restart (the episode read back from its changelog),
 * now past the decision age, comes back under `replayed` with the episode's id (the handler starts
 * it again and does not publish it again), not held as `late`; a backlog's first stale window is
 * still the audit's. And what counts as published fresh: enforced, not stale, within the lookback.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Decider } from '../../services/decide/decider.js';
import { decisionIdFor } from '../../services/decide/decision-id.js';
import { EpisodeTracker, type EpisodeOutput } from '../../services/decide/episodes.js';
import { FreshDecisions, freshDecisionId } from '../../services/decide/fresh-decisions.js';
import { ruleSetOf } from '../../services/decide/rule-set.js';
import { cpuStaticRule, hotCpu } from '../support/cpu-rule.js';

const T0 = 1_800_000_000_000;
const AGE = 60_000;

const episodic = () => cpuStaticRule({ for: '10s', keepFiringFor: '10m' });
const hot = (end: number) => hotCpu('web-7', end);

describe('a decision an episode made fresh, replayed past the decision age', () => {
  it('comes back as replayed, with the episode’s id, after a restart from the changelog', async () => {
    const first = new Decider(ruleSetOf([episodic()]), { maxDecisionAgeMs: AGE });
    const ends = [T0, T0 + 5_000, T0 + 10_000];
    const made = [];
    for (const end of ends) made.push(...(await first.decide(hot(end), end)).decisions);
    assert.equal(made.length, 1);
    const decision = made[0]!;
    assert.equal(decision.stale, false);

    // Killed before the batch was committed: a new process reads the episode back and replays it.
    const restored = new EpisodeTracker();
    const out: EpisodeOutput = { changes: [], ended: [] };
    restored.restore(first.episodes.get('web-7', decision.rule)!, out);
    const second = new Decider(ruleSetOf([episodic()]), { maxDecisionAgeMs: AGE, episodes: restored });
    const late = T0 + 10_000 + AGE + 1_000;
    const replays = [];
    for (const end of ends) replays.push(await second.decide(hot(end), late));
    assert.deepEqual(
      replays.map((r) => r.decisions),
      [[], [], []],
      'nothing published again',
    );
    const replayed = replays.flatMap((r) => r.replayed);
    assert.equal(replayed.length, 1, 'the deciding window only');
    assert.equal(replayed[0]!.decisionId, decision.decisionId);
    assert.equal(replayed[0]!.stale, true);
    assert.deepEqual(replayed[0]!.window, decision.window);
    assert.equal(second.episodes.get('web-7', decision.rule)?.phase, 'firing', 'the episode is as it was');

    // Its stale end opens the episode again: the next observation decides under the next id.
    second.staleEnded('web-7', decision.rule, decision.decisionId);
    const next = await second.decide(hot(late), late);
    assert.equal(next.decisions.length, 1);
    assert.equal(
      next.decisions[0]!.decisionId,
      decisionIdFor('web-7', `${decision.rule}#reopened-1`, { start: T0 - 30_000, end: T0 }),
    );
  });

  it('a backlog’s stale window is not replayed: it is published once for the audit', async () => {
    const decider = new Decider(ruleSetOf([episodic()]), { maxDecisionAgeMs: AGE });
    const results = [];
    for (const end of [T0, T0 + 5_000, T0 + 10_000])
      results.push(await decider.decide(hot(end), end + 300_000));
    assert.deepEqual(
      results.flatMap((r) => r.replayed),
      [],
    );
    const audit = results.flatMap((r) => r.decisions);
    assert.equal(audit.length, 1);
    assert.equal(audit[0]!.stale, true);
  });

  it('reads back only enforced decisions published fresh', () => {
    const value = (d: object) => ({ value: Buffer.from(JSON.stringify(d)) });
    assert.equal(freshDecisionId(value({ decisionId: 'a', mode: 'enforce', stale: false })), 'a');
    assert.equal(freshDecisionId(value({ decisionId: 'b', mode: 'enforce', stale: true })), undefined);
    assert.equal(freshDecisionId(value({ decisionId: 'c', mode: 'shadow', stale: false })), undefined);
    assert.equal(freshDecisionId({ value: Buffer.from('not json') }), undefined);
    assert.equal(freshDecisionId({ value: null }), undefined);
  });

  it('counts a decision as published fresh only within the lookback, and keeps at most its capacity', () => {
    const fresh = new FreshDecisions(60_000, 2);
    fresh.add('a', T0);
    assert.equal(fresh.has('a', T0 + 60_000), true);
    assert.equal(fresh.has('a', T0 + 60_001), false, 'too long ago: its workflow may be gone');
    fresh.add('b', T0);
    fresh.add('c', T0);
    assert.equal(fresh.has('a', T0), false, 'the oldest went');
    assert.equal(fresh.has('c', T0), true);
  });
});

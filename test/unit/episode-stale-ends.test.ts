/**
 * A decision whose remediation ended stale (it never acted) does not spend its episode: the
 * episode decides again on its next matching observation, under a new id (a new workflow), past
 * the rule's cooldown; an older decision's stale end, or one after the episode is over, changes
 * nothing; the re-opening survives the changelog (restore) and a replay keeps its id.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from '../../infra/paths.js';
import type { Decision, Observation } from '../../services/common/contracts.js';
import { Decider } from '../../services/decide/decider.js';
import { decisionIdFor } from '../../services/decide/decision-id.js';
import { staleVerdictOf } from '../../services/decide/episode-stale-ends.js';
import {
  EpisodeTracker,
  episodeDecisionId,
  episodeStateSchema,
  type EpisodeOutput,
  type EpisodeSpec,
  type EpisodeStep,
} from '../../services/decide/episodes.js';
import { parseRuleFile, type LoadedRule } from '../../services/decide/rule-file.js';
import { ruleSetOf } from '../../services/decide/rule-set.js';

const T0 = 1_800_000_000_000;
const SPEC: EpisodeSpec = { forMs: 10_000, keepFiringForMs: 60_000 };
const win = (end: number) => ({ start: end - 30_000, end });
const newOut = (): EpisodeOutput => ({ changes: [], ended: [] });
const at = (i: number) => T0 + i * 5000;

function observe(t: EpisodeTracker, i: number, matched = true, out = newOut()): EpisodeStep {
  return t.observe('web-1', 'cpu', matched, win(at(i)), SPEC, 0, out);
}

describe('EpisodeTracker after a stale remediation end', () => {
  it('opens the episode again: the next match decides at once, under a new id', () => {
    const t = new EpisodeTracker();
    const kinds = [0, 1, 2, 3].map((i) => observe(t, i).kind);
    assert.deepEqual(kinds, ['pending', 'pending', 'fire', 'held']);
    const first = t.get('web-1', 'cpu')!;
    const firstId = episodeDecisionId('web-1', 'cpu', first);
    assert.equal(firstId, decisionIdFor('web-1', 'cpu', win(T0)), 'unchanged for an episode never re-opened');

    t.staleEnded('web-1', 'cpu', firstId);
    const out = newOut();
    const step = observe(t, 4, true, out);
    assert.equal(step.kind, 'fire');
    const state = (step as Extract<EpisodeStep, { kind: 'fire' }>).state;
    assert.equal(state.reopened, 1);
    assert.deepEqual(state.startWindow, win(T0), 'the same episode: its start is kept');
    assert.deepEqual(state.decidedWindow, win(at(4)));
    const secondId = episodeDecisionId('web-1', 'cpu', state);
    assert.notEqual(secondId, firstId);
    // Persisted with the count, and read back as a valid record.
    const persisted = out.changes.at(-1)!.state!;
    assert.equal(episodeStateSchema.parse(persisted).reopened, 1);

    // Then one decision again: later matches are held, a replay of the deciding window keeps the new id.
    assert.equal(observe(t, 5).kind, 'held');
    const replay = t.observe('web-1', 'cpu', true, win(at(4)), SPEC, 0, newOut());
    assert.equal(replay.kind, 'fire');
    assert.equal(
      episodeDecisionId('web-1', 'cpu', (replay as Extract<EpisodeStep, { kind: 'fire' }>).state),
      secondId,
    );
  });

  it('without the stale end the episode stays spent', () => {
    const t = new EpisodeTracker();
    const kinds = [0, 1, 2, 3, 4, 5].map((i) => observe(t, i).kind);
    assert.deepEqual(kinds, ['pending', 'pending', 'fire', 'held', 'held', 'held']);
  });

  it('an older decision’s stale end, or one for an episode that is over, changes nothing', () => {
    const t = new EpisodeTracker();
    for (const i of [0, 1, 2]) observe(t, i);
    t.staleEnded('web-1', 'cpu', decisionIdFor('web-1', 'cpu', win(T0 - 600_000)));
    assert.equal(observe(t, 3).kind, 'held');
    // Over: 60 s without a match, then a stale end of its decision; the next match starts a new episode.
    const id = episodeDecisionId('web-1', 'cpu', t.get('web-1', 'cpu')!);
    for (let i = 4; i <= 17; i++) observe(t, i, false);
    assert.equal(t.get('web-1', 'cpu')?.phase, 'ended');
    t.staleEnded('web-1', 'cpu', id);
    assert.equal(observe(t, 18).kind, 'pending', 'a new episode waits for its `for`');
    assert.equal(t.get('web-1', 'cpu')?.reopened, undefined);
  });

  it('a stale end that arrives before the episode is restored applies once it is', () => {
    const before = new EpisodeTracker();
    for (const i of [0, 1, 2]) observe(before, i);
    const state = before.get('web-1', 'cpu')!;
    const after = new EpisodeTracker();
    after.staleEnded('web-1', 'cpu', episodeDecisionId('web-1', 'cpu', state));
    after.restore(JSON.parse(JSON.stringify(state)), newOut());
    assert.equal(observe(after, 3).kind, 'fire');
  });
});

describe('Decider after a stale remediation end', () => {
  const rule = (): LoadedRule => {
    const file = path.join(repoRoot, 'test', 'fixtures', 'rules', 'cpu-static.json');
    const json = JSON.parse(fs.readFileSync(file, 'utf8'));
    Object.assign(json.event.params, { for: '10s', keepFiringFor: '1m', cooldown: '30m' });
    const r = parseRuleFile(file, JSON.stringify(json));
    assert.ok('rule' in r, JSON.stringify(r));
    return r.rule;
  };
  const hot = (end: number): Observation => ({
    entity: 'web-2',
    seq: 0,
    window: { start: end - 30_000, end },
    features: { 'cpu.avg': 95, 'cpu.count': 6 },
    events: [],
    ts: end,
  });

  it('decides again past the spent decision’s 30m cooldown, once, with a new decision id', async () => {
    const decider = new Decider(ruleSetOf([rule()]), { maxDecisionAgeMs: 3_600_000 });
    const decisions: Decision[] = [];
    const feed = async (from: number, to: number) => {
      for (let i = from; i <= to; i++) decisions.push(...(await decider.decide(hot(at(i)), at(i))).decisions);
    };
    await feed(0, 5);
    assert.equal(decisions.length, 1);
    const first = decisions[0]!;
    decider.staleEnded(first.entity, first.rule, first.decisionId);
    await feed(6, 12);
    assert.equal(decisions.length, 2, JSON.stringify(decisions.map((d) => d.window.end)));
    const second = decisions[1]!;
    assert.notEqual(second.decisionId, first.decisionId);
    assert.equal(second.window.end, at(6), 'at the first observation after the stale end');
    assert.deepEqual(second.episode?.window, first.episode?.window, 'the same episode');
  });

  it('reads stale ends only from verdicts that say so', () => {
    const verdict = {
      decisionId: 'd1',
      workflowId: 'w1',
      entity: 'web-2',
      rule: 'r',
      action: 'scale_out',
      outcome: 'stale',
      evidence: {},
      ts: T0,
    };
    const message = (v: unknown) => ({ value: Buffer.from(JSON.stringify(v)) });
    assert.equal(staleVerdictOf(message(verdict))?.decisionId, 'd1');
    assert.equal(staleVerdictOf(message({ ...verdict, outcome: 'verified' })), undefined);
    // Absorbed because its input predates another remediation's fix: decided again, like a stale end.
    const beforeAct = {
      holder: 'w0',
      rule: 'q',
      action: 'restart',
      endedAt: T0,
      until: T0 + 1,
      inputEnd: T0 - 1,
    };
    assert.equal(
      staleVerdictOf(message({ ...verdict, outcome: 'absorbed', evidence: { inputBeforeAct: beforeAct } }))
        ?.decisionId,
      'd1',
    );
    assert.equal(
      staleVerdictOf(message({ ...verdict, outcome: 'absorbed', evidence: { reason: 'in flight' } })),
      undefined,
      'absorbed while another is in flight, or by a cooldown: the episode stays spent',
    );
    assert.equal(staleVerdictOf({ value: Buffer.from('{') }), undefined);
    assert.equal(staleVerdictOf({ value: null }), undefined);
  });
});

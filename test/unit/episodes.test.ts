import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { episodeKey, episodeMessages } from '../../services/decide/episode-changelog.js';
import {
  EpisodeTracker,
  episodeSpecOf,
  type EpisodeOutput,
  type EpisodeSpec,
  type EpisodeStep,
} from '../../services/decide/episodes.js';

const T0 = 1_800_000_000_000;
const W = 30_000;
const EVERY = 5_000;
/** for 1m, keepFiringFor 2m. */
const SPEC: EpisodeSpec = { forMs: 60_000, keepFiringForMs: 120_000 };

const win = (end: number) => ({ start: end - W, end });
const newOut = (): EpisodeOutput => ({ changes: [], ended: [] });

/** Feeds one key a sequence of match/no-match observations every 5 s from T0; returns the step kinds. */
function run(
  tracker: EpisodeTracker,
  pattern: string,
  opts: { spec?: EpisodeSpec; from?: number; out?: EpisodeOutput; entity?: string } = {},
): EpisodeStep[] {
  const out = opts.out ?? newOut();
  return [...pattern].map((c, i) =>
    tracker.observe(
      opts.entity ?? 'web-1',
      'cpu',
      c === 'x',
      win((opts.from ?? T0) + i * EVERY),
      opts.spec ?? SPEC,
      0,
      out,
    ),
  );
}
const fires = (steps: EpisodeStep[]) => steps.flatMap((s, i) => (s.kind === 'fire' ? [i] : []));

describe('EpisodeTracker', () => {
  it('decides once, at the observation where the condition has held for `for`', () => {
    const t = new EpisodeTracker();
    const steps = run(t, 'x'.repeat(20));
    // 60 s of holding at 5 s apart: the 13th observation (index 12) decides.
    assert.deepEqual(fires(steps), [12]);
    assert.deepEqual(steps[5], { kind: 'pending', heldMs: 25_000, forMs: 60_000 });
    assert.equal(steps[13]!.kind, 'held');
    const fired = steps[12] as Extract<EpisodeStep, { kind: 'fire' }>;
    assert.deepEqual(fired.state.startWindow, win(T0), 'the episode starts at its first matching window');
    assert.deepEqual(fired.state.decidedWindow, win(T0 + 12 * EVERY));
  });

  it('a pending condition that stops holding decides nothing and starts over', () => {
    const t = new EpisodeTracker();
    const out = newOut();
    const steps = run(t, `${'x'.repeat(9)}.${'x'.repeat(13)}`, { out });
    assert.deepEqual(fires(steps), [10 + 12], 'the second run holds 60 s from its own start');
    assert.equal(out.ended.length, 0, 'a cancelled pending episode is not an ended one');
    assert.ok(
      out.changes.some((c) => c.state === null),
      'the cancelled one is tombstoned',
    );
  });

  it('keepFiringFor absorbs flapping: matches within it continue the same episode', () => {
    const t = new EpisodeTracker();
    const out = newOut();
    // fires at 12, then 100 s without a match (< 2 m), then matches again: the same episode.
    const steps = run(t, `${'x'.repeat(15)}${'.'.repeat(20)}${'x'.repeat(10)}`, { out });
    assert.deepEqual(fires(steps), [12]);
    assert.equal(steps[40]!.kind, 'held');
    assert.equal(out.ended.length, 0);
    assert.equal(t.get('web-1', 'cpu')?.phase, 'firing');
  });

  it('ends after keepFiringFor without a match; the next match opens a new episode', () => {
    const t = new EpisodeTracker();
    const out = newOut();
    // last match at index 14; 2 m later (index 38) it is over; matches from 40 are a new episode.
    const steps = run(t, `${'x'.repeat(15)}${'.'.repeat(25)}${'x'.repeat(14)}`, { out });
    assert.deepEqual(fires(steps), [12, 40 + 12]);
    assert.equal(out.ended.length, 1);
    assert.equal(out.ended[0]!.end, T0 + 38 * EVERY);
    assert.equal(out.ended[0]!.endReason, 'resolved');
    const second = steps[52] as Extract<EpisodeStep, { kind: 'fire' }>;
    assert.deepEqual(second.state.startWindow, win(T0 + 40 * EVERY));
  });

  it('keepFiringFor 0 ends at the first observation without a match', () => {
    const t = new EpisodeTracker();
    const out = newOut();
    const steps = run(t, 'xx.xx', { spec: { forMs: 0, keepFiringForMs: 0 }, out });
    assert.deepEqual(fires(steps), [0, 3]);
    assert.equal(out.ended.length, 1);
  });

  it('an observation at or before the newest one seen is late and changes nothing; the deciding one decides again', () => {
    const t = new EpisodeTracker();
    const steps = run(t, 'x'.repeat(14));
    assert.deepEqual(fires(steps), [12]);
    const before = JSON.stringify(t.get('web-1', 'cpu'));
    const out = newOut();
    // out of order, a no-match from the past: late, the episode stays firing
    const late = t.observe('web-1', 'cpu', false, win(T0 + 2 * EVERY), SPEC, 0, out);
    assert.equal(late.kind, 'late');
    // the deciding window replayed (after a crash): the same decision again
    const replay = t.observe('web-1', 'cpu', true, win(T0 + 12 * EVERY), SPEC, 0, out);
    assert.equal(replay.kind, 'fire');
    assert.equal((replay as { replay: boolean }).replay, true);
    assert.equal(JSON.stringify(t.get('web-1', 'cpu')), before);
    assert.deepEqual(out.changes, []);
  });

  it('a gap longer than the idle limit ends the episode before the next observation', () => {
    const t = new EpisodeTracker({ maxTracked: 10, idleMs: 600_000 });
    const out = newOut();
    run(t, 'x'.repeat(14), { out });
    const later = run(t, 'x'.repeat(13), { from: T0 + 3_600_000, out });
    assert.deepEqual(fires(later), [12]);
    assert.equal(out.ended[0]?.endReason, 'idle');
    // within the idle limit the gap is bridged: the same episode
    const t2 = new EpisodeTracker({ maxTracked: 10, idleMs: 600_000 });
    run(t2, 'x'.repeat(14));
    assert.equal(run(t2, 'x', { from: T0 + 500_000 })[0]!.kind, 'held');
  });

  it('keeps at most maxTracked keys, ending the least recently seen', () => {
    const t = new EpisodeTracker({ maxTracked: 3, idleMs: 3_600_000 });
    const out = newOut();
    for (let e = 0; e < 5; e++) run(t, 'x'.repeat(13), { entity: `e-${e}`, out });
    assert.equal(t.size, 3);
    assert.deepEqual(
      out.ended.map((s) => [s.entity, s.endReason]),
      [
        ['e-0', 'evicted'],
        ['e-1', 'evicted'],
      ],
    );
    assert.equal(t.get('e-0', 'cpu'), undefined);
  });

  it('sweeps idle keys on their partition’s newest event time', () => {
    const t = new EpisodeTracker({ maxTracked: 100, idleMs: 600_000 });
    const out = newOut();
    run(t, 'x'.repeat(13), { entity: 'quiet', out });
    run(t, 'x', { entity: 'busy', from: T0 + 700_000, out });
    t.sweep(out);
    assert.equal(t.get('quiet', 'cpu'), undefined);
    assert.equal(out.ended.at(-1)?.endReason, 'idle');
    assert.ok(t.get('busy', 'cpu'));
  });

  it('a restored state continues as if never interrupted', () => {
    const a = new EpisodeTracker();
    const out = newOut();
    run(a, 'x'.repeat(8), { out }); // pending for 35 s
    const b = new EpisodeTracker();
    const latest = new Map(out.changes.map((c) => [`${c.entity}/${c.rule}`, c.state]));
    for (const s of latest.values()) if (s) b.restore(s, newOut());
    // the restarted process replays the last three observations (late), then continues
    const replayed = run(b, 'x'.repeat(20), { from: T0 + 5 * EVERY });
    assert.deepEqual(
      replayed.slice(0, 3).map((s) => s.kind),
      ['late', 'late', 'late'],
    );
    assert.deepEqual(fires(replayed), [12 - 5], 'it fires where it would have, with the same start');
    const fired = replayed[7] as Extract<EpisodeStep, { kind: 'fire' }>;
    assert.deepEqual(fired.state.startWindow, win(T0));
  });

  it('episodeSpecOf: null without for/keepFiringFor, else milliseconds', () => {
    assert.equal(episodeSpecOf({}), null);
    assert.deepEqual(episodeSpecOf({ for: '1m' }), { forMs: 60_000, keepFiringForMs: 0 });
    assert.deepEqual(episodeSpecOf({ keepFiringFor: '10m' }), { forMs: 0, keepFiringForMs: 600_000 });
  });

  it('observeUnmatched is observe with matched false for each rule in order: steps, records, order, sweeps', () => {
    // Random observations of 6 entities (some out of order, some after idle gaps) on 4 rules;
    // each unmatched one goes to `a` in one call and to `b` rule by rule. Over 40,000 calls of
    // `observe` (sweeps every 10,000), with few keys allowed (evictions), they must agree throughout.
    const rules = [
      { name: 'r0', spec: { forMs: 0, keepFiringForMs: 60_000 } },
      { name: 'r1', spec: { forMs: 20_000, keepFiringForMs: 0 } },
      { name: 'r2', spec: { forMs: 10_000, keepFiringForMs: 300_000 } },
      { name: 'r3', spec: { forMs: 0, keepFiringForMs: 0 } },
    ];
    const limits = { maxTracked: 9, idleMs: 400_000 };
    const a = new EpisodeTracker(limits);
    const b = new EpisodeTracker(limits);
    const outA = newOut();
    const outB = newOut();
    let seed = 7;
    const rnd = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    let t = T0;
    let unmatched = 0;
    const seen = { changes: 0, ended: 0 };
    for (let i = 0; i < 12_000; i++) {
      t += rnd() < 0.01 ? 500_000 : Math.floor(rnd() * 6_000);
      const end = rnd() < 0.03 ? t - 20_000 : t;
      const entity = `e-${Math.floor(rnd() * 6)}`;
      const partition = rnd() < 0.2 ? 1 : 0;
      if (rnd() < 0.25) {
        for (const r of rules) {
          const matched = rnd() < 0.5;
          const stepA = a.observe(entity, r.name, matched, win(end), r.spec, partition, outA);
          const stepB = b.observe(entity, r.name, matched, win(end), r.spec, partition, outB);
          assert.deepEqual(stepA, stepB);
        }
      } else {
        unmatched++;
        a.observeUnmatched(entity, win(end), rules, partition, outA);
        for (const r of rules) b.observe(entity, r.name, false, win(end), r.spec, partition, outB);
      }
      assert.deepEqual(outA.changes.slice(seen.changes), outB.changes.slice(seen.changes), `at ${i}`);
      assert.deepEqual(outA.ended.slice(seen.ended), outB.ended.slice(seen.ended), `at ${i}`);
      assert.deepEqual([outA.changes.length, outA.ended.length], [outB.changes.length, outB.ended.length]);
      seen.changes = outA.changes.length;
      seen.ended = outA.ended.length;
      assert.equal(a.size, b.size);
    }
    assert.ok(unmatched * rules.length > 30_000, 'sweeps fall inside observeUnmatched calls');
    assert.ok(
      outA.ended.some((s) => s.endReason === 'evicted') && outA.ended.some((s) => s.endReason === 'idle'),
    );
  });

  it('a batch writes the newest record per key to its partition, a forgotten key as a tombstone', () => {
    const t = new EpisodeTracker();
    const out = newOut();
    for (let i = 0; i < 3; i++) t.observe('a', 'cpu', true, win(T0 + i * EVERY), SPEC, 1, out);
    t.observe('b', 'cpu', true, win(T0), SPEC, 0, out);
    t.observe('b', 'cpu', false, win(T0 + EVERY), SPEC, 0, out); // pending cancelled
    const messages = episodeMessages(out.changes);
    assert.deepEqual(
      messages.map((m) => [
        m.key,
        m.partition,
        m.value === null ? null : JSON.parse(String(m.value)).lastSeen,
      ]),
      [
        [episodeKey('a', 'cpu'), 1, T0 + 2 * EVERY],
        [episodeKey('b', 'cpu'), 0, null],
      ],
    );
  });
});

import { z } from 'zod';
import { parseDuration } from '../common/duration.js';
import { decisionIdFor } from './decision-id.js';

/**
 * One decision per episode: a rule that keeps matching an entity's observations is one incident.
 * For each (entity, rule) of a rule that opts in (`event.params.for` and/or `keepFiringFor`), the
 * tracker walks Prometheus alerting's states on event time (each observation's window end):
 *
 *   inactive ──match──▶ pending ──match, held for `for`──▶ firing (decide, once)
 *   pending ──no match──▶ inactive (cancelled, nothing decided)
 *   firing ──no match──▶ resolving ──match──▶ firing (the same episode: flapping is absorbed)
 *   resolving ──an observation `keepFiringFor` or more after the last match──▶ ended
 *
 * Continuity is by observations: consecutive matching observations continue the episode whatever
 * the gap between them, up to the idle limit; a key whose last observation is older than
 * max(idle, keepFiringFor) is over (ended "idle", or forgotten when pending) before anything else.
 * An observation whose window ends at or before the newest one seen for the key (a replay after a
 * crash, a duplicate, out of order) changes nothing: it is `late`, except the one that decided,
 * which decides again with the same id so a replay reaches the idempotent workflow start. The
 * decision id comes from the episode's first matching window, so it does not depend on where a
 * replay begins. Memory is bounded: at most `maxTracked` keys (the least recently seen goes first)
 * and idle keys are swept on each partition's newest event time. Pure: no clock, no I/O.
 *
 * A decision whose remediation ended `stale` (the workflow found its input too old and did nothing)
 * has not acted: `staleEnded` records it, and the next observation of that episode, while it still
 * fires and still has that decision, opens it again (pending with its start kept, so a match decides
 * at once: `for` has held). The new decision's id is seeded with the number of such re-openings, so
 * it starts a new workflow instead of finding the stale one.
 */

/** A rule's episode settings in milliseconds; `null` for a rule that does not opt in. */
export interface EpisodeSpec {
  readonly forMs: number;
  readonly keepFiringForMs: number;
}

/** Where an episode is. `ended` is kept until idle, so late observations of it change nothing. */
export type EpisodePhase = 'pending' | 'firing' | 'resolving' | 'ended';

/** Why an episode ended: no match for `keepFiringFor`, no observation for the idle time, or memory full. */
export type EpisodeEndReason = 'resolved' | 'idle' | 'evicted';

const windowSchema = z.strictObject({ start: z.number().int(), end: z.number().int() });

/** One (entity, rule)'s episode, in memory and as the changelog's value. */
export const episodeStateSchema = z.strictObject({
  entity: z.string().min(1),
  rule: z.string().min(1),
  phase: z.enum(['pending', 'firing', 'resolving', 'ended']),
  /** The first matching window: the episode's start and the seed of its decision id. */
  startWindow: windowSchema,
  /** The window whose observation decided; absent while pending. */
  decidedWindow: windowSchema.optional(),
  /** The window of the stale decision published for the audit while it waited to act (once per episode). */
  staleWindow: windowSchema.optional(),
  /**
   * How many times a remediation of this episode ended stale, without acting, and the episode was
   * opened again: seeds the next decision's id (absent: never).
   */
  reopened: z.number().int().positive().optional(),
  /** The latest matching window's end. */
  lastMatch: z.number().int(),
  /** The newest window end seen for this key: anything at or before it is late. */
  lastSeen: z.number().int(),
  keepFiringForMs: z.number().int().nonnegative(),
  /** Set once ended: when (the window end of the observation that found it over) and why. */
  end: z.number().int().optional(),
  endReason: z.enum(['resolved', 'idle', 'evicted']).optional(),
  /** The input partition the entity's observations come from (the changelog record's partition). */
  partition: z.number().int().nonnegative(),
});
export type EpisodeState = z.infer<typeof episodeStateSchema>;

/** What one observation meant for one rule that opts in. */
export type EpisodeStep =
  | { readonly kind: 'none' }
  | { readonly kind: 'pending'; readonly heldMs: number; readonly forMs: number }
  | { readonly kind: 'fire'; readonly state: EpisodeState; readonly replay: boolean }
  | { readonly kind: 'held'; readonly state: EpisodeState }
  | { readonly kind: 'late' };

/** A changelog write: the state now, or null when the key is forgotten (a tombstone). */
export interface EpisodeChange {
  readonly entity: string;
  readonly rule: string;
  readonly partition: number;
  readonly state: EpisodeState | null;
}

/** Where the tracker puts what the caller must persist and report. */
export interface EpisodeOutput {
  readonly changes: EpisodeChange[];
  /** Episodes that fired and are now over (cancelled pending ones are not listed). */
  readonly ended: EpisodeState[];
}

/** Limits of the tracker (config: AUTOGLM_EPISODE_MAX_TRACKED, AUTOGLM_EPISODE_IDLE). */
export interface EpisodeLimits {
  readonly maxTracked: number;
  readonly idleMs: number;
}

/** Defaults: 100 000 keys (~300 bytes each), forgotten after an hour of event time without an observation. */
export const DEFAULT_EPISODE_LIMITS: EpisodeLimits = { maxTracked: 100_000, idleMs: 3_600_000 };

const keyOf = (entity: string, rule: string) => `${entity}\u0000${rule}`;

// Shared answers that carry nothing (the common case: no episode for the key).
const NONE: EpisodeStep = Object.freeze({ kind: 'none' });
const LATE: EpisodeStep = Object.freeze({ kind: 'late' });

/** Observations between sweeps of idle keys. */
const SWEEP_EVERY = 10_000;

/** Most stale remediation ends waiting for their episode's next observation (they are rare). */
const MAX_STALE_ENDS = 10_000;

/**
 * The decision id of an episode's decision: from its first matching window, and from how many
 * times it was opened again after a stale end (a new id each time: a new workflow).
 */
export function episodeDecisionId(
  entity: string,
  rule: string,
  state: Pick<EpisodeState, 'startWindow' | 'reopened'>,
): string {
  return decisionIdFor(
    entity,
    state.reopened ? `${rule}#reopened-${state.reopened}` : rule,
    state.startWindow,
  );
}

/** A key's state, linked in least recently seen order. */
interface Tracked {
  readonly key: string;
  state: EpisodeState;
  prev: Tracked | undefined;
  next: Tracked | undefined;
}

/** The per-(entity, rule) episode state machine described at the top of this file. */
export class EpisodeTracker {
  /**
   * Every key's state. Their order, least recently seen first (a key moves to the end on each
   * observation), is the list from `oldest` to `newestSeen`: moving a key is a relink, where
   * moving it in a Map's insertion order costs a delete and a set (and the Map's rehashes).
   */
  private readonly states = new Map<string, Tracked>();
  private oldest: Tracked | undefined;
  private newestSeen: Tracked | undefined;
  /**
   * The same states by entity and rule, with each key's string built once: the lookup of the hot
   * path (a key built per observation costs a concatenation and a hash). An observation that
   * matches no rule of an entity with no key changes nothing and is answered at once.
   */
  private readonly perEntity = new Map<string, Map<string, Tracked>>();
  private readonly newest = new Map<number, number>();
  /** Decisions whose remediation ended stale, by key, until their episode's next observation. */
  private readonly staleEnds = new Map<string, string>();
  private sinceSweep = 0;

  constructor(readonly limits: EpisodeLimits = DEFAULT_EPISODE_LIMITS) {}

  /** Keys held now (for tests and a gauge). */
  get size(): number {
    return this.states.size;
  }

  /** The state of one key, for tests and `rules test`. */
  get(entity: string, rule: string): EpisodeState | undefined {
    return this.states.get(keyOf(entity, rule))?.state;
  }

  /** Forgets everything: a new consumer generation restores its partitions from the changelog. */
  clear(): void {
    this.states.clear();
    this.oldest = undefined;
    this.newestSeen = undefined;
    this.perEntity.clear();
    this.newest.clear();
  }

  /**
   * Advances (entity, rule) by one observation whose window is `window` and in which the rule's
   * conditions did (`matched`) or did not hold. Writes what must be persisted to `out`.
   */
  observe(
    entity: string,
    rule: string,
    matched: boolean,
    window: { start: number; end: number },
    spec: EpisodeSpec,
    partition: number,
    out: EpisodeOutput,
  ): EpisodeStep {
    const t = window.end;
    if (t > (this.newest.get(partition) ?? -Infinity)) this.newest.set(partition, t);
    if (++this.sinceSweep >= SWEEP_EVERY) this.sweep(out);
    const rules = this.perEntity.get(entity);
    if (!matched && rules === undefined) return NONE;
    const held = rules?.get(rule);
    if (!matched && held === undefined) return NONE; // no key built for a rule the entity has no state of
    const key = held?.key ?? keyOf(entity, rule);
    let s = held?.state;
    if (s && t <= s.lastSeen) {
      // Already seen: a replay, a duplicate or out of order. Only the deciding window decides again.
      const deciding = s.decidedWindow;
      if (matched && deciding && deciding.start === window.start && deciding.end === window.end)
        return { kind: 'fire', state: { ...s }, replay: true };
      return LATE;
    }
    if (s && t - s.lastSeen > Math.max(this.limits.idleMs, s.keepFiringForMs)) {
      this.forget(key, s, 'idle', s.lastSeen, out);
      s = undefined;
    }
    if (s && this.staleEnds.size > 0) this.reopenIfStale(key, s);
    if (!s || s.phase === 'ended') {
      if (matched) return this.start(key, entity, rule, window, spec, partition, out);
      if (s) this.touch(key, s, t); // in memory only: an ended episode's late replays stay late
      return NONE;
    }
    s.keepFiringForMs = spec.keepFiringForMs;
    s.partition = partition;
    if (s.phase === 'pending') {
      if (!matched) {
        // Prometheus resets a pending alert whose condition stops holding: nothing was decided.
        this.remove(key, entity, rule);
        out.changes.push({ entity, rule, partition, state: null });
        return NONE;
      }
      s.lastMatch = t;
      s.lastSeen = t;
      return this.pendingOrFire(key, s, window, spec, out);
    }
    // firing or resolving
    if (s.phase === 'resolving' && t - s.lastMatch >= s.keepFiringForMs) {
      // Over before this observation: a match here opens the next episode.
      this.end(key, s, 'resolved', t, out);
      return matched ? this.start(key, entity, rule, window, spec, partition, out) : NONE;
    }
    s.lastSeen = t;
    if (matched) {
      s.lastMatch = t;
      s.phase = 'firing';
      this.put(key, s, out);
      return { kind: 'held', state: { ...s } };
    }
    if (t - s.lastMatch >= s.keepFiringForMs) {
      this.end(key, s, 'resolved', t, out);
      return NONE;
    }
    s.phase = 'resolving';
    this.put(key, s, out);
    return NONE;
  }

  /**
   * The same as `observe(entity, r.name, false, window, r.spec, partition, out)` for each of
   * `rules` in order (an observation on which none of them matched), without a call per rule
   * where nothing changes: the entity holds no state of a rule and no sweep falls in between.
   * For a replay, where almost every observation matches nothing.
   */
  observeUnmatched(
    entity: string,
    window: { start: number; end: number },
    rules: ReadonlyArray<{ readonly name: string; readonly spec: EpisodeSpec }>,
    partition: number,
    out: EpisodeOutput,
  ): void {
    const n = rules.length;
    if (n === 0) return;
    const t = window.end;
    if (t > (this.newest.get(partition) ?? -Infinity)) this.newest.set(partition, t);
    // No sweep among these n calls (each counts one) and no state to step: each would return NONE.
    if (this.sinceSweep + n < SWEEP_EVERY) {
      const held = this.perEntity.get(entity);
      if (held === undefined) {
        this.sinceSweep += n;
        return;
      }
      for (let i = 0; i < n; i++) {
        const r = rules[i]!;
        const h = held.get(r.name);
        if (h === undefined) this.sinceSweep++;
        else if (!this.touchEnded(h, t)) this.observe(entity, r.name, false, window, r.spec, partition, out);
        else this.sinceSweep++;
      }
      return;
    }
    for (let i = 0; i < n; i++) {
      const r = rules[i]!;
      this.observe(entity, r.name, false, window, r.spec, partition, out);
    }
  }

  /**
   * Puts back a state read from the changelog (later records of a key replace earlier ones).
   * Beyond `maxTracked` the least recently seen go, as when observing.
   */
  restore(state: EpisodeState, out: EpisodeOutput): void {
    const key = keyOf(state.entity, state.rule);
    this.moveToEnd(key, { ...state });
    const newest = this.newest.get(state.partition) ?? -Infinity;
    if (state.lastSeen > newest) this.newest.set(state.partition, state.lastSeen);
    this.bound(key, out);
  }

  /**
   * Takes back a decision the caller could not act on (stale after a backlog, or held by the
   * cooldown): the episode is pending again with its start kept, so the next matching observation
   * decides (its `for` already held). `staleWindow` records the stale decision published for the audit.
   */
  defer(
    entity: string,
    rule: string,
    out: EpisodeOutput,
    staleWindow?: { start: number; end: number },
  ): void {
    const key = keyOf(entity, rule);
    const s = this.states.get(key)?.state;
    if (!s) return;
    s.phase = 'pending';
    delete s.decidedWindow;
    if (staleWindow) s.staleWindow = { start: staleWindow.start, end: staleWindow.end };
    this.put(key, s, out);
  }

  /**
   * Records that the remediation of `decisionId` ended stale without acting: if it is still the
   * decision of (entity, rule)'s episode at the episode's next observation, the episode is opened
   * again there. Kept until then (the key may not be restored yet), at most MAX_STALE_ENDS.
   */
  staleEnded(entity: string, rule: string, decisionId: string): void {
    const key = keyOf(entity, rule);
    this.staleEnds.delete(key);
    this.staleEnds.set(key, decisionId);
    if (this.staleEnds.size > MAX_STALE_ENDS)
      this.staleEnds.delete(this.staleEnds.keys().next().value as string);
  }

  /** Opens a firing episode again when its decision's remediation ended stale (see staleEnded). */
  private reopenIfStale(key: string, s: EpisodeState): void {
    const stale = this.staleEnds.get(key);
    if (stale === undefined) return;
    this.staleEnds.delete(key);
    if (s.phase !== 'firing' && s.phase !== 'resolving') return; // over, or deciding already
    if (stale !== episodeDecisionId(s.entity, s.rule, s)) return; // an earlier decision's end
    s.phase = 'pending';
    delete s.decidedWindow;
    s.reopened = (s.reopened ?? 0) + 1;
  }

  /** Forgets a key whose changelog record is a tombstone. */
  drop(entity: string, rule: string): boolean {
    return this.remove(keyOf(entity, rule), entity, rule);
  }

  /** Ends or forgets every key idle for longer than max(idle, keepFiringFor) on its partition's newest time. */
  sweep(out: EpisodeOutput): void {
    this.sinceSweep = 0;
    for (let h = this.oldest; h !== undefined;) {
      const next = h.next; // forget unlinks only h
      const s = h.state;
      const now = this.newest.get(s.partition) ?? s.lastSeen;
      if (now - s.lastSeen > Math.max(this.limits.idleMs, s.keepFiringForMs))
        this.forget(h.key, s, 'idle', s.lastSeen, out);
      h = next;
    }
  }

  /** Opens an episode at its first matching window. */
  private start(
    key: string,
    entity: string,
    rule: string,
    window: { start: number; end: number },
    spec: EpisodeSpec,
    partition: number,
    out: EpisodeOutput,
  ): EpisodeStep {
    const s: EpisodeState = {
      entity,
      rule,
      phase: 'pending',
      startWindow: { start: window.start, end: window.end },
      lastMatch: window.end,
      lastSeen: window.end,
      keepFiringForMs: spec.keepFiringForMs,
      partition,
    };
    return this.pendingOrFire(key, s, window, spec, out);
  }

  private pendingOrFire(
    key: string,
    s: EpisodeState,
    window: { start: number; end: number },
    spec: EpisodeSpec,
    out: EpisodeOutput,
  ): EpisodeStep {
    // The condition has held from the first matching window's end to this one's.
    const heldMs = window.end - s.startWindow.end;
    if (heldMs < spec.forMs) {
      this.put(key, s, out);
      return { kind: 'pending', heldMs, forMs: spec.forMs };
    }
    s.phase = 'firing';
    s.decidedWindow = { start: window.start, end: window.end };
    this.put(key, s, out);
    return { kind: 'fire', state: { ...s }, replay: false };
  }

  /** Ends a fired episode; the ended record stays (in memory and in the changelog) until idle. */
  private end(key: string, s: EpisodeState, reason: EpisodeEndReason, at: number, out: EpisodeOutput): void {
    s.phase = 'ended';
    s.end = at;
    s.endReason = reason;
    s.lastSeen = Math.max(s.lastSeen, at);
    out.ended.push({ ...s });
    this.put(key, s, out);
  }

  /** Removes a key: a fired, unfinished episode is reported ended first; the changelog gets a tombstone. */
  private forget(
    key: string,
    s: EpisodeState,
    reason: EpisodeEndReason,
    at: number,
    out: EpisodeOutput,
  ): void {
    if (s.phase === 'firing' || s.phase === 'resolving')
      out.ended.push({ ...s, phase: 'ended', end: at, endReason: reason });
    this.remove(key, s.entity, s.rule);
    out.changes.push({ entity: s.entity, rule: s.rule, partition: s.partition, state: null });
  }

  private touch(key: string, s: EpisodeState, t: number): void {
    s.lastSeen = t;
    this.moveToEnd(key, s);
  }

  /** Stores `s` as the newest of its key (moved to the end of the order) and records the change. */
  private put(key: string, s: EpisodeState, out: EpisodeOutput): void {
    this.moveToEnd(key, s);
    out.changes.push({ entity: s.entity, rule: s.rule, partition: s.partition, state: { ...s } });
    this.bound(key, out);
  }

  /**
   * What observe does with a non-match at `t` of a key whose episode ended, when it is neither
   * late nor idle and no stale end waits (the common case of a replay: it only moves on), done
   * on its list entry; false, changing nothing, in any other case.
   */
  private touchEnded(h: Tracked, t: number): boolean {
    const s = h.state;
    if (s.phase !== 'ended' || t <= s.lastSeen || this.staleEnds.size > 0) return false;
    if (t - s.lastSeen > Math.max(this.limits.idleMs, s.keepFiringForMs)) return false;
    s.lastSeen = t;
    if (h !== this.newestSeen) {
      this.unlink(h);
      this.append(h);
    }
    return true;
  }

  /** Holds `s` as the most recently seen of its key (counted for its entity when new). */
  private moveToEnd(key: string, s: EpisodeState): void {
    let h = this.states.get(key);
    if (h !== undefined) {
      h.state = s;
      if (h !== this.newestSeen) {
        this.unlink(h);
        this.append(h);
      }
      return;
    }
    h = { key, state: s, prev: undefined, next: undefined };
    this.states.set(key, h);
    this.append(h);
    const rules = this.perEntity.get(s.entity);
    if (rules === undefined) this.perEntity.set(s.entity, new Map([[s.rule, h]]));
    else rules.set(s.rule, h);
  }

  /** Forgets the key of `entity` and `rule`; returns whether there was one. */
  private remove(key: string, entity: string, rule: string): boolean {
    const h = this.states.get(key);
    if (h === undefined) return false;
    this.states.delete(key);
    this.unlink(h);
    const rules = this.perEntity.get(entity);
    if (rules?.delete(rule) && rules.size === 0) this.perEntity.delete(entity);
    return true;
  }

  private bound(keep: string, out: EpisodeOutput): void {
    while (this.states.size > this.limits.maxTracked) {
      const oldest = this.oldest as Tracked;
      if (oldest.key === keep) break;
      this.forget(oldest.key, oldest.state, 'evicted', oldest.state.lastSeen, out);
    }
  }

  private unlink(h: Tracked): void {
    if (h.prev === undefined) this.oldest = h.next;
    else h.prev.next = h.next;
    if (h.next === undefined) this.newestSeen = h.prev;
    else h.next.prev = h.prev;
    h.prev = undefined;
    h.next = undefined;
  }

  private append(h: Tracked): void {
    h.prev = this.newestSeen;
    if (this.newestSeen === undefined) this.oldest = h;
    else this.newestSeen.next = h;
    this.newestSeen = h;
  }
}

/** A rule's episode settings from its params; null when it gives neither (every match decides, as before). */
export function episodeSpecOf(params: { for?: string; keepFiringFor?: string }): EpisodeSpec | null {
  if (params.for === undefined && params.keepFiringFor === undefined) return null;
  const ms = (text: string | undefined) => (text === undefined ? 0 : (parseDuration(text) ?? 0));
  return { forMs: ms(params.for), keepFiringForMs: ms(params.keepFiringFor) };
}

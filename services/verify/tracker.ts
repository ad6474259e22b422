import type { Observation } from '../common/contracts.js';
import type { Check } from './condition.js';
import type { Truth } from './tri-state.js';

/**
 * Where a verification stands: `failed` when observations disproved the fix, `expired` when not
 * enough data arrived in time to tell (none at all, none with a known result, or a streak that
 * held but was cut off).
 */
export type VerificationState = 'pending' | 'verified' | 'failed' | 'expired';

/** Checked observations the evidence lists (bounded: evidence goes into workflow history). */
const RECENT_EVIDENCE = 30;
/** Distinct unknown fact names the evidence lists, per observation and in all. */
const UNKNOWN_FACTS = 8;

/** One checked observation in the evidence; `unknown` names the facts that made `holds` unknown. */
interface Checked {
  readonly seq: number;
  readonly ts: number;
  readonly holds: Truth;
  readonly unknown?: readonly string[];
}

export interface TrackerOptions {
  /** When the action took effect (epoch ms); only observations whose window ends after it count. */
  readonly actedAt: number;
  /** The condition must be met (and stable) by `actedAt + withinMs`. */
  readonly withinMs: number;
  /** How long, in event time, the condition must hold without a break. */
  readonly stableForMs: number;
}

/**
 * The verify step's pure core on event time: fed each post-action observation and whether the
 * rule's condition held on it (true, false or unknown), it says verified once the condition has
 * held for `stableFor` before the deadline, and failed once an observation past the deadline
 * arrives without that; when observations stop, `expire` tells no data (expired) from data that
 * disproved it (failed). An unknown result (a fact the condition needs is not known: a metric
 * warming up) neither advances nor breaks the streak, and a verification that never got a known
 * result is expired at the deadline, not failed: not knowing is not proof the fix failed.
 */
export class VerificationTracker {
  private state: VerificationState = 'pending';
  private holdingSince: number | undefined;
  private checked = 0;
  private unknownCount = 0;
  /** The newest observation with a known result. */
  private lastKnown: Checked | undefined;
  private readonly unknownFacts = new Set<string>();
  private last: (Checked & { features: Record<string, number> }) | undefined;
  /** The most recent checked observations (seq, window end, whether the condition held), oldest first. */
  private readonly recent: Checked[] = [];

  constructor(private readonly opts: TrackerOptions) {}

  get deadline(): number {
    return this.opts.actedAt + this.opts.withinMs;
  }

  get current(): VerificationState {
    return this.state;
  }

  /**
   * Considers one observation and what the condition said on it (a Check, or a boolean);
   * observations from before the action are ignored.
   */
  observe(obs: Observation, check: Check | boolean): VerificationState {
    if (this.state !== 'pending' || obs.ts <= this.opts.actedAt) return this.state;
    const { holds, unknown } = typeof check === 'boolean' ? { holds: check, unknown: [] } : check;
    this.checked++;
    const entry: Checked =
      holds === 'unknown'
        ? { seq: obs.seq, ts: obs.ts, holds, unknown: unknown.slice(0, UNKNOWN_FACTS) }
        : { seq: obs.seq, ts: obs.ts, holds };
    this.last = { ...entry, features: obs.features };
    this.recent.push(entry);
    if (this.recent.length > RECENT_EVIDENCE) this.recent.shift();
    if (holds === 'unknown') {
      // Not known: the streak neither grows nor breaks.
      this.unknownCount++;
      for (const f of unknown) if (this.unknownFacts.size < UNKNOWN_FACTS) this.unknownFacts.add(f);
    } else {
      this.lastKnown = entry;
      if (holds) {
        this.holdingSince ??= obs.ts;
        if (obs.ts - this.holdingSince >= this.opts.stableForMs && obs.ts <= this.deadline)
          this.state = 'verified';
      } else {
        this.holdingSince = undefined;
      }
    }
    if (this.state === 'pending' && obs.ts >= this.deadline)
      this.state = this.lastKnown ? 'failed' : 'expired';
    return this.state;
  }

  /**
   * Settles a verification that no observation has settled by wall-clock `nowMs`: `failed` when
   * the latest known result disproved the condition, `expired` when there was none, or it held.
   */
  expire(nowMs: number, graceMs: number): VerificationState {
    if (this.state === 'pending' && nowMs > this.deadline + graceMs)
      this.state = this.lastKnown && !this.lastKnown.holds ? 'failed' : 'expired';
    return this.state;
  }

  /** What the verdict carries as proof. */
  evidence(): Record<string, unknown> {
    return {
      verification: this.state,
      actedAt: this.opts.actedAt,
      deadline: this.deadline,
      stableForMs: this.opts.stableForMs,
      observationsChecked: this.checked,
      // Observations whose result was unknown, and the facts that were not known.
      observationsUnknown: this.unknownCount,
      unknownFacts: [...this.unknownFacts],
      holdingSince: this.holdingSince ?? null,
      lastObservation: this.last ?? null,
      // The streak that verified it, or the observations that broke it, with their times.
      observations: [...this.recent],
    };
  }
}

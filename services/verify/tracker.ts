import type { Observation } from '../common/contracts.js';

/**
 * Where a verification stands: `failed` when observations disproved the fix, `expired` when not
 * enough data arrived in time to tell (none at all, or a streak that held but was cut off).
 */
export type VerificationState = 'pending' | 'verified' | 'failed' | 'expired';

/** Checked observations the evidence lists (bounded: evidence goes into workflow history). */
const RECENT_EVIDENCE = 30;

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
 * rule's condition held on it, it says verified once the condition has held for `stableFor`
 * before the deadline, and failed once an observation past the deadline arrives without that;
 * when observations stop, `expire` tells no data (expired) from data that disproved it (failed).
 */
export class VerificationTracker {
  private state: VerificationState = 'pending';
  private holdingSince: number | undefined;
  private checked = 0;
  private last: { seq: number; ts: number; holds: boolean; features: Record<string, number> } | undefined;
  /** The most recent checked observations (seq, window end, whether the condition held), oldest first. */
  private readonly recent: Array<{ seq: number; ts: number; holds: boolean }> = [];

  constructor(private readonly opts: TrackerOptions) {}

  get deadline(): number {
    return this.opts.actedAt + this.opts.withinMs;
  }

  get current(): VerificationState {
    return this.state;
  }

  /** Considers one observation; observations from before the action are ignored. */
  observe(obs: Observation, holds: boolean): VerificationState {
    if (this.state !== 'pending' || obs.ts <= this.opts.actedAt) return this.state;
    this.checked++;
    this.last = { seq: obs.seq, ts: obs.ts, holds, features: obs.features };
    this.recent.push({ seq: obs.seq, ts: obs.ts, holds });
    if (this.recent.length > RECENT_EVIDENCE) this.recent.shift();
    if (holds) {
      this.holdingSince ??= obs.ts;
      if (obs.ts - this.holdingSince >= this.opts.stableForMs && obs.ts <= this.deadline)
        this.state = 'verified';
    } else {
      this.holdingSince = undefined;
    }
    if (this.state === 'pending' && obs.ts >= this.deadline) this.state = 'failed';
    return this.state;
  }

  /**
   * Settles a verification that no observation has settled by wall-clock `nowMs`: `failed` when
   * the latest observation disproved the condition, `expired` when there was none, or it held.
   */
  expire(nowMs: number, graceMs: number): VerificationState {
    if (this.state === 'pending' && nowMs > this.deadline + graceMs)
      this.state = this.last && !this.last.holds ? 'failed' : 'expired';
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
      holdingSince: this.holdingSince ?? null,
      lastObservation: this.last ?? null,
      // The streak that verified it, or the observations that broke it, with their times.
      observations: [...this.recent],
    };
  }
}

/**
 * The slow reference of a baseline state and the `drift` fact (baseline.ts, "Drift" in its file
 * comment): the deseasonalized samples weighted with a half-life of days, each clipped at CLIP of
 * its own spreads; drift is (level − slow reference) / that spread. Per state, two floats from the
 * state's drift offset.
 */
import { HalfLifeStep } from './baseline-decay.js';
import { CLIP, robustSpread } from './baseline-spread.js';

/** Floats of the slow reference, from a state's drift offset. */
export const DRIFT_SLOW = 0; // the deseasonalized level over days
export const DRIFT_ABSDEV = 1; // weighted mean absolute residual about it
export const DRIFT_FLOATS = 2;

export class BaselineDrift {
  /** The learning step by the gap between samples. */
  private readonly decay: HalfLifeStep;

  /** `halfLifeMs`: the slow reference's half-life in event time; `minSpreadRatio` as the baseline's. */
  constructor(
    private readonly halfLifeMs: number,
    private readonly minSpreadRatio: number,
  ) {
    this.decay = new HalfLifeStep(halfLifeMs);
  }

  /**
   * Learns the slow reference from one deseasonalized sample `y`, the state's `n`-th: every sample,
   * frozen or not (an incident moves it little: each residual is clipped at CLIP of its spreads
   * and the half-life is days). `minSpread`: the metric's smallest spread.
   */
  learn(f: Float32Array, s: number, minSpread: number, y: number, n: number, dt: number): void {
    const decay = this.decay.of(dt);
    const a = Math.min(0.5, Math.max(decay, 1 / n));
    const slow = f[s + DRIFT_SLOW] as number;
    const absdev = f[s + DRIFT_ABSDEV] as number;
    const clip = n > 5 ? CLIP * robustSpread(absdev, slow, this.minSpreadRatio, minSpread) : Infinity;
    const r = y - slow;
    f[s + DRIFT_SLOW] = slow + a * (r > clip ? clip : r < -clip ? -clip : r);
    f[s + DRIFT_ABSDEV] = absdev + a * (Math.min(Math.abs(r), clip) - absdev);
  }

  /** The drift fact of a state whose level is `level` and age `ageMs`: 0 until it is a half-life old. */
  drift(f: Float32Array, s: number, level: number, ageMs: number, minSpread: number): number {
    if (ageMs < this.halfLifeMs) return 0;
    const slow = f[s + DRIFT_SLOW] as number;
    return (level - slow) / robustSpread(f[s + DRIFT_ABSDEV] as number, slow, this.minSpreadRatio, minSpread);
  }

  /** Starts the slow reference at `level` with mean absolute residual `absdev` (drift 0). */
  reset(f: Float32Array, s: number, level: number, absdev: number): void {
    f[s + DRIFT_SLOW] = level;
    f[s + DRIFT_ABSDEV] = absdev;
  }
}

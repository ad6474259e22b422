/**
 * The tail model of a baseline state (baseline.ts, "Heavy tails" in its file comment): peaks over a
 * threshold as in SPOT (Siffer et al., KDD 2017) with an exponential tail. Per state, two floats
 * from the state's tail offset (how often excursions beyond TAIL_FROM spreads happen, and how far
 * beyond they go on average) and the samples of the excursion running now (16 bits, in `runs`).
 */
import { HalfLifeStep } from './baseline-decay.js';

/** Floats of the tail model, from a state's tail offset. */
export const TAIL_EXCESS = 0; // mean excess of an excursion beyond TAIL_FROM spreads, in spreads
export const TAIL_RATE = 1; // share of samples in an excursion, in event time
export const TAIL_FLOATS = 2;
/** The longest excursion counted, in samples (16 bits). */
export const RUN_MAX = 65_535;

/** Excursions start this many spreads from the expected value. */
const TAIL_FROM = 2;
/** What a new state assumes of its excursions: Gaussian noise's share beyond 2 and mean excess. */
const GAUSSIAN_RATE = 0.0455;
const GAUSSIAN_EXCESS = 0.373;
/** Step of the excess towards a first excursion sample's excess; the k-th sample of a run moves it 1/k of that. */
const EXCESS_STEP = 0.1;
/** An excursion's excess counts up to this many times the current mean excess. */
const EXCESS_CAP = 4;

export class BaselineTail {
  /** The rate's learning step by the gap between samples. */
  private readonly decay: HalfLifeStep;

  /**
   * `risk`: how rare a sample must be, by the metric's own excursions, to score `anomalyDeviation`
   * (0: the tail model is off); `halfLifeMs`: the rate's half-life in event time.
   */
  constructor(
    private readonly risk: number,
    halfLifeMs: number,
    private readonly anomalyDeviation: number,
  ) {
    if (!(risk >= 0 && risk < 1))
      throw new RangeError(`tailRisk must be at least 0 and below 1 (0: off), got ${risk}`);
    if (!(halfLifeMs > 0)) throw new RangeError(`tailHalfLifeMs must be positive, got ${halfLifeMs}`);
    this.decay = new HalfLifeStep(halfLifeMs);
  }

  /** Whether the tail model learns at all (tailRisk above 0). */
  get on(): boolean {
    return this.risk > 0;
  }

  /**
   * The factor (1 or more) the spread is widened by where the metric's excursions are common: z_q /
   * anomalyDeviation where z_q, the deviation a sample as rare as the risk reaches, is beyond it.
   */
  widening(f: Float32Array, t: number): number {
    const risk = this.risk;
    const rate = f[t + TAIL_RATE] as number;
    if (!(risk > 0 && rate > risk)) return 1;
    const zq = TAIL_FROM + (f[t + TAIL_EXCESS] as number) * Math.log(rate / risk);
    return zq > this.anomalyDeviation ? zq / this.anomalyDeviation : 1;
  }

  /** Whether a sample `a` spreads from the expected value is in an excursion. */
  over(a: number): boolean {
    return a > TAIL_FROM;
  }

  /**
   * Learns the excursions from one sample `a` spreads from the expected value (every sample, frozen
   * or not): their rate in event time, and their mean excess beyond TAIL_FROM, each excursion's step
   * bounded (EXCESS_CAP) and shared out over its run (1/k for its k-th sample; the run is runs[q]).
   */
  learn(f: Float32Array, t: number, runs: Uint16Array, q: number, a: number, dt: number): void {
    const over = a > TAIL_FROM;
    const decay = this.decay.of(dt);
    const rate = f[t + TAIL_RATE] as number;
    f[t + TAIL_RATE] = rate + decay * ((over ? 1 : 0) - rate);
    if (!over) {
      runs[q] = 0;
      return;
    }
    const k = Math.min(RUN_MAX, (runs[q] as number) + 1);
    runs[q] = k;
    const excess = f[t + TAIL_EXCESS] as number;
    f[t + TAIL_EXCESS] = excess + (EXCESS_STEP / k) * (Math.min(a - TAIL_FROM, EXCESS_CAP * excess) - excess);
  }

  /** A new state's tail (and a restored one of a format before the tail): Gaussian, no excursion running. */
  reset(f: Float32Array, t: number, runs: Uint16Array, q: number): void {
    runs[q] = 0;
    f[t + TAIL_EXCESS] = GAUSSIAN_EXCESS;
    f[t + TAIL_RATE] = GAUSSIAN_RATE;
  }
}

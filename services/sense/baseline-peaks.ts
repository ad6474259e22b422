/**
 * The recent excursions of a baseline state (baseline.ts, "Recurring excursions" in its file
 * comment): the peaks of the last excursions beyond 2 spreads, as in the peak set of SPOT/DSPOT
 * (Siffer et al., KDD 2017), in the state's spreads, each halving every `halfLifeMs` of event time;
 * an excursion no larger than the `rank`-th largest of them is not novel.
 *
 * Per state, PEAK_BYTES bytes: the running excursion's peak, then the PEAK_RANK_MAX largest peaks,
 * largest first, each a code of CODES_PER_OCTAVE per doubling (0: none; code c is 2^(c/8)
 * spreads, 9% apart, up to 2^31.9). A peak decays by one code each time event time crosses a
 * multiple of halfLifeMs / CODES_PER_OCTAVE (a step on a fixed grid, so no time is stored).
 */

/** Most peaks remembered: `rank` is at most this. */
export const PEAK_RANK_MAX = 4;
/** Bytes of the peaks of a state: the running excursion's peak, then the peaks. */
export const PEAK_BYTES = 1 + PEAK_RANK_MAX;
/** Codes per doubling of a peak, and decay steps per half-life. */
const CODES_PER_OCTAVE = 8;
const CODE_MAX = 255;
const RUNNING = 0;
const PEAKS = 1;
/** Each code's peak (2^(c/8); 0 for none), computed once: novelFrom reads one for every observation. */
const PEAK_OF = Float64Array.from({ length: CODE_MAX + 1 }, (_, c) =>
  c === 0 ? 0 : 2 ** (c / CODES_PER_OCTAVE),
);

/** The code of a peak `a` spreads high (at least 1 when a is above 1). */
function codeOf(a: number): number {
  const c = Math.round(CODES_PER_OCTAVE * Math.log2(a));
  return c < 1 ? 1 : c > CODE_MAX ? CODE_MAX : c;
}

export class BaselinePeaks {
  private readonly stepMs: number;

  /** `rank`: which largest recent peak an excursion must pass to be novel (0: off). */
  constructor(
    private readonly rank: number,
    halfLifeMs: number,
  ) {
    if (!(Number.isInteger(rank) && rank >= 0 && rank <= PEAK_RANK_MAX))
      throw new RangeError(`tailPeakRank must be an integer from 0 (off) to ${PEAK_RANK_MAX}, got ${rank}`);
    if (!(halfLifeMs > 0)) throw new RangeError(`tailPeakHalfLifeMs must be positive, got ${halfLifeMs}`);
    this.stepMs = halfLifeMs / CODES_PER_OCTAVE;
  }

  /** Whether the peaks are kept at all (tailPeakRank above 0). */
  get on(): boolean {
    return this.rank > 0;
  }

  /** The `rank`-th largest recent peak, in spreads (0 when fewer excursions are remembered, or off). */
  novelFrom(b: Uint8Array, t: number): number {
    if (this.rank === 0) return 0;
    return PEAK_OF[b[t + PEAKS + this.rank - 1] as number] as number;
  }

  /**
   * Learns one sample `a` spreads from the expected value, in an excursion (`over`) or not, at `ts`,
   * `dt` ms after the previous one: the peaks decay, an excursion's peak is kept while it runs and
   * joins the peaks when it ends.
   */
  learn(b: Uint8Array, t: number, a: number, over: boolean, ts: number, dt: number): void {
    const steps = Math.floor(ts / this.stepMs) - Math.floor((ts - dt) / this.stepMs);
    if (steps > 0)
      for (let i = t + PEAKS; i < t + PEAKS + PEAK_RANK_MAX; i++) {
        const c = (b[i] as number) - steps;
        b[i] = c > 0 ? c : 0;
      }
    const running = b[t + RUNNING] as number;
    if (over) {
      const c = codeOf(a);
      if (c > running) b[t + RUNNING] = c;
      return;
    }
    if (running === 0) return;
    b[t + RUNNING] = 0;
    let v = running;
    for (let i = t + PEAKS; i < t + PEAKS + PEAK_RANK_MAX; i++) {
      const c = b[i] as number;
      if (v > c) {
        b[i] = v;
        v = c;
      }
    }
  }

  /** None remembered, none running. */
  reset(b: Uint8Array, t: number): void {
    b.fill(0, t, t + PEAK_BYTES);
  }
}

/**
 * A learning step by event time: `1 - 2^(-dt / halfLife)`, capped at 0.5, for a gap of `dt` ms
 * between samples; the last gap's step is kept, as most series are sampled at one interval.
 */
export class HalfLifeStep {
  private lastDt = Number.NaN;
  private step = 0;

  constructor(private readonly halfLifeMs: number) {}

  /** The step for a gap of `dt` ms. */
  of(dt: number): number {
    if (dt !== this.lastDt) {
      this.lastDt = dt;
      this.step = Math.min(0.5, 1 - 2 ** (-dt / this.halfLifeMs));
    }
    return this.step;
  }
}

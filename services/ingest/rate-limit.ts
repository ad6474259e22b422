/**
 * A token bucket per source: `rate` requests a second on average, bursts of up to `burst`. A
 * sender over it is answered 429 with Retry-After, so one noisy source cannot starve the others.
 */
export class RateLimits {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly rate: number,
    private readonly burst: number,
  ) {}

  /** Takes one request's token; false when the source is over its rate. */
  take(source: string, now = Date.now()): boolean {
    const b = this.buckets.get(source) ?? { tokens: this.burst, at: now };
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.rate);
    b.at = now;
    this.buckets.set(source, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}

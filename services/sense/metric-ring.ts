import type { PointPool } from './point-pool.js';

/** Smallest capacity a ring takes: most windows hold a few dozen points, so start small. */
const MIN_CAPACITY = 4;
const NO_SLAB = new Float64Array(0);

/**
 * The points of one metric of one entity, oldest first, as a ring of interleaved `ts, value`
 * doubles in a block of a shared Float64Array slab (see PointPool): no object per point and no
 * allocation on an append. Why: a window holds 100,000 entities × a few metrics × ~30 points;
 * arrays of `{ts, value}` objects cost several times the bytes and churn the garbage collector.
 *
 * Points stay sorted by time: an in-order append is O(1); an out-of-order insert shifts the newer
 * points by one inside the ring (after any point of equal time, so arrival order breaks ties).
 * Capacity doubles from 4 as needed; at `maxPoints` points the oldest is dropped. Dropping old
 * points halves the capacity once at most a quarter is used (hysteresis: no thrash at the edge).
 * `release()` gives the block back; the owner calls it when it forgets the ring.
 */
export class MetricRing {
  private slab: Float64Array = NO_SLAB;
  private base = 0;
  private block = -1;
  private cap = 0;
  private head = 0;
  private len = 0;

  constructor(
    /** The metric's name, so a window can keep its rings sorted without an extra object each. */
    readonly name: string,
    private readonly pool: PointPool,
    /** Most points kept; the oldest is dropped beyond it. */
    private readonly maxPoints: number,
  ) {
    if (!Number.isInteger(maxPoints) || maxPoints < 1) {
      throw new RangeError(`maxPoints must be a positive integer, got ${maxPoints}`);
    }
  }

  /** Number of points held. */
  get length(): number {
    return this.len;
  }

  /** Points the current block holds before it must grow (a power of two, 0 before the first point). */
  get capacity(): number {
    return this.cap;
  }

  /** Time of the `i`-th oldest point (0 ≤ i < length). */
  tsAt(i: number): number {
    return this.slab[this.at(i)] as number;
  }

  /** Value of the `i`-th oldest point (0 ≤ i < length). */
  valueAt(i: number): number {
    return this.slab[this.at(i) + 1] as number;
  }

  /** Copies the points, oldest first, into `ts` and `values` (each ≥ length); returns how many. */
  copyTo(ts: Float64Array, values: Float64Array): number {
    const mask = this.cap - 1;
    for (let i = 0; i < this.len; i++) {
      const p = this.base + (((this.head + i) & mask) << 1);
      ts[i] = this.slab[p] as number;
      values[i] = this.slab[p + 1] as number;
    }
    return this.len;
  }

  /** Time of the newest point, or -Infinity when empty: lets a window tell a dead metric in O(1). */
  get lastTs(): number {
    return this.len === 0 ? -Infinity : this.tsAt(this.len - 1);
  }

  /**
   * True when a point of time `ts` with this very value is held already: an at-least-once sender's
   * retry (ingest answered 503 for a commit whose answer was lost; a Telegraf or Vector resend) is
   * that sample again, not a second one. Scans back from the newest point: O(1) for in-order input.
   */
  holds(ts: number, value: number): boolean {
    for (let i = this.len - 1; i >= 0; i--) {
      const t = this.tsAt(i);
      if (t < ts) return false;
      if (t === ts && Object.is(this.valueAt(i), value)) return true;
    }
    return false;
  }

  /**
   * Adds a point in time order. Returns false only when the ring holds `maxPoints` and the point
   * would be the oldest one: it is dropped at once, as the cap says.
   */
  add(ts: number, value: number): boolean {
    let at = this.len;
    while (at > 0 && this.tsAt(at - 1) > ts) at--;
    if (this.len === this.maxPoints) {
      if (at === 0) return false;
      this.dropOldest(1);
      at--;
    } else if (this.len === this.cap) {
      this.resize(Math.max(MIN_CAPACITY, this.cap * 2));
    }
    for (let i = this.len; i > at; i--) {
      const from = this.at(i - 1);
      const to = this.at(i);
      this.slab[to] = this.slab[from] as number;
      this.slab[to + 1] = this.slab[from + 1] as number;
    }
    this.len++;
    const p = this.at(at);
    this.slab[p] = ts;
    this.slab[p + 1] = value;
    return true;
  }

  /** Drops every point with `ts <= bound` (they left the window); returns how many. */
  dropThrough(bound: number): number {
    let n = 0;
    while (n < this.len && this.tsAt(n) <= bound) n++;
    if (n === 0) return 0;
    this.dropOldest(n);
    if (this.len === 0) this.release();
    else if (this.cap > MIN_CAPACITY && this.len <= this.cap >> 2) this.resize(this.cap >> 1);
    return n;
  }

  /** Empties the ring and gives its block back to the pool (it may be filled again later). */
  release(): void {
    if (this.block >= 0) this.pool.free(this.cap, this.block);
    this.slab = NO_SLAB;
    this.base = 0;
    this.block = -1;
    this.cap = 0;
    this.head = 0;
    this.len = 0;
  }

  private dropOldest(n: number): void {
    this.len -= n;
    this.head = (this.head + n) & (this.cap - 1);
  }

  private resize(capacity: number): void {
    const next = this.pool.alloc(capacity);
    for (let i = 0; i < this.len; i++) {
      const from = this.at(i);
      next.slab[next.base + 2 * i] = this.slab[from] as number;
      next.slab[next.base + 2 * i + 1] = this.slab[from + 1] as number;
    }
    if (this.block >= 0) this.pool.free(this.cap, this.block);
    this.slab = next.slab;
    this.base = next.base;
    this.block = next.id;
    this.cap = capacity;
    this.head = 0;
  }

  /** Index in the slab of the `i`-th oldest point's time (its value follows). */
  private at(i: number): number {
    return this.base + (((this.head + i) & (this.cap - 1)) << 1);
  }
}

/** Doubles in one slab (64 KB): big enough that V8's per-ArrayBuffer cost vanishes, small enough to release. */
const SLAB_DOUBLES = 8192;

/** Where a ring's points live: `2 × capacity` doubles from `base` in a shared slab, and the id to free it by. */
export interface Block {
  readonly slab: Float64Array;
  readonly base: number;
  readonly id: number;
}

interface SizeClass {
  readonly blockDoubles: number;
  readonly perSlab: number;
  readonly slabs: Array<Float64Array | undefined>;
  readonly used: number[];
  readonly free: number[];
  readonly spareSlots: number[];
}

/**
 * Blocks of 4, 8, 16, … points for the metric rings of one EntityWindows, carved out of shared
 * 64 KB Float64Array slabs with a free list per size. Why: a Float64Array of its own costs a ring
 * ~180 bytes of V8 heap plus ~250 bytes outside it (its ArrayBuffer's backing store record),
 * about as much as the 30 points it holds. A slab whose blocks are all free is released once
 * another slab of its size has room (one spare stays, so a ring at a boundary does not thrash).
 * Not thread-safe, no clock: plain bookkeeping.
 */
export class PointPool {
  private readonly classes: SizeClass[] = [];
  private reserved = 0;

  /** Takes a block of `capacity` points (a power of two ≥ 4); its contents are unspecified. */
  alloc(capacity: number): Block {
    const c = this.classOf(capacity);
    if (c.free.length === 0) this.addSlab(c);
    const id = c.free.pop() as number;
    const s = (id / c.perSlab) | 0;
    c.used[s] = (c.used[s] as number) + 1;
    return { slab: c.slabs[s] as Float64Array, base: (id - s * c.perSlab) * c.blockDoubles, id };
  }

  /** Gives a block back; `capacity` and `id` must be those of one live `alloc`, freed once. */
  free(capacity: number, id: number): void {
    const c = this.classOf(capacity);
    const s = (id / c.perSlab) | 0;
    c.free.push(id);
    const used = (c.used[s] as number) - 1;
    c.used[s] = used;
    if (used === 0 && c.free.length > c.perSlab) this.releaseSlab(c, s);
  }

  /** Bytes held in slabs, used or free: what the pool costs. */
  get reservedBytes(): number {
    return this.reserved;
  }

  private classOf(capacity: number): SizeClass {
    const k = 31 - Math.clz32(capacity);
    let c = this.classes[k];
    if (c === undefined) {
      const blockDoubles = 2 * capacity;
      const perSlab = Math.max(1, Math.floor(SLAB_DOUBLES / blockDoubles));
      c = { blockDoubles, perSlab, slabs: [], used: [], free: [], spareSlots: [] };
      this.classes[k] = c;
    }
    return c;
  }

  private addSlab(c: SizeClass): void {
    const s = c.spareSlots.pop() ?? c.slabs.length;
    c.slabs[s] = new Float64Array(c.perSlab * c.blockDoubles);
    this.reserved += c.perSlab * c.blockDoubles * 8;
    c.used[s] = 0;
    // Lowest block on top: blocks are handed out in address order.
    for (let i = c.perSlab - 1; i >= 0; i--) c.free.push(s * c.perSlab + i);
  }

  private releaseSlab(c: SizeClass, s: number): void {
    let keep = 0;
    for (const id of c.free) if (((id / c.perSlab) | 0) !== s) c.free[keep++] = id;
    c.free.length = keep;
    c.slabs[s] = undefined;
    this.reserved -= c.perSlab * c.blockDoubles * 8;
    c.spareSlots.push(s);
  }
}

/**
 * decide's workflow starts in flight at once (AUTOGLM_DECIDE_START_CONCURRENCY), shared by lane
 * across every batch the consumer handles: lanes 1–2 may take every slot, lane 3 three quarters,
 * lanes 4–5 half, so a storm of routine starts always leaves room for an urgent one; a free slot
 * goes to the most urgent start waiting (then the one waiting longest).
 */
export class StartSlots {
  private inUse = 0;
  private readonly inUseByLane = new Map<number, number>();
  private readonly waiting: Array<{ lane: number; seq: number; grant: () => void }> = [];
  private seq = 0;

  constructor(private readonly total: number) {
    if (!Number.isInteger(total) || total < 1)
      throw new RangeError(`start slots must be at least 1, got ${total}`);
  }

  /** How many slots starts of `lane` and less urgent lanes may hold at once. */
  capacity(lane: number): number {
    if (lane <= 2) return this.total;
    if (lane === 3) return Math.max(1, Math.ceil(this.total * 0.75));
    return Math.max(1, Math.ceil(this.total / 2));
  }

  /** Starts in flight now (for tests and the status). */
  get busy(): number {
    return this.inUse;
  }

  /** Waits for a slot for a start of `lane`; resolves with its release. */
  acquire(lane: number): Promise<() => void> {
    return new Promise((resolve) => {
      this.waiting.push({ lane, seq: this.seq++, grant: () => resolve(this.releaser(lane)) });
      this.dispatch();
    });
  }

  private releaser(lane: number): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inUse--;
      this.inUseByLane.set(lane, (this.inUseByLane.get(lane) ?? 1) - 1);
      this.dispatch();
    };
  }

  /** Slots held by starts of `lane` or a less urgent one: what its capacity counts. */
  private heldFrom(lane: number): number {
    let n = 0;
    for (const [l, c] of this.inUseByLane) if (l >= lane) n += c;
    return n;
  }

  private dispatch(): void {
    for (;;) {
      if (this.inUse >= this.total) return;
      let next = -1;
      for (let i = 0; i < this.waiting.length; i++) {
        const w = this.waiting[i]!;
        if (this.heldFrom(w.lane) >= this.capacity(w.lane)) continue;
        const best = next >= 0 ? this.waiting[next]! : undefined;
        if (!best || w.lane < best.lane || (w.lane === best.lane && w.seq < best.seq)) next = i;
      }
      if (next < 0) return;
      const [w] = this.waiting.splice(next, 1);
      this.inUse++;
      this.inUseByLane.set(w!.lane, (this.inUseByLane.get(w!.lane) ?? 0) + 1);
      w!.grant();
    }
  }
}

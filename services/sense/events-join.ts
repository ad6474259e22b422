/**
 * The event-time join of each metrics partition with its co-partitioned events partition (the same
 * number: the same entities' samples and events). Events and samples are two topics read side by
 * side, so a metrics partition can be read ahead of its events partition: after a restart, or
 * when the events partition has more to read than one fetch brings. A sample applied then emits
 * windows without the events of their time (a bad deploy's error spike without its deploy: no
 * rollback). So a live sample of metrics partition p is applied only when events partition p is
 * known read to its end (its last batch ended at the partition's end as of its fetch), or read
 * up to the sample's event time; else the metrics partition is held there and fetched again.
 * A hold is bounded by `waitMs` of wall clock: then the samples go on without the events, and
 * that partition is not held again until its events have caught up once (a stuck events
 * partition must not stall the metrics in a loop). Pure: times in, decisions out.
 */
export class EventsJoin {
  private readonly partitions = new Map<number, EventsPartitionState>();

  /** @param waitMs longest hold of a metrics partition (AUTOGLM_SENSE_EVENTS_WAIT); 0: never held */
  constructor(private readonly waitMs: number) {}

  /**
   * Starts a generation with the events partitions this process owns. Their state is unknown:
   * taken as caught up (never holding) until a read says otherwise. A metrics partition whose
   * events partition is not here (an assignment that is not co-partitioned) is never held.
   */
  reset(eventsPartitions: readonly number[]): void {
    this.partitions.clear();
    for (const p of eventsPartitions)
      this.partitions.set(p, { readTo: -Infinity, caughtUp: true, gaveUp: false, heldSince: undefined });
  }

  /**
   * Events partition `p` was read up to event time `newest` (-Infinity: no event time in that
   * read); `caughtUp`: whether that read ended at the partition's end as of its fetch.
   */
  eventsRead(p: number, newest: number, caughtUp: boolean): void {
    const s = this.partitions.get(p);
    if (s === undefined) return;
    if (newest > s.readTo) s.readTo = newest;
    s.caughtUp = caughtUp;
    if (caughtUp) s.gaveUp = false;
  }

  /**
   * The newest event time a live sample of metrics partition `p` may have to be applied now
   * (Infinity: any). `timedOut` when a hold has just run past `waitMs` (the caller says so once).
   */
  limit(p: number, now: number): { readonly limit: number; readonly timedOut: boolean } {
    const s = this.partitions.get(p);
    if (this.waitMs <= 0 || s === undefined || s.caughtUp || s.gaveUp) return FREE;
    if (s.heldSince !== undefined && now - s.heldSince >= this.waitMs) {
      s.gaveUp = true;
      s.heldSince = undefined;
      return TIMED_OUT;
    }
    return { limit: s.readTo, timedOut: false };
  }

  /** A batch of metrics partition `p` stopped at a sample newer than its events (from `now` on, if not yet held). */
  held(p: number, now: number): void {
    const s = this.partitions.get(p);
    if (s !== undefined) s.heldSince ??= now;
  }

  /** A batch of metrics partition `p` was applied in full: its hold, if any, is over. */
  released(p: number): void {
    const s = this.partitions.get(p);
    if (s !== undefined) s.heldSince = undefined;
  }

  /** Whether metrics partition `p` is held now (since when), for tests and logs. */
  heldSince(p: number): number | undefined {
    return this.partitions.get(p)?.heldSince;
  }
}

interface EventsPartitionState {
  /** Newest event time read from the partition in this generation. */
  readTo: number;
  /** Its last read ended at the partition's end (as of that read's fetch). */
  caughtUp: boolean;
  /** A hold ran past the wait: not held again until the partition has caught up once. */
  gaveUp: boolean;
  /** Wall clock when the metrics partition of the same number was first held (undefined: not held). */
  heldSince: number | undefined;
}

const FREE = { limit: Infinity, timedOut: false } as const;
const TIMED_OUT = { limit: Infinity, timedOut: true } as const;

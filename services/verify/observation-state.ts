import type { Observation } from '../common/contracts.js';

type Listener = (obs: Observation) => void;

interface Watched {
  /** Kept observations, in event-time order, at most `maxPerEntity`. */
  readonly kept: Observation[];
  readonly listeners: Set<Listener>;
}

/**
 * The observations of the entities a verification is watching, and nothing else: memory grows
 * with the pending verifications, not with the fleet. An entity is kept from its first watcher
 * until its last one settles; at most `maxPerEntity` of its observations are kept (the newest).
 * Observations of other entities are counted and dropped. An observation arriving twice (live and
 * by a read-back) is kept and announced once.
 */
export class ObservationState {
  private readonly watched = new Map<string, Watched>();
  private dropped = 0;

  constructor(private readonly maxPerEntity = 256) {}

  /** Live observations from Kafka. */
  add(obs: Observation): void {
    const w = this.watched.get(obs.entity);
    if (!w) {
      this.dropped++;
      return;
    }
    this.insert(w, obs);
  }

  /** Observations read back from the topic for a watched entity (any order, duplicates allowed). */
  load(entity: string, observations: readonly Observation[]): void {
    const w = this.watched.get(entity);
    if (!w) return;
    for (const obs of [...observations].sort((a, b) => a.ts - b.ts))
      if (obs.entity === entity) this.insert(w, obs);
  }

  /**
   * Watches `entity`: calls `listener` with each kept observation newer than `sinceTs`, then with
   * every new one. The returned function stops watching; the entity is forgotten with its last watcher.
   */
  watch(entity: string, sinceTs: number, listener: Listener): () => void {
    let w = this.watched.get(entity);
    if (!w) {
      w = { kept: [], listeners: new Set() };
      this.watched.set(entity, w);
    }
    const entry = w;
    const wrapped: Listener = (obs) => {
      if (obs.ts > sinceTs) listener(obs);
    };
    entry.listeners.add(wrapped);
    for (const obs of entry.kept) wrapped(obs);
    return () => {
      entry.listeners.delete(wrapped);
      if (entry.listeners.size === 0 && this.watched.get(entity) === entry) this.watched.delete(entity);
    };
  }

  /** The kept observations of a watched entity newer than `sinceTs`, in event-time order. */
  snapshot(entity: string, sinceTs: number): Observation[] {
    return (this.watched.get(entity)?.kept ?? []).filter((o) => o.ts > sinceTs);
  }

  /** True while a verification watches `entity`. */
  isWatched(entity: string): boolean {
    return this.watched.has(entity);
  }

  /** Entities watched now. */
  get entities(): number {
    return this.watched.size;
  }

  /** Observations kept now, over all watched entities. */
  get observations(): number {
    let n = 0;
    for (const w of this.watched.values()) n += w.kept.length;
    return n;
  }

  /** Observations dropped because no verification watched their entity. */
  get droppedTotal(): number {
    return this.dropped;
  }

  private insert(w: Watched, obs: Observation): void {
    const kept = w.kept;
    // Same window already kept (a read-back overlapping the live stream): nothing new.
    if (kept.some((o) => o.window.end === obs.window.end && o.seq === obs.seq)) return;
    let at = kept.length;
    while (at > 0 && kept[at - 1]!.ts > obs.ts) at--;
    kept.splice(at, 0, obs);
    if (kept.length > this.maxPerEntity) kept.shift();
    for (const listener of w.listeners) listener(obs);
  }
}

import type { Observation } from '../common/contracts.js';

type Listener = (obs: Observation) => void;

/**
 * The latest observations per entity, as the verify worker has read them from Kafka, with
 * listeners for verifications in progress. Keeps a short history so a verification that starts
 * a little after the action still sees the observations since then.
 */
export class ObservationState {
  private readonly history = new Map<string, Observation[]>();
  private readonly listeners = new Map<string, Set<Listener>>();

  constructor(private readonly historySize = 64) {}

  add(obs: Observation): void {
    let list = this.history.get(obs.entity);
    if (!list) {
      list = [];
      this.history.set(obs.entity, list);
    }
    list.push(obs);
    if (list.length > this.historySize) list.shift();
    for (const listener of this.listeners.get(obs.entity) ?? []) listener(obs);
  }

  /** Calls `listener` with each kept observation of `entity` newer than `sinceTs`, then with every new one. */
  subscribe(entity: string, sinceTs: number, listener: Listener): () => void {
    let set = this.listeners.get(entity);
    if (!set) {
      set = new Set();
      this.listeners.set(entity, set);
    }
    set.add(listener);
    for (const obs of this.history.get(entity) ?? []) if (obs.ts > sinceTs) listener(obs);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(entity);
    };
  }

  get entities(): number {
    return this.history.size;
  }
}

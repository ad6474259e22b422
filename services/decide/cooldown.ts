/**
 * Holds back a second decision of one rule for one entity until the rule's cooldown has passed
 * in event time, so a hot entity does not send a decision to Temporal every few seconds. A replay
 * of the decision that opened the cooldown passes again (same id), so redelivered observations
 * still reach the idempotent workflow start. In memory and per process: it only saves work. The
 * guarantee (one remediation in flight per entity, the cooldown after it) is the entity guard
 * workflow's, inside Temporal, which holds across restarts and rebalances.
 */
export class CooldownGate {
  private readonly open = new Map<string, { decisionId: string; until: number; stale: boolean }>();
  private newest = -Infinity;
  private sinceSweep = 0;

  /**
   * True when the decision may go on; records it as the one that holds the cooldown. A `stale`
   * decision starts nothing: the cooldown it opens holds back only other stale ones (a replay's
   * audit), never a fresh decision, which may act (after a backlog, the incident is still going).
   */
  admit(
    entity: string,
    rule: string,
    decisionId: string,
    eventTs: number,
    cooldownMs: number,
    stale = false,
  ): boolean {
    this.newest = Math.max(this.newest, eventTs);
    // Now and then forget cooldowns that ended (on event time), so idle entities do not pile up.
    if (++this.sinceSweep >= 10_000) this.sweep();
    const key = `${entity}\u0000${rule}`;
    const current = this.open.get(key);
    const holds = current && current.decisionId !== decisionId && eventTs < current.until;
    if (holds && !(current.stale && !stale)) return false;
    if (!current || current.decisionId !== decisionId)
      this.open.set(key, { decisionId, until: eventTs + cooldownMs, stale });
    return true;
  }

  /**
   * Lets the next decision of (entity, rule) go on if `decisionId` holds its cooldown: its
   * remediation ended without acting (stale), so there is nothing to cool down from.
   */
  release(entity: string, rule: string, decisionId: string): void {
    const key = `${entity}\u0000${rule}`;
    if (this.open.get(key)?.decisionId === decisionId) this.open.delete(key);
  }

  /** Entries held now (for tests and a gauge). */
  get size(): number {
    return this.open.size;
  }

  private sweep(): void {
    this.sinceSweep = 0;
    for (const [key, c] of this.open) if (c.until < this.newest) this.open.delete(key);
  }
}

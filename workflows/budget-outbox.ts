/**
 * The answers the action budget owes, and which to send next. Grants and denials end a
 * remediation's wait and go first; a "deferred" answer only tells a waiting remediation why it
 * still waits (it keeps waiting either way), so a newer one replaces one not sent yet, and they
 * take at most part of the answers on their way. In a storm every waiting remediation asks again
 * every 30 s and hears back each time: first come, first sent put a grant behind hundreds of
 * those. Pure and deterministic (workflow code).
 */
import type { Outgoing } from './guard-state.js';

/** Answers on their way at once, at most (Temporal allows 2000 pending signals per execution). */
export const ANSWERS_IN_FLIGHT = 100;
/** Of those, "deferred" answers at most: grants and denials always find room. */
export const DEFERRED_IN_FLIGHT = 50;

/** The budget's answers owed and on their way. */
export class BudgetOutbox {
  private readonly owed: Outgoing[] = [];
  private inFlight = 0;
  private deferredInFlight = 0;

  /** Owes `outs`; a deferred answer not sent yet to the same holder is dropped (the newer one says more). */
  owe(outs: readonly Outgoing[]): void {
    for (const out of outs) {
      const stale = this.owed.findIndex((o) => o.holder === out.holder && o.answer.result === 'deferred');
      if (stale >= 0) this.owed.splice(stale, 1);
      this.owed.push(out);
    }
  }

  /** The next answer to send (now on its way), or undefined while none may go. */
  take(): Outgoing | undefined {
    if (this.inFlight >= ANSWERS_IN_FLIGHT) return undefined;
    let i = this.owed.findIndex((o) => o.answer.result !== 'deferred');
    if (i < 0 && this.owed.length > 0 && this.deferredInFlight < DEFERRED_IN_FLIGHT) i = 0;
    if (i < 0) return undefined;
    const [out] = this.owed.splice(i, 1);
    this.inFlight++;
    if (out!.answer.result === 'deferred') this.deferredInFlight++;
    return out;
  }

  /** `out` (from `take`) was delivered, or failed. */
  settled(out: Outgoing): void {
    this.inFlight--;
    if (out.answer.result === 'deferred') this.deferredInFlight--;
  }

  /** True when an answer may be sent now. */
  ready(): boolean {
    if (this.inFlight >= ANSWERS_IN_FLIGHT) return false;
    return (
      this.owed.some((o) => o.answer.result !== 'deferred') ||
      (this.owed.length > 0 && this.deferredInFlight < DEFERRED_IN_FLIGHT)
    );
  }

  /** Nothing owed and nothing on its way (the budget may continue as new). */
  quiet(): boolean {
    return this.inFlight === 0 && this.owed.length === 0;
  }
}

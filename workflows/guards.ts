/**
 * The guard workflows. One `entityGuard` per entity (started on demand by signal-with-start,
 * ended once idle) and one `actionBudget` per deployment. They live inside Temporal, so what they
 * hold survives restarts and rebalances of every process, and every act worker sees the same
 * state. Requests and releases arrive as signals; answers go back to the asking remediation as
 * signals. Deterministic: the rules are in `guard-state.ts`, time is workflow time.
 */
import {
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  log,
  patched,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import {
  ACT_MEMORY_PATCH,
  acquireSignal,
  actedSignal,
  guardStatusQuery,
  leaseAnswerSignal,
  releaseSignal,
  type BudgetLimits,
  type LeaseAnswer,
} from './definitions.js';
import {
  ActionBudgetState,
  EntityGuardState,
  type ActionBudgetSnapshot,
  type EntityGuardSnapshot,
  type Outgoing,
} from './guard-state.js';
import { BudgetOutbox } from './budget-outbox.js';

/**
 * The budget sends each answer as soon as it owes it, grants and denials first, without waiting
 * for the ones before to be delivered (a signal's delivery takes a workflow-task round trip, seconds
 * on a loaded server; `budget-outbox.ts`); histories from before answered one by one, in order. Budgets started before the patch keep answering one
 * by one until their next continue-as-new.
 */
export const BUDGET_ANSWERS_AT_ONCE_PATCH = 'budget-answers-at-once';

/** Continue-as-new well before Temporal's history limits; the state is small. */
const MAX_HISTORY_EVENTS = 5_000;

/** How a guard runs, carried across continue-as-new; older histories started without it. */
export interface GuardOptions {
  /** Continue-as-new past this many history events (default 5000; tests use a few dozen). */
  readonly maxHistoryEvents?: number;
}

const shouldContinueAsNew = (options: GuardOptions | undefined) =>
  workflowInfo().continueAsNewSuggested ||
  workflowInfo().historyLength > (options?.maxHistoryEvents ?? MAX_HISTORY_EVENTS);

/** Signals an answer to a remediation; false when that workflow is gone. */
async function answer(out: Outgoing): Promise<boolean> {
  try {
    await getExternalWorkflowHandle(out.holder).signal(leaseAnswerSignal, out.answer);
    return true;
  } catch (err) {
    log.warn('guard could not answer a remediation', { holder: out.holder, error: String(err) });
    return false;
  }
}

/**
 * One remediation in flight per entity, then the rule's cooldown; and no remediation whose input
 * ended before the last one that acted ended (remembered for its stale-input limit plus the guard wait). Ends
 * when idle. Guards whose history is from before the act memory (`ACT_MEMORY_PATCH`) run without it.
 */
export async function entityGuard(snapshot?: EntityGuardSnapshot, options?: GuardOptions): Promise<void> {
  const state = new EntityGuardState(snapshot, { remembersActs: patched(ACT_MEMORY_PATCH) });
  const outbox: Array<Outgoing & { granted: boolean }> = [];
  let changes = 0;
  setHandler(acquireSignal, (req) => {
    const reply: LeaseAnswer = state.request(req, Date.now());
    outbox.push({ holder: req.holder, answer: reply, granted: reply.result === 'granted' });
  });
  setHandler(releaseSignal, (rel) => {
    state.release(rel);
    changes++;
  });
  setHandler(guardStatusQuery, () => state.status(Date.now()));

  for (;;) {
    while (outbox.length > 0) {
      const out = outbox.shift()!;
      // A holder that is gone cannot release: free the lease now instead of blocking the entity.
      if (!(await answer(out)) && out.granted)
        state.release({ holder: out.holder, endedAt: Date.now(), acted: false });
    }
    if (state.idle(Date.now())) return;
    if (shouldContinueAsNew(options)) await continueAsNew<typeof entityGuard>(state.snapshot(), options);
    const wake = state.msToNextExpiry(Date.now());
    const seen = changes;
    await condition(() => outbox.length > 0 || changes !== seen, wake ?? '1 day');
  }
}

/** Fleet-wide blast-radius limits: a slot per action while it runs, a bounded queue while none is free. */
export async function actionBudget(
  snapshot: ActionBudgetSnapshot | { limits: BudgetLimits },
  options?: GuardOptions,
): Promise<void> {
  const state = new ActionBudgetState(snapshot);
  const atOnce = patched(BUDGET_ANSWERS_AT_ONCE_PATCH);
  // Before the patch: a plain list, answered one by one in order (histories replay as they ran).
  const outbox: Outgoing[] = [];
  const pipelined = new BudgetOutbox();
  const owe = (outs: Outgoing[]) => {
    if (atOnce) pipelined.owe(outs);
    else outbox.push(...outs);
  };
  setHandler(acquireSignal, ({ limits, ...req }) => {
    owe(state.request(req, limits, Date.now()));
  });
  setHandler(releaseSignal, (rel) => {
    owe(state.release(rel.holder, Date.now()));
  });
  // An urgent grant's action reached its target: the lanes it held back may go (no signal before the hold).
  setHandler(actedSignal, ({ holder }) => {
    owe(state.acted(holder, Date.now()));
  });
  setHandler(guardStatusQuery, () => state.status(Date.now()));

  /** Sends an answer without waiting for its delivery; a holder that is gone gives its slot back. */
  const send = (out: Outgoing) => {
    void answer(out).then((delivered) => {
      pipelined.settled(out);
      if (!delivered && out.answer.result !== 'denied') owe(state.release(out.holder, Date.now()));
    });
  };
  const canSend = () => (atOnce ? pipelined.ready() : outbox.length > 0);
  // Only with nothing owed and nothing on its way: the new run would not know of either.
  const quiet = () => (atOnce ? pipelined.quiet() : outbox.length === 0);

  for (;;) {
    owe(state.drain(Date.now()));
    if (atOnce) for (let out = pipelined.take(); out; out = pipelined.take()) send(out);
    else
      while (outbox.length > 0) {
        const out = outbox.shift()!;
        if (!(await answer(out)) && out.answer.result !== 'denied')
          outbox.push(...state.release(out.holder, Date.now()));
      }
    if (quiet() && shouldContinueAsNew(options))
      await continueAsNew<typeof actionBudget>(state.snapshot(), options);
    const wake = state.msToNextSlot(Date.now());
    // Before the patch only an answer owed woke the budget (a replay must wake as it did).
    await condition(() => canSend() || (atOnce && quiet() && shouldContinueAsNew(options)), wake ?? '1 day');
  }
}

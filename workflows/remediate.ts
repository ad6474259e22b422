import {
  ActivityFailure,
  ApplicationFailure,
  condition,
  getExternalWorkflowHandle,
  log,
  patched,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { ActActivities, ActuationResult } from '../services/act/activities.js';
import type { Decision, FollowUp, Verdict, VerdictOutcome } from '../services/common/contracts.js';
import type { VerifyActivities } from '../services/verify/activities.js';
import {
  ACT_MEMORY_PATCH,
  actedSignal,
  actionBudgetId,
  approvalUpdate,
  approveSignal,
  decisionValuesOf,
  entityGuardId,
  leaseAnswerSignal,
  rejectSignal,
  releaseSignal,
  statusQuery,
  VERDICT_KEY,
  type ApprovalAnswer,
  type GuardKind,
  type LeaseAnswer,
  type RemediateSettings,
  type RefusedApproval,
  type RefusedApprovals,
  type RemediationStatus,
} from './definitions.js';
import {
  APPROVAL_SHAPE,
  approvalRefusal,
  checkApproval,
  DEFAULT_APPROVAL_LIMITS,
  policyText,
  unsignedProblem,
  withRefusal,
  type ApprovalCheck,
  type ApprovalIdentity,
  type ApprovalPolicy,
} from './approval.js';

// A verdict must not be lost to a Kafka outage: publishing retries until it lands.
const publish = proxyActivities<Pick<ActActivities, 'publishVerdict'>>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' }, // no maximumAttempts: unlimited
});

// Asking a guard is a signal-with-start: idempotent, so retried freely for a while.
const GUARD_REQUEST_OPTIONS = {
  startToCloseTimeout: '15s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s', maximumAttempts: 10 },
} as const;

// Who answers an approval is checked by the act worker against its approvers file (the keys never
// enter history): a quick, pure check, so a short timeout and a few tries.
const approvers = proxyActivities<Pick<ActActivities, 'approvalPolicy' | 'checkApprover'>>({
  startToCloseTimeout: '10s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '5s', maximumAttempts: 3 },
});

/** How long to wait for a guard's answer before asking again (the request is idempotent). */
const GUARD_ANSWER_WAIT_MS = 30_000;
/**
 * Since `GUARDS_WAIT_FOR_THEIR_ANSWER_PATCH`, a remediation the budget deferred waits for the
 * budget's signal (the budget grants by itself when a slot frees) and asks again only this
 * rarely, a safety net for a budget that lost its queue (terminated by hand): in a storm, hundreds
 * of re-asks every 30 s filled the act worker's slots ahead of the actions.
 */
export const BUDGET_REASK_MS = 5 * 60_000;
/** Up to this much more per remediation (from its workflow id), so re-asks do not come in waves. */
export const BUDGET_REASK_JITTER_MS = 60_000;
/**
 * Marks histories whose budget wait re-asks every `budgetReaskMs` and whose entity guard has 30 s
 * from the request's delivery (older ones: every 30 s, the deadline counted from the first ask).
 */
export const GUARDS_WAIT_FOR_THEIR_ANSWER_PATCH = 'guards-wait-for-their-answer';

/** The interval between a remediation's re-asks of the budget: deterministic, spread by its id. */
export function budgetReaskMs(workflowId: string): number {
  let h = 2166136261; // FNV-1a
  for (let i = 0; i < workflowId.length; i++) h = Math.imul(h ^ workflowId.charCodeAt(i), 16777619);
  return BUDGET_REASK_MS + ((h >>> 0) % BUDGET_REASK_JITTER_MS);
}
/** The entity guard answers at once; after this long without an answer the remediation is absorbed. */
const ENTITY_GUARD_DEADLINE_MS = 2 * 60_000;

/**
 * Marks histories that told the budget their action reached the target (`actedSignal`), as a grant
 * that holds less urgent lanes back asks (`LeaseAnswer.reportActed`); older ones never did.
 */
export const REPORTS_ACTED_PATCH = 'reports-acted-to-the-budget';

/** Marks histories whose approvals `workflows/approval.ts` checks (older ones took any non-blank who and why). */
const APPROVAL_CHECKS_PATCH = 'approval-checks';
/** Marks histories whose answers the act worker checked against its approvers file (older ones: none were). */
const APPROVAL_IDENTITY_PATCH = 'approval-identity';

/** Why a remediation ended without acting. */
class Halt extends Error {
  constructor(
    readonly outcome: VerdictOutcome,
    readonly reason: string,
  ) {
    super(reason);
  }
}

/**
 * One remediation: guard (input age, the entity's lease, approval, the fleet's action budget, the
 * age again) → act through the rule's actuator → verify on the verify task queue → on failure
 * compensate and escalate (when no data came to tell, escalate only: `expired`) → publish the
 * verdict. Leases are released whatever happens, and the rule's cooldown counts from the end.
 * Deterministic: all I/O is in activities.
 */
export async function remediate(decision: Decision, settings: RemediateSettings): Promise<Verdict> {
  const { workflowId } = workflowInfo();
  const scope = settings.scope;
  let status: RemediationStatus = {
    phase: 'guarded',
    decisionId: decision.decisionId,
    entity: decision.entity,
    rule: decision.rule,
    action: decision.action,
    waitingFor: 'checks before acting',
    // A query's answer, not history: old histories replay unchanged.
    ...(decision.runbooks ? { runbooks: decision.runbooks.map(({ title, link }) => ({ title, link })) } : {}),
  };
  const update = (patch: Partial<RemediationStatus>) => {
    status = { ...status, ...patch };
  };
  setHandler(statusQuery, () => status);

  const answers: Partial<Record<GuardKind, LeaseAnswer>> = {};
  let deferred: { reason: string; since: number } | undefined;
  setHandler(leaseAnswerSignal, (a) => {
    answers[a.guard] = a;
    if (a.result === 'deferred') {
      deferred = { reason: a.reason, since: deferred?.since ?? Date.now() };
      update({ waitingFor: `action budget: ${a.reason}` });
    }
  });

  // Approvals: every answer (update or signal) is checked by `checkApproval` (shape) and
  // `approvalRefusal` (whether one can be taken now); only a checked copy of three fields is kept.
  // Then the act worker checks who sent it (`checkApprover`: listed, may approve this service,
  // signed with their key). The limits come with the settings; older workflows keep the defaults.
  const limits = settings.approvalLimits ?? DEFAULT_APPROVAL_LIMITS;
  const service = typeof decision.facts.service === 'string' ? decision.facts.service : null;
  let approvalPolicy: ApprovalPolicy | undefined; // the act worker's, once the wait starts
  let approvalIdentity: ApprovalIdentity | undefined; // how the answer taken was checked
  let approval: (ApprovalAnswer & { at: number }) | undefined;
  let approvalDeadline: number | undefined; // set when the wait starts
  let approvalClosed: string | undefined; // why no answer is taken any more
  let refusedApprovals: RefusedApprovals | undefined;
  const approvalWindow = () => ({
    required: decision.approval === 'required',
    answered: approval,
    closed: approvalClosed,
    deadline: approvalDeadline,
  });
  /** The checked answer (and its proof), or why `input` is not taken: none can be now, or it is malformed. */
  const problemWith = (input: unknown, signal?: boolean): string | Extract<ApprovalCheck, { ok: true }> => {
    const refusal = approvalRefusal(approvalWindow(), Date.now());
    if (refusal !== undefined) return refusal;
    const checked = checkApproval(input, signal, limits);
    return checked.ok ? checked : checked.problems.join('; ');
  };
  /** What the checks before `APPROVAL_CHECKS_PATCH` took: non-blank strings, approve by truthiness. */
  const legacyAnswer = (input: unknown, signal?: boolean): ApprovalAnswer | undefined => {
    if (decision.approval !== 'required' || approval) return undefined;
    const { approve, by, reason } = (input ?? {}) as Record<string, unknown>;
    if (typeof by !== 'string' || !by.trim() || typeof reason !== 'string' || !reason.trim())
      return undefined;
    return { approve: signal ?? Boolean(approve), by, reason };
  };
  const take = (answer: ApprovalAnswer) => {
    approval = { approve: answer.approve, by: answer.by, reason: answer.reason, at: Date.now() };
    update({ approval });
  };
  /** Records and ignores an answer that is not taken; returns why. */
  const refuse = (via: RefusedApproval['via'], problem: string): string => {
    log.warn(`${via} ignored: ${problem}`, { expected: APPROVAL_SHAPE });
    refusedApprovals = withRefusal(refusedApprovals, { at: Date.now(), via, problem }, limits.maxRefusedKept);
    update({ refusedApprovals });
    return problem;
  };
  /**
   * Takes a checked answer from a checked approver; records and ignores anything else (a person
   * typed it: not fatal). Returns why the approver's check refused it, if it did.
   */
  const answer = async (
    via: RefusedApproval['via'],
    input: unknown,
    signal?: boolean,
  ): Promise<string | undefined> => {
    const checked = problemWith(input, signal);
    if (typeof checked === 'string') {
      // A history from before these checks may hold an answer they refuse, which then acted:
      // replay it as it ran (no marker there). New refusals write the marker.
      if (!patched(APPROVAL_CHECKS_PATCH)) {
        const legacy = legacyAnswer(input, signal);
        if (legacy) take(legacy);
        return undefined;
      }
      refuse(via, checked);
      return undefined;
    }
    // Histories from before the approver check took answers as they came (no marker there).
    if (patched(APPROVAL_IDENTITY_PATCH)) {
      const who = await approvers
        .checkApprover({
          workflowId,
          decisionId: decision.decisionId,
          service,
          answer: checked.answer,
          ...(checked.proof ? { proof: checked.proof } : {}),
          receivedAt: Date.now(),
        })
        .catch((err: unknown) => ({
          ok: false as const,
          problem: `the approver could not be checked, so the answer is not taken: ${errorText(err)}`,
        }));
      // While it was checked, another answer may have been taken, or the wait ended.
      const problem = who.ok ? approvalRefusal(approvalWindow(), Date.now()) : who.problem;
      if (problem !== undefined) return refuse(via, problem);
      if (who.ok) {
        approvalIdentity = who.identity;
        update({ approvalIdentity });
      }
    }
    take(checked.answer);
    return undefined;
  };
  setHandler(approveSignal, async (input: unknown) => void (await answer('approve signal', input, true)));
  setHandler(rejectSignal, async (input: unknown) => void (await answer('reject signal', input, false)));
  setHandler(
    approvalUpdate,
    async (input) => {
      // The validator refused what this would ignore; it does not run on replay, so an update an
      // older version accepted must not fail the workflow task here. What the approver check
      // refuses fails the update (its caller sees why), not the workflow.
      const refused = await answer('approval update', input);
      if (refused !== undefined)
        throw ApplicationFailure.create({ type: 'ApprovalRefused', message: refused, nonRetryable: true });
      return status;
    },
    {
      validator: (input) => {
        const checked = problemWith(input);
        if (typeof checked === 'string') throw new Error(checked);
        // Where the act worker checks approvers, an unsigned answer is refused before it is recorded.
        if (approvalPolicy?.checked && !checked.proof)
          throw new Error(unsignedProblem(checked.answer.by, checked.answer.approve));
      },
    },
  );

  // The remediation's lane as Temporal's priority key (its service as the fairness key), for the
  // steps on the act and verify task queues; the guard requests and the verdict inherit the
  // workflow's own (set at start). Decisions from before lanes carry none: Temporal's default.
  const lane = decision.priority
    ? { priority: { priorityKey: decision.priority.lane, fairnessKey: decision.priority.fairnessKey } }
    : {};
  // One proxy per step, so each activity carries a summary the Temporal UI shows in the timeline.
  const act = (summary: string) =>
    proxyActivities<Pick<ActActivities, 'actuate'>>({
      ...lane,
      startToCloseTimeout: settings.actuationTimeoutMs,
      retry: {
        initialInterval: '1s',
        backoffCoefficient: 2,
        maximumInterval: '10s',
        maximumAttempts: 5,
        nonRetryableErrorTypes: ['ActuationRefused'],
      },
      summary,
    });
  const actuate = (step: FollowUp, key: string, main = false) =>
    act(`${step.action} ${decision.entity} via the ${decision.actuator.type} actuator`).actuate({
      idempotencyKey: key,
      decisionId: decision.decisionId,
      entity: decision.entity,
      action: step.action,
      args: step.args,
      actuator: decision.actuator,
      // The main action's time to act, by lane (a metric of the act worker); not sent to the target.
      ...(main
        ? { timeToAct: { lane: decision.priority?.lane ?? 3, since: workflowInfo().startTime.getTime() } }
        : {}),
    });

  const leaseRequest = {
    holder: workflowId,
    entity: decision.entity,
    rule: decision.rule,
    action: decision.action,
    cooldownMs: settings.cooldownMs,
    ...(decision.priority
      ? { lane: decision.priority.lane, fairnessKey: decision.priority.fairnessKey }
      : {}),
    // The entity guard refuses an input from before the entity's last fix, and remembers this one's
    // act as long as an input from before it could still pass the age check and reach the guard
    // (the stale-input limit, plus the wait for the guard's answer). Histories from before: neither.
    ...(patched(ACT_MEMORY_PATCH)
      ? {
          inputEnd: decision.window.end,
          rememberActMs: settings.maxDecisionAgeMs + ENTITY_GUARD_DEADLINE_MS,
        }
      : {}),
  };
  const guardIds: Record<GuardKind, string> = {
    entity: entityGuardId(scope, decision.entity),
    budget: actionBudgetId(scope),
  };
  const held = new Set<GuardKind>();
  // The guard requests run on the guard worker's task queue when the settings name it (workflows
  // started before it: the act task queue), so a backlog of actions never delays them.
  const guards = proxyActivities<Pick<ActActivities, 'requestLease'>>({
    ...GUARD_REQUEST_OPTIONS,
    ...(settings.guardTaskQueue ? { taskQueue: settings.guardTaskQueue } : {}),
  });

  /** Asks a guard and waits for its answer until `deadline` (workflow time); asks again while waiting. */
  async function lease(kind: GuardKind, deadline: number): Promise<LeaseAnswer> {
    delete answers[kind];
    held.add(kind); // from the first ask: a queued or unanswered request is withdrawn by the release
    // The budget signals its grant when a slot frees, and holds the request once the signal is in
    // (the activity returned): the remediation waits for that answer and asks again only every few
    // minutes, in case the budget lost its queue. And the entity guard gets at least 30 s from the
    // request's delivery, however long it waited for a guard worker. Histories from before asked
    // again every 30 s, within a deadline counted from the first ask.
    const waits = patched(GUARDS_WAIT_FOR_THEIR_ANSWER_PATCH);
    const waitMs = kind === 'budget' && waits ? budgetReaskMs(workflowId) : GUARD_ANSWER_WAIT_MS;
    let end = deadline;
    for (let first = true; ; first = false) {
      await guards.requestLease({ kind, guardId: guardIds[kind], request: leaseRequest });
      if (waits && first && kind === 'entity') end = Math.max(end, Date.now() + GUARD_ANSWER_WAIT_MS);
      const wait = Math.min(waitMs, end - Date.now());
      if (wait > 0)
        await condition(() => answers[kind] !== undefined && answers[kind]!.result !== 'deferred', wait);
      const a = answers[kind];
      if (a && a.result !== 'deferred') {
        if (a.result === 'denied') held.delete(kind); // the guard holds nothing of ours: no release
        return a;
      }
      if (Date.now() >= end) {
        // Still queued, or no answer: stay in `held` so the release withdraws whatever the guard has.
        return {
          guard: kind,
          result: 'denied',
          reason: a?.reason ?? `the ${kind} guard did not answer in time`,
        };
      }
    }
  }

  /** The time the input's age counts from: the window's end, or an operator's approval. */
  const freshSince = () => approval?.at ?? decision.window.end;
  const checkAge = (when: string) => {
    const age = Date.now() - freshSince();
    if (age > settings.maxDecisionAgeMs) {
      throw new Halt(
        'stale',
        `${when}: the input is ${Math.round(age / 1000)}s old, more than the ${Math.round(settings.maxDecisionAgeMs / 1000)}s allowed (AUTOGLM_MAX_DECISION_AGE)`,
      );
    }
  };

  let outcome: VerdictOutcome = 'failed';
  const evidence: Record<string, unknown> = {};
  let acted: ActuationResult | undefined;
  try {
    checkAge('before the guards');
    update({ waitingFor: 'entity guard' });
    const entity = await lease('entity', Date.now() + ENTITY_GUARD_DEADLINE_MS);
    if (entity.result !== 'granted') {
      // Decided before another remediation fixed the entity: decide opens the episode again.
      if (entity.inputBeforeAct) evidence.inputBeforeAct = entity.inputBeforeAct;
      throw new Halt('absorbed', entity.reason);
    }

    if (decision.approval === 'required') {
      update({
        phase: 'awaiting-approval',
        waitingFor: `an approve or reject (expires in ${Math.round(settings.approvalTimeoutMs / 60_000)}m)`,
      });
      approvalDeadline = Date.now() + settings.approvalTimeoutMs;
      // Who may answer (or that nobody is checked), for the status; looked up while the wait runs.
      if (patched(APPROVAL_IDENTITY_PATCH))
        void approvers.approvalPolicy({ service }).then(
          (policy) => {
            approvalPolicy = policy;
            if (status.phase === 'awaiting-approval')
              update({ approvers: policy, waitingFor: `${status.waitingFor}; ${policyText(policy)}` });
          },
          (err: unknown) => log.warn('could not look up the approvers', { error: errorText(err) }),
        );
      if (!(await condition(() => approval !== undefined, settings.approvalTimeoutMs))) {
        approvalClosed = 'it expired';
        throw new Halt('expired', `no approval within ${Math.round(settings.approvalTimeoutMs / 1000)}s`);
      }
      evidence.approval = approval;
      if (approvalIdentity) evidence.approvalIdentity = approvalIdentity;
      if (!approval!.approve) throw new Halt('rejected', `rejected by ${approval!.by}: ${approval!.reason}`);
      update({ phase: 'guarded' });
    }

    update({ waitingFor: 'action budget' });
    const budget = await lease('budget', freshSince() + settings.maxDecisionAgeMs);
    if (deferred) evidence.deferred = { reason: deferred.reason, forMs: Date.now() - deferred.since };
    if (budget.result !== 'granted') {
      if (Date.now() - freshSince() >= settings.maxDecisionAgeMs)
        checkAge(`while deferred (${budget.reason})`);
      throw new Halt('denied', budget.reason);
    }
    checkAge('before acting');

    update({ phase: 'acting', waitingFor: undefined });
    acted = await actuate(decision, workflowId, true);
    evidence.acted = acted;
    // The budget holds less urgent lanes until this action is in: tell it (not awaited: verify goes on).
    if (budget.reportActed && patched(REPORTS_ACTED_PATCH))
      getExternalWorkflowHandle(guardIds.budget)
        .signal(actedSignal, { holder: workflowId })
        .catch((err: unknown) =>
          log.warn('could not tell the budget the action is in', { error: errorText(err) }),
        );
    update({ phase: 'verifying', actedAt: acted.at });
    const verify = proxyActivities<VerifyActivities>({
      ...lane,
      summary: `verify ${decision.entity} within ${decision.verify.within}, stable for ${decision.verify.stableFor}`,
      taskQueue: settings.verifyTaskQueue,
      // The activity enforces `within` (at most 1h) itself, from the action time, across retries.
      startToCloseTimeout: '2h',
      heartbeatTimeout: '20s',
      retry: { initialInterval: '1s', maximumInterval: '10s', maximumAttempts: 10 },
    });
    const result = await verify.verifyRemediation({
      entity: decision.entity,
      verify: decision.verify,
      actedAt: acted.at,
      decisionValues: decisionValuesOf(decision),
      decisionBaseline: decisionBaselineOf(decision),
    });
    Object.assign(evidence, result.evidence);
    if (result.verified) outcome = 'verified';
    // No data is not proof of failure: no rollback on it, but a person is told (escalation).
    else if (result.outcome === 'expired') outcome = 'expired';
  } catch (err) {
    if (err instanceof Halt) {
      outcome = err.outcome;
      evidence.reason = err.reason;
    } else {
      log.warn('remediation failed before verification ended', { error: errorText(err) });
      Object.assign(evidence, { stage: status.phase, error: errorText(err) });
    }
  }

  approvalClosed ??= `the remediation moved on (${outcome})`;
  if (refusedApprovals) evidence.refusedApprovals = refusedApprovals;

  if (acted && outcome === 'failed' && decision.onVerifyFailure) {
    update({ phase: 'compensating', waitingFor: undefined });
    const compensation = await attempt(() => actuate(decision.onVerifyFailure!, `${workflowId}/compensate`));
    evidence.compensation = { action: decision.onVerifyFailure.action, ...compensation };
    if (compensation.ok) outcome = 'compensated';
  }
  const unproven = outcome === 'failed' || outcome === 'compensated' || (acted && outcome === 'expired');
  if (unproven && decision.escalate) {
    update({ phase: 'escalating', waitingFor: undefined });
    const escalation = await attempt(() => actuate(decision.escalate!, `${workflowId}/escalate`));
    evidence.escalation = { action: decision.escalate.action, ...escalation };
  }

  // Free the budget slot and the entity; the rule's cooldown starts now if the remediation acted.
  for (const kind of (['budget', 'entity'] as const).filter((k) => held.has(k))) {
    try {
      await getExternalWorkflowHandle(guardIds[kind]).signal(releaseSignal, {
        holder: workflowId,
        endedAt: Date.now(),
        acted: acted !== undefined,
      });
    } catch (err) {
      log.warn('could not release a guard', { guard: guardIds[kind], error: errorText(err) });
    }
  }

  upsertSearchAttributes([{ key: VERDICT_KEY, value: outcome }]);
  const verdict: Verdict = {
    decisionId: decision.decisionId,
    workflowId,
    entity: decision.entity,
    rule: decision.rule,
    action: decision.action,
    outcome,
    evidence,
    ts: Date.now(),
    // For whoever the verdict pages (an activity's input: old histories replay unchanged).
    ...(decision.runbooks ? { runbooks: decision.runbooks } : {}),
  };
  update({ phase: 'publishing', waitingFor: undefined, verdict });
  await publish.publishVerdict(verdict);
  update({ phase: 'done' });
  return verdict;
}

/** Runs a follow-up action; its failure is evidence, not a reason to skip the verdict. */
async function attempt(
  run: () => Promise<ActuationResult>,
): Promise<{ ok: boolean; result?: ActuationResult; error?: string }> {
  try {
    return { ok: true, result: await run() };
  } catch (err) {
    return { ok: false, error: errorText(err) };
  }
}

/** The root message of an activity failure (the actuator's own words), for the evidence. */
function errorText(err: unknown): string {
  if (err instanceof ActivityFailure && err.cause) return err.cause.message;
  return err instanceof Error ? err.message : String(err);
}

/**
 * The decision-time `<metric>.baseline|spread|deviation|last` facts of every metric whose baseline
 * facts the verification reads: verify measures what follows the action against that baseline, not
 * one that has learned the incident since (services/verify/decision-baseline.ts).
 */
function decisionBaselineOf(decision: Decision): Record<string, number> {
  const facts: Record<string, number> = {};
  const reads = JSON.stringify(decision.verify).matchAll(
    /"([a-z][a-z0-9_]*)\.(?:baseline|deviation|anomaly|spread)"/g,
  );
  for (const [, metric] of reads)
    for (const stat of ['baseline', 'spread', 'deviation', 'last']) {
      const v = decision.facts[`${metric}.${stat}`];
      if (typeof v === 'number') facts[`${metric}.${stat}`] = v;
    }
  return facts;
}

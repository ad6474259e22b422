import {
  ActivityFailure,
  log,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { ActActivities, ActuationResult } from '../services/act/activities.js';
import type { Decision, FollowUp, Verdict, VerdictOutcome } from '../services/common/contracts.js';
import type { VerifyActivities } from '../services/verify/activities.js';
import { statusQuery, VERDICT_KEY, type RemediateSettings, type RemediationStatus } from './definitions.js';

const act = proxyActivities<ActActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s', maximumAttempts: 5 },
});

// A verdict must not be lost to a Kafka outage: publishing retries until it lands.
const publish = proxyActivities<Pick<ActActivities, 'publishVerdict'>>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' }, // no maximumAttempts: unlimited
});

/**
 * One remediation: act through the rule's actuator, verify on the verify task queue that the
 * rule's condition holds; if it does not, run the compensation and the escalation the rule names;
 * then publish the verdict. Deterministic: all I/O is in activities.
 */
export async function remediate(decision: Decision, settings: RemediateSettings): Promise<Verdict> {
  const { workflowId } = workflowInfo();
  let status: RemediationStatus = {
    phase: 'acting',
    decisionId: decision.decisionId,
    entity: decision.entity,
    action: decision.action,
  };
  setHandler(statusQuery, () => status);

  const actuate = (step: FollowUp, key: string) =>
    act.actuate({
      idempotencyKey: key,
      decisionId: decision.decisionId,
      entity: decision.entity,
      action: step.action,
      args: step.args,
      actuator: decision.actuator,
    });

  let outcome: VerdictOutcome = 'failed';
  const evidence: Record<string, unknown> = {};
  let acted: ActuationResult | undefined;
  try {
    acted = await actuate(decision, workflowId);
    evidence.acted = acted;
    status = { ...status, phase: 'verifying', actedAt: acted.at };
    const verify = proxyActivities<VerifyActivities>({
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
    });
    Object.assign(evidence, result.evidence);
    if (result.verified) outcome = 'verified';
  } catch (err) {
    log.warn('remediation failed before verification ended', { error: errorText(err) });
    Object.assign(evidence, { stage: status.phase, error: errorText(err) });
  }

  if (outcome !== 'verified' && acted && decision.onVerifyFailure) {
    status = { ...status, phase: 'compensating' };
    const compensation = await attempt(() => actuate(decision.onVerifyFailure!, `${workflowId}/compensate`));
    evidence.compensation = { action: decision.onVerifyFailure.action, ...compensation };
    if (compensation.ok) outcome = 'compensated';
  }
  if (outcome !== 'verified' && decision.escalate) {
    status = { ...status, phase: 'escalating' };
    const escalation = await attempt(() => actuate(decision.escalate!, `${workflowId}/escalate`));
    evidence.escalation = { action: decision.escalate.action, ...escalation };
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
  };
  status = { ...status, phase: 'publishing', verdict };
  await publish.publishVerdict(verdict);
  status = { ...status, phase: 'done' };
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

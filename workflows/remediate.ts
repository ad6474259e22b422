import {
  ActivityFailure,
  log,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { ActActivities } from '../services/act/activities.js';
import type { Decision, Verdict, VerdictOutcome } from '../services/common/contracts.js';
import type { VerifyActivities } from '../services/verify/activities.js';
import { statusQuery, VERDICT_KEY, type RemediateSettings, type RemediationStatus } from './definitions.js';

const act = proxyActivities<ActActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s', maximumAttempts: 5 },
});

/**
 * One remediation: act through the rule's actuator, verify on the verify task queue that the
 * rule's condition holds, then publish the verdict. Deterministic: all I/O is in activities.
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

  let outcome: VerdictOutcome;
  let evidence: Record<string, unknown>;
  try {
    const acted = await act.actuate({
      idempotencyKey: workflowId,
      decisionId: decision.decisionId,
      entity: decision.entity,
      action: decision.action,
      args: decision.args,
      actuator: decision.actuator,
    });
    status = { ...status, phase: 'verifying', actedAt: acted.at };
    const verify = proxyActivities<VerifyActivities>({
      taskQueue: settings.verifyTaskQueue,
      // The activity enforces `within` itself, from the action time, across retries.
      startToCloseTimeout: '2h',
      heartbeatTimeout: '20s',
      retry: { initialInterval: '1s', maximumInterval: '10s', maximumAttempts: 10 },
    });
    const result = await verify.verifyRemediation({
      entity: decision.entity,
      verify: decision.verify,
      actedAt: acted.at,
    });
    outcome = result.verified ? 'verified' : 'failed';
    evidence = { acted, ...result.evidence };
  } catch (err) {
    log.warn('remediation failed before verification ended', { error: String(err) });
    outcome = 'failed';
    evidence = { stage: status.phase, error: errorText(err) };
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
  await act.publishVerdict(verdict);
  status = { ...status, phase: 'done' };
  return verdict;
}

/** The root message of an activity failure (the actuator's own words), for the evidence. */
function errorText(err: unknown): string {
  if (err instanceof ActivityFailure && err.cause) return err.cause.message;
  return err instanceof Error ? err.message : String(err);
}

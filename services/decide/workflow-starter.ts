import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { Decision } from '../common/contracts.js';
import { guardTaskQueueOf } from '../common/config.js';
import { parseDuration } from '../common/duration.js';
import {
  ACTION_KEY,
  ENTITY_KEY,
  INCIDENT_CLASS_KEY,
  PRIORITY_KEY,
  REMEDIATE_WORKFLOW,
  RULE_KEY,
  type RemediateArgs,
} from '../../workflows/definitions.js';
import { DEFAULT_APPROVAL_LIMITS } from '../../workflows/approval.js';
import { workflowIdFor } from './decision-id.js';
import { remediationDetails, remediationSummary } from './remediation-summary.js';
import { DEFAULT_LANE } from './urgency.js';

/** The lane in front of the UI's one-line summary, e.g. "[P1] rollback checkout/pod-1 — …". */
export function laneSummary(decision: Decision): string {
  return `[P${decision.priority?.lane ?? DEFAULT_LANE}] ${remediationSummary(decision)}`;
}

/** The lane and why, on top of the workflow's details (Temporal markdown). */
export function laneDetails(decision: Decision): string {
  const p = decision.priority;
  const lane = p
    ? `- lane **${p.lane}** (${p.because.join('; ')}), fairness key \`${p.fairnessKey}\``
    : `- lane **${DEFAULT_LANE}** (no priority in the rule)`;
  return `${remediationDetails(decision)}\n${lane}`;
}

/** Starts the remediation workflow of a decision, at most once per decision id. */
export class RemediationStarter {
  constructor(
    private readonly client: Client,
    private readonly settings: {
      actTaskQueue: string;
      /** AUTOGLM_GUARD_TASK_QUEUE ('' or absent: `<actTaskQueue>-guards`), where the guard requests run. */
      guardTaskQueue?: string;
      verifyTaskQueue: string;
      topicPrefix: string;
      maxDecisionAge: number;
      approvalTimeout: number;
      /** AUTOGLM_APPROVAL_MAX_*: carried in the workflow's settings, so its checks replay the same. */
      approvalMaxByChars?: number;
      approvalMaxReasonChars?: number;
      approvalMaxRefusedKept?: number;
      httpActuatorTimeout: number;
      commandTimeout: number;
      /** How long one start may take before it counts as failed (Temporal unreachable or slow). */
      startTimeout: number;
    },
  ) {}

  /**
   * Resolves once Temporal has acknowledged the start. A decision whose workflow already exists
   * (running or closed) resolves as `duplicate`: the id reuse policy refuses a second run.
   */
  async start(decision: Decision): Promise<{ workflowId: string; started: boolean }> {
    const workflowId = workflowIdFor(decision);
    const s = this.settings;
    const actuatorTimeout = decision.actuator.type === 'command' ? s.commandTimeout : s.httpActuatorTimeout;
    const args: RemediateArgs = [
      decision,
      {
        scope: s.topicPrefix,
        cooldownMs: parseDuration(decision.cooldown) ?? 0,
        verifyTaskQueue: s.verifyTaskQueue,
        // The act process's guard worker serves them, away from the actions' backlog.
        guardTaskQueue: guardTaskQueueOf({
          actTaskQueue: s.actTaskQueue,
          guardTaskQueue: s.guardTaskQueue ?? '',
        }),
        maxDecisionAgeMs: s.maxDecisionAge,
        approvalTimeoutMs: s.approvalTimeout,
        actuationTimeoutMs: actuatorTimeout + 5_000,
        approvalLimits: {
          maxByChars: s.approvalMaxByChars ?? DEFAULT_APPROVAL_LIMITS.maxByChars,
          maxReasonChars: s.approvalMaxReasonChars ?? DEFAULT_APPROVAL_LIMITS.maxReasonChars,
          maxRefusedKept: s.approvalMaxRefusedKept ?? DEFAULT_APPROVAL_LIMITS.maxRefusedKept,
        },
      },
    ];
    try {
      await this.client.withDeadline(Date.now() + s.startTimeout, () =>
        this.client.workflow.start(REMEDIATE_WORKFLOW, {
          taskQueue: this.settings.actTaskQueue,
          workflowId,
          args,
          workflowIdReusePolicy: 'REJECT_DUPLICATE',
          // Lane = Temporal's priority key (its tasks go first on the act queue); the service is
          // the fairness key, so one service's storm cannot starve another's in the same lane.
          ...(decision.priority
            ? {
                priority: {
                  priorityKey: decision.priority.lane,
                  fairnessKey: decision.priority.fairnessKey,
                },
              }
            : {}),
          typedSearchAttributes: [
            { key: ENTITY_KEY, value: decision.entity },
            { key: ACTION_KEY, value: decision.action },
            { key: RULE_KEY, value: decision.rule },
            ...(decision.incident ? [{ key: INCIDENT_CLASS_KEY, value: decision.incident.class }] : []),
            { key: PRIORITY_KEY, value: String(decision.priority?.lane ?? DEFAULT_LANE) },
          ],
          memo: { decision },
          staticSummary: laneSummary(decision),
          staticDetails: laneDetails(decision),
        }),
      );
      return { workflowId, started: true };
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) return { workflowId, started: false };
      throw err;
    }
  }
}

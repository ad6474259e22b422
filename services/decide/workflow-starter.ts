import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { Decision } from '../common/contracts.js';
import { parseDuration } from '../common/duration.js';
import {
  ACTION_KEY,
  ENTITY_KEY,
  INCIDENT_CLASS_KEY,
  REMEDIATE_WORKFLOW,
  RULE_KEY,
  type RemediateArgs,
} from '../../workflows/definitions.js';
import { workflowIdFor } from './decision-id.js';
import { remediationDetails, remediationSummary } from './remediation-summary.js';

/** Starts the remediation workflow of a decision, at most once per decision id. */
export class RemediationStarter {
  constructor(
    private readonly client: Client,
    private readonly settings: {
      actTaskQueue: string;
      verifyTaskQueue: string;
      topicPrefix: string;
      maxDecisionAge: number;
      approvalTimeout: number;
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
        maxDecisionAgeMs: s.maxDecisionAge,
        approvalTimeoutMs: s.approvalTimeout,
        actuationTimeoutMs: actuatorTimeout + 5_000,
      },
    ];
    try {
      await this.client.withDeadline(Date.now() + s.startTimeout, () =>
        this.client.workflow.start(REMEDIATE_WORKFLOW, {
          taskQueue: this.settings.actTaskQueue,
          workflowId,
          args,
          workflowIdReusePolicy: 'REJECT_DUPLICATE',
          typedSearchAttributes: [
            { key: ENTITY_KEY, value: decision.entity },
            { key: ACTION_KEY, value: decision.action },
            { key: RULE_KEY, value: decision.rule },
            ...(decision.incident ? [{ key: INCIDENT_CLASS_KEY, value: decision.incident.class }] : []),
          ],
          memo: { decision },
          staticSummary: remediationSummary(decision),
          staticDetails: remediationDetails(decision),
        }),
      );
      return { workflowId, started: true };
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) return { workflowId, started: false };
      throw err;
    }
  }
}

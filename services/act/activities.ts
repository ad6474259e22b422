import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { Verdict } from '../common/contracts.js';
import type { Logger } from '../common/logger.js';
import { redactText } from '../common/url-policy.js';
import {
  ACTION_BUDGET_WORKFLOW,
  acquireSignal,
  ENTITY_GUARD_WORKFLOW,
  type BudgetLimits,
  type GuardKind,
  type LeaseRequest,
} from '../../workflows/definitions.js';
import {
  ActuationRefusedError,
  type ActuationRequest,
  type ActuationResult,
  type ActuatorRegistry,
} from '../actuators/actuator.js';
import type { RemediationOutlets } from '../actuators/outlets.js';
import { createApprovalActivities, DEFAULT_PROOF_MAX_AGE_MS } from './approval-activities.js';

export type { ActuationRequest, ActuationResult };

/** The act worker's activities, built with their dependencies injected. */
export function createActActivities(deps: {
  actuators: ActuatorRegistry;
  /** Puts a verdict on the verdicts topic; resolves once acknowledged. */
  publish: (verdict: Verdict) => Promise<void>;
  /** For signal-with-start on the guard workflows, which run on the act task queue. */
  client: Client;
  actTaskQueue: string;
  budgetLimits: BudgetLimits;
  logger: Logger;
  registry: Registry;
  /** Alertmanager silences and PagerDuty around remediations (services/actuators/outlets.ts), when configured. */
  outlets?: RemediationOutlets;
  /** Who may answer approvals (AUTOGLM_APPROVERS_FILE, AUTOGLM_APPROVAL_PROOF_MAX_AGE); absent: nobody is checked. */
  approvers?: { file: string; proofMaxAgeMs: number };
}) {
  const actuations = new Counter({
    name: 'autoglm_act_actuations_total',
    help: 'Actuator calls by actuator, action and result (ok, refused, error); retries count again',
    labelNames: ['actuator', 'action', 'result'],
    registers: [deps.registry],
  });
  const verdicts = new Counter({
    name: 'autoglm_act_verdicts_total',
    help: 'Verdicts published, by outcome',
    labelNames: ['outcome'],
    registers: [deps.registry],
  });
  const timeToAct = new Histogram({
    name: 'autoglm_act_time_to_act_seconds',
    help: 'From a remediation’s start to its action’s answer, by lane (1 = most urgent): the guards, an approval, the budget’s queue and the worker’s',
    labelNames: ['lane'],
    buckets: [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 1800],
    registers: [deps.registry],
  });
  return {
    // approvalPolicy, checkApprover: the approvers file's checks (services/act/approval-activities.ts).
    ...createApprovalActivities({
      approversFile: deps.approvers?.file ?? '',
      proofMaxAgeMs: deps.approvers?.proofMaxAgeMs ?? DEFAULT_PROOF_MAX_AGE_MS,
      logger: deps.logger,
    }),
    /** Performs the action through the rule's actuator. Refusals are not retried. */
    async actuate({
      timeToAct: measured,
      ...request
    }: ActuationRequest & { timeToAct?: { lane: number; since: number } }): Promise<ActuationResult> {
      const labels = { actuator: request.actuator.type, action: request.action };
      // The remediation's own action (not a compensation or escalation) silences the entity's alerts first.
      if (deps.outlets && request.idempotencyKey === Context.current().info.workflowExecution?.workflowId)
        await deps.outlets.beforeAction({
          ...request,
          workflowId: request.idempotencyKey,
          rule: ruleOf(request),
        });
      try {
        // Each actuator checks its ref again right before the call (config or the directory may have
        // changed since the rule loaded); an unknown type is refused by the registry.
        const result = await deps.actuators.get(request.actuator.type).actuate(request);
        actuations.inc({ ...labels, result: 'ok' });
        if (measured)
          timeToAct.observe({ lane: String(measured.lane) }, Math.max(0, result.at - measured.since) / 1000);
        deps.logger.info(
          { entity: request.entity, action: request.action, decisionId: request.decisionId },
          'actuated',
        );
        return result;
      } catch (err) {
        actuations.inc({ ...labels, result: err instanceof ActuationRefusedError ? 'refused' : 'error' });
        if (err instanceof ActuationRefusedError) {
          throw ApplicationFailure.nonRetryable(redactText(err.message), 'ActuationRefused', err.detail);
        }
        // Transient: retried by the workflow's policy. The message may quote a URL: strip its secrets.
        throw new Error(redactText(err instanceof Error ? err.message : String(err)));
      }
    },

    /**
     * Asks a guard workflow for a lease by signal-with-start (the guard is created on first use).
     * Idempotent: the guard answers a repeated request from the same remediation the same way.
     * Runs on the guard worker's own task queue (services/act/main.ts); the guard workflows it
     * starts run on the act task queue, at priority 1.
     */
    async requestLease(input: { kind: GuardKind; guardId: string; request: LeaseRequest }): Promise<void> {
      const budget = input.kind === 'budget';
      await deps.client.workflow.signalWithStart(budget ? ACTION_BUDGET_WORKFLOW : ENTITY_GUARD_WORKFLOW, {
        workflowId: input.guardId,
        taskQueue: deps.actTaskQueue,
        // The guards decide who goes next: their tasks go before any remediation's.
        priority: { priorityKey: 1 },
        args: budget ? [{ limits: deps.budgetLimits }] : [],
        signal: acquireSignal,
        signalArgs: [budget ? { ...input.request, limits: deps.budgetLimits } : input.request],
      });
    },

    /** Publishes the verdict to Kafka, keyed by entity; resolves once acknowledged. */
    async publishVerdict(verdict: Verdict): Promise<void> {
      await deps.publish(verdict);
      verdicts.inc({ outcome: verdict.outcome });
      // After the verdict is out (best effort, never thrown: a retry would publish it twice).
      await deps.outlets?.afterVerdict(verdict);
      deps.logger.info(
        { entity: verdict.entity, outcome: verdict.outcome, workflowId: verdict.workflowId },
        'verdict',
      );
    },
  };
}

/** The rule a request comes from when its args name it (for the silence's comment). */
function ruleOf(request: ActuationRequest): string | undefined {
  const rule = request.args.rule;
  return typeof rule === 'string' ? rule : undefined;
}

/** Activity signatures, for the workflow's `proxyActivities` (type-only import). */
export type ActActivities = ReturnType<typeof createActActivities>;

/**
 * Names shared by the workflows and their clients (decide, the CLI, infra, tests): queries,
 * signals, updates and the custom search attributes that let operators filter runs in the UI.
 * Defined once here; `infra/` registers `SEARCH_ATTRIBUTES` from this list.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { Decision, Verdict } from '../services/common/contracts.js';
import type {
  ApprovalIdentity,
  ApprovalLimits,
  ApprovalPolicy,
  ApprovalProof,
  SignedApprovalAnswer,
} from './approval.js';

export const ENTITY_KEY = defineSearchAttributeKey('AutoglmEntity', SearchAttributeType.KEYWORD);
export const ACTION_KEY = defineSearchAttributeKey('AutoglmAction', SearchAttributeType.KEYWORD);
export const RULE_KEY = defineSearchAttributeKey('AutoglmRule', SearchAttributeType.KEYWORD);
export const INCIDENT_CLASS_KEY = defineSearchAttributeKey(
  'AutoglmIncidentClass',
  SearchAttributeType.KEYWORD,
);
export const VERDICT_KEY = defineSearchAttributeKey('AutoglmVerdict', SearchAttributeType.KEYWORD);
/** The remediation's lane, "1" (most urgent) … "5" (the UI filters `AutoglmPriority IN ("1", "2")`). */
export const PRIORITY_KEY = defineSearchAttributeKey('AutoglmPriority', SearchAttributeType.KEYWORD);

/** Every custom search attribute the workflows set, for registration on the server. */
export const SEARCH_ATTRIBUTE_KEYS = [
  ENTITY_KEY,
  ACTION_KEY,
  RULE_KEY,
  INCIDENT_CLASS_KEY,
  VERDICT_KEY,
  PRIORITY_KEY,
] as const;

/** Where a remediation stands; `guarded` and `awaiting-approval` say why in `waitingFor`. */
export const REMEDIATION_PHASES = [
  'guarded',
  'awaiting-approval',
  'acting',
  'verifying',
  'compensating',
  'escalating',
  'publishing',
  'done',
] as const;
export type RemediationPhase = (typeof REMEDIATION_PHASES)[number];

/** An operator's answer to an approval request; `workflows/approval.ts` says what is accepted. */
export interface ApprovalAnswer {
  readonly approve: boolean;
  /** Who decided (user name or e-mail); required, at most 128 characters. */
  readonly by: string;
  /** Why; required, at most 1024 characters, shown in the verdict. */
  readonly reason: string;
}

/** One approval that was not taken (malformed, late, or a second answer), as recorded. */
export interface RefusedApproval {
  /** Workflow time (epoch ms) the signal arrived. */
  readonly at: number;
  /** What brought it (the validator refuses a bad update to its sender before history records it). */
  readonly via: 'approve signal' | 'reject signal' | 'approval update';
  /** What was wrong, naming the field; never the value sent. */
  readonly problem: string;
}

/** How many approvals were refused, and the latest few (bounded). */
export interface RefusedApprovals {
  readonly count: number;
  readonly latest: readonly RefusedApproval[];
}

/** Where a remediation stands, as the `status` query returns it. */
export interface RemediationStatus {
  readonly phase: RemediationPhase;
  readonly decisionId: string;
  readonly entity: string;
  readonly rule: string;
  readonly action: string;
  /** Why the remediation waits (guard, budget, approval), while it does. */
  readonly waitingFor?: string;
  readonly approval?: ApprovalAnswer & { readonly at: number };
  /** Approval signals that were not taken, so a person who typed one wrong sees why it did nothing. */
  readonly refusedApprovals?: RefusedApprovals;
  /** Once it waits for approval: who may answer, or that identity is not checked (no approvers file). */
  readonly approvers?: ApprovalPolicy;
  /** How the answer taken was checked (whose key), or that it was not. */
  readonly approvalIdentity?: ApprovalIdentity;
  readonly actedAt?: number;
  readonly verdict?: Verdict;
  /** What the runbooks say for the incident (the decision's best sections: title and link). */
  readonly runbooks?: ReadonlyArray<{ readonly title: string; readonly link: string }>;
}

export const statusQuery = defineQuery<RemediationStatus>('status');
/**
 * Approve or reject a remediation that waits for approval (from the Temporal UI). People type
 * these: a malformed one is ignored and recorded in the status (`refusedApprovals`), not fatal.
 */
export const approveSignal =
  defineSignal<[{ by: string; reason: string; approve?: boolean; proof?: ApprovalProof }]>('approve');
export const rejectSignal =
  defineSignal<[{ by: string; reason: string; approve?: boolean; proof?: ApprovalProof }]>('reject');
/**
 * The same as an update (`autoglm approve|reject`): its validator refuses a malformed answer, naming
 * the field, and one the remediation cannot take (needs none, already answered, too late, unsigned
 * where approvers are checked); the act worker's approver check then refuses it as the update's failure.
 */
export const approvalUpdate = defineUpdate<RemediationStatus, [SignedApprovalAnswer]>('approval');

/** Settings the starter passes along with the decision (recorded in history, so replay-safe). */
export interface RemediateSettings {
  /** The deployment the guards belong to (the topic prefix): guard ids are scoped by it. */
  readonly scope: string;
  /** The rule's cooldown (ms), parsed from the decision's `cooldown`. */
  readonly cooldownMs: number;
  /** Task queue of the verify workers. */
  readonly verifyTaskQueue: string;
  /** A decision whose window ended longer ago than this (ms) never acts. */
  readonly maxDecisionAgeMs: number;
  /** How long an approval may take before the remediation expires (ms). */
  readonly approvalTimeoutMs: number;
  /** Start-to-close timeout of one actuator call (ms): the actuator's own timeout plus a margin. */
  readonly actuationTimeoutMs: number;
  /** Bounds on approval answers (AUTOGLM_APPROVAL_MAX_*); absent in workflows started before them: the defaults. */
  readonly approvalLimits?: ApprovalLimits;
  /**
   * Task queue of the guard requests (AUTOGLM_GUARD_TASK_QUEUE), served by the act process's guard
   * worker; absent in workflows started before it: the workflow's own (act) task queue.
   */
  readonly guardTaskQueue?: string;
}

/** The workflow's name as clients start it, and its argument list. */
export const REMEDIATE_WORKFLOW = 'remediate';
export type RemediateArgs = [decision: Decision, settings: RemediateSettings];

// ---- guards: the per-entity guard and the fleet-wide action budget ----

/** The two guards a remediation passes before it acts. */
export type GuardKind = 'entity' | 'budget';

/** A remediation asking a guard for its lease. Re-sending the same request is harmless. */
export interface LeaseRequest {
  /** The asking remediation's workflow id; answers are signalled back to it. */
  readonly holder: string;
  readonly entity: string;
  readonly rule: string;
  readonly action: string;
  /** The rule's cooldown (ms), held by the entity guard after the remediation ends. */
  readonly cooldownMs: number;
  /** The remediation's lane (1 = most urgent … 5); absent (before lanes): 3. The budget's queue goes by it. */
  readonly lane?: number;
  /** Its service (or entity): within a lane the budget serves the key least recently served first. */
  readonly fairnessKey?: string;
  /**
   * The end of the asking decision's input window (epoch ms): the entity guard denies a request whose
   * input ended before the entity's last remediation that acted ended. Absent before the act memory.
   */
  readonly inputEnd?: number;
  /**
   * How long the entity guard remembers this remediation's act after it ends (ms): its stale-input
   * limit (AUTOGLM_MAX_DECISION_AGE) plus its wait for the guard's answer, past which no input from
   * before the act can reach the guard fresh enough to act anyway.
   */
  readonly rememberActMs?: number;
}

/**
 * Marks histories whose remediations tell the entity guard their input's end (`LeaseRequest.inputEnd`),
 * and whose entity guards remember the last remediation that acted; older ones do neither.
 */
export const ACT_MEMORY_PATCH = 'entity-guard-remembers-acts';

/** The entity's last remediation that acted, as its entity guard remembers it. */
export interface LastAct {
  readonly holder: string;
  readonly rule: string;
  readonly action: string;
  /** When it ended (epoch ms, its release): an input window that ended before this predates its fix. */
  readonly endedAt: number;
  /** Until when the guard remembers it (epoch ms): `endedAt` plus the holder's `rememberActMs`. */
  readonly until: number;
}

/** A guard's answer, signalled to the remediation. `deferred` means "queued; wait". */
export interface LeaseAnswer {
  readonly guard: GuardKind;
  readonly result: 'granted' | 'denied' | 'deferred';
  readonly reason: string;
  /**
   * On a budget grant that holds less urgent lanes back: signal `acted` to the budget once the
   * action reached its target, so they may go. Absent on every other answer, and before the hold.
   */
  readonly reportActed?: boolean;
  /**
   * On an entity denial because the request's input ended before the entity's last remediation that
   * acted ended: that remediation. The episode decides again on fresh input (services/decide).
   */
  readonly inputBeforeAct?: LastAct & { readonly inputEnd: number };
}

/** The end of a lease, signalled by its holder (also withdraws a queued request). */
export interface LeaseRelease {
  readonly holder: string;
  /** When the remediation ended (epoch ms); the cooldown counts from here. */
  readonly endedAt: number;
  /** Whether it acted; a remediation that never acted (stale, denied, rejected) leaves no cooldown. */
  readonly acted: boolean;
}

/** Blast-radius limits the action budget enforces; they come with each request (the act worker's config). */
export interface BudgetLimits {
  readonly maxConcurrentPerAction: number;
  readonly maxConcurrentPerRule: number;
  readonly maxActionsPerPeriod: number;
  readonly periodMs: number;
  /** Requests that may wait for a slot; beyond that a request is denied at once. */
  readonly maxDeferred: number;
  /**
   * How long a grant made while less urgent lanes wait holds them back, at most, until its action
   * is reported acted (AUTOGLM_LANE_HOLD); 0, or absent (act workers from before it): no hold.
   */
  readonly laneHoldMs?: number;
}

export const acquireSignal = defineSignal<[LeaseRequest & { limits?: BudgetLimits }]>('acquire');
export const releaseSignal = defineSignal<[LeaseRelease]>('release');
export const leaseAnswerSignal = defineSignal<[LeaseAnswer]>('leaseAnswer');
/** A remediation whose grant said `reportActed` tells the budget its action reached the target. */
export const actedSignal = defineSignal<[{ holder: string }]>('acted');

/** A request waiting for the action budget, as its status shows it. */
export interface DeferredRequest {
  readonly holder: string;
  readonly rule: string;
  readonly action: string;
  /** Which limit holds it back now. */
  readonly reason: string;
  /** Its lane and fairness key (3 and "" for requests from before lanes). */
  readonly lane?: number;
  readonly fairnessKey?: string;
  /** When it started waiting (workflow time, epoch ms); absent in queues from before lanes. */
  readonly since?: number;
  /** How many requests that came later were granted before it, and the latest of them. */
  readonly overtaken?: {
    readonly count: number;
    readonly by: string;
    readonly lane: number;
    readonly fairnessKey: string;
    /** Why it went first: "lane 1 before lane 4", or "service:b was served less recently", or "fits another limit". */
    readonly because: string;
    readonly at: number;
  };
}

/** What a guard holds now, for `autoglm status` and the UI. */
export interface GuardStatus {
  readonly kind: GuardKind;
  readonly holders: ReadonlyArray<{ holder: string; rule: string; action: string; since: number }>;
  readonly cooldowns: ReadonlyArray<{ rule: string; until: number; after: string }>;
  readonly deferred: ReadonlyArray<DeferredRequest>;
  readonly recentDenials: ReadonlyArray<{ holder: string; reason: string; at: number }>;
  /** The entity guard's memory of the last remediation that acted, while it lasts. */
  readonly lastAct?: LastAct;
  readonly limits?: BudgetLimits;
  readonly grantsInPeriod?: number;
}
export const guardStatusQuery = defineQuery<GuardStatus>('guardStatus');

export const ENTITY_GUARD_WORKFLOW = 'entityGuard';
export const ACTION_BUDGET_WORKFLOW = 'actionBudget';

/** Workflow id of the entity guard of `entity` within one deployment (`scope`, the topic prefix). */
export function entityGuardId(scope: string, entity: string): string {
  return `guard-${scope}-${entity}`;
}

/** Workflow id of the deployment's fleet-wide action budget. */
export function actionBudgetId(scope: string): string {
  return `budget-${scope}`;
}

/**
 * The decision-time values of the facts `verify.relativeTo` compares with: what the remediation
 * workflow hands verify, and what `rules test` checks a case's verify against.
 */
export function decisionValuesOf(decision: Decision): Record<string, number> {
  const values: Record<string, number> = {};
  for (const c of decision.verify.relativeTo ?? []) {
    const v = decision.facts[c.fact];
    if (typeof v === 'number') values[c.fact] = v;
  }
  return values;
}

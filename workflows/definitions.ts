/**
 * Names shared by the remediation workflow and its clients: the status query and the custom
 * search attributes (registered by `autoglm infra up`) that let operators filter runs in the UI.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery } from '@temporalio/workflow';
import type { Decision, Verdict } from '../services/common/contracts.js';

export const ENTITY_KEY = defineSearchAttributeKey('AutoglmEntity', SearchAttributeType.KEYWORD);
export const ACTION_KEY = defineSearchAttributeKey('AutoglmAction', SearchAttributeType.KEYWORD);
export const RULE_KEY = defineSearchAttributeKey('AutoglmRule', SearchAttributeType.KEYWORD);
export const INCIDENT_CLASS_KEY = defineSearchAttributeKey(
  'AutoglmIncidentClass',
  SearchAttributeType.KEYWORD,
);
export const VERDICT_KEY = defineSearchAttributeKey('AutoglmVerdict', SearchAttributeType.KEYWORD);

/** Where a remediation stands, as the `status` query returns it. */
export interface RemediationStatus {
  readonly phase: 'acting' | 'verifying' | 'compensating' | 'escalating' | 'publishing' | 'done';
  readonly decisionId: string;
  readonly entity: string;
  readonly action: string;
  readonly actedAt?: number;
  readonly verdict?: Verdict;
}

export const statusQuery = defineQuery<RemediationStatus>('status');

/** Settings the starter passes along with the decision. */
export interface RemediateSettings {
  /** Task queue of the verify workers. */
  readonly verifyTaskQueue: string;
}

/** The workflow's name as clients start it, and its argument list. */
export const REMEDIATE_WORKFLOW = 'remediate';
export type RemediateArgs = [decision: Decision, settings: RemediateSettings];

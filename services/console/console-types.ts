/**
 * What the console's pages and event stream carry: chosen fields of the loop's messages, never a
 * whole decision or verdict (their facts and evidence stay in Kafka and Temporal), so nothing the
 * loop holds in confidence can reach a page by accident.
 */

/** One line of the live view, as the event stream sends it. */
export interface LiveEvent {
  readonly seq: number;
  readonly ts: number;
  readonly kind:
    | 'injected'
    | 'sensed'
    | 'decided'
    | 'shadow'
    | 'stale'
    | 'phase'
    | 'action'
    | 'verdict'
    | 'absorbed'
    | 'deferred';
  readonly entity: string;
  readonly text: string;
  readonly incident?: string;
  readonly workflowId?: string;
  readonly url?: string;
}

/** A remediation the console follows from its decision to its verdict. */
export interface RemediationView {
  readonly workflowId: string;
  readonly decisionId: string;
  readonly entity: string;
  readonly rule: string;
  readonly action: string;
  readonly mode: 'enforce' | 'shadow';
  readonly approval: 'none' | 'required';
  readonly incidentClass: string | null;
  readonly confidence: number | null;
  readonly decidedAt: number;
  readonly url?: string;
  /** Who may answer an approval (the catalog's owner and on-call, and how). */
  readonly mayAnswer?: string;
  /** The approvers file's word on who may answer (signed answers only, who may approve), when it is checked. */
  policy?: string;
  phase: string;
  waitingFor?: string;
  actedAt?: number;
  outcome?: string;
  reason?: string;
  approvedBy?: string;
  done: boolean;
}

/** A mark on an entity's chart. */
export interface Marker {
  readonly ts: number;
  readonly kind: 'decision' | 'action' | 'verdict' | 'compensation';
  readonly label: string;
  readonly workflowId?: string;
  readonly url?: string;
}

/** An injected incident of the fleet simulator and the stage the loop has taken it to. */
export interface IncidentView {
  readonly id: string;
  readonly class: string;
  readonly entity: string;
  readonly startedAt: number;
  stage: 'injected' | 'sensed' | 'decided' | 'acting' | 'settled';
  workflowId?: string;
}

/** Per rule and time bucket: what it did. */
export interface RuleCounts {
  decisions: number;
  actions: number;
  verified: number;
  failed: number;
  falsePositives: number;
}

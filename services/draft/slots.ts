/**
 * The slots of a drafted rule: what the sentence said (with the words that said it), what a
 * template or house rule filled in, and the questions for what is missing or ambiguous.
 */
import type { Span } from './quantities.js';

/** Where a slot's value came from: the sentence's words, the intent's template, or a house rule of rules/README.md. */
export type SlotSource = 'sentence' | 'template' | 'house';

/** One filled slot. */
export interface Slot<T> {
  readonly value: T;
  readonly source: SlotSource;
  /** The words that filled it (sentence slots). */
  readonly span?: Span;
  /** Why a template or house value, for --explain. */
  readonly note?: string;
}

export type Operator = 'greaterThan' | 'greaterThanInclusive' | 'lessThan' | 'lessThanInclusive';

/** One comparison of `<metric>.<stat>` with a number in the rule's unit. */
export interface Comparison {
  readonly metric: string;
  readonly stat: string;
  readonly operator: Operator;
  readonly threshold: number;
}

/** Which entities a rule acts on: catalog services, tiers, or every entity. */
export interface EntitySelector {
  readonly services?: readonly string[];
  readonly tiers?: readonly number[];
  readonly all?: boolean;
}

/** A follow-up action and its args (compensation). */
export interface FollowUpSlot {
  readonly action: string;
  readonly args: Readonly<Record<string, unknown>>;
}

/** Everything the extractor fills; undefined when the sentence did not say and nothing may fill it. */
export interface DraftSlots {
  entity?: Slot<EntitySelector>;
  metric?: Slot<string>;
  stat?: Slot<string>;
  operator?: Slot<Operator>;
  threshold?: Slot<number>;
  /** The remediation needs a deploy among the recent events. */
  afterDeploy?: Slot<boolean>;
  /** "within 3 minutes of a deploy": reported, since rules see the sense window's events. */
  deployWithin?: Slot<string>;
  /** The house rule: rules stay out of maintenance windows (false: "even during maintenance"). */
  maintenance: Slot<boolean>;
  for?: Slot<string>;
  verify?: Slot<Comparison>;
  within?: Slot<string>;
  stableFor?: Slot<string>;
  compensation?: Slot<FollowUpSlot>;
  /** Who is paged: "{{owner}}" (the catalog's owner) or a named team. */
  escalation?: Slot<string>;
  approval: Slot<'none' | 'required'>;
  mode: Slot<'enforce' | 'shadow'>;
  cooldown: Slot<string>;
  /** Replicas for scale_out / scale_in. */
  by?: Slot<number>;
}

/** A missing or ambiguous slot, asked back. */
export interface Question {
  readonly slot: string;
  readonly question: string;
}

/** The slot names the held-out set scores, in order. */
export const SCORED_SLOTS = [
  'entity',
  'metric',
  'stat',
  'operator',
  'threshold',
  'afterDeploy',
  'for',
  'verify',
  'within',
  'compensation',
  'escalation',
  'approval',
  'mode',
  'cooldown',
] as const;
export type ScoredSlot = (typeof SCORED_SLOTS)[number];

/** The plain values of the scored slots (null when unfilled), as a held-out case states them. */
export function plainSlots(slots: DraftSlots): Record<ScoredSlot, unknown> {
  const out = {} as Record<ScoredSlot, unknown>;
  for (const key of SCORED_SLOTS) {
    const slot = slots[key] as Slot<unknown> | undefined;
    out[key] = slot === undefined ? null : slot.value;
  }
  return out;
}

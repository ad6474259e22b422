/**
 * How urgent a remediation is: its lane (1 = most urgent … 5), from the rule's `priority`, raised
 * one lane for a tier-1 service (the catalog) and one more when the classifier is at least as sure
 * as the rule asks; and its fairness key (the catalog service, else the entity), so one service's
 * storm cannot starve another's within a lane. Pure: decide, `rules explain` and the backtest call
 * the same function on the same facts.
 */
import { z } from 'zod';

/** Lanes are Temporal's priority keys: 1 runs first, 5 last; the server's default range is 1..5. */
export const MOST_URGENT_LANE = 1;
export const LEAST_URGENT_LANE = 5;
/** The lane of a rule without a `priority`: Temporal's own default, so such rules behave as before. */
export const DEFAULT_LANE = 3;
/** Temporal refuses fairness keys longer than this (bytes). */
export const MAX_FAIRNESS_KEY_BYTES = 64;

const LANE_HELP = `must be an integer from ${MOST_URGENT_LANE} (most urgent) to ${LEAST_URGENT_LANE}`;
const lane = z
  .number({ error: LANE_HELP })
  .int(LANE_HELP)
  .min(MOST_URGENT_LANE, LANE_HELP)
  .max(LEAST_URGENT_LANE, LANE_HELP);

/**
 * A rule's `event.params.priority`: a lane, or a lane with what may raise it. `tier` (default true):
 * a tier-1 service's remediation goes one lane up. `confidence`: one lane up when the classifier's
 * confidence is at least this.
 */
export const prioritySpecSchema = z.union(
  [
    lane,
    z.strictObject({
      lane,
      tier: z.boolean().default(true),
      confidence: z
        .number({ error: 'must be a number from 0 to 1' })
        .min(0, 'must be a number from 0 to 1')
        .max(1, 'must be a number from 0 to 1')
        .optional(),
    }),
  ],
  {
    error: `must be a lane from ${MOST_URGENT_LANE} (most urgent) to ${LEAST_URGENT_LANE}, or {"lane": 2, "tier": true, "confidence": 0.9}`,
  },
);
export type PrioritySpec = z.infer<typeof prioritySpecSchema>;

/** The facts urgency reads (as `factsFor` holds them). */
export interface UrgencyFacts {
  readonly entity: string;
  readonly service?: string | null;
  readonly tier?: number | null;
  readonly confidence?: number | null;
}

/** A remediation's lane and fairness key, with the reasons in words (for `rules explain`, the UI). */
export interface Urgency {
  readonly lane: number;
  readonly fairnessKey: string;
  readonly because: string[];
}

/**
 * The urgency of a rule's remediation on these facts. A rule without `priority` gets the default
 * lane and no raise: it keeps today's behaviour (one lane for everything). Raises stop at lane 1.
 */
export function urgencyOf(spec: PrioritySpec | undefined, facts: UrgencyFacts): Urgency {
  const fairnessKey = fairnessKeyOf(facts);
  if (spec === undefined)
    return { lane: DEFAULT_LANE, fairnessKey, because: [`no priority in the rule: lane ${DEFAULT_LANE}`] };
  const s = typeof spec === 'number' ? { lane: spec, tier: true, confidence: undefined } : spec;
  let result = s.lane;
  const because = [`the rule's lane ${s.lane}`];
  if (s.tier && facts.tier === 1) {
    result--;
    because.push(`tier 1 service ${facts.service ?? '?'}: one lane up`);
  }
  if (s.confidence !== undefined) {
    if (typeof facts.confidence !== 'number')
      because.push(`no classifier confidence: no raise (one lane up at ≥ ${s.confidence})`);
    else if (facts.confidence >= s.confidence) {
      result--;
      because.push(`classifier confidence ${facts.confidence.toFixed(2)} ≥ ${s.confidence}: one lane up`);
    }
  }
  if (result < MOST_URGENT_LANE) {
    result = MOST_URGENT_LANE;
    because.push(`lane ${MOST_URGENT_LANE} is the most urgent`);
  }
  return { lane: result, fairnessKey, because };
}

/** Reads urgency's facts from decide's facts (`factsFor`). */
export function urgencyFacts(facts: Readonly<Record<string, unknown>>): UrgencyFacts {
  const str = (v: unknown) => (typeof v === 'string' ? v : null);
  const num = (v: unknown) => (typeof v === 'number' ? v : null);
  return {
    entity: String(facts.entity ?? ''),
    service: str(facts.service),
    tier: num(facts.tier),
    confidence: num(facts['incident.confidence']),
  };
}

/** The service (the catalog's), else the entity itself; cut to Temporal's 64 bytes. */
export function fairnessKeyOf(facts: Pick<UrgencyFacts, 'entity' | 'service'>): string {
  const key = facts.service ? `service:${facts.service}` : `entity:${facts.entity}`;
  const bytes = Buffer.from(key, 'utf8');
  if (bytes.length <= MAX_FAIRNESS_KEY_BYTES) return key;
  // Cut on a character boundary: decoding a cut buffer could end in a replacement character.
  let cut = key;
  while (Buffer.byteLength(cut, 'utf8') > MAX_FAIRNESS_KEY_BYTES) cut = cut.slice(0, -1);
  return cut;
}

/** One line for `rules explain`: "lane 1 (the rule's lane 2; tier 1 service checkout: one lane up), fairness service:checkout". */
export function describeUrgency(u: Urgency): string {
  return `lane ${u.lane} (${u.because.join('; ')}), fairness key ${u.fairnessKey}`;
}

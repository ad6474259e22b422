/**
 * Training rows from what the loop recorded: a verdict is joined to its decision (decisionId) and
 * the decision to the observation it was made on (entity and window). A verified remediation
 * confirms the decision's class; a failed or compensated one refutes it; observations of an entity
 * far from any decision are the healthy rows. The labeling is a pure function over arrays; reading
 * the topics is a thin edge below it.
 */
import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import {
  decisionSchema,
  observationSchema,
  verdictSchema,
  type Decision,
  type Observation,
  type Verdict,
  type VerdictOutcome,
} from '../common/contracts.js';
import type { LabeledRow, ModelInput, NegativeRow } from './model-types.js';
import { seededRandom, shuffleInPlace } from './seeded-random.js';
import { UNKNOWN_CLASS } from './abstain.js';

/**
 * What an outcome says about the class of the decision: `verified` confirms it (the action fixed
 * it), `failed` and `compensated` refute it (the action did not help). The others say nothing:
 * nobody acted (`absorbed`, `stale`, `denied`, `expired`) or an operator chose not to (`rejected`).
 */
export function outcomeEvidence(outcome: VerdictOutcome): 'confirms' | 'refutes' | undefined {
  if (outcome === 'verified') return 'confirms';
  if (outcome === 'failed' || outcome === 'compensated') return 'refutes';
  return undefined;
}

/** Options of `labelHistory`. */
export interface LabelOptions {
  /** The class each rule remediates; wins over the decision's incident class. */
  readonly ruleClasses?: Readonly<Record<string, string>>;
  /** Known classes: a rule named `<class with dashes>-…` (memory-leak-restart) maps to it. */
  readonly classes?: readonly string[];
  /** Healthy rows to sample per positive row (default 1). */
  readonly healthyRatio?: number;
  /** An observation within this long of a decision of its entity is not taken as healthy (default 10 min). */
  readonly quietMs?: number;
  /** Seed of the healthy sample (default 7). */
  readonly seed?: number;
  /** The healthy class's name (default "healthy"). */
  readonly healthyClass?: string;
}

/** What labeling found, for the operator to judge the data. */
export interface LabelStats {
  readonly positives: Readonly<Record<string, number>>;
  readonly negatives: Readonly<Record<string, number>>;
  readonly healthy: number;
  readonly healthyCandidates: number;
  /** Verdicts whose outcome says nothing about the class, by outcome. */
  readonly uninformative: Readonly<Record<string, number>>;
  readonly verdictsWithoutDecision: number;
  readonly decisionsWithoutObservation: number;
  readonly decisionsWithoutClass: number;
  /** Decisions whose rule mapping and incident class disagreed (the rule mapping was used). */
  readonly classConflicts: number;
}

/** Labeled rows, the refuted windows beside them, and how they were found. */
export interface LabeledHistory {
  readonly rows: LabeledRow[];
  readonly negatives: NegativeRow[];
  readonly stats: LabelStats;
}

/** Joins verdicts → decisions → observations and labels them (see the module doc). */
export function labelHistory(
  history: {
    readonly observations: readonly Observation[];
    readonly decisions: readonly Decision[];
    readonly verdicts: readonly Verdict[];
  },
  opts: LabelOptions = {},
): LabeledHistory {
  const healthyClass = opts.healthyClass ?? 'healthy';
  const quietMs = opts.quietMs ?? 600_000;
  const observations = new Map<string, Observation>();
  for (const o of history.observations) {
    const key = windowKey(o.entity, o.window);
    if (!observations.has(key)) observations.set(key, o);
  }
  const decisions = new Map<string, Decision>();
  const decisionTimes = new Map<string, number[]>();
  for (const d of history.decisions) {
    if (decisions.has(d.decisionId)) continue;
    decisions.set(d.decisionId, d);
    const times = decisionTimes.get(d.entity) ?? [];
    times.push(d.window.end);
    decisionTimes.set(d.entity, times);
  }

  const rows: LabeledRow[] = [];
  const negatives: NegativeRow[] = [];
  const positives: Record<string, number> = {};
  const negativeCounts: Record<string, number> = {};
  const uninformative: Record<string, number> = {};
  let verdictsWithoutDecision = 0;
  let decisionsWithoutObservation = 0;
  let decisionsWithoutClass = 0;
  let classConflicts = 0;
  const seen = new Set<string>();
  for (const v of history.verdicts) {
    if (seen.has(v.decisionId)) continue; // a redelivered verdict
    seen.add(v.decisionId);
    const evidence = outcomeEvidence(v.outcome);
    if (evidence === undefined) {
      uninformative[v.outcome] = (uninformative[v.outcome] ?? 0) + 1;
      continue;
    }
    const d = decisions.get(v.decisionId);
    if (!d) {
      verdictsWithoutDecision++;
      continue;
    }
    const mapped = opts.ruleClasses?.[d.rule] ?? classFromRuleName(d.rule, opts.classes ?? []);
    // A classifier that abstained (class unknown) named no class: the row needs the rule's mapping.
    const named = d.incident?.class === UNKNOWN_CLASS ? undefined : d.incident?.class;
    const cls = mapped ?? named;
    if (mapped !== undefined && named !== undefined && named !== mapped) classConflicts++;
    if (cls === undefined) {
      decisionsWithoutClass++;
      continue;
    }
    const o = observations.get(windowKey(d.entity, d.window));
    if (!o) {
      decisionsWithoutObservation++;
      continue;
    }
    if (evidence === 'confirms') {
      rows.push({ ...inputOf(o), label: cls });
      positives[cls] = (positives[cls] ?? 0) + 1;
    } else {
      negatives.push({ ...inputOf(o), notClass: cls });
      negativeCounts[cls] = (negativeCounts[cls] ?? 0) + 1;
    }
  }

  // Healthy: windows far (in event time) from every decision of their entity, sampled.
  const candidates = [...observations.values()].filter(
    (o) => !(decisionTimes.get(o.entity) ?? []).some((t) => Math.abs(t - o.window.end) <= quietMs),
  );
  const wanted = Math.min(candidates.length, Math.round((opts.healthyRatio ?? 1) * rows.length));
  const sample = shuffleInPlace(candidates, seededRandom(opts.seed ?? 7)).slice(0, wanted);
  for (const o of sample) rows.push({ ...inputOf(o), label: healthyClass });

  return {
    rows,
    negatives,
    stats: {
      positives,
      negatives: negativeCounts,
      healthy: sample.length,
      healthyCandidates: candidates.length,
      uninformative,
      verdictsWithoutDecision,
      decisionsWithoutObservation,
      decisionsWithoutClass,
      classConflicts,
    },
  };
}

/** The class a rule named `<class with dashes>-<action>` remediates, when one of `classes` fits. */
export function classFromRuleName(rule: string, classes: readonly string[]): string | undefined {
  let best: string | undefined;
  for (const c of classes) {
    const prefix = c.replaceAll('_', '-');
    if ((rule === prefix || rule.startsWith(`${prefix}-`)) && prefix.length > (best?.length ?? 0)) best = c;
  }
  return best;
}

function windowKey(entity: string, window: { start: number; end: number }): string {
  return `${entity}\u0000${window.start}\u0000${window.end}`;
}

function inputOf(o: Observation): ModelInput {
  return { features: o.features, events: o.events.map((e) => ({ kind: e.kind, message: e.message })) };
}

/** Options of `buildDataset`: where to read and how much, and how to label. */
export interface BuildDatasetOptions extends LabelOptions {
  readonly kafka: Kafka;
  readonly topics: { readonly observations: string; readonly decisions: string; readonly verdicts: string };
  /** At most this many messages per topic, from the beginning (default 100,000). */
  readonly maxMessages?: number;
  /** Stop reading after this long even when the topics' ends are not reached (default 60 s). */
  readonly timeoutMs?: number;
  /** Prefix of the throw-away consumer group (default "autoglm"). */
  readonly groupPrefix?: string;
}

/** What was read from each topic. */
export interface ReadStats {
  readonly read: Readonly<Record<string, number>>;
  /** Messages that were not valid JSON of the topic's contract, skipped. */
  readonly invalid: Readonly<Record<string, number>>;
  /** The timeout ended reading before every partition's end (as of the start) was reached. */
  readonly timedOut: boolean;
}

/**
 * Reads the three topics from the beginning up to their ends as of the start (a fresh consumer
 * group, deleted afterwards, so no service's offsets move) and labels what it read.
 */
export async function buildDataset(opts: BuildDatasetOptions): Promise<LabeledHistory & { read: ReadStats }> {
  const { observations, decisions, verdicts } = opts.topics;
  const schemas = new Map<string, { safeParse(v: unknown): { success: boolean; data?: unknown } }>([
    [observations, observationSchema],
    [decisions, decisionSchema],
    [verdicts, verdictSchema],
  ]);
  const maxMessages = opts.maxMessages ?? 100_000;
  const values = new Map<string, unknown[]>([...schemas.keys()].map((t) => [t, []]));
  const read: Record<string, number> = Object.fromEntries([...schemas.keys()].map((t) => [t, 0]));
  const invalid: Record<string, number> = Object.fromEntries([...schemas.keys()].map((t) => [t, 0]));

  const admin = opts.kafka.admin();
  await admin.connect();
  const groupId = `${opts.groupPrefix ?? 'autoglm'}-dataset-${randomUUID()}`;
  const consumer = opts.kafka.consumer({ groupId });
  let timedOut = false;
  try {
    // Partitions still to read, with the last offset to reach; empty partitions are done already.
    const pending = new Map<string, bigint>();
    for (const topic of schemas.keys()) {
      for (const p of await admin.fetchTopicOffsets(topic)) {
        if (BigInt(p.high) > BigInt(p.low)) pending.set(`${topic}:${p.partition}`, BigInt(p.high) - 1n);
      }
    }
    const full = (topic: string) => (read[topic] ?? 0) >= maxMessages;
    if (pending.size > 0) {
      await consumer.connect();
      await consumer.subscribe({ topics: [...schemas.keys()], fromBeginning: true });
      let finish!: () => void;
      const done = new Promise<void>((resolve) => (finish = resolve));
      const timer = setTimeout(() => {
        timedOut = true;
        finish();
      }, opts.timeoutMs ?? 60_000);
      await consumer.run({
        eachMessage: async ({ topic, partition, message }) => {
          const key = `${topic}:${partition}`;
          const last = pending.get(key);
          if (last === undefined || full(topic)) return;
          read[topic] = (read[topic] ?? 0) + 1;
          const parsed = parseValue(message.value, schemas.get(topic)!);
          if (parsed === undefined) invalid[topic] = (invalid[topic] ?? 0) + 1;
          else values.get(topic)!.push(parsed);
          if (BigInt(message.offset) >= last) pending.delete(key);
          if (full(topic))
            for (const k of [...pending.keys()]) if (k.startsWith(`${topic}:`)) pending.delete(k);
          if (pending.size === 0) finish();
        },
      });
      await done;
      clearTimeout(timer);
    }
  } finally {
    await consumer.disconnect().catch(() => undefined);
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect();
  }
  const labeled = labelHistory(
    {
      observations: values.get(observations) as Observation[],
      decisions: values.get(decisions) as Decision[],
      verdicts: values.get(verdicts) as Verdict[],
    },
    opts,
  );
  return { ...labeled, read: { read, invalid, timedOut } };
}

function parseValue(
  value: Buffer | null,
  schema: { safeParse(v: unknown): { success: boolean; data?: unknown } },
): unknown {
  if (value === null) return undefined;
  try {
    const parsed = schema.safeParse(JSON.parse(value.toString('utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

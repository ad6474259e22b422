/**
 * The one place where message shapes live: every Kafka topic's value and the payloads the
 * workflow passes between steps. Types are inferred from the schemas, never written twice.
 */
import { z } from 'zod';
import { parseDuration } from './duration.js';

/** Largest message value accepted on any input topic. */
export const MAX_MESSAGE_BYTES = 64 * 1024;

const entityId = z
  .string()
  .min(1, 'must not be empty')
  .max(200, 'must be at most 200 characters')
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._:/@-]*$/,
    'use letters, digits and . _ : / @ - (for example "checkout/pod-1")',
  )
  // Targets build paths and URLs from entity ids: no "." or ".." segment, no empty segment.
  .refine(
    (id) => !id.split('/').some((seg) => seg === '' || seg === '.' || seg === '..'),
    'must not contain "//", "/./" or "/../" segments or end with "/"',
  );

/** Event time: epoch milliseconds, or an ISO-8601 string that is turned into them. */
const timestamp = z
  .union([
    z.number().int('must be whole epoch milliseconds'),
    z
      .string()
      .refine((s) => !Number.isNaN(Date.parse(s)), 'must be epoch milliseconds or an ISO-8601 date')
      .transform((s) => Date.parse(s)),
  ])
  .refine((ms) => ms >= 946_684_800_000, 'is before 2000-01-01; send epoch milliseconds, not seconds');

/**
 * Longest metric name (and event kind). Every observation repeats a metric's name once per feature
 * (10 of them), so a long name multiplies into the observation's size: 128 characters leave room
 * for dozens of metrics per entity within an observation's byte limit.
 */
export const MAX_METRIC_NAME = 128;
/** Longest label (and event attribute) key, most labels per sample, longest label value. */
export const MAX_LABEL_KEY = 64;
export const MAX_LABELS = 32;
export const MAX_LABEL_VALUE = 256;

const featureName = z
  .string()
  .max(MAX_METRIC_NAME, `must be at most ${MAX_METRIC_NAME} characters (for example "http_errors")`)
  .regex(/^[a-z][a-z0-9_]*$/, 'use lower-case letters, digits and _ (for example "cpu")');

const LABEL_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A `{key: value}` map of bounded size, keys in a safe charset (labels of samples, attributes of events). */
const boundedRecord = <V extends z.ZodType>(value: V) =>
  z.record(z.string(), value).superRefine((r, ctx) => {
    const keys = Object.keys(r);
    if (keys.length > MAX_LABELS) {
      const message = `must have at most ${MAX_LABELS} keys, has ${keys.length}; drop the rest or move them into the entity id`;
      ctx.addIssue({ code: 'custom', message });
    }
    for (const key of keys.slice(0, MAX_LABELS + 1)) {
      if (key.length > MAX_LABEL_KEY) {
        const message = `keys must be at most ${MAX_LABEL_KEY} characters, this one has ${key.length}`;
        ctx.addIssue({ code: 'custom', path: [key.slice(0, 80)], message });
      } else if (!LABEL_KEY.test(key)) {
        const message = 'keys use letters, digits and _ and do not start with a digit (for example "region")';
        ctx.addIssue({ code: 'custom', path: [key], message });
      }
    }
  });

/** Raw `{entity, metric, value, ts, labels?}` sample on `autoglm.metrics`. */
export const metricSampleSchema = z.object({
  entity: entityId,
  metric: featureName,
  value: z.number().refine(Number.isFinite, 'must be a finite number'),
  ts: timestamp,
  labels: boundedRecord(
    z.string().max(MAX_LABEL_VALUE, `label values must be at most ${MAX_LABEL_VALUE} characters`),
  ).optional(),
});
export type MetricSample = z.infer<typeof metricSampleSchema>;

/** Raw `{entity, kind, message, ts, attrs?}` event on `autoglm.events` (deploy, alert, log, k8s, …). */
export const eventSchema = z.object({
  entity: entityId,
  kind: featureName,
  message: z.string().max(4096, 'must be at most 4096 characters'),
  ts: timestamp,
  attrs: boundedRecord(
    z.union([
      z.string().max(1024, 'attribute values must be at most 1024 characters'),
      z.number(),
      z.boolean(),
    ]),
  ).optional(),
});
export type OpsEvent = z.infer<typeof eventSchema>;

const windowBounds = z.object({ start: z.number().int(), end: z.number().int() });

/** One alert firing for an entity (from Alertmanager through ingest): the `alerts.*` facts. */
export const firingAlertSchema = z.object({
  name: z.string(),
  severity: z.string().nullable(),
  /** When it started firing (epoch ms). */
  since: z.number().int(),
  labels: z.record(z.string(), z.string()),
});
export type FiringAlert = z.infer<typeof firingAlertSchema>;

/** A per-entity window snapshot on `autoglm.observations`; features are named `<metric>.<stat>`. */
export const observationSchema = z.object({
  entity: entityId,
  seq: z.number().int().nonnegative(),
  window: windowBounds,
  features: z.record(z.string(), z.number()),
  events: z.array(z.object({ kind: z.string(), message: z.string(), ts: z.number().int() })),
  ts: z.number().int(),
  /**
   * Metrics in the window whose baseline is still warming up: they have no `<metric>.baseline`,
   * `.deviation` or `.anomaly` feature yet. Absent when there is none.
   */
  warmingUp: z.array(z.string()).optional(),
  /** The alerts firing for the entity now (until resolved, whatever the window); absent when none. */
  alerts: z.array(firingAlertSchema).max(10).optional(),
  /**
   * Event time (epoch ms) of the entity's newest `deploy` event sense knows, in the window or
   * before it (the `deploy.ageSeconds` fact); absent when none is known.
   */
  lastDeploy: z.number().int().optional(),
});
export type Observation = z.infer<typeof observationSchema>;

const durationText = z
  .string()
  .refine((s) => parseDuration(s) !== undefined, 'must be a duration such as "30s", "5m" or "1h"');

/** A json-rules-engine condition tree (`all`/`any`/`not`); the engine checks the details. */
export const conditionsSchema = z
  .record(z.string(), z.unknown())
  .refine(
    (c) => 'all' in c || 'any' in c || 'not' in c || 'condition' in c,
    'must have a top-level "all", "any", "not" or "condition"',
  );

/** Longest `verify.within`: the verification activity's own timeout is sized to it. */
export const MAX_VERIFY_WITHIN_MS = 3_600_000;

/** What must hold on observations after the action, within a deadline, for long enough. */
/**
 * A comparison with the value a fact had at decision time: `atMost` 0.5 means "at most half of
 * what it was" (an error rate halved), `atLeast` 1.2 "at least 20% more" (throughput back).
 */
export const relativeCheckSchema = z
  .strictObject({
    fact: z.string().min(1),
    atMost: z.number().positive().optional(),
    atLeast: z.number().positive().optional(),
  })
  .refine(
    (c) => (c.atMost === undefined) !== (c.atLeast === undefined),
    'give exactly one of atMost or atLeast',
  );
export type RelativeCheck = z.infer<typeof relativeCheckSchema>;

export const verifySpecSchema = z.strictObject({
  conditions: conditionsSchema,
  within: durationText.refine((s) => (parseDuration(s) ?? 0) <= MAX_VERIFY_WITHIN_MS, 'must be at most 1h'),
  stableFor: durationText.default('0s'),
  /** Comparisons with the decision-time values that must hold too, on the same observations. */
  relativeTo: z.array(relativeCheckSchema).max(16).optional(),
});

/** An action name: snake_case, as actuators and the AutoglmAction search attribute see it. */
export const actionNameSchema = z
  .string({
    error: (issue) =>
      issue.input === undefined
        ? 'is missing: name the action, for example "scale_out"'
        : 'must be a string such as "scale_out"',
  })
  .regex(/^[a-z][a-z0-9_]*$/, 'use snake_case, for example "scale_out"');

/** A follow-up action of a remediation: the compensation or the escalation. */
export const followUpSchema = z.strictObject({
  action: actionNameSchema,
  args: z.record(z.string(), z.unknown()).default({}),
});
export type FollowUp = z.infer<typeof followUpSchema>;
export type VerifySpec = z.infer<typeof verifySpecSchema>;

/** The classifier's view of the incident; null when decide runs rules-only. */
export const incidentSchema = z.object({
  class: z.string(),
  confidence: z.number().min(0).max(1),
  probabilities: z.record(z.string(), z.number()).optional(),
  modelVersion: z.string(),
  /** Why the classifier abstained (`class` is `unknown`): low confidence or inputs far from training. */
  reason: z.string().max(1024).optional(),
});

/**
 * How an action reaches its target: the actuator type and its per-rule settings. `http` posts to
 * `url` (or the configured default) when its origin is allowlisted; `command` runs an executable
 * by name from the one allowlisted directory, with `args` as given (no shell, no templating).
 */
export const actuatorRefSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('http'),
    url: z.string().max(2048).optional(),
  }),
  z.strictObject({
    type: z.literal('command'),
    command: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'name an executable inside AUTOGLM_COMMAND_DIR, no path'),
    args: z.array(z.string().max(1024)).max(64).default([]),
  }),
]);
export type ActuatorRef = z.infer<typeof actuatorRefSchema>;
export type ActuatorType = ActuatorRef['type'];

/** Every decision, enforced or shadow, on `autoglm.decisions`; also the remediation workflow's input. */
export const decisionSchema = z.object({
  decisionId: z.string(),
  entity: entityId,
  rule: z.string(),
  ruleVersion: z.string(),
  /** The hash of the whole rule set (rules and context files) that made the decision. */
  ruleSet: z.string().optional(),
  mode: z.enum(['enforce', 'shadow']),
  action: actionNameSchema,
  args: z.record(z.string(), z.unknown()),
  actuator: actuatorRefSchema,
  /** The rule's cooldown: how long after a remediation of the entity by this rule ends before it may act again. */
  cooldown: durationText,
  /** `required`: the workflow waits for an operator's approve or reject before it acts. */
  approval: z.enum(['none', 'required']),
  verify: verifySpecSchema,
  onVerifyFailure: followUpSchema.optional(),
  escalate: followUpSchema.optional(),
  incident: incidentSchema.nullable(),
  facts: z.record(z.string(), z.unknown()),
  window: windowBounds,
  /**
   * Set when the window ended longer ago than the configured decision age (a backlog, an offset
   * reset, a replay): the decision is published for the audit and starts nothing.
   */
  stale: z.boolean().default(false),
  ts: z.number().int(),
  /**
   * A rule with `for`/`keepFiringFor` decides once per episode: the episode's first matching
   * window (`start` is its start; the decision id derives from it) and how long the conditions had
   * held when it decided. Absent for rules without them; the episode's end is in the changelog.
   */
  episode: z
    .object({ start: z.number().int(), window: windowBounds, heldMs: z.number().int().nonnegative() })
    .optional(),
  /**
   * The remediation's lane (1 = most urgent … 5) and fairness key (its service, else the entity),
   * from the rule's `priority` (services/decide/urgency.ts). Absent for rules without one, and in
   * decisions made before lanes: lane 3, no fairness key.
   */
  priority: z
    .object({
      lane: z.number().int().min(1).max(5),
      fairnessKey: z.string().max(64),
      because: z.array(z.string()),
    })
    .optional(),
  /**
   * The runbook sections retrieval found for the incident (services/runbooks), best first: what the
   * operator reads. Absent without runbooks and in decisions made before them.
   */
  runbooks: z
    .array(
      z.object({
        title: z.string().max(256),
        runbook: z.string().max(256),
        link: z.string().max(1024),
        score: z.number(),
      }),
    )
    .max(10)
    .optional(),
});
export type Decision = z.infer<typeof decisionSchema>;

/**
 * How a remediation ended. Beyond the design's five: `absorbed` (another remediation of the entity
 * was in flight, or the rule's cooldown held), `stale` (the input was too old by the time it could
 * act), `denied` (the blast-radius budget did not free a slot in time). None of those three acted.
 */
export const VERDICT_OUTCOMES = [
  'verified',
  'failed',
  'rejected',
  'expired',
  'compensated',
  'absorbed',
  'stale',
  'denied',
] as const;
export type VerdictOutcome = (typeof VERDICT_OUTCOMES)[number];

/** The end of one remediation on `autoglm.verdicts`: what happened and the evidence for it. */
export const verdictSchema = z.object({
  decisionId: z.string(),
  workflowId: z.string(),
  entity: entityId,
  rule: z.string(),
  action: z.string(),
  outcome: z.enum(VERDICT_OUTCOMES),
  evidence: z.record(z.string(), z.unknown()),
  ts: z.number().int(),
  /** The decision's runbook sections, for whoever the verdict pages. Absent without runbooks and before them. */
  runbooks: decisionSchema.shape.runbooks,
});
export type Verdict = z.infer<typeof verdictSchema>;

/**
 * A refused input message on `autoglm.dlq`: where it came from, why, and the original value as
 * base64 of at most a bounded prefix (so a dead letter always fits the broker's limit) with the
 * value's full length and sha256 to find or compare the original.
 */
export const deadLetterSchema = z.object({
  topic: z.string(),
  partition: z.number().int(),
  offset: z.string(),
  key: z.string().nullable(),
  value: z.string().nullable(),
  valueBytes: z.number().int().nonnegative(),
  valueSha256: z.string().nullable(),
  valueTruncated: z.boolean(),
  reason: z.string(),
  issues: z.array(z.object({ path: z.string(), message: z.string() })),
  service: z.string(),
  ts: z.number().int(),
});
export type DeadLetter = z.infer<typeof deadLetterSchema>;

/** Why a message was refused: a short reason and one entry per bad field. */
export interface Refusal {
  readonly reason:
    | 'too_large'
    | 'empty'
    | 'not_json'
    | 'schema'
    | 'clock_skew'
    | 'out_of_range'
    | 'too_many_metrics'
    | 'observation_too_large'
    | 'unpublishable'
    | 'rule_error'
    | 'too_many_entities'
    | 'unreadable_batch'
    /** ingest: the labels/attributes lack what the source's entity template names (never guessed). */
    | 'no_entity'
    /** ingest: a metric name the mapping neither renames nor passes through. */
    | 'unmapped_metric';
  readonly issues: ReadonlyArray<{ path: string; message: string }>;
}

/**
 * Decodes and validates one message value at the edge. Event times more than `maxSkewMs`
 * ahead of `nowMs` are refused: a producer with a wrong clock would otherwise own the window.
 */
export function decodeMessage<S extends z.ZodType<{ ts: number }>>(
  schema: S,
  value: Buffer | null,
  nowMs: number,
  maxSkewMs: number,
  /** A quicker check that accepts a subset of what `schema` accepts; anything else goes to `schema`. */
  fast?: (json: unknown) => z.infer<S> | undefined,
  /** Quicker still, on the bytes: the same subset rule; undefined sends the value through JSON.parse. */
  fastBytes?: (value: Buffer) => z.infer<S> | undefined,
): { ok: true; value: z.infer<S> } | { ok: false; refusal: Refusal } {
  if (value === null || value.length === 0) {
    return {
      ok: false,
      refusal: { reason: 'empty', issues: [{ path: '', message: 'message has no value' }] },
    };
  }
  if (value.length > MAX_MESSAGE_BYTES) {
    const message = `value is ${value.length} bytes; the limit is ${MAX_MESSAGE_BYTES}`;
    return { ok: false, refusal: { reason: 'too_large', issues: [{ path: '', message }] } };
  }
  let data = fastBytes?.(value);
  if (data === undefined) {
    const decoded = decodeJson(schema, value, fast);
    if (!decoded.ok) return decoded;
    data = decoded.value;
  }
  const ts = data.ts;
  if (ts > nowMs + maxSkewMs) {
    const message = `is ${Math.round((ts - nowMs) / 1000)}s in the future; check the producer's clock`;
    return { ok: false, refusal: { reason: 'clock_skew', issues: [{ path: 'ts', message }] } };
  }
  return { ok: true, value: data };
}

/** JSON.parse, the quick check, then the schema: the value or the refusal naming every bad field. */
function decodeJson<S extends z.ZodType<{ ts: number }>>(
  schema: S,
  value: Buffer,
  fast: ((json: unknown) => z.infer<S> | undefined) | undefined,
): { ok: true; value: z.infer<S> } | { ok: false; refusal: Refusal } {
  let json: unknown;
  try {
    json = JSON.parse(value.toString('utf8'));
  } catch (err) {
    const message = `not valid JSON: ${(err as Error).message}`;
    return { ok: false, refusal: { reason: 'not_json', issues: [{ path: '', message }] } };
  }
  let data = fast?.(json);
  if (data === undefined) {
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
      return { ok: false, refusal: { reason: 'schema', issues } };
    }
    data = parsed.data;
  }
  return { ok: true, value: data };
}

const ENTITY_ID = /^[A-Za-z0-9][A-Za-z0-9._:/@-]*$/;
const FEATURE_NAME = /^[a-z][a-z0-9_]*$/;

/**
 * The common shape of a metric sample (no labels, epoch-ms time), checked without zod: the sense
 * step's hot path. It accepts only what `metricSampleSchema` accepts (strictly fewer forms);
 * anything else returns undefined and goes through the schema, which also names what is wrong.
 */
export function fastMetricSample(json: unknown): MetricSample | undefined {
  if (json === null || typeof json !== 'object') return undefined;
  const { entity, metric, value, ts, labels } = json as Record<string, unknown>;
  if (labels !== undefined) return undefined;
  return checkedSample(entity, metric, value, ts);
}

/** The sample when every field is of the common shape the schema accepts, else undefined. */
function checkedSample(
  entity: unknown,
  metric: unknown,
  value: unknown,
  ts: unknown,
): MetricSample | undefined {
  if (typeof entity !== 'string' || entity.length > 200 || !ENTITY_ID.test(entity)) return undefined;
  if (entity.includes('//') || entity.endsWith('/') || entity.includes('/.')) return undefined;
  if (typeof metric !== 'string' || metric.length > MAX_METRIC_NAME || !FEATURE_NAME.test(metric))
    return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) return undefined;
  if (typeof ts !== 'number' || !Number.isSafeInteger(ts) || ts < 946_684_800_000) return undefined;
  return { entity, metric, value, ts };
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const KEYS = ['entity', 'metric', 'value', 'ts'].map((k) => Buffer.from(`"${k}":`));
const JSON_NUMBER = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/;

/** Which of KEYS starts at `at` (-1 for none). */
function keyAt(buf: Buffer, at: number): number {
  next: for (let k = 0; k < KEYS.length; k++) {
    const key = KEYS[k]!;
    if (at + key.length > buf.length) continue;
    for (let j = 0; j < key.length; j++) if (buf[at + j] !== key[j]) continue next;
    return k;
  }
  return -1;
}

/**
 * The common sample read straight from its bytes, without JSON.parse: exactly
 * `{"entity":"…","metric":"…","value":…,"ts":…}` (each key once, in any order, no whitespace,
 * strings of printable ASCII without escapes, ts in plain digits). It accepts only what
 * `fastMetricSample` accepts on JSON.parse of the same bytes, with the same result; anything else
 * returns undefined and goes through JSON.parse. The sense step's hot path.
 */
export function fastMetricSampleBytes(buf: Buffer): MetricSample | undefined {
  const n = buf.length;
  if (n < 2 || buf[0] !== 0x7b || buf[n - 1] !== 0x7d) return undefined;
  let entity: string | undefined;
  let metric: string | undefined;
  let value: number | undefined;
  let ts: number | undefined;
  let at = 1;
  for (let field = 0; field < 4; field++) {
    const k = keyAt(buf, at);
    if (k < 0) return undefined;
    at += KEYS[k]!.length;
    const start = at;
    if (k < 2) {
      if (buf[at] !== QUOTE) return undefined;
      at++;
      while (at < n && buf[at] !== QUOTE) {
        const b = buf[at]!;
        if (b < 0x20 || b > 0x7e || b === BACKSLASH) return undefined;
        at++;
      }
      const text = buf.toString('latin1', start + 1, at);
      at++; // the closing quote
      if (k === 0) {
        if (entity !== undefined) return undefined;
        entity = text;
      } else {
        if (metric !== undefined) return undefined;
        metric = text;
      }
    } else {
      while (at < n && buf[at] !== 0x2c && buf[at] !== 0x7d) at++;
      if (k === 2) {
        if (value !== undefined) return undefined;
        const text = buf.toString('latin1', start, at);
        if (!JSON_NUMBER.test(text)) return undefined;
        value = Number(text);
      } else {
        if (ts !== undefined || at - start > 15 || buf[start] === 0x30) return undefined;
        let t = 0;
        for (let j = start; j < at; j++) {
          const d = buf[j]! - 0x30;
          if (d < 0 || d > 9) return undefined;
          t = t * 10 + d;
        }
        ts = t;
      }
    }
    if (buf[at] !== (field === 3 ? 0x7d : 0x2c)) return undefined;
    at++;
  }
  if (at !== n || entity === undefined || metric === undefined) return undefined;
  return checkedSample(entity, metric, value, ts);
}

/** zod's `.int()` accepts safe integers only: 1e300 is refused by both paths. */
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);

/**
 * The common shape of an observation, checked without zod: the decide step's hot path (zod takes
 * ~50 µs on an observation of 100 features). It accepts only what `observationSchema` accepts and
 * returns the same value (unknown keys dropped); anything else returns undefined and goes through
 * the schema, which also names what is wrong.
 */
export function fastObservation(json: unknown): Observation | undefined {
  if (json === null || typeof json !== 'object') return undefined;
  const { entity, seq, window, features, events, ts, warmingUp, alerts, lastDeploy } = json as Record<
    string,
    unknown
  >;
  // Rare (an entity with alerts firing): the schema checks those.
  if (alerts !== undefined) return undefined;
  if (typeof entity !== 'string' || entity.length > 200 || !ENTITY_ID.test(entity)) return undefined;
  if (entity.includes('//') || entity.endsWith('/') || entity.includes('/.')) return undefined;
  if (!isInt(seq) || seq < 0 || !isInt(ts)) return undefined;
  if (window === null || typeof window !== 'object') return undefined;
  const { start, end } = window as Record<string, unknown>;
  if (!isInt(start) || !isInt(end)) return undefined;
  if (features === null || typeof features !== 'object' || Array.isArray(features)) return undefined;
  if (Object.getPrototypeOf(features) !== Object.prototype) return undefined;
  for (const key in features) {
    const v = (features as Record<string, unknown>)[key];
    // JSON.parse turns 1e999 into Infinity, which the schema's z.number() refuses.
    if (key === '__proto__' || typeof v !== 'number' || !Number.isFinite(v)) return undefined;
  }
  if (!Array.isArray(events)) return undefined;
  const checked: Observation['events'] = [];
  for (const e of events as unknown[]) {
    if (e === null || typeof e !== 'object') return undefined;
    const { kind, message, ts: at } = e as Record<string, unknown>;
    if (typeof kind !== 'string' || typeof message !== 'string' || !isInt(at)) return undefined;
    checked.push({ kind, message, ts: at });
  }
  if (warmingUp !== undefined && !(Array.isArray(warmingUp) && warmingUp.every((m) => typeof m === 'string')))
    return undefined;
  if (lastDeploy !== undefined && !isInt(lastDeploy)) return undefined;
  return {
    entity,
    seq,
    window: { start, end },
    features: features as Record<string, number>,
    events: checked,
    ts,
    ...(warmingUp !== undefined ? { warmingUp: warmingUp as string[] } : {}),
    ...(lastDeploy !== undefined ? { lastDeploy } : {}),
  };
}

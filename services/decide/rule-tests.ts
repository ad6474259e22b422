import fs from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import type { Decision, Observation } from '../common/contracts.js';
import { formatDuration, parseDuration } from '../common/duration.js';
import { factsFor } from '../common/facts.js';
import { Decider } from './decider.js';
import { explainConditions, renderExplained } from './rule-explain.js';
import type { RuleSet } from './rule-set.js';
import { verifiedByItsOwnFacts } from './rule-verify-guard.js';

const DEFAULT_AT = '2026-01-05T12:00:00Z';
const WINDOW_MS = 30_000;

const instant = z
  .union([
    z.number().int(),
    z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'must be an ISO-8601 date'),
  ])
  .transform((v) => (typeof v === 'number' ? v : Date.parse(v)));

const expectedSchema = z.union([
  z.string(),
  z.strictObject({
    rule: z.string(),
    action: z.string().optional(),
    mode: z.enum(['enforce', 'shadow']).optional(),
    approval: z.enum(['none', 'required']).optional(),
    args: z.record(z.string(), z.unknown()).optional(),
  }),
]);

const caseSchema = z.strictObject({
  name: z.string().min(1, 'name each case'),
  entity: z.string().min(1).default('test/entity-1'),
  at: instant.default(Date.parse(DEFAULT_AT)),
  /**
   * How long the facts have held before `at`: the case is that observation every 30 s over this
   * time, so a rule with `for` decides when it is at least its `for`. Default: long enough for
   * every rule's `for` (a case describes a steady state); "0s" is a single observation.
   */
  held: z
    .string()
    .refine((s) => parseDuration(s) !== undefined, 'must be a duration such as "0s", "30s" or "2m"')
    .optional(),
  facts: z.record(z.string(), z.number()).default({}),
  events: z
    .array(z.strictObject({ kind: z.string(), message: z.string().default(''), ts: instant }))
    .default([]),
  /**
   * When the entity was last deployed, also before the window (the observation's `lastDeploy`,
   * the `deploy.ageSeconds` fact); a deploy in `events` counts too, as sense counts it.
   */
  lastDeploy: instant.optional(),
  context: z.record(z.string(), z.unknown()).optional(),
  /** The classifier's answer to assume (rule tests do not depend on a model's version). */
  incident: z
    .strictObject({
      class: z.string().min(1),
      confidence: z.number().min(0).max(1),
    })
    .optional(),
  expect: z.array(expectedSchema),
  /**
   * Why this case may decide with facts that already pass the rule's own verification (an action
   * that changes nothing would be verified): `rules test` fails such a case unless it says why here,
   * and fails the opt-out once verify no longer passes on the case's facts (rule-verify-guard.ts).
   */
  verifyMayAlreadyPass: z
    .string()
    .min(10, 'say why an action that changes nothing may be verified here, or remove the field')
    .optional(),
});

/** A rule test file: table-driven cases run against the whole rule set of its folder. */
export const ruleTestFileSchema = z.strictObject({
  $schema: z.string().optional(),
  cases: z.array(caseSchema).min(1, 'add at least one case'),
});
export type RuleTestCase = z.infer<typeof caseSchema>;

/** The outcome of one case: passed, or what differed, line by line. */
export interface CaseResult {
  readonly file: string;
  readonly name: string;
  readonly passed: boolean;
  readonly details: string[];
}

/** The rule test files of a folder: every `*.test.json`, sorted. */
export function ruleTestFilesIn(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.test.json'))
    .sort()
    .map((f) => path.join(dir, f));
}

/** Reads a test file; problems name the file, the JSON path and the fix. */
export function readRuleTestFile(file: string): { cases: RuleTestCase[] } | { problems: string[] } {
  const where = path.basename(file);
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    return {
      problems: [
        `${where}: not valid JSON: ${(err as Error).message}; fix the syntax: a rule test file is one JSON object with a cases list (see rules/README.md)`,
      ],
    };
  }
  const parsed = ruleTestFileSchema.safeParse(json);
  if (!parsed.success)
    return {
      problems: parsed.error.issues.map((i) => `${where}: ${i.path.join('.') || '(file)'}: ${i.message}`),
    };
  return { cases: parsed.data.cases };
}

/** The observation a case stands for: a 30 s window ending at `at` (or `end`, for the earlier ones of a held case). */
export function observationOf(c: RuleTestCase, end = c.at): Observation {
  let lastDeploy = c.lastDeploy !== undefined && c.lastDeploy <= end ? c.lastDeploy : undefined;
  for (const e of c.events)
    if (e.kind === 'deploy' && e.ts <= end && !(e.ts <= (lastDeploy ?? -Infinity))) lastDeploy = e.ts;
  return {
    entity: c.entity,
    seq: 0,
    window: { start: end - WINDOW_MS, end },
    features: c.facts,
    events: c.events.map((e) => ({ kind: e.kind, message: e.message, ts: e.ts })),
    ts: end,
    ...(lastDeploy !== undefined ? { lastDeploy } : {}),
  };
}

/** The window ends a case is decided at: every 30 s from `at - held` to `at` (`held` defaults to the longest `for`). */
function caseTimes(set: RuleSet, c: RuleTestCase): number[] {
  const held =
    c.held !== undefined
      ? (parseDuration(c.held) ?? 0)
      : Math.max(0, ...set.rules.map((r) => parseDuration(r.params.for ?? '0s') ?? 0));
  const times: number[] = [];
  for (let t = c.at - held; t < c.at; t += WINDOW_MS) times.push(t);
  times.push(c.at);
  return times;
}

/** The rule set a case runs with: the folder's, with the case's context facts put over the computed ones. */
function withContext(set: RuleSet, override: Record<string, unknown> | undefined): RuleSet {
  if (!override) return set;
  const base = set.context;
  return { ...set, context: { factsFor: (entity, at) => ({ ...base.factsFor(entity, at), ...override }) } };
}

/**
 * Runs one case through the real decide core (a fresh Decider, so no cooldown carries over from
 * another case; over the case's `held` time, so rules with `for` see it hold) and compares the
 * decisions with the expected ones: the same rules, and for each the given action,
 * mode, approval and args (a subset). A difference names the rule and the conditions that decided it.
 */
export async function runCase(set: RuleSet, file: string, c: RuleTestCase): Promise<CaseResult> {
  const caseSet = withContext(set, c.context);
  const obs = observationOf(c);
  const incident = c.incident
    ? {
        ...c.incident,
        probabilities: { [c.incident.class]: c.incident.confidence },
        modelVersion: 'rule-test',
      }
    : null;
  // The same facts observation after observation (one Decider: episodes carry over), each rule's
  // decision kept from whichever observation made it.
  const decider = new Decider(caseSet);
  const got = new Map<string, Decision>();
  const pending = new Map<string, string>();
  let failures: Array<{ rule: string; message: string }> = [];
  for (const t of caseTimes(caseSet, c)) {
    const step = await decider.decide(observationOf(c, t), t, incident);
    for (const d of step.decisions) got.set(d.rule, d);
    failures = step.failures;
    if (t !== c.at) continue;
    for (const h of step.held) {
      const rule = caseSet.byName.get(h.rule);
      if (h.reason !== 'pending' || !rule) continue;
      const held = formatDuration(h.heldMs ?? 0);
      pending.set(h.rule, `pending: its conditions hold, but for ${held} of its \`for\` ${rule.params.for}`);
    }
  }
  const decisions = [...got.values()];
  const facts = factsFor(obs, caseSet.context.factsFor(obs.entity, obs.window.end), incident);
  const details: string[] = failures.map((f) => `rule "${f.rule}" failed to evaluate: ${f.message}`);
  const expected = c.expect.map((e) => (typeof e === 'string' ? { rule: e } : e));
  const why = (rule: string) => {
    const r = caseSet.byName.get(rule);
    return r ? renderExplained(explainConditions(r.conditions, facts), '  ') : [`  no rule named "${rule}"`];
  };
  for (const e of expected) {
    const d = got.get(e.rule);
    if (!d) {
      const held = pending.get(e.rule);
      if (held) details.push(`expected a decision of "${e.rule}", got none; ${held}`);
      else details.push(`expected a decision of "${e.rule}", got none; its conditions:`, ...why(e.rule));
      continue;
    }
    details.push(...fieldDifferences(e, d));
  }
  for (const d of decisions) {
    if (!expected.some((e) => e.rule === d.rule))
      details.push(`unexpected decision of "${d.rule}" (${d.action}); its conditions:`, ...why(d.rule));
  }
  details.push(...(await verifyGuard(c, decisions, obs)));
  return { file: path.basename(file), name: c.name, passed: details.length === 0, details };
}

/**
 * A case that decides must not already pass the rule's verification on its own facts (see
 * rule-verify-guard.ts), unless it says why in `verifyMayAlreadyPass`; an opt-out that is no longer
 * needed is a failure too, so it goes once the rule is fixed.
 */
async function verifyGuard(
  c: RuleTestCase,
  decisions: readonly Decision[],
  obs: Observation,
): Promise<string[]> {
  const out: string[] = [];
  let passedAny = false;
  for (const d of decisions) {
    const passes = await verifiedByItsOwnFacts(d, obs);
    if (passes === undefined) continue;
    passedAny = true;
    if (c.verifyMayAlreadyPass === undefined)
      out.push(
        `rule "${d.rule}": case '${c.name}' decides, and its own facts already pass verify.conditions (${passes}): ` +
          'an action that changes nothing would be verified; make verify stricter than the decision or add relativeTo',
      );
  }
  if (c.verifyMayAlreadyPass !== undefined && !passedAny)
    out.push(
      `case '${c.name}' gives verifyMayAlreadyPass, but no rule it decides passes its verification on the case's facts: remove the field`,
    );
  return out;
}

function fieldDifferences(
  e: { rule: string; action?: string; mode?: string; approval?: string; args?: Record<string, unknown> },
  d: Decision,
): string[] {
  const out: string[] = [];
  for (const key of ['action', 'mode', 'approval'] as const) {
    if (e[key] !== undefined && e[key] !== d[key])
      out.push(`"${e.rule}": ${key} is ${JSON.stringify(d[key])}, expected ${JSON.stringify(e[key])}`);
  }
  for (const [k, v] of Object.entries(e.args ?? {})) {
    if (!isDeepStrictEqual(d.args[k], v))
      out.push(`"${e.rule}": args.${k} is ${JSON.stringify(d.args[k])}, expected ${JSON.stringify(v)}`);
  }
  return out;
}

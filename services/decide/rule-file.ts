import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Rule } from 'json-rules-engine';
import { z } from 'zod';
import {
  type ActuatorRef,
  actionNameSchema,
  actuatorRefSchema,
  conditionsSchema,
  followUpSchema,
  verifySpecSchema,
} from '../common/contracts.js';
import { parseDuration } from '../common/duration.js';
import { prioritySpecSchema } from './urgency.js';

/** Longest `for` and `keepFiringFor`: an episode setting beyond a day is a typo. */
export const MAX_EPISODE_DURATION_MS = 86_400_000;

/** A new schema each time: the schema file describes `for` and `keepFiringFor` apart. */
const episodeDuration = () =>
  z
    .string()
    .refine((s) => parseDuration(s) !== undefined, 'must be a duration such as "1m" or "10m"')
    .refine((s) => (parseDuration(s) ?? 0) <= MAX_EPISODE_DURATION_MS, 'must be at most 24h');

/** Our fields in a rule's `event.params`: what to do, how, and how to tell that it worked. */
export const remediationParamsSchema = z.strictObject({
  action: actionNameSchema,
  args: z.record(z.string(), z.unknown()).default({}),
  actuator: actuatorRefSchema.default({ type: 'http' }),
  mode: z.enum(['enforce', 'shadow']).default('enforce'),
  cooldown: z
    .string()
    .refine((s) => parseDuration(s) !== undefined, 'must be a duration such as "10m"')
    .default('10m'),
  approval: z.enum(['none', 'required']).default('none'),
  priority: prioritySpecSchema.optional(),
  for: episodeDuration().optional(),
  keepFiringFor: episodeDuration().optional(),
  verify: verifySpecSchema,
  onVerifyFailure: followUpSchema.optional(),
  escalate: followUpSchema.optional(),
});
export type RemediationParams = z.infer<typeof remediationParamsSchema>;

/** A rule file: json-rules-engine's rule shape with our `event.params`; rule.schema.json is generated from it. */
export const ruleFileSchema = z.strictObject({
  $schema: z.string().optional(),
  name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'use kebab-case, for example "cpu-saturation-scale-out"'),
  description: z.string().optional(),
  priority: z.number().int().min(1).default(1),
  conditions: conditionsSchema,
  event: z.strictObject({ type: z.literal('remediate'), params: remediationParamsSchema }),
});

/** A rule file that passed every check, with the version (content hash) it is known by. */
export interface LoadedRule {
  readonly name: string;
  readonly version: string;
  readonly file: string;
  readonly priority: number;
  readonly conditions: Record<string, unknown>;
  readonly params: RemediationParams;
}

/** Files in the rules folder that are not rules: the schema and the rule tests (`*.test.json`). */
const NOT_RULES = new Set(['rule.schema.json']);
const isRuleFile = (f: string) => f.endsWith('.json') && !f.endsWith('.test.json') && !NOT_RULES.has(f);

/**
 * Checks one rule file's text: JSON, our schema, and json-rules-engine's own constructor.
 * Returns the rule or the list of problems, each naming the field and the fix.
 */
export function parseRuleFile(file: string, text: string): { rule: LoadedRule } | { problems: string[] } {
  const where = path.basename(file);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return {
      problems: [
        `${where}: not valid JSON: ${(err as Error).message}; fix the syntax: a rule file is one JSON object with name, conditions and event (see rules/README.md)`,
      ],
    };
  }
  const parsed = ruleFileSchema.safeParse(json);
  if (!parsed.success) {
    return {
      problems: parsed.error.issues.map((i) => `${where}: ${i.path.join('.') || '(file)'}: ${i.message}`),
    };
  }
  const def = parsed.data;
  try {
    new Rule({
      name: def.name,
      priority: def.priority,
      conditions: def.conditions as never,
      event: { type: def.event.type },
    });
  } catch (err) {
    return { problems: [`${where}: conditions: ${(err as Error).message}`] };
  }
  const version = createHash('sha256').update(text).digest('hex').slice(0, 12);
  return {
    rule: {
      name: def.name,
      version,
      file,
      priority: def.priority,
      conditions: def.conditions,
      params: def.event.params,
    },
  };
}

/** Checks a rule's actuator against the deployment's allowlists; returns problems, [] when fine. */
export type ActuatorCheck = (ref: ActuatorRef) => string[];

/**
 * Loads every `*.json` rule in `dir`; throws RuleLoadError listing every problem in every file.
 * `checkActuator` refuses actuators this deployment may not call (a URL outside the allowlist,
 * a command outside the command directory), so a bad rule fails at load, not at 3 a.m.
 */
export function loadRuleDir(dir: string, opts: { checkActuator?: ActuatorCheck } = {}): LoadedRule[] {
  const { rules, problems } = readRuleFiles(ruleFilesIn(dir), opts);
  if (problems.length > 0) throw new RuleLoadError(problems);
  return rules;
}

/** The rule files of a folder (every `*.json` but the schema and `*.test.json`), sorted; refused when the folder is missing. */
export function ruleFilesIn(dir: string): string[] {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory())
    throw new RuleLoadError([`${dir}: rules folder not found (set AUTOGLM_RULES_DIR)`]);
  return fs
    .readdirSync(dir)
    .filter(isRuleFile)
    .sort()
    .map((f) => path.join(dir, f));
}

/**
 * Reads and checks rule files one by one (JSON, schema, json-rules-engine's constructor, the
 * actuator, unique names); returns the rules that passed and every problem, each naming its file.
 */
export function readRuleFiles(
  files: readonly string[],
  opts: { checkActuator?: ActuatorCheck } = {},
): { rules: LoadedRule[]; problems: string[] } {
  const rules: LoadedRule[] = [];
  const problems: string[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      problems.push(
        `${path.basename(file)}: cannot read it (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      );
      continue;
    }
    const result = parseRuleFile(file, text);
    if ('rule' in result) {
      rules.push(result.rule);
      for (const p of opts.checkActuator?.(result.rule.params.actuator) ?? [])
        problems.push(`${path.basename(file)}: event.params.actuator: ${p}`);
    } else problems.push(...result.problems);
  }
  const seen = new Map<string, string>();
  for (const r of rules) {
    const other = seen.get(r.name);
    if (other)
      problems.push(`${path.basename(r.file)}: name: "${r.name}" is already used by ${path.basename(other)}`);
    seen.set(r.name, r.file);
  }
  return { rules, problems };
}

/** Rule files were refused; `problems` names each file, field and fix. */
export class RuleLoadError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`rule files refused:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'RuleLoadError';
  }
}

/**
 * rules/rule.schema.json, generated from the zod rule file schema (the one source) so editors
 * complete and check rule files exactly as decide loads them. Run `npx tsx
 * services/decide/rule-schema.ts` after changing the rule shape or the facts reference; a unit
 * test fails while the committed file is out of date.
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Engine } from 'json-rules-engine';
import { z } from 'zod';
import {
  actionNameSchema,
  actuatorRefSchema,
  conditionsSchema,
  followUpSchema,
  verifySpecSchema,
} from '../common/contracts.js';
import { CONTEXT_FACTS, METRIC_STATS } from '../common/facts-reference.js';
import { isEntryPoint } from '../common/service.js';
import { remediationParamsSchema, ruleFileSchema } from './rule-file.js';

/** The committed schema file; rule files name it with `"$schema": "./rule.schema.json"`. */
export const RULE_SCHEMA_FILE = fileURLToPath(new URL('../../rules/rule.schema.json', import.meta.url));

/** Metric names of the design and the starter rules, offered as completions (any metric name is valid). */
const EXAMPLE_METRICS = ['cpu', 'mem', 'latency', 'errors', 'disk', 'restarts', 'replicas'];

/** Prettier's printWidth for this repository (.prettierrc); the unit test holds render to prettier's output. */
const PRINT_WIDTH = 110;

const DURATION_HELP = 'a number and a unit (ms, s, m, h, d), parts may be combined: 30s, 5m, 1h, 1m30s';
const ARGS_HELP =
  'Sent to the actuator. Strings may hold {{entity}} or {{<fact>}} placeholders (for example {{cpu.avg}}); a string that is one placeholder keeps the fact’s type.';

/**
 * Descriptions for editors, kept here beside the schema they describe. zod reads metadata from one
 * registry, so this one replaces the global registry for the rule file's schemas; an `id` moves a
 * shared schema to `$defs`.
 */
function docs(): z.core.$ZodRegistry<z.GlobalMeta> {
  const registry = z.registry<z.GlobalMeta>();
  const add = (schema: z.core.$ZodType, meta: z.GlobalMeta) =>
    registry.add(schema, { ...z.globalRegistry.get(schema), ...meta });
  const file = ruleFileSchema.shape;
  const params = remediationParamsSchema.shape;
  const verify = verifySpecSchema.shape;
  add(ruleFileSchema, {
    title: 'open-autoglm remediation rule',
    description:
      'One json-rules-engine rule per file in rules/; our fields live in event.params. Generated from services/decide/rule-file.ts; decide checks the same at load (`autoglm rules check`), and more: durations, facts, operators, actuators.',
  });
  add(file.$schema, { description: 'This schema, for editors: "./rule.schema.json".' });
  add(file.name, {
    description:
      'Unique kebab-case name; used in decision ids, metrics, logs and the AutoglmRule search attribute.',
    examples: ['cpu-saturation-scale-out'],
  });
  add(file.description, { description: 'What the rule does and why, for the people who read it later.' });
  add(file.priority, {
    description: 'json-rules-engine priority: higher runs first; decisions are listed highest first.',
  });
  add(conditionsSchema, {
    id: 'conditions',
    description:
      'A json-rules-engine condition tree: "all", "any" or "not" of conditions, each {fact, operator, value}.',
  });
  add(file.event, { description: 'json-rules-engine’s event: type "remediate"; our fields are in params.' });
  add(remediationParamsSchema, {
    description: 'What to do when the conditions hold, how, and how to tell that it worked.',
  });
  add(actionNameSchema, {
    description: 'A snake_case action name the actuator carries out.',
    examples: ['scale_out', 'restart', 'rollback', 'clean_disk', 'open_circuit_breaker', 'page'],
  });
  add(params.args, { description: ARGS_HELP });
  add(actuatorRefSchema, {
    description:
      'How the action reaches its target. http: POST to url (or AUTOGLM_HTTP_ACTUATOR_URL), whose origin must be in AUTOGLM_HTTP_ALLOWED_ORIGINS. command: run an executable by name from AUTOGLM_COMMAND_DIR, no shell.',
  });
  add(params.mode, {
    description:
      'enforce: start the remediation. shadow: publish the decision to autoglm.decisions and start nothing.',
  });
  add(params.cooldown, {
    description: `How long after a remediation of the entity by this rule ends before the rule may act on it again: ${DURATION_HELP}.`,
    examples: ['10m', '30m'],
  });
  add(params.for.unwrap(), {
    description: `One decision per episode: how long the conditions must hold, observation after observation, before the rule decides (Prometheus's \`for\`); absent, with keepFiringFor absent too, every matching observation decides (subject to the cooldown). At most 24h: ${DURATION_HELP}.`,
    examples: ['1m', '5m'],
  });
  add(params.keepFiringFor.unwrap(), {
    description: `One decision per episode: how long without a match before the episode is over, so a condition that flaps is one incident (Prometheus's keep_firing_for); a match after that opens a new episode. Giving only this decides at the first match. At most 24h: ${DURATION_HELP}.`,
    examples: ['10m', '30m'],
  });
  add(params.approval, {
    description:
      'required: the remediation waits for `autoglm approve|reject` (or the approve/reject signal or update from the Temporal UI) and expires after AUTOGLM_APPROVAL_TIMEOUT.',
  });
  add(params.priority.unwrap(), {
    description:
      'The remediation’s lane, 1 (most urgent) to 5 (not the rule’s json-rules-engine `priority` above): urgent lanes start first, pass the action budget’s queue first and run first on the act and verify workers (Temporal priority keys). A number, or {"lane", "tier", "confidence"}: a tier-1 service (catalog.json) goes one lane up unless "tier" is false; with "confidence", one lane up when the classifier is at least that sure. Absent: lane 3 with no raise, as before lanes. `autoglm rules explain` shows the lane and why.',
    examples: [2, { lane: 2, confidence: 0.9 }],
  });
  add(verifySpecSchema, {
    description:
      'What must hold on the entity’s observations after the action: the conditions, held for stableFor, before the deadline `within`.',
  });
  add(verify.stableFor.unwrap(), {
    id: 'duration',
    description: `A duration: ${DURATION_HELP}.`,
    examples: ['30s', '5m', '1h'],
  });
  add(verify.within, { description: `Deadline from the action, at most 1h: ${DURATION_HELP}.` });
  add(verify.stableFor, { description: 'How long the conditions must hold without a break.' });
  add(followUpSchema, { id: 'followUp', description: 'A follow-up action and its args.' });
  add(followUpSchema.shape.args, { description: ARGS_HELP });
  add(params.onVerifyFailure, {
    description:
      'Compensation, run when verification fails (verdict: compensated): undo the action, or limit the damage when it cannot be undone.',
  });
  add(params.escalate, {
    description: 'Run when the remediation did not end verified, for example page the owner.',
  });
  return registry;
}

/** json-rules-engine's own operator and decorator names: the engine, not a copied list, says what runs. */
function engineOperators(): { operators: string[]; decorators: string[] } {
  const map = (new Engine() as unknown as { operators?: { operators?: unknown; decorators?: unknown } })
    .operators;
  if (!(map?.operators instanceof Map) || !(map.decorators instanceof Map))
    throw new Error('json-rules-engine no longer keeps operators in engine.operators: update rule-schema.ts');
  return {
    operators: [...map.operators.keys()].map(String),
    decorators: [...map.decorators.keys()].map(String),
  };
}

/** The keys that nest conditions, at the top of a tree and inside it. */
const BRANCHES = {
  all: {
    type: 'array',
    items: { $ref: '#/$defs/condition' },
    description: 'Holds when every condition holds.',
  },
  any: {
    type: 'array',
    items: { $ref: '#/$defs/condition' },
    description: 'Holds when at least one condition holds.',
  },
  not: { $ref: '#/$defs/condition', description: 'Holds when the condition does not.' },
  condition: { type: 'string', description: 'A shared condition, by name.' },
};

/**
 * The condition tree as editors need it. zod checks only the top-level key (the engine checks the
 * rest when the rule loads); this describes each condition from the engine's operators and the
 * facts reference, so an unknown fact or operator is marked as it is typed.
 */
function conditionDefs(): Record<string, object> {
  const { operators, decorators } = engineOperators();
  const contextFacts = Object.keys(CONTEXT_FACTS);
  return {
    condition: {
      type: 'object',
      description: 'One condition {fact, operator, value}, or a nested "all", "any" or "not".',
      oneOf: [
        ...Object.keys(BRANCHES).map((k) => ({ required: [k] })),
        { required: ['fact', 'operator', 'value'] },
      ],
      properties: {
        ...BRANCHES,
        fact: { $ref: '#/$defs/fact' },
        operator: { $ref: '#/$defs/operator' },
        value: {
          description: 'What the fact is compared with: a value, or {"fact": "<name>"} for another fact.',
        },
        path: { type: 'string', description: 'A JSONPath into the fact’s value, for example "$.class".' },
        params: { type: 'object', description: 'Parameters passed to the fact.' },
        name: { type: 'string', description: 'A name for this condition, shown in results.' },
        priority: { type: 'integer', minimum: 1, description: 'Higher is evaluated first.' },
      },
    },
    fact: {
      type: 'string',
      description: `A window or baseline feature <metric>.<${METRIC_STATS.join('|')}>, or a context fact: ${contextFacts.map((f) => `${f} (${CONTEXT_FACTS[f]})`).join('; ')}.`,
      anyOf: [{ enum: contextFacts }, { pattern: `^[a-z][a-z0-9_]*\\.(${METRIC_STATS.join('|')})$` }],
      examples: [...contextFacts, ...EXAMPLE_METRICS.flatMap((m) => METRIC_STATS.map((s) => `${m}.${s}`))],
    },
    operator: {
      type: 'string',
      description: `A json-rules-engine operator, optionally behind decorators (${decorators.map((d) => `${d}:`).join(', ')}), for example "not:contains".`,
      anyOf: [{ enum: operators }, { pattern: `^((${decorators.join('|')}):)+(${operators.join('|')})$` }],
    },
  };
}

/** The JSON Schema of a rule file: zod's input shape (defaults optional), described for editors. */
export function ruleJsonSchema(): Record<string, unknown> {
  const generated = z.toJSONSchema(ruleFileSchema, {
    target: 'draft-2020-12',
    io: 'input',
    metadata: docs(),
    override: ({ zodSchema, jsonSchema }) => {
      if (zodSchema !== conditionsSchema) return;
      // zod sees a record and drops its refinement (a top-level all/any/not/condition): say it here.
      delete jsonSchema.propertyNames;
      delete jsonSchema.additionalProperties;
      jsonSchema.anyOf = Object.keys(BRANCHES).map((k) => ({ required: [k] }));
      jsonSchema.properties = BRANCHES as Record<string, z.core.JSONSchema.JSONSchema>;
    },
  }) as Record<string, unknown>;
  const { $schema, title, description, $defs, ...rest } = generated;
  return {
    $schema,
    $id: 'rule.schema.json',
    title,
    description,
    ...rest,
    $defs: { ...($defs as object), ...conditionDefs() },
  };
}

/** The schema file's text: pretty-printed as prettier prints JSON here, with a trailing newline. */
export function renderRuleJsonSchema(): string {
  return `${formatJson(ruleJsonSchema(), 0, 0)}\n`;
}

/**
 * JSON in prettier's layout: objects one member per line; an array of plain values on one line
 * when it fits the print width (with what precedes and follows it), else one value per line.
 */
function formatJson(value: unknown, indent: number, taken: number, after = 0): string {
  const pad = ' '.repeat(indent + 2);
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    if (value.every((v) => v === null || typeof v !== 'object')) {
      const line = `[${value.map((v) => JSON.stringify(v)).join(', ')}]`;
      if (taken + line.length + after <= PRINT_WIDTH) return line;
    }
    const items = value.map(
      (v, i) => pad + formatJson(v, indent + 2, pad.length, i < value.length - 1 ? 1 : 0),
    );
    return `[\n${items.join(',\n')}\n${' '.repeat(indent)}]`;
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return '{}';
    const members = entries.map(([k, v], i) => {
      const key = `${pad}${JSON.stringify(k)}: `;
      return key + formatJson(v, indent + 2, key.length, i < entries.length - 1 ? 1 : 0);
    });
    return `{\n${members.join(',\n')}\n${' '.repeat(indent)}}`;
  }
  return JSON.stringify(value);
}

if (isEntryPoint(import.meta.url)) {
  fs.writeFileSync(RULE_SCHEMA_FILE, renderRuleJsonSchema());
  process.stdout.write(`wrote ${RULE_SCHEMA_FILE}\n`);
}

/**
 * The model config file (`models/<name>.config.json`): the zero-code definition of a GLM. Parsed
 * once into a frozen ModelConfig; every problem is listed with its field and the fix.
 */
import fs from 'node:fs';
import { CONTEXT_FACTS, METRIC_STATS, closest } from '../common/facts-reference.js';
import type { FeatureSpec, ModelConfig } from './model-types.js';
import { derivedOperands } from './vectorize.js';

/** The model config file was refused; `problems` names each field and its fix. */
export class ModelConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`model config refused:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ModelConfigError';
  }
}

const NAME = /^[a-z0-9][a-z0-9._-]*$/;
const WINDOW_FEATURE = /^([a-z][a-z0-9_]*)\.([a-z0-9_]+)$/;
const TOP_KEYS = [
  'name',
  'model_type',
  'link_function',
  'regularization',
  'features',
  'classes',
  'class_weight',
  'split',
  'abstain',
  'augment',
];
const DEFAULT_SPLIT = { test: 0.2, seed: 42 } as const;

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);
const show = (v: unknown): string => (v === undefined ? 'missing' : JSON.stringify(v));

/** Validates a parsed config file; `where` (the file name) prefixes every problem. */
export function parseModelConfig(
  json: unknown,
  where?: string,
): { config: ModelConfig } | { problems: string[] } {
  const problems: string[] = [];
  const problem = (field: string, message: string) =>
    problems.push(`${where ? `${where}: ` : ''}${field}: ${message}`);
  if (!isObject(json)) {
    problem('(top level)', 'must be a JSON object such as {"name": "incident-classifier", …}');
    return { problems };
  }
  for (const key of Object.keys(json))
    if (!TOP_KEYS.includes(key)) problem(key, `is not a config field; the fields are ${TOP_KEYS.join(', ')}`);

  const name = json.name;
  if (typeof name !== 'string' || !NAME.test(name))
    problem(
      'name',
      `is ${show(name)}: use lower-case letters, digits, . _ - (for example "incident-classifier")`,
    );
  if (json.model_type !== 'GLM') problem('model_type', `is ${show(json.model_type)}: must be "GLM"`);
  const link = json.link_function;
  if (link !== 'logit' && link !== 'softmax')
    problem(
      'link_function',
      `unknown link function ${show(link)}: use "logit" (two classes) or "softmax" (two or more)`,
    );

  const regularization = parseRegularization(json.regularization, problem);
  const features = parseFeatures(json.features, problem);
  const classes = parseClasses(json.classes, link, problem);
  const classWeight = parseClassWeight(json.class_weight, classes, problem);
  const split = parseSplit(json.split, problem);
  const abstain = parseAbstain(json.abstain, problem);
  const augment = parseAugment(json.augment, problem);

  if (problems.length > 0 || !regularization || !features || !classes) return { problems };
  const config: ModelConfig = {
    name: name as string,
    model_type: 'GLM',
    link_function: link as 'logit' | 'softmax',
    regularization,
    features,
    classes,
    ...(classWeight !== undefined ? { class_weight: classWeight } : {}),
    split: split ?? DEFAULT_SPLIT,
    ...(abstain !== undefined ? { abstain } : {}),
    ...(augment !== undefined ? { augment } : {}),
  };
  return { config: deepFreeze(config) };
}

/** Reads and validates a config file; throws ModelConfigError listing every problem. */
export function readModelConfig(file: string): ModelConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ModelConfigError([`${file}: cannot be read (${(err as Error).message})`]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ModelConfigError([`${file}: is not valid JSON (${(err as Error).message})`]);
  }
  const parsed = parseModelConfig(json, file);
  if ('problems' in parsed) throw new ModelConfigError(parsed.problems);
  return parsed.config;
}

type Problem = (field: string, message: string) => void;

function parseRegularization(value: unknown, problem: Problem): ModelConfig['regularization'] | undefined {
  if (!isObject(value)) {
    problem('regularization', 'must be an object such as {"alpha": 0.5, "lambda": "auto"}');
    return undefined;
  }
  for (const key of Object.keys(value))
    if (key !== 'alpha' && key !== 'lambda')
      problem(`regularization.${key}`, 'is not a regularization field; the fields are alpha and lambda');
  const { alpha, lambda } = value;
  let ok = true;
  if (typeof alpha !== 'number' || !Number.isFinite(alpha) || alpha < 0 || alpha > 1) {
    problem('regularization.alpha', 'must be between 0 (ridge) and 1 (lasso)');
    ok = false;
  }
  if (lambda !== 'auto' && (typeof lambda !== 'number' || !Number.isFinite(lambda) || lambda < 0)) {
    problem('regularization.lambda', 'must be ≥ 0 or "auto"');
    ok = false;
  }
  return ok ? { alpha: alpha as number, lambda: lambda as number | 'auto' } : undefined;
}

function parseFeatures(value: unknown, problem: Problem): FeatureSpec[] | undefined {
  if (!Array.isArray(value) || value.length === 0) {
    problem('features', 'must be a non-empty list such as ["cpu.avg", "mem.slope"]');
    return undefined;
  }
  const features: FeatureSpec[] = [];
  const seen = new Set<string>();
  let ok = true;
  value.forEach((f: unknown, i) => {
    const field = `features[${i}]`;
    const spec = parseFeature(f, field, problem);
    if (!spec) {
      ok = false;
      return;
    }
    if (seen.has(spec.name)) {
      problem(field, `"${spec.name}" is listed twice; list each feature once`);
      ok = false;
    }
    seen.add(spec.name);
    features.push(spec);
  });
  return ok ? features : undefined;
}

function parseFeature(f: unknown, field: string, problem: Problem): FeatureSpec | undefined {
  if (typeof f === 'string') {
    const derived = derivedOperands(f);
    if (derived) {
      const bad = derived.args
        .map((a) => [a, WINDOW_FEATURE.exec(a)] as const)
        .filter(([, m]) => !(m && (METRIC_STATS as readonly string[]).includes(m[2]!)));
      if (bad.length === 0) return { kind: 'numeric', name: f };
      for (const [a, m] of bad) problem(field, `in "${f}": ${unknownFeature(a, m?.[1], m?.[2])}`);
      return undefined;
    }
    if (/^[a-z_]+\(/.test(f)) {
      problem(
        field,
        `unknown input "${f}": derived inputs are slog(<metric>.<stat>) and log_ratio(<metric>.<stat>,<metric>.<stat>), no spaces`,
      );
      return undefined;
    }
    const match = WINDOW_FEATURE.exec(f);
    if (match && (METRIC_STATS as readonly string[]).includes(match[2]!)) return { kind: 'numeric', name: f };
    problem(field, unknownFeature(f, match?.[1], match?.[2]));
    return undefined;
  }
  if (!isObject(f)) {
    problem(
      field,
      'must be a window feature such as "cpu.avg" or {"name": "event_text", "type": "event_tokens"}',
    );
    return undefined;
  }
  let ok = true;
  for (const key of Object.keys(f))
    if (key !== 'name' && key !== 'type' && key !== 'buckets') {
      problem(`${field}.${key}`, 'is not a feature field; the fields are name, type and buckets');
      ok = false;
    }
  const { name, type, buckets } = f;
  if (typeof name !== 'string' || !/^[a-z][a-z0-9_]*$/.test(name)) {
    problem(`${field}.name`, 'use lower-case letters, digits and _ (for example "event_text")');
    ok = false;
  }
  if (type !== 'event_tokens') {
    problem(`${field}.type`, `unknown feature type ${show(type)}: the only type is "event_tokens"`);
    ok = false;
  }
  const count = buckets ?? 64;
  if (
    typeof count !== 'number' ||
    !Number.isInteger(count) ||
    count < 8 ||
    count > 4096 ||
    (count & (count - 1)) !== 0
  ) {
    problem(`${field}.buckets`, 'must be a power of two from 8 to 4096 (for example 64)');
    ok = false;
  }
  return ok ? { kind: 'event_tokens', name: name as string, buckets: count as number } : undefined;
}

/**
 * Why `name` is not a window feature, with the nearest one. Like facts-reference's unknownFact, but
 * naming only window features: a model cannot take a context fact such as "tier" as an input.
 */
function unknownFeature(name: string, metric: string | undefined, stat: string | undefined): string {
  const form = `<metric>.<${METRIC_STATS.join('|')}>`;
  if (Object.hasOwn(CONTEXT_FACTS, name))
    return `"${name}" is a context fact, not a window feature: use ${form}`;
  const guess = stat !== undefined ? closest(stat, METRIC_STATS) : undefined;
  const hint =
    metric !== undefined && guess ? `; did you mean "${metric}.${guess}"?` : ' (for example "cpu.avg")';
  return `unknown feature "${name}": features are ${form}${hint}`;
}

function parseClasses(value: unknown, link: unknown, problem: Problem): string[] | undefined {
  if (!Array.isArray(value) || value.some((c) => typeof c !== 'string' || c.length === 0)) {
    problem('classes', 'must be a list of class names such as ["healthy", "memory_leak"]');
    return undefined;
  }
  const classes = value as string[];
  let ok = true;
  const duplicates = classes.filter((c, i) => classes.indexOf(c) !== i);
  if (duplicates.length > 0) {
    problem(
      'classes',
      `${[...new Set(duplicates)].map((c) => `"${c}"`).join(', ')} listed twice; list each class once`,
    );
    ok = false;
  }
  if (link === 'logit' && classes.length !== 2) {
    problem(
      'classes',
      `logit takes exactly 2 classes (the negative first), not ${classes.length}; use "softmax" for more`,
    );
    ok = false;
  } else if (classes.length < 2) {
    problem('classes', 'name at least 2 classes');
    ok = false;
  }
  return ok ? classes : undefined;
}

function parseClassWeight(
  value: unknown,
  classes: readonly string[] | undefined,
  problem: Problem,
): ModelConfig['class_weight'] {
  if (value === undefined || value === 'balanced') return value;
  if (!isObject(value)) {
    problem('class_weight', 'must be "balanced" or {class: weight}, such as {"memory_leak": 5}');
    return undefined;
  }
  const weights: Record<string, number> = {};
  for (const [cls, weight] of Object.entries(value)) {
    if (classes && !classes.includes(cls))
      problem(`class_weight.${cls}`, `is not a class; the classes are ${classes.join(', ')}`);
    else if (typeof weight !== 'number' || !Number.isFinite(weight) || weight <= 0)
      problem(`class_weight.${cls}`, 'must be a number > 0');
    else weights[cls] = weight;
  }
  return weights;
}

function parseSplit(value: unknown, problem: Problem): ModelConfig['split'] {
  if (value === undefined) return undefined;
  if (!isObject(value)) {
    problem('split', 'must be an object such as {"test": 0.2, "seed": 42}');
    return undefined;
  }
  const test = value.test ?? DEFAULT_SPLIT.test;
  const seed = value.seed ?? DEFAULT_SPLIT.seed;
  for (const key of Object.keys(value))
    if (key !== 'test' && key !== 'seed')
      problem(`split.${key}`, 'is not a split field; the fields are test and seed');
  let ok = true;
  if (typeof test !== 'number' || !(test > 0 && test < 1)) {
    problem('split.test', 'must be a share between 0 and 1 (for example 0.2)');
    ok = false;
  }
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) {
    problem('split.seed', 'must be a whole number (for example 42)');
    ok = false;
  }
  return ok ? { test: test as number, seed: seed as number } : undefined;
}

function parseAbstain(value: unknown, problem: Problem): ModelConfig['abstain'] {
  if (value === undefined) return undefined;
  if (!isObject(value)) {
    problem('abstain', 'must be an object such as {"min_confidence": 0.5}');
    return undefined;
  }
  for (const key of Object.keys(value))
    if (key !== 'min_confidence')
      problem(`abstain.${key}`, 'is not an abstain field; the field is min_confidence');
  const min = value.min_confidence;
  if (typeof min !== 'number' || !(min >= 0 && min < 1)) {
    problem(
      'abstain.min_confidence',
      'must be a probability from 0 (never abstain when sure) to below 1, e.g. 0.5',
    );
    return undefined;
  }
  return { min_confidence: min };
}

function parseAugment(value: unknown, problem: Problem): ModelConfig['augment'] {
  if (value === undefined) return undefined;
  if (!isObject(value)) {
    problem('augment', 'must be an object such as {"copies": 1, "seed": 11}');
    return undefined;
  }
  for (const key of Object.keys(value))
    if (key !== 'copies' && key !== 'seed')
      problem(`augment.${key}`, 'is not an augment field; the fields are copies and seed');
  const { copies, seed } = value;
  const okCopies = Number.isInteger(copies) && (copies as number) >= 0 && (copies as number) <= 20;
  const okSeed = Number.isInteger(seed);
  if (!okCopies)
    problem('augment.copies', `is ${show(copies)}: must be a whole number of copies per row from 0 to 20`);
  if (!okSeed) problem('augment.seed', `is ${show(seed)}: must be a whole number (for example 11)`);
  return okCopies && okSeed ? { copies: copies as number, seed: seed as number } : undefined;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

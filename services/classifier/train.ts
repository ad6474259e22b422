/**
 * Trains a GLM from a validated config and labeled rows: seeded split, standardization from the
 * training rows, collinearity warnings, then the elastic net at a fixed lambda or at the lambda a
 * cross-validated regularization path picks. Pure: no files, no clock unless `now` is left out.
 */
import { createHash } from 'node:crypto';
import {
  type Design,
  type Problem,
  type SolveOptions,
  lambdaMax,
  metricOf,
  interceptOnly,
  lossAndGradient,
  makeProblem,
  makeScratch,
  solve,
} from './elastic-net.js';
import type {
  FeatureSpec,
  GlmModel,
  LabeledRow,
  ModelConfig,
  ModelInput,
  NegativeRow,
} from './model-types.js';
import { seededRandom, shuffleInPlace } from './seeded-random.js';
import { abstainThresholds } from './abstain.js';
import { augmentRows } from './augment.js';
import { columnCount, columnsOf, eventText, hashToken, tokenize, vectorize } from './vectorize.js';

/** What training did, for the CLI and the model card. */
export interface TrainReport {
  /** Solver iterations of the final fit (at the chosen lambda). */
  iterations: number;
  /** The penalized objective (weighted mean log loss + penalty) of the final fit on the training rows. */
  finalLoss: number;
  lambda: number;
  /** With lambda "auto": each lambda tried and its mean held-out log loss over the folds. */
  lambdaPath?: Array<{ lambda: number; cvLoss: number }>;
  warnings: string[];
  trainRows: number;
  testRows: number;
  /** Negative (`notClass`) rows trained on, by the class they are not; absent when there were none. */
  negativeRows?: Record<string, number>;
}

const TOLERANCE = 1e-7;
/**
 * Looser for the path's cross-validation and warm-start fits: they only rank lambdas by held-out
 * loss (compared to 3-4 digits), and it halves the training time of lambda "auto".
 */
const PATH_TOLERANCE = 1e-5;
const MAX_ITERATIONS = 2000;
const PATH_LENGTH = 12;
const PATH_RATIO = 1e-4;
const FOLDS = 5;
const COLLINEAR = 0.95;
/** Tokens named per hashed bucket in the model, for inspect. */
const TOKENS_PER_BUCKET = 3;

/**
 * Trains the model `config` describes on `rows`; returns it with its report and the split used.
 * `opts.negatives` are refuted rows (`notClass`): soft negatives whose target spreads evenly over
 * the other classes (with two classes: the other class), weighted as the mean of those classes'
 * weights. They all train: held-out metrics need rows of a known class.
 */
export function trainGlm(
  config: ModelConfig,
  rows: readonly LabeledRow[],
  opts: { version?: string; now?: Date; negatives?: readonly NegativeRow[] } = {},
): { model: GlmModel; report: TrainReport; train: LabeledRow[]; test: LabeledRow[] } {
  const classes = config.classes;
  const classIndex = new Map(classes.map((c, i) => [c, i]));
  for (const [i, row] of rows.entries())
    if (!classIndex.has(row.label))
      throw new Error(
        `row ${i + 1}: label: unknown class "${row.label}": the classes are ${classes.join(', ')}`,
      );
  const negatives = opts.negatives ?? [];
  for (const [i, row] of negatives.entries())
    if (!classIndex.has(row.notClass))
      throw new Error(
        `negative row ${i + 1}: notClass: unknown class "${row.notClass}": the classes are ${classes.join(', ')}`,
      );
  const { train, test } = splitRows(rows, classes, config.split ?? { test: 0.2, seed: 42 });
  if (train.length === 0) throw new Error('no training rows: the dataset is empty');
  const warnings: string[] = [];
  if (test.length === 0)
    warnings.push('the test split is empty: add rows or raise split.test to evaluate the model');

  const outputs = config.link_function === 'logit' ? 1 : classes.length;
  // Augmented copies train; the split, the report and the abstain thresholds keep the rows given.
  const fitRows = config.augment ? augmentRows(train, config.augment) : train;
  const examples: Example[] = [
    ...fitRows.map((row) => ({ input: row, label: classIndex.get(row.label)!, negative: false })),
    ...negatives.map((row) => ({ input: row, label: classIndex.get(row.notClass)!, negative: true })),
  ];
  const { design, mean, bucketTokens } = buildDesign(config.features, examples, warnings);
  warnings.push(...collinearity(design, config.features));
  // Class balance and coverage count the rows of a known class.
  const counts = new Array<number>(classes.length).fill(0);
  for (const e of examples) if (!e.negative) counts[e.label]!++;
  counts.forEach((c, k) => {
    if (c === 0) warnings.push(`class "${classes[k]}" has no training rows: the model cannot learn it`);
  });
  const classWeight = classWeights(config, counts);

  const { alpha, lambda: configured } = config.regularization;
  const all = makeProblem(design, Int32Array.from(examples.keys()), classWeight, outputs);
  const scratch = makeScratch(design.columns, outputs);
  const W = new Float64Array(design.columns * outputs);
  const b = interceptOnly(all, classes.length);
  let lambda: number;
  let lambdaPath: TrainReport['lambdaPath'];
  let fit;
  if (configured === 'auto') {
    const path = lambdaSequence(lambdaMax(all, classes.length, alpha, scratch));
    const cvLoss = crossValidate(
      design,
      path,
      alpha,
      classWeight,
      outputs,
      classes.length,
      config.split?.seed ?? 42,
    );
    lambdaPath = path.map((l, i) => ({ lambda: l, cvLoss: cvLoss[i]! }));
    const best = cvLoss.indexOf(Math.min(...cvLoss));
    lambda = path[best]!;
    const options = solveOptions(all);
    const pathOptions = { ...options, tolerance: PATH_TOLERANCE };
    for (let i = 0; i < best; i++) solve(all, path[i]!, alpha, W, b, scratch, pathOptions);
    fit = solve(all, lambda, alpha, W, b, scratch, options);
  } else {
    lambda = configured;
    fit = solve(all, lambda, alpha, W, b, scratch, solveOptions(all));
  }
  if (!fit.converged)
    warnings.push(
      `the solver did not converge in ${MAX_ITERATIONS} iterations at lambda ${lambda.toPrecision(3)}: ` +
        'raise lambda, or drop features that separate the classes perfectly',
    );

  const version = opts.version ?? modelVersion(config, opts.now ?? new Date());
  const model: GlmModel = {
    name: config.name,
    version,
    link: config.link_function,
    classes: [...classes],
    features: config.features.map((f) => ({ ...f })),
    columns: columnsOf(config.features),
    mean,
    scale: Array.from(design.scale),
    weights: Array.from({ length: design.columns }, (_, j) =>
      Array.from(W.subarray(j * outputs, (j + 1) * outputs)),
    ),
    intercepts: Array.from(b),
    ...(Object.keys(bucketTokens).length > 0 ? { bucketTokens } : {}),
  };
  const withAbstain: GlmModel = {
    ...model,
    abstain: abstainThresholds(model, train, config.abstain?.min_confidence),
  };
  const report: TrainReport = {
    iterations: fit.iterations,
    finalLoss: fit.objective,
    lambda,
    ...(lambdaPath ? { lambdaPath } : {}),
    warnings,
    trainRows: train.length,
    testRows: test.length,
    ...(negatives.length > 0 ? { negativeRows: countBy(negatives.map((r) => r.notClass)) } : {}),
  };
  return { model: withAbstain, report, train, test };
}

function countBy(values: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const v of values) counts[v] = (counts[v] ?? 0) + 1;
  return counts;
}

/** `<name>-<yyyymmddhhmmss UTC>-<first 8 hex of sha256 of the config JSON>`. */
export function modelVersion(config: ModelConfig, now: Date): string {
  const stamp = now.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  const hash = createHash('sha256').update(JSON.stringify(config)).digest('hex').slice(0, 8);
  return `${config.name}-${stamp}-${hash}`;
}

/** A seeded split, stratified by class so a rare class lands in both parts; rows keep their order. */
export function splitRows(
  rows: readonly LabeledRow[],
  classes: readonly string[],
  split: { readonly test: number; readonly seed: number },
): { train: LabeledRow[]; test: LabeledRow[] } {
  const random = seededRandom(split.seed);
  const isTest = new Uint8Array(rows.length);
  for (const cls of classes) {
    const members = shuffleInPlace(
      [...rows.keys()].filter((i) => rows[i]!.label === cls),
      random,
    );
    const take = Math.round(members.length * split.test);
    for (let t = 0; t < take; t++) isTest[members[t]!] = 1;
  }
  return { train: rows.filter((_, i) => !isTest[i]), test: rows.filter((_, i) => isTest[i]) };
}

/** One training row: its input, its class index (the class it is not, for a negative row). */
interface Example {
  readonly input: ModelInput;
  readonly label: number;
  readonly negative: boolean;
}

/** Training rows as a sparse design with training means (imputing missing values) and scales. */
function buildDesign(
  features: readonly FeatureSpec[],
  examples: readonly Example[],
  warnings: string[],
): { design: Design; mean: number[]; bucketTokens: Record<string, string[]> } {
  const p = columnCount(features);
  const numeric = features.filter((f) => f.kind === 'numeric').length;
  const names = columnsOf(features);
  const n = examples.length;
  const x = new Float64Array(p);
  const rowStart = new Int32Array(n + 1);
  const column: number[] = [];
  const value: number[] = [];
  const label = new Int32Array(n);
  const negative = new Uint8Array(n);
  const sum = new Float64Array(p);
  const observed = new Float64Array(p).fill(n);
  for (let i = 0; i < n; i++) {
    const example = examples[i]!;
    vectorize(example.input, features, undefined, x);
    for (let j = 0; j < p; j++) {
      const v = x[j]!;
      if (Number.isNaN(v)) observed[j]!--;
      else sum[j]! += v;
      if (v !== 0) {
        column.push(j);
        value.push(v);
      }
    }
    label[i] = example.label;
    negative[i] = example.negative ? 1 : 0;
    rowStart[i + 1] = column.length;
  }
  const mean = Array.from(sum, (s, j) => (observed[j]! > 0 ? s / observed[j]! : 0));
  const values = Float64Array.from(value);
  const columns = Int32Array.from(column);
  // Numeric columns are stored centered (missing → 0, the mean); token columns raw.
  for (let q = 0; q < values.length; q++) {
    const j = columns[q]!;
    if (j < numeric) values[q] = Number.isNaN(values[q]!) ? 0 : values[q]! - mean[j]!;
  }
  const center = new Float64Array(p);
  for (let j = numeric; j < p; j++) center[j] = mean[j]!;
  const squares = new Float64Array(p);
  const stored = new Float64Array(p);
  for (let q = 0; q < values.length; q++) {
    const j = columns[q]!;
    const d = values[q]! - center[j]!;
    squares[j]! += d * d;
    stored[j]!++;
  }
  const scale = new Float64Array(p);
  for (let j = 0; j < p; j++) {
    const variance = (squares[j]! + (n - stored[j]!) * center[j]! * center[j]!) / n;
    const sd = Math.sqrt(variance);
    const constant = !(sd > 1e-9 * Math.max(1, Math.abs(mean[j]!)));
    scale[j] = constant ? 1 : sd;
    if (j >= numeric) continue;
    if (observed[j] === 0)
      warnings.push(`${names[j]} is missing in every training row: it carries no information`);
    else if (constant)
      warnings.push(`${names[j]} is constant in the training rows: it carries no information`);
  }
  const design: Design = {
    rows: n,
    columns: p,
    rowStart,
    column: columns,
    value: values,
    center,
    scale,
    label,
    ...(negative.includes(1) ? { negative } : {}),
  };
  return {
    design,
    mean,
    bucketTokens: tokensByBucket(
      features,
      examples.map((e) => e.input),
    ),
  };
}

/** The most frequent training tokens of each hashed bucket, so inspect can say what a bucket means. */
function tokensByBucket(
  features: readonly FeatureSpec[],
  rows: readonly ModelInput[],
): Record<string, string[]> {
  const result: Record<string, string[]> = {};
  for (const f of features) {
    if (f.kind !== 'event_tokens') continue;
    const counts = new Map<string, number>();
    for (const row of rows)
      for (const event of row.events)
        for (const token of tokenize(eventText(event))) counts.set(token, (counts.get(token) ?? 0) + 1);
    const buckets = new Map<number, Array<[string, number]>>();
    for (const [token, count] of counts) {
      const bucket = hashToken(token, f.buckets);
      const list = buckets.get(bucket) ?? [];
      list.push([token, count]);
      buckets.set(bucket, list);
    }
    for (const [bucket, list] of [...buckets].sort((a, c) => a[0] - c[0]))
      result[`${f.name}#${bucket}`] = list
        .sort((a, c) => c[1] - a[1] || (a[0] < c[0] ? -1 : 1))
        .slice(0, TOKENS_PER_BUCKET)
        .map(([token]) => token);
  }
  return result;
}

/** One warning per pair of numeric columns whose training values correlate with |r| ≥ 0.95. */
function collinearity(design: Design, features: readonly FeatureSpec[]): string[] {
  const names = features.filter((f) => f.kind === 'numeric').map((f) => f.name);
  const m = names.length;
  if (m < 2) return [];
  const n = design.rows;
  // Numeric columns come first and are stored centered: densify them, standardized.
  const z = new Float64Array(n * m);
  for (let i = 0; i < n; i++)
    for (let q = design.rowStart[i]!; q < design.rowStart[i + 1]!; q++) {
      const j = design.column[q]!;
      if (j < m) z[i * m + j] = design.value[q]! / design.scale[j]!;
    }
  const cross = new Float64Array(m * m);
  for (let i = 0; i < n; i++) {
    const base = i * m;
    for (let a = 0; a < m; a++) {
      const za = z[base + a]!;
      if (za === 0) continue;
      for (let c = a + 1; c < m; c++) cross[a * m + c]! += za * z[base + c]!;
    }
  }
  const warnings: string[] = [];
  for (let a = 0; a < m; a++)
    for (let c = a + 1; c < m; c++) {
      const r = cross[a * m + c]! / n;
      if (Math.abs(r) >= COLLINEAR)
        warnings.push(
          `${names[a]} and ${names[c]} are collinear (r = ${r.toFixed(2)}): consider dropping one`,
        );
    }
  return warnings;
}

/** Per-class sample weights: 1, the config's, or "balanced" (n / (classes · n_class), as scikit-learn). */
function classWeights(config: ModelConfig, counts: readonly number[]): Float64Array {
  const n = counts.reduce((a, c) => a + c, 0);
  const present = counts.filter((c) => c > 0).length;
  return Float64Array.from(config.classes, (cls, k) => {
    const cw = config.class_weight;
    if (cw === 'balanced') return counts[k]! > 0 ? n / (present * counts[k]!) : 1;
    return cw?.[cls] ?? 1;
  });
}

/** PATH_LENGTH lambdas, log-spaced from `max` down to max·PATH_RATIO. */
function lambdaSequence(max: number): number[] {
  return Array.from({ length: PATH_LENGTH }, (_, i) => max * PATH_RATIO ** (i / (PATH_LENGTH - 1)));
}

function solveOptions(problem: Problem): SolveOptions {
  return { metric: metricOf(problem), tolerance: TOLERANCE, maxIterations: MAX_ITERATIONS };
}

/**
 * Mean held-out weighted log loss of each path lambda over seeded, stratified folds, fitting each
 * fold's path with warm starts. Folds share the training rows' standardization: it uses no labels,
 * and refitting it per fold would change little and cost a design per fold.
 */
function crossValidate(
  design: Design,
  path: readonly number[],
  alpha: number,
  classWeight: Float64Array,
  outputs: number,
  classes: number,
  seed: number,
): number[] {
  const random = seededRandom(seed + 1);
  const fold = new Int32Array(design.rows);
  // Stratified by class, and negative rows by the class they are not.
  const negative = (i: number) => design.negative?.[i] === 1;
  for (const soft of [false, true])
    for (let k = 0; k < classes; k++) {
      const members = shuffleInPlace(
        [...design.label.keys()].filter((i) => design.label[i] === k && negative(i) === soft),
        random,
      );
      members.forEach((i, t) => (fold[i] = t % FOLDS));
    }
  const scratch = makeScratch(design.columns, outputs);
  const total = new Array<number>(path.length).fill(0);
  let used = 0;
  for (let f = 0; f < FOLDS; f++) {
    const inRows = Int32Array.from(fold.keys()).filter((i) => fold[i] !== f);
    const outRows = Int32Array.from(fold.keys()).filter((i) => fold[i] === f);
    if (outRows.length === 0 || inRows.length === 0) continue;
    used++;
    const fitOn = makeProblem(design, inRows, classWeight, outputs);
    const heldOut = makeProblem(design, outRows, classWeight, outputs);
    const options = { ...solveOptions(fitOn), tolerance: PATH_TOLERANCE };
    const W = new Float64Array(design.columns * outputs);
    const b = interceptOnly(fitOn, classes);
    path.forEach((lambda, i) => {
      solve(fitOn, lambda, alpha, W, b, scratch, options);
      total[i]! += lossAndGradient(heldOut, W, b, scratch);
    });
  }
  return total.map((t) => t / Math.max(used, 1));
}

/**
 * How fast the incident classifier answers through onnxruntime, against the TypeScript reference
 * (predict.ts) measured in the same run.
 *
 *   npx tsx bench/classifier-inference.ts [model dir] [--calls=20000] [--repeats=21] [--threads=1]
 *
 * Without a model folder it writes one of the real width (16 numeric features + 64 token buckets,
 * 6 classes, softmax) with random weights to a temporary folder.
 *   - single row: classify() of one input, vectorize included, median and p99 per call;
 *   - batched: rows per second for batches of 1,000 and 10,000, through classifyVectors() (vectors
 *     ready) and classify() (vectorize included, as decide calls it); each figure is the median of
 *     `repeats` timed calls after a warm-up, and every call's answers are read (class and
 *     confidence of each fact, as rules read them; a second classify() line also reads every
 *     probability, which builds each fact's probabilities record);
 *   - reference: predict() per input and predictVector() per ready vector; vectorize() per input
 *     alone, and vectorizeRows() (classify()'s vectorizing) alone.
 * Targets: ≤ 50 µs per single row, ≥ 1,000,000 rows/s batched.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeModelFiles } from '../services/classifier/model-files.js';
import type { FeatureSpec, GlmModel, IncidentFact, ModelInput } from '../services/classifier/model-types.js';
import { IncidentClassifier } from '../services/classifier/onnx-session.js';
import { predict, predictVector } from '../services/classifier/predict.js';
import { seededGaussian, seededRandom } from '../services/classifier/seeded-random.js';
import { columnsOf, vectorize, vectorizeRows } from '../services/classifier/vectorize.js';

const flags = new Map(
  process.argv
    .slice(2)
    .filter((a) => a.startsWith('--'))
    .map((a) => a.slice(2).split('=') as [string, string]),
);
const givenDir = process.argv.slice(2).find((a) => !a.startsWith('--'));
const calls = Number(flags.get('calls') ?? 20_000);
const repeats = Number(flags.get('repeats') ?? 21);
const threads = Number(flags.get('threads') ?? 1);
const random = seededRandom(7);
const gaussian = seededGaussian(random);

/** A softmax model of the real width with random weights. */
function benchModel(): GlmModel {
  const features: FeatureSpec[] = [
    ...Array.from({ length: 16 }, (_, i) => ({ kind: 'numeric' as const, name: `metric${i}.avg` })),
    { kind: 'event_tokens', name: 'events', buckets: 64 },
  ];
  const columns = columnsOf(features);
  const classes = ['healthy', 'cpu_saturation', 'memory_leak', 'disk_full', 'crash_loop', 'network'];
  return {
    name: 'incident',
    version: 'incident-20260105120000-0bench00',
    link: 'softmax',
    classes,
    features,
    columns,
    mean: columns.map((_, j) => (j < 16 ? 100 * random() : 0.3 * random())),
    scale: columns.map((_, j) => (j < 16 ? 1 + 20 * random() : 0.1 + random())),
    weights: columns.map(() => classes.map(() => 0.7 * gaussian())),
    intercepts: classes.map(() => gaussian()),
  };
}

const words = [
  'oomkilled',
  'connection',
  'refused',
  'disk',
  'full',
  'restart',
  'timeout',
  'backoff',
  'probe',
];
function benchInput(model: GlmModel): ModelInput {
  const numeric = model.features.filter((f) => f.kind === 'numeric');
  return {
    features: Object.fromEntries(
      numeric.map((f, j) => [f.name, model.mean[j]! + model.scale[j]! * gaussian()]),
    ),
    events: Array.from({ length: Math.floor(random() * 4) }, () => ({
      kind: 'k8s',
      message: `${words[Math.floor(random() * words.length)]} ${words[Math.floor(random() * words.length)]}`,
    })),
  };
}

function percentile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** What the timed calls gave, folded into one number and printed, so that no answer goes unread. */
let sink = 0;

/**
 * Rows per second of `run` over `rows` rows: the median of `repeats` timed calls, after warm-up
 * calls for at least half a second; with the slowest and fastest call's rate.
 */
async function rowsPerSecond(
  rows: number,
  run: () => number | Promise<number>,
): Promise<{ median: number; low: number; high: number }> {
  const warm = process.hrtime.bigint();
  for (let i = 0; i < 5 || process.hrtime.bigint() - warm < 500_000_000n; i++) sink += await run();
  const seconds = new Float64Array(repeats);
  for (let r = 0; r < repeats; r++) {
    const start = process.hrtime.bigint();
    sink += await run();
    seconds[r] = Number(process.hrtime.bigint() - start) / 1e9;
  }
  seconds.sort();
  return {
    median: rows / percentile(seconds, 0.5),
    low: rows / seconds[seconds.length - 1]!,
    high: rows / seconds[0]!,
  };
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

let dir = givenDir;
if (dir === undefined) {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autoglm-bench-model-'));
  writeModelFiles(dir, benchModel(), { markdown: '# bench model\n', json: {} });
}
const classifier = await IncidentClassifier.load(dir, { intraOpNumThreads: threads });
const { model } = classifier;
const width = model.columns.length;
console.log(
  `model ${model.version}: ${model.link}, ${width} columns, ${model.classes.length} classes; ` +
    `intraOpNumThreads ${threads}; node ${process.version}, ${os.cpus().length} CPUs`,
);

const pool = Array.from({ length: 10_000 }, () => benchInput(model));

// Single row, the decide path: one classify() of one input per call.
for (let i = 0; i < 2000; i++) sink += (await classifier.classify([pool[i % pool.length]!]))[0]!.confidence;
const latencies = new Float64Array(calls);
for (let i = 0; i < calls; i++) {
  const input = [pool[i % pool.length]!];
  const start = process.hrtime.bigint();
  const [fact] = await classifier.classify(input);
  latencies[i] = Number(process.hrtime.bigint() - start) / 1000;
  sink += fact!.confidence + fact!.class.length;
}
latencies.sort();
const vectorOne = new Float32Array(width);
vectorize(pool[0]!, model.features, model.mean, vectorOne);
const vectorLatencies = new Float64Array(calls);
for (let i = 0; i < calls; i++) {
  const start = process.hrtime.bigint();
  const p = await classifier.classifyVectors(vectorOne, 1);
  vectorLatencies[i] = Number(process.hrtime.bigint() - start) / 1000;
  sink += p[0]!;
}
vectorLatencies.sort();
const referenceLatencies = new Float64Array(calls);
for (let i = 0; i < calls; i++) {
  const input = pool[i % pool.length]!;
  const start = process.hrtime.bigint();
  const answer = predict(model, input);
  referenceLatencies[i] = Number(process.hrtime.bigint() - start) / 1000;
  sink += answer.confidence;
}
referenceLatencies.sort();
const us = (sorted: Float64Array) =>
  `median ${percentile(sorted, 0.5).toFixed(1)} µs, p99 ${percentile(sorted, 0.99).toFixed(1)} µs`;
console.log(`\nsingle row (${fmt(calls)} calls after warm-up; target ≤ 50 µs)`);
console.log(`  onnx classify(1 input)        ${us(latencies)}`);
console.log(`  onnx classifyVectors(1 row)   ${us(vectorLatencies)}`);
console.log(`  reference predict(1 input)    ${us(referenceLatencies)}`);

console.log(
  `\nbatched rows/s (median of ${repeats} calls after warm-up, slowest–fastest call; target ≥ 1,000,000)`,
);
const x = new Float32Array(10_000 * width);
for (let i = 0; i < 10_000; i++) vectorize(pool[i]!, model.features, model.mean, x, i * width);
const rowsOut = new Float32Array(10_000 * width);
/** Reads what a rule reads of each fact: its class and confidence. */
const readFacts = (facts: readonly IncidentFact[]) => {
  let sum = 0;
  for (const fact of facts) sum += fact.confidence + fact.class.length;
  return sum;
};
/** Reads every probability of every fact too (what recording each as a decision would). */
const readAll = (facts: readonly IncidentFact[]) => {
  let sum = readFacts(facts);
  for (const fact of facts) for (const c of model.classes) sum += fact.probabilities[c]!;
  return sum;
};
const show = (label: string, r: { median: number; low: number; high: number }, note = '') =>
  console.log(
    `  ${label.padEnd(34)}${fmt(r.median).padStart(11)}  (${fmt(r.low)}–${fmt(r.high)})${note ? `  ${note}` : ''}`,
  );
for (const batch of [1000, 10_000]) {
  const inputs = pool.slice(0, batch);
  const vectors = x.subarray(0, batch * width);
  console.log(`  batch ${fmt(batch)}:`);
  show(
    'onnx classifyVectors',
    await rowsPerSecond(batch, async () => (await classifier.classifyVectors(vectors, batch))[batch - 1]!),
  );
  show(
    'onnx classify',
    await rowsPerSecond(batch, async () => readFacts(await classifier.classify(inputs))),
    'vectorize included, as decide calls it',
  );
  show(
    'onnx classify, all probabilities',
    await rowsPerSecond(batch, async () => readAll(await classifier.classify(inputs))),
    "every fact's probabilities read",
  );
  show(
    'ref predictVector',
    await rowsPerSecond(batch, () => {
      let sum = 0;
      for (let i = 0; i < batch; i++) sum += predictVector(model, vectors, i * width)[0]!;
      return sum;
    }),
  );
  show(
    'ref predict',
    await rowsPerSecond(batch, () => {
      let sum = 0;
      for (const input of inputs) sum += predict(model, input).confidence;
      return sum;
    }),
    'vectorize included',
  );
  show(
    'vectorize alone',
    await rowsPerSecond(batch, () => {
      for (let i = 0; i < batch; i++) vectorize(inputs[i]!, model.features, model.mean, x, i * width);
      return x[0]!;
    }),
  );
  show(
    'vectorizeRows alone',
    await rowsPerSecond(batch, () => {
      vectorizeRows(inputs, model.features, model.mean, rowsOut);
      return rowsOut[0]!;
    }),
    "classify()'s vectorizing",
  );
}
// Printed so that the answers are used; a NaN here would mean some answer was not a number.
console.log(`\n(checksum of every answer read: ${sink.toPrecision(6)})`);
await classifier.release();
if (givenDir === undefined) fs.rmSync(dir, { recursive: true, force: true });

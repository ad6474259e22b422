/**
 * Negative rows (`"notClass"` in place of `"label"`): what `model dataset` writes for a failed or
 * compensated remediation. The dataset file reads and writes them, refuses bad ones by line and
 * field, and the trainer takes each as a soft negative: its target spreads evenly over the other
 * classes (with two classes, the other class).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import {
  DatasetError,
  readDataset,
  readTrainingData,
  writeDataset,
} from '../../services/classifier/dataset-file.js';
import {
  lossAndGradient,
  makeProblem,
  makeScratch,
  type Design,
} from '../../services/classifier/elastic-net.js';
import { parseModelConfig } from '../../services/classifier/model-config.js';
import type { LabeledRow, ModelConfig, NegativeRow } from '../../services/classifier/model-types.js';
import { predict } from '../../services/classifier/predict.js';
import { seededGaussian, seededRandom } from '../../services/classifier/seeded-random.js';
import { trainGlm } from '../../services/classifier/train.js';

function configOf(overrides: Record<string, unknown> = {}): ModelConfig {
  const parsed = parseModelConfig({
    name: 'test-model',
    model_type: 'GLM',
    link_function: 'softmax',
    regularization: { alpha: 0.5, lambda: 0.001 },
    features: ['cpu.avg', 'mem.slope', { name: 'event_text', type: 'event_tokens', buckets: 8 }],
    classes: ['healthy', 'memory_leak', 'cpu_saturation'],
    ...overrides,
  });
  if ('problems' in parsed) throw new Error(parsed.problems.join('\n'));
  return parsed.config;
}

const dirs: string[] = [];
function tmpFile(name: string, text?: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'classifier-negatives-'));
  dirs.push(dir);
  const file = path.join(dir, name);
  if (text !== undefined) fs.writeFileSync(file, text);
  return file;
}
after(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

/** Rows whose class shows in cpu.avg (cpu_saturation) and mem.slope (memory_leak). */
function rowsOf(classes: readonly string[], count: number, seed: number): LabeledRow[] {
  const random = seededRandom(seed);
  const gaussian = seededGaussian(random);
  return Array.from({ length: count }, (_, i) => {
    const label = classes[i % classes.length]!;
    return {
      features: {
        'cpu.avg': 50 + 10 * (gaussian() + (label === 'cpu_saturation' ? 3 : 0)),
        'mem.slope': gaussian() + (label === 'memory_leak' ? 3 : 0),
      },
      events: label === 'memory_leak' && random() < 0.5 ? [{ kind: 'k8s', message: 'OOMKilled' }] : [],
      label,
    };
  });
}

describe('negative rows in the dataset file', () => {
  const config = configOf();

  it('reads and writes "notClass" rows beside labeled ones', () => {
    const rows: LabeledRow[] = [
      { features: { 'cpu.avg': 95 }, events: [], label: 'cpu_saturation' },
      {
        features: { 'mem.slope': 0.1 },
        events: [{ kind: 'k8s', message: 'OOMKilled' }],
        label: 'memory_leak',
      },
    ];
    const negatives: NegativeRow[] = [
      {
        features: { 'mem.slope': 0.2 },
        events: [{ kind: 'log', message: 'restart did not help' }],
        notClass: 'memory_leak',
      },
    ];
    const file = tmpFile('rows.jsonl');
    writeDataset(file, rows, negatives);
    const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
    assert.equal(lines.length, 3);
    assert.deepEqual(JSON.parse(lines[2]!), {
      features: { 'mem.slope': 0.2 },
      events: [{ kind: 'log', message: 'restart did not help' }],
      notClass: 'memory_leak',
    });
    assert.deepEqual(readTrainingData(file, config), { rows, negatives });
    // Evaluation and drift read the labeled rows only.
    assert.deepEqual(readDataset(file, config), rows);
    // A file of negatives only is a dataset too (nothing to evaluate, something to train on).
    const only = tmpFile('negatives.jsonl');
    writeDataset(only, [], negatives);
    assert.deepEqual(readTrainingData(only, config), { rows: [], negatives });
  });

  it('refuses a bad negative row, naming the line and the field', () => {
    const file = tmpFile(
      'bad.jsonl',
      [
        '{"features": {"cpu.avg": 1}, "label": "healthy"}',
        '{"features": {"cpu.avg": 1}, "notClass": "disk_full"}',
        '{"features": {"cpu.avg": 1}, "notClass": 3}',
        '{"features": {"cpu.avg": 1}, "label": "healthy", "notClass": "memory_leak"}',
        '{"features": {"cpu.avg": 1}}',
        '{"features": {"cpu.avg": "high"}, "notClass": "memory_leak"}',
        '{"features": {"cpu.avg": 1}, "notClass": "memory_leak"}',
      ].join('\n'),
    );
    let problems: readonly string[] = [];
    assert.throws(
      () => readTrainingData(file, config),
      (err: unknown) => err instanceof DatasetError && ((problems = err.problems), true),
    );
    const of = (line: number) => problems.filter((p) => p.includes(`: line ${line}: `));
    assert.equal(problems.length, 5, problems.join('\n'));
    assert.match(
      of(2)[0]!,
      /notClass: unknown class "disk_full": the classes are healthy, memory_leak, cpu_saturation/,
    );
    assert.match(of(3)[0]!, /notClass: unknown class 3/);
    assert.match(of(4)[0]!, /notClass: a row has a "label" .* or a "notClass" .*, not both/);
    assert.match(
      of(5)[0]!,
      /label: is missing: name one of the classes healthy, memory_leak, cpu_saturation$/,
    );
    assert.match(of(6)[0]!, /features\.cpu\.avg: is "high": must be a finite number/);
    assert.deepEqual(of(1), []);
    assert.deepEqual(of(7), []);
  });
});

describe('training with negative rows', () => {
  it('gives a negative row the soft target: loss and gradient match finite differences', () => {
    // Two rows of three columns: one labeled class 2, one that is not class 0.
    const design: Design = {
      rows: 2,
      columns: 3,
      rowStart: Int32Array.of(0, 3, 6),
      column: Int32Array.of(0, 1, 2, 0, 1, 2),
      value: Float64Array.of(0.5, -1, 2, 1.5, 0.25, -0.75),
      center: new Float64Array(3),
      scale: Float64Array.of(1, 2, 0.5),
      label: Int32Array.of(2, 0),
      negative: Uint8Array.of(0, 1),
    };
    const K = 3;
    const problem = makeProblem(design, Int32Array.of(0, 1), Float64Array.of(1, 2, 4), K);
    // The negative row weighs the mean of the other classes' weights: (2 + 4) / 2 = 3, the labeled one 4.
    assert.deepEqual(Array.from(problem.weight), [4 / 7, 3 / 7]);
    const W = Float64Array.from({ length: 3 * K }, (_, q) => Math.sin(q + 1) / 2);
    const b = Float64Array.of(0.1, -0.2, 0.3);
    const scratch = makeScratch(3, K);
    const gradW = new Float64Array(W.length);
    const gradB = new Float64Array(K);
    const loss = lossAndGradient(problem, W, b, scratch, gradW, gradB);

    // The loss written out: weighted cross-entropy against [0, 0, 1] and [0, ½, ½].
    const targets = [
      [0, 0, 1],
      [0, 0.5, 0.5],
    ];
    let expected = 0;
    for (let i = 0; i < 2; i++) {
      const logits = Array.from(b);
      for (let q = design.rowStart[i]!; q < design.rowStart[i + 1]!; q++)
        for (let k = 0; k < K; k++)
          logits[k]! += (design.value[q]! / design.scale[design.column[q]!]!) * W[design.column[q]! * K + k]!;
      const logSum = Math.log(logits.reduce((s, l) => s + Math.exp(l), 0));
      expected += problem.weight[i]! * targets[i]!.reduce((s, y, k) => s - y * (logits[k]! - logSum), 0);
    }
    assert.ok(Math.abs(loss - expected) < 1e-12, `loss ${loss}, written out ${expected}`);

    const h = 1e-6;
    for (let q = 0; q < W.length; q++) {
      const plus = Float64Array.from(W);
      const minus = Float64Array.from(W);
      plus[q]! += h;
      minus[q]! -= h;
      const numeric =
        (lossAndGradient(problem, plus, b, scratch) - lossAndGradient(problem, minus, b, scratch)) / (2 * h);
      assert.ok(Math.abs(numeric - gradW[q]!) < 1e-7, `dW[${q}]: ${gradW[q]} vs ${numeric}`);
    }
    for (let k = 0; k < K; k++) {
      const plus = Float64Array.from(b);
      const minus = Float64Array.from(b);
      plus[k]! += h;
      minus[k]! -= h;
      const numeric =
        (lossAndGradient(problem, W, plus, scratch) - lossAndGradient(problem, W, minus, scratch)) / (2 * h);
      assert.ok(Math.abs(numeric - gradB[k]!) < 1e-7, `db[${k}]: ${gradB[k]} vs ${numeric}`);
    }
  });

  it('softmax: negatives move probability away from the refuted class, to the others', () => {
    const config = configOf({ regularization: { alpha: 0.5, lambda: 0.001 }, split: { test: 0.2, seed: 3 } });
    const rows = rowsOf(config.classes, 600, 5);
    // Windows that look like a memory leak, but restarting did not help: not memory_leak.
    const random = seededRandom(6);
    const negatives: NegativeRow[] = Array.from({ length: 150 }, () => ({
      features: { 'cpu.avg': 50 + 10 * (random() - 0.5), 'mem.slope': 3 + random() - 0.5 },
      events: [],
      notClass: 'memory_leak',
    }));
    const now = new Date(Date.UTC(2026, 0, 1));
    const plain = trainGlm(config, rows, { now });
    const withNegatives = trainGlm(config, rows, { now, negatives });
    assert.deepEqual(withNegatives.report.negativeRows, { memory_leak: 150 });
    assert.equal(plain.report.negativeRows, undefined);
    // Negatives train, never test: the held-out rows are the same.
    assert.deepEqual(withNegatives.test, plain.test);
    assert.equal(withNegatives.report.trainRows, plain.report.trainRows);

    const leakLike = { features: { 'cpu.avg': 50, 'mem.slope': 3 }, events: [] };
    const before = predict(plain.model, leakLike).probabilities;
    const after = predict(withNegatives.model, leakLike).probabilities;
    assert.ok(before.memory_leak! > 0.8, `memory_leak before: ${before.memory_leak}`);
    assert.ok(
      after.memory_leak! < before.memory_leak! - 0.2,
      `memory_leak ${before.memory_leak} → ${after.memory_leak}`,
    );
    for (const other of ['healthy', 'cpu_saturation'])
      assert.ok(after[other]! > before[other]!, `${other} ${before[other]} → ${after[other]}`);
    // Far from the negatives the model still tells the classes apart.
    const saturated = { features: { 'cpu.avg': 80, 'mem.slope': 0 }, events: [] };
    assert.equal(predict(withNegatives.model, saturated).class, 'cpu_saturation');
  });

  it('logit: a negative of one class counts as a row of the other', () => {
    // The loss and gradient of a negative row are those of the row labeled with the other class.
    const designOf = (label: number, negative: number): Design => ({
      rows: 2,
      columns: 2,
      rowStart: Int32Array.of(0, 2, 4),
      column: Int32Array.of(0, 1, 0, 1),
      value: Float64Array.of(0.5, -1, 1.5, 0.25),
      center: new Float64Array(2),
      scale: Float64Array.of(1, 2),
      label: Int32Array.of(1, label),
      negative: Uint8Array.of(0, negative),
    });
    const answer = (design: Design) => {
      const problem = makeProblem(design, Int32Array.of(0, 1), Float64Array.of(1, 3), 1);
      const gradW = new Float64Array(2);
      const gradB = new Float64Array(1);
      const loss = lossAndGradient(
        problem,
        Float64Array.of(0.3, -0.7),
        Float64Array.of(0.2),
        makeScratch(2, 1),
        gradW,
        gradB,
      );
      return { weight: Array.from(problem.weight), loss, gradW: Array.from(gradW), gradB: Array.from(gradB) };
    };
    assert.deepEqual(answer(designOf(1, 1)), answer(designOf(0, 0)));
    assert.notDeepEqual(answer(designOf(1, 1)), answer(designOf(1, 0)));

    // Trained: refuted leak-like windows pull P(memory_leak) down where they are.
    const config = configOf({ link_function: 'logit', classes: ['healthy', 'memory_leak'] });
    const rows = rowsOf(config.classes, 400, 7);
    const negatives = rowsOf(['memory_leak'], 100, 8).map(({ features, events }) => ({
      features,
      events,
      notClass: 'memory_leak',
    }));
    const now = new Date(Date.UTC(2026, 0, 1));
    const leakLike = { features: { 'cpu.avg': 50, 'mem.slope': 3 }, events: [] };
    const before = predict(trainGlm(config, rows, { now }).model, leakLike).probabilities.memory_leak!;
    const after = predict(trainGlm(config, rows, { now, negatives }).model, leakLike).probabilities
      .memory_leak!;
    assert.ok(after < before - 0.2, `memory_leak ${before} → ${after}`);
  });

  it('refuses a negative of an unknown class, naming it', () => {
    const config = configOf();
    assert.throws(
      () =>
        trainGlm(config, rowsOf(config.classes, 30, 9), {
          negatives: [{ features: {}, events: [], notClass: 'disk_full' }],
        }),
      /negative row 1: notClass: unknown class "disk_full": the classes are healthy, memory_leak, cpu_saturation/,
    );
  });
});

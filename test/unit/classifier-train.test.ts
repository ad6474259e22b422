import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluateModel } from '../../services/classifier/evaluate.js';
import { inspectModel } from '../../services/classifier/inspect.js';
import { parseModelConfig } from '../../services/classifier/model-config.js';
import type { LabeledRow, ModelConfig } from '../../services/classifier/model-types.js';
import { predict, predictVector } from '../../services/classifier/predict.js';
import { seededGaussian, seededRandom } from '../../services/classifier/seeded-random.js';
import { trainGlm } from '../../services/classifier/train.js';
import { columnsOf, hashToken, tokenize, vectorize } from '../../services/classifier/vectorize.js';

function configOf(overrides: Record<string, unknown>): ModelConfig {
  const parsed = parseModelConfig({
    name: 'test-model',
    model_type: 'GLM',
    link_function: 'softmax',
    regularization: { alpha: 0.5, lambda: 0.001 },
    features: ['cpu.avg', 'mem.slope', 'disk.avg', { name: 'event_text', type: 'event_tokens', buckets: 16 }],
    classes: ['healthy', 'memory_leak', 'cpu_saturation'],
    ...overrides,
  });
  if ('problems' in parsed) throw new Error(parsed.problems.join('\n'));
  return parsed.config;
}

/**
 * Rows whose class shows in cpu.avg (cpu_saturation), mem.slope (memory_leak) and an "oomkilled"
 * event; disk.avg is noise. `shift` is how far apart the classes are, in standard deviations.
 */
function rowsOf(classes: readonly string[], count: number, seed: number, shift = 3): LabeledRow[] {
  const random = seededRandom(seed);
  const gaussian = seededGaussian(random);
  return Array.from({ length: count }, (_, i) => {
    const label = classes[i % classes.length]!;
    const events =
      label === 'memory_leak' && random() < 0.7
        ? [{ kind: 'k8s', message: 'container OOMKilled' }]
        : random() < 0.3
          ? [{ kind: 'deploy', message: 'rollout finished' }]
          : [];
    return {
      features: {
        'cpu.avg': 50 + 10 * (gaussian() + (label === 'cpu_saturation' ? shift : 0)),
        'mem.slope': gaussian() + (label === 'memory_leak' ? shift : 0),
        'disk.avg': 1e6 + 1e3 * gaussian(),
      },
      events,
      label,
    };
  });
}

describe('tokens and vectors', () => {
  it('tokenizes into lower-case words and identifiers', () => {
    assert.deepEqual(tokenize('OOMKilled'), ['oomkilled']);
    assert.deepEqual(tokenize('k8s: connection refused (exit_code=137)'), [
      'k8s',
      'connection',
      'refused',
      'exit_code',
      '137',
    ]);
  });

  it('hashes with FNV-1a 32-bit, the same for ASCII and UTF-8 paths', () => {
    assert.equal(hashToken('a', 2 ** 31), 0xe40c292c % 2 ** 31);
    assert.equal(hashToken('a', 64), 0xe40c292c % 64);
    assert.equal(hashToken('ü', 64), hashToken('ü', 64));
    assert.ok(hashToken('ü', 64) >= 0 && hashToken('ü', 64) < 64);
  });

  it('puts numeric columns first, imputes missing ones with the mean and counts tokens as log1p', () => {
    const features = configOf({}).features;
    const columns = columnsOf(features);
    assert.deepEqual(columns.slice(0, 4), ['cpu.avg', 'mem.slope', 'disk.avg', 'event_text#0']);
    assert.equal(columns.length, 3 + 16);
    const input = {
      features: { 'cpu.avg': 80 },
      events: [{ kind: 'alert', message: 'OOMKilled OOMKilled' }],
    };
    assert.notEqual(hashToken('alert', 16), hashToken('oomkilled', 16));
    const mean = columns.map((_, j) => j + 0.5);
    const x = vectorize(input, features, mean);
    assert.equal(x[0], 80);
    assert.equal(x[1], 1.5);
    assert.ok(Number.isNaN(vectorize(input, features, undefined)[1]));
    assert.equal(x[3 + hashToken('oomkilled', 16)], Math.log1p(2));
    assert.equal(x[3 + hashToken('alert', 16)], Math.log1p(1));
    const out = new Float32Array(2 * columns.length);
    vectorize(input, features, mean, out, columns.length);
    assert.equal(out[columns.length], 80);
    assert.equal(out[0], 0);
  });
});

describe('trainGlm', () => {
  it('separates a softmax problem with lambda "auto", reporting the path and the pick', () => {
    const config = configOf({ regularization: { alpha: 0.5, lambda: 'auto' } });
    const { model, report, train, test } = trainGlm(config, rowsOf(config.classes, 600, 1), {
      now: new Date(Date.UTC(2026, 0, 2, 3, 4, 5)),
    });
    assert.equal(report.trainRows + report.testRows, 600);
    assert.equal(train.length, 480);
    assert.equal(test.length, 120);
    assert.equal(report.lambdaPath?.length, 12);
    assert.ok(report.lambdaPath!.some((p) => p.lambda === report.lambda));
    const best = Math.min(...report.lambdaPath!.map((p) => p.cvLoss));
    assert.equal(report.lambdaPath!.find((p) => p.lambda === report.lambda)!.cvLoss, best);
    assert.ok(report.iterations > 0 && report.iterations <= 2000);
    assert.ok(Number.isFinite(report.finalLoss));
    assert.match(model.version, /^test-model-20260102030405-[0-9a-f]{8}$/);
    const evaluation = evaluateModel(model, test);
    assert.ok(evaluation.macroAuc > 0.95, `macro AUC ${evaluation.macroAuc}`);
    assert.equal(model.weights.length, model.columns.length);
    assert.equal(model.weights[0]!.length, 3);
  });

  it('separates a logit problem; predict agrees with predictVector', () => {
    const config = configOf({ link_function: 'logit', classes: ['healthy', 'memory_leak'] });
    const { model, report, test } = trainGlm(config, rowsOf(config.classes, 400, 2));
    assert.equal(report.lambdaPath, undefined);
    assert.equal(report.lambda, 0.001);
    assert.ok(evaluateModel(model, test).macroAuc > 0.95);
    assert.equal(model.weights[0]!.length, 1);
    const fact = predict(model, {
      features: { 'mem.slope': 4 },
      events: [{ kind: 'k8s', message: 'OOMKilled' }],
    });
    assert.equal(fact.class, 'memory_leak');
    assert.ok(fact.confidence > 0.9);
    assert.equal(fact.modelVersion, model.version);
    const p = predictVector(model, vectorize(test[0]!, model.features, model.mean));
    assert.ok(Math.abs(p[0]! + p[1]! - 1) < 1e-12);
  });

  it('explains the weights in words, naming hashed buckets by their tokens', () => {
    const config = configOf({});
    const { model } = trainGlm(config, rowsOf(config.classes, 600, 3));
    const lines = inspectModel(model, 3);
    const leak = lines.find((l) => l.startsWith('memory_leak:'))!;
    assert.match(leak, /more likely when mem\.slope is high \(\+\d+\.\d\d\)/);
    assert.match(leak, /when events mention [^;]*"oomkilled"/);
    assert.match(
      lines.find((l) => l.startsWith('cpu_saturation:'))!,
      /more likely when cpu\.avg is high/,
    );
  });

  it('zeroes the weights of irrelevant inputs under a strong lasso', () => {
    const config = configOf({
      features: ['cpu.avg', 'mem.slope', 'disk.avg'],
      regularization: { alpha: 1, lambda: 0.05 },
    });
    const { model } = trainGlm(config, rowsOf(config.classes, 600, 4));
    const disk = model.columns.indexOf('disk.avg');
    assert.deepEqual(model.weights[disk], [0, 0, 0]);
    assert.ok(model.weights[model.columns.indexOf('mem.slope')]!.some((w) => w !== 0));
    const huge = trainGlm(
      { ...config, regularization: { alpha: 1, lambda: 100 } },
      rowsOf(config.classes, 300, 4),
    );
    assert.ok(huge.model.weights.flat().every((w) => w === 0));
    assert.match(inspectModel(huge.model).at(-1)!, /no input moves it/);
  });

  it('shifts the decision towards a class given more weight', () => {
    const base = configOf({
      link_function: 'logit',
      classes: ['healthy', 'memory_leak'],
      features: ['mem.slope'],
    });
    const rows = rowsOf(base.classes, 600, 5, 0.8);
    const share = (config: ModelConfig) => {
      const { model, test } = trainGlm(config, rows);
      return test.filter((r) => predict(model, r).class === 'memory_leak').length / test.length;
    };
    const plain = share(base);
    const weighted = share({ ...base, class_weight: { memory_leak: 5 } });
    assert.ok(weighted > plain + 0.2, `memory_leak predicted for ${plain} unweighted, ${weighted} weighted`);
  });

  it('warns about collinear columns by name and r, and about a constant column', () => {
    const config = configOf({ features: ['cpu.avg', 'cpu.p95', 'mem.slope', 'net.count'] });
    const rows = rowsOf(config.classes, 300, 6).map((r, i) => ({
      ...r,
      features: { ...r.features, 'cpu.p95': r.features['cpu.avg']! * 1.1 + (i % 3) * 0.5, 'net.count': 7 },
    }));
    const { report } = trainGlm(config, rows);
    assert.ok(
      report.warnings.some((w) =>
        /^cpu\.avg and cpu\.p95 are collinear \(r = 1\.00\): consider dropping one$/.test(w),
      ),
      report.warnings.join('\n'),
    );
    assert.ok(
      report.warnings.includes('net.count is constant in the training rows: it carries no information'),
    );
    assert.ok(!report.warnings.some((w) => w.includes('mem.slope and')));
  });

  it('repeats exactly from the same config and rows', () => {
    const config = configOf({ regularization: { alpha: 0.5, lambda: 'auto' } });
    const rows = rowsOf(config.classes, 300, 7);
    const now = new Date(0);
    const a = trainGlm(config, rows, { now });
    const b = trainGlm(config, rows, { now });
    assert.deepEqual(a.model, b.model);
    assert.deepEqual(a.report, b.report);
  });
});

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DatasetError, readDataset, writeDataset } from '../../services/classifier/dataset-file.js';
import {
  ModelConfigError,
  parseModelConfig,
  readModelConfig,
} from '../../services/classifier/model-config.js';
import type { LabeledRow, ModelConfig } from '../../services/classifier/model-types.js';

const valid = () => ({
  name: 'incident-classifier',
  model_type: 'GLM',
  link_function: 'softmax',
  regularization: { alpha: 0.5, lambda: 'auto' },
  features: ['cpu.avg', 'mem.slope', { name: 'event_text', type: 'event_tokens', buckets: 64 }],
  classes: ['healthy', 'memory_leak', 'cpu_saturation'],
});

function problemsOf(json: unknown): string[] {
  const parsed = parseModelConfig(json, 'incident.config.json');
  assert.ok('problems' in parsed, 'expected the config to be refused');
  return parsed.problems;
}

describe('model config', () => {
  it('accepts a valid config, fills the default split and freezes it', () => {
    const parsed = parseModelConfig(valid(), 'incident.config.json');
    assert.ok('config' in parsed);
    assert.deepEqual(parsed.config.features, [
      { kind: 'numeric', name: 'cpu.avg' },
      { kind: 'numeric', name: 'mem.slope' },
      { kind: 'event_tokens', name: 'event_text', buckets: 64 },
    ]);
    assert.deepEqual(parsed.config.split, { test: 0.2, seed: 42 });
    assert.ok(Object.isFrozen(parsed.config.regularization));
  });

  it("accepts sense's baseline facts as features (cpu.deviation, errors.anomaly, mem.baseline)", () => {
    const config = { ...valid(), features: ['cpu.deviation', 'errors.anomaly', 'mem.baseline'] };
    const parsed = parseModelConfig(config, 'incident.config.json');
    assert.ok('config' in parsed, JSON.stringify(parsed));
    assert.deepEqual(
      parsed.config.features.map((f) => f.name),
      ['cpu.deviation', 'errors.anomaly', 'mem.baseline'],
    );
  });

  it('refuses an unknown feature and suggests the nearest name', () => {
    const json = { ...valid(), features: ['cpu.avgg'] };
    assert.deepEqual(problemsOf(json), [
      'incident.config.json: features[0]: unknown feature "cpu.avgg": features are <metric>.<avg|min|max|last|p95|count|slope|baseline|deviation|anomaly|spread|drift>; did you mean "cpu.avg"?',
    ]);
    assert.deepEqual(problemsOf({ ...valid(), features: ['cpu'] }), [
      'incident.config.json: features[0]: unknown feature "cpu": features are <metric>.<avg|min|max|last|p95|count|slope|baseline|deviation|anomaly|spread|drift> (for example "cpu.avg")',
    ]);
  });

  it('refuses a context fact as a feature', () => {
    assert.deepEqual(problemsOf({ ...valid(), features: ['tier'] }), [
      'incident.config.json: features[0]: "tier" is a context fact, not a window feature: use <metric>.<avg|min|max|last|p95|count|slope|baseline|deviation|anomaly|spread|drift>',
    ]);
  });

  it('refuses an unknown link function', () => {
    assert.deepEqual(problemsOf({ ...valid(), link_function: 'probit' }), [
      'incident.config.json: link_function: unknown link function "probit": use "logit" (two classes) or "softmax" (two or more)',
    ]);
  });

  it('refuses a negative lambda', () => {
    assert.deepEqual(problemsOf({ ...valid(), regularization: { alpha: 0.5, lambda: -1 } }), [
      'incident.config.json: regularization.lambda: must be ≥ 0 or "auto"',
    ]);
  });

  it('refuses alpha outside 0..1', () => {
    for (const alpha of [-0.1, 1.5, '0.5'])
      assert.deepEqual(problemsOf({ ...valid(), regularization: { alpha, lambda: 0.1 } }), [
        'incident.config.json: regularization.alpha: must be between 0 (ridge) and 1 (lasso)',
      ]);
  });

  it('refuses duplicates, logit with three classes and bad buckets, all at once', () => {
    const json = {
      ...valid(),
      link_function: 'logit',
      features: ['cpu.avg', 'cpu.avg', { name: 'event_text', type: 'event_tokens', buckets: 100 }],
    };
    assert.deepEqual(problemsOf(json), [
      'incident.config.json: features[1]: "cpu.avg" is listed twice; list each feature once',
      'incident.config.json: features[2].buckets: must be a power of two from 8 to 4096 (for example 64)',
      'incident.config.json: classes: logit takes exactly 2 classes (the negative first), not 3; use "softmax" for more',
    ]);
    assert.deepEqual(problemsOf({ ...valid(), classes: ['a', 'b', 'a'] }), [
      'incident.config.json: classes: "a" listed twice; list each class once',
    ]);
  });

  it('refuses a misspelt field and a class weight for an unknown class', () => {
    const { regularization, ...rest } = valid();
    const json = { ...rest, regularisation: regularization, class_weight: { leak: 2 } };
    assert.deepEqual(problemsOf(json), [
      'incident.config.json: regularisation: is not a config field; the fields are name, model_type, link_function, regularization, features, classes, class_weight, split, abstain, augment',
      'incident.config.json: regularization: must be an object such as {"alpha": 0.5, "lambda": "auto"}',
      'incident.config.json: class_weight.leak: is not a class; the classes are healthy, memory_leak, cpu_saturation',
    ]);
  });
});

describe('model config and dataset files', () => {
  let dir: string;
  let config: ModelConfig;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'classifier-config-'));
    const file = path.join(dir, 'incident.config.json');
    fs.writeFileSync(file, JSON.stringify(valid()));
    config = readModelConfig(file);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('readModelConfig throws ModelConfigError listing every problem', () => {
    const file = path.join(dir, 'bad.config.json');
    fs.writeFileSync(
      file,
      JSON.stringify({ ...valid(), model_type: 'GBM', regularization: { alpha: 2, lambda: -1 } }),
    );
    assert.throws(
      () => readModelConfig(file),
      (err: unknown) => {
        assert.ok(err instanceof ModelConfigError);
        assert.equal(err.name, 'ModelConfigError');
        assert.deepEqual(err.problems, [
          `${file}: model_type: is "GBM": must be "GLM"`,
          `${file}: regularization.alpha: must be between 0 (ridge) and 1 (lasso)`,
          `${file}: regularization.lambda: must be ≥ 0 or "auto"`,
        ]);
        return true;
      },
    );
  });

  it('round-trips rows through writeDataset and readDataset', () => {
    const file = path.join(dir, 'rows.jsonl');
    const rows: LabeledRow[] = [
      { features: { 'cpu.avg': 0.5 }, events: [{ kind: 'k8s', message: 'OOMKilled' }], label: 'memory_leak' },
      { features: {}, events: [], label: 'healthy' },
    ];
    writeDataset(file, rows);
    assert.deepEqual(readDataset(file, config), rows);
  });

  it('names the line and field of every bad row', () => {
    const file = path.join(dir, 'bad.jsonl');
    const lines = [
      JSON.stringify({ features: { 'cpu.avg': 1 }, events: [], label: 'healthy' }),
      JSON.stringify({ features: { 'cpu.avg': 1 }, events: [] }),
      JSON.stringify({ features: { 'cpu.avg': 'NaN' }, events: [], label: 'healthy' }),
      JSON.stringify({ features: { 'mem.slope': null }, events: [], label: 'healthy' }),
      '{"features": {"cpu.avg": 1e999}, "events": [], "label": "healthy"}',
      JSON.stringify({ features: {}, events: [], label: 'disk_full' }),
      '{"features": ',
    ];
    fs.writeFileSync(file, lines.join('\n'));
    assert.throws(
      () => readDataset(file, config),
      (err: unknown) => {
        assert.ok(err instanceof DatasetError);
        assert.equal(err.problems.length, 6);
        const [missing, nan, nil, infinite, unknown, json] = err.problems;
        assert.equal(
          missing,
          `${file}: line 2: label: is missing: name one of the classes healthy, memory_leak, cpu_saturation`,
        );
        assert.equal(
          nan,
          `${file}: line 3: features.cpu.avg: is "NaN": must be a finite number; leave a missing value out`,
        );
        assert.equal(
          nil,
          `${file}: line 4: features.mem.slope: is null: must be a finite number; leave a missing value out`,
        );
        assert.equal(
          infinite,
          `${file}: line 5: features.cpu.avg: is null: must be a finite number; leave a missing value out`,
        );
        assert.equal(
          unknown,
          `${file}: line 6: label: unknown class "disk_full": the classes are healthy, memory_leak, cpu_saturation`,
        );
        assert.match(json!, /^.*: line 7: \(line\): is not valid JSON/);
        return true;
      },
    );
  });
});

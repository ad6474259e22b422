/**
 * Training-set augmentation (`augment` in the model config): seeded perturbed copies of each
 * training row as other fleets would show it, checked field by field, and refused with the field
 * and the fix when the config is wrong.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { augmentRows } from '../../services/classifier/augment.js';
import { parseModelConfig } from '../../services/classifier/model-config.js';
import type { LabeledRow } from '../../services/classifier/model-types.js';

const row: LabeledRow = {
  features: {
    'cpu.avg': 40,
    'cpu.last': 41,
    'cpu.baseline': 38,
    'cpu.deviation': 1.5,
    'cpu.spread': 2,
    'cpu.drift': -1.2,
    'latency.avg': 1800,
    'latency.last': 2000,
    'latency.baseline': 150,
    'latency.deviation': 30,
    'latency.spread': 20,
    'upstream_errors.avg': 30,
    'upstream_errors.last': 31,
  },
  events: [
    { kind: 'log', message: 'connection refused' },
    { kind: 'alert', message: 'upstream timeout redis' },
  ],
  label: 'dependency_outage',
};

describe('training-set augmentation', () => {
  it('keeps the rows given first, then copies; the same seed gives the same copies', () => {
    const a = augmentRows([row], { copies: 400, seed: 3 });
    assert.equal(a.length, 401);
    assert.equal(a[0], row);
    assert.deepEqual(a, augmentRows([row], { copies: 400, seed: 3 }));
    assert.notDeepEqual(a, augmentRows([row], { copies: 400, seed: 4 }));
    assert.deepEqual(augmentRows([row], { copies: 0, seed: 3 }), [row]);
    assert.ok(a.every((r) => r.label === 'dependency_outage'));
  });

  it('copies lack a metric, history or events, or report in other units, in about the shares set', () => {
    const copies = augmentRows([row], { copies: 2000, seed: 5 }).slice(1);
    const share = (f: (r: LabeledRow) => boolean) => copies.filter(f).length / copies.length;
    const noUpstream = share((r) => r.features['upstream_errors.avg'] === undefined);
    assert.ok(noUpstream > 0.25 && noUpstream < 0.35, `no upstream_errors ${noUpstream}`);
    const noHistory = share(
      (r) => r.features['cpu.avg'] !== undefined && r.features['cpu.deviation'] === undefined,
    );
    assert.ok(noHistory > 0.15 && noHistory < 0.25, `no history ${noHistory}`);
    // No history, no baseline fact of any kind (the drift fact too: one list of them).
    const driftWithoutHistory = copies.filter(
      (r) =>
        r.features['cpu.avg'] !== undefined &&
        r.features['cpu.deviation'] === undefined &&
        r.features['cpu.drift'] !== undefined,
    );
    assert.equal(driftWithoutHistory.length, 0, 'a copy without history kept cpu.drift');
    const seconds = share((r) => r.features['latency.avg'] === 1.8);
    assert.ok(seconds > 0.2 && seconds < 0.35, `latency in seconds ${seconds}`);
    const noEvents = share((r) => r.events.length === 0);
    assert.ok(noEvents > 0.15 && noEvents < 0.35, `no events ${noEvents}`);
    // A baseline that learned the incident: the deviation is small whatever is going on.
    const learned = copies.filter(
      (r) =>
        r.features['latency.baseline'] !== undefined &&
        r.features['latency.baseline'] !== 150 &&
        r.features['latency.baseline'] !== 0.15,
    );
    assert.ok(learned.length > 150, `${learned.length} learned baselines`);
    assert.ok(learned.every((r) => Math.abs(r.features['latency.deviation']!) < 30));
    // Deviations do not scale with the unit.
    const inSeconds = copies.filter((r) => r.features['latency.baseline'] === 0.15);
    assert.ok(inSeconds.length > 100);
    assert.ok(inSeconds.every((r) => r.features['latency.deviation'] === 30));
    assert.ok(
      copies.every((r) => Object.keys(r.features).length > 0),
      'never a copy with no metric',
    );
  });

  it('is a config field, refused with the field and the fix when wrong', () => {
    const base = {
      name: 'm',
      model_type: 'GLM',
      link_function: 'softmax',
      regularization: { alpha: 0.5, lambda: 0.001 },
      features: ['cpu.avg'],
      classes: ['healthy', 'cpu_saturation'],
    };
    const ok = parseModelConfig({ ...base, augment: { copies: 2, seed: 9 } });
    assert.ok('config' in ok && ok.config.augment?.copies === 2);
    const bad = parseModelConfig({ ...base, augment: { copies: -1, seed: 1.5, drop: 0.3 } });
    assert.ok('problems' in bad);
    const text = bad.problems.join('\n');
    assert.match(text, /augment\.copies: is -1: must be a whole number of copies per row from 0 to 20/);
    assert.match(text, /augment\.seed: is 1\.5: must be a whole number/);
    assert.match(text, /augment\.drop: is not an augment field; the fields are copies and seed/);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import {
  binOf,
  DriftMonitor,
  driftStatus,
  histogramOf,
  psi,
  trainingHistograms,
} from '../../services/classifier/drift.js';
import type { FeatureSpec } from '../../services/classifier/model-types.js';
import {
  LiveAuc,
  ModelMonitor,
  monitorReport,
  parseMonitorMetrics,
} from '../../services/classifier/monitor.js';
import { generateScenarios, scenarioFeatureNames } from '../../services/classifier/scenarios.js';
import { seededGaussian, seededRandom } from '../../services/classifier/seeded-random.js';
import { columnsOf, vectorize } from '../../services/classifier/vectorize.js';

const NAMES = scenarioFeatureNames().filter((n) => !n.endsWith('.count'));
const FEATURES: FeatureSpec[] = [
  ...NAMES.map((name) => ({ kind: 'numeric' as const, name })),
  { kind: 'event_tokens', name: 'event_text', buckets: 16 },
];
const MODEL = { features: FEATURES, columns: columnsOf(FEATURES), classes: ['healthy', 'memory_leak'] };
const SHIFT = { 'cpu.avg': 25, 'latency.p95': 400 };

describe('psi', () => {
  it('is about 0 for identical and for same-distribution samples', () => {
    const gauss = seededGaussian(seededRandom(1));
    const a = Array.from({ length: 5000 }, () => gauss());
    const b = Array.from({ length: 5000 }, () => gauss());
    assert.ok(psi(a, a) < 1e-9);
    assert.ok(psi(a, b) < 0.01, `PSI ${psi(a, b)}`);
  });

  it('grows with a shift and reads as the design says', () => {
    const gauss = seededGaussian(seededRandom(2));
    const a = Array.from({ length: 5000 }, () => gauss());
    assert.ok(
      psi(
        a,
        a.map((v) => v + 0.1),
      ) < 0.1,
    );
    assert.ok(
      psi(
        a,
        a.map((v) => v + 1),
      ) >= 0.25,
    );
    assert.equal(driftStatus(0.05), 'healthy');
    assert.equal(driftStatus(0.1), 'watch');
    assert.equal(driftStatus(0.25), 'alarm');
    assert.ok(Number.isNaN(psi([], a)));
  });

  it('cuts repeated values into distinct bins and stays finite for empty ones', () => {
    const counts = [...Array(90).fill(7), ...Array(10).fill(6)];
    const h = histogramOf(counts);
    assert.deepEqual(h.edges, [6]);
    assert.deepEqual(h.proportions, [0.1, 0.9]);
    assert.equal(binOf(h.edges, 6), 0);
    assert.equal(binOf(h.edges, 7), 1);
    assert.ok(Number.isFinite(psi(counts, Array(100).fill(100))));
    assert.ok(psi(counts, [...counts]) < 1e-9);
  });
});

describe('drift against training histograms', () => {
  const training = generateScenarios({ rows: 8000, seed: 11 });
  const histograms = trainingHistograms(training, MODEL);
  const live = generateScenarios({ rows: 6000, seed: 12, shift: SHIFT });

  it('offline: PSI ≥ 0.25 exactly on the shifted features, < 0.1 elsewhere', () => {
    for (const name of NAMES) {
      const actual = live.map((r) => r.features[name]).filter((v): v is number => v !== undefined);
      const expected = training.map((r) => r.features[name]).filter((v): v is number => v !== undefined);
      const value = psi(expected, actual);
      if (name in SHIFT) assert.ok(value >= 0.25, `${name}: PSI ${value} should be ≥ 0.25`);
      else assert.ok(value < 0.1, `${name}: PSI ${value} should be < 0.1`);
    }
  });

  it('live: the DriftMonitor over input vectors sees the same', () => {
    const monitor = new DriftMonitor(histograms, { columns: MODEL.columns, halfLife: 5000 });
    const x = new Float64Array(MODEL.columns.length);
    const mean = MODEL.columns.map(() => 0);
    for (const row of live) monitor.observeFeatures(row.features);
    const byFeature = monitor.psiByFeature();
    assert.deepEqual(Object.keys(byFeature).sort(), Object.keys(histograms).sort());
    for (const [name, value] of Object.entries(byFeature)) {
      if (name in SHIFT) assert.ok(value >= 0.25, `${name}: PSI ${value}`);
      else assert.ok(value < 0.1, `${name}: PSI ${value}`);
    }
    // Input vectors (what serving has) give the same numbers when nothing is missing.
    const fromVectors = new DriftMonitor(histograms, { columns: MODEL.columns, halfLife: 5000 });
    for (const row of live.slice(0, 1000)) fromVectors.observe(vectorize(row, FEATURES, mean, x));
    assert.ok(fromVectors.psiByFeature()['cpu.avg']! >= 0.25);
  });

  it('forgets: after the shift ends, recent unshifted data brings PSI back down', () => {
    const monitor = new DriftMonitor(histograms, { columns: MODEL.columns, halfLife: 300 });
    for (const row of live) monitor.observeFeatures(row.features);
    assert.ok(monitor.psiByFeature()['cpu.avg']! >= 0.25);
    for (const row of generateScenarios({ rows: 4000, seed: 13 })) monitor.observeFeatures(row.features);
    assert.ok(monitor.psiByFeature()['cpu.avg']! < 0.1);
    const effective = monitor.effectiveCounts()['cpu.avg']!;
    assert.ok(effective > 300 && effective < 500, `effective ${effective}`);
  });

  it('holds back PSI until enough observations and refuses a bad reference', () => {
    const monitor = new DriftMonitor(histograms, { columns: MODEL.columns, minObservations: 50 });
    for (const row of live.slice(0, 10)) monitor.observeFeatures(row.features);
    assert.deepEqual(monitor.psiByFeature(), {});
    assert.throws(
      () =>
        new DriftMonitor({ 'gpu.avg': { edges: [1], proportions: [0.5, 0.4] } }, { columns: MODEL.columns }),
      /gpu\.avg: not a column of the model[\s\S]*gpu\.avg: proportions sum to 0\.9/,
    );
  });
});

describe('model monitor', () => {
  it('live AUC uses confirmed classes and refutations, in a bounded window', () => {
    const auc = new LiveAuc(['healthy', 'memory_leak'], 100, 5);
    for (let i = 0; i < 300; i++) {
      const p = (i % 10) / 10;
      if (i % 2 === 0) auc.record({ memory_leak: 0.5 + p / 2, healthy: 0.5 - p / 2 }, 'memory_leak');
      else auc.record({ memory_leak: p / 2, healthy: 1 - p / 2 }, { notClass: 'memory_leak' });
    }
    assert.equal(auc.size, 100);
    const byClass = auc.byClass();
    assert.ok(byClass.memory_leak! > 0.9);
    assert.equal(byClass.healthy, undefined, 'no healthy positives: no AUC');
  });

  it('exposes the gauges and the report reads them back', async () => {
    const registry = new Registry();
    const training = generateScenarios({ rows: 3000, seed: 21 });
    const monitor = new ModelMonitor({
      registry,
      model: MODEL,
      histograms: trainingHistograms(training, MODEL),
      minObservations: 100,
    });
    const mean = MODEL.columns.map(() => 0);
    for (const row of generateScenarios({ rows: 2000, seed: 22, shift: SHIFT }))
      monitor.observe(
        vectorize(row, FEATURES, mean),
        row.label === 'memory_leak' ? 'memory_leak' : 'healthy',
      );
    for (let i = 0; i < 40; i++) {
      monitor.expectVerdict(
        `d${i}`,
        { memory_leak: i % 2 ? 0.9 : 0.4, healthy: i % 2 ? 0.1 : 0.6 },
        'memory_leak',
      );
      assert.ok(monitor.recordVerdict({ decisionId: `d${i}`, outcome: i % 2 ? 'verified' : 'failed' }));
    }
    assert.equal(monitor.recordVerdict({ decisionId: 'unknown', outcome: 'verified' }), false);
    const snapshot = parseMonitorMetrics(await registry.metrics());
    assert.ok(snapshot.psi['cpu.avg']! >= 0.25);
    assert.ok(snapshot.psi['mem.avg']! < 0.1);
    assert.equal(snapshot.auc.memory_leak, 1);
    assert.equal(
      Object.values(snapshot.predictions).reduce((a, b) => a + b, 0),
      2000,
    );
    const report = monitorReport(snapshot, MODEL.classes);
    assert.match(
      report.find((l) => l.includes('cpu.avg'))!,
      /alarm$/,
    );
    assert.match(
      report.find((l) => l.includes('mem.avg'))!,
      /healthy$/,
    );
    assert.match(
      report.find((l) => l.trim().startsWith('memory_leak'))!,
      /1\.000 {2}ok$/,
    );
    assert.match(report.at(-1)!, /^summary: drift alarm on (cpu\.avg, latency\.p95|latency\.p95, cpu\.avg)/);
  });
});

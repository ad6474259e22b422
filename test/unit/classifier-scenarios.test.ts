import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classFromRuleName, labelHistory } from '../../services/classifier/dataset-from-topics.js';
import {
  generateScenarios,
  SCENARIO_CLASSES,
  SCENARIO_MIX,
  scenarioFeatureNames,
} from '../../services/classifier/scenarios.js';
import type { Decision, Observation, Verdict } from '../../services/common/contracts.js';
import { BASELINE_STATS } from '../../services/common/facts-reference.js';

describe('generateScenarios', () => {
  it('is deterministic for a seed and differs across seeds', () => {
    const a = generateScenarios({ rows: 200, seed: 5 });
    assert.deepEqual(generateScenarios({ rows: 200, seed: 5 }), a);
    assert.notDeepEqual(generateScenarios({ rows: 200, seed: 6 }), a);
  });

  it('gives the realistic class mix, with every class present', () => {
    const rows = generateScenarios({ rows: 10_000, seed: 3 });
    for (const cls of SCENARIO_CLASSES) {
      const share = rows.filter((r) => r.label === cls).length / rows.length;
      assert.ok(Math.abs(share - SCENARIO_MIX[cls]) < 0.02, `${cls}: ${share}`);
    }
    assert.ok(SCENARIO_MIX.healthy >= 0.35 && SCENARIO_MIX.healthy <= 0.5);
  });

  it('computes the window features and baseline facts sense computes, for the six metrics', () => {
    const names = new Set(scenarioFeatureNames());
    for (const m of ['cpu', 'mem', 'disk', 'errors', 'latency', 'upstream_errors'])
      for (const s of ['avg', 'max', 'p95', 'slope', 'count']) assert.ok(names.has(`${m}.${s}`), `${m}.${s}`);
    const baseline = new Set(BASELINE_STATS.map(String));
    const rows = generateScenarios({ rows: 500, seed: 4 });
    for (const row of rows) {
      for (const [name, v] of Object.entries(row.features)) {
        const [metric, stat] = name.split('.') as [string, string];
        const known = names.has(name) || (baseline.has(stat) && names.has(`${metric}.avg`));
        assert.ok(known && Number.isFinite(v), `${name} = ${v}`);
      }
      if (row.features['cpu.avg'] === undefined) continue; // a fleet without the metric
      assert.ok(row.features['cpu.min']! <= row.features['cpu.avg']! + 1e-9);
      assert.ok(row.features['cpu.avg']! <= row.features['cpu.max']! + 1e-9);
      assert.ok(row.features['cpu.count']! >= 2 && row.features['cpu.count']! <= 7);
    }
  });

  it('carries each class in its events and metrics, with misleading healthy ones', () => {
    // 24,000 rows (about 2,900 per class): a share's spread over seeds is then about 0.01, so the
    // bounds below test the generator, not the luck of one seed's stream.
    const rows = generateScenarios({ rows: 24000, seed: 8 });
    const text = (label: string) =>
      rows
        .filter((r) => r.label === label)
        .map((r) => r.events.map((e) => `${e.kind}:${e.message}`).join(' | '));
    const share = (label: string, pattern: RegExp) =>
      text(label).filter((t) => pattern.test(t)).length / text(label).length;
    // Events are worded one of several ways, and a sixth or so of fleets collect none.
    assert.ok(share('memory_leak', /OOMKilled|container restarted|memory limit|OutOfMemoryError/) > 0.35);
    assert.ok(share('bad_deploy', /v2\.\d+\.\d+/) > 0.5);
    assert.ok(share('bad_deploy', /deploy:deployed v2\.\d+\.\d+/) > 0.12);
    assert.ok(share('bad_deploy', /5xx spike|ErrorRateHigh|burn rate/) > 0.15);
    assert.ok(share('dependency_outage', /[Cc]onnection refused|upstream|timed out|unavailable/i) > 0.35);
    assert.ok(
      share('disk_pressure', /[Nn]o space left on device|DiskPressure|DiskSpace|DiskUsage|filesystem/) > 0.35,
    );
    // Half the CPU saturations are caught on their way up, before any alert fires (0.20 here).
    assert.ok(share('cpu_saturation', /CPUThrottlingHigh|HighCPUUsage|cpu usage|load average/) > 0.15);
    // Caught climbing: far above their normal (4.5 deviations) with the window still under 62%,
    // which healthy windows seldom are (0.087 and 0.004 here).
    const climbing = (label: string) => {
      const rs = rows.filter((r) => r.label === label);
      const up = rs.filter(
        (r) => (r.features['cpu.deviation'] ?? 0) >= 4.5 && (r.features['cpu.max'] ?? 100) < 62,
      );
      return up.length / rs.length;
    };
    assert.ok(climbing('cpu_saturation') > 0.025, `cpu_saturation climbing ${climbing('cpu_saturation')}`);
    assert.ok(climbing('healthy') < 0.01, `healthy climbing ${climbing('healthy')}`);
    // Healthy windows carry a deploy that went fine about as often as bad deploys carry theirs (most
    // deploys go fine), some of them two; some came up cold (latency wobbling, errors as before).
    assert.ok(share('healthy', /v2\.\d+\.\d+/) > 0.18, `healthy deploys ${share('healthy', /v2\.\d+\.\d+/)}`);
    assert.ok(share('healthy', /v2\.\d+\.\d+.*v2\.\d+\.\d+/) > 0.03);
    assert.ok(share('bad_deploy', /v2\.\d+\.\d+.*v2\.\d+\.\d+/) > 0.1);
    const coldStarts = rows.filter(
      (r) =>
        r.label === 'healthy' &&
        r.events.some((e) => /v2\.\d+\.\d+/.test(e.message)) &&
        (r.features['latency.deviation'] ?? 0) >= 2,
    ).length;
    assert.ok(coldStarts / rows.length > 0.005, `cold starts ${coldStarts}`);
    // And an old OOM kill.
    assert.ok(share('healthy', /OOMKilled/) > 0.005);
    // Other wordings of the same events, and windows without any.
    assert.ok(share('dependency_outage', /ConnectException|no healthy upstream|reset by peer/) > 0.05);
    assert.ok(rows.filter((r) => r.events.length === 0).length / rows.length > 0.1);
    const mean = (label: string, f: string) => {
      const rs = rows.filter((r) => r.label === label && r.features[f] !== undefined);
      return rs.reduce((a, r) => a + r.features[f]!, 0) / rs.length;
    };
    // The newest sample: half the saturations are still climbing, their window's average near normal
    // (last 29 points above healthy here, avg 16).
    assert.ok(mean('cpu_saturation', 'cpu.last') > mean('healthy', 'cpu.last') + 25);
    assert.ok(mean('disk_pressure', 'disk.avg') > mean('healthy', 'disk.avg') + 25);
    assert.ok(mean('dependency_outage', 'upstream_errors.avg') > 10 * mean('healthy', 'upstream_errors.avg'));
    // Fleets differ: some lack upstream_errors, some report latency in seconds; most have a baseline.
    const lacking = rows.filter((r) => r.features['upstream_errors.avg'] === undefined).length;
    assert.ok(lacking / rows.length > 0.25 && lacking / rows.length < 0.45, `${lacking}`);
    assert.ok(rows.some((r) => r.features['latency.avg'] !== undefined && r.features['latency.avg'] < 1));
    const warm = rows.filter((r) => r.features['cpu.deviation'] !== undefined).length / rows.length;
    assert.ok(warm > 0.6 && warm < 0.85, `${warm}`);
    const deviation = (label: string) => mean(label, 'errors.deviation');
    assert.ok(deviation('bad_deploy') > 5 * Math.abs(deviation('healthy')));
    // Overlap: some healthy entities run as hot as a saturated one.
    assert.ok(rows.some((r) => r.label === 'healthy' && r.features['cpu.avg']! > 75));
  });

  it('shifts named features by a constant and refuses unknown ones', () => {
    const plain = generateScenarios({ rows: 50, seed: 9 });
    const shifted = generateScenarios({ rows: 50, seed: 9, shift: { 'cpu.avg': 10 } });
    plain.forEach((r, i) => {
      if (r.features['cpu.avg'] === undefined) return; // a fleet without the metric: nothing to shift
      assert.ok(Math.abs(shifted[i]!.features['cpu.avg']! - r.features['cpu.avg']! - 10) < 1e-9);
      assert.equal(shifted[i]!.features['cpu.max'], r.features['cpu.max']);
    });
    assert.throws(
      () => generateScenarios({ rows: 1, seed: 1, shift: { 'gpu.avg': 1 } }),
      /cannot shift gpu\.avg/,
    );
    assert.throws(() => generateScenarios({ rows: -1, seed: 1 }), RangeError);
  });
});

const T = 1_700_000_000_000;

function observation(entity: string, start: number, cpu: number): Observation {
  return {
    entity,
    seq: start / 1000,
    window: { start: T + start, end: T + start + 30_000 },
    features: { 'cpu.avg': cpu },
    events: [{ kind: 'alert', message: `cpu ${cpu}`, ts: T + start }],
    ts: T + start + 30_000,
  };
}

function decision(id: string, o: Observation, rule: string, incidentClass?: string): Decision {
  return {
    decisionId: id,
    entity: o.entity,
    rule,
    ruleVersion: 'v1',
    mode: 'enforce',
    action: 'scale_out',
    args: {},
    actuator: { type: 'http' },
    cooldown: '10m',
    approval: 'none',
    verify: { conditions: { all: [] }, within: '5m', stableFor: '0s' },
    incident: incidentClass ? { class: incidentClass, confidence: 0.9, modelVersion: 'm1' } : null,
    facts: {},
    window: o.window,
    stale: false,
    ts: o.ts,
  };
}

function verdict(d: Decision, outcome: Verdict['outcome']): Verdict {
  return {
    decisionId: d.decisionId,
    workflowId: `wf-${d.decisionId}`,
    entity: d.entity,
    rule: d.rule,
    action: d.action,
    outcome,
    evidence: {},
    ts: d.ts + 60_000,
  };
}

describe('labelHistory', () => {
  const hot = observation('svc/a', 0, 95);
  const leaking = observation('svc/b', 0, 40);
  const unknownRule = observation('svc/c', 0, 50);
  const missing = observation('svc/d', 0, 60);
  const nearIncident = observation('svc/a', 300_000, 50); // 5 min after a's decision
  const quiet = Array.from({ length: 20 }, (_, i) => observation(`svc/q${i}`, 0, 30 + i));
  const farLater = observation('svc/a', 3_600_000, 35); // an hour later: healthy again
  const d1 = decision('d1', hot, 'cpu-saturation-scale-out', 'cpu_saturation');
  const d2 = decision('d2', leaking, 'restart-on-growth', 'memory_leak');
  const d3 = decision('d3', unknownRule, 'mystery-rule');
  const d4 = decision('d4', missing, 'disk-pressure-clean-up');
  const d5 = decision('d5', hot, 'error-spike-after-deploy-rollback', 'cpu_saturation');
  const history = {
    observations: [hot, leaking, unknownRule, nearIncident, ...quiet, farLater],
    decisions: [d1, d2, d3, d4, d5, d1],
    verdicts: [
      verdict(d1, 'verified'),
      verdict(d1, 'verified'), // redelivered
      verdict(d2, 'failed'),
      verdict(d3, 'verified'),
      verdict(d4, 'verified'),
      verdict(d5, 'absorbed'),
      { ...verdict(d1, 'verified'), decisionId: 'gone' },
    ],
  };

  it('labels verified decisions positive, failed ones negative, and samples quiet windows as healthy', () => {
    const out = labelHistory(history, {
      classes: [...SCENARIO_CLASSES],
      healthyRatio: 2,
    });
    const positives = out.rows.filter((r) => r.label !== 'healthy');
    assert.deepEqual(
      positives.map((r) => [r.label, r.features['cpu.avg']]),
      [['cpu_saturation', 95]],
    );
    assert.deepEqual(positives[0]!.events, [{ kind: 'alert', message: 'cpu 95' }]);
    assert.deepEqual(
      out.negatives.map((n) => [n.notClass, n.features['cpu.avg']]),
      [['memory_leak', 40]],
    );
    const healthy = out.rows.filter((r) => r.label === 'healthy');
    assert.equal(healthy.length, 2);
    for (const h of healthy) assert.ok(h.features['cpu.avg']! < 60, 'never a decided or nearby window');
    assert.deepEqual(out.stats, {
      positives: { cpu_saturation: 1 },
      negatives: { memory_leak: 1 },
      healthy: 2,
      healthyCandidates: 21,
      uninformative: { absorbed: 1 },
      verdictsWithoutDecision: 1,
      decisionsWithoutObservation: 1,
      decisionsWithoutClass: 1,
      classConflicts: 0,
    });
  });

  it('prefers the configured rule class and samples the same healthy rows for a seed', () => {
    const opts = {
      ruleClasses: { 'mystery-rule': 'memory_leak', 'cpu-saturation-scale-out': 'bad_deploy' },
      seed: 3,
    };
    const out = labelHistory(history, opts);
    assert.deepEqual(out.stats.positives, { bad_deploy: 1, memory_leak: 1 });
    assert.equal(out.stats.classConflicts, 1);
    assert.deepEqual(labelHistory(history, opts).rows, out.rows);
  });

  it('maps rule names to classes by prefix', () => {
    const classes = [...SCENARIO_CLASSES];
    assert.equal(classFromRuleName('memory-leak-restart', classes), 'memory_leak');
    assert.equal(classFromRuleName('dependency-outage-open-circuit-breaker', classes), 'dependency_outage');
    assert.equal(classFromRuleName('error-spike-after-deploy-rollback', classes), undefined);
    assert.equal(classFromRuleName('cpu-saturation', classes), 'cpu_saturation');
  });
});

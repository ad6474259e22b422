/**
 * Another fleet's metric set and event wording on the simulator (AUTOGLM_FLEET_DROP_METRICS,
 * _RENAME_METRICS, _METRIC_SCALE, _EVENT_WORDING): parsed with every problem named, applied to
 * the samples and events the loop sees, and the shipped classifier on such a fleet's traces: no
 * crash, missing inputs imputed, incidents that do not need the lost metric still named.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from '../../infra/paths.js';
import { incidentNaming } from '../../services/classifier/cross-evaluate.js';
import { fleetDataset } from '../../services/classifier/fleet-dataset.js';
import { readModelJson } from '../../services/classifier/model-files.js';
import { predict } from '../../services/classifier/predict.js';
import { ConfigError } from '../../services/common/config.js';
import type { MetricSample, OpsEvent } from '../../services/common/contracts.js';
import { otherPhrasing, wordEvents } from '../../services/fleet/event-wording.js';
import { loadFleetConfig } from '../../services/fleet/fleet-config.js';
import { FleetModel } from '../../services/fleet/fleet-model.js';
import { applyMetricSet, isFullMetricSet } from '../../services/fleet/metric-set.js';

const sample = (metric: string, value: number): MetricSample => ({ entity: 'a/pod-1', metric, value, ts: 1 });

describe('fleet metric set', () => {
  it('is every metric, our names and units by default, and our wording', () => {
    const c = loadFleetConfig({});
    assert.ok(isFullMetricSet(c.metricSet));
    assert.equal(c.eventWording, 'ours');
    const samples = [sample('cpu', 50)];
    assert.equal(applyMetricSet(samples, c.metricSet), samples);
  });

  it('drops, scales and renames what the settings say', () => {
    const c = loadFleetConfig({
      AUTOGLM_FLEET_DROP_METRICS: 'upstream_errors, restarts',
      AUTOGLM_FLEET_RENAME_METRICS: 'errors=http_5xx_rate',
      AUTOGLM_FLEET_METRIC_SCALE: 'latency=0.001',
      AUTOGLM_FLEET_EVENT_WORDING: 'other',
    });
    const out = applyMetricSet(
      [
        sample('cpu', 50),
        sample('upstream_errors', 3),
        sample('restarts', 1),
        sample('errors', 2),
        sample('latency', 1800),
      ],
      c.metricSet,
    );
    assert.deepEqual(
      out.map((s) => [s.metric, s.value]),
      [
        ['cpu', 50],
        ['http_5xx_rate', 2],
        ['latency', 1.8],
      ],
    );
    const events: OpsEvent[] = [
      { entity: 'a/pod-1', kind: 'deploy', message: 'deployed v1.4.2', ts: 1, attrs: { version: 'v1.4.2' } },
      { entity: 'a/pod-1', kind: 'log', message: 'GET /healthz 200', ts: 2 },
    ];
    const worded = wordEvents(events, c.eventWording);
    assert.deepEqual(
      worded.map((e) => e.message),
      ['rollout of v1.4.2 finished', 'GET /healthz 200'],
    );
    assert.deepEqual(worded[0]!.attrs, { version: 'v1.4.2' }, 'attributes are kept');
    assert.equal(otherPhrasing('OOMKilled'), 'process killed: out of memory');
  });

  it('lists every problem, each with its setting and the fix', () => {
    try {
      loadFleetConfig({
        AUTOGLM_FLEET_DROP_METRICS: 'upstream_errors,gpu',
        AUTOGLM_FLEET_RENAME_METRICS: 'errors=Bad Name,latency',
        AUTOGLM_FLEET_METRIC_SCALE: 'latency=0,upstream_errors=2',
        AUTOGLM_FLEET_EVENT_WORDING: 'klingon',
      });
      assert.fail('accepted');
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      const text = err.problems.join('\n');
      assert.match(text, /AUTOGLM_FLEET_DROP_METRICS: "gpu" is not a fleet metric/);
      assert.match(text, /AUTOGLM_FLEET_RENAME_METRICS: "Bad Name" is not a metric name/);
      assert.match(text, /AUTOGLM_FLEET_RENAME_METRICS: "latency" must be <metric>=<value>/);
      assert.match(text, /AUTOGLM_FLEET_METRIC_SCALE: the factor of latency must be a number > 0/);
      assert.match(
        text,
        /AUTOGLM_FLEET_DROP_METRICS: "upstream_errors" is dropped, so it cannot also be renamed or scaled/,
      );
      assert.match(text, /AUTOGLM_FLEET_EVENT_WORDING.*"ours" or "other"/);
    }
    // Two series under one name would be merged: refused.
    assert.throws(
      () => loadFleetConfig({ AUTOGLM_FLEET_RENAME_METRICS: 'errors=latency' }),
      /errors would be reported as "latency", which the fleet also reports/,
    );
    assert.ok(loadFleetConfig({ AUTOGLM_FLEET_RENAME_METRICS: 'errors=latency,latency=latency_seconds' }));
  });

  it('the running model is untouched: the ground truth keeps every metric', () => {
    const fleet = new FleetModel({ services: 1, podsPerService: 1, seed: 2, tickMs: 1000 });
    const { samples } = fleet.tick(Date.UTC(2026, 0, 5));
    const set = loadFleetConfig({ AUTOGLM_FLEET_DROP_METRICS: 'upstream_errors' }).metricSet;
    assert.ok(samples.some((s) => s.metric === 'upstream_errors'));
    assert.ok(!applyMetricSet(samples, set).some((s) => s.metric === 'upstream_errors'));
    assert.ok(
      samples.some((s) => s.metric === 'upstream_errors'),
      'applying copies, it does not edit',
    );
  });
});

describe('the shipped classifier on a fleet whose metric names it never saw', () => {
  const model = readModelJson(path.join(repoRoot, 'models', 'incident'));

  it('errors renamed (no mapping brings them back): no crash, the other classes still named', () => {
    const rows = fleetDataset({
      seed: 6,
      rounds: 3,
      rename: { errors: 'http_5xx_rate' },
      dropMetrics: ['upstream_errors'],
    });
    assert.ok(rows.every((r) => r.features['errors.avg'] === undefined));
    assert.ok(rows.some((r) => typeof r.features['http_5xx_rate.avg'] === 'number'));
    for (const r of rows) {
      const fact = predict(model, r);
      assert.ok(Number.isFinite(fact.confidence), 'a confidence for every row');
    }
    const byClass = (cls: string) =>
      incidentNaming(
        model,
        rows.filter((r) => r.scenario === cls || r.label === 'healthy'),
      );
    // Classes whose evidence is not the lost metric are still named right.
    for (const cls of ['cpu_saturation', 'memory_leak', 'disk_pressure']) {
      const n = byClass(cls);
      assert.ok(n.right >= 0.9 * n.incidents, `${cls}: ${JSON.stringify(n)}`);
    }
    const all = incidentNaming(model, rows);
    assert.ok(all.healthyNamed / all.healthy <= 0.15, JSON.stringify(all));
  });
});

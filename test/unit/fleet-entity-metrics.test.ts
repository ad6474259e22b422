/**
 * The fleet simulator's `GET /metrics`: every entity's latest samples as Prometheus gauges with
 * namespace/pod/service labels, in text that Prometheus's own `promtool check metrics` accepts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { ConfigError } from '../../services/common/config.js';
import { startControlApi, type ControlApi } from '../../services/fleet/control-api.js';
import {
  ENTITY_METRIC_NAMES,
  FleetEntityMetrics,
  entityLabels,
} from '../../services/fleet/entity-metrics.js';
import { loadFleetConfig } from '../../services/fleet/fleet-config.js';
import { FleetModel } from '../../services/fleet/fleet-model.js';
import { FLEET_METRICS } from '../../services/fleet/fleet-types.js';

/** `name{labels} value` lines of an exposition, as {name, labels, value}. */
function parseExposition(text: string) {
  const rows: { name: string; labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\} (\S+)$/.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries(
      [...m[2]!.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"/g)].map((l) => [l[1]!, l[2]!]),
    );
    rows.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return rows;
}

describe('fleet /metrics for Prometheus', () => {
  const model = new FleetModel({ services: 2, podsPerService: 2, seed: 7 });
  const metrics = new FleetEntityMetrics();
  let api: ControlApi;
  before(async () => {
    api = await startControlApi({ fleet: model, allowUnsigned: true, metrics: () => metrics.scrape() });
  });
  after(() => api.close());

  it('serves the latest tick of every entity, labelled by namespace, pod and service', async () => {
    const start = Date.now();
    model.tick(start);
    const out = model.tick(start + 1000);
    metrics.update(out.samples);
    const res = await fetch(`${api.origin}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const rows = parseExposition(await res.text());
    assert.equal(rows.length, model.entityIds.length * FLEET_METRICS.length);
    for (const s of out.samples) {
      const { namespace, pod } = entityLabels(s.entity);
      const row = rows.find(
        (r) =>
          r.name === ENTITY_METRIC_NAMES[s.metric as keyof typeof ENTITY_METRIC_NAMES].name &&
          r.labels.namespace === namespace &&
          r.labels.pod === pod,
      );
      assert.ok(row, `${s.entity} ${s.metric} is exposed`);
      assert.equal(row.value, s.value);
      // {{namespace}}/{{pod}} gives the entity back, as an ingest mapping would build it.
      assert.equal(`${row.labels.namespace}/${row.labels.pod}`, s.entity);
      assert.equal(row.labels.service, namespace);
    }
  });

  it('keeps only the latest tick (an entity removed from the samples disappears)', async () => {
    const out = model.tick(Date.now() + 5000);
    metrics.update(out.samples.filter((s) => s.entity === model.entityIds[0]));
    const rows = parseExposition(await (await fetch(`${api.origin}/metrics`)).text());
    assert.equal(rows.length, FLEET_METRICS.length);
    assert.ok(rows.every((r) => `${r.labels.namespace}/${r.labels.pod}` === model.entityIds[0]));
  });

  it("passes Prometheus's own linter (promtool check metrics)", async () => {
    metrics.update(model.tick(Date.now() + 10_000).samples);
    const text = await (await fetch(`${api.origin}/metrics`)).text();
    const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    assert.equal(r.error, undefined, 'promtool runs (Debian package prometheus; .ci/run installs it)');
    assert.equal(r.status, 0, `promtool: ${r.stdout}${r.stderr}`);
  });

  it('answers 404 for /metrics when no metrics are wired', async () => {
    const bare = await startControlApi({ fleet: model, allowUnsigned: true });
    try {
      assert.equal((await fetch(`${bare.origin}/metrics`)).status, 404);
    } finally {
      await bare.close();
    }
  });

  it('AUTOGLM_FLEET_SAMPLES chooses the metrics topic (default) or the scrape endpoint only', () => {
    assert.equal(loadFleetConfig({}).samples, 'kafka');
    assert.equal(loadFleetConfig({ AUTOGLM_FLEET_SAMPLES: 'scrape' }).samples, 'scrape');
    assert.throws(
      () => loadFleetConfig({ AUTOGLM_FLEET_SAMPLES: 'prometheus' }),
      (err: unknown) => err instanceof ConfigError && /AUTOGLM_FLEET_SAMPLES.*"scrape"/.test(err.message),
    );
  });
});

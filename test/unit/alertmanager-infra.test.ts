/**
 * The Prometheus and Alertmanager components of `autoglm infra up --with prometheus`: the configs
 * they write are checked by the programs' own tools (promtool, amtool), a missing package is a
 * prerequisite error saying what to install, and a stopped component reports where its log is.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { alertmanagerComponent, alertmanagerConfig } from '../../infra/alertmanager.js';
import { PrerequisiteError } from '../../infra/errors.js';
import { FLEET_ALERT_RULES, MONITORING_MAPPINGS_DIR, monitoringComponents } from '../../infra/monitoring.js';
import { prometheusComponent, prometheusConfig } from '../../infra/prometheus.js';
import { Mapping } from '../../services/ingest/mapping.js';
import { ENTITY_METRIC_NAMES } from '../../services/fleet/entity-metrics.js';

function tool(cmd: string, args: string[]) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  assert.equal(
    r.error,
    undefined,
    `${cmd} runs (Debian's prometheus / prometheus-alertmanager; .ci/run installs them)`,
  );
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe('Prometheus and Alertmanager components', () => {
  let home: string;
  const savedPath = process.env.PATH;
  beforeEach(() => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'autoglm-prom-'));
  });
  afterEach(() => {
    process.env.PATH = savedPath;
    fs.rmSync(home, { recursive: true, force: true });
  });

  it("writes a Prometheus config that promtool accepts, with the fleet's alert rules", () => {
    const tokenFile = path.join(home, 'token');
    fs.writeFileSync(tokenFile, 'secret\n');
    const file = path.join(home, 'prometheus.yml');
    fs.writeFileSync(
      file,
      prometheusConfig({
        home,
        scrape: [{ job: 'fleet', targets: ['127.0.0.1:8090'] }],
        ruleFiles: [FLEET_ALERT_RULES],
        alertmanagers: ['127.0.0.1:19093'],
        remoteWrite: [{ url: 'http://127.0.0.1:9480/api/v1/write', tokenFile, keep: 'fleet_.*' }],
      }),
    );
    const r = tool('promtool', ['check', 'config', file]);
    assert.equal(r.status, 0, r.output);
    assert.match(r.output, /SUCCESS: 5 rules found/);
    // The token is referenced by file, never copied into the config.
    assert.doesNotMatch(fs.readFileSync(file, 'utf8'), /secret/);
  });

  it('writes an Alertmanager config that amtool accepts, with the webhook to ingest', () => {
    const file = path.join(home, 'alertmanager.yml');
    const tokenFile = path.join(home, 'token');
    fs.writeFileSync(tokenFile, 'secret\n');
    fs.writeFileSync(
      file,
      alertmanagerConfig({
        home,
        webhooks: [{ url: 'http://127.0.0.1:9480/api/v1/alertmanager', tokenFile }],
      }),
    );
    const r = tool('amtool', ['check-config', file]);
    assert.equal(r.status, 0, r.output);
    assert.match(r.output, /SUCCESS[\s\S]* 1 receivers/);
    fs.writeFileSync(file, alertmanagerConfig({ home }));
    assert.equal(tool('amtool', ['check-config', file]).status, 0);
  });

  it('maps every series the fleet exposes to its metric with the shipped remote-write mapping', () => {
    const spec: unknown = JSON.parse(
      fs.readFileSync(path.join(MONITORING_MAPPINGS_DIR, 'remote-write.json'), 'utf8'),
    );
    const mapping = Mapping.of(spec);
    for (const [metric, { name }] of Object.entries(ENTITY_METRIC_NAMES))
      assert.equal(mapping.metricOf(name), metric);
    assert.equal(mapping.metricOf('go_goroutines'), undefined);
    const labels: Record<string, string> = { namespace: 'checkout', pod: 'pod-1' };
    assert.deepEqual(
      mapping.entityOf((k) => labels[k]),
      { ok: true, entity: 'checkout/pod-1' },
    );
  });

  it('makes one private token file per source for the local stack, and keeps it', () => {
    const first = monitoringComponents({ home, fleetPort: 8090, ingestPort: 9480 });
    const token = fs.readFileSync(path.join(first.tokensDir, 'alertmanager.tokens'), 'utf8');
    assert.match(token, /^[0-9a-f]{48}\n$/);
    assert.equal(fs.statSync(path.join(first.tokensDir, 'remote-write.tokens')).mode & 0o077, 0);
    const again = monitoringComponents({ home, fleetPort: 8090, ingestPort: 9480 });
    assert.equal(fs.readFileSync(path.join(again.tokensDir, 'alertmanager.tokens'), 'utf8'), token);
  });

  it('says which Debian package to install when a binary is missing', async () => {
    process.env.PATH = '';
    await assert.rejects(prometheusComponent({ home, port: 1 }).start(), (err: unknown) => {
      assert.ok(err instanceof PrerequisiteError);
      assert.match(err.message, /apt-get install prometheus\b/);
      return true;
    });
    await assert.rejects(alertmanagerComponent({ home, port: 1 }).start(), (err: unknown) => {
      assert.ok(err instanceof PrerequisiteError);
      assert.match(err.message, /apt-get install prometheus-alertmanager/);
      return true;
    });
  });

  it('reports a stopped component with its endpoint and log, and leaves an external one alone', async () => {
    const status = await alertmanagerComponent({ home, port: 1 }).status();
    assert.equal(status.state, 'stopped');
    assert.equal(status.endpoint, 'http://127.0.0.1:1');
    assert.equal(status.logPath, path.join(home, 'logs', 'alertmanager.log'));
    const external = prometheusComponent({ home, url: 'http://127.0.0.1:1/' });
    assert.equal(external.external, true);
    await external.start();
    assert.equal(await external.stop(), false);
    assert.equal(fs.existsSync(path.join(home, 'data', 'prometheus')), false);
  });
});

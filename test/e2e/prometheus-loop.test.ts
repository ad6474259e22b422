/**
 * The loop fed by the real Prometheus and Alertmanager (Debian's packages, our own processes), as
 * `autoglm up --with prometheus` runs it: Prometheus scrapes the fleet simulator's /metrics and
 * remote-writes to ingest; its alert rule fires and Alertmanager sends the webhook to ingest; the
 * rule (CPU high AND the alert firing, as facts) decides, act silences the entity's alerts in Alertmanager and scales
 * out; the silence is in Alertmanager's API while the remediation runs and expired once `verified`.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import { Registry } from 'prom-client';
import { MONITORING_MAPPINGS_DIR, monitoringComponents } from '../../infra/monitoring.js';
import { waitUntil } from '../../infra/process.js';
import { topicNames } from '../../services/common/config.js';
import type { Decision, Observation, OpsEvent, Verdict } from '../../services/common/contracts.js';
import { createKafka } from '../../services/common/kafka.js';
import { createLogger } from '../../services/common/logger.js';
import type { Service } from '../../services/common/service.js';
import { connectClient } from '../../services/common/temporal.js';
import { loadFleetConfig } from '../../services/fleet/fleet-config.js';
import { startFleet, type RunningFleet } from '../../services/fleet/main.js';
import { startIngest, type IngestService } from '../../services/ingest/main.js';
import { startLoop } from '../../services/loop.js';
import { testConfig } from '../support/config.js';
import { fastCpuRule, writeRuleDir } from '../support/fast-loop.js';
import { freePort } from '../support/free-port.js';
import { deleteTopicsWithPrefix, TopicTap } from '../support/kafka.js';
import { terminateTestRuns } from '../support/temporal.js';

const ENTITY = 'checkout/pod-1';

/** Scale out when CPU is high AND Alertmanager says the CPU alert fires for the entity (alerts as facts). */
const cpuRule = fastCpuRule('e2e-prometheus-cpu-alert', '90s');
const RULE = {
  ...cpuRule,
  conditions: {
    all: [
      ...cpuRule.conditions.all,
      { fact: 'alerts.names', operator: 'contains', value: 'FleetCpuSaturation' },
    ],
  },
};

/** The fleet's CPU alert with a short `for`, so the test need not wait the shipped rule's 10s. */
const ALERT_RULES = `groups:
  - name: e2e
    rules:
      - alert: FleetCpuSaturation
        expr: fleet_cpu_percent > 85
        for: 2s
        labels: { severity: critical }
        annotations: { summary: 'CPU at {{ $value }}' }
`;

interface ApiSilence {
  id: string;
  comment: string;
  createdBy: string;
  status: { state: string };
}

describe('the loop fed by the real Prometheus and Alertmanager', () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'autoglm-prom-loop-'));
  const logger = createLogger('warn');
  const rulesDir = writeRuleDir([RULE]);
  const keyFile = path.join(home, 'hmac.key');
  fs.writeFileSync(keyFile, 'e2e-prometheus-loop-hmac-key-0123456789', { mode: 0o600 });
  const base = testConfig({ actuatorHmacKeyFile: keyFile, window: '10s', emitEvery: '1s' });
  const same = {
    topicPrefix: base.topicPrefix,
    groupPrefix: base.groupPrefix,
    actTaskQueue: base.actTaskQueue,
    verifyTaskQueue: base.verifyTaskQueue,
    actuatorHmacKeyFile: keyFile,
    window: '10s',
    emitEvery: '1s',
  };
  const kafka = createKafka(base, logger);
  const taps: Record<'observations' | 'events' | 'decisions' | 'verdicts', TopicTap> = {} as never;
  let fleet: RunningFleet;
  let ingest: IngestService;
  let loop: Service | undefined;
  let client: Client;
  let stack: ReturnType<typeof monitoringComponents>;
  const started: { stop(): Promise<unknown> }[] = [];

  before(async () => {
    const ctx = (config: typeof base) => ({ config, logger, registry: new Registry() });
    fleet = await startFleet(
      ctx(base),
      loadFleetConfig(
        {},
        {
          services: '1',
          pods: '1',
          port: '0',
          scenarios: 'none',
          tick: '500ms',
          recovery: '2s',
          samples: 'scrape',
        },
      ),
    );
    started.push(fleet);
    const alertRules = path.join(home, 'alerts.yml');
    fs.writeFileSync(alertRules, ALERT_RULES);
    const alertmanagerPort = await freePort();
    const ingestPort = await freePort();
    stack = monitoringComponents({
      home,
      fleetPort: Number(new URL(fleet.controlOrigin).port),
      ingestPort,
      prometheusPort: await freePort(),
      alertmanagerPort,
      interval: '1s',
      ruleFiles: [alertRules],
    });
    ingest = await startIngest(
      ctx(
        testConfig({
          ...same,
          ingestPort: String(ingestPort),
          ingestTokensDir: stack.tokensDir,
          ingestMappingsDir: MONITORING_MAPPINGS_DIR,
        }),
      ),
    );
    started.push(ingest);
    const loopConfig = testConfig({
      ...same,
      rulesDir,
      httpActuatorUrl: `${fleet.controlOrigin}/actuate`,
      httpAllowedOrigins: `${fleet.controlOrigin},${stack.alertmanager.url}`,
      alertmanagerUrl: stack.alertmanager.url,
      ingestMappingsDir: MONITORING_MAPPINGS_DIR,
    });
    loop = await startLoop(ctx(loopConfig));
    client = await connectClient(loopConfig);
    const topics = topicNames(base);
    for (const name of ['observations', 'events', 'decisions', 'verdicts'] as const)
      taps[name] = await new TopicTap(kafka, topics[name], logger).start();
    for (const c of [stack.alertmanager, stack.prometheus]) {
      await c.start();
      started.push(c);
      assert.ok((await waitUntil(() => c.healthy(), 30_000, 200)).ok, `${c.name} is ready`);
    }
  });

  after(async () => {
    for (const tap of Object.values(taps)) await tap.stop();
    for (const s of started.reverse()) await s.stop().catch(() => undefined);
    await loop?.stop();
    if (client) await terminateTestRuns(client, base.topicPrefix, new Set([ENTITY]));
    await client?.connection.close();
    await deleteTopicsWithPrefix(kafka, base.topicPrefix);
    fs.rmSync(home, { recursive: true, force: true });
    fs.rmSync(rulesDir, { recursive: true, force: true });
  });

  const silences = async () =>
    (await (await fetch(`${stack.alertmanager.url}/api/v2/silences`)).json()) as ApiSilence[];

  it('decides on remote-written metrics and an Alertmanager alert, silences during the remediation, expires the silence once verified', async () => {
    // Metrics reach sense only through Prometheus and ingest (the fleet publishes no samples).
    const observed = await taps.observations.waitFor<Observation>(
      (o) => o.entity === ENTITY && (o.features['cpu.count'] ?? 0) >= 3,
      60_000,
    );
    assert.ok(observed.features['mem.avg'] !== undefined, 'mapped names: fleet_memory_percent → mem');
    assert.equal(taps.decisions.values<Decision>((d) => d.entity === ENTITY).length, 0);

    const injected = fleet.model.inject({ class: 'cpu_saturation', entity: ENTITY }, Date.now());
    assert.ok(injected.ok);
    const alert = await taps.events.waitFor<OpsEvent>(
      (e) => e.entity === ENTITY && e.kind === 'alert' && e.attrs?.status === 'firing',
      90_000,
    );
    assert.equal(alert.attrs?.alertname, 'FleetCpuSaturation');
    assert.match(String(alert.attrs?.generatorURL), /^http:\/\/.*\/graph\?g0\.expr=fleet_cpu_percent/);
    const decision = await taps.decisions.waitFor<Decision>((d) => d.entity === ENTITY, 60_000);
    assert.equal(decision.action, 'scale_out');
    assert.deepEqual(decision.facts['alerts.names'], ['FleetCpuSaturation'], 'the firing alert was a fact');
    assert.equal(decision.facts['alerts.firing'], 1);

    // While the remediation runs: the silence is in Alertmanager's API, made by autoglm for it.
    let seen: ApiSilence | undefined;
    let verdict: Verdict | undefined;
    const deadline = Date.now() + 120_000;
    while (!verdict && Date.now() < deadline) {
      seen ??= (await silences()).find((s) => s.status.state === 'active' && s.createdBy === 'autoglm');
      verdict = taps.verdicts.values<Verdict>((v) => v.entity === ENTITY)[0];
      await sleep(250);
    }
    assert.ok(verdict, 'a verdict within 2 minutes');
    assert.ok(seen, 'an active silence while the remediation ran');
    assert.match(seen.comment, new RegExp(`^autoglm remediation ${verdict.workflowId}: scale_out`));
    assert.equal(verdict.outcome, 'verified', JSON.stringify(verdict.evidence));
    const action = fleet.model.actionsSince(0).find((a) => a.entity === ENTITY);
    assert.equal(action?.verdict, 'right', 'the fleet judged the scale_out the right action');

    // Verified: the silence is expired (right after the verdict is published).
    assert.ok(
      (
        await waitUntil(
          async () => (await silences()).find((s) => s.id === seen.id)?.status.state === 'expired',
          15_000,
          200,
        )
      ).ok,
      'the silence is expired after verified',
    );
  });
});

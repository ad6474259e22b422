/**
 * The real Alertmanager (Debian's 0.25, our own process) sends its webhook to the real ingest with
 * a bearer token from a file; ingest writes one `alert` event per alert into Kafka. Two alerts of
 * one group fire, then one resolves: Alertmanager re-sends the whole group, and the events topic
 * holds each firing once and the resolution once.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { alertmanagerComponent } from '../../infra/alertmanager.js';
import { waitUntil } from '../../infra/process.js';
import { topicNames } from '../../services/common/config.js';
import type { OpsEvent } from '../../services/common/contracts.js';
import { createKafka } from '../../services/common/kafka.js';
import { createLogger } from '../../services/common/logger.js';
import { startIngest, type IngestService } from '../../services/ingest/main.js';
import { alertmanagerSource } from '../../services/ingest/sources/alertmanager.js';
import { testConfig } from '../support/config.js';
import { freePort } from '../support/free-port.js';
import { deleteTopicsWithPrefix, TopicTap } from '../support/kafka.js';

describe('Alertmanager webhook into ingest and Kafka (real Alertmanager)', () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'autoglm-am-'));
  const tokens = path.join(home, 'tokens');
  const logger = createLogger('warn');
  const config = testConfig({ ingestPort: '0', ingestTokensDir: tokens, logLevel: 'warn' });
  const kafka = createKafka(config, logger);
  let ingest: IngestService;
  let alertmanager: ReturnType<typeof alertmanagerComponent>;
  let events: TopicTap;

  before(async () => {
    fs.mkdirSync(tokens, { mode: 0o700 });
    fs.writeFileSync(path.join(tokens, 'alertmanager.tokens'), 'e2e-webhook-token\n', { mode: 0o600 });
    ingest = await startIngest({ config, logger, registry: new Registry() }, [alertmanagerSource()]);
    alertmanager = alertmanagerComponent({
      home,
      port: await freePort(),
      groupBy: ['alertname', 'namespace'],
      groupInterval: '2s',
      webhooks: [
        {
          url: `http://127.0.0.1:${ingest.port}/api/v1/alertmanager`,
          tokenFile: path.join(tokens, 'alertmanager.tokens'),
        },
      ],
    });
    await alertmanager.start();
    assert.ok((await waitUntil(() => alertmanager.healthy(), 30_000, 200)).ok, 'alertmanager is ready');
    events = await new TopicTap(kafka, topicNames(config).events, logger).start();
  });

  after(async () => {
    await alertmanager?.stop();
    await events?.stop();
    await ingest?.stop();
    await deleteTopicsWithPrefix(kafka, config.topicPrefix);
    fs.rmSync(home, { recursive: true, force: true });
  });

  const startsAt = new Date(Date.now() - 1000);
  const alert = (pod: string, endsAt?: string) => ({
    labels: { alertname: 'KubePodCrashLooping', namespace: 'payments', pod, severity: 'critical' },
    annotations: { summary: `${pod} restarts` },
    generatorURL: 'http://prometheus.example/graph',
    startsAt: startsAt.toISOString(),
    ...(endsAt ? { endsAt } : {}),
  });
  const postAlerts = async (alerts: unknown[]) => {
    const res = await fetch(`${alertmanager.url}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(alerts),
    });
    assert.equal(res.status, 200, await res.text());
  };
  const alertEvents = () => events.values<OpsEvent>((e) => e.kind === 'alert');

  it('delivers each alert of a group once as an event, and the resolution once', async () => {
    await postAlerts([alert('pod-1'), alert('pod-2')]);
    await events.waitFor<OpsEvent>((e) => e.kind === 'alert' && e.entity === 'payments/pod-2', 30_000);
    await events.waitFor<OpsEvent>((e) => e.kind === 'alert' && e.entity === 'payments/pod-1', 10_000);
    const firing = alertEvents();
    assert.deepEqual(firing.map((e) => e.entity).sort(), ['payments/pod-1', 'payments/pod-2']);
    for (const e of firing) {
      assert.equal(e.attrs?.status, 'firing');
      assert.equal(e.attrs?.alertname, 'KubePodCrashLooping');
      assert.equal(e.attrs?.severity, 'critical');
      assert.match(String(e.attrs?.fingerprint), /^[0-9a-f]{16}$/);
      assert.equal(e.attrs?.startsAt, startsAt.toISOString());
      assert.equal(e.ts, startsAt.getTime());
    }

    // pod-1 resolves: Alertmanager sends the group again, pod-2 still firing in it.
    await postAlerts([alert('pod-1', new Date().toISOString())]);
    const resolved = await events.waitFor<OpsEvent>(
      (e) => e.kind === 'alert' && e.attrs?.status === 'resolved',
      30_000,
    );
    assert.equal(resolved.entity, 'payments/pod-1');
    // A later notification of the group (pod-2 alone, unchanged) would also be dropped; wait for
    // one group interval more and count.
    await new Promise((r) => setTimeout(r, 3000));
    const byEntityStatus = alertEvents().map((e) => `${e.entity} ${String(e.attrs?.status)}`);
    assert.deepEqual(byEntityStatus.sort(), [
      'payments/pod-1 firing',
      'payments/pod-1 resolved',
      'payments/pod-2 firing',
    ]);
  });

  it('refuses a webhook without the token (401) before reading it', async () => {
    const res = await fetch(`http://127.0.0.1:${ingest.port}/api/v1/alertmanager`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ version: '4', alerts: [] }),
    });
    assert.equal(res.status, 401);
  });
});

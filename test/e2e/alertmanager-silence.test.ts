/**
 * The alertmanager-silence outlet against the real Alertmanager (Debian's 0.25, our own process):
 * the silence it makes mutes the entity's firing alert and no other, carries createdBy autoglm and
 * a comment naming the remediation, is found again (not doubled) on a retry, and is expired on
 * `expire`, after which the alert is active again.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { alertmanagerComponent } from '../../infra/alertmanager.js';
import { waitUntil } from '../../infra/process.js';
import { AlertmanagerSilences } from '../../services/actuators/alertmanager-silence.js';
import { freePort } from '../support/free-port.js';

interface ApiAlert {
  labels: Record<string, string>;
  status: { state: string; silencedBy: string[] };
}
interface ApiSilence {
  id: string;
  matchers: { name: string; value: string; isRegex: boolean; isEqual?: boolean }[];
  createdBy: string;
  comment: string;
  endsAt: string;
  status: { state: string };
}

describe('alertmanager-silence outlet (real Alertmanager, API v2)', () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'autoglm-silence-'));
  let am: ReturnType<typeof alertmanagerComponent>;

  before(async () => {
    am = alertmanagerComponent({ home, port: await freePort() });
    await am.start();
    assert.ok((await waitUntil(() => am.healthy(), 30_000, 200)).ok, 'alertmanager is ready');
  });
  after(async () => {
    await am?.stop();
    fs.rmSync(home, { recursive: true, force: true });
  });

  const get = async <T>(p: string) => (await (await fetch(`${am.url}${p}`)).json()) as T;
  const alertState = async (pod: string) =>
    (await get<ApiAlert[]>('/api/v2/alerts')).find((a) => a.labels.pod === pod)?.status;

  it('silences the entity’s alerts during the remediation and expires the silence on request', async () => {
    const labels = (pod: string) => ({ alertname: 'FleetCpuSaturation', namespace: 'checkout', pod });
    const res = await fetch(`${am.url}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(
        ['pod-1', 'pod-2'].map((p) => ({ labels: labels(p), startsAt: new Date().toISOString() })),
      ),
    });
    assert.equal(res.status, 200);
    assert.ok((await waitUntil(async () => (await alertState('pod-1'))?.state === 'active', 10_000, 200)).ok);

    const silences = new AlertmanagerSilences({
      url: am.url,
      http: { allowedOrigins: [am.url], timeoutMs: 5000 },
      entityTemplate: '{{namespace}}/{{pod}}',
      silenceForMs: 30 * 60_000,
      linkOf: (id) => `http://127.0.0.1:8233/namespaces/default/workflows/${id}`,
    });
    const remediation = {
      workflowId: 'remediate-e2e-1',
      entity: 'checkout/pod-1',
      rule: 'cpu-saturation-scale-out',
      action: 'scale_out',
    };
    const made = await silences.silence(remediation);
    assert.equal(made.created, true);
    const silence = await get<ApiSilence>(`/api/v2/silence/${made.id}`);
    assert.equal(silence.status.state, 'active');
    assert.equal(silence.createdBy, 'autoglm');
    assert.match(
      silence.comment,
      /^autoglm remediation remediate-e2e-1: scale_out by rule cpu-saturation-scale-out/,
    );
    assert.match(silence.comment, /workflows\/remediate-e2e-1/);
    assert.deepEqual(silence.matchers.map((m) => [m.name, m.value, m.isRegex]).sort(), [
      ['namespace', 'checkout', false],
      ['pod', 'pod-1', false],
    ]);
    assert.ok(
      Date.parse(silence.endsAt) - Date.now() > 25 * 60_000,
      'lasts AUTOGLM_ALERTMANAGER_SILENCE_FOR',
    );
    // The entity's alert is muted by it; the other pod's is not.
    assert.ok(
      (await waitUntil(async () => (await alertState('pod-1'))?.state === 'suppressed', 10_000, 200)).ok,
    );
    assert.deepEqual((await alertState('pod-1'))?.silencedBy, [made.id]);
    assert.equal((await alertState('pod-2'))?.state, 'active');

    // A retried activity finds its silence instead of making a second one.
    assert.deepEqual(await silences.silence(remediation), { id: made.id, created: false });
    assert.equal((await get<ApiSilence[]>('/api/v2/silences')).length, 1);

    // Verified: expired, and the alert is active (pages) again.
    assert.deepEqual(await silences.expire(remediation), [made.id]);
    assert.equal((await get<ApiSilence>(`/api/v2/silence/${made.id}`)).status.state, 'expired');
    assert.ok((await waitUntil(async () => (await alertState('pod-1'))?.state === 'active', 10_000, 200)).ok);
    // Expiring again finds nothing left on.
    assert.deepEqual(await silences.expire(remediation), []);
  });

  it('makes no silence for an entity the mapping cannot read back', async () => {
    const silences = new AlertmanagerSilences({
      url: am.url,
      http: { allowedOrigins: [am.url], timeoutMs: 5000 },
      entityTemplate: '{{namespace}}/{{pod}}',
      silenceForMs: 60_000,
    });
    const before = (await get<ApiSilence[]>('/api/v2/silences')).length;
    await assert.rejects(
      silences.silence({ workflowId: 'w', entity: 'no-slash', rule: 'r', action: 'a' }),
      /does not fit the alert mapping \{\{namespace\}\}\/\{\{pod\}\}/,
    );
    assert.equal((await get<ApiSilence[]>('/api/v2/silences')).length, before);
  });
});

/**
 * The Alertmanager webhook source on payloads the real Alertmanager 0.25 sent (captured by running
 * it: test/fixtures/alertmanager/webhook-v4-captured.json, a group of two firing alerts, then the
 * same group with one resolved): one event per alert, re-sends dropped once written, extra fields
 * ignored, another version refused with its reason. The same source is driven end to end against
 * the running Alertmanager and Kafka in test/e2e/alertmanager-webhook.test.ts.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from '../../infra/paths.js';
import { eventSchema } from '../../services/common/contracts.js';
import { Mapping } from '../../services/ingest/mapping.js';
import type { Conversion, IngestRequest, SourceContext } from '../../services/ingest/source.js';
import { IngestRefusal } from '../../services/ingest/source.js';
import { SeenAlerts, alertmanagerSource } from '../../services/ingest/sources/alertmanager.js';

const captured = JSON.parse(
  fs.readFileSync(path.join(repoRoot, 'test/fixtures/alertmanager/webhook-v4-captured.json'), 'utf8'),
) as Record<string, unknown>[];
const [grouped, oneResolved] = captured as [Record<string, unknown>, Record<string, unknown>];

const ctx = (entity = '{{namespace}}/{{pod}}'): SourceContext => ({
  mapping: Mapping.of({ entity }),
  limits: { maxClockSkewMs: 300_000, maxAbsValue: 1e12 },
});
const request = (payload: unknown, receivedAt = Date.parse('2026-12-06T14:12:05Z')): IngestRequest => ({
  path: '/api/v1/alertmanager',
  headers: { 'content-type': 'application/json' },
  body: Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload)),
  receivedAt,
});

/** Converts and, like the server once Kafka acknowledged, answers. */
async function deliver(source: ReturnType<typeof alertmanagerSource>, payload: unknown, c = ctx()) {
  const req = request(payload);
  const conversion = (await source.convert(req, c)) as Conversion;
  const answer = source.answer!(req, conversion);
  return { conversion, answer };
}

describe('Alertmanager webhook source (payload version 4, captured from Alertmanager 0.25)', () => {
  it('splits a group into one alert event per alert, with everything the alert said', async () => {
    const { conversion, answer } = await deliver(alertmanagerSource(), grouped);
    assert.equal(answer.status, 204);
    assert.equal(conversion.samples.length, 0);
    assert.deepEqual(conversion.refused, []);
    assert.deepEqual(
      conversion.events.map((e) => e.entity),
      ['checkout/pod-1', 'checkout/pod-2'],
    );
    const [first] = conversion.events;
    assert.ok(first);
    assert.equal(eventSchema.safeParse(first).success, true);
    assert.equal(first.kind, 'alert');
    assert.equal(first.message, 'KubePodCrashLooping firing: pod-1 restarts');
    assert.equal(first.ts, Date.parse('2026-12-06T14:11:59.554Z'));
    assert.deepEqual(first.attrs, {
      status: 'firing',
      alertname: 'KubePodCrashLooping',
      severity: 'critical',
      fingerprint: 'd5b99b6c4d018104',
      startsAt: '2026-12-06T14:11:59.554Z',
      generatorURL: 'http://127.0.0.1:19090/graph?g0.expr=x',
      label_namespace: 'checkout',
      label_pod: 'pod-1',
      annotation_summary: 'pod-1 restarts',
    });
  });

  it("drops Alertmanager's re-send of a delivered alert and keeps the resolution", async () => {
    const source = alertmanagerSource();
    await deliver(source, grouped);
    const { conversion, answer } = await deliver(source, oneResolved);
    assert.equal(answer.status, 204);
    // pod-2 is re-sent unchanged (same fingerprint and startsAt): dropped; pod-1's resolution is news.
    assert.equal(conversion.events.length, 1);
    const [resolved] = conversion.events;
    assert.equal(resolved?.entity, 'checkout/pod-1');
    assert.equal(resolved?.attrs?.status, 'resolved');
    assert.equal(resolved?.attrs?.endsAt, '2026-12-06T14:12:00.719Z');
    assert.equal(resolved?.ts, Date.parse('2026-12-06T14:12:00.719Z'));
    assert.deepEqual(conversion.skipped, { duplicate: 1 });
    // And the same resolution again is a re-send too.
    const again = await deliver(source, oneResolved);
    assert.equal(again.conversion.events.length, 0);
    assert.deepEqual(again.conversion.skipped, { duplicate: 2 });
  });

  it('remembers a delivery only once written: a webhook not answered (Kafka down, 503) is not a duplicate', async () => {
    const source = alertmanagerSource();
    const first = (await source.convert(request(grouped), ctx())) as Conversion;
    assert.equal(first.events.length, 2);
    // No answer: the server failed to write. Alertmanager retries the same payload.
    const retry = (await source.convert(request(grouped), ctx())) as Conversion;
    assert.equal(retry.events.length, 2);
  });

  it('forgets the oldest deliveries beyond its bound', async () => {
    const source = alertmanagerSource(new SeenAlerts(1));
    await deliver(source, grouped); // remembers pod-1 then pod-2; pod-1 forgotten
    const { conversion } = await deliver(source, grouped);
    assert.deepEqual(
      conversion.events.map((e) => e.entity),
      ['checkout/pod-1'],
    );
  });

  it('tolerates fields it does not know, at the top and in alerts', async () => {
    const extra = {
      ...grouped,
      somethingNew: { nested: true },
      alerts: (grouped.alerts as object[]).map((a) => ({ ...a, silencedBy: [], futureField: 1 })),
    };
    const { conversion } = await deliver(alertmanagerSource(), extra);
    assert.equal(conversion.events.length, 2);
  });

  it('refuses another payload version with a 400 naming the version it reads', async () => {
    for (const version of ['3', 4, undefined]) {
      await assert.rejects(
        async () => alertmanagerSource().convert(request({ ...grouped, version }), ctx()),
        (err: unknown) => {
          assert.ok(err instanceof IngestRefusal);
          assert.equal(err.status, 400);
          assert.equal(err.reason, 'unsupported_version');
          assert.match(err.message, /"version": "4"/);
          return true;
        },
      );
    }
  });

  it('refuses a body that is not a webhook as a whole, and a bad alert alone', async () => {
    await assert.rejects(
      async () => alertmanagerSource().convert(request('{"version": "4", '), ctx()),
      (err: unknown) => err instanceof IngestRefusal && err.status === 400 && err.reason === 'bad_json',
    );
    await assert.rejects(
      async () => alertmanagerSource().convert(request({ version: '4', alerts: {} }), ctx()),
      (err: unknown) => err instanceof IngestRefusal && /"alerts" must be an array/.test(err.message),
    );
    const alerts = grouped.alerts as Record<string, unknown>[];
    const bad = {
      ...grouped,
      alerts: [{ ...alerts[0], status: 'pending', startsAt: 'yesterday' }, alerts[1]],
    };
    const { conversion, answer } = await deliver(alertmanagerSource(), bad);
    assert.equal(conversion.events.length, 1);
    assert.equal(conversion.refused.length, 1);
    assert.equal(conversion.refused[0]?.reason, 'schema');
    assert.match(conversion.refused[0]?.message ?? '', /"status" must be "firing" or "resolved".*"startsAt"/);
    assert.equal(answer.status, 400);
  });

  it('refuses an alert whose labels map to no entity, naming the missing label', async () => {
    const { conversion, answer } = await deliver(alertmanagerSource(), grouped, ctx('{{cluster}}/{{pod}}'));
    assert.equal(conversion.events.length, 0);
    assert.equal(conversion.refused.length, 2);
    assert.equal(conversion.refused[0]?.reason, 'no_entity');
    assert.match(conversion.refused[0]?.message ?? '', /no "cluster" for the entity template/);
    assert.equal(answer.status, 400);
  });
});

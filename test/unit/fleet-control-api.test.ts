/**
 * The fleet's control API, listening on 127.0.0.1 with a real model behind it, called by the real
 * http actuator and by plain fetch: signatures checked when a key is set, one action per
 * idempotency key, the action log and the ground truth served back, bounded bodies.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ActuationRefusedError, type ActuationRequest } from '../../services/actuators/actuator.js';
import { httpActuator } from '../../services/actuators/http.js';
import { startControlApi, type ControlApi, type ControlRefusal } from '../../services/fleet/control-api.js';
import { FleetModel, type ActionLogEntry, type Incident } from '../../services/fleet/fleet-model.js';

const KEY = Buffer.from('0123456789abcdef0123456789abcdef');
const ENTITY = 'search/pod-1';

/** The http actuator's signature: HMAC-SHA256 over `<timestamp>.<body>`. */
function signed(body: string, key = KEY, timestamp = String(Date.now())): Record<string, string> {
  const signature = createHmac('sha256', key).update(`${timestamp}.${body}`).digest('hex');
  return { 'x-autoglm-timestamp': timestamp, 'x-autoglm-signature': `sha256=${signature}` };
}

async function post(url: string, value: unknown, headers: Record<string, string> = {}) {
  const body = typeof value === 'string' ? value : JSON.stringify(value);
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function get<T>(url: string): Promise<{ status: number; json: T }> {
  const res = await fetch(url);
  return { status: res.status, json: (await res.json()) as T };
}

const request = (over: Partial<ActuationRequest> = {}): ActuationRequest => ({
  idempotencyKey: 'wf-1/act',
  decisionId: 'd-1',
  entity: ENTITY,
  action: 'scale_out',
  args: { entity: ENTITY, by: 1 },
  actuator: { type: 'http' },
  ...over,
});

describe('fleet control API with an HMAC key', () => {
  const model = new FleetModel({ services: 3, podsPerService: 2, seed: 4 });
  const refused: ControlRefusal[] = [];
  const observed: ActionLogEntry[] = [];
  let api: ControlApi;

  before(async () => {
    api = await startControlApi({
      fleet: model,
      hmacKey: KEY,
      maxBodyBytes: 4096,
      observer: { refused: (r) => refused.push(r), action: (a) => observed.push(a) },
    });
  });
  after(() => api.close());

  it('listens on 127.0.0.1 and takes the http actuator’s signed request once per idempotency key', async () => {
    assert.match(api.actuateUrl, /^http:\/\/127\.0\.0\.1:\d+\/actuate$/);
    const inject = JSON.stringify({ class: 'cpu_saturation', entity: ENTITY });
    const injected = await post(`${api.origin}/scenarios`, inject, signed(inject));
    assert.equal(injected.status, 201);
    const incident = injected.json.incident as Incident;
    assert.equal(incident.class, 'cpu_saturation');
    assert.equal(incident.entity, ENTITY);

    const actuator = httpActuator({
      defaultUrl: api.actuateUrl,
      timeoutMs: 5000,
      allowedOrigins: [],
      maxResponseBytes: 4096,
      hmacKey: KEY,
    });
    const first = await actuator.actuate(request());
    assert.equal(first.detail.status, 200);
    const answer = JSON.parse(String(first.detail.body)) as Record<string, unknown>;
    assert.equal(answer.accepted, true);
    assert.equal(answer.duplicate, false);
    assert.equal(answer.verdict, undefined, 'the ground truth is not in the answer');
    assert.deepEqual(Object.keys(answer.changed as object), ['replicas']);

    const retry = await actuator.actuate(request());
    assert.equal(JSON.parse(String(retry.detail.body)).duplicate, true);

    const { json } = await get<{ actions: ActionLogEntry[]; lastSeq: number }>(`${api.origin}/actions`);
    assert.deepEqual(
      json.actions.map((a) => [
        a.idempotencyKey,
        a.decisionId,
        a.entity,
        a.action,
        a.effective,
        a.verdict,
        a.incidentId,
      ]),
      [
        ['wf-1/act', 'd-1', ENTITY, 'scale_out', true, 'right', incident.id],
        ['wf-1/act', 'd-1', ENTITY, 'scale_out', false, 'duplicate', incident.id],
      ],
    );
    assert.equal(json.lastSeq, 2);
    assert.deepEqual(
      observed.map((a) => a.verdict),
      ['right', 'duplicate'],
    );
    const later = await get<{ actions: ActionLogEntry[]; lastSeq: number }>(`${api.origin}/actions?since=1`);
    assert.deepEqual(
      later.json.actions.map((a) => a.seq),
      [2],
    );

    const truth = await get<{ incidents: Incident[] }>(`${api.origin}/incidents`);
    assert.equal(truth.json.incidents[0]?.status, 'resolved_by_action');
    assert.equal(truth.json.incidents[0]?.resolvedBy?.idempotencyKey, 'wf-1/act');
    const active = await get<{ incidents: Incident[] }>(`${api.origin}/incidents?status=active`);
    assert.deepEqual(active.json.incidents, []);
  });

  it('refuses a bad, stale, missing or other-key signature with 401 and acts on none of them', async () => {
    const before = model.actionLog.length;
    const body = JSON.stringify({ idempotencyKey: 'x', entity: ENTITY, action: 'restart', args: {} });
    const headers = { 'idempotency-key': 'x' };
    const tries = [
      {},
      signed(body, Buffer.from('another key, also long enough')),
      signed(body, KEY, String(Date.now() - 10 * 60_000)),
      { ...signed(body), 'x-autoglm-signature': 'sha256=' + '0'.repeat(64) },
      signed(body.replace('restart', 'rollback')),
    ];
    for (const sig of tries) {
      const res = await post(api.actuateUrl, body, { ...headers, ...sig });
      assert.equal(res.status, 401);
      assert.match(String(res.json.error), /signature/);
    }
    const unsigned = await post(`${api.origin}/scenarios`, { class: 'memory_leak' });
    assert.equal(unsigned.status, 401, 'injections must be signed too');
    assert.equal(model.actionLog.length, before);
    assert.equal(refused.filter((r) => r === 'bad_signature').length, 6);

    // The http actuator without the key is refused for good (401 is not retried).
    const keyless = httpActuator({
      defaultUrl: api.actuateUrl,
      timeoutMs: 5000,
      allowedOrigins: [],
      maxResponseBytes: 4096,
    });
    await assert.rejects(keyless.actuate(request({ idempotencyKey: 'k2' })), ActuationRefusedError);
  });

  it('answers 404 for an unknown entity and 422 for an unknown action, and logs both as refused', async () => {
    const ghost = JSON.stringify({ entity: 'ghost/pod-1', action: 'restart' });
    const a = await post(api.actuateUrl, ghost, { 'idempotency-key': 'g1', ...signed(ghost) });
    assert.equal(a.status, 404);
    const odd = JSON.stringify({ entity: ENTITY, action: 'format_disk' });
    const b = await post(api.actuateUrl, odd, { 'idempotency-key': 'g2', ...signed(odd) });
    assert.equal(b.status, 422);
    assert.match(String(b.json.error), /unknown action "format_disk"/);
    const last = model.actionLog.slice(-2).map((e) => [e.idempotencyKey, e.verdict, e.effective]);
    assert.deepEqual(last, [
      ['g1', 'refused', false],
      ['g2', 'refused', false],
    ]);
  });

  it('answers 400 for what is not an action and 413 for a body over the limit', async () => {
    const cases: Array<[string, Record<string, string>]> = [
      ['not json', {}],
      ['[1,2]', {}],
      [JSON.stringify({ entity: ENTITY, action: 'restart' }), {}],
      [JSON.stringify({ entity: ENTITY, action: 'restart', args: [] }), { 'idempotency-key': 'b1' }],
      [JSON.stringify({ entity: 7, action: 'restart' }), { 'idempotency-key': 'b2' }],
    ];
    for (const [body, headers] of cases) {
      const res = await post(api.actuateUrl, body, { ...headers, ...signed(body) });
      assert.equal(res.status, 400, body);
    }
    const big = JSON.stringify({ entity: ENTITY, action: 'restart', args: { pad: 'x'.repeat(10_000) } });
    const res = await post(api.actuateUrl, big, { 'idempotency-key': 'big', ...signed(big) });
    assert.equal(res.status, 413);
    assert.ok(refused.includes('too_large'));
    const missing = await get<{ error: string }>(`${api.origin}/nothing-here`);
    assert.equal(missing.status, 404);
    const badSince = await get<{ error: string }>(`${api.origin}/actions?since=abc`);
    assert.equal(badSince.status, 400);
  });

  it('injects on demand: 201 with the ground truth, 409 on a busy entity, 400 for an unknown class', async () => {
    const ok = JSON.stringify({ class: 'disk_pressure', entity: 'checkout/pod-2' });
    const first = await post(`${api.origin}/scenarios`, ok, signed(ok));
    assert.equal(first.status, 201);
    assert.deepEqual((first.json.incident as Incident).rightActions, ['clean_disk']);
    assert.equal((first.json.incident as Incident).source, 'on_demand');
    const again = await post(`${api.origin}/scenarios`, ok, signed(ok));
    assert.equal(again.status, 409);
    const unknown = JSON.stringify({ class: 'meteor_strike' });
    assert.equal((await post(`${api.origin}/scenarios`, unknown, signed(unknown))).status, 400);
    const anywhere = JSON.stringify({ class: 'noisy_healthy' });
    const picked = await post(`${api.origin}/scenarios`, anywhere, signed(anywhere));
    assert.equal(picked.status, 201);
    assert.notEqual((picked.json.incident as Incident).entity, 'checkout/pod-2');
    const fleet = await get<{ entities: Array<{ entity: string; incidentId: string | null }> }>(
      `${api.origin}/fleet`,
    );
    assert.equal(fleet.json.entities.length, 6);
    assert.equal(
      fleet.json.entities.find((e) => e.entity === 'checkout/pod-2')?.incidentId,
      (first.json.incident as Incident).id,
    );
  });
});

describe('fleet control API without a key', () => {
  let api: ControlApi;
  const model = new FleetModel({ services: 2, podsPerService: 1, seed: 1 });
  before(async () => {
    api = await startControlApi({ fleet: model });
  });
  after(() => api.close());

  it('accepts unsigned actions and logs a false positive on a healthy entity', async () => {
    const res = await post(
      api.actuateUrl,
      { idempotencyKey: 'body-key', entity: 'checkout/pod-1', action: 'restart', args: {} },
      {},
    );
    assert.equal(res.status, 200);
    const { json } = await get<{ actions: ActionLogEntry[] }>(`${api.origin}/actions`);
    assert.deepEqual(
      json.actions.map((a) => [a.idempotencyKey, a.verdict, a.incidentId]),
      [['body-key', 'false_positive', null]],
    );
  });
});

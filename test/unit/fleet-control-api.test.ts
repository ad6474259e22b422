/**
 * The fleet's control API, listening on 127.0.0.1 with a real model behind it, called by the real
 * http actuator and by plain fetch: signatures checked when a key is set, one action per
 * idempotency key, the action log and the ground truth served back, bounded bodies.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { ActuationRefusedError, type ActuationRequest } from '../../services/actuators/actuator.js';
import { httpActuator } from '../../services/actuators/http.js';
import { ConfigError } from '../../services/common/config.js';
import { startControlApi, type ControlApi, type ControlRefusal } from '../../services/fleet/control-api.js';
import { FleetModel, type ActionLogEntry, type Incident } from '../../services/fleet/fleet-model.js';

const KEY = Buffer.from('0123456789abcdef0123456789abcdef');
const ENTITY = 'search/pod-1';

/** What is signed, as the documented scheme says (services/actuators/signature.ts), written out independently. */
interface Signing {
  key?: Buffer;
  timestamp?: string;
  method?: string;
  path?: string;
}

let lastTs = 0;
/** A fresh millisecond each call, so two signatures of one body differ as a real client's do. */
const freshTs = () => String((lastTs = Math.max(Date.now(), lastTs + 1)));

/** HMAC-SHA256 over "autoglm-v2\n<ts>\n<METHOD>\n<path?query>\n<body>"; path defaults to /actuate. */
function signed(body: string, over: Signing = {}): Record<string, string> {
  const { key = KEY, timestamp = freshTs(), method = 'POST', path = '/actuate' } = over;
  const mac = createHmac('sha256', key)
    .update(`autoglm-v2\n${timestamp}\n${method}\n${path}\n${body}`)
    .digest('hex');
  return { 'x-autoglm-timestamp': timestamp, 'x-autoglm-signature': `sha256=${mac}` };
}
const scenario = (body: string) => signed(body, { path: '/scenarios' });

async function post(url: string, value: unknown, headers: Record<string, string> = {}) {
  const body = typeof value === 'string' ? value : JSON.stringify(value);
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** A raw request (fetch will not send another Host); resolves with the status. */
function rawRequest(
  url: string,
  method: string,
  headers: Record<string, string>,
  body = '',
): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.once('error', reject);
    req.end(body);
  });
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
    const injected = await post(`${api.origin}/scenarios`, inject, scenario(inject));
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
      signed(body, { key: Buffer.from('another key, also long enough') }),
      signed(body, { timestamp: String(Date.now() - 10 * 60_000) }),
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
    const ghost = JSON.stringify({ idempotencyKey: 'g1', entity: 'ghost/pod-1', action: 'restart' });
    const a = await post(api.actuateUrl, ghost, { 'idempotency-key': 'g1', ...signed(ghost) });
    assert.equal(a.status, 404);
    const odd = JSON.stringify({ idempotencyKey: 'g2', entity: ENTITY, action: 'format_disk' });
    const b = await post(api.actuateUrl, odd, signed(odd));
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
    const first = await post(`${api.origin}/scenarios`, ok, scenario(ok));
    assert.equal(first.status, 201);
    assert.deepEqual((first.json.incident as Incident).rightActions, ['clean_disk']);
    assert.equal((first.json.incident as Incident).source, 'on_demand');
    const again = await post(`${api.origin}/scenarios`, ok, scenario(ok));
    assert.equal(again.status, 409);
    const unknown = JSON.stringify({ class: 'meteor_strike' });
    assert.equal((await post(`${api.origin}/scenarios`, unknown, scenario(unknown))).status, 400);
    const anywhere = JSON.stringify({ class: 'noisy_healthy' });
    const picked = await post(`${api.origin}/scenarios`, anywhere, scenario(anywhere));
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
    api = await startControlApi({ fleet: model, allowUnsigned: true });
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

describe('fleet control API signatures: each bound to its method, path, time and body, used once', () => {
  const model = new FleetModel({ services: 3, podsPerService: 2, seed: 7 });
  const refused: ControlRefusal[] = [];
  let api: ControlApi;
  before(async () => {
    api = await startControlApi({
      fleet: model,
      hmacKey: KEY,
      observer: { refused: (r) => refused.push(r) },
    });
  });
  after(() => api.close());
  const action = (key: string, entity = 'checkout/pod-1') =>
    JSON.stringify({ idempotencyKey: key, entity, action: 'restart', args: {} });

  it('refuses the same signed request a second time within the window, for actions and injections', async () => {
    const before = model.actionLog.length;
    const body = action('replay-1');
    const headers = signed(body);
    assert.equal((await post(api.actuateUrl, body, headers)).status, 200);
    const replay = await post(api.actuateUrl, body, headers);
    assert.equal(replay.status, 401);
    assert.match(String(replay.json.error), /already used/);
    // Signed afresh, the same action is a retry: accepted, and the model calls it a duplicate.
    const retry = await post(api.actuateUrl, body, signed(body));
    assert.equal(retry.status, 200);
    assert.equal(retry.json.duplicate, true);
    assert.equal(model.actionLog.length, before + 2);

    const inject = JSON.stringify({ class: 'memory_leak', entity: 'search/pod-2' });
    const once = scenario(inject);
    assert.equal((await post(`${api.origin}/scenarios`, inject, once)).status, 201);
    // 401, not the model's 409 for a busy entity: refused before it reached the model.
    assert.equal((await post(`${api.origin}/scenarios`, inject, once)).status, 401);
    assert.equal(refused.filter((r) => r === 'replayed').length, 2);
  });

  it('refuses a signature made for another timestamp, though both are within the skew', async () => {
    const before = model.actionLog.length;
    const body = action('swap-ts');
    const now = Date.now();
    const madeFor = signed(body, { timestamp: String(now - 1000) });
    const res = await post(api.actuateUrl, body, {
      'x-autoglm-timestamp': String(now),
      'x-autoglm-signature': madeFor['x-autoglm-signature']!,
    });
    assert.equal(res.status, 401);
    assert.match(String(res.json.error), /does not match/);
    assert.equal(model.actionLog.length, before);
  });

  it('refuses a signature made for another method, path or query', async () => {
    const before = model.actionLog.length;
    const body = action('swap-path');
    const tries: Array<[string, Signing]> = [
      [api.actuateUrl, { path: '/scenarios' }],
      [api.actuateUrl, { path: '/actuate/other' }],
      [api.actuateUrl, { path: '/actuate?dry=1' }],
      [`${api.actuateUrl}?dry=1`, { path: '/actuate' }],
      [api.actuateUrl, { method: 'PUT' }],
    ];
    for (const [url, over] of tries) {
      const res = await post(url, body, signed(body, over));
      assert.equal(res.status, 401, JSON.stringify(over));
      assert.match(String(res.json.error), /does not match/);
    }
    assert.equal(model.actionLog.length, before);
    // The same body signed for where it is sent is accepted: the path and query are what differed.
    const right = await post(`${api.actuateUrl}/x?dry=1`, body, signed(body, { path: '/actuate/x?dry=1' }));
    assert.equal(right.status, 200);
  });

  it('takes the idempotency key from the signed body: a different or header-only key is refused', async () => {
    const before = model.actionLog.length;
    const body = action('body-key');
    const other = await post(api.actuateUrl, body, { 'idempotency-key': 'header-key', ...signed(body) });
    assert.equal(other.status, 400);
    assert.match(String(other.json.error), /Idempotency-Key header must equal/);
    const headerOnly = JSON.stringify({ entity: 'checkout/pod-1', action: 'restart' });
    const res = await post(api.actuateUrl, headerOnly, {
      'idempotency-key': 'h-only',
      ...signed(headerOnly),
    });
    assert.equal(res.status, 400);
    assert.match(String(res.json.error), /"idempotencyKey" \(signed, in the body\) is required/);
    assert.equal(model.actionLog.length, before);
    const same = await post(api.actuateUrl, body, { 'idempotency-key': 'body-key', ...signed(body) });
    assert.equal(same.status, 200);
    assert.equal(model.actionLog.at(-1)?.idempotencyKey, 'body-key');
  });

  it('refuses a cross-site text/plain POST, even signed, and a Host that is not its own', async () => {
    const before = model.actionLog.length;
    const body = action('plain');
    const status = await rawRequest(
      api.actuateUrl,
      'POST',
      { 'content-type': 'text/plain', ...signed(body) },
      body,
    );
    assert.equal(status, 415);
    assert.equal(model.actionLog.length, before);
    const host = (h: string) => rawRequest(`${api.origin}/fleet`, 'GET', { host: h });
    assert.equal(await host(`rebound.example:${api.port}`), 421);
    assert.equal(await host('rebound.example'), 421);
    assert.equal(await host(`127.0.0.1.rebound.example:${api.port}`), 421);
    // Another port is a local proxy in front of the API, not another site.
    assert.equal(await host(`127.0.0.1:${api.port + 1}`), 200);
    assert.equal(await host(`127.0.0.1:${api.port}`), 200);
    assert.equal(await host(`localhost:${api.port}`), 200);
    assert.ok(refused.includes('bad_host'));
  });

  it('refuses to start without a key unless unsigned is allowed', async () => {
    await assert.rejects(startControlApi({ fleet: model }), (err: Error) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /AUTOGLM_ACTUATOR_HMAC_KEY_FILE.*AUTOGLM_FLEET_ALLOW_UNSIGNED=true/);
      return true;
    });
  });
});

describe('fleet control API replay memory', () => {
  it('is bounded: full of signatures still inside the window it answers 503, and forgets them after', async () => {
    const model = new FleetModel({ services: 2, podsPerService: 1, seed: 2 });
    let now = 1_700_000_000_000;
    const api = await startControlApi({
      fleet: model,
      hmacKey: KEY,
      maxSkewMs: 60_000,
      maxSeenSignatures: 2,
      clock: () => now,
    });
    try {
      const at = (key: string, timestamp: number) => {
        const body = JSON.stringify({ idempotencyKey: key, entity: 'checkout/pod-1', action: 'restart' });
        return post(api.actuateUrl, body, signed(body, { timestamp: String(timestamp) }));
      };
      assert.equal((await at('m1', now)).status, 200);
      assert.equal((await at('m2', now)).status, 200);
      const full = await at('m3', now);
      assert.equal(full.status, 503);
      assert.match(String(full.json.error), /replay window/);
      now += 60_001;
      // The first two are stale now (and the skew check refuses them), so room is made for new ones.
      assert.equal((await at('m3', now)).status, 200);
      assert.equal((await at('m4', now)).status, 200);
      assert.deepEqual(
        model.actionLog.map((e) => e.idempotencyKey),
        ['m1', 'm2', 'm3', 'm4'],
      );
    } finally {
      await api.close();
    }
  });
});

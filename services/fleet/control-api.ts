/**
 * The fleet's HTTP control API on 127.0.0.1: the target the http actuator posts actions to, and
 * the read-outs (action log, incidents, fleet state) and scenario injection that tests, benchmarks
 * and views use. A thin edge over the model: it parses, checks signatures and bounds, and answers.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  SIGNATURE_HEADER,
  SignatureVerifier,
  TIMESTAMP_HEADER,
  type SignatureRefusal,
} from '../actuators/signature.js';
import { ConfigError } from '../common/config.js';
import type { FleetModel } from './fleet-model.js';
import {
  FLEET_SCENARIO_CLASSES,
  type ActionLogEntry,
  type FleetScenarioClass,
  type Incident,
  type IncidentStatus,
} from './fleet-types.js';

/** What the API needs of the model. */
export type FleetPort = Pick<
  FleetModel,
  'applyAction' | 'inject' | 'actionsSince' | 'incidents' | 'entities'
>;

/** Why a request was refused before it reached the model. */
export type ControlRefusal =
  'bad_signature' | 'replayed' | 'busy' | 'too_large' | 'bad_request' | 'bad_host' | 'not_found';

/** Hooks for the wiring's logs and metrics; each is called after the model has been changed. */
export interface ControlObserver {
  action?(entry: ActionLogEntry): void;
  injected?(incident: Incident): void;
  refused?(reason: ControlRefusal, detail: string): void;
}

export interface ControlApiOptions {
  readonly fleet: FleetPort;
  /** 0 (the default) picks a free port. */
  readonly port?: number;
  /**
   * When set, every POST must carry a valid `x-autoglm-signature` (services/actuators/signature.ts:
   * method, path, timestamp and body), each accepted once, else 401.
   */
  readonly hmacKey?: Buffer;
  /** Without `hmacKey`, the API refuses to start unless this is true (a local, trusted test bed only). */
  readonly allowUnsigned?: boolean;
  /** How far a signature's timestamp may be from now, and how long it is remembered (5 min). */
  readonly maxSkewMs?: number;
  /** Most signatures remembered inside that window (10 000); beyond it new requests get 503. */
  readonly maxSeenSignatures?: number;
  /** Largest request body read (64 KiB); a larger one is answered 413 and never read in full. */
  readonly maxBodyBytes?: number;
  /** The time actions and injections happen at, and signatures are checked against (Date.now). */
  readonly clock?: () => number;
  readonly observer?: ControlObserver;
  /** Serves `GET /metrics` (the Prometheus exposition of every entity's metrics) when given. */
  readonly metrics?: () => Promise<{ contentType: string; text: string }>;
}

/** A listening control API. */
export interface ControlApi {
  readonly port: number;
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  /** Where the http actuator posts: `<origin>/actuate`. */
  readonly actuateUrl: string;
  close(): Promise<void>;
}

const STATUSES: ReadonlySet<string> = new Set<IncidentStatus>([
  'active',
  'resolved_by_action',
  'expired',
  'ended',
]);
const MAX_ID_LENGTH = 200;

/** An answer: status and JSON body. */
interface Reply {
  readonly status: number;
  readonly body: unknown;
  readonly refused?: ControlRefusal;
  /** Close the connection after answering (the request was not read in full). */
  readonly close?: boolean;
  /** A body sent as it is with this content type (the metrics' text) instead of as JSON. */
  readonly contentType?: string;
}

const error = (status: number, message: string, refused?: ControlRefusal): Reply => ({
  status,
  body: { error: message },
  ...(refused ? { refused } : {}),
});

/**
 * Starts the API on 127.0.0.1. Every request must name it in its Host header (else 421), every POST
 * be `application/json` (else 415) and, with a key, be signed and fresh and not seen before (401;
 * 503 when the replay memory is full). Without a key it starts only when `allowUnsigned` is set.
 * - `POST /actuate` (or `/actuate/<anything>`): the http actuator's JSON body `{idempotencyKey,
 *   decisionId, entity, action, args}`; an `Idempotency-Key` header, if sent, must equal the body's
 *   key (400), which is the signed one; acted on at most once per key.
 *   200 `{accepted, duplicate, entity, action, changed}`; 404 unknown entity; 422 unknown action.
 * - `POST /scenarios` `{class, entity?}`: injects one now. 201 `{incident}`; 404, 409 when it cannot.
 * - `GET /actions[?since=<seq>]`: `{actions, lastSeq}`, the action log with verdicts (ground truth).
 * - `GET /incidents[?status=<status>]`: `{incidents}`, every incident's ground truth.
 * - `GET /fleet`: `{entities}`, each entity's replicas, restarts, version, breaker and incident.
 * - `GET /metrics` (with `metrics`): every entity's latest metrics in Prometheus's text format.
 */
export async function startControlApi(opts: ControlApiOptions): Promise<ControlApi> {
  const clock = opts.clock ?? Date.now;
  const maxBodyBytes = opts.maxBodyBytes ?? 64 * 1024;
  if (!opts.hmacKey && opts.allowUnsigned !== true)
    throw new ConfigError([
      'the fleet control API needs an HMAC key: set AUTOGLM_ACTUATOR_HMAC_KEY_FILE (openssl rand -hex 32 > key; chmod 600 key), or AUTOGLM_FLEET_ALLOW_UNSIGNED=true on a machine where every local user is trusted',
    ]);
  const verifier = opts.hmacKey
    ? new SignatureVerifier({
        key: opts.hmacKey,
        maxSkewMs: opts.maxSkewMs ?? 300_000,
        maxSeen: opts.maxSeenSignatures ?? 10_000,
      })
    : undefined;

  const server = http.createServer((req, res) => {
    const send = (reply: Reply) => {
      if (reply.refused) opts.observer?.refused?.(reply.refused, JSON.stringify(reply.body));
      if (res.headersSent || res.destroyed) return;
      res.writeHead(reply.status, {
        'content-type': reply.contentType ?? 'application/json',
        'cache-control': 'no-store',
        ...(reply.close ? { connection: 'close' } : {}),
      });
      res.end(reply.contentType ? String(reply.body) : JSON.stringify(reply.body));
    };
    handle(req).then(send, (err: unknown) => send(error(500, (err as Error).message)));
  });
  // A slow or stuck client cannot hold a connection for long.
  server.requestTimeout = 10_000;
  server.headersTimeout = 10_000;

  async function handle(req: http.IncomingMessage): Promise<Reply> {
    // A page on another site whose name resolves to 127.0.0.1 (DNS rebinding) sends its own Host.
    if (!LOCAL_HOSTS.has(hostName(header(req, 'host'))))
      return error(421, 'the Host header must name this machine (127.0.0.1, localhost or [::1])', 'bad_host');
    const target = req.url ?? '/';
    const url = new URL(target, 'http://127.0.0.1');
    const path = url.pathname;
    if (req.method === 'GET' && path === '/metrics' && opts.metrics) {
      const { contentType, text } = await opts.metrics();
      return { status: 200, body: text, contentType };
    }
    if (req.method === 'GET') return read(path, url.searchParams);
    if (req.method !== 'POST') return error(405, 'use GET or POST', 'bad_request');
    const isAction = path === '/actuate' || path.startsWith('/actuate/');
    if (!isAction && path !== '/scenarios') return notFound();
    // A browser can send text/plain across sites without asking; application/json it cannot.
    const type = (header(req, 'content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json')
      return error(415, 'send the body as content-type: application/json', 'bad_request');
    const raw = await readBody(req, maxBodyBytes);
    if (raw === undefined) {
      // The rest is discarded unread (for at most the request timeout), then the connection closes.
      req.resume();
      return { ...error(413, `the body is larger than ${maxBodyBytes} bytes`, 'too_large'), close: true };
    }
    if (verifier) {
      const refusal = verifier.check(
        {
          method: 'POST',
          path: target.startsWith('/') ? target : `${url.pathname}${url.search}`,
          body: raw,
          timestamp: header(req, TIMESTAMP_HEADER),
          signature: header(req, SIGNATURE_HEADER),
        },
        clock(),
      );
      if (refusal) return signatureRefused(refusal);
    }
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      return error(400, 'the body must be a JSON object', 'bad_request');
    }
    if (body === null || typeof body !== 'object' || Array.isArray(body))
      return error(400, 'the body must be a JSON object', 'bad_request');
    return isAction
      ? actuate(body as Record<string, unknown>, header(req, 'idempotency-key'), verifier !== undefined)
      : inject(body as Record<string, unknown>);
  }

  function actuate(body: Record<string, unknown>, keyHeader: string | undefined, signed: boolean): Reply {
    const { entity, action, args, decisionId } = body;
    // The body's key is the one signed; the header is a copy for proxies and logs, never a substitute.
    if (keyHeader !== undefined && body.idempotencyKey !== undefined && keyHeader !== body.idempotencyKey)
      return error(400, 'the Idempotency-Key header must equal the body\'s "idempotencyKey"', 'bad_request');
    const idempotencyKey = signed ? body.idempotencyKey : (body.idempotencyKey ?? keyHeader);
    const problems: string[] = [];
    if (!isId(idempotencyKey))
      problems.push(
        signed
          ? '"idempotencyKey" (signed, in the body) is required'
          : 'an "idempotencyKey" (or an Idempotency-Key header) is required',
      );
    if (!isId(entity)) problems.push('"entity" must be a non-empty string');
    if (!isId(action)) problems.push('"action" must be a non-empty string');
    if (args !== undefined && (args === null || typeof args !== 'object' || Array.isArray(args)))
      problems.push('"args" must be an object');
    if (decisionId !== undefined && typeof decisionId !== 'string')
      problems.push('"decisionId" must be a string');
    if (problems.length > 0) return error(400, problems.join('; '), 'bad_request');
    const outcome = opts.fleet.applyAction(
      {
        idempotencyKey: idempotencyKey as string,
        entity: entity as string,
        action: action as string,
        args: (args ?? {}) as Record<string, unknown>,
        ...(typeof decisionId === 'string' ? { decisionId } : {}),
      },
      clock(),
    );
    const { entry } = outcome;
    opts.observer?.action?.(entry);
    if (outcome.refusal === 'unknown_entity') return error(404, entry.reason ?? 'unknown entity');
    if (outcome.refusal === 'unknown_action') return error(422, entry.reason ?? 'unknown action');
    // The verdict is ground truth for tests, not something a real target could know: not in the answer.
    return {
      status: 200,
      body: {
        accepted: true,
        duplicate: entry.verdict === 'duplicate',
        entity: entry.entity,
        action: entry.action,
        changed: entry.changed,
      },
    };
  }

  function inject(body: Record<string, unknown>): Reply {
    const cls = body.class;
    if (typeof cls !== 'string' || !FLEET_SCENARIO_CLASSES.includes(cls as FleetScenarioClass))
      return error(400, `"class" must be one of ${FLEET_SCENARIO_CLASSES.join(', ')}`, 'bad_request');
    if (body.entity !== undefined && !isId(body.entity))
      return error(400, '"entity" must be a non-empty string when given', 'bad_request');
    const result = opts.fleet.inject(
      {
        class: cls as FleetScenarioClass,
        ...(typeof body.entity === 'string' ? { entity: body.entity } : {}),
      },
      clock(),
    );
    if (!result.ok) return error(result.refusal === 'unknown_entity' ? 404 : 409, result.message);
    opts.observer?.injected?.(result.incident);
    return { status: 201, body: { incident: result.incident } };
  }

  function read(path: string, query: URLSearchParams): Reply {
    if (path === '/actions') {
      const since = query.get('since') ?? '0';
      if (!/^\d{1,15}$/.test(since)) return error(400, '"since" must be a whole number', 'bad_request');
      const actions = opts.fleet.actionsSince(Number(since));
      return { status: 200, body: { actions, lastSeq: actions.at(-1)?.seq ?? Number(since) } };
    }
    if (path === '/incidents') {
      const status = query.get('status');
      if (status !== null && !STATUSES.has(status))
        return error(400, `"status" must be one of ${[...STATUSES].join(', ')}`, 'bad_request');
      const incidents = opts.fleet.incidents().filter((i) => status === null || i.status === status);
      return { status: 200, body: { incidents } };
    }
    if (path === '/fleet') return { status: 200, body: { entities: opts.fleet.entities() } };
    return notFound();
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const origin = `http://127.0.0.1:${port}`;
  return {
    port,
    origin,
    actuateUrl: `${origin}/actuate`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

const SIGNATURE_REFUSALS: Record<SignatureRefusal, string> = {
  missing: `missing ${TIMESTAMP_HEADER} or ${SIGNATURE_HEADER}`,
  malformed: `malformed ${TIMESTAMP_HEADER} or ${SIGNATURE_HEADER}`,
  stale: `${TIMESTAMP_HEADER} is too far from now`,
  mismatch: `${SIGNATURE_HEADER} does not match the method, path, timestamp and body`,
  replayed: `${SIGNATURE_HEADER} was already used: sign each request afresh`,
  busy: 'too many signed requests inside the replay window; try again later',
};

function signatureRefused(refusal: SignatureRefusal): Reply {
  if (refusal === 'busy') return error(503, SIGNATURE_REFUSALS.busy, 'busy');
  const why = `refused signature: ${SIGNATURE_REFUSALS[refusal]}`;
  return error(401, why, refusal === 'replayed' ? 'replayed' : 'bad_signature');
}

function notFound(): Reply {
  return error(
    404,
    'not found: POST /actuate, POST /scenarios, GET /actions, GET /incidents, GET /fleet or GET /metrics',
    'not_found',
  );
}

function isId(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= MAX_ID_LENGTH;
}

/** The names a request may give in its Host header, with any port (a local proxy in front is fine). */
const LOCAL_HOSTS: ReadonlySet<string> = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** The host name of a Host header (`127.0.0.1:8090` → `127.0.0.1`, `[::1]:80` → `[::1]`), lower-case. */
function hostName(host: string | undefined): string {
  const m = /^(\[[^\]]*\]|[^:]*)(?::\d{1,5})?$/.exec((host ?? '').trim().toLowerCase());
  return m?.[1] ?? '';
}

function header(req: http.IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The body, or undefined as soon as it is known to exceed `maxBytes` (declared or received). */
function readBody(req: http.IncomingMessage, maxBytes: number): Promise<Buffer | undefined> {
  if (Number(req.headers['content-length'] ?? 0) > maxBytes) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        req.off('data', onData);
        req.off('end', onEnd);
        resolve(undefined);
      } else chunks.push(chunk);
    };
    const onEnd = () => resolve(Buffer.concat(chunks));
    req.on('data', onData);
    req.on('end', onEnd);
    req.once('error', reject);
    // A client that hangs up mid-body: no answer to give, and nothing left waiting.
    req.once('close', () => reject(new Error('the client closed the request')));
  });
}

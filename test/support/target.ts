import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignatureVerifier } from '../../services/actuators/signature.js';

/** One request received by the target. */
export interface ReceivedAction {
  readonly idempotencyKey: string | undefined;
  readonly body: Record<string, unknown>;
  readonly at: number;
  /** False when the key was seen before: the target did not act again. */
  readonly effective: boolean;
  /** Whether the HMAC signature checked out (undefined when the target checks none). */
  readonly signed?: boolean;
}

/** A small local HTTP target for the `http` actuator: the outside world, in tests and `autoglm up`. */
export interface ActionTarget {
  readonly url: string;
  /** Every accepted request, in order (retries included). */
  readonly received: readonly ReceivedAction[];
  /** Requests refused for a bad or missing signature. */
  readonly unsigned: number;
  /** Requests being answered right now, and the most there ever were at once. */
  readonly inFlight: number;
  readonly maxInFlight: number;
  close(): Promise<void>;
}

export interface ActionTargetOptions {
  /** 0 picks a free port. */
  readonly port?: number;
  /** When set, a request without a valid `x-autoglm-signature` is refused with 401. */
  readonly hmacKey?: Buffer;
  /** Holds each answer (a slow target), e.g. to keep actions in flight or to crash a caller meanwhile. */
  readonly hold?: (action: ReceivedAction) => Promise<void>;
  readonly onAction?: (action: ReceivedAction) => void;
}

/**
 * Listens on 127.0.0.1 and acts at most once per idempotency key, as a well-behaved target does:
 * a repeated key is answered 200 with `duplicate: true` and not acted on again. A POST of a JSON
 * object is accepted (200), anything else is 400.
 */
export async function startActionTarget(opts: ActionTargetOptions = {}): Promise<ActionTarget> {
  const received: ReceivedAction[] = [];
  const keys = new Set<string>();
  // As a target should: each signature accepted once within the 5-minute window.
  const verifier = opts.hmacKey
    ? new SignatureVerifier({ key: opts.hmacKey, maxSkewMs: 300_000, maxSeen: 10_000 })
    : undefined;
  let inFlight = 0;
  let maxInFlight = 0;
  let unsigned = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void answer(req, res, Buffer.concat(chunks));
    });
  });

  async function answer(req: http.IncomingMessage, res: http.ServerResponse, raw: Buffer): Promise<void> {
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      body = undefined;
    }
    if (req.method !== 'POST' || body === null || typeof body !== 'object') {
      return reply(400, { error: 'POST a JSON object' });
    }
    const header = (name: string) => {
      const v = req.headers[name];
      return Array.isArray(v) ? v[0] : v;
    };
    const signed = verifier
      ? verifier.check(
          {
            method: req.method,
            path: req.url ?? '/',
            body: raw,
            timestamp: header('x-autoglm-timestamp'),
            signature: header('x-autoglm-signature'),
          },
          Date.now(),
        ) === undefined
      : undefined;
    if (signed === false) {
      unsigned++;
      return reply(401, { error: 'bad or missing x-autoglm-signature' });
    }
    const idempotencyKey = header('idempotency-key');
    const effective = idempotencyKey === undefined || !keys.has(idempotencyKey);
    if (idempotencyKey !== undefined) keys.add(idempotencyKey);
    const action: ReceivedAction = {
      idempotencyKey,
      body: body as Record<string, unknown>,
      at: Date.now(),
      effective,
      ...(signed === undefined ? {} : { signed }),
    };
    received.push(action);
    opts.onAction?.(action);
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    try {
      await opts.hold?.(action);
    } finally {
      inFlight--;
    }
    if (!res.destroyed) reply(200, { accepted: true, duplicate: !effective });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', resolve);
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}/actuate`,
    received,
    get unsigned() {
      return unsigned;
    },
    get inFlight() {
      return inFlight;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * The request signature the http actuator sends and a target (the fleet's control API, or a
 * team's own service) checks. Scheme `autoglm-v2`, HMAC-SHA256 with the shared key over
 *
 *   "autoglm-v2\n" + <timestamp> + "\n" + <METHOD> + "\n" + <path?query> + "\n" + <body bytes>
 *
 * sent as `x-autoglm-timestamp: <ms since epoch>` and `x-autoglm-signature: sha256=<hex>`. The
 * method, path and timestamp are signed so a captured request cannot be replayed on another
 * endpoint or re-dated; a target remembers each signature it accepted until its timestamp leaves
 * the allowed skew, so the same request cannot be replayed inside the window either.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Names the signed string's layout; a change of layout changes it. */
export const SIGNATURE_SCHEME = 'autoglm-v2';
export const TIMESTAMP_HEADER = 'x-autoglm-timestamp';
export const SIGNATURE_HEADER = 'x-autoglm-signature';

/** What a signature covers besides the timestamp. */
export interface SignedRequest {
  /** The HTTP method (compared upper-case). */
  readonly method: string;
  /** The request target as sent on the request line: path and query, no fragment (`/actuate?x=1`). */
  readonly path: string;
  readonly body: Uint8Array | string;
}

/** A received request's signature headers, as the target read them. */
export interface ReceivedSignature extends SignedRequest {
  readonly timestamp: string | undefined;
  readonly signature: string | undefined;
}

/** Why a signature was refused. */
export type SignatureRefusal = 'missing' | 'malformed' | 'stale' | 'mismatch' | 'replayed' | 'busy';

const bytes = (body: Uint8Array | string) => (typeof body === 'string' ? Buffer.from(body) : body);

function sign(key: Buffer, timestamp: string, req: SignedRequest): string {
  const head = `${SIGNATURE_SCHEME}\n${timestamp}\n${req.method.toUpperCase()}\n${req.path}\n`;
  return `sha256=${createHmac('sha256', key).update(head).update(bytes(req.body)).digest('hex')}`;
}

/** The path and query `url` is requested with (what a signature covers), e.g. `/actuate?x=1`. */
export function requestTarget(url: string): string {
  const u = new URL(url);
  return `${u.pathname}${u.search}`;
}

/** The headers that sign `req` now: what the http actuator sends, and what a signed client of the fleet sends. */
export function signatureHeaders(
  key: Buffer,
  req: SignedRequest,
  nowMs = Date.now(),
): Record<string, string> {
  const timestamp = String(nowMs);
  return { [TIMESTAMP_HEADER]: timestamp, [SIGNATURE_HEADER]: sign(key, timestamp, req) };
}

/**
 * Checks one received signature without memory: undefined when it is our HMAC of the method, path,
 * timestamp and body and the timestamp is within `maxSkewMs` of `nowMs`, else why not. Compared in
 * constant time so the signature cannot be guessed byte by byte. A target must also refuse a
 * signature it has already accepted (SignatureVerifier does both).
 */
export function signatureProblem(
  key: Buffer,
  req: ReceivedSignature,
  nowMs: number,
  maxSkewMs: number,
): SignatureRefusal | undefined {
  const { timestamp, signature } = req;
  if (!timestamp || !signature) return 'missing';
  if (!/^\d{1,16}$/.test(timestamp) || !/^sha256=[0-9a-f]{64}$/.test(signature)) return 'malformed';
  if (Math.abs(nowMs - Number(timestamp)) > maxSkewMs) return 'stale';
  const expected = Buffer.from(sign(key, timestamp, req));
  return timingSafeEqual(expected, Buffer.from(signature)) ? undefined : 'mismatch';
}

/** True when `signatureProblem` finds none (a stateless check, for tests and simple targets). */
export function verifySignature(
  key: Buffer,
  req: ReceivedSignature,
  nowMs: number,
  maxSkewMs: number,
): boolean {
  return signatureProblem(key, req, nowMs, maxSkewMs) === undefined;
}

/** Settings of a target's signature check. */
export interface SignatureVerifierOptions {
  readonly key: Buffer;
  /** How far a timestamp may be from now; also how long an accepted signature is remembered. */
  readonly maxSkewMs: number;
  /**
   * Most signatures remembered at once. When that many are still inside the window, new requests
   * are refused ('busy') rather than forgetting one that could then be replayed.
   */
  readonly maxSeen: number;
}

/**
 * A target's signature check with replay memory: each valid signature is accepted once, and
 * remembered until its timestamp is older than the skew allows (after which the skew check refuses it).
 * The memory is per process: a restarted target forgets, so its idempotency keys still matter.
 */
export class SignatureVerifier {
  /** Signature → the time after which its timestamp is stale anyway. */
  private readonly seen = new Map<string, number>();

  constructor(private readonly opts: SignatureVerifierOptions) {}

  /** Undefined when `req` is signed, fresh and never seen (now remembered); else why it is refused. */
  check(req: ReceivedSignature, nowMs: number): SignatureRefusal | undefined {
    const problem = signatureProblem(this.opts.key, req, nowMs, this.opts.maxSkewMs);
    if (problem) return problem;
    const signature = req.signature!;
    const until = this.seen.get(signature);
    if (until !== undefined && until >= nowMs) return 'replayed';
    if (this.seen.size >= this.opts.maxSeen) this.forgetStale(nowMs);
    if (this.seen.size >= this.opts.maxSeen) return 'busy';
    this.seen.set(signature, Number(req.timestamp) + this.opts.maxSkewMs);
    return undefined;
  }

  /** How many signatures are remembered (for tests and metrics). */
  get remembered(): number {
    return this.seen.size;
  }

  private forgetStale(nowMs: number): void {
    for (const [signature, until] of this.seen) if (until < nowMs) this.seen.delete(signature);
  }
}

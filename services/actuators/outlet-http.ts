import { checkHttpUrl, redactText } from '../common/url-policy.js';
import { boundedText } from './actuator.js';
import { requestTarget, signatureHeaders } from './signature.js';

/** How an outlet (Alertmanager silences, PagerDuty) calls its target: allowlisted, signed, bounded. */
export interface OutletHttpOptions {
  /** AUTOGLM_HTTP_ALLOWED_ORIGINS: the target's origin must be among them, as for the http actuator. */
  readonly allowedOrigins: readonly string[];
  readonly timeoutMs: number;
  /** Signs every request as the http actuator does (services/actuators/signature.ts). */
  readonly hmacKey?: Buffer;
  /** Bytes of an answer read at all (64 KiB). */
  readonly maxResponseBytes?: number;
}

/** A target's answer: status and body (JSON when it parses, else undefined). */
export interface OutletAnswer {
  readonly status: number;
  readonly text: string;
  readonly json: unknown;
}

/** The target could not be called or answered badly; the message never quotes credentials. */
export class OutletError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'OutletError';
  }
}

/**
 * An HTTP client for one outlet's base URL: refuses (at construction) a base whose origin is not
 * allowlisted, and any request outside that origin; signs each request; reads bounded answers.
 */
export class OutletHttp {
  private readonly origin: string;

  constructor(
    readonly base: string,
    private readonly opts: OutletHttpOptions,
    extraHeaders: Readonly<Record<string, string>> = {},
  ) {
    const why = checkHttpUrl(base, opts.allowedOrigins);
    if (why) throw new OutletError(why);
    this.origin = new URL(base).origin;
    this.headers = { ...extraHeaders };
  }

  private readonly headers: Record<string, string>;

  /** `method` on `path` (joined to the base) with a JSON body; throws OutletError when unreachable. */
  async request(method: string, path: string, body?: unknown): Promise<OutletAnswer> {
    const url = `${this.base.replace(/\/+$/, '')}${path}`;
    if (new URL(url).origin !== this.origin)
      throw new OutletError(`refused ${method} outside ${this.origin}`);
    const payload = body === undefined ? '' : JSON.stringify(body);
    const headers: Record<string, string> = {
      accept: 'application/json',
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...this.headers,
      ...(this.opts.hmacKey
        ? signatureHeaders(this.opts.hmacKey, { method, path: requestTarget(url), body: payload })
        : {}),
    };
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers,
        ...(body === undefined ? {} : { body: payload }),
        redirect: 'error',
        signal: AbortSignal.timeout(this.opts.timeoutMs),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code;
      throw new OutletError(
        `${method} ${this.origin}${path.split('?')[0]}: ${cause ?? redactText((err as Error).message)}`,
      );
    }
    const bytes = new Uint8Array(await res.arrayBuffer());
    const text = boundedText(bytes, this.opts.maxResponseBytes ?? 65_536);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, text, json };
  }
}

import type { ActuatorRef } from '../common/contracts.js';
import { ConfigError } from '../common/config.js';
import { checkHttpUrl, parseAllowedOrigins, redactText, redactUrl } from '../common/url-policy.js';
import { requestTarget, signatureHeaders } from './signature.js';
import {
  ActuationRefusedError,
  boundedText,
  type ActuationRequest,
  type ActuationResult,
  type Actuator,
} from './actuator.js';

export interface HttpActuatorOptions {
  /** Used when the rule names no URL. */
  readonly defaultUrl: string;
  readonly timeoutMs: number;
  /** AUTOGLM_HTTP_ALLOWED_ORIGINS entries; empty means only the origin of `defaultUrl`. */
  readonly allowedOrigins: readonly string[];
  /** Bytes of the response body kept (and read at all); the rest is never downloaded. */
  readonly maxResponseBytes: number;
  /** Signs every request (method, path, timestamp, body: see signature.ts) so the target can tell it came from us. */
  readonly hmacKey?: Buffer;
  /** Extra headers (credentials) per origin, from AUTOGLM_HTTP_HEADERS_FILE; never logged. */
  readonly headersByOrigin?: Readonly<Record<string, Record<string, string>>>;
}

/** Shortest part of a header value scrubbed on its own (shorter ones would redact ordinary words). */
const MIN_SECRET_PART = 8;

/**
 * What a target's echo must not show of our headers: each whole value and each of its
 * whitespace/`,;=` separated parts of MIN_SECRET_PART characters or more (the token of a
 * `Bearer <token>`), longest first so a part never leaves half of a longer value.
 */
export function secretsOf(headers: Readonly<Record<string, string>>): string[] {
  const secrets = new Set<string>();
  for (const value of Object.values(headers)) {
    if (value.trim().length > 0) secrets.add(value);
    for (const part of value.split(/[\s,;=]+/)) if (part.length >= MIN_SECRET_PART) secrets.add(part);
  }
  return [...secrets].sort((a, b) => b.length - a.length);
}

/** Reads at most `maxBytes` of a body, then cancels the stream so the rest is never downloaded. */
async function readBounded(body: ReadableStream<Uint8Array> | null, maxBytes: number): Promise<Uint8Array> {
  if (!body) return new Uint8Array();
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < maxBytes) {
      const { done, value } = await reader.read();
      if (done) break;
      const part = value.subarray(0, maxBytes - size);
      chunks.push(part);
      size += part.byteLength;
    }
  } catch {
    // Body cut off (timeout, reset) after the status arrived: the status decides, keep what came.
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks);
}

/** Why fetch failed, without the URL or credentials it may quote (undici's TypeErrors do). */
function describeFailure(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError'))
    return `no answer within ${timeoutMs} ms`;
  const cause =
    err instanceof Error ? (err.cause as { code?: unknown; message?: unknown } | undefined) : undefined;
  const reason =
    typeof cause?.code === 'string'
      ? cause.code
      : typeof cause?.message === 'string'
        ? cause.message
        : String(err);
  return redactText(reason);
}

/**
 * Every problem of a headers file's origins and headers, all at once (start-up lists them with the
 * other settings' problems); never a header's value. Checked before use: fetch's own error for a
 * bad header would quote the secret value.
 */
export function headerProblems(
  headersByOrigin: Readonly<Record<string, Record<string, string>>>,
  where = 'headers file',
): string[] {
  const problems = parseAllowedOrigins(Object.keys(headersByOrigin), 'origin').problems.map(
    (p) => `${where}: ${p}`,
  );
  for (const [key, headers] of Object.entries(headersByOrigin))
    for (const [name, value] of Object.entries(headers)) {
      try {
        new Headers([[name, value]]);
      } catch {
        problems.push(
          `${where}: header ${JSON.stringify(name)} for ${key} is not a valid header: write a header name and a value on one line`,
        );
      }
    }
  return problems;
}

/**
 * POSTs the action as JSON to the rule's URL (or the default) when its origin is allowlisted, with
 * an `Idempotency-Key` header so a retried activity is recognisable by the target. 2xx is success;
 * 408, 429, 5xx, network errors and timeouts are transient (plain errors for the retry policy);
 * redirects and other statuses are refusals. Redirects are never followed: a 307 would re-post the
 * body, signature and credentials to wherever the target points.
 */
export function httpActuator(opts: HttpActuatorOptions): Actuator {
  const { origins, problems } = parseAllowedOrigins(opts.allowedOrigins);
  problems.push(...headerProblems(opts.headersByOrigin ?? {}));
  if (problems.length > 0) throw new ConfigError(problems);
  if (origins.length === 0) origins.push(...parseAllowedOrigins([defaultOrigin(opts.defaultUrl)]).origins);
  const headersFor = new Map<string, Record<string, string>>();
  for (const [key, headers] of Object.entries(opts.headersByOrigin ?? {}))
    headersFor.set(new URL(key).origin, headers);

  const urlOf = (ref: ActuatorRef) => (ref.type === 'http' ? (ref.url ?? opts.defaultUrl) : undefined);
  const check = (ref: ActuatorRef): string[] => {
    const url = urlOf(ref);
    if (url === undefined) return [`the http actuator cannot run a ${ref.type} actuator ref`];
    const problem = checkHttpUrl(url, origins);
    return problem ? [problem] : [];
  };

  // Each request gets a later timestamp than the one before, so even a retry sent within the same
  // millisecond has its own signature and is not refused by the target's replay memory.
  let lastSigned = 0;

  return {
    type: 'http',
    check,
    async actuate(request: ActuationRequest): Promise<ActuationResult> {
      const problems = check(request.actuator);
      const url = urlOf(request.actuator) ?? '';
      const shown = redactUrl(url);
      if (problems.length > 0) throw new ActuationRefusedError(problems.join('; '), { url: shown });

      const perOrigin = headersFor.get(new URL(url).origin) ?? {};
      const secrets = secretsOf(perOrigin);
      // A target that echoes our request back must not put our credentials into evidence: scrubbed
      // before the cut, from a read long enough that a secret across the cut is still whole.
      const slack = secrets[0]?.length ?? 0;
      const scrub = (text: string) => secrets.reduce((t, s) => t.split(s).join('[redacted]'), text);
      const bounded = (bytes: Uint8Array) =>
        boundedText(
          Buffer.from(scrub(boundedText(bytes, opts.maxResponseBytes + slack))),
          opts.maxResponseBytes,
        );

      const body = Buffer.from(
        JSON.stringify({
          idempotencyKey: request.idempotencyKey,
          decisionId: request.decisionId,
          entity: request.entity,
          action: request.action,
          args: request.args,
        }),
      );
      const headers = new Headers(perOrigin);
      headers.set('content-type', 'application/json');
      headers.set('idempotency-key', request.idempotencyKey);
      if (opts.hmacKey)
        for (const [name, value] of Object.entries(
          signatureHeaders(
            opts.hmacKey,
            { method: 'POST', path: requestTarget(url), body },
            (lastSigned = Math.max(Date.now(), lastSigned + 1)),
          ),
        ))
          headers.set(name, value);

      let response: Response;
      try {
        response = await fetch(url, {
          method: 'POST',
          headers,
          body,
          redirect: 'manual',
          signal: AbortSignal.timeout(opts.timeoutMs),
        });
      } catch (err) {
        // No `cause`: the raw error quotes the URL, and Temporal would carry it into history.
        throw new Error(`POST ${shown} failed: ${describeFailure(err, opts.timeoutMs)}`);
      }
      const { status } = response;
      if (status >= 300 && status < 400) {
        await response.body?.cancel().catch(() => undefined);
        const location = response.headers.get('location');
        const target = location === null ? 'nowhere' : redactUrl(resolve(location, url));
        throw new ActuationRefusedError(`POST ${shown} answered ${status}: redirect to ${target} refused`, {
          url: shown,
          status,
        });
      }
      const text = bounded(await readBounded(response.body, opts.maxResponseBytes + slack));
      const detail = { url: shown, status, body: text };
      if (response.ok) return { actuator: 'http', at: Date.now(), detail };
      const transient = status === 408 || status === 429 || status >= 500;
      const message = `POST ${shown} answered ${status}: ${redactText(text)}`;
      if (transient) throw new Error(message);
      throw new ActuationRefusedError(message, detail);
    },
  };
}

/** `location` resolved against the request URL (it may be relative), or itself when unparseable. */
function resolve(location: string, base: string): string {
  try {
    return new URL(location, base).href;
  } catch {
    return location;
  }
}

/** The default URL's origin as an allowlist entry, or '' (refused later) when it is not one. */
function defaultOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '';
  }
}

import { pino, stdSerializers, type Logger, type LoggerOptions } from 'pino';
import { redactText } from './url-policy.js';

export type { Logger };

/**
 * Credential-like field names, in any case and at any depth: never worth logging, easily logged by
 * accident (`Authorization`, `proxy-authorization`, `accessToken`, `client_secret`, `hmacKey`, …).
 */
const SECRET_FIELD =
  /^(?:.*(?:password|passwd|secret|token|api[-_]?key|hmac[-_]?key|private[-_]?key|credentials?)|(?:proxy-)?authorization|cookie|set-cookie)$/i;
const CENSOR = '[redacted]';
/** Deeper than this, a value is not walked but replaced: a log line is not a data dump. */
const MAX_DEPTH = 10;

/**
 * A copy of `value` with every secret-named field censored: plain objects and arrays are walked
 * (every object when `anyObject`, for a serialized error); a nested error is serialized and censored;
 * anything else (a Buffer, a Map) is left to pino. The caller's objects are never changed.
 */
function censor(value: unknown, depth: number, seen: WeakSet<object>, anyObject = false): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return errorOut(value, depth, seen);
  const proto = Object.getPrototypeOf(value) as unknown;
  if (!anyObject && !Array.isArray(value) && proto !== Object.prototype && proto !== null) return value;
  if (seen.has(value)) return '[circular]';
  if (depth >= MAX_DEPTH) return '[too deep]';
  seen.add(value);
  const out = Array.isArray(value)
    ? value.map((v) => censor(v, depth + 1, seen, anyObject))
    : Object.fromEntries(
        Object.entries(value).map(([k, v]) => [
          k,
          SECRET_FIELD.test(k) ? CENSOR : censor(v, depth + 1, seen, anyObject),
        ]),
      );
  seen.delete(value);
  return out;
}

/** An error as pino serializes it (type, message, stack, cause, aggregateErrors), censored throughout. */
function errorOut(err: Error, depth = 0, seen = new WeakSet<object>()): unknown {
  return redactErrorTexts(censor(stdSerializers.err(err), depth, seen, true));
}

/** The object a log call carries, censored; its top-level `err` is left to the `err` serializer. */
function censorLogObject(object: Record<string, unknown>): Record<string, unknown> {
  const seen = new WeakSet<object>([object]);
  return Object.fromEntries(
    Object.entries(object).map(([k, v]) => [
      k,
      SECRET_FIELD.test(k) ? CENSOR : k === 'err' && v instanceof Error ? v : censor(v, 1, seen),
    ]),
  );
}

/** URLs in every `message` and `stack` of a serialized error, its causes and its aggregated errors. */
function redactErrorTexts(out: unknown): unknown {
  if (out === null || typeof out !== 'object') return out;
  if (Array.isArray(out)) return out.map(redactErrorTexts);
  return Object.fromEntries(
    Object.entries(out).map(([k, v]) => [
      k,
      (k === 'message' || k === 'stack') && typeof v === 'string' ? redactText(v) : redactErrorTexts(v),
    ]),
  );
}

/**
 * The pino options every logger uses (exported so tests log through the same redaction): secret
 * fields censored by name at any depth, URLs in messages and error texts stripped of credentials
 * and queries.
 */
export function loggerOptions(level: string, name = 'autoglm'): LoggerOptions {
  return {
    name,
    level,
    serializers: {
      err: (err: Error) => errorOut(err),
      // Every message, also one pino takes from an error's message when none is given.
      msg: (msg: unknown) => (typeof msg === 'string' ? redactText(msg) : msg),
    },
    formatters: { log: censorLogObject },
  };
}

/** Structured JSON logs; pretty-printed when stdout is a terminal. */
export function createLogger(level: string, name = 'autoglm'): Logger {
  const pretty = process.stdout.isTTY && process.env.AUTOGLM_LOG_FORMAT !== 'json';
  return pino({
    ...loggerOptions(level, name),
    ...(pretty
      ? { transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } } }
      : {}),
  });
}

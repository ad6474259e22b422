import { pino, stdSerializers, type Logger, type LoggerOptions } from 'pino';
import { redactText } from './url-policy.js';

export type { Logger };

/** Credential-like field names: never worth logging, easily logged by accident. */
const SECRET_FIELDS = ['password', 'token', 'secret', 'apiKey', 'authorization', 'cookie', 'x-api-key'];
const SECRET_HEADERS = ['authorization', 'cookie', 'set-cookie', 'x-api-key'];

/** `prefix.key` in redact path syntax; keys with a dash need brackets. */
const redactPath = (prefix: string, key: string) =>
  /^\w+$/.test(key) ? (prefix ? `${prefix}.${key}` : key) : `${prefix}["${key}"]`;

/** Secret fields at the top level and one or two levels deep; secret headers in `headers` there. */
const REDACT_PATHS = [
  ...SECRET_FIELDS.flatMap((k) => ['', '*', '*.*'].map((prefix) => redactPath(prefix, k))),
  ...SECRET_HEADERS.flatMap((h) => ['headers', '*.headers'].map((prefix) => redactPath(prefix, h))),
];

/**
 * The pino options every logger uses (exported so tests log through the same redaction): secrets
 * censored by path, and URLs inside error messages and stacks stripped of credentials and queries.
 */
export function loggerOptions(level: string, name = 'autoglm'): LoggerOptions {
  return {
    name,
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: {
      err: (err: Error) => {
        const out: unknown = stdSerializers.err(err);
        if (out === null || typeof out !== 'object') return out;
        const { message, stack } = out as { message?: unknown; stack?: unknown };
        return {
          ...out,
          ...(typeof message === 'string' ? { message: redactText(message) } : {}),
          ...(typeof stack === 'string' ? { stack: redactText(stack) } : {}),
        };
      },
    },
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

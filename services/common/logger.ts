import { pino, type Logger } from 'pino';

export type { Logger };

/** Structured JSON logs; pretty-printed when stdout is a terminal. */
export function createLogger(level: string, name = 'autoglm'): Logger {
  const pretty = process.stdout.isTTY && process.env.AUTOGLM_LOG_FORMAT !== 'json';
  return pino({
    name,
    level,
    ...(pretty
      ? { transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } } }
      : {}),
  });
}

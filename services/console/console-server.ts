import fs from 'node:fs';
import type http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LiveEvent } from './console-types.js';

const STATIC_DIR = fileURLToPath(new URL('./static/', import.meta.url));
const UPLOT_DIR = path.dirname(createRequire(import.meta.url).resolve('uplot'));

/** The files the console serves, by path: its own pages and uPlot's built files from node_modules. */
const FILES: Readonly<Record<string, readonly [file: string, type: string]>> = {
  '/': [path.join(STATIC_DIR, 'index.html'), 'text/html; charset=utf-8'],
  '/entity': [path.join(STATIC_DIR, 'entity.html'), 'text/html; charset=utf-8'],
  '/static/console.css': [path.join(STATIC_DIR, 'console.css'), 'text/css; charset=utf-8'],
  '/static/common.js': [path.join(STATIC_DIR, 'common.js'), 'text/javascript; charset=utf-8'],
  '/static/index.js': [path.join(STATIC_DIR, 'index.js'), 'text/javascript; charset=utf-8'],
  '/static/entity.js': [path.join(STATIC_DIR, 'entity.js'), 'text/javascript; charset=utf-8'],
  '/vendor/uPlot.iife.min.js': [path.join(UPLOT_DIR, 'uPlot.iife.min.js'), 'text/javascript; charset=utf-8'],
  '/vendor/uPlot.min.css': [path.join(UPLOT_DIR, 'uPlot.min.css'), 'text/css; charset=utf-8'],
};

/** Headers on every answer: no framing, no sniffing, no referrer, scripts and styles from here only. */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
} as const;

/** What the routes read and do; main.ts wires them to the state, the feed and Temporal. */
export interface ConsoleRoutes {
  readonly api: Readonly<Record<string, (query: URLSearchParams) => Promise<unknown> | unknown>>;
  readonly approve: (req: http.IncomingMessage, body: string) => Promise<{ status: number; body: unknown }>;
  readonly subscribe: (listener: (e: LiveEvent) => void) => () => void;
  readonly maxBodyBytes: number;
  /** Open event streams at most (each holds a socket). */
  readonly maxStreams: number;
  readonly onError: (err: unknown) => void;
}

/**
 * The console's request handler: pages, uPlot, the JSON API (`/api/<name>`), the live event stream
 * (`/events`, server-sent events) and `POST /api/approval`. Returns false for a path it does not
 * serve, so the ops server can answer it (the console shares its port by default).
 */
export function consoleHandler(routes: ConsoleRoutes): {
  handle: (req: http.IncomingMessage, res: http.ServerResponse) => boolean;
  /** Ends every open event stream (a server closes only once its connections have). */
  closeStreams: () => void;
} {
  const streams = new Set<http.ServerResponse>();
  const handle = (req: http.IncomingMessage, res: http.ServerResponse): boolean => {
    const url = new URL(req.url ?? '/', 'http://console.invalid');
    const file = FILES[url.pathname];
    const api = url.pathname.startsWith('/api/') ? routes.api[url.pathname.slice(5)] : undefined;
    if (req.method === 'POST' && url.pathname === '/api/approval') {
      readBody(req, routes.maxBodyBytes)
        .then((body) =>
          body === undefined
            ? { status: 413, body: { error: 'the request is too large' } }
            : routes.approve(req, body),
        )
        .then((out) => sendJson(res, out.status, out.body))
        .catch((err: unknown) => {
          routes.onError(err);
          sendJson(res, 500, { error: 'the approval failed; see the console log' });
        });
      return true;
    }
    if (!file && !api && url.pathname !== '/events') return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET', ...SECURITY_HEADERS }).end();
      return true;
    }
    if (file) {
      fs.readFile(file[0], (err, bytes) => {
        if (err) {
          routes.onError(err);
          res.writeHead(500, SECURITY_HEADERS).end();
        } else
          res
            .writeHead(200, { 'content-type': file[1], 'cache-control': 'no-cache', ...SECURITY_HEADERS })
            .end(bytes);
      });
      return true;
    }
    if (api) {
      Promise.resolve()
        .then(() => api(url.searchParams))
        .then((body) => sendJson(res, 200, body))
        .catch((err: unknown) => {
          routes.onError(err);
          sendJson(res, 500, { error: (err as Error).message });
        });
      return true;
    }
    if (streams.size >= routes.maxStreams) {
      sendJson(res, 503, { error: 'too many open event streams' });
      return true;
    }
    streams.add(res);
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      ...SECURITY_HEADERS,
    });
    res.write('retry: 2000\n\n');
    const unsubscribe = routes.subscribe((e) => res.write(`id: ${e.seq}\ndata: ${JSON.stringify(e)}\n\n`));
    const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
    req.on('close', () => {
      streams.delete(res);
      clearInterval(ping);
      unsubscribe();
    });
    return true;
  };
  return {
    handle,
    closeStreams: () => {
      for (const res of streams) res.end();
    },
  };
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    ...SECURITY_HEADERS,
  });
  res.end(JSON.stringify(body));
}

/** The request body as text, or undefined when it is over `max` bytes. */
function readBody(req: http.IncomingMessage, max: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) over = true;
      else chunks.push(c);
    });
    req.on('end', () => resolve(over ? undefined : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

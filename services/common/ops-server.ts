import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { connectionProblems } from './connection-problems.js';

/** A readiness probe: a name and whether that part is ready now. */
export type ReadinessCheck = () => Record<string, boolean>;

const OPS_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/** The health and metrics endpoint of a service. */
export interface OpsServer {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Serves `/healthz` (the process and every part of it is alive, else 503 with the dead parts), `/readyz` (every check is true, else 503 with
 * the failing parts) and `/metrics` (Prometheus text) on 127.0.0.1 unless `host` says otherwise.
 */
export async function startOpsServer(opts: {
  port: number;
  host?: string;
  registry: Registry;
  readiness: ReadinessCheck;
  /** Parts that must be alive for `/healthz` (default: the process answering is enough). */
  liveness?: ReadinessCheck;
  /** Other pages served beside them (`autoglm up`'s console): true when it answered the request. */
  extra?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean;
}): Promise<OpsServer> {
  const server = http.createServer((req, res) => {
    if (!OPS_PATHS.has(req.url ?? '/') && opts.extra?.(req, res)) return;
    void handle(req.url ?? '/', res);
  });
  async function handle(url: string, res: http.ServerResponse): Promise<void> {
    try {
      if (url === '/healthz') {
        const checks = opts.liveness?.() ?? {};
        const ok = Object.values(checks).every(Boolean);
        return send(
          res,
          ok ? 200 : 503,
          'application/json',
          JSON.stringify({ status: ok ? 'ok' : 'failing', checks }),
        );
      }
      if (url === '/readyz') {
        const checks = opts.readiness();
        const ready = Object.values(checks).every(Boolean);
        // Not ready because a connection was refused for good: say why and what to fix.
        const connections = ready ? {} : connectionProblems();
        const body = Object.keys(connections).length > 0 ? { ready, checks, connections } : { ready, checks };
        return send(res, ready ? 200 : 503, 'application/json', JSON.stringify(body));
      }
      if (url === '/metrics') return send(res, 200, opts.registry.contentType, await opts.registry.metrics());
      send(res, 404, 'text/plain', 'not found: try /healthz, /readyz or /metrics\n');
    } catch (err) {
      send(res, 500, 'text/plain', `${(err as Error).message}\n`);
    }
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '127.0.0.1', resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function send(res: http.ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type });
  res.end(body);
}

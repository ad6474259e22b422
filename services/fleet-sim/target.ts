import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One action received by the target. */
export interface ReceivedAction {
  readonly idempotencyKey: string | undefined;
  readonly body: Record<string, unknown>;
  readonly at: number;
}

/** A small local HTTP target for the `http` actuator; the fleet simulator replaces it later. */
export interface ActionTarget {
  readonly url: string;
  /** Every request received, in order (retries included). */
  readonly received: readonly ReceivedAction[];
  close(): Promise<void>;
}

/**
 * Listens on 127.0.0.1 (`port` 0 picks a free one) and answers 200 to a POST of a JSON action,
 * 400 to anything else; `onAction` sees each accepted action.
 */
export async function startActionTarget(
  port = 0,
  onAction?: (action: ReceivedAction) => void,
): Promise<ActionTarget> {
  const received: ReceivedAction[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        body = undefined;
      }
      if (req.method !== 'POST' || body === null || typeof body !== 'object') {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end('{"error":"POST a JSON object"}');
        return;
      }
      const header = req.headers['idempotency-key'];
      const action = {
        idempotencyKey: Array.isArray(header) ? header[0] : header,
        body: body as Record<string, unknown>,
        at: Date.now(),
      };
      received.push(action);
      onAction?.(action);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ accepted: true }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}/actuate`,
    received,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Client } from '@temporalio/client';
import { answerApproval, ApprovalRefusedError } from '../common/approval-client.js';
import { connectClient } from '../common/temporal.js';
import { createKafka } from '../common/kafka.js';
import type { ServiceContext } from '../common/service.js';
import { checkApprovalRequest, loadConsoleToken, MAX_APPROVAL_BODY_BYTES } from './approvals.js';
import { ConsoleFeed, type FleetSource } from './console-feed.js';
import { consoleHandler } from './console-server.js';
import { ConsoleState } from './console-state.js';
import { consoleApi } from './console-api.js';

/** Open event streams the console serves at once. */
const MAX_STREAMS = 32;

/** A running console: its request handler (for the ops server) or its own server, and its state. */
export interface RunningConsole {
  readonly state: ConsoleState;
  readonly handler: (req: http.IncomingMessage, res: http.ServerResponse) => boolean;
  /** Serves the console on a server of its own; returns the port. */
  listen(host: string, port: number): Promise<number>;
  /** Tells the console which port it answers on when the ops server serves it (for the Host check). */
  servedOn(port: number): void;
  stop(): Promise<void>;
}

/**
 * Starts `autoglm up`'s console: the state fed from Kafka, the fleet and Temporal, and the pages
 * and API over it. Read-only unless `config.consoleTokenFile` names the approval token.
 */
export async function startConsole(
  ctx: ServiceContext,
  opts: { readonly fleet?: FleetSource; readonly temporalUi?: string } = {},
): Promise<RunningConsole> {
  const { config, logger } = ctx;
  const tokenHash = config.consoleTokenFile ? loadConsoleToken(config.consoleTokenFile) : undefined;
  const limits = {
    maxByChars: config.approvalMaxByChars,
    maxReasonChars: config.approvalMaxReasonChars,
    maxRefusedKept: config.approvalMaxRefusedKept,
  };
  const ui = opts.temporalUi ?? (config.temporalUiUrl || undefined);
  const workflowUrl = (id: string) =>
    ui
      ? `${ui}/namespaces/${encodeURIComponent(config.temporalNamespace)}/workflows/${encodeURIComponent(id)}`
      : undefined;
  const state = new ConsoleState(
    { rangeMs: config.consoleRange, points: config.consolePoints, maxEntities: config.consoleMaxEntities },
    { workflowUrl },
  );
  const client: Client = await connectClient(config);
  const feed = await new ConsoleFeed({
    kafka: createKafka(config, logger),
    client,
    config,
    logger,
    state,
    ...(opts.fleet ? { fleet: opts.fleet } : {}),
  }).start();
  let port = config.consolePort;
  const loopback = /^(127\.|::1$|localhost$)/.test(config.consoleHost);
  const hostAllowed = (host: string) =>
    !loopback ||
    [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, `${config.consoleHost}:${port}`].includes(
      host,
    );
  const { handle: handler, closeStreams } = consoleHandler({
    maxBodyBytes: MAX_APPROVAL_BODY_BYTES,
    maxStreams: MAX_STREAMS,
    onError: (err) => logger.warn({ err }, 'console: request failed'),
    subscribe: (listener) => {
      state.listeners.add(listener);
      return () => state.listeners.delete(listener);
    },
    api: consoleApi(state, {
      approvals: tokenHash !== undefined,
      temporalUi: ui,
      anomalyDeviation: config.baselineAnomalyDeviation,
      budget: () => feed.budget,
      entityGuard: (id) => feed.entityGuard(id),
      ...(opts.fleet ? { fleet: opts.fleet } : {}),
    }),
    approve: async (req, body) => {
      const checked = checkApprovalRequest(req, body, tokenHash, hostAllowed, limits);
      if ('error' in checked) return { status: checked.status, body: { error: checked.error } };
      const { workflowId, answer } = checked;
      const verb = answer.approve ? 'approve' : 'reject';
      try {
        // The CLI's own path (services/common/approval-client.ts): the workflow's approval update.
        const status = await answerApproval(client, { workflowId, ...answer }, { limits });
        state.status(workflowId, status);
        logger.info({ workflowId, approve: answer.approve, by: answer.by }, 'console: approval answered');
        return { status: 200, body: { workflowId, phase: status.phase } };
      } catch (err) {
        if (err instanceof ApprovalRefusedError)
          return { status: 409, body: { error: `${workflowId}: cannot ${verb}: ${err.message}` } };
        throw err;
      }
    },
  });
  let server: http.Server | undefined;
  return {
    state,
    handler,
    servedOn(p) {
      port = p;
    },
    async listen(host, wanted) {
      server = http.createServer((req, res) => {
        if (!handler(req, res))
          res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /\n');
      });
      await new Promise<void>((resolve, reject) => {
        server!.once('error', reject);
        server!.listen(wanted, host, resolve);
      });
      port = (server.address() as AddressInfo).port;
      return port;
    },
    async stop() {
      closeStreams();
      await feed.stop();
      if (server) {
        server.closeAllConnections();
        await new Promise((resolve) => server!.close(resolve));
      }
      await client.connection.close();
    },
  };
}

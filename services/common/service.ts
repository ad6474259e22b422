import { fileURLToPath } from 'node:url';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { loadConfig, type Config } from './config.js';
import { stopOnSignals, runMain } from './lifecycle.js';
import { createLogger, type Logger } from './logger.js';
import { startOpsServer } from './ops-server.js';

/** A started step of the loop, as `autoglm up` and each standalone process see it. */
export interface Service {
  readonly name: string;
  /** Parts that must be ready for `/readyz` to say 200 (consumer joined, worker running, …). */
  readiness(): Record<string, boolean>;
  /** Parts that must be alive for `/healthz` to say 200 (a consumer kafkajs gave up on is not). */
  liveness?(): Record<string, boolean>;
  /** Stops taking new work, finishes what is in flight, closes connections. */
  stop(): Promise<void>;
}

/** Everything a service's start function is given by its caller. */
export interface ServiceContext {
  readonly config: Config;
  readonly logger: Logger;
  readonly registry: Registry;
  /**
   * Called when a part of the service fails for good (a consumer kafkajs will not restart). The
   * processes exit non-zero so a supervisor restarts them; tests leave it unset and watch `/healthz`.
   */
  readonly onFatal?: (err: Error) => void;
}

/** The `onFatal` of a process: log, then exit 1 so the supervisor restarts it. */
export function exitOnFatal(logger: Logger): (err: Error) => void {
  return (err) => {
    logger.fatal({ err }, 'a part of the service failed for good: exiting so it is restarted');
    process.exit(1);
  };
}

export type StartService = (ctx: ServiceContext) => Promise<Service>;

/** True when `moduleUrl` is the script node was asked to run. */
export function isEntryPoint(moduleUrl: string): boolean {
  return process.argv[1] !== undefined && fileURLToPath(moduleUrl) === process.argv[1];
}

/** Health/metrics port of each service run alone, unless AUTOGLM_OPS_PORT says otherwise. */
const STANDALONE_OPS_PORTS: Record<string, string> = {
  sense: '9401',
  decide: '9402',
  act: '9403',
  verify: '9404',
  fleet: '9405',
  ingest: '9406',
};

/**
 * Runs one service as its own process: config from the environment, JSON logs, health and
 * Prometheus metrics on AUTOGLM_OPS_HOST:AUTOGLM_OPS_PORT (default 127.0.0.1, 9401…9404 by step), graceful
 * stop on SIGTERM.
 */
export function runStandalone(name: string, start: StartService): void {
  runMain(async () => {
    const opsPort = process.env.AUTOGLM_OPS_PORT ? {} : { opsPort: STANDALONE_OPS_PORTS[name] ?? '9400' };
    const config = loadConfig(process.env, opsPort);
    const logger = createLogger(config.logLevel, `autoglm-${name}`);
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    const service = await start({ config, logger, registry, onFatal: exitOnFatal(logger) });
    const ops = await startOpsServer({
      port: config.opsPort,
      host: config.opsHost,
      registry,
      readiness: () => service.readiness(),
      liveness: () => service.liveness?.() ?? {},
    });
    logger.info({ opsPort: ops.port }, `${name} running: /healthz, /readyz and /metrics on port ${ops.port}`);
    stopOnSignals(
      {
        stop: async () => {
          await service.stop();
          await ops.close();
        },
      },
      logger,
    );
  });
}

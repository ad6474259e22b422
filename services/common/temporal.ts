import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type LogLevel } from '@temporalio/worker';
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import {
  checkTemporalTransport,
  explainTemporalError,
  TEMPORAL_PLAINTEXT,
  TemporalAccessError,
  temporalConnectionOptions,
} from './temporal-security.js';

let runtimeInstalled = false;

/**
 * Installs the Temporal runtime: the SDK's own logs (worker, core) go through pino, and the SDK
 * leaves signals alone (by default it shuts workers down on SIGTERM and re-raises the signal,
 * racing our graceful stop). One runtime per process: later calls are no-ops.
 */
export function installTemporalRuntime(logger: Logger): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  const log = logger.child({ component: 'temporal' });
  const levels: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
    TRACE: 'trace',
    DEBUG: 'debug',
    INFO: 'info',
    WARN: 'warn',
    ERROR: 'error',
  };
  try {
    Runtime.install({
      shutdownSignals: [],
      logger: new DefaultLogger('WARN', (entry) => {
        const { error, ...meta } = entry.meta ?? {};
        log[levels[entry.level]](error === undefined ? meta : { ...meta, err: error }, entry.message);
      }),
    });
  } catch {
    // A runtime was already created (for example by a test harness); keep its logger.
  }
}

type TemporalAccess = Pick<Config, 'temporalAddress' | 'temporalNamespace'> &
  Partial<Pick<Config, 'temporalSecurity'>>;

/** How long a connection attempt may take before start-up stops with the reason. */
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * Checks the TLS layer first (one connection, the same files as the SDK), then, once connected,
 * that the namespace exists and the credentials are accepted: each refusal stops start-up within
 * seconds with a TemporalAccessError naming the endpoint, the mechanism and the fix.
 */
async function checked<C>(
  config: TemporalAccess,
  connect: () => Promise<C>,
  describeNamespace: (c: C) => Promise<unknown>,
  close: (c: C) => Promise<void>,
): Promise<C> {
  const security = config.temporalSecurity ?? TEMPORAL_PLAINTEXT;
  await checkTemporalTransport(config.temporalAddress, config.temporalNamespace, security);
  const connection = await connect();
  try {
    await describeNamespace(connection);
  } catch (err) {
    const line = explainTemporalError(err, config.temporalAddress, config.temporalNamespace, security);
    await close(connection).catch(() => undefined);
    throw line ? new TemporalAccessError(line) : err;
  }
  return connection;
}

/** A worker connection to the configured Temporal server, with its TLS and API key, namespace checked. */
export function connectWorker(config: TemporalAccess): Promise<NativeConnection> {
  const options = temporalConnectionOptions(config.temporalSecurity ?? TEMPORAL_PLAINTEXT);
  return checked(
    config,
    () => NativeConnection.connect({ address: config.temporalAddress, ...options }),
    (c) => c.workflowService.describeNamespace({ namespace: config.temporalNamespace }),
    (c) => c.close(),
  );
}

/** A client for starting and inspecting workflows, with its TLS and API key, namespace checked. */
export async function connectClient(config: TemporalAccess): Promise<Client> {
  const options = temporalConnectionOptions(config.temporalSecurity ?? TEMPORAL_PLAINTEXT);
  const connection = await checked(
    config,
    () =>
      Connection.connect({
        address: config.temporalAddress,
        connectTimeout: CONNECT_TIMEOUT_MS,
        ...options,
      }),
    (c) => c.workflowService.describeNamespace({ namespace: config.temporalNamespace }),
    (c) => c.close(),
  );
  return new Client({ connection, namespace: config.temporalNamespace });
}

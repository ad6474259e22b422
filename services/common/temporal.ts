import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type LogLevel } from '@temporalio/worker';
import type { Config } from './config.js';
import type { Logger } from './logger.js';

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

/** A worker connection to the configured Temporal server. */
export function connectWorker(config: Pick<Config, 'temporalAddress'>): Promise<NativeConnection> {
  return NativeConnection.connect({ address: config.temporalAddress });
}

/** A client for starting and inspecting workflows. */
export async function connectClient(
  config: Pick<Config, 'temporalAddress' | 'temporalNamespace'>,
): Promise<Client> {
  const connection = await Connection.connect({ address: config.temporalAddress });
  return new Client({ connection, namespace: config.temporalNamespace });
}

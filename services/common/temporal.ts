import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type LogLevel } from '@temporalio/worker';
import type { Config } from './config.js';
import type { Logger } from './logger.js';

let runtimeInstalled = false;

/**
 * Sends the Temporal SDK's own logs (worker, core) through pino. The SDK allows one runtime per
 * process, so the first service to start installs it and later calls are no-ops.
 */
export function installTemporalLogging(logger: Logger): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  const log = logger.child({ component: 'temporal' });
  const levels: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
    TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error',
  };
  try {
    Runtime.install({
      logger: new DefaultLogger('WARN', (entry) => log[levels[entry.level]](entry.meta ?? {}, entry.message)),
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
export async function connectClient(config: Pick<Config, 'temporalAddress' | 'temporalNamespace'>): Promise<Client> {
  const connection = await Connection.connect({ address: config.temporalAddress });
  return new Client({ connection, namespace: config.temporalNamespace });
}

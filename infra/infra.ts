import fs from 'node:fs';
import { HealthTimeoutError, UnreachableError } from './errors.js';
import type { Component, ComponentStatus } from './component.js';
import { kafkaComponent } from './kafka.js';
import { monitoringComponents } from './monitoring.js';
import { autoglmHome, componentPaths } from './paths.js';
import { temporalComponent } from './temporal.js';
import { livePid, waitUntil } from './process.js';

/** Endpoints the services and tests connect to once `up` has returned. */
export interface InfraEndpoints {
  readonly kafkaBrokers: string;
  readonly temporalAddress: string;
  readonly temporalUi?: string;
  /** With `--with prometheus`: the local Prometheus and Alertmanager, and ingest's tokens and mappings for them. */
  readonly prometheusUrl?: string;
  readonly alertmanagerUrl?: string;
  readonly ingestTokensDir?: string;
  readonly ingestMappingsDir?: string;
}

/** Optional parts of the local infra. */
export interface InfraOptions {
  /**
   * Also Prometheus and Alertmanager (Debian's packages, our own processes): Prometheus scrapes the
   * fleet simulator (AUTOGLM_FLEET_PORT) and remote-writes to ingest (AUTOGLM_INGEST_PORT),
   * Alertmanager sends its webhook to ingest. PROMETHEUS_URL / ALERTMANAGER_URL name external ones.
   */
  withPrometheus?: boolean;
}

/** The local infra as the environment describes it (KAFKA_BROKERS / TEMPORAL_ADDRESS mean external). */
export function localInfra(env: NodeJS.ProcessEnv = process.env, opts: InfraOptions = {}) {
  const home = autoglmHome(env);
  const kafka = kafkaComponent({ home, brokers: env.KAFKA_BROKERS || undefined });
  const temporal = temporalComponent({ home, address: env.TEMPORAL_ADDRESS || undefined });
  // Also when not asked for but still running (for status and down).
  const monitoringUp = ['prometheus', 'alertmanager'].some((n) => livePid(componentPaths(home, n).pid));
  const monitoring =
    opts.withPrometheus || monitoringUp
      ? monitoringComponents({
          home,
          fleetPort: Number(env.AUTOGLM_FLEET_PORT || 8090),
          ingestPort: Number(env.AUTOGLM_INGEST_PORT || 9480),
          prometheusUrl: env.PROMETHEUS_URL || undefined,
          alertmanagerUrl: env.ALERTMANAGER_URL || undefined,
        })
      : undefined;
  const components: readonly Component[] = [
    kafka,
    temporal,
    ...(monitoring ? [monitoring.alertmanager, monitoring.prometheus] : []),
  ];
  const startTimeoutMs = Number(env.AUTOGLM_INFRA_TIMEOUT_MS ?? 90_000);

  async function ensure(component: Component, log: (line: string) => void): Promise<void> {
    if (await component.healthy().catch(() => false)) {
      log(`${component.name}: already answering at ${component.endpoint}`);
    } else {
      if (component.external) {
        throw new UnreachableError(component.name, component.endpoint, component.endpointEnv);
      }
      log(`${component.name}: starting at ${component.endpoint}`);
      await component.start();
      const result = await waitUntil(() => component.healthy(), startTimeoutMs);
      const logPath = componentPaths(home, component.name).log;
      if (!result.ok)
        throw new HealthTimeoutError(
          component.name,
          component.endpoint,
          startTimeoutMs,
          logPath,
          result.lastError,
        );
      log(`${component.name}: healthy`);
    }
    await component.afterHealthy?.();
  }

  return {
    home,
    components,
    /** Provisions and starts what is missing; resolves once every component answers. */
    async up(log: (line: string) => void = () => undefined): Promise<InfraEndpoints> {
      await Promise.all(components.map((c) => ensure(c, log)));
      return {
        kafkaBrokers: kafka.endpoint,
        temporalAddress: temporal.endpoint,
        temporalUi: temporal.uiUrl,
        ...(monitoring
          ? {
              prometheusUrl: monitoring.prometheus.url,
              alertmanagerUrl: monitoring.alertmanager.url,
              ingestTokensDir: monitoring.tokensDir,
              ingestMappingsDir: monitoring.mappingsDir,
            }
          : {}),
      };
    },
    /** Stops only the processes `up` started (those with a pid file). */
    async down(log: (line: string) => void = () => undefined): Promise<void> {
      for (const c of [...components].reverse()) {
        const stopped = await c.stop();
        log(`${c.name}: ${stopped ? 'stopped' : c.external ? 'external, left alone' : 'was not running'}`);
      }
    },
    status(): Promise<ComponentStatus[]> {
      return Promise.all(components.map((c) => c.status()));
    },
    /** Paths of the log files, by component name. */
    logPaths(): Record<string, string> {
      return Object.fromEntries(
        components
          .map((c) => [c.name, componentPaths(home, c.name).log])
          .filter(([, p]) => p && fs.existsSync(p)),
      );
    },
  };
}

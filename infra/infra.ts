import fs from 'node:fs';
import { HealthTimeoutError, UnreachableError } from './errors.js';
import type { Component, ComponentStatus } from './component.js';
import { kafkaComponent } from './kafka.js';
import { autoglmHome, componentPaths } from './paths.js';
import { temporalComponent } from './temporal.js';
import { waitUntil } from './process.js';

/** Endpoints the services and tests connect to once `up` has returned. */
export interface InfraEndpoints {
  readonly kafkaBrokers: string;
  readonly temporalAddress: string;
  readonly temporalUi?: string;
}

/** The local infra as the environment describes it (KAFKA_BROKERS / TEMPORAL_ADDRESS mean external). */
export function localInfra(env: NodeJS.ProcessEnv = process.env) {
  const home = autoglmHome(env);
  const kafka = kafkaComponent({ home, brokers: env.KAFKA_BROKERS || undefined });
  const temporal = temporalComponent({ home, address: env.TEMPORAL_ADDRESS || undefined });
  const components: readonly Component[] = [kafka, temporal];
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
      return { kafkaBrokers: kafka.endpoint, temporalAddress: temporal.endpoint, temporalUi: temporal.uiUrl };
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

/**
 * What the loop benches (`scale-out.ts --step loop`, `kill-soak.ts`) share to start a run: the local
 * infra, a run id with its own topics, groups and task queues, the incidents spread one per pod over
 * the fleet simulator's five services, the machine's load, and the clean-up of the run's topics.
 */
import os from 'node:os';
import { runOverrides } from '../cli/scenario-suite.js';
import { localInfra, type InfraEndpoints } from '../infra/infra.js';
import { loadConfig } from '../services/common/config.js';
import { createKafka } from '../services/common/kafka.js';
import type { Logger } from '../services/common/logger.js';
import { deleteTopicsWithPrefix } from '../services/common/topic-tap.js';
import { uniqueName } from '../services/common/unique-name.js';
import type { FleetScenarioClass } from '../services/fleet/fleet-types.js';

/** Config overrides as `loadConfig` takes them. */
export type Overrides = NonNullable<Parameters<typeof loadConfig>[1]>;

/** Per service of the fleet (in the simulator's order), the class injected on each of its pods. */
export type ClassOfService = ReadonlyArray<readonly [string, FleetScenarioClass]>;

/** The local Kafka and Temporal, brought up if they are not (its lines on stderr). */
export async function upInfra(): Promise<InfraEndpoints> {
  return localInfra().up((line) => process.stderr.write(`infra: ${line}\n`));
}

/** A run of the loop with names of its own. */
export interface LoopRun {
  /** `<prefix>-<hex>`: the topic prefix, group prefix and task queues start with it. */
  readonly id: string;
  /** Brokers, Temporal, topic prefix, groups, task queues, a random ops port, warnings only. */
  readonly overrides: Overrides;
}

/** A new run id and its overrides on `endpoints`. */
export function loopRun(prefix: string, endpoints: InfraEndpoints): LoopRun {
  const id = uniqueName(prefix);
  return {
    id,
    overrides: runOverrides(id, endpoints),
  };
}

/**
 * `count` incidents, one entity each (the starter rules' cooldowns never hold one back): the i-th
 * on service i mod 5, pod ⌊i/5⌋+1, of the class that service gets; and the fleet they need.
 */
export function incidentsOnPods(count: number, classes: ClassOfService) {
  const injections = Array.from({ length: count }, (_, i) => {
    const [service, cls] = classes[i % classes.length]!;
    return { class: cls, entity: `${service}/pod-${Math.floor(i / classes.length) + 1}` };
  });
  return { injections, fleet: { services: classes.length, pods: Math.ceil(count / classes.length) } };
}

/** The load average (1, 5, 15 min), one decimal each: a figure of a busy machine is not one of a quiet one. */
export function loadNow(): string {
  return os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
}

/** Samples the 1-minute load every 5 s until `stop`, which returns "min, median, max (n samples)". */
export function sampleLoad(): { stop(): string } {
  const loads: number[] = [];
  const timer = setInterval(() => loads.push(os.loadavg()[0]!), 5000).unref();
  return {
    stop() {
      clearInterval(timer);
      const sorted = [...loads].sort((a, b) => a - b);
      const at = (q: number) =>
        (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN).toFixed(1);
      return `min ${at(0)}, median ${at(0.5)}, max ${at(1)} (${loads.length} samples)`;
    },
  };
}

/** Deletes the topics of the run whose overrides are given (errors are the caller's to ignore). */
export async function deleteRunTopics(overrides: Overrides, logger: Logger): Promise<void> {
  const config = loadConfig(process.env, overrides);
  await deleteTopicsWithPrefix(createKafka(config, logger), config.topicPrefix);
}

import { Gauge, Registry } from 'prom-client';
import type { MetricSample } from '../common/contracts.js';
import { FLEET_METRICS, type FleetMetric } from './fleet-types.js';

/**
 * The Prometheus name and help of each simulated metric: what a scrape of the fleet's `/metrics`
 * shows, and what an ingest mapping turns back into the loop's metric names.
 */
export const ENTITY_METRIC_NAMES: Readonly<Record<FleetMetric, { name: string; help: string }>> = {
  cpu: { name: 'fleet_cpu_percent', help: 'CPU use of the pod, percent of its limit' },
  mem: { name: 'fleet_memory_percent', help: 'Memory use of the pod, percent of its limit' },
  latency: {
    name: 'fleet_latency_p95',
    help: 'p95 request latency of the pod in milliseconds (the unit the rules use)',
  },
  errors: { name: 'fleet_errors_percent', help: 'Requests answered with an error, percent' },
  disk: { name: 'fleet_disk_percent', help: 'Disk use of the pod, percent of its volume' },
  restarts: { name: 'fleet_restarts', help: 'Container restarts of the pod since it started' },
  replicas: { name: 'fleet_replicas', help: "Replicas of the pod's service" },
  upstream_errors: {
    name: 'fleet_upstream_errors_percent',
    help: "Calls to the service's dependencies that failed, percent",
  },
};

/** The labels one entity's series carry: `<service>/pod-<k>` as Kubernetes would name them. */
export function entityLabels(entity: string): { namespace: string; pod: string; service: string } {
  const slash = entity.indexOf('/');
  const service = slash < 0 ? entity : entity.slice(0, slash);
  const pod = slash < 0 ? entity : entity.slice(slash + 1);
  return { namespace: service, pod, service };
}

/**
 * Each simulated entity's latest metrics as Prometheus gauges, in a registry of their own (not the
 * process's): the fleet's `GET /metrics`, which a real Prometheus scrapes like any exporter.
 * Labels: `namespace` and `service` (the entity's service) and `pod` (`pod-<k>`).
 */
export class FleetEntityMetrics {
  readonly registry = new Registry();
  private latest = new Map<string, MetricSample>();

  constructor() {
    for (const metric of FLEET_METRICS) {
      const { name, help } = ENTITY_METRIC_NAMES[metric];
      const latest = () => this.latest;
      new Gauge({
        name,
        help,
        labelNames: ['namespace', 'pod', 'service'],
        registers: [this.registry],
        collect(this: Gauge<'namespace' | 'pod' | 'service'>) {
          this.reset();
          for (const s of latest().values())
            if (s.metric === metric) this.set(entityLabels(s.entity), s.value);
        },
      });
    }
  }

  /** Keeps the samples of the latest tick (every entity's every metric) for the next scrape. */
  update(samples: readonly MetricSample[]): void {
    const next = new Map<string, MetricSample>();
    for (const s of samples) next.set(`${s.entity}\u0000${s.metric}`, s);
    this.latest = next;
  }

  /** The exposition text and its content type, for `GET /metrics`. */
  async scrape(): Promise<{ contentType: string; text: string }> {
    return { contentType: this.registry.contentType, text: await this.registry.metrics() };
  }
}

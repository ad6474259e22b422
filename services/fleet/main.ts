// First: kafkajs must load with our read_committed filter (see the module).
import '../common/kafkajs-aborted-filter.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { topicNames } from '../common/config.js';
import { connectProducer, createKafka, ensureTopics, sendJson } from '../common/kafka.js';
import { isEntryPoint, runStandalone, type Service, type ServiceContext } from '../common/service.js';
import { startControlApi, type ControlApi } from './control-api.js';
import { loadFleetConfig, readHmacKey, type FleetConfig } from './fleet-config.js';
import { FleetEntityMetrics } from './entity-metrics.js';
import { FleetMetrics } from './fleet-metrics.js';
import { FleetModel } from './fleet-model.js';
import { wordEvents } from './event-wording.js';
import { applyMetricSet, isFullMetricSet } from './metric-set.js';
import { followLoop, type LoopFeedback } from './loop-feedback.js';

/** A running fleet simulator: a Service, plus its model (ground truth) and control API address. */
export interface RunningFleet extends Service {
  readonly model: FleetModel;
  /** `http://127.0.0.1:<port>`; the http actuator posts to `<origin>/actuate`. */
  readonly controlOrigin: string;
}

/**
 * Wires the fleet simulator: the model ticking on the wall clock into the metrics and events
 * topics (keyed by entity), the control API the http actuator calls, and Prometheus metrics.
 * Settings come from AUTOGLM_FLEET_* unless `settings` is given; the HMAC key from
 * AUTOGLM_ACTUATOR_HMAC_KEY_FILE, as the act step signs with it.
 */
export async function startFleet(
  { config, logger: root, registry, onFatal }: ServiceContext,
  settings: FleetConfig = loadFleetConfig(process.env),
): Promise<RunningFleet> {
  const logger = root.child({ service: 'fleet' });
  const hmacKey = readHmacKey(config.actuatorHmacKeyFile);
  const model = new FleetModel({
    services: settings.services,
    podsPerService: settings.pods,
    seed: settings.seed,
    mix: settings.scenarios,
    scenarioEveryMs: settings.scenarioEvery,
    recoveryMs: settings.recovery,
    incidentTimeoutMs: settings.incidentTimeout,
    noisyDurationMs: settings.noisyFor,
    maxActiveIncidents: settings.maxActive,
    tickMs: settings.tick,
  });
  const metrics = new FleetMetrics(registry, () => model.activeIncidents());
  const entityMetrics = new FleetEntityMetrics();
  const samplesToKafka = settings.samples === 'kafka';
  const topics = topicNames(config);

  const api: ControlApi = await startControlApi({
    fleet: model,
    port: settings.port,
    ...(hmacKey ? { hmacKey } : {}),
    allowUnsigned: settings.allowUnsigned,
    maxSkewMs: settings.signatureWindow,
    maxSeenSignatures: settings.seenSignatures,
    metrics: () => entityMetrics.scrape(),
    observer: {
      action: (entry) => {
        metrics.action(entry);
        logger.info(
          {
            seq: entry.seq,
            entity: entry.entity,
            action: entry.action,
            idempotencyKey: entry.idempotencyKey,
            verdict: entry.verdict,
            incidentId: entry.incidentId,
            changed: entry.changed,
          },
          `fleet received ${entry.action} on ${entry.entity}: ${entry.verdict}`,
        );
      },
      injected: (incident) => {
        metrics.incidentInjected(incident);
        logger.info(
          { incident },
          `injected ${incident.class} on ${incident.entity} (${incident.id}, on demand)`,
        );
      },
      refused: (reason, detail) => {
        metrics.refused(reason);
        logger.warn({ reason, detail }, 'control API refused a request');
      },
    },
  });

  const kafka = createKafka(config, logger);
  let producer: Awaited<ReturnType<typeof connectProducer>>;
  try {
    await ensureTopics(kafka, [topics.metrics, topics.events], config.topicPartitions);
    producer = await connectProducer(kafka);
  } catch (err) {
    await api.close();
    throw err;
  }

  // Incidents the loop will not act on by design do not stall the schedule (only with one).
  let feedback: LoopFeedback | undefined;
  if (settings.followLoop && settings.scenarioEvery > 0 && settings.scenarios.length > 0)
    feedback = await followLoop(model, config, logger, {
      avoidRecentMs: settings.avoidRecent,
      pollMs: settings.loopPoll,
    });

  let running = true;
  let ticking = true;
  let published = false;
  let failing = false;
  const stopping = new AbortController();
  let last = 0;
  const loop = (async () => {
    let next = Date.now();
    while (running) {
      // The model refuses time going backwards; a wall clock stepped back waits for it instead.
      const now = Math.max(Date.now(), last);
      last = now;
      const out = model.tick(now);
      // Another fleet's metric set and wording, when configured: what the loop sees, not the truth.
      const samples = applyMetricSet(out.samples, settings.metricSet);
      const events = wordEvents(out.events, settings.eventWording);
      entityMetrics.update(
        settings.metricSet.drop.length === 0
          ? out.samples
          : out.samples.filter((s) => !settings.metricSet.drop.includes(s.metric)),
      );
      for (const incident of out.injected) {
        metrics.incidentInjected(incident);
        logger.info({ incident }, `injected ${incident.class} on ${incident.entity} (${incident.id})`);
      }
      for (const incident of out.ended) {
        metrics.incidentEnded(incident);
        logger.info(
          { incident },
          `${incident.id} (${incident.class} on ${incident.entity}) ${incident.status}`,
        );
      }
      try {
        await Promise.all([
          sendJson(
            producer,
            topics.metrics,
            samplesToKafka ? samples.map((s) => ({ key: s.entity, value: s })) : [],
          ),
          sendJson(
            producer,
            topics.events,
            // Fed by Prometheus, the alerts are Alertmanager's (through ingest), not simulated ones.
            events
              .filter((e) => samplesToKafka || e.kind !== 'alert')
              .map((e) => ({ key: e.entity, value: e })),
          ),
        ]);
        published = true;
        if (failing) logger.info('publishing ticks again');
        failing = false;
        metrics.tick(true);
      } catch (err) {
        // The simulator goes on: a tick lost while Kafka is away is a gap in the series, nothing more.
        published = false;
        if (!failing) logger.error({ err }, 'cannot publish a tick; the next ones are tried');
        failing = true;
        metrics.tick(false);
      }
      next = Math.max(next + settings.tick, Date.now());
      await sleep(next - Date.now(), undefined, { signal: stopping.signal }).catch(() => undefined);
    }
  })().catch((err: unknown) => {
    // A bug in the model, not a passing outage: /healthz says so, and a process exits to be restarted.
    ticking = false;
    logger.error({ err }, 'the fleet stopped ticking');
    onFatal?.(err as Error);
  });

  logger.info(
    {
      entities: model.entityIds.length,
      tick: settings.tick,
      scenarios: settings.scenarios.map((m) => `${m.class}:${m.weight}`),
      scenarioEveryMs: settings.scenarioEvery,
      seed: settings.seed,
      control: api.actuateUrl,
      signed: hmacKey !== undefined,
      samples: samplesToKafka ? topics.metrics : `${api.origin}/metrics`,
      ...(isFullMetricSet(settings.metricSet) ? {} : { metricSet: settings.metricSet }),
      ...(settings.eventWording === 'ours' ? {} : { eventWording: settings.eventWording }),
    },
    `fleet simulator running: ${model.entityIds.length} entities, actions on ${api.actuateUrl}`,
  );

  return {
    name: 'fleet',
    model,
    controlOrigin: api.origin,
    readiness: () => ({ 'fleet.publishing': published, 'fleet.ticking': ticking }),
    liveness: () => ({ 'fleet.ticking': ticking }),
    async stop() {
      running = false;
      stopping.abort();
      await loop;
      await feedback?.stop();
      await api.close();
      await producer.disconnect();
    },
  };
}

if (isEntryPoint(import.meta.url)) runStandalone('fleet', startFleet);

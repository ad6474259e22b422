// First: kafkajs must load with our read_committed filter (see the module).
import '../common/kafkajs-aborted-filter.js';
import os from 'node:os';
import { randomUUID } from 'node:crypto';
import { Worker } from '@temporalio/worker';
import { Counter } from 'prom-client';
import { topicNames } from '../common/config.js';
import { decodeMessage, fastObservation, observationSchema } from '../common/contracts.js';
import { createKafka, ensureTopics, runConsumer } from '../common/kafka.js';
import { isEntryPoint, runStandalone, type Service, type ServiceContext } from '../common/service.js';
import { connectWorker, installTemporalRuntime } from '../common/temporal.js';
import { runWorker } from '../common/worker.js';
import { createVerifyActivities } from './activities.js';
import { ObservationState } from './observation-state.js';
import { readBack } from './read-back.js';

/**
 * Wires the verify step: every verify worker reads all observations from the latest offset (a
 * group of its own that commits nothing, so the broker drops it when the worker stops: no groups
 * pile up), keeps those of the entities it is verifying, and answers verification activities on the
 * shared task queue; any worker can take any verification, reading back the entity's evidence since
 * the action when it was not watching it.
 */
export async function startVerify({
  config,
  logger: root,
  registry,
  onFatal,
}: ServiceContext): Promise<Service> {
  const logger = root.child({ service: 'verify' });
  installTemporalRuntime(root);
  const topics = topicNames(config);
  const kafka = createKafka(config, logger);
  await ensureTopics(kafka, Object.values(topics), config.topicPartitions);
  const state = new ObservationState(config.verifyMaxObservationsPerEntity);
  const startedAt = Date.now();
  const seen = new Counter({
    name: 'autoglm_verify_observations_total',
    help: 'Observations read by the verify worker, by result (kept, invalid, unwatched)',
    labelNames: ['result'],
    registers: [registry],
  });
  const groupId = `${config.groupPrefix}-verify-${os.hostname()}-${randomUUID().slice(0, 8)}`;
  const consumer = await runConsumer({
    kafka,
    groupId,
    topics: [topics.observations],
    fromBeginning: false,
    logger,
    // Batches, offsets resolved but never committed: the group holds no offsets to outlive the worker.
    eachBatch: async ({ batch, resolveOffset }) => {
      let kept = 0;
      let invalid = 0;
      for (const message of batch.messages) {
        resolveOffset(message.offset);
        // Only watched entities are decoded; the key is the entity id.
        if (!state.isWatched(message.key?.toString('utf8') ?? '')) continue;
        // The decide step dead-letters invalid observations; here they are only counted.
        const decoded = decodeMessage(
          observationSchema,
          message.value,
          Date.now(),
          config.maxClockSkew,
          fastObservation,
        );
        if (decoded.ok) {
          state.add(decoded.value);
          kept++;
        } else invalid++;
      }
      seen.inc({ result: 'kept' }, kept);
      seen.inc({ result: 'invalid' }, invalid);
      seen.inc({ result: 'unwatched' }, batch.messages.length - kept - invalid);
    },
    ...(onFatal ? { onFatal } : {}),
  });
  // Read-backs are a consumer each: a few at a time, the rest wait their turn.
  const readBacks = new Limiter(config.verifyReadBackConcurrency);
  const connection = await connectWorker(config);
  const worker = await Worker.create({
    connection,
    namespace: config.temporalNamespace,
    taskQueue: config.verifyTaskQueue,
    activities: createVerifyActivities({
      registry,
      state,
      graceMs: 2 * config.emitEvery + 5000,
      anomalyDeviation: config.baselineAnomalyDeviation,
      startedAt,
      readBack: (entity, sinceTs) =>
        readBacks.run(() =>
          readBack(
            kafka,
            topics.observations,
            entity,
            sinceTs,
            { maxMessages: config.verifyReadBackMaxMessages, timeoutMs: config.verifyReadBackTimeout },
            logger,
          ),
        ),
      logger,
    }),
  });
  const running = runWorker(worker, connection, (err) => logger.error({ err }, 'verify worker stopped'));
  logger.info({ taskQueue: config.verifyTaskQueue }, 'verify worker running');
  return {
    name: 'verify',
    readiness: () => ({ 'verify.consumer': consumer.joined(), 'verify.worker': running.ready() }),
    liveness: () => ({ 'verify.consumer': consumer.alive() }),
    async stop() {
      await running.stop();
      await consumer.stop();
      // The group holds no offsets; deleting it now leaves nothing behind for the broker to expire.
      const admin = kafka.admin();
      await admin.connect();
      await admin.deleteGroups([groupId]).catch(() => undefined);
      await admin.disconnect();
    },
  };
}

/** Runs at most `limit` tasks at once, the others in arrival order. */
class Limiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(private readonly limit: number) {}
  async run<T>(task: () => Promise<T>): Promise<T> {
    // A slot is taken here, or handed over by the task that frees it.
    if (this.active < this.limit) this.active++;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}

if (isEntryPoint(import.meta.url)) runStandalone('verify', startVerify);

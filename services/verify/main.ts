import os from 'node:os';
import { randomUUID } from 'node:crypto';
import { Worker } from '@temporalio/worker';
import { Counter } from 'prom-client';
import { topicNames } from '../common/config.js';
import { decodeMessage, observationSchema } from '../common/contracts.js';
import { createKafka, ensureTopics, runConsumer } from '../common/kafka.js';
import { isEntryPoint, runStandalone, type Service, type ServiceContext } from '../common/service.js';
import { connectWorker, installTemporalRuntime } from '../common/temporal.js';
import { runWorker } from '../common/worker.js';
import { createVerifyActivities } from './activities.js';
import { ObservationState } from './observation-state.js';

/**
 * Wires the verify step: every verify worker reads all observations (a group of its own, from
 * the latest offset) into memory and answers verification activities on its own task queue.
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
  const state = new ObservationState();
  const seen = new Counter({
    name: 'autoglm_verify_observations_total',
    help: 'Observations read by the verify worker, by result (kept, invalid)',
    labelNames: ['result'],
    registers: [registry],
  });
  const consumer = await runConsumer({
    kafka,
    groupId: `${config.groupPrefix}-verify-${os.hostname()}-${randomUUID().slice(0, 8)}`,
    topics: [topics.observations],
    fromBeginning: false,
    logger,
    eachMessage: async ({ message }) => {
      // The decide step dead-letters invalid observations; here they are only counted.
      const decoded = decodeMessage(observationSchema, message.value, Date.now(), config.maxClockSkew);
      if (decoded.ok) state.add(decoded.value);
      seen.inc({ result: decoded.ok ? 'kept' : 'invalid' });
    },
    ...(onFatal ? { onFatal } : {}),
  });
  const connection = await connectWorker(config);
  const worker = await Worker.create({
    connection,
    namespace: config.temporalNamespace,
    taskQueue: config.verifyTaskQueue,
    activities: createVerifyActivities({ registry, state, graceMs: 2 * config.emitEvery + 5000, logger }),
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
    },
  };
}

if (isEntryPoint(import.meta.url)) runStandalone('verify', startVerify);

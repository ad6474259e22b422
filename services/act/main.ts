import { fileURLToPath } from 'node:url';
import { Worker } from '@temporalio/worker';
import { topicNames } from '../common/config.js';
import { connectProducer, createKafka, ensureTopics } from '../common/kafka.js';
import { isEntryPoint, runStandalone, type Service, type ServiceContext } from '../common/service.js';
import { connectWorker, installTemporalRuntime } from '../common/temporal.js';
import { runWorker } from '../common/worker.js';
import { createActActivities } from './activities.js';
import { httpActuator } from './actuators/http.js';

const workflowsPath = fileURLToPath(new URL('../../workflows/index.ts', import.meta.url));

/** Wires the act step: a Temporal worker running the remediation workflow and the actuators. */
export async function startAct({ config, logger: root, registry }: ServiceContext): Promise<Service> {
  const logger = root.child({ service: 'act' });
  installTemporalRuntime(root);
  const topics = topicNames(config);
  const kafka = createKafka(config, logger);
  await ensureTopics(kafka, Object.values(topics), config.topicPartitions);
  const producer = await connectProducer(kafka);
  const activities = createActActivities({
    actuators: {
      http: httpActuator({ defaultUrl: config.httpActuatorUrl, timeoutMs: config.httpActuatorTimeout }),
    },
    producer,
    verdictsTopic: topics.verdicts,
    logger,
    registry,
  });
  const connection = await connectWorker(config);
  const worker = await Worker.create({
    connection,
    namespace: config.temporalNamespace,
    taskQueue: config.actTaskQueue,
    workflowsPath,
    activities,
  });
  const running = runWorker(worker, connection, (err) => logger.error({ err }, 'act worker stopped'));
  logger.info({ taskQueue: config.actTaskQueue }, 'act worker running');
  return {
    name: 'act',
    readiness: () => ({ 'act.worker': running.ready() }),
    async stop() {
      await running.stop();
      await producer.disconnect();
    },
  };
}

if (isEntryPoint(import.meta.url)) runStandalone('act', startAct);

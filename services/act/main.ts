// First: kafkajs must load with our read_committed filter (see the module).
import '../common/kafkajs-aborted-filter.js';
import { fileURLToPath } from 'node:url';
import { Worker } from '@temporalio/worker';
import { collectProblems, ConfigError, guardTaskQueueOf, topicNames } from '../common/config.js';
import { connectProducer, createKafka, ensureTopics, sendJson } from '../common/kafka.js';
import { isEntryPoint, runStandalone, type Service, type ServiceContext } from '../common/service.js';
import { connectClient, connectWorker, installTemporalRuntime } from '../common/temporal.js';
import { runWorker } from '../common/worker.js';
import { loadApprovers } from '../common/approvers.js';
import { createActActivities } from './activities.js';
import { createGuardWorker } from './guard-worker.js';
import { IDENTITY_NOT_CHECKED } from './approval-activities.js';
import { VerdictPublishing } from './verdict-publishing.js';
import { actuatorsFromConfig } from '../actuators/from-config.js';
import { outletsFromConfig } from '../actuators/outlets.js';

const workflowsPath = fileURLToPath(new URL('../../workflows/index.ts', import.meta.url));

/**
 * Wires the act step: a Temporal worker running the remediation workflow, the guard workflows
 * (entity guards, the action budget) and the actuators allowed by config, and a second worker for
 * the guard requests alone (`guard-worker.ts`).
 */
export async function startAct({ config, logger: root, registry }: ServiceContext): Promise<Service> {
  const logger = root.child({ service: 'act' });
  installTemporalRuntime(root);
  // The files config names, checked before anything connects, their problems listed together;
  // the approvers file is read again for each answer.
  const problems: string[] = [];
  const actuators = collectProblems(problems, () => actuatorsFromConfig(config));
  const approvers = config.approversFile
    ? collectProblems(problems, () => loadApprovers(config.approversFile))
    : undefined;
  if (problems.length > 0 || !actuators) throw new ConfigError(problems);
  const ui = config.temporalUiUrl.replace(/\/+$/, '');
  const outlets = outletsFromConfig(
    config,
    logger,
    registry,
    ui
      ? (id) =>
          `${ui}/namespaces/${encodeURIComponent(config.temporalNamespace)}/workflows/${encodeURIComponent(id)}`
      : undefined,
  );
  const topics = topicNames(config);
  const kafka = createKafka(config, logger);
  await ensureTopics(kafka, Object.values(topics), config.topicPartitions);
  const producer = await connectProducer(kafka);
  const client = await connectClient(config);
  const publishing = new VerdictPublishing(registry, config.verdictPublishAlarm);
  if (!approvers) logger.warn(`approver identity is not checked: ${IDENTITY_NOT_CHECKED}`);
  const activities = createActActivities({
    actuators,
    publish: (verdict) =>
      publishing.publish(verdict.workflowId, () =>
        sendJson(producer, topics.verdicts, [{ key: verdict.entity, value: verdict }]),
      ),
    client,
    actTaskQueue: config.actTaskQueue,
    budgetLimits: {
      maxConcurrentPerAction: config.maxConcurrentPerAction,
      maxConcurrentPerRule: config.maxConcurrentPerRule,
      maxActionsPerPeriod: config.maxActionsPerPeriod,
      periodMs: config.actionsPeriod,
      maxDeferred: config.maxDeferred,
      laneHoldMs: config.laneHold,
    },
    logger,
    registry,
    ...(outlets ? { outlets } : {}),
    approvers: { file: config.approversFile, proofMaxAgeMs: config.approvalProofMaxAge },
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
  const guardConnection = await connectWorker(config);
  const guardWorker = await createGuardWorker({
    connection: guardConnection,
    namespace: config.temporalNamespace,
    taskQueue: guardTaskQueueOf(config),
    slots: config.guardSlots,
    activities,
  });
  const guardsRunning = runWorker(guardWorker, guardConnection, (err) =>
    logger.error({ err }, 'act guard worker stopped'),
  );
  logger.info(
    {
      taskQueue: config.actTaskQueue,
      guardTaskQueue: guardTaskQueueOf(config),
      guardSlots: config.guardSlots,
      actuators: actuators.types,
      outlets: outlets?.names ?? [],
      allowedOrigins: config.httpAllowedOrigins,
      approvers: approvers ? approvers.list.length : 'not checked',
    },
    'act worker running',
  );
  return {
    name: 'act',
    readiness: () => ({
      'act.worker': running.ready(),
      'act.guards': guardsRunning.ready(),
      'act.verdicts': publishing.healthy(),
    }),
    async stop() {
      await Promise.all([running.stop(), guardsRunning.stop()]);
      await producer.disconnect();
      await client.connection.close();
    },
  };
}

if (isEntryPoint(import.meta.url)) runStandalone('act', startAct);

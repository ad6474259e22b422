// First: kafkajs must load with our read_committed filter (see the module).
import '../common/kafkajs-aborted-filter.js';
import { PartitionAssigners } from 'kafkajs';
import { topicNames } from '../common/config.js';
import { DeadLetters } from '../common/dead-letters.js';
import {
  connectProducer,
  createKafka,
  ensureTopics,
  runConsumer,
  type RunningConsumer,
} from '../common/kafka.js';
import { readPartitions } from '../common/kafka-read.js';
import { isEntryPoint, runStandalone, type Service, type ServiceContext } from '../common/service.js';
import { BaselineStore } from './baseline.js';
import { restoreBaselines } from './baseline-changelog.js';
import { cloudEventsOnKafka } from './cloudevents-message.js';
import { coPartitionedAssigner } from './co-partitioned-assigner.js';
import { SenseHandler, type SenseBaselines, type SenseConsumerPort } from './sense-handler.js';
import { baselineOptionsOf, windowOptionsOf } from './sense-options.js';
import { EntityWindows } from './windows.js';

/**
 * How sense reads its input: per-entity order holds within a partition, and partitions overlap so
 * produce waits are not idle time; big fetches, few round trips. The throughput bench gives a plain
 * consumer the same settings.
 */
export const SENSE_FETCH = Object.freeze({
  partitionsConsumedConcurrently: 4,
  maxBytesPerPartition: 4 * 1024 * 1024,
});

/**
 * Wires the sense step: metrics and events from Kafka into per-entity windows, observations out.
 * Several processes in one consumer group split the partitions; on every (re)join the windows are
 * rebuilt from the committed rebuild offsets of the partitions this process got.
 */
export async function startSense({
  config,
  logger: root,
  registry,
  onFatal,
}: ServiceContext): Promise<Service> {
  const logger = root.child({ service: 'sense' });
  const topics = topicNames(config);
  const cloudEvents = cloudEventsOnKafka(config);
  const groupId = `${config.groupPrefix}-sense`;
  const kafka = createKafka(config, logger);
  await ensureTopics(kafka, Object.values(topics), config.topicPartitions);
  const producer = await connectProducer(kafka);
  const admin = kafka.admin();
  await admin.connect();
  // Aborted by stop: the changelog and events reads of a join end at once. kafkajs's admin connects
  // again when used after its disconnect, and such a connection, opened by a rebuild that ran on after
  // stop, kept a stopped process alive until the broker's idle timeout (10 minutes).
  const stopping = new AbortController();
  const inFlight = new Set<Promise<unknown>>();
  const tracked = <T>(work: () => Promise<T>): Promise<T> => {
    if (stopping.signal.aborted) return Promise.reject(new Error('sense is stopping'));
    const p = work();
    inFlight.add(p);
    void p.then(
      () => inFlight.delete(p),
      () => inFlight.delete(p),
    );
    return p;
  };
  const newBaselines = () => new BaselineStore(baselineOptionsOf(config));
  let baselineStore = newBaselines();
  const newWindows = () => new EntityWindows(windowOptionsOf(config, baselineStore));
  let windows = newWindows();
  const baselines: SenseBaselines | undefined =
    config.baseline === 'on'
      ? {
          store: () => baselineStore,
          topic: topics.baselines,
          idleMs: config.baselineIdle,
          restore: (partition) =>
            tracked(() =>
              restoreBaselines(
                kafka,
                topics.baselines,
                partition,
                baselineStore,
                {
                  maxMessages: Number.MAX_SAFE_INTEGER,
                  timeoutMs: config.baselineRestoreTimeout,
                  signal: stopping.signal,
                },
                config.groupPrefix,
              ),
            ),
        }
      : undefined;
  let committedOffsets: Promise<Map<string, { offset?: number; metadata?: string }>> | undefined;
  const fetchCommitted = async () => {
    const all = new Map<string, { offset?: number; metadata?: string }>();
    for (const t of await admin.fetchOffsets({ groupId, topics: [topics.metrics, topics.events] })) {
      for (const p of t.partitions) {
        all.set(`${t.topic}/${p.partition}`, {
          ...(p.offset !== '-1' ? { offset: Number(p.offset) } : {}),
          ...(p.metadata ? { metadata: p.metadata } : {}),
        });
      }
    }
    return all;
  };
  // The handler needs the consumer (seek, commit) and the consumer needs the handler; its first
  // batches can come before runConsumer returns, so the port waits for it.
  let setConsumer: (c: RunningConsumer) => void = () => {};
  const consumerReady = new Promise<RunningConsumer>((resolve) => (setConsumer = resolve));
  const port: SenseConsumerPort = {
    async committed(topic, partition) {
      committedOffsets ??= tracked(fetchCommitted);
      return (await committedOffsets).get(`${topic}/${partition}`) ?? {};
    },
    async seek(topic, partition, offset) {
      (await consumerReady).consumer.seek({ topic, partition, offset: String(offset) });
    },
    async commit(topic, partition, offset, metadata) {
      const { consumer } = await consumerReady;
      await consumer.commitOffsets([{ topic, partition, offset: String(offset), metadata }]);
    },
    read(topic, partition, from, onMessage) {
      return tracked(async () => {
        // From the oldest offset kept at the earliest: a reader sent before it would wait for nothing.
        const kept = (await admin.fetchTopicOffsets(topic)).find((p) => p.partition === partition);
        const start = BigInt(Math.max(from, Number(kept?.low ?? 0)));
        // Bounded like the changelog restore (AUTOGLM_BASELINE_RESTORE_TIMEOUT): both run on a join.
        return readPartitions(
          kafka,
          topic,
          new Map([[partition, start]]),
          (_, message) => onMessage(message),
          {
            maxMessages: Number.MAX_SAFE_INTEGER,
            timeoutMs: config.baselineRestoreTimeout,
            signal: stopping.signal,
          },
          `${config.groupPrefix}-sense-rebuild`,
        );
      });
    },
  };
  const handler = new SenseHandler({
    windows: () => windows,
    consumer: port,
    producer,
    topics,
    deadLetters: new DeadLetters(producer, topics.dlq, 'sense', registry, logger, config.dlqMaxValueBytes),
    settings: {
      windowMs: config.window,
      emitEveryMs: config.emitEvery,
      maxClockSkewMs: config.maxClockSkew,
      maxAbsValue: config.maxAbsValue,
      maxObservationBytes: config.maxObservationBytes,
      eventsWaitMs: config.senseEventsWait,
      eventsReplayMs: config.senseEventsReplay,
    },
    logger,
    registry,
    cloudEvents,
    ...(baselines ? { baselines } : {}),
  });
  const consumer = await runConsumer({
    kafka,
    groupId,
    // Events first: kafkajs asks for the partitions in this order and the broker fills a fetch's
    // bytes in it, so a backlog of samples cannot crowd the (sparse) events out of every fetch.
    topics: [topics.events, topics.metrics],
    fromBeginning: true,
    logger,
    // Metrics partition p and events partition p to the same process (its windows need both);
    // round robin only while a group still has members that know nothing else (a rolling upgrade).
    partitionAssigners: [coPartitionedAssigner, PartitionAssigners.roundRobin],
    onJoin: (assignment) => {
      if (stopping.signal.aborted) return; // a join while stopping: nothing to rebuild
      // A new generation: rebuild every partition this process now owns from its rebuild offset,
      // and its baselines from the changelog.
      baselineStore = newBaselines();
      windows = newWindows();
      committedOffsets = undefined;
      handler.reset();
      handler.assigned(assignment);
      logger.info({ assignment }, 'sense joined its group');
    },
    eachBatch: (payload) => handler.handle(payload),
    fastFailover: true,
    ...SENSE_FETCH,
    ...(onFatal ? { onFatal } : {}),
  });
  setConsumer(consumer);
  logger.info({ topics: [topics.metrics, topics.events] }, 'sense consuming');
  return {
    name: 'sense',
    readiness: () => ({ 'sense.consumer': consumer.joined() }),
    liveness: () => ({ 'sense.consumer': consumer.alive() }),
    async stop() {
      // Nothing more applied, reads in flight cut short, the batch in hand finished, and only then
      // the clients closed, once nothing can use them again.
      handler.stop();
      stopping.abort();
      await consumer.stop();
      await Promise.allSettled([...inFlight]);
      await producer.disconnect();
      await admin.disconnect();
    },
  };
}

if (isEntryPoint(import.meta.url)) runStandalone('sense', startSense);

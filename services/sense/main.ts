import { topicNames } from '../common/config.js';
import { DeadLetters } from '../common/dead-letters.js';
import { connectProducer, createKafka, ensureTopics, runConsumer } from '../common/kafka.js';
import { isEntryPoint, runStandalone, type Service, type ServiceContext } from '../common/service.js';
import { SenseHandler } from './sense-handler.js';
import { EntityWindows } from './windows.js';

/** Wires the sense step: metrics and events from Kafka into per-entity windows, observations out. */
export async function startSense({ config, logger: root, registry }: ServiceContext): Promise<Service> {
  const logger = root.child({ service: 'sense' });
  const topics = topicNames(config);
  const kafka = createKafka(config, logger);
  await ensureTopics(kafka, Object.values(topics), config.topicPartitions);
  const producer = await connectProducer(kafka);
  const windows = new EntityWindows({ windowMs: config.window, emitEveryMs: config.emitEvery });
  const handler = new SenseHandler({
    windows,
    producer,
    topics,
    deadLetters: new DeadLetters(producer, topics.dlq, 'sense', registry, logger),
    maxClockSkewMs: config.maxClockSkew,
    logger,
    registry,
  });
  const consumer = await runConsumer({
    kafka,
    groupId: `${config.groupPrefix}-sense`,
    topics: [topics.metrics, topics.events],
    fromBeginning: true,
    logger,
    eachMessage: (payload) => handler.handle(payload),
  });
  const sweeper = setInterval(() => windows.evictIdle(Date.now(), config.window * 10), config.window).unref();
  logger.info({ topics: [topics.metrics, topics.events] }, 'sense consuming');
  return {
    name: 'sense',
    readiness: () => ({ 'sense.consumer': consumer.joined() }),
    async stop() {
      clearInterval(sweeper);
      await consumer.stop();
      await producer.disconnect();
    },
  };
}

if (isEntryPoint(import.meta.url)) runStandalone('sense', startSense);

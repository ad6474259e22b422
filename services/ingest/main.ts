// First: kafkajs must load with our read_committed filter (see the module).
import '../common/kafkajs-aborted-filter.js';
import os from 'node:os';
import { ConfigError, topicNames } from '../common/config.js';
import { DeadLetters } from '../common/dead-letters.js';
import { connectProducer, createKafka, ensureTopics } from '../common/kafka.js';
import { isEntryPoint, runStandalone, type Service, type ServiceContext } from '../common/service.js';
import { TokenStore } from './auth.js';
import { KafkaWriter } from './kafka-writer.js';
import { loadMappings } from './mapping.js';
import { RateLimits } from './rate-limit.js';
import { IngestServer } from './server.js';
import type { IngestSource } from './source.js';
import { SOURCES } from './sources/index.js';

/** A running ingest: the service, and the port its HTTP server listens on. */
export interface IngestService extends Service {
  readonly port: number;
}

/** Ingest instances started in this process, so two in one process never share a transactional id. */
let instances = 0;

/**
 * Wires the ingest edge: an HTTP server taking each registered source's protocol (remote-write,
 * OTLP, CloudEvents, …) on AUTOGLM_INGEST_HOST:AUTOGLM_INGEST_PORT, writing the samples and events
 * to the metrics and events topics in Kafka transactions, refusals to the dead-letter topic. Every
 * problem with the tokens and mapping files is listed at once before anything starts.
 */
export async function startIngest(
  { config, logger: root, registry }: ServiceContext,
  sources: readonly IngestSource[] = SOURCES,
): Promise<IngestService> {
  const logger = root.child({ service: 'ingest' });
  const tokens = config.ingestAuth === 'tokens' ? new TokenStore(config.ingestTokensDir) : undefined;
  const { mappings, problems } = loadMappings(config.ingestMappingsDir, sources);
  problems.push(...(tokens?.problems(sources.map((s) => s.name)) ?? []));
  const paths = new Set<string>();
  for (const s of sources) {
    if (paths.has(s.path)) problems.push(`ingest: two sources answer ${s.path}`);
    paths.add(s.path);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  if (config.ingestAuth === 'tokens' && !config.ingestTokensDir) {
    logger.warn(
      'ingest: AUTOGLM_INGEST_TOKENS_DIR is not set: every request is refused (401) until it names a folder of <source>.tokens files',
    );
  }

  const topics = topicNames(config);
  const kafka = createKafka(config, logger);
  await ensureTopics(kafka, [topics.metrics, topics.events, topics.dlq], config.topicPartitions);
  const writer = new KafkaWriter(
    kafka,
    topics,
    `${config.groupPrefix}-ingest-${os.hostname()}-${process.pid}-${++instances}`,
    config.ingestKafkaTimeout,
    logger,
    config.ingestProducers,
  );
  await writer.start();
  const dlqProducer = await connectProducer(kafka);
  const deadLetters = new DeadLetters(
    dlqProducer,
    topics.dlq,
    'ingest',
    registry,
    logger,
    config.dlqMaxValueBytes,
  );
  const server = new IngestServer({
    sources,
    mappings,
    tokens,
    rateLimits: new RateLimits(config.ingestRate, config.ingestBurst),
    write: (samples, events) => writer.write(samples, events),
    deadLetter: (letters) => deadLetters.sendAll(letters),
    logger,
    registry,
    limits: { maxClockSkewMs: config.maxClockSkew, maxAbsValue: config.maxAbsValue },
    settings: {
      maxBodyBytes: config.ingestMaxBodyBytes,
      maxDecodedBytes: config.ingestMaxDecodedBytes,
      maxPendingBytes: config.ingestMaxPendingBytes,
      retryAfterSeconds: Math.max(1, Math.ceil(config.ingestRetryAfter / 1000)),
    },
  });
  let running;
  try {
    running = await server.listen(config.ingestPort, config.ingestHost);
  } catch (err) {
    await writer.stop();
    await dlqProducer.disconnect();
    throw new Error(
      `ingest cannot listen on ${config.ingestHost}:${config.ingestPort} (AUTOGLM_INGEST_HOST, AUTOGLM_INGEST_PORT): ${(err as Error).message}`,
    );
  }
  const listening = running;
  logger.info(
    { port: listening.port, host: config.ingestHost, sources: sources.map((s) => `${s.name} ${s.path}`) },
    `ingest listening on ${config.ingestHost}:${listening.port}`,
  );
  return {
    name: 'ingest',
    port: listening.port,
    readiness: () => ({ 'ingest.kafka': writer.ready() }),
    async stop() {
      // No new requests; those in flight finish (each within AUTOGLM_INGEST_KAFKA_TIMEOUT).
      await listening.close();
      await writer.stop();
      await dlqProducer.disconnect();
    },
  };
}

if (isEntryPoint(import.meta.url)) runStandalone('ingest', startIngest);

import { setTimeout as sleep } from 'node:timers/promises';
// First: kafkajs must load with our read_committed filter (see the module).
import { checkAbortedFilter } from './kafkajs-aborted-filter.js';
import {
  Kafka,
  Partitioners,
  type Admin,
  logLevel,
  type Consumer,
  type EachBatchPayload,
  type EachMessagePayload,
  type PartitionAssigner,
  type Producer,
} from 'kafkajs';
import { BASELINE_CHANGELOG, EPISODE_CHANGELOG, type Config } from './config.js';
import { registerKafkaCodecs } from './kafka-codecs.js';
import { clearConnectionProblem, noteConnectionProblem } from './connection-problems.js';
import {
  checkKafkaAccess,
  describeKafka,
  explainKafkaError,
  KAFKA_SECURITY_ENV,
  kafkajsSecurityOptions,
  PLAINTEXT,
  type KafkaSecurity,
} from './kafka-security.js';
import type { Logger } from './logger.js';

const PINO_LEVEL: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

const TRANSIENT = new Set([
  'The group coordinator is not available',
  "The coordinator is loading and hence can't process requests for this group",
]);

/** Brokers and security of each client createKafka made, for the access check before first use. */
const accessOf = new WeakMap<Kafka, { brokers: readonly string[]; security: KafkaSecurity }>();
/** The group session timeout (AUTOGLM_KAFKA_SESSION_TIMEOUT) of each client createKafka made, for its consumers. */
const sessionOf = new WeakMap<Kafka, number>();
let insecureWarned = false;

/**
 * A kafkajs client whose own logs go through our pino logger (namespace `kafkajs`), reading and
 * writing every compression codec Kafka defines (kafkajs alone reads only gzip).
 */
export function createKafka(
  config: Pick<Config, 'kafkaBrokers' | 'kafkaClientId'> &
    Partial<Pick<Config, 'kafkaMaxBatchBytes' | 'kafkaSecurity' | 'kafkaSessionTimeout'>>,
  logger: Logger,
): Kafka {
  checkAbortedFilter();
  registerKafkaCodecs(
    config.kafkaMaxBatchBytes !== undefined ? { maxBatchBytes: config.kafkaMaxBatchBytes } : {},
  );
  const log = logger.child({ component: 'kafkajs' });
  const security = config.kafkaSecurity ?? PLAINTEXT;
  if (security.insecureSkipVerify && !insecureWarned) {
    insecureWarned = true;
    logger.warn(
      `${KAFKA_SECURITY_ENV.insecure} is on: the certificate of ${describeKafka(config.kafkaBrokers, security)} is NOT checked; anyone on the path can read and forge traffic`,
    );
  }
  const kafka = new Kafka({
    clientId: config.kafkaClientId,
    brokers: [...config.kafkaBrokers],
    ...kafkajsSecurityOptions(security),
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log: entry }) => {
        const { message, ...rest } = entry;
        // A fresh broker's coordinators are briefly unavailable while they load; kafkajs retries these.
        if (typeof rest.error === 'string' && TRANSIENT.has(rest.error)) return;
        // Refused for good (a rotated password, an expired certificate): /readyz says why.
        const said = [message, rest.error].filter((t) => typeof t === 'string').join(' | ');
        const fix = explainKafkaError({ message: said }, config.kafkaBrokers, security);
        if (fix) noteConnectionProblem('kafka', fix);
        log[PINO_LEVEL[level] ?? 'info'](fix ? { ...rest, fix } : rest, message);
      },
  });
  accessOf.set(kafka, { brokers: config.kafkaBrokers, security });
  if (config.kafkaSessionTimeout !== undefined) sessionOf.set(kafka, config.kafkaSessionTimeout);
  return kafka;
}

/**
 * Connects once, without retries, as `kafka` would: a wrong password, an unknown CA, a refused
 * client certificate or plaintext against a TLS listener stops start-up within ~12 s with one line
 * naming the endpoint, the mechanism and the fix (KafkaAccessError), instead of minutes of retries.
 * A client not made by createKafka is not checked.
 */
export async function checkKafka(kafka: Kafka): Promise<void> {
  const access = accessOf.get(kafka);
  if (!access) return;
  await checkKafkaAccess(access.brokers, access.security);
  clearConnectionProblem('kafka');
}

/** Creates the topics that are missing, with `partitions` each; existing topics are left as they are. */
export async function ensureTopics(
  kafka: Kafka,
  topics: readonly string[],
  partitions: number,
): Promise<void> {
  await checkKafka(kafka);
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t));
    if (missing.length > 0) {
      try {
        await admin.createTopics({
          waitForLeaders: true,
          topics: missing.map((topic) => ({
            topic,
            numPartitions: partitions,
            replicationFactor: -1,
            // A changelog keeps the newest record per key, not the newest days.
            ...(topic.endsWith(`.${BASELINE_CHANGELOG}`) || topic.endsWith(`.${EPISODE_CHANGELOG}`)
              ? { configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }
              : {}),
          })),
        });
      } catch (err) {
        // kafkajs's wait for leaders gives up when a busy broker's metadata does not list a new
        // topic yet (it retries only "leader not available"): the topics exist, wait for them here.
        if ((err as { type?: string }).type !== 'UNKNOWN_TOPIC_OR_PARTITION') throw err;
        await waitForLeaders(admin, missing);
      }
    }
  } finally {
    await admin.disconnect();
  }
}

/** Resolves once every partition of `topics` has a leader; throws after 30 s. */
async function waitForLeaders(admin: Admin, topics: string[]): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const { topics: found } = await admin.fetchTopicMetadata({ topics });
      if (found.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))) return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    if (Date.now() > deadline) throw new Error(`topics ${topics.join(', ')} have no leader after 30 s`);
    await sleep(200);
  }
}

/** An idempotent producer; every send waits for all in-sync replicas. */
export async function connectProducer(kafka: Kafka): Promise<Producer> {
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  return producer;
}

/**
 * Most bytes of values in one produce request. The broker refuses a record batch over its
 * `message.max.bytes` (~1 MB by default), so large sends go in several requests.
 */
export const MAX_SEND_BYTES = 768 * 1024;

/**
 * Produces JSON values keyed by entity id, waiting for acknowledgement from all in-sync replicas.
 * Records go in order, in requests of at most MAX_SEND_BYTES of values.
 */
export async function sendJson(
  producer: Producer,
  topic: string,
  records: ReadonlyArray<{ key: string; value: unknown }>,
) {
  let chunk: Array<{ key: string; value: string }> = [];
  let bytes = 0;
  const flush = async () => {
    if (chunk.length === 0) return;
    await producer.send({ topic, acks: -1, messages: chunk });
    chunk = [];
    bytes = 0;
  };
  for (const r of records) {
    const value = JSON.stringify(r.value);
    const size = Buffer.byteLength(value) + Buffer.byteLength(r.key);
    if (bytes + size > MAX_SEND_BYTES) await flush();
    chunk.push({ key: r.key, value });
    bytes += size;
  }
  await flush();
}

export interface ConsumerOptions {
  readonly kafka: Kafka;
  readonly groupId: string;
  readonly topics: readonly string[];
  readonly fromBeginning: boolean;
  readonly logger: Logger;
  /** Handles one message; offsets are committed only after it resolves. A throw is retried by kafkajs. */
  readonly eachMessage?: (payload: EachMessagePayload) => Promise<void>;
  /**
   * Handles a batch instead; it resolves and commits offsets itself (auto-resolve and auto-commit
   * are off), so it decides when its output is durable.
   */
  readonly eachBatch?: (payload: EachBatchPayload) => Promise<void>;
  /** Most bytes fetched per partition in one request (kafkajs default 1 MiB): bigger batches, fewer round trips. */
  readonly maxBytesPerPartition?: number;
  /** Partitions handled at once (batches of different partitions overlap their produce waits). */
  readonly partitionsConsumedConcurrently?: number;
  /** Called on every (re)join with this member's partitions by topic, before their messages arrive. */
  readonly onJoin?: (assignment: Record<string, number[]>) => void;
  /** How the group splits the partitions, preferred first (kafkajs' round robin when not given). */
  readonly partitionAssigners?: PartitionAssigner[];
  /**
   * Called when kafkajs gives up on the consumer (a crash it will not restart): the caller's
   * wiring decides (the standalone service exits non-zero so a supervisor restarts it).
   */
  readonly onFatal?: (err: Error) => void;
  readonly joinTimeoutMs?: number;
  /**
   * A group shared by the loop's processes whose handler heartbeats through long work (sense,
   * decide): its members use AUTOGLM_KAFKA_SESSION_TIMEOUT, so a killed one's partitions move on
   * within seconds. Other consumers (taps, feedback, verify's own group) keep kafkajs' 30 s: on a
   * busy process a short session only drops them and makes them join again (the 200-decision burst
   * test lost its verdicts' tap that way).
   */
  readonly fastFailover?: boolean;
}

/** A running consumer, joined to its group. */
export interface RunningConsumer {
  readonly consumer: Consumer;
  /** Joined to its group now (false while rebalancing or after a crash). */
  joined(): boolean;
  /** False once kafkajs has crashed it for good: `/healthz` reports it. */
  alive(): boolean;
  stop(): Promise<void>;
}

/** Heartbeats a third of the session timeout apart, at most kafkajs' 3 s (its default with 30 s). */
export function heartbeatIntervalMs(sessionTimeoutMs: number): number {
  return Math.min(3000, Math.floor(sessionTimeoutMs / 3));
}

/** Errors of a heartbeat that mean this member must join the group again (its batch work is moot). */
const REJOIN = new Set([
  'REBALANCE_IN_PROGRESS',
  'NOT_COORDINATOR_FOR_GROUP',
  'ILLEGAL_GENERATION',
  'UNKNOWN_MEMBER_ID',
]);

/**
 * Awaits `work` of a batch handler while heartbeating its group every `everyMs` (kafkajs sends one
 * per heartbeat interval at most, and none while a handler runs unless asked): a member busy with
 * long work, such as restoring a changelog on join, is not taken for dead and dropped after the
 * session timeout. A heartbeat answered "rebalancing" (or "unknown member") means the generation
 * is over: with `abandon` (the default) that error is thrown at once, so kafkajs joins again
 * without waiting for `work`, which the caller must let finish harmlessly; without, the beats go
 * on (they keep the session) and the error is thrown once `work` is done. Other heartbeat errors
 * are left to the next beat.
 */
export async function whileHeartbeating<T>(
  heartbeat: () => Promise<void>,
  work: Promise<T>,
  { everyMs = 1000, abandon = true }: { everyMs?: number; abandon?: boolean } = {},
): Promise<T> {
  let done = false;
  let timer: NodeJS.Timeout | undefined;
  let rejoin: unknown;
  const beats = new Promise<never>((_, reject) => {
    const next = () => {
      if (!done) timer = setTimeout(beat, everyMs);
    };
    const beat = (): void => {
      void heartbeat().then(next, (err: { type?: string }) => {
        if (!REJOIN.has(err?.type ?? '')) return next();
        rejoin ??= err;
        if (abandon) reject(err);
        else next();
      });
    };
    next();
  });
  beats.catch(() => undefined);
  try {
    const value = await Promise.race([work, beats]);
    if (rejoin !== undefined) throw rejoin;
    return value;
  } finally {
    done = true;
    clearTimeout(timer);
    work.catch(() => undefined);
  }
}

/**
 * How long the broker holds an idle consumer's fetch (kafkajs' default is 5 s): a stopping
 * consumer waits for its fetch to return: an idle decide took 5 s to stop and verify 1.9 s (2.0 s and
 * 0.9 s with this). Records still come back as soon as there are any; an idle consumer asks once a second.
 */
const FETCH_WAIT_MS = 1000;

/**
 * Subscribes and runs a consumer, resolving once it has joined its group so that callers
 * (and tests) know messages produced from now on will be seen. A client made by createKafka with
 * a session timeout gives it to the consumer (kafkajs' default is 30 s: a member killed with -9
 * held its partitions that long).
 */
export async function runConsumer(opts: ConsumerOptions): Promise<RunningConsumer> {
  const sessionTimeout = opts.fastFailover ? sessionOf.get(opts.kafka) : undefined;
  const consumer = opts.kafka.consumer({
    groupId: opts.groupId,
    allowAutoTopicCreation: false,
    maxWaitTimeInMs: FETCH_WAIT_MS,
    ...(sessionTimeout !== undefined
      ? { sessionTimeout, heartbeatInterval: heartbeatIntervalMs(sessionTimeout) }
      : {}),
    ...(opts.maxBytesPerPartition ? { maxBytesPerPartition: opts.maxBytesPerPartition } : {}),
    ...(opts.partitionAssigners ? { partitionAssigners: opts.partitionAssigners } : {}),
  });
  let joined = false;
  let alive = true;
  const joinedOnce = new Promise<void>((resolve) => {
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      joined = true;
      opts.onJoin?.(e.payload.memberAssignment);
      resolve();
    });
  });
  consumer.on(consumer.events.CRASH, (e) => {
    joined = false;
    opts.logger.error({ err: e.payload.error, restart: e.payload.restart }, 'consumer crashed');
    if (!e.payload.restart) {
      alive = false;
      opts.onFatal?.(e.payload.error);
    }
  });
  await consumer.connect();
  await consumer.subscribe({ topics: [...opts.topics], fromBeginning: opts.fromBeginning });
  if (opts.eachBatch) {
    await consumer.run({
      eachBatch: opts.eachBatch,
      eachBatchAutoResolve: false,
      autoCommit: false,
      partitionsConsumedConcurrently: opts.partitionsConsumedConcurrently ?? 1,
    });
  } else if (opts.eachMessage) {
    await consumer.run({ eachMessage: opts.eachMessage });
  } else {
    throw new Error('runConsumer needs eachMessage or eachBatch');
  }
  const timeoutMs = opts.joinTimeoutMs ?? 60_000;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`consumer group ${opts.groupId} did not join within ${timeoutMs}ms`)),
      timeoutMs,
    );
  });
  try {
    await Promise.race([joinedOnce, timedOut]);
  } catch (err) {
    await consumer.disconnect();
    throw err;
  } finally {
    clearTimeout(timer);
  }
  return {
    consumer,
    joined: () => joined,
    alive: () => alive,
    stop: () => consumer.disconnect(),
  };
}

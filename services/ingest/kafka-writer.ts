import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka, Message, Producer, Transaction } from 'kafkajs';
import type { MetricSample, OpsEvent } from '../common/contracts.js';
import { MAX_SEND_BYTES } from '../common/kafka.js';
import { groupingInstalled } from '../common/kafkajs-record-encoder.js';
import type { Logger } from '../common/logger.js';
import { CachedDefaultPartitioner } from './partitioner.js';
import { forgetFastProduceRequests, useFastProduceRequests } from './produce-request.js';

/** Kafka did not take a request's records in time (or is down): answer 503 with Retry-After. */
export class KafkaUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KafkaUnavailable';
  }
}

interface Pending {
  readonly samples: readonly MetricSample[];
  readonly events: readonly OpsEvent[];
  readonly deadline: number;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
  taken: boolean;
  timer: NodeJS.Timeout;
}

/**
 * Most records in one produce request. kafkajs groups a request's messages by partition by copying
 * the partition's list for each message (quadratic: with 10k-record requests ~6% of ingest's CPU)
 * unless our linear grouping took its place (services/common/kafkajs-record-encoder.ts); then
 * requests are bounded by MAX_SEND_BYTES only in practice, and a transaction needs fewer of them.
 */
const MAX_RECORDS_PER_SEND = groupingInstalled ? 10_000 : 1000;

/** One transactional producer and whether it is writing a batch now. */
interface Lane {
  readonly transactionalId: string;
  producer: Producer | undefined;
  running: boolean;
  reconnecting: Promise<void> | undefined;
}

/** Most requests written in one transaction (a group commit). */
const MAX_REQUESTS_PER_TRANSACTION = 256;

/**
 * Writes requests' samples and events to Kafka in transactions (acks=all), several requests per
 * transaction as they queue up. A request's promise resolves once its transaction is committed,
 * so a 2xx means it is in Kafka; sense and every other reader (read_committed, kafkajs's default)
 * never see a transaction that was not, so a request answered 503 and sent again is there once.
 *
 * Nothing is held past a request's deadline: a request still queued is dropped from the queue and
 * rejected; a transaction not yet committing is given up with its producer, made anew (which fences
 * the old one and has the broker abort its transaction). Only a commit already sent is waited for.
 */
export class KafkaWriter {
  private readonly lanes: Lane[];
  private readonly queue: Pending[] = [];
  private stopped = false;
  private lastError = '';

  constructor(
    private readonly kafka: Kafka,
    private readonly topics: { readonly metrics: string; readonly events: string },
    /** Each producer's transactional id is this plus its number. */
    transactionalId: string,
    private readonly timeoutMs: number,
    private readonly logger: Logger,
    /** Transactional producers writing at once (a producer has one transaction open at a time). */
    producers = 1,
  ) {
    this.lanes = Array.from({ length: producers }, (_, i) => ({
      transactionalId: `${transactionalId}-${i}`,
      producer: undefined,
      running: false,
      reconnecting: undefined,
    }));
    for (const lane of this.lanes) useFastProduceRequests(lane.transactionalId);
  }

  /** Connects the transactional producers (start-up fails if Kafka cannot be reached). */
  async start(): Promise<void> {
    for (const lane of this.lanes) lane.producer = await this.connect(lane.transactionalId);
  }

  /** True while a producer is connected (for /readyz). */
  ready(): boolean {
    return !this.stopped && this.lanes.some((l) => l.producer !== undefined);
  }

  /** Resolves once the records are committed in Kafka; rejects with KafkaUnavailable otherwise. */
  write(samples: readonly MetricSample[], events: readonly OpsEvent[]): Promise<void> {
    if (samples.length === 0 && events.length === 0) return Promise.resolve();
    if (this.stopped) return Promise.reject(new KafkaUnavailable('ingest is stopping'));
    if (!this.ready()) {
      for (const lane of this.lanes) void this.reconnect(lane);
      return Promise.reject(
        new KafkaUnavailable(`Kafka is not reachable: ${this.lastError || 'connecting'}`),
      );
    }
    return new Promise<void>((resolve, reject) => {
      const p: Pending = {
        samples,
        events,
        deadline: Date.now() + this.timeoutMs,
        resolve,
        reject,
        taken: false,
        timer: setTimeout(() => {
          if (p.taken) return; // its transaction watches the deadline
          this.queue.splice(this.queue.indexOf(p), 1);
          reject(new KafkaUnavailable(`Kafka did not take the records within ${this.timeoutMs}ms`));
        }, this.timeoutMs),
      };
      this.queue.push(p);
      for (const lane of this.lanes) void this.drain(lane);
    });
  }

  /** Finishes what is queued (each request within its deadline), then disconnects. */
  async stop(): Promise<void> {
    while (this.lanes.some((l) => l.running) || this.queue.length > 0) await sleep(20);
    this.stopped = true;
    for (const lane of this.lanes) {
      await lane.producer?.disconnect().catch(() => undefined);
      forgetFastProduceRequests(lane.transactionalId);
    }
  }

  private async drain(lane: Lane): Promise<void> {
    if (lane.running) return;
    lane.running = true;
    try {
      while (this.queue.length > 0 && lane.producer) {
        const batch = this.queue.splice(0, MAX_REQUESTS_PER_TRANSACTION);
        for (const p of batch) p.taken = true;
        await this.commit(lane, lane.producer, batch);
      }
    } finally {
      lane.running = false;
    }
    // Requests queued while the producer was being made anew fail at their deadline or go now.
    if (this.queue.length > 0 && lane.producer) void this.drain(lane);
  }

  private async commit(lane: Lane, producer: Producer, batch: Pending[]): Promise<void> {
    const deadline = Math.min(...batch.map((p) => p.deadline));
    let transaction: Transaction | undefined;
    let committing = false;
    let abandoned = false;
    const attempt = (async () => {
      transaction = await producer.transaction();
      for (const chunk of chunks(batch, this.topics)) {
        if (abandoned || Date.now() > deadline) throw new KafkaUnavailable('deadline passed');
        await transaction.sendBatch({ topicMessages: chunk, acks: -1 });
      }
      if (abandoned || Date.now() > deadline) throw new KafkaUnavailable('deadline passed');
      committing = true;
      await transaction.commit();
    })();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), Math.max(0, deadline - Date.now()));
    });
    let outcome: 'ok' | 'timeout' | Error;
    try {
      outcome = await Promise.race([attempt.then(() => 'ok' as const), timedOut]);
    } catch (err) {
      outcome = err as Error;
    } finally {
      clearTimeout(timer);
    }
    // A commit already sent decides the outcome: wait for it rather than answer 503 for records that may land.
    if (outcome === 'timeout' && committing) {
      outcome = await attempt.then(
        () => 'ok' as const,
        (err: unknown) => err as Error,
      );
    }
    for (const p of batch) clearTimeout(p.timer);
    if (outcome === 'ok') {
      for (const p of batch) p.resolve();
      return;
    }
    const why = outcome === 'timeout' ? `no acknowledgement within ${this.timeoutMs}ms` : outcome.message;
    this.lastError = why;
    for (const p of batch) p.reject(new KafkaUnavailable(`Kafka did not take the records: ${why}`));
    this.logger.warn(
      { requests: batch.length, err: why },
      'ingest: a transaction was not committed; its requests are answered 503',
    );
    // Nothing of it may land later: the producer is made anew, whose InitProducerId fences this one
    // (its sends are refused from then on) and makes the broker abort its transaction at once. Keeping
    // it is not safe: a failed commit leaves kafkajs in COMMITTING (refusing every later transaction),
    // and a failed send may leave its sequence numbers behind the broker's. Its attempt stops soon
    // (sends are retried a few times only) and never commits (`abandoned`).
    abandoned = true;
    lane.producer = undefined;
    void attempt.catch(() => undefined).then(() => producer.disconnect().catch(() => undefined));
    void this.reconnect(lane);
  }

  /** Makes the producer anew until Kafka answers (its InitProducerId fences the old one and aborts its transaction). */
  private reconnect(lane: Lane): Promise<void> {
    if (lane.producer) return Promise.resolve();
    lane.reconnecting ??= (async () => {
      for (let delay = 200; !this.stopped; delay = Math.min(delay * 2, 5000)) {
        try {
          lane.producer = await this.connect(lane.transactionalId);
          this.logger.info('ingest: Kafka producer connected again');
          void this.drain(lane);
          return;
        } catch (err) {
          this.lastError = (err as Error).message;
          await sleep(delay);
        }
      }
    })().finally(() => (lane.reconnecting = undefined));
    return lane.reconnecting;
  }

  private async connect(transactionalId: string): Promise<Producer> {
    const producer = this.kafka.producer({
      transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
      // The coordinator aborts a transaction this process left open (a crash) after this long.
      transactionTimeout: Math.max(60_000, this.timeoutMs * 3),
      // A send is retried a few times only (~2 s), not for ever (kafkajs's default for idempotence):
      // a producer given up on must not write again once Kafka is back, before its successor fences
      // it, leaving aborted transactions that kafkajs readers mis-skip when aborted out of order.
      // The first retry comes soon: a transaction begun right after the last commit is often refused
      // with CONCURRENT_TRANSACTIONS while the coordinator writes that commit's markers (a few ms), and
      // kafkajs's default first wait (300 ms) stalled a lane's requests that long (Java waits 20 ms).
      retry: { retries: 6, initialRetryTime: 30 },
      createPartitioner: CachedDefaultPartitioner,
    });
    try {
      await producer.connect();
      // Fence now, not in a request's time: the transactional InitProducerId (kafkajs sends it at the
      // first transaction) makes the broker abort what an earlier producer of this id left open, and is
      // retried while it does (CONCURRENT_TRANSACTIONS). Nothing was added, so the abort sends nothing.
      await (await producer.transaction()).abort();
    } catch (err) {
      await producer.disconnect().catch(() => undefined);
      throw err;
    }
    return producer;
  }
}

/** The batch's records in requests of at most MAX_SEND_BYTES of keys and values, keyed by entity. */
function* chunks(
  batch: readonly Pending[],
  topics: { readonly metrics: string; readonly events: string },
): Generator<Array<{ topic: string; messages: Message[] }>> {
  let metrics: Message[] = [];
  let events: Message[] = [];
  let bytes = 0;
  const flush = () => {
    const out = [
      ...(metrics.length > 0 ? [{ topic: topics.metrics, messages: metrics }] : []),
      ...(events.length > 0 ? [{ topic: topics.events, messages: events }] : []),
    ];
    metrics = [];
    events = [];
    bytes = 0;
    return out;
  };
  for (const p of batch) {
    for (const [list, records] of [
      ['m', p.samples],
      ['e', p.events],
    ] as const) {
      for (const r of records) {
        const value = JSON.stringify(r);
        const size = value.length + r.entity.length;
        if (
          (bytes + size > MAX_SEND_BYTES || metrics.length + events.length >= MAX_RECORDS_PER_SEND) &&
          bytes > 0
        )
          yield flush();
        (list === 'm' ? metrics : events).push({ key: r.entity, value });
        bytes += size;
      }
    }
  }
  if (bytes > 0) yield flush();
}

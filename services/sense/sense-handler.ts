import { setTimeout as sleep } from 'node:timers/promises';
import type { Batch, EachBatchPayload, KafkaMessage, Message, Producer } from 'kafkajs';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import {
  decodeMessage,
  eventSchema,
  fastMetricSample,
  fastMetricSampleBytes,
  metricSampleSchema,
  type Observation,
  type Refusal,
} from '../common/contracts.js';
import type { TopicNames } from '../common/config.js';
import type { DeadLetters, RefusedSource } from '../common/dead-letters.js';
import type { Logger } from '../common/logger.js';
import { whileHeartbeating } from '../common/kafka.js';
import { unreadableBatchLetter } from '../common/unreadable-batches.js';
import type { BaselineCheckpoint, BaselineStore } from './baseline.js';
import { baselineKey, type BaselineRestore } from './baseline-changelog.js';
import { isCloudEvent, type CloudEventsOnKafka } from './cloudevents-message.js';
import { EventsJoin } from './events-join.js';
import { useFastProduceFor } from './fast-produce.js';
import { publishRecords, type SerializedRecord } from './observation-output.js';
import { PartitionProgress } from './partition-progress.js';
import { rebuildSpanMs } from './sense-options.js';
import type { EntityWindows } from './windows.js';

/** What the handler needs of the Kafka consumer and the group's committed offsets. */
export interface SenseConsumerPort {
  /** The group's committed offset and its commit metadata (the rebuild offset) for one partition. */
  committed(topic: string, partition: number): Promise<{ offset?: number; metadata?: string }>;
  seek(topic: string, partition: number, offset: number): Promise<void>;
  commit(topic: string, partition: number, offset: number, metadata: string): Promise<void>;
  /**
   * Reads one partition from offset `from` to its end as of now with a reader of its own (not the
   * group's consumer), each message in offset order; `complete` is false when a limit stopped it.
   */
  read(
    topic: string,
    partition: number,
    from: number,
    onMessage: (message: KafkaMessage) => void,
  ): Promise<{ complete: boolean }>;
}

export interface SenseSettings {
  readonly windowMs: number;
  readonly emitEveryMs: number;
  readonly maxClockSkewMs: number;
  readonly maxAbsValue: number;
  /** Largest observation sent (AUTOGLM_MAX_OBSERVATION_BYTES); the windows keep them under it already. */
  readonly maxObservationBytes: number;
  /**
   * Longest a metrics partition is held while its events partition is read behind it
   * (AUTOGLM_SENSE_EVENTS_WAIT; 0: never held). See EventsJoin.
   */
  readonly eventsWaitMs: number;
  /**
   * How far back (event time) an events partition is replayed by a new owner
   * (AUTOGLM_SENSE_EVENTS_REPLAY; at least the windows' rebuild span): an entity's last deploy
   * time outlives its window (the `deploy.ageSeconds` fact) and a restart up to this age.
   */
  readonly eventsReplayMs?: number;
}

/** A pause after a held batch, before kafkajs fetches the partition again: no busy loop of fetches. */
const HOLD_PAUSE_MS = 100;

type Outputs = {
  /**
   * The batch's observations, as records: serialized where they are emitted, so the observation
   * objects (features, window, events) die young instead of living, and being copied by the
   * garbage collector, until the batch is sent (a 4 MiB fetch emits thousands).
   */
  observations: SerializedRecord[];
  /** The sample that emitted each observation: dead-lettered if its observation cannot be sent. */
  emitters: RefusedSource[];
  letters: Array<{ source: RefusedSource; refusal: Refusal }>;
  /** Baseline states due for the changelog, and tombstones of forgotten ones. */
  checkpoints: BaselineCheckpoint[];
};

/** What the handler needs for the baselines: the store of this generation, its changelog, its memory. */
export interface SenseBaselines {
  readonly store: () => BaselineStore;
  /** The changelog topic. */
  readonly topic: string;
  /** Reads changelog partition `partition` back into the current store. */
  readonly restore: (partition: number) => Promise<BaselineRestore>;
  /** A state whose entity sent nothing for this long (event time) is forgotten. */
  readonly idleMs: number;
}

/**
 * Kafka edge of the sense step, a batch at a time: validated samples and events into the windows,
 * the batch's observations and dead letters produced together, then the batch's offsets committed
 * with the offset a new owner must replay from. Redelivered messages are not applied twice; after
 * a restart or a rebalance the windows are rebuilt by replaying, without emitting, what the
 * previous owner had already emitted: a metrics partition on its first batch (the consumer is
 * sent back), the events partitions on the join, before any batch (read with a reader of their
 * own: an events partition may get no new batch for long). Outputs of a failed send are sent
 * again before anything else.
 */
export class SenseHandler {
  private readonly progress = new Map<string, PartitionProgress>();
  private readonly unsent = new Map<string, Outputs>();
  /** Results of the batch being handled, counted into the metric once per batch (cheaper than per message). */
  private readonly tally = new Map<string, number>();
  /** Newest event time per input partition: the eviction clock is the slowest partition's. */
  private readonly partitionClock = new Map<string, number>();
  private lastEviction = -Infinity;
  private lastBaselineEviction = -Infinity;
  /** The events partitions of this generation being rebuilt: every first batch waits for it. */
  private eventsRebuilt: Promise<void> = Promise.resolve();
  /** True until `eventsRebuilt` of this generation has succeeded. */
  private eventsPending = false;
  /** Bumped on every reset: a rebuild of an earlier generation stops applying. */
  private generation = 0;
  /** Set by `stop`: no batch is handled any more. */
  private stopped = false;
  /** Each metrics partition joined with its events partition on event time. */
  private readonly join: EventsJoin;
  private readonly joinHolds: Counter<'result'>;
  private readonly messages: Counter<'topic' | 'result'>;
  private readonly observationsOut: Counter;
  private readonly batchSeconds: Histogram;
  private readonly lag: Gauge<'topic' | 'partition'>;
  private readonly baselineRestores: Counter<'result'>;
  private readonly baselineRestoreIncomplete: Counter;

  constructor(
    private readonly deps: {
      windows: () => EntityWindows;
      consumer: SenseConsumerPort;
      producer: Producer;
      topics: TopicNames;
      deadLetters: DeadLetters;
      settings: SenseSettings;
      logger: Logger;
      registry: Registry;
      baselines?: SenseBaselines;
      /** CloudEvents on the events topic (Kafka binding), read beside our own event records. */
      cloudEvents?: CloudEventsOnKafka;
    },
  ) {
    // Its observations and changelog records: encoded in one pass (the same bytes as kafkajs').
    useFastProduceFor([deps.topics.observations, ...(deps.baselines ? [deps.baselines.topic] : [])]);
    this.join = new EventsJoin(deps.settings.eventsWaitMs);
    const registers = [deps.registry];
    this.joinHolds = new Counter({
      name: 'autoglm_sense_events_join_holds_total',
      help: 'Metrics batches held until their events partition is read to their event time (held), and holds given up after AUTOGLM_SENSE_EVENTS_WAIT (timed_out)',
      labelNames: ['result'],
      registers,
    });
    this.messages = new Counter({
      name: 'autoglm_sense_messages_total',
      help: 'Input messages by topic and result (observation, buffered, late, event, refused, replayed, duplicate)',
      labelNames: ['topic', 'result'],
      registers,
    });
    this.observationsOut = new Counter({
      name: 'autoglm_sense_observations_total',
      help: 'Observations produced',
      registers,
    });
    this.batchSeconds = new Histogram({
      name: 'autoglm_sense_batch_seconds',
      help: 'Time to handle one Kafka batch, its produce and commit included',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.lag = new Gauge({
      name: 'autoglm_sense_consumer_lag',
      help: 'Messages behind the end of each input partition, as of the last batch',
      labelNames: ['topic', 'partition'],
      registers,
    });
    this.baselineRestores = new Counter({
      name: 'autoglm_sense_baseline_restored_total',
      help: 'Baseline states read back from the changelog (restored) or refused as not a state',
      labelNames: ['result'],
      registers,
    });
    this.baselineRestoreIncomplete = new Counter({
      name: 'autoglm_sense_baseline_restore_incomplete_total',
      help: 'Changelog partitions not read back in full within the limits (their baselines warm up again)',
      registers,
    });
    const store = () => deps.baselines?.store();
    new Gauge({
      name: 'autoglm_sense_baseline_states',
      help: 'Per entity and metric baselines held',
      registers,
      collect() {
        this.set(store()?.size ?? 0);
      },
    });
    new Gauge({
      name: 'autoglm_sense_baseline_bytes',
      help: 'Bytes reserved by the baseline state arrays',
      registers,
      collect() {
        this.set(store()?.reservedBytes ?? 0);
      },
    });
    new Gauge({
      name: 'autoglm_sense_baseline_refused_samples',
      help: 'Samples of a metric that got no baseline because AUTOGLM_BASELINE_MAX_STATES were held (since the last rebuild)',
      registers,
      collect() {
        this.set(store()?.refused ?? 0);
      },
    });
    new Gauge({
      name: 'autoglm_sense_entities',
      help: 'Entities with a live window',
      registers,
      collect() {
        this.set(deps.windows().size);
      },
    });
    new Gauge({
      name: 'autoglm_sense_window_point_bytes',
      help: 'Bytes reserved for window points (typed-array slabs, used or free)',
      registers,
      collect() {
        this.set(deps.windows().pointBytes);
      },
    });
    new Gauge({
      name: 'autoglm_sense_nonfinite_features',
      help: 'Features left out of observations because they were not finite, since the windows were last rebuilt',
      registers,
      collect() {
        this.set(deps.windows().nonFiniteDropped);
      },
    });
  }

  /**
   * Stops handling, for the service's stop: a batch that comes from now on is left uncommitted
   * (the next owner reads it), and a rebuild or restore in flight applies nothing more (its
   * generation is over) instead of emitting from windows it could not finish.
   */
  stop(): void {
    this.stopped = true;
    this.generation++;
  }

  /** Forgets every partition's progress: after a rebalance the windows are rebuilt from scratch. */
  reset(): void {
    this.generation++;
    this.eventsRebuilt = Promise.resolve();
    this.eventsPending = false;
    this.progress.clear();
    this.unsent.clear();
    this.partitionClock.clear();
    this.lastEviction = -Infinity;
    this.lastBaselineEviction = -Infinity;
  }

  /**
   * Rebuilds the events partitions of a new assignment before any of its batches is handled. An
   * events partition is sparse: its next batch may come long after the join, or never, so it
   * cannot wait for one (as a metrics partition does) to seek back and replay; its events of the
   * last windows are read back here, without emitting, before the samples they go with.
   */
  assigned(assignment: Record<string, number[]>): void {
    const partitions = assignment[this.deps.topics.events] ?? [];
    this.join.reset(partitions);
    const generation = this.generation;
    const rebuilt = Promise.all(partitions.map((p) => this.rebuildEvents(p, generation)));
    this.eventsRebuilt = rebuilt.then(() => undefined);
    // Awaited (and its error thrown) by every batch until it has succeeded.
    this.eventsPending = true;
    this.eventsRebuilt.then(
      () => {
        if (generation === this.generation) this.eventsPending = false;
      },
      () => undefined,
    );
  }

  /** Replays events partition `partition` from its rebuild offset up to its committed offset. */
  private async rebuildEvents(partition: number, generation: number): Promise<void> {
    const topic = this.deps.topics.events;
    const key = `${topic}/${partition}`;
    const committed = await this.deps.consumer.committed(topic, partition);
    if (generation !== this.generation) return;
    const rebuildFrom = rebuildOffsetOf(committed.metadata);
    const progress = this.newProgress(topic);
    this.progress.set(key, progress);
    // The group's consumer goes on from the committed offset: it is not sent back.
    progress.begin(committed.offset, rebuildFrom, committed.offset ?? 0);
    if (rebuildFrom === undefined || committed.offset === undefined || rebuildFrom >= committed.offset)
      return;
    const emitFrom = committed.offset;
    const batch = { topic, partition };
    const now = Date.now();
    const out: Outputs = { observations: [], emitters: [], letters: [], checkpoints: [] };
    let newest = -Infinity;
    // Events past the committed offset: the group's consumer brings them, and until it has read
    // them the metrics partition of the same number is held at their time.
    let beyond = false;
    const { complete } = await this.deps.consumer.read(topic, partition, rebuildFrom, (message) => {
      const offset = Number(message.offset);
      if (offset >= emitFrom) beyond = true;
      if (generation !== this.generation || offset >= emitFrom || !progress.shouldApply(offset)) return;
      const ts = this.apply(batch, message, now, true, out) ?? undefined;
      progress.applied(offset, ts);
      if (ts !== undefined && ts > newest) newest = ts;
    });
    if (generation !== this.generation) return;
    if (newest > -Infinity) this.advanceClock(batch, newest);
    this.join.eventsRead(partition, newest, complete && !beyond);
    this.flushTally(topic);
    const log = { topic, partition, from: String(rebuildFrom), emitFrom: String(emitFrom) };
    if (complete) this.deps.logger.info(log, 'events rebuilt from the committed rebuild offset');
    else this.deps.logger.error(log, 'events not fully read back: windows may miss some of them');
  }

  /** The progress of a partition of `topic`: an events partition keeps `eventsReplayMs` for a new owner to replay. */
  private newProgress(topic: string): PartitionProgress {
    const { windowMs, emitEveryMs, eventsReplayMs = 0 } = this.deps.settings;
    const span = rebuildSpanMs(windowMs, emitEveryMs);
    const keep = topic === this.deps.topics.events ? Math.max(span, eventsReplayMs) : span;
    return new PartitionProgress(keep, emitEveryMs);
  }

  /** Handles one batch; resolves once its outputs are acknowledged and its offsets committed. */
  async handle({ batch, isRunning, isStale, heartbeat, resolveOffset }: EachBatchPayload): Promise<void> {
    // Fetched before a seek (the same offsets come again), or after stop (the next owner reads them).
    if (this.stopped || isStale()) return;
    const stop = this.batchSeconds.startTimer();
    const key = `${batch.topic}/${batch.partition}`;
    const started = this.progress.get(key);
    // A partition's first batch of a generation waits for its events, baselines and committed
    // offsets to be read back (seconds, more on a busy machine): heartbeats go on meanwhile, or
    // the group would drop this live member after its session timeout and rebalance in a loop.
    const progress =
      started?.started && !this.eventsPending
        ? started
        : await whileHeartbeating(heartbeat, this.progressOf(batch));
    if (!progress) return; // seeking back to rebuild: this batch comes again from there

    const pending = this.unsent.get(key);
    if (pending) await this.send(key, pending);

    const out: Outputs = { observations: [], emitters: [], letters: [], checkpoints: [] };
    const now = Date.now();
    let newest = -Infinity;
    const isMetrics = batch.topic === this.deps.topics.metrics;
    // Live samples newer than what this partition's events are read to wait for them (EventsJoin).
    const join = isMetrics ? this.join.limit(batch.partition, now) : undefined;
    const limit = join?.limit ?? Infinity;
    let held = false;
    let handled = false;
    // Checked once: the loop is synchronous, so neither can change while it runs (and isStale
    // builds a string key on each call).
    if (isRunning() && !isStale()) {
      handled = true;
      for (const message of batch.messages) {
        const offset = Number(message.offset);
        if (!progress.shouldApply(offset)) {
          this.count('duplicate');
          continue;
        }
        const replay = progress.isReplay(offset);
        const ts = this.apply(batch, message, now, replay, out, replay ? Infinity : limit);
        if (ts === HELD) {
          held = true;
          break;
        }
        progress.applied(offset, ts);
        if (ts !== undefined && ts > newest) newest = ts;
      }
    }
    if (join?.timedOut) this.gaveUpWaiting(batch.partition);
    if (isMetrics && handled) {
      if (held) {
        this.join.held(batch.partition, now);
        this.joinHolds.inc({ result: 'held' });
      } else this.join.released(batch.partition);
    } else if (handled) {
      // Read to the partition's end as of this fetch (control records counted): nothing to wait for.
      this.join.eventsRead(batch.partition, newest, Number(batch.offsetLag()) <= 0);
    }
    if (newest > -Infinity) this.advanceClock(batch, newest);
    this.flushTally(batch.topic);
    const baselines = this.deps.baselines;
    if (baselines !== undefined) {
      out.checkpoints.push(...baselines.store().takeCheckpoints(batch.partition));
      out.checkpoints.push(...this.evictIdleBaselines(baselines));
    }
    await this.send(key, out);
    // Tells kafkajs where this partition's next fetch starts; the commit below makes it durable.
    // Nothing applied in this generation yet (its first sample held): nothing to commit, and a
    // commit of offset 0 would send the next owner back to the partition's start.
    if (progress.nextOffset > 0) {
      resolveOffset(String(progress.nextOffset - 1));
      await this.deps.consumer.commit(
        batch.topic,
        batch.partition,
        progress.nextOffset,
        String(progress.rebuildOffset()),
      );
    }
    this.lag.set({ topic: batch.topic, partition: String(batch.partition) }, Number(batch.offsetLag()));
    this.evictIdle();
    // Fetched again from the held sample: after a pause, so the events partition is read meanwhile.
    if (held) await sleep(HOLD_PAUSE_MS);
    await heartbeat();
    stop();
  }

  /** A hold ran past AUTOGLM_SENSE_EVENTS_WAIT: the samples go on without the events of their time. */
  private gaveUpWaiting(partition: number): void {
    this.joinHolds.inc({ result: 'timed_out' });
    this.deps.logger.warn(
      { partition, waitedMs: this.deps.settings.eventsWaitMs },
      'events partition still read behind its metrics after AUTOGLM_SENSE_EVENTS_WAIT: samples go on without the events of their time',
    );
  }

  private count(result: string): void {
    this.tally.set(result, (this.tally.get(result) ?? 0) + 1);
  }

  private flushTally(topic: string): void {
    for (const [result, n] of this.tally) this.messages.inc({ topic, result }, n);
    this.tally.clear();
  }

  /**
   * Applies one message to the windows; returns its event time when it had a valid one, or HELD
   * (nothing applied) for a sample newer than `limit`, the event time its events are read to.
   */
  private apply(
    batch: Pick<Batch, 'topic' | 'partition'>,
    message: KafkaMessage,
    now: number,
    replay: boolean,
    out: Outputs,
    limit = Infinity,
  ): number | undefined | typeof HELD {
    const { topics, settings } = this.deps;
    const windows = this.deps.windows();
    // A batch no codec could read arrives as one marker: dead-letter its offset range, read on.
    const unreadable = unreadableBatchLetter(batch.topic, batch.partition, message);
    if (unreadable) {
      if (!replay) out.letters.push(unreadable);
      this.count(replay ? 'replayed' : 'refused');
      return undefined;
    }
    if (batch.topic === topics.metrics) {
      const decoded = decodeMessage(
        metricSampleSchema,
        message.value,
        now,
        settings.maxClockSkewMs,
        fastMetricSample,
        fastMetricSampleBytes,
      );
      if (!decoded.ok) return this.refuse(batch, message, replay, out, decoded.refusal);
      const sample = decoded.value;
      if (Math.abs(sample.value) > settings.maxAbsValue) {
        return this.refuse(batch, message, replay, out, {
          reason: 'out_of_range',
          issues: [
            {
              path: 'value',
              message: `|value| must be at most ${settings.maxAbsValue} (AUTOGLM_MAX_ABS_VALUE)`,
            },
          ],
        });
      }
      if (sample.ts > limit) return HELD;
      const outcome = windows.addSample(sample, batch.partition);
      if (outcome.kind === 'refused') {
        return this.refuse(batch, message, replay, out, {
          reason: outcome.reason,
          issues: [{ path: outcome.field, message: outcome.message }],
        });
      }
      if (outcome.kind === 'observation' && !replay) {
        out.observations.push(serialized(outcome.observation));
        out.emitters.push({ topic: batch.topic, partition: batch.partition, message });
      }
      this.count(replay ? 'replayed' : outcome.kind);
      return sample.ts;
    }
    const decoded =
      this.deps.cloudEvents && isCloudEvent(message)
        ? this.deps.cloudEvents.decode(message, now)
        : decodeMessage(eventSchema, message.value, now, settings.maxClockSkewMs);
    if (!decoded.ok) return this.refuse(batch, message, replay, out, decoded.refusal);
    const added = windows.addEvent(decoded.value);
    if (added.kind === 'refused') {
      return this.refuse(batch, message, replay, out, {
        reason: added.reason,
        issues: [{ path: added.field, message: added.message }],
      });
    }
    this.count(replay ? 'replayed' : 'event');
    return decoded.value.ts;
  }

  private refuse(
    batch: Pick<Batch, 'topic' | 'partition'>,
    message: KafkaMessage,
    replay: boolean,
    out: Outputs,
    refusal: Refusal,
  ): undefined {
    if (!replay)
      out.letters.push({ source: { topic: batch.topic, partition: batch.partition, message }, refusal });
    this.count(replay ? 'replayed' : 'refused');
    return undefined;
  }

  /**
   * Sends a batch's outputs; kept for the retry until all are acknowledged. An observation that
   * can never be sent (over the byte limit, or refused by the broker for good) is not retried:
   * the sample that emitted it is dead-lettered instead, so later batches are not held up.
   */
  private async send(key: string, out: Outputs): Promise<void> {
    if (out.observations.length === 0 && out.letters.length === 0 && out.checkpoints.length === 0) return;
    this.unsent.set(key, out);
    const baselines = this.deps.baselines;
    // The changelog records go in the same requests as the observations: fewer round trips.
    const alongside =
      baselines && out.checkpoints.length > 0
        ? { topic: baselines.topic, messages: changelogMessages(out.checkpoints) }
        : undefined;
    if (out.observations.length > 0 || alongside) {
      const unpublished = await publishRecords(
        this.deps.producer,
        this.deps.topics.observations,
        out.observations,
        this.deps.settings.maxObservationBytes,
        alongside,
      );
      for (const u of unpublished) {
        out.letters.push({
          source: out.emitters[u.index]!,
          refusal: {
            reason: u.reason,
            issues: [{ path: '', message: `its observation was not sent: ${u.message}` }],
          },
        });
      }
      this.observationsOut.inc(out.observations.length - unpublished.length);
      out.observations = [];
      out.emitters = [];
      out.checkpoints = [];
    }
    await this.deps.deadLetters.sendAll(out.letters);
    out.letters = [];
    this.unsent.delete(key);
  }

  /** The partition's progress; on its first batch after an assignment, where to rebuild from. */
  private async progressOf(batch: Batch): Promise<PartitionProgress | undefined> {
    const key = `${batch.topic}/${batch.partition}`;
    // A rebalance while this waits (the heartbeat abandons it) starts a new generation: from then on
    // it must change nothing, neither the new generation's progress nor the consumer's position.
    const generation = this.generation;
    // One microtask once resolved; an events batch must not go before the older events replayed.
    await this.eventsRebuilt;
    if (generation !== this.generation) return undefined;
    let progress = this.progress.get(key);
    if (progress?.started) return progress;
    progress = this.newProgress(batch.topic);
    this.progress.set(key, progress);
    if (batch.topic === this.deps.topics.metrics && this.deps.baselines) await this.restore(batch.partition);
    if (generation !== this.generation) return undefined;
    const committed = await this.deps.consumer.committed(batch.topic, batch.partition);
    if (generation !== this.generation) return undefined;
    const rebuildFrom = rebuildOffsetOf(committed.metadata);
    const seekTo = progress.begin(committed.offset, rebuildFrom, Number(batch.firstOffset() ?? 0));
    if (seekTo === undefined) return progress;
    this.deps.logger.info(
      {
        topic: batch.topic,
        partition: batch.partition,
        from: String(seekTo),
        emitFrom: String(committed.offset),
      },
      'rebuilding windows from the committed rebuild offset',
    );
    await this.deps.consumer.seek(batch.topic, batch.partition, seekTo);
    return undefined;
  }

  /** Reads the baselines of a metrics partition back from the changelog before its samples are handled. */
  private async restore(partition: number): Promise<void> {
    const started = Date.now();
    const result = await this.deps.baselines!.restore(partition);
    const log = { partition, ...result, seconds: (Date.now() - started) / 1000 };
    this.baselineRestores.inc({ result: 'restored' }, result.restored);
    this.baselineRestores.inc({ result: 'refused' }, result.refused);
    if (!result.complete) {
      this.baselineRestoreIncomplete.inc();
      this.deps.logger.error(log, 'baseline changelog not fully read back: the rest warm up again');
    } else if (result.refused > 0) this.deps.logger.warn(log, 'baseline changelog records refused');
    else this.deps.logger.info(log, 'baselines restored from the changelog');
  }

  /** Event time of the slowest input partition: a replay of old data on one partition keeps its windows. */
  private clock(): number {
    let slowest = Infinity;
    for (const ts of this.partitionClock.values()) if (ts < slowest) slowest = ts;
    return slowest;
  }

  private advanceClock(batch: Pick<Batch, 'topic' | 'partition'>, ts: number): void {
    const key = `${batch.topic}/${batch.partition}`;
    if (!(ts <= (this.partitionClock.get(key) ?? -Infinity))) this.partitionClock.set(key, ts);
  }

  /**
   * Forgets entities idle for ten windows of event time. The clock is the slowest input
   * partition's newest event time, never the wall clock: replaying old data (on one partition or
   * all) keeps the windows it is rebuilding.
   */
  private evictIdle(): void {
    const idleMs = 10 * this.deps.settings.windowMs;
    const now = this.clock();
    if (!Number.isFinite(now) || now - this.lastEviction < this.deps.settings.windowMs) return;
    this.lastEviction = now;
    this.deps.windows().evictIdle(now, idleMs);
  }

  /** Forgets baselines idle for `idleMs` of event time (same clock); returns their tombstones. */
  private evictIdleBaselines(baselines: SenseBaselines): BaselineCheckpoint[] {
    const now = this.clock();
    if (
      !Number.isFinite(now) ||
      now - this.lastBaselineEviction < Math.max(this.deps.settings.windowMs, baselines.idleMs / 100)
    )
      return [];
    this.lastBaselineEviction = now;
    return baselines.store().evictIdle(now, baselines.idleMs);
  }
}

/** What `apply` returns for a sample held back by the event-time join. */
const HELD = null;

/** An observation as the record that carries it: keyed by its entity, its JSON as the value. */
function serialized(o: Observation): SerializedRecord {
  return { key: Buffer.from(o.entity), value: Buffer.from(JSON.stringify(o)) };
}

/** The changelog records of checkpoints and tombstones, each to the partition its samples come from. */
function changelogMessages(checkpoints: readonly BaselineCheckpoint[]): Message[] {
  return checkpoints.map((c) => ({
    key: baselineKey(c.entity, c.metric),
    value: c.value ?? null,
    partition: c.partition,
  }));
}

/** The rebuild offset committed as metadata; undefined when there is none. */
function rebuildOffsetOf(metadata: string | undefined): number | undefined {
  return metadata && /^\d+$/.test(metadata) ? Number(metadata) : undefined;
}

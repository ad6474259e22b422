import { setTimeout as sleep } from 'node:timers/promises';
import type { EachBatchPayload, Producer } from 'kafkajs';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import {
  decodeMessage,
  fastObservation,
  observationSchema,
  type Decision,
  type Observation,
  type Refusal,
} from '../common/contracts.js';
import type { DeadLetters, RefusedSource } from '../common/dead-letters.js';
import { sendJson, whileHeartbeating } from '../common/kafka.js';
import type { Logger } from '../common/logger.js';
import { unreadableBatchLetter } from '../common/unreadable-batches.js';
import type { Decider } from './decider.js';
import { episodeMessages, type EpisodeRestore } from './episode-changelog.js';
import type { EpisodeChange, EpisodeOutput, EpisodeState } from './episodes.js';
import type { IncidentModel } from './incident-model.js';
import { FreshDecisions } from './fresh-decisions.js';
import { StartSlots } from './start-slots.js';
import { DEFAULT_LANE } from './urgency.js';
import type { RemediationStarter } from './workflow-starter.js';

/** The most recent ids, in arrival order, forgetting the oldest beyond `capacity`. */
class RecentIds {
  private readonly ids = new Set<string>();
  constructor(private readonly capacity: number) {}
  has(id: string): boolean {
    return this.ids.has(id);
  }
  add(id: string): void {
    this.ids.add(id);
    if (this.ids.size > this.capacity) this.ids.delete(this.ids.values().next().value as string);
  }
}

/** What the handler uses of kafkajs' batch payload (tests pass their own). */
export type DecideBatch = Pick<
  EachBatchPayload,
  'batch' | 'resolveOffset' | 'heartbeat' | 'commitOffsetsIfNecessary' | 'isRunning' | 'isStale'
>;

/** The episodes' changelog: its topic, and how to read a partition of it back into the decider's tracker. */
export interface DecideEpisodes {
  readonly topic: string;
  /** Reads changelog partition `partition` into the tracker; tombstones of keys evicted meanwhile go to `out`. */
  readonly restore: (partition: number, out: EpisodeOutput) => Promise<EpisodeRestore>;
}

/** Adds `d` to its entity's chain of starts. */
function chainOf(chains: Map<string, Decision[]>, d: Decision): void {
  const chain = chains.get(d.entity);
  if (chain) chain.push(d);
  else chains.set(d.entity, [d]);
}

/** Delay before retrying a failed start: doubling from 500 ms up to 5 s. */
const retryDelay = (attempt: number) => Math.min(5_000, 500 * 2 ** attempt);

/**
 * Kafka edge of the decide step, a batch at a time: every observation decided, every new decision
 * published to the audit topic and every refused input or failing rule dead-lettered (together, one
 * produce each), then the enforced decisions started, concurrently across entities and in order
 * within one, then the batch's offset committed. Nothing is committed before its output is durable,
 * so a crash replays the batch: decision ids are deterministic and starts idempotent. A start that
 * fails (Temporal unreachable) is retried in place with the group heartbeat kept, counted, and a
 * run of failures turns readiness false; its decision is published once. Rules with episodes: the
 * batch's episode states go to the compacted changelog with the decisions (before the commit), and
 * a partition's episodes are read back from it before its first batch after an assignment.
 */
export class DecideHandler {
  private readonly decisions: Counter<'rule' | 'mode' | 'result'>;
  private readonly observations: Counter<'result'>;
  private readonly ruleErrors: Counter<'rule'>;
  private readonly startFailures: Counter;
  private readonly batchSeconds: Histogram;
  private readonly episodeMatches: Counter<'rule' | 'result'>;
  private readonly episodesEnded: Counter<'rule' | 'reason'>;
  private readonly episodeSeconds: Histogram<'rule'>;
  private readonly episodeRestores: Counter<'result'>;
  /** Partitions whose episodes were read back in this consumer generation. */
  private readonly restored = new Set<number>();
  private readonly published = new RecentIds(50_000);
  /** Enforced decisions published fresh lately, by this process or (read back) another. */
  private readonly fresh: FreshDecisions;
  /** The read-back of fresh decisions in this consumer generation, once a replay needs it. */
  private readBack: Promise<void> | undefined;
  private readonly lastRuleErrorLog = new Map<string, number>();
  private failedStartsInARow = 0;
  /** Start concurrency, shared by lane across batches (set in the constructor). */
  private readonly slots: StartSlots;

  constructor(
    private readonly deps: {
      decider: Decider;
      /** The incident classifier; absent when decide runs rules-only. */
      classifier?: Pick<IncidentModel, 'classify' | 'expectVerdict'>;
      starter: Pick<RemediationStarter, 'start'>;
      producer: Producer;
      decisionsTopic: string;
      deadLetters: DeadLetters;
      maxClockSkewMs: number;
      /** Failed starts in a row after which readiness turns false. */
      maxStartFailures: number;
      /** Workflow starts in flight at once (each entity's decisions still start in order). */
      startConcurrency: number;
      /** The episodes' changelog; absent: episodes live in memory only (tests). */
      episodes?: DecideEpisodes;
      /**
       * Reads back the enforced decisions published fresh within `lookbackMs` (fresh-decisions.ts),
       * by any process; absent: only this process's own of the last hour are known (tests).
       */
      freshDecisions?: {
        lookbackMs: number;
        read: () => Promise<{
          decisions: ReadonlyArray<{ id: string; at: number }>;
          messages: number;
          complete: boolean;
        }>;
      };
      logger: Logger;
      registry: Registry;
    },
  ) {
    this.slots = new StartSlots(deps.startConcurrency);
    this.fresh = new FreshDecisions(deps.freshDecisions?.lookbackMs ?? 3_600_000);
    const registers = [deps.registry];
    this.startFailures = new Counter({
      name: 'autoglm_decide_start_failures_total',
      help: 'Workflow starts that failed (Temporal unreachable or too slow); each is retried',
      registers,
    });
    this.decisions = new Counter({
      name: 'autoglm_decide_decisions_total',
      help: 'Decisions by rule, mode and result (started, duplicate, shadow, stale, suppressed)',
      labelNames: ['rule', 'mode', 'result'],
      registers,
    });
    this.observations = new Counter({
      name: 'autoglm_decide_observations_total',
      help: 'Observations by result (decided, refused)',
      labelNames: ['result'],
      registers,
    });
    this.ruleErrors = new Counter({
      name: 'autoglm_decide_rule_errors_total',
      help: 'Rule evaluations that threw, by rule; the observation is dead-lettered for that rule and the other rules decide',
      labelNames: ['rule'],
      registers,
    });
    this.episodeMatches = new Counter({
      name: 'autoglm_decide_episode_matches_total',
      help: 'Matches of rules with episodes that decided nothing: pending (for not reached), episode (decided already), late (replayed or out of order)',
      labelNames: ['rule', 'result'],
      registers,
    });
    this.episodesEnded = new Counter({
      name: 'autoglm_decide_episodes_ended_total',
      help: 'Episodes that decided and then ended, by rule and reason (resolved, idle, evicted)',
      labelNames: ['rule', 'reason'],
      registers,
    });
    this.episodeSeconds = new Histogram({
      name: 'autoglm_decide_episode_seconds',
      help: 'Event time from an ended episode’s first matching window to its end',
      labelNames: ['rule'],
      buckets: [30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 24 * 3600],
      registers,
    });
    const episodes = deps.decider.episodes;
    new Gauge({
      name: 'autoglm_decide_episodes_tracked',
      help: 'Episodes (entity, rule) decide keeps in memory; at most AUTOGLM_EPISODE_MAX_TRACKED',
      registers,
      collect() {
        this.set(episodes.size);
      },
    });
    this.episodeRestores = new Counter({
      name: 'autoglm_decide_episode_restored_total',
      help: 'Episode changelog records read back (restored) or refused; incomplete: partitions not read in full',
      labelNames: ['result'],
      registers,
    });
    this.batchSeconds = new Histogram({
      name: 'autoglm_decide_batch_seconds',
      help: 'Time to handle one Kafka batch: decide, publish, start, commit',
      buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
  }

  async handleBatch(payload: DecideBatch): Promise<void> {
    const { batch } = payload;
    const last = batch.messages.at(-1);
    if (!last) return;
    const timer = this.batchSeconds.startTimer();
    const now = Date.now();
    const letters: Array<{ source: RefusedSource; refusal: Refusal }> = [];
    const toPublish: Decision[] = [];
    const chains = new Map<string, Decision[]>();
    const episodeChanges: EpisodeChange[] = [];
    // Heartbeats go on while the changelog is read back, or the group drops this live member after
    // its session timeout (10 s); a rebalance meanwhile is thrown once the restore is done.
    if (this.deps.episodes && !this.restored.has(batch.partition))
      await whileHeartbeating(payload.heartbeat, this.restore(batch.partition, episodeChanges), {
        abandon: false,
      });
    // Decode the batch, then classify its observations in one call, then decide each.
    const decoded: Array<{ source: RefusedSource; obs: Observation }> = [];
    for (const message of batch.messages) {
      const source = { topic: batch.topic, partition: batch.partition, message };
      // A batch no codec could read arrives as one marker: dead-letter its offset range, read on.
      const unreadable = unreadableBatchLetter(batch.topic, batch.partition, message);
      if (unreadable) {
        letters.push(unreadable);
        continue;
      }
      const result = decodeMessage(
        observationSchema,
        message.value,
        now,
        this.deps.maxClockSkewMs,
        fastObservation,
      );
      if (result.ok) decoded.push({ source, obs: result.value });
      else letters.push({ source, refusal: result.refusal });
    }
    const decided = decoded.length;
    const incidents = this.deps.classifier
      ? await this.deps.classifier.classify(decoded.map((d) => d.obs))
      : undefined;
    for (let i = 0; i < decoded.length; i++) {
      const { source, obs } = decoded[i]!;
      const maybe = this.deps.decider.decide(obs, now, incidents?.[i] ?? null, batch.partition);
      const { decisions, replayed, suppressed, failures, held, ...episodes } =
        maybe instanceof Promise ? await maybe : maybe;
      for (const h of held) this.episodeMatches.inc({ rule: h.rule, result: h.reason });
      for (const c of episodes.episodeChanges) episodeChanges.push(c);
      for (const e of episodes.episodesEnded) this.episodeEnded(e);
      for (const f of failures) letters.push({ source, refusal: this.ruleFailed(f.rule, f.message) });
      for (const s of suppressed) this.decisions.inc({ rule: s.rule, mode: 'enforce', result: 'suppressed' });
      for (const d of replayed) {
        if (await this.publishedFresh(d.decisionId, payload)) this.startAgain(d, chains);
        else this.episodeMatches.inc({ rule: d.rule, result: 'late' }); // published too long ago
      }
      for (const d of decisions) {
        if (d.mode === 'enforce' && d.stale && (await this.publishedFresh(d.decisionId, payload))) {
          this.startAgain(d, chains);
          continue;
        }
        if (!this.published.has(d.decisionId)) toPublish.push(d);
        if (d.mode === 'shadow') this.decisions.inc({ rule: d.rule, mode: d.mode, result: 'shadow' });
        else if (d.stale) {
          // A backlog, an offset reset or a replay: record what would have been done, act on nothing.
          this.decisions.inc({ rule: d.rule, mode: d.mode, result: 'stale' });
          this.deps.logger.info(
            { entity: d.entity, rule: d.rule, windowEnd: d.window.end },
            'stale decision published for the audit only',
          );
        } else {
          // Its verdict will confirm or refute the class the model gave (live AUC).
          if (d.incident?.probabilities) this.deps.classifier?.expectVerdict(d.decisionId, d.incident);
          chainOf(chains, d);
        }
      }
    }
    this.observations.inc({ result: 'decided' }, decided);
    if (decided < batch.messages.length)
      this.observations.inc({ result: 'refused' }, batch.messages.length - decided);
    await Promise.all([
      sendJson(
        this.deps.producer,
        this.deps.decisionsTopic,
        toPublish.map((d) => ({ key: d.entity, value: d })),
      ),
      this.deps.deadLetters.sendAll(letters),
      this.deps.episodes && episodeChanges.length > 0
        ? this.deps.producer.send({
            topic: this.deps.episodes.topic,
            messages: episodeMessages(episodeChanges),
          })
        : undefined,
    ]);
    for (const d of toPublish) {
      this.published.add(d.decisionId);
      if (d.mode === 'enforce' && !d.stale) this.fresh.add(d.decisionId, now);
    }
    await this.startAll([...chains.values()], payload);
    payload.resolveOffset(last.offset);
    await payload.commitOffsetsIfNecessary({
      topics: [
        {
          topic: batch.topic,
          partitions: [{ partition: batch.partition, offset: (BigInt(last.offset) + 1n).toString() }],
        },
      ],
    });
    timer();
  }

  /** A new consumer generation: episodes are read back from the changelog, partition by partition. */
  reset(): void {
    this.restored.clear();
    this.readBack = undefined;
    this.deps.decider.episodes.clear();
  }

  /** Reads a partition's episodes back before its first batch; tombstones of keys evicted meanwhile go to `changes`. */
  private async restore(partition: number, changes: EpisodeChange[]): Promise<void> {
    const out: EpisodeOutput = { changes, ended: [] };
    const result = await this.deps.episodes!.restore(partition, out);
    this.restored.add(partition);
    for (const e of out.ended) this.episodeEnded(e);
    this.episodeRestores.inc({ result: 'restored' }, result.restored);
    this.episodeRestores.inc({ result: 'refused' }, result.refused);
    const log = { partition, ...result, reasons: result.reasons };
    if (!result.complete) {
      this.episodeRestores.inc({ result: 'incomplete' });
      this.deps.logger.error(log, 'episode changelog not fully read back: its episodes start again');
    } else if (result.refused > 0) this.deps.logger.warn(log, 'episode changelog records refused');
    else this.deps.logger.info(log, 'episodes restored from the changelog');
  }

  /**
   * A decision published fresh before (by this process, or another: read back from the decisions
   * topic once per consumer generation, when a replay first needs it), now re-decided stale.
   */
  private async publishedFresh(decisionId: string, payload: DecideBatch): Promise<boolean> {
    if (this.fresh.has(decisionId) || !this.deps.freshDecisions) return this.fresh.has(decisionId);
    let read = this.readBack;
    if (!read) {
      read = this.deps.freshDecisions.read().then(
        ({ decisions, messages, complete }) => {
          for (const d of decisions) this.fresh.add(d.id, d.at);
          const log = { messages, complete };
          if (complete) this.deps.logger.info(log, 'fresh decisions read back for a replay');
          else this.deps.logger.warn(log, 'fresh decisions not fully read back: a replay may miss some');
        },
        (err: unknown) => {
          // Tried again at the next stale decision; meanwhile it is taken as never published fresh.
          this.readBack = undefined;
          this.deps.logger.warn({ err }, 'cannot read back the fresh decisions for a replay');
        },
      );
      this.readBack = read;
    }
    await whileHeartbeating(payload.heartbeat, read, { abandon: false });
    return this.fresh.has(decisionId);
  }

  /**
   * A decision published fresh, replayed after a crash or a rebalance and stale now: its workflow
   * may never have started. It is started again (not published again): a workflow already there
   * stays the only one, and one that never started ends `stale` at once with its verdict, which
   * lifts its cooldown and opens its episode again (episode-stale-ends.ts).
   */
  private startAgain(d: Decision, chains: Map<string, Decision[]>): void {
    this.deps.logger.info(
      { entity: d.entity, rule: d.rule, decisionId: d.decisionId, windowEnd: d.window.end },
      'decision published fresh before, stale on replay: starting it again so it gets its verdict',
    );
    chainOf(chains, d);
  }

  /** Counts and logs an episode that decided and is now over (its record stays in the changelog). */
  private episodeEnded(e: EpisodeState): void {
    const reason = e.endReason ?? 'resolved';
    this.episodesEnded.inc({ rule: e.rule, reason });
    const end = e.end ?? e.lastSeen;
    this.episodeSeconds.observe({ rule: e.rule }, Math.max(0, end - e.startWindow.start) / 1000);
    this.deps.logger.info(
      {
        entity: e.entity,
        rule: e.rule,
        start: e.startWindow.start,
        decided: e.decidedWindow?.end,
        end,
        reason,
      },
      'episode ended',
    );
  }

  /** False after `maxStartFailures` failed starts in a row: `/readyz` says decide cannot act. */
  startsHealthy(): boolean {
    return this.failedStartsInARow < this.deps.maxStartFailures;
  }

  /**
   * Starts every chain, the most urgent chains first (a chain goes at its most urgent decision's
   * lane), each chain in order, within the start slots shared by lane (`StartSlots`).
   */
  private async startAll(chains: Decision[][], payload: DecideBatch): Promise<void> {
    const laneOf = (chain: Decision[]) => Math.min(...chain.map((d) => d.priority?.lane ?? DEFAULT_LANE));
    const ordered = chains.map((chain) => ({ chain, lane: laneOf(chain) })).sort((a, b) => a.lane - b.lane);
    const results = await Promise.allSettled(
      ordered.map(async ({ chain, lane }) => {
        for (const d of chain) {
          const release = await this.slots.acquire(lane);
          try {
            await this.startOne(d, payload);
          } finally {
            release();
          }
          // A storm's batch can take longer than the session timeout: stay in the group meanwhile
          // (kafkajs sends at most one heartbeat per heartbeatInterval).
          await payload.heartbeat();
        }
      }),
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /**
   * Starts one decision's workflow, retrying while this consumer still owns the partition: a
   * failure is counted, readiness turns false after a run of them, and the group heartbeat is kept
   * while waiting. Stopping or a rebalance ends the wait; the uncommitted batch goes to the next owner.
   */
  private async startOne(decision: Decision, payload: DecideBatch): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        const { workflowId, started } = await this.deps.starter.start(decision);
        this.failedStartsInARow = 0;
        this.decisions.inc({
          rule: decision.rule,
          mode: decision.mode,
          result: started ? 'started' : 'duplicate',
        });
        this.deps.logger.info(
          { entity: decision.entity, rule: decision.rule, action: decision.action, workflowId, started },
          started ? 'remediation started' : 'remediation already exists for this decision',
        );
        return;
      } catch (err) {
        this.startFailures.inc();
        this.failedStartsInARow++;
        this.deps.logger.warn(
          { err, entity: decision.entity, decisionId: decision.decisionId, inARow: this.failedStartsInARow },
          'workflow start failed; retrying',
        );
        if (!payload.isRunning() || payload.isStale()) throw err;
        await sleep(retryDelay(attempt));
        await payload.heartbeat();
        if (!payload.isRunning() || payload.isStale()) throw err;
      }
    }
  }

  /** Counts a rule that threw on an observation and logs it at most once a minute per rule. */
  private ruleFailed(rule: string, message: string): Refusal {
    this.ruleErrors.inc({ rule });
    const now = Date.now();
    if (now - (this.lastRuleErrorLog.get(rule) ?? -Infinity) >= 60_000) {
      this.lastRuleErrorLog.set(rule, now);
      this.deps.logger.error(
        { rule, error: message },
        'rule failed to evaluate; the other rules decided as usual',
      );
    }
    return { reason: 'rule_error', issues: [{ path: `rule:${rule}`, message }] };
  }
}

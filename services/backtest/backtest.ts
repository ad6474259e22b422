import type { IncidentFact } from '../classifier/model-types.js';
import type { Config } from '../common/config.js';
import type { Decision, MetricSample, Observation, OpsEvent } from '../common/contracts.js';
import { Decider } from '../decide/decider.js';
import { EpisodeTracker, type EpisodeOutput } from '../decide/episodes.js';
import type { RuleSet } from '../decide/rule-set.js';
import { BaselineStore } from '../sense/baseline.js';
import { baselineOptionsOf, windowOptionsOf } from '../sense/sense-options.js';
import { EntityWindows } from '../sense/windows.js';
import { Inert } from './inert.js';

/** The settings a backtest reads: the services' own, from the same environment variables. */
export type BacktestConfig = Pick<
  Config,
  | 'window'
  | 'emitEvery'
  | 'maxMetricsPerEntity'
  | 'maxEntities'
  | 'maxAbsValue'
  | 'maxDecisionAge'
  | 'baseline'
  | 'baselineHalfLife'
  | 'baselineWarmupSamples'
  | 'baselineLearn'
  | 'baselineAdaptAfter'
  | 'baselineFreezeDeviation'
  | 'baselineAnomalyDeviation'
  | 'baselineSeasonality'
  | 'baselineMaxStates'
  | 'baselineIdle'
  | 'episodeMaxTracked'
  | 'episodeIdle'
>;

/** What the backtest needs of the classifier (IncidentClassifier, or a test's own). */
export interface BacktestClassifier {
  classify(observations: readonly Observation[]): Promise<ReadonlyArray<IncidentFact | null>>;
}

/** A decision as the backtest reports it: the decision decide would have published. */
export type BacktestDecision = Pick<Decision, (typeof REPORTED)[number]>;

/** The fields of a decision the backtest reports, in this order. */
const REPORTED = [
  'decisionId',
  'entity',
  'rule',
  'action',
  'mode',
  'approval',
  'cooldown',
  'verify',
  'window',
  'ts',
] as const satisfies ReadonlyArray<keyof Decision>;

/** What the backtest reports of a decision decide would have published. */
function reported(d: Decision): BacktestDecision {
  return Object.fromEntries(REPORTED.map((k) => [k, d[k]])) as BacktestDecision;
}

/** Everything one replay gave. */
export interface BacktestRun {
  /** In the order decide would have published them (event time). */
  readonly decisions: BacktestDecision[];
  readonly samples: number;
  readonly events: number;
  readonly observations: number;
  /** Samples and events sense would have refused (dead-lettered), by reason. */
  readonly refused: Record<string, number>;
  /** Samples older than their entity's window reach: sense changes nothing for them. */
  readonly late: number;
  /** Matches held back by decide's cooldown gate, by rule. */
  readonly suppressed: Record<string, number>;
  /** Rule evaluations that threw, by rule (decide dead-letters those). */
  readonly ruleFailures: Record<string, number>;
  /** Decisions decide would have marked stale: none on event time (see runBacktest). */
  readonly stale: number;
  readonly elapsedMs: number;
}

/** Observations classified and decided at once (the decide handler classifies a batch per call). */
const BATCH = 512;

/**
 * An observation waiting in a replay's queue (see replay): built, with whether the classifier is
 * asked and its sample's index; or cleared, kept as its entity and window.
 */
type Waiting =
  | { readonly obs: Observation; readonly ask: boolean; readonly at: number }
  | { readonly obs: undefined; readonly entity: string; readonly window: Observation['window'] };

/** The skip's checks of a rule set (see Inert): the rules, their bound and the readers' bound. */
interface Skips {
  readonly inert: Inert;
  readonly bound: Inert | undefined;
  readonly readers: Inert | undefined;
}

/**
 * Each rule set's Skips, compiled once (about 5 ms, and each kind of observation's rules on first
 * sight) like the rule set itself, rather than once per replay. Shared by replays of the same set:
 * an Inert answers from the observation alone (its scratch is used synchronously, within a test).
 */
const skips = new WeakMap<RuleSet, Skips>();

function skipsOf(ruleSet: RuleSet): Skips {
  let s = skips.get(ruleSet);
  if (s === undefined) {
    s = {
      inert: new Inert(ruleSet),
      bound: Inert.beyondClassifier(ruleSet),
      readers: Inert.beyondClassifier(ruleSet, { onlyReaders: true }),
    };
    skips.set(ruleSet, s);
  }
  return s;
}

/**
 * Replays samples and events (each in time order) through the services' own pure cores, on event
 * time: sense's windows and baselines (EntityWindows, BaselineStore, built from the same settings
 * as the sense service), the classifier when given (batched as decide does), and decide's Decider
 * (compiled rules, json-rules-engine fallback, its cooldown gate). Each observation is decided with
 * "now" = its window's end, so no decision is stale: a replay judges the rules, not the delivery.
 * Nothing is started, published or actuated. Events go before samples of the same time. The live
 * edge's refusal of times ahead of the wall clock is left out (a recording is in the past); its
 * |value| limit (AUTOGLM_MAX_ABS_VALUE) and the windows' limits refuse as live, counted by reason.
 */
export async function runBacktest(
  input: { readonly samples: readonly MetricSample[]; readonly events: readonly OpsEvent[] },
  opts: BacktestOptions,
): Promise<BacktestRun> {
  return (await replay(input.samples, undefined, input.events, opts)).run;
}

/** What runBacktest takes besides the recording. */
export interface BacktestOptions {
  readonly config: BacktestConfig;
  readonly ruleSet: RuleSet;
  readonly classifier?: BacktestClassifier;
  /** Called now and then with the samples replayed so far. */
  readonly onProgress?: (done: number, total: number) => void;
}

/**
 * One shard's replay (shards.ts): the recording's samples of its entities (`own.samples`, in
 * order) and their indices in the whole recording (`own.index`), every sample's time (`times`, the
 * eviction clock all shards keep alike) and its entities' events. `decisionAt[k]` is the index of
 * the sample whose observation made `run.decisions[k]`; `firstAt` the position where each key of
 * the counters first counted (a sample's index; an event's just before the sample it goes before).
 */
export interface ShardRun {
  readonly run: BacktestRun;
  readonly decisionAt: number[];
  readonly firstAt: {
    readonly refused: Record<string, number>;
    readonly suppressed: Record<string, number>;
    readonly ruleFailures: Record<string, number>;
  };
}

/** runBacktest of one shard (see ShardRun). */
export function runBacktestShard(
  own: { readonly samples: readonly MetricSample[]; readonly index: Int32Array },
  times: Float64Array,
  events: readonly OpsEvent[],
  opts: BacktestOptions,
): Promise<ShardRun> {
  if (own.samples.length !== own.index.length)
    throw new RangeError(
      `a shard's samples (${own.samples.length}) and their indices (${own.index.length}) differ`,
    );
  return replay(own.samples, { index: own.index, times }, events, opts);
}

/** `shard`: the samples are one shard's (see runBacktestShard); otherwise the whole recording. */
async function replay(
  samples: readonly MetricSample[],
  shard: { readonly index: Int32Array; readonly times: Float64Array } | undefined,
  events: readonly OpsEvent[],
  opts: BacktestOptions,
): Promise<ShardRun> {
  const started = performance.now();
  const { config } = opts;
  const store = new BaselineStore(baselineOptionsOf(config as Config));
  const windows = new EntityWindows(windowOptionsOf(config as Config, store));
  const decider = new Decider(opts.ruleSet, {
    maxDecisionAgeMs: config.maxDecisionAge,
    episodes: new EpisodeTracker({ maxTracked: config.episodeMaxTracked, idleMs: config.episodeIdle }),
  });
  // The Decider is skipped only where it would decide nothing (see `inert`); the episodes of the
  // rules that keep them still see the observation as a non-match, as Decider.stepEpisodes does.
  const episodic = opts.ruleSet.rules.flatMap((r) => {
    const spec = decider.episodeSpec(r);
    return spec === null ? [] : [{ name: r.name, spec }];
  });
  const episodeSink: EpisodeOutput = { changes: [], ended: [] };
  const { inert, bound, readers } = skipsOf(decider.ruleSet);
  const decisions: BacktestDecision[] = [];
  const decisionAt: number[] = [];
  const refused: Record<string, number> = {};
  const suppressed: Record<string, number> = {};
  const ruleFailures: Record<string, number> = {};
  const firstAt = { refused: {}, suppressed: {}, ruleFailures: {} } as ShardRun['firstAt'];
  let late = 0;
  let observations = 0;
  let stale = 0;
  /**
   * Observations waiting for the classifier's batch, in order with those after them (decided in
   * order: `queue`); those cleared without it wait as their entity and window only.
   */
  let queue: Waiting[] = [];
  const count = (counts: Record<string, number>, first: Record<string, number>, key: string, at: number) => {
    const n = counts[key];
    if (n === undefined) {
      counts[key] = 1;
      first[key] = at;
    } else counts[key] = n + 1;
  };
  const refuse = (reason: string, at: number) => count(refused, firstAt.refused, reason, at);

  const classifier = opts.classifier;
  /**
   * Whether the Decider would decide nothing on `obs` whatever the classifier answers (or, with
   * none, with no answer): its episodes then only step. Before the classifier runs, as decide's
   * answers change nothing there. `testUnclassified` and the classifier's bound are unusable when
   * a rule reads the whole `incident` fact (see canClearUnclassified). Every observation here
   * comes from the windows, whose features are plain (Inert.test's `sensed`).
   */
  const clearedBefore = (obs: Observation): boolean =>
    classifier === undefined
      ? inert.test(obs, null, true)
      : inert.canClearUnclassified &&
        (bound?.test(obs, null, true) === true || inert.testUnclassified(obs, true));
  /**
   * Whether the classifier's answer for `obs` (not cleared before it) could change what the rules
   * match or fail: the rules that read it (`readers`) could match or fail on it. Those that need no
   * answer are decided without one: the same decisions (see boundBeyondClassifier's onlyReaders).
   */
  const asks = (obs: Observation): boolean =>
    classifier !== undefined && (!inert.canClearUnclassified || readers?.test(obs, null, true) !== true);
  /** A non-match of every episodic rule (as Decider.stepEpisodes steps them): what a skipped observation changes. */
  const unmatched = (entity: string, window: Observation['window']) => {
    decider.episodes.observeUnmatched(entity, window, episodic, 0, episodeSink);
    // Emptied only when written (setting an array's length costs a call even when it is 0).
    if (episodeSink.changes.length > 0) episodeSink.changes.length = 0;
    if (episodeSink.ended.length > 0) episodeSink.ended.length = 0;
  };
  /** Decides `obs` (of the sample at `at`) with the classifier's answer; a promise only when the Decider gave one. */
  const decideOne = (
    obs: Observation,
    incident: IncidentFact | null,
    at: number,
  ): Promise<void> | undefined => {
    if (inert.test(obs, incident, true)) {
      unmatched(obs.entity, obs.window);
      return undefined;
    }
    // The facts the skip check read (inert: the whole rule set's) are the ones the rules need.
    const maybe = decider.decide(obs, obs.window.end, incident, 0, inert.checkedValues);
    if (maybe instanceof Promise) return maybe.then((d) => record(d, at));
    record(maybe, at);
    return undefined;
  };
  const record = (decided: Awaited<ReturnType<Decider['decide']>>, at: number) => {
    for (const f of decided.failures) count(ruleFailures, firstAt.ruleFailures, f.rule, at);
    for (const s of decided.suppressed) count(suppressed, firstAt.suppressed, s.rule, at);
    for (const d of decided.decisions) {
      if (d.stale) stale++;
      decisionAt.push(at);
      decisions.push(reported(d));
    }
  };

  /** The queue decided in order, the classifier asked once for those that need its answer. */
  const flush = async () => {
    if (queue.length === 0) return;
    const batch = queue;
    queue = [];
    const asked: Observation[] = [];
    for (const w of batch) if (w.obs !== undefined && w.ask) asked.push(w.obs);
    const answers = asked.length > 0 ? await (classifier as BacktestClassifier).classify(asked) : [];
    let k = 0;
    for (const w of batch) {
      if (w.obs === undefined) unmatched(w.entity, w.window);
      else {
        const decided = decideOne(w.obs, w.ask ? (answers[k++] ?? null) : null, w.at);
        if (decided !== undefined) await decided;
      }
    }
  };

  /**
   * The observation of the sample at `i`, unbuilt (see EntityWindows.addSampleUnbuilt): most are
   * cleared from a view of it, and only the others are built. Decided at once unless observations
   * wait for the classifier's batch (then after them: in order) or this one needs its answer.
   */
  const observed = (i: number): Promise<void> | undefined => {
    const view = windows.view();
    const built = view === undefined ? windows.build() : undefined;
    const shown = (view ?? built) as Observation;
    if (clearedBefore(shown)) {
      // A copy: the view's window is rewritten by the next one.
      const window = { start: shown.window.start, end: shown.window.end };
      if (queue.length === 0) unmatched(shown.entity, window);
      else queue.push({ obs: undefined, entity: shown.entity, window });
      return undefined;
    }
    const obs = built ?? windows.build();
    const ask = asks(obs);
    if (!ask && queue.length === 0) return decideOne(obs, null, i);
    queue.push({ obs, ask, at: i });
    return queue.length >= BATCH ? flush() : undefined;
  };

  // Eviction as the sense service does it, on the newest event time: idle windows after ten
  // window lengths, idle baselines after AUTOGLM_BASELINE_IDLE.
  // The settings read once, not per sample.
  const windowMs = config.window;
  const baselines = config.baseline === 'on';
  const baselineEvery = Math.max(config.window, config.baselineIdle / 100);
  const baselineIdle = config.baselineIdle;
  const maxAbsValue = config.maxAbsValue;
  let lastEviction = -Infinity;
  let lastBaselineEviction = -Infinity;
  const evict = (now: number) => {
    if (now - lastEviction >= windowMs) {
      lastEviction = now;
      windows.evictIdle(now, 10 * windowMs);
    }
    if (baselines && now - lastBaselineEviction >= baselineEvery) {
      lastBaselineEviction = now;
      store.evictIdle(now, baselineIdle);
    }
  };

  // A shard steps every sample's time, another shard's too (`times`), and handles its own samples
  // at their indices: `next` is the index of its next one (the whole replay: every index).
  const n = shard ? shard.times.length : samples.length;
  const times = shard?.times;
  const index = shard?.index;
  let k = 0;
  let next = index ? (index.length > 0 ? index[0]! : -1) : 0;
  let e = 0;
  for (let i = 0; i < n; i++) {
    let sample: MetricSample | undefined;
    if (i === next) {
      sample = samples[k++] as MetricSample;
      next = index ? (k < index.length ? index[k]! : -1) : k;
    }
    const ts = sample !== undefined ? sample.ts : (times as Float64Array)[i]!;
    while (e < events.length && (events[e] as OpsEvent).ts <= ts) {
      const added = windows.addEvent(events[e++] as OpsEvent);
      if (added.kind === 'refused') refuse(added.reason, i - 0.5);
    }
    if (sample !== undefined) {
      if (Math.abs(sample.value) > maxAbsValue) refuse('out_of_range', i);
      else {
        const outcome = windows.addSampleUnbuilt(sample, 0);
        if (outcome.kind === 'unbuilt') {
          observations++;
          const waiting = observed(i);
          if (waiting !== undefined) await waiting;
        } else if (outcome.kind === 'late') late++;
        else if (outcome.kind === 'refused') refuse(outcome.reason, i);
      }
    }
    evict(ts);
    if (opts.onProgress && (i & 0xffff) === 0xffff) opts.onProgress(i + 1, n);
  }
  for (; e < events.length; e++) {
    const added = windows.addEvent(events[e] as OpsEvent);
    if (added.kind === 'refused') refuse(added.reason, n + e);
  }
  await flush();
  const run: BacktestRun = {
    decisions,
    samples: n,
    events: events.length,
    observations,
    refused,
    late,
    suppressed,
    ruleFailures,
    stale,
    elapsedMs: performance.now() - started,
  };
  return { run, decisionAt, firstAt };
}

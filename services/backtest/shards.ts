import { Worker } from 'node:worker_threads';
import type { Config } from '../common/config.js';
import type { MetricSample, OpsEvent } from '../common/contracts.js';
import { episodeSpecOf } from '../decide/episodes.js';
import type { RuleSet } from '../decide/rule-set.js';
import {
  runBacktestShard,
  type BacktestClassifier,
  type BacktestDecision,
  type BacktestRun,
  type ShardRun,
} from './backtest.js';
import { loadBacktestClassifier } from './run.js';
import type { ShardJob, ShardSetup } from './shard-worker.js';

/**
 * A replay split by entity across worker threads, each running runBacktest's own loop
 * (runBacktestShard) on the samples and events of its entities, then merged into the BacktestRun
 * the whole replay gives. Why it is the same: sense's windows and baselines, the classifier and the
 * Decider's rules, cooldowns and episodes hold per entity (per entity and metric, per entity and
 * rule); what they share across entities is kept alike or ruled out before splitting:
 * - eviction runs on the newest event time: every shard steps the same clock (every sample's time,
 *   its own or not), so it evicts at the same moments, and each entity's eviction depends on its own
 *   state only;
 * - the limits on entities (AUTOGLM_MAX_ENTITIES), baseline states (AUTOGLM_BASELINE_MAX_STATES)
 *   and episode keys (AUTOGLM_EPISODE_MAX_TRACKED) are shared: splitWhy refuses a recording that
 *   could reach one (a split replay would then differ);
 * - episodes and cooldowns forget idle keys on the newest time seen, which a shard sees only of its
 *   entities: with samples in time order a key forgotten there would be found idle at its next
 *   observation anyway (its time is past that newest), so the replay must be in time order, and
 *   its events too (an event waits for the samples before it, whoever's they are);
 * - decisions come back in the whole replay's order (by the sample that made each observation,
 *   then as decided), and the counters' keys in the order they first counted.
 * The classifier answers each observation on its own; its batches differ by shard as decide's own
 * batches differ from the replay's (they follow Kafka's fetches), which the backtest-live test
 * holds to the same decisions.
 */
export class BacktestShards {
  private next = 0;

  private constructor(
    private readonly workers: readonly Worker[],
    /** The rule set's hash each shard loaded: a run must bring the same set. */
    readonly ruleSetHash: string,
    /** The classifier the calling thread's shard replays with. */
    private readonly classifier: BacktestClassifier | undefined,
  ) {}

  /**
   * Readies `shards` shards: the calling thread's and `shards - 1` workers, each loading `rulesDir`
   * and the classifier of `modelDir` ('off': none) with `config`, as loadBacktestRules and
   * loadBacktestClassifier do (`classifier`: modelDir's already loaded, for the calling thread's
   * shard; loaded here when not given). Throws what a shard threw.
   */
  static async start(opts: {
    readonly rulesDir: string;
    readonly modelDir: string;
    readonly config: Config;
    readonly shards: number;
    readonly classifier?: BacktestClassifier | undefined;
  }): Promise<BacktestShards> {
    if (!Number.isInteger(opts.shards) || opts.shards < 2)
      throw new RangeError(`shards must be an integer of at least 2, got ${opts.shards}`);
    const setup: ShardSetup = { rulesDir: opts.rulesDir, modelDir: opts.modelDir, config: opts.config };
    const workers: Worker[] = [];
    try {
      const hashes = Promise.all(
        Array.from({ length: opts.shards - 1 }, () => {
          const worker = startWorker(setup);
          workers.push(worker);
          return new Promise<string>((resolve, reject) => {
            worker.once('error', reject);
            worker.once('message', (m: { ready?: string; failed?: string }) =>
              m.ready !== undefined ? resolve(m.ready) : reject(new Error(`backtest shard: ${m.failed}`)),
            );
          });
        }),
      );
      const classifier = 'classifier' in opts ? opts.classifier : await loadBacktestClassifier(opts.modelDir);
      return new BacktestShards(workers, (await hashes)[0]!, classifier);
    } catch (err) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw err;
    }
  }

  /** Number of shards: the calling thread's and the workers'. */
  get size(): number {
    return this.workers.length + 1;
  }

  /**
   * Replays `input` split across the shards and merged (see the class): the workers' shards sent
   * to them first, then the calling thread's replayed meanwhile. `ruleSet` must be the set they
   * loaded (same hash). Undefined when splitWhy refuses the recording: replay it whole.
   */
  async run(
    input: { readonly samples: readonly MetricSample[]; readonly events: readonly OpsEvent[] },
    opts: {
      readonly config: Config;
      readonly ruleSet: RuleSet;
      readonly onProgress?: (done: number, total: number) => void;
    },
  ): Promise<BacktestRun | undefined> {
    const started = performance.now();
    if (opts.ruleSet.hash !== this.ruleSetHash)
      throw new Error(
        `backtest shards: the shards loaded rule set ${this.ruleSetHash}, this run has ${opts.ruleSet.hash}; start them again with its rules folder`,
      );
    const ix = indexOf(input);
    if (refusal(ix, opts.config, opts.ruleSet) !== undefined) return undefined;
    const work = split(input, ix as Indexed, this.size, this.next);
    this.next += work.jobs.length;
    const n = input.samples.length;
    const done = new Array<number>(this.size).fill(0);
    const progress = (shard: number) => (d: number) => {
      done[shard] = d;
      opts.onProgress?.(Math.min(...done), n);
    };
    const results = new Array<Promise<ShardRun>>(this.size);
    const remote = [...done.keys()].filter((s) => s !== work.local);
    work.jobs.forEach((job, k) => {
      const s = remote[k]!;
      results[s] = this.ask(this.workers[k]!, job, progress(s));
    });
    results[work.local] = runBacktestShard(work.own, work.times, work.events[work.local]!, {
      config: opts.config,
      ruleSet: opts.ruleSet,
      ...(this.classifier ? { classifier: this.classifier } : {}),
      onProgress: progress(work.local),
    });
    return { ...merge(await Promise.all(results), input), elapsedMs: performance.now() - started };
  }

  /** Stops the workers. */
  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private ask(worker: Worker, job: ShardJob, onProgress: (done: number) => void): Promise<ShardRun> {
    return new Promise((resolve, reject) => {
      const onMessage = (m: { id: number; progress?: number; result?: ShardRun; error?: string }) => {
        if (m.id !== job.id) return;
        if (m.progress !== undefined) return onProgress(m.progress);
        worker.off('message', onMessage);
        worker.off('error', reject);
        if (m.result) resolve(m.result);
        else reject(new Error(`backtest shard: ${m.error}`));
      };
      worker.on('message', onMessage);
      worker.once('error', reject);
      worker.postMessage(
        job,
        [job.index, job.entity, job.metric, job.value].map((a) => a.buffer as ArrayBuffer),
      );
    });
  }
}

/**
 * Why a recording cannot be replayed split by entity with the same result (see BacktestShards),
 * or undefined when it can: samples or events out of time order, or a limit shared by the
 * entities that the recording could reach.
 */
export function splitWhy(
  input: { readonly samples: readonly MetricSample[]; readonly events: readonly OpsEvent[] },
  config: Pick<Config, 'maxEntities' | 'baseline' | 'baselineMaxStates' | 'episodeMaxTracked'>,
  ruleSet: RuleSet,
): string | undefined {
  return refusal(indexOf(input), config, ruleSet);
}

/** A recording's samples by entity and metric ids (one Map lookup each per sample), or why not in time order. */
interface Indexed {
  /** Each sample's entity: an index into `entities`. */
  readonly entityOf: Int32Array;
  /** Each sample's metric: an index into `metrics`. */
  readonly metricOf: Int32Array;
  /** Entities of samples first, in order of first sample, then those of events only. */
  readonly entities: string[];
  readonly metrics: string[];
  /** Samples per entity (0 for an entity of events only). */
  readonly counts: number[];
  /** Each event's entity. */
  readonly eventEntityOf: Int32Array;
}

function indexOf(input: {
  readonly samples: readonly MetricSample[];
  readonly events: readonly OpsEvent[];
}): Indexed | string {
  const { samples, events } = input;
  const n = samples.length;
  const entityOf = new Int32Array(n);
  const metricOf = new Int32Array(n);
  const entityIds = new Map<string, number>();
  const metricIds = new Map<string, number>();
  const entities: string[] = [];
  const metrics: string[] = [];
  const counts: number[] = [];
  /** The entity's number, a new one (with a count of 0) the first time it is seen. */
  const entityId = (entity: string): number => {
    let e = entityIds.get(entity);
    if (e === undefined) {
      entityIds.set(entity, (e = entities.push(entity) - 1));
      counts.push(0);
    }
    return e;
  };
  let last = -Infinity;
  for (let i = 0; i < n; i++) {
    const s = samples[i] as MetricSample;
    if (s.ts < last) return 'samples out of time order';
    last = s.ts;
    const e = entityId(s.entity);
    let m = metricIds.get(s.metric);
    if (m === undefined) metricIds.set(s.metric, (m = metrics.push(s.metric) - 1));
    entityOf[i] = e;
    metricOf[i] = m;
    counts[e]!++;
  }
  const eventEntityOf = new Int32Array(events.length);
  last = -Infinity;
  for (let k = 0; k < events.length; k++) {
    const ev = events[k] as OpsEvent;
    if (ev.ts < last) return 'events out of time order';
    last = ev.ts;
    eventEntityOf[k] = entityId(ev.entity);
  }
  return { entityOf, metricOf, entities, metrics, counts, eventEntityOf };
}

/** Distinct (entity, metric) pairs of the samples: the baseline states a replay keeps. */
function statesOf(ix: Indexed): number {
  const m = ix.metrics.length;
  const seen = ix.entities.length * m <= 1 << 24 ? new Uint8Array(ix.entities.length * m) : new Set<number>();
  let states = 0;
  for (let i = 0; i < ix.entityOf.length; i++) {
    const key = ix.entityOf[i]! * m + ix.metricOf[i]!;
    if (seen instanceof Uint8Array) {
      if (seen[key] === 0) {
        seen[key] = 1;
        states++;
      }
    } else if (!seen.has(key)) {
      seen.add(key);
      states++;
    }
  }
  return states;
}

/** splitWhy on an index: undefined when the recording splits. */
function refusal(
  ix: Indexed | string,
  config: Pick<Config, 'maxEntities' | 'baseline' | 'baselineMaxStates' | 'episodeMaxTracked'>,
  ruleSet: RuleSet,
): string | undefined {
  if (typeof ix === 'string') return ix;
  const entities = ix.entities.length;
  if (entities > config.maxEntities) return 'more entities than AUTOGLM_MAX_ENTITIES';
  if (config.baseline === 'on' && statesOf(ix) > config.baselineMaxStates)
    return 'more metrics of entities than AUTOGLM_BASELINE_MAX_STATES';
  const episodic = ruleSet.rules.filter((r) => episodeSpecOf(r.params) !== null).length;
  if (entities * episodic > config.episodeMaxTracked)
    return 'more episode keys than AUTOGLM_EPISODE_MAX_TRACKED';
  return undefined;
}

/**
 * The shards' work: entities dealt by samples, largest first, to the shard with the fewest
 * (entities of events only: to the one with the fewest entities); shard `local`'s as the samples
 * themselves with their indices (the calling thread replays it), the others' in columns for a worker.
 */
function split(
  input: { readonly samples: readonly MetricSample[]; readonly events: readonly OpsEvent[] },
  ix: Indexed,
  shards: number,
  firstId: number,
): {
  /** The calling thread's shard: its samples and their indices in the recording. */
  local: number;
  own: { samples: MetricSample[]; index: Int32Array };
  times: Float64Array;
  jobs: ShardJob[];
  events: OpsEvent[][];
} {
  const { samples, events } = input;
  const n = samples.length;
  const load = new Array<number>(shards).fill(0);
  const lists = Array.from({ length: shards }, () => [] as string[]);
  const shardOf = new Int32Array(ix.entities.length);
  /** Each entity's index in its shard's list. */
  const localOf = new Int32Array(ix.entities.length);
  const order = ix.entities
    .map((_, e) => e)
    .filter((e) => ix.counts[e]! > 0)
    .sort((a, b) => ix.counts[b]! - ix.counts[a]! || (ix.entities[a]! < ix.entities[b]! ? -1 : 1));
  for (const e of order) {
    const shard = load.indexOf(Math.min(...load));
    load[shard] = load[shard]! + ix.counts[e]!;
    shardOf[e] = shard;
    localOf[e] = lists[shard]!.push(ix.entities[e]!) - 1;
  }
  // Entities of events only, in order of first event.
  for (let e = 0; e < ix.entities.length; e++) {
    if (ix.counts[e]! > 0) continue;
    const shard = lists.reduce((best, l, i) => (l.length < lists[best]!.length ? i : best), 0);
    shardOf[e] = shard;
    localOf[e] = lists[shard]!.push(ix.entities[e]!) - 1;
  }
  // The calling thread takes the shard with the fewest samples: it also splits and merges.
  const local = load.indexOf(Math.min(...load));
  const times = new Float64Array(new SharedArrayBuffer(8 * n));
  const own = { samples: new Array<MetricSample>(load[local]!), index: new Int32Array(load[local]!) };
  let mine = 0;
  const columns = load.map((c, s) =>
    s === local
      ? undefined
      : {
          index: new Int32Array(c),
          entity: new Int32Array(c),
          metric: new Int32Array(c),
          value: new Float64Array(c),
        },
  );
  const size = new Int32Array(shards);
  for (let i = 0; i < n; i++) {
    const sample = samples[i] as MetricSample;
    times[i] = sample.ts;
    const e = ix.entityOf[i]!;
    const shard = shardOf[e]!;
    const col = columns[shard];
    if (col === undefined) {
      own.samples[mine] = sample;
      own.index[mine++] = i;
      continue;
    }
    const k = size[shard]!++;
    col.index[k] = i;
    col.entity[k] = localOf[e]!;
    col.metric[k] = ix.metricOf[i]!;
    col.value[k] = sample.value;
  }
  const shardEvents = lists.map(() => [] as OpsEvent[]);
  for (let k = 0; k < events.length; k++) shardEvents[shardOf[ix.eventEntityOf[k]!]!]!.push(events[k]!);
  const jobs: ShardJob[] = [];
  for (let s = 0; s < shards; s++) {
    const col = columns[s];
    if (col === undefined) continue;
    jobs.push({
      id: firstId + jobs.length,
      times,
      ...col,
      entities: lists[s]!,
      metrics: ix.metrics,
      events: shardEvents[s]!,
    });
  }
  return { local, own, times, jobs, events: shardEvents };
}

/** The whole replay's result from its shards' (see BacktestShards). */
function merge(
  results: readonly ShardRun[],
  input: { readonly samples: readonly unknown[]; readonly events: readonly unknown[] },
): Omit<BacktestRun, 'elapsedMs'> {
  const decisions: BacktestDecision[] = [];
  const at = results.map(() => 0);
  for (;;) {
    let best = -1;
    for (let s = 0; s < results.length; s++) {
      const k = at[s]!;
      if (k >= results[s]!.decisionAt.length) continue;
      if (best < 0 || results[s]!.decisionAt[k]! < results[best]!.decisionAt[at[best]!]!) best = s;
    }
    if (best < 0) break;
    decisions.push(results[best]!.run.decisions[at[best]!++]!);
  }
  const counters = (field: 'refused' | 'suppressed' | 'ruleFailures') => {
    const keys: Array<{ key: string; first: number; order: number }> = [];
    const total = new Map<string, number>();
    for (const r of results) {
      let order = 0;
      for (const [key, c] of Object.entries(r.run[field])) {
        const first = r.firstAt[field][key] as number;
        const seen = keys.find((k) => k.key === key);
        if (seen === undefined) keys.push({ key, first, order: order++ });
        else if (first < seen.first) Object.assign(seen, { first, order: order++ });
        total.set(key, (total.get(key) ?? 0) + c);
      }
    }
    keys.sort((a, b) => a.first - b.first || a.order - b.order);
    return Object.fromEntries(keys.map((k) => [k.key, total.get(k.key) as number]));
  };
  const sum = (field: 'observations' | 'late' | 'stale') => results.reduce((n, r) => n + r.run[field], 0);
  return {
    decisions,
    samples: input.samples.length,
    events: input.events.length,
    observations: sum('observations'),
    refused: counters('refused'),
    late: sum('late'),
    suppressed: counters('suppressed'),
    ruleFailures: counters('ruleFailures'),
    stale: sum('stale'),
  };
}

/** A worker running shard-worker.ts through tsx's loader, as bin/autoglm.js runs the CLI. */
function startWorker(setup: ShardSetup): Worker {
  const tsx = import.meta.resolve('tsx/esm/api');
  const script = new URL('./shard-worker.js', import.meta.url).href;
  const source = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(script)}); }).catch((err) => { require('node:worker_threads').parentPort.postMessage({ failed: String(err && err.stack || err) }); });`;
  return new Worker(source, { eval: true, execArgv: [], workerData: setup });
}

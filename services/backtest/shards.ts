import { Worker } from 'node:worker_threads';
import type { Config } from '../common/config.js';
import type { MetricSample, OpsEvent } from '../common/contracts.js';
import { episodeSpecOf } from '../decide/episodes.js';
import type { RuleSet } from '../decide/rule-set.js';
import type { BacktestDecision, BacktestRun, ShardRun } from './backtest.js';
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
  ) {}

  /**
   * Starts `shards` workers, each loading `rulesDir` and the classifier of `modelDir` ('off': none)
   * with `config`, as loadBacktestRules and loadBacktestClassifier do. Throws what a shard threw.
   */
  static async start(opts: {
    readonly rulesDir: string;
    readonly modelDir: string;
    readonly config: Config;
    readonly shards: number;
  }): Promise<BacktestShards> {
    if (!Number.isInteger(opts.shards) || opts.shards < 2)
      throw new RangeError(`shards must be an integer of at least 2, got ${opts.shards}`);
    const setup: ShardSetup = { rulesDir: opts.rulesDir, modelDir: opts.modelDir, config: opts.config };
    const workers: Worker[] = [];
    try {
      const hashes = await Promise.all(
        Array.from({ length: opts.shards }, () => {
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
      return new BacktestShards(workers, hashes[0]!);
    } catch (err) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw err;
    }
  }

  /** Number of workers. */
  get size(): number {
    return this.workers.length;
  }

  /**
   * Replays `input` split across the workers and merged (see the class); `ruleSet` must be the set
   * they loaded (same hash). Undefined when splitWhy refuses the recording: replay it whole.
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
    if (splitWhy(input, opts.config, opts.ruleSet) !== undefined) return undefined;
    const jobs = split(input, this.workers.length, this.next);
    this.next += jobs.length;
    const done = new Array<number>(jobs.length).fill(0);
    const results = await Promise.all(
      jobs.map((job, s) =>
        this.ask(this.workers[s]!, job, (progress) => {
          done[s] = progress;
          opts.onProgress?.(Math.min(...done), input.samples.length);
        }),
      ),
    );
    return { ...merge(results, input), elapsedMs: performance.now() - started };
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
  const { samples, events } = input;
  const entities = new Map<string, Set<string>>();
  let states = 0;
  let last = -Infinity;
  for (const s of samples) {
    if (s.ts < last) return 'samples out of time order';
    last = s.ts;
    let metrics = entities.get(s.entity);
    if (metrics === undefined) entities.set(s.entity, (metrics = new Set()));
    if (!metrics.has(s.metric)) {
      metrics.add(s.metric);
      states++;
    }
  }
  last = -Infinity;
  for (const e of events) {
    if (e.ts < last) return 'events out of time order';
    last = e.ts;
    if (!entities.has(e.entity)) entities.set(e.entity, new Set());
  }
  if (entities.size > config.maxEntities) return 'more entities than AUTOGLM_MAX_ENTITIES';
  if (config.baseline === 'on' && states > config.baselineMaxStates)
    return 'more metrics of entities than AUTOGLM_BASELINE_MAX_STATES';
  const episodic = ruleSet.rules.filter((r) => episodeSpecOf(r.params) !== null).length;
  if (entities.size * episodic > config.episodeMaxTracked)
    return 'more episode keys than AUTOGLM_EPISODE_MAX_TRACKED';
  return undefined;
}

/** The shards' jobs: entities dealt by samples, largest first, to the shard with the fewest. */
function split(
  input: { readonly samples: readonly MetricSample[]; readonly events: readonly OpsEvent[] },
  shards: number,
  firstId: number,
): ShardJob[] {
  const { samples, events } = input;
  const n = samples.length;
  const times = new Float64Array(new SharedArrayBuffer(8 * n));
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const s = samples[i] as MetricSample;
    times[i] = s.ts;
    counts.set(s.entity, (counts.get(s.entity) ?? 0) + 1);
  }
  const load = new Array<number>(shards).fill(0);
  const lists = Array.from({ length: shards }, () => [] as string[]);
  /** Per entity: its shard and its index in that shard's list. */
  const home = new Map<string, { shard: number; index: number }>();
  for (const [entity, c] of [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))) {
    const shard = load.indexOf(Math.min(...load));
    load[shard] = (load[shard] as number) + c;
    home.set(entity, { shard, index: lists[shard]!.push(entity) - 1 });
  }
  const columns = load.map((c) => ({
    index: new Int32Array(c),
    entity: new Int32Array(c),
    metric: new Int32Array(c),
    value: new Float64Array(c),
    metrics: [] as string[],
    metricIds: new Map<string, number>(),
    size: 0,
  }));
  for (let i = 0; i < n; i++) {
    const s = samples[i] as MetricSample;
    const h = home.get(s.entity)!;
    const col = columns[h.shard]!;
    let m = col.metricIds.get(s.metric);
    if (m === undefined) col.metricIds.set(s.metric, (m = col.metrics.push(s.metric) - 1));
    const k = col.size++;
    col.index[k] = i;
    col.entity[k] = h.index;
    col.metric[k] = m;
    col.value[k] = s.value;
  }
  const shardEvents = lists.map(() => [] as OpsEvent[]);
  for (const e of events) {
    let h = home.get(e.entity);
    if (h === undefined) {
      // An entity with events only: to the shard with the fewest entities.
      const shard = lists.reduce((best, l, i) => (l.length < lists[best]!.length ? i : best), 0);
      h = { shard, index: lists[shard]!.push(e.entity) - 1 };
      home.set(e.entity, h);
    }
    shardEvents[h.shard]!.push(e);
  }
  return columns.map((col, s) => ({
    id: firstId + s,
    total: n,
    times,
    index: col.index,
    entity: col.entity,
    metric: col.metric,
    value: col.value,
    entities: lists[s]!,
    metrics: col.metrics,
    events: shardEvents[s]!,
  }));
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

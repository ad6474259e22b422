/**
 * The backtest's replay rate against the sense service's live ingest rate, on the same samples
 * and in the same run: the real NAB series of data/nab (13 series, about 79,000 samples, each as a
 * percentage of its own maximum, as bench/real-series.ts replays them) with the starter rules.
 *
 *   npx tsx bench/backtest-rate.ts [--runs 3] [--warmup 3] [--shards N]
 *
 * - backtest: runBacktest (sense's windows and baselines, the classifier of AUTOGLM_MODEL_DIR,
 *   decide's Decider) over the recording in memory, in a process of its own as `autoglm backtest`
 *   runs (not beside a sense service and its Kafka clients), timed from the first sample to the
 *   last decision; the reading of the files and `--warmup` replays (3) are left out, and the median
 *   of three replays is the run's rate (also printed per second of the replay process's CPU time,
 *   which other work on a shared machine changes less than the wall clock). Two replays are timed
 *   alike: the whole one on one thread, and the one split by entity across `--shards` threads
 *   (this one and `--shards` - 1 workers; default: the machine's cores, at most 4;
 *   services/backtest/shards.ts, the same result), timed from the call (splitting the samples,
 *   sending them, the shards' replays and the merge) with the workers started and their rules and model loaded before, as the process loads
 *   its own, and `--warmup` × shards warm-up replays (each thread replays 1/shards of the samples:
 *   as many samples per thread as the whole replay's warm-ups); its CPU time counts every thread. The ratio lines give both. Why 3: the replay
 *   process is new each run and one replay of these samples takes a fraction of a second, so V8's
 *   optimizing compiler is still at work after one (on a loaded machine the 2nd to 4th replays
 *   differed up to 2×), while the sense side runs in this bench's own process, warm from run 2.
 * - sense: the same samples produced once, with their own timestamps and keyed by entity, to a
 *   metrics topic of this run's own, then read by the real sense service (validation, windows,
 *   baselines, observations produced with acks=all, offsets committed after them) in a new
 *   consumer group per run, timed from when this bench first sees samples handled to the last
 *   observation acknowledged, counting only the samples handled in that span (see `sense` below:
 *   its first fetch is left out, which favours sense); the rate from its group join (first fetch
 *   included, as bench/sense-throughput.ts times it) is printed beside it.
 * The two alternate, `--runs` times each; prints every run, the medians and the ratio of the
 * medians, on the wall clock and per second of CPU time (the replay process's; the sense side's
 * process, its Kafka clients and this bench's polling included, over the same span as its wall
 * clock). AUTOGLM_WINDOW defaults to 15m, as in bench/real-series.ts; AUTOGLM_* variables win.
 */
// First: kafkajs must load with our read_committed filter (services/common/kafkajs-aborted-filter.ts).
import '../services/common/kafkajs-aborted-filter.js';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { localInfra } from '../infra/infra.js';
import { runBacktest } from '../services/backtest/backtest.js';
import { percentOfMax, readRecording } from '../services/backtest/recording.js';
import { loadBacktestClassifier, loadBacktestRules } from '../services/backtest/run.js';
import { BacktestShards } from '../services/backtest/shards.js';
import { loadConfig, topicNames, type Config } from '../services/common/config.js';
import { connectProducer, createKafka, ensureTopics, sendJson } from '../services/common/kafka.js';
import { createLogger } from '../services/common/logger.js';
import { deleteTopicsWithPrefix } from '../services/common/topic-tap.js';
import { uniqueName } from '../services/common/unique-name.js';
import { startSense } from '../services/sense/main.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const flag = (name: string, fallback: number) =>
  argv.includes(name) ? Number(argv[argv.indexOf(name) + 1]) : fallback;
const runs = Math.max(1, flag('--runs', 3) || 3);
const warmup = Math.max(0, Math.floor(flag('--warmup', 3)) || 0);
const shards = Math.max(1, Math.floor(flag('--shards', Math.min(4, os.availableParallelism()))) || 1);
const folders = ['realAWSCloudwatch', 'realKnownCause'].map((f) => path.join(root, 'data', 'nab', f));
const recording = percentOfMax(readRecording(folders, { metric: 'cpu' }));
const samples = recording.samples;

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

// `--replay`: this process only replays (warm-ups, then three, whole and split), and prints the result as JSON.
if (argv.includes('--replay')) {
  const config = loadConfig(process.env, process.env.AUTOGLM_WINDOW ? {} : { window: '15m' });
  const rulesDir = path.join(root, 'rules');
  const ruleSet = await loadBacktestRules(rulesDir, config);
  const classifier = await loadBacktestClassifier(config.modelDir);
  const pool =
    shards >= 2
      ? await BacktestShards.start({ rulesDir, modelDir: config.modelDir, config, shards, classifier })
      : undefined;
  // Also on this process's CPU time (its threads included): what a busy machine changes least.
  const replay = async (split: boolean) => {
    const cpu = process.cpuUsage();
    const input = { samples, events: [] };
    const run =
      (split ? await pool?.run(input, { config, ruleSet }) : undefined) ??
      (await runBacktest(input, { config, ruleSet, ...(classifier ? { classifier } : {}) }));
    const used = process.cpuUsage(cpu);
    return { run, cpuRate: samples.length / ((used.user + used.system) / 1e6) };
  };
  const measure = async (split: boolean) => {
    // Each shard replays a part of the samples: as many warm-ups per thread as the whole replay's.
    for (let i = 0; i < (split ? warmup * shards : warmup); i++) await replay(split);
    const runs = [await replay(split), await replay(split), await replay(split)];
    const last = runs.at(-1)!.run;
    return {
      rate: median(runs.map((r) => samples.length / (r.run.elapsedMs / 1000))),
      cpuRate: median(runs.map((r) => r.cpuRate)),
      decisions: last.decisions.length,
      observations: last.observations,
      // The same replay either way: compared by the parent.
      digest: JSON.stringify({ ...last, elapsedMs: 0 }),
    };
  };
  const whole = await measure(false);
  const split = pool ? await measure(true) : whole;
  if (split.digest !== whole.digest) throw new Error('the split replay differs from the whole one');
  await pool?.close();
  const { digest: _w, ...wholeOut } = whole;
  const { digest: _s, ...splitOut } = split;
  console.log(JSON.stringify({ whole: wholeOut, split: splitOut }));
  process.exit(0);
}

const endpoints = await localInfra().up();
const id = uniqueName('bench-backtest-rate');
const configOf = (groupPrefix: string): Config =>
  loadConfig(process.env, {
    ...(process.env.AUTOGLM_WINDOW ? {} : { window: '15m' }),
    kafkaBrokers: endpoints.kafkaBrokers,
    temporalAddress: endpoints.temporalAddress,
    topicPrefix: `${id}.autoglm`,
    groupPrefix,
    logLevel: 'warn',
    opsPort: '0',
  });
const config = configOf(id);
const logger = createLogger('warn');
const kafka = createKafka(config, logger);
const topics = topicNames(config);
await ensureTopics(kafka, Object.values(topics), config.topicPartitions);

// The samples on the metrics topic, in time order (as a recorder would have seen them).
const producer = await connectProducer(kafka);
const loadStart = performance.now();
for (let i = 0; i < samples.length; i += 2000)
  await sendJson(
    producer,
    topics.metrics,
    samples.slice(i, i + 2000).map((s) => ({ key: s.entity, value: s })),
  );
await producer.disconnect();
console.log(
  `loaded ${samples.length} samples of ${new Set(samples.map((s) => s.entity)).size} entities on ${config.topicPartitions} partitions in ${((performance.now() - loadStart) / 1000).toFixed(1)}s; window ${config.window / 60_000}m, emit every ${config.emitEvery / 1000}s, baselines ${config.baseline}, model ${config.modelDir === 'off' ? 'off' : path.relative(root, config.modelDir)}`,
);

interface Replayed {
  rate: number;
  cpuRate: number;
  decisions: number;
  observations: number;
}

/** Replays in a process of their own (see --replay): samples per second, whole and split, and the decisions made. */
function backtest(): { whole: Replayed; split: Replayed } {
  const out = execFileSync(
    process.execPath,
    [
      ...process.execArgv,
      fileURLToPath(import.meta.url),
      '--replay',
      '--warmup',
      String(warmup),
      '--shards',
      String(shards),
    ],
    {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  return JSON.parse(out.trim().split('\n').at(-1)!) as { whole: Replayed; split: Replayed };
}

/**
 * The sense service in a group of its own: samples per second from the first samples seen handled
 * to the last observation acknowledged, counting only the samples handled in that span (sense
 * handles a fetched batch in one go, so this loop first sees it after thousands: counting them
 * too overstated the rate up to 2x). Its first fetch (the whole backlog, mostly) and start are
 * left out, which favours sense; `fromJoin` is the rate from its group join instead (first fetch
 * included, as bench/sense-throughput.ts times it).
 */
async function sense(
  run: number,
): Promise<{ rate: number; cpuRate: number; fromJoin: number; observations: number }> {
  const registry = new Registry();
  const service = await startSense({ config: configOf(`${id}-sense-${run}`), logger, registry });
  const messages = registry.getSingleMetric('autoglm_sense_messages_total');
  const produced = registry.getSingleMetric('autoglm_sense_observations_total');
  const read = async () => {
    const values = (await messages?.get())?.values ?? [];
    // Every result counts, `duplicate` too: a sample sent again (same entity, metric, time and
    // value; the NAB series hold 17) is handled as a duplicate since sense keeps such a sample once.
    const handled = values
      .filter((v) => v.labels.topic === topics.metrics)
      .reduce((total, v) => total + v.value, 0);
    const closed = values.find((v) => v.labels.result === 'observation')?.value ?? 0;
    const acked = (await produced?.get())?.values[0]?.value ?? 0;
    // Handled in full only once every observation it closed is acknowledged.
    return { handled: acked >= closed ? handled : Math.min(handled, samples.length - 1), acked };
  };
  // startSense resolves once the consumer has joined its group, before its first fetch.
  const joined = performance.now();
  // This process's CPU time over the same span as the wall clock: sense's handler and its Kafka
  // clients, and this loop's polling.
  let cpu = process.cpuUsage();
  let first: { at: number; handled: number } | undefined;
  let last = await read();
  while (last.handled < samples.length) {
    if (first === undefined && last.handled > 0) {
      first = { at: performance.now(), handled: last.handled };
      cpu = process.cpuUsage();
    }
    if (performance.now() - joined > 600_000)
      throw new Error(`sense: only ${last.handled} of ${samples.length} in 10 minutes`);
    await new Promise((resolve) => setTimeout(resolve, 2));
    last = await read();
  }
  const end = performance.now();
  const used = process.cpuUsage(cpu);
  await service.stop();
  const from = first ?? { at: joined, handled: 0 };
  const counted = samples.length - from.handled;
  return {
    rate: counted / ((end - from.at) / 1000),
    cpuRate: counted / ((used.user + used.system) / 1e6),
    fromJoin: samples.length / ((end - joined) / 1000),
    observations: last.acked,
  };
}

const k = (r: number) => `${Math.round(r / 1000).toLocaleString('en-US')}k`;
const rates = { whole: [] as number[], split: [] as number[] };
const cpuRates = { whole: [] as number[], split: [] as number[] };
const senseRates: number[] = [];
const senseCpuRates: number[] = [];
try {
  for (let run = 0; run < runs; run++) {
    // Alternate which goes first, so other work on the machine falls on both alike.
    const b = run % 2 === 0 ? backtest() : undefined;
    const s = await sense(run);
    const b2 = b ?? backtest();
    for (const kind of ['whole', 'split'] as const) {
      rates[kind].push(b2[kind].rate);
      cpuRates[kind].push(b2[kind].cpuRate);
    }
    senseRates.push(s.rate);
    senseCpuRates.push(s.cpuRate);
    const { whole, split } = b2;
    console.log(
      `run ${run + 1}: backtest ${k(whole.rate)} samples/s (${k(whole.cpuRate)}/s of its CPU time; ${whole.observations} observations, ${whole.decisions} decisions), split on ${shards} threads ${k(split.rate)} samples/s (${k(split.cpuRate)}/s of CPU time; the same result), sense ${k(s.rate)} samples/s (${k(s.cpuRate)}/s of its process's CPU time; ${k(s.fromJoin)}/s from its group join; ${s.observations} observations), ratio ${(whole.rate / s.rate).toFixed(1)}× whole, ${(split.rate / s.rate).toFixed(1)}× split`,
    );
  }
  for (const kind of ['whole', 'split'] as const) {
    const what = kind === 'whole' ? 'backtest (one thread)' : `backtest split on ${shards} threads`;
    const ratio = median(rates[kind]) / median(senseRates);
    console.log(
      `backtest-rate: ${what} median ${k(median(rates[kind]))} samples/s, sense live ingest median ${k(median(senseRates))} samples/s, ratio ${ratio.toFixed(1)}× (target ≥ 10×) over ${runs} runs of ${samples.length.toLocaleString('en-US')} samples (${warmup} warm-up replays)`,
    );
    // Per second of CPU time: what a busy shared machine changes least (the wall-clock ratio falls
    // with load, as the CPU-bound replay loses more of its core than the sense service waiting on Kafka).
    console.log(
      `backtest-rate per CPU second: ${what} median ${k(median(cpuRates[kind]))} samples/s, sense median ${k(median(senseCpuRates))} samples/s (its process, Kafka clients included), ratio ${(median(cpuRates[kind]) / median(senseCpuRates)).toFixed(1)}×`,
    );
  }
} finally {
  await deleteTopicsWithPrefix(kafka, config.topicPrefix);
}
process.exit(0);

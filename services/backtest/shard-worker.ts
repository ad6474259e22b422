/**
 * One shard of a split replay (shards.ts), in a worker thread: loads the rules folder and the
 * classifier as the main thread did, then replays the jobs it is sent with runBacktestShard.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Config } from '../common/config.js';
import type { MetricSample, OpsEvent } from '../common/contracts.js';
import { runBacktestShard } from './backtest.js';
import { loadBacktestClassifier, loadBacktestRules } from './run.js';

/** What the main thread starts a shard with. */
export interface ShardSetup {
  readonly rulesDir: string;
  readonly modelDir: string;
  readonly config: Config;
}

/** One replay for a shard: its samples in columns (see shards.ts's split), its events, every sample's time. */
export interface ShardJob {
  readonly id: number;
  readonly times: Float64Array;
  readonly index: Int32Array;
  readonly entity: Int32Array;
  readonly metric: Int32Array;
  readonly value: Float64Array;
  readonly entities: readonly string[];
  readonly metrics: readonly string[];
  readonly events: readonly OpsEvent[];
}

const port = parentPort;
if (port === null) throw new Error('shard-worker.ts runs in a worker thread (see shards.ts)');
const setup = workerData as ShardSetup;
try {
  const ruleSet = await loadBacktestRules(setup.rulesDir, setup.config);
  const classifier = await loadBacktestClassifier(setup.modelDir);
  port.on('message', (job: ShardJob) => {
    const samples = new Array<MetricSample>(job.index.length);
    for (let k = 0; k < job.index.length; k++)
      samples[k] = {
        entity: job.entities[job.entity[k]!]!,
        metric: job.metrics[job.metric[k]!]!,
        value: job.value[k]!,
        ts: job.times[job.index[k]!]!,
      };
    runBacktestShard({ samples, index: job.index }, job.times, job.events, {
      config: setup.config,
      ruleSet,
      ...(classifier ? { classifier } : {}),
      onProgress: (done) => port.postMessage({ id: job.id, progress: done }),
    }).then(
      (result) => port.postMessage({ id: job.id, result }),
      (err: unknown) => port.postMessage({ id: job.id, error: String((err as Error)?.stack ?? err) }),
    );
  });
  port.postMessage({ ready: ruleSet.hash });
} catch (err) {
  port.postMessage({ failed: String((err as Error)?.stack ?? err) });
}

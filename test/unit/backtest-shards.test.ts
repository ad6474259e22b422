import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AUTO_SHARDS_MIN_SAMPLES, autoShards, backtestCommand } from '../../cli/backtest-command.js';
import { repoRoot } from '../../infra/paths.js';
import { runBacktest, type BacktestRun } from '../../services/backtest/backtest.js';
import { loadBacktestRules } from '../../services/backtest/run.js';
import { BacktestShards, splitWhy } from '../../services/backtest/shards.js';
import { loadConfig } from '../../services/common/config.js';
import type { MetricSample, OpsEvent } from '../../services/common/contracts.js';

const STEP = 5 * 60_000;
const T0 = Date.UTC(2024, 0, 1);
/** Two metrics per entity at most: every entity's third metric is refused (too_many_metrics). */
/** Baselines forgotten after 6 hours without a sample: host-6's gap outlasts it. */
const config = loadConfig(
  {},
  { window: '15m', modelDir: 'off', maxMetricsPerEntity: '2', baselineIdle: '6h' },
);

/**
 * Seven entities over 400 five-minute steps: cpu 30 ± 5 with spikes to 99 on some (the static
 * rule decides, then its cooldown holds the next matches back), mem, and on some an `errors`
 * metric (refused: a third metric); values out of range now and then; deploy events. Host-6 is
 * silent for 8 hours (its windows and baselines evicted meanwhile, on the other entities' time).
 */
function recording(): { samples: MetricSample[]; events: OpsEvent[] } {
  const samples: MetricSample[] = [];
  const events: OpsEvent[] = [];
  let seed = 11;
  const rnd = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  for (let i = 0; i < 400; i++)
    for (let e = 0; e < 7; e++) {
      const entity = `host-${e}`;
      if (e === 6 && i >= 150 && i < 250) continue;
      const ts = T0 + i * STEP + e * 1000;
      const spike = (i + 37 * e) % 97 < 6;
      const cpu = spike ? 99 : 30 + 5 * Math.sin(i / 7 + e);
      samples.push({ entity, metric: 'cpu', value: rnd() < 0.01 ? 1e13 : cpu, ts });
      if (rnd() < 0.7) samples.push({ entity, metric: 'mem', value: 40 + 20 * rnd(), ts });
      if (e % 3 === 0 && rnd() < 0.3) samples.push({ entity, metric: 'errors', value: rnd() * 5, ts });
      if (rnd() < 0.01) events.push({ entity, kind: 'deploy', message: `v${i}`, ts });
    }
  return { samples, events };
}

describe('backtest shards', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'backtest-shards-'));
  const rulesDirs = { starter: path.join(repoRoot, 'rules'), static: path.join(dir, 'rules') };
  const pools: BacktestShards[] = [];
  before(() => {
    fs.mkdirSync(rulesDirs.static);
    fs.copyFileSync(
      path.join(repoRoot, 'test', 'fixtures', 'rules', 'cpu-static.json'),
      path.join(rulesDirs.static, 'cpu-static.json'),
    );
  });
  after(async () => {
    await Promise.all(pools.map((p) => p.close()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** The whole replay and the split one on `shards` workers, elapsedMs left out. */
  async function both(rules: keyof typeof rulesDirs, shards: number) {
    const ruleSet = await loadBacktestRules(rulesDirs[rules], config);
    const pool = await BacktestShards.start({ rulesDir: rulesDirs[rules], modelDir: 'off', config, shards });
    pools.push(pool);
    const input = recording();
    const { elapsedMs: _w, ...whole } = await runBacktest(input, { config, ruleSet });
    const split = await pool.run(input, { config, ruleSet });
    assert.ok(split, 'the recording splits');
    const { elapsedMs: _s, ...rest } = split as BacktestRun;
    return { whole, split: rest };
  }

  it('a split replay gives exactly the whole one: decisions in order, counters and their keys in order', async () => {
    const { whole, split } = await both('static', 3);
    assert.ok(whole.decisions.length > 20, `decisions: ${whole.decisions.length}`);
    assert.ok(new Set(whole.decisions.map((d) => d.entity)).size >= 5);
    assert.ok((whole.suppressed['cpu-saturation-scale-out'] ?? 0) > 0, 'the cooldown held matches back');
    assert.deepEqual(Object.keys(whole.refused), ['out_of_range', 'too_many_metrics']);
    assert.deepEqual(JSON.stringify(split), JSON.stringify(whole));
  });

  it('the same with the starter rules (baselines, episodes, context facts) on two shards', async () => {
    const { whole, split } = await both('starter', 2);
    assert.ok(whole.decisions.length > 0);
    assert.deepEqual(JSON.stringify(split), JSON.stringify(whole));
  });

  it("each shard evicts on the whole recording's time, its own samples or not", async () => {
    // Two entities, one per shard: "quiet" is silent for 16 hours, its baseline forgotten (6h)
    // on the time of "busy"'s samples; back, it rises to 80 while its baseline still warms up,
    // where a baseline kept (a shard evicting on its own samples' time) would decide.
    const samples: MetricSample[] = [];
    for (let i = 0; i < 400; i++)
      for (const entity of ['busy', 'quiet']) {
        if (entity === 'quiet' && i >= 100 && i < 300) continue;
        const value = entity === 'quiet' && i >= 305 && i <= 310 ? 80 : 30 + 5 * Math.sin(i / 7);
        samples.push({ entity, metric: 'cpu', value, ts: T0 + i * STEP });
      }
    const ruleSet = await loadBacktestRules(rulesDirs.starter, config);
    const pool = await BacktestShards.start({
      rulesDir: rulesDirs.starter,
      modelDir: 'off',
      config,
      shards: 2,
    });
    pools.push(pool);
    const { elapsedMs: _w, ...whole } = await runBacktest({ samples, events: [] }, { config, ruleSet });
    const { elapsedMs: _s, ...split } = (await pool.run({ samples, events: [] }, { config, ruleSet }))!;
    assert.deepEqual(
      whole.decisions.filter((d) => d.entity === 'quiet'),
      [],
      'warming up again after the gap',
    );
    assert.deepEqual(JSON.stringify(split), JSON.stringify(whole));
  });

  it('autoglm backtest --shards 2 reports what the whole replay reports', async () => {
    const file = path.join(dir, 'recording.jsonl');
    const { samples } = recording();
    fs.writeFileSync(file, samples.map((x) => JSON.stringify(x)).join('\n'));
    const report = async (shards: string | undefined) => {
      let out = '';
      const io = { out: (t: string) => (out += t), err() {} };
      const args = [file, '--rules', rulesDirs.starter, ...(shards ? ['--shards', shards] : []), '--json'];
      assert.equal(await backtestCommand(args, io, config), 0);
      const parsed = JSON.parse(out) as { replay: { seconds?: number; samplesPerSecond?: number } };
      delete parsed.replay.seconds;
      delete parsed.replay.samplesPerSecond;
      return parsed;
    };
    const run = BacktestShards.prototype.run;
    let split = 0;
    BacktestShards.prototype.run = function (...args) {
      split++;
      return run.apply(this, args);
    };
    try {
      const whole = await report('1');
      assert.equal(split, 0);
      assert.deepEqual(await report(undefined), whole);
      assert.equal(split, 0, 'a small recording replays whole by default');
      assert.deepEqual(await report('2'), whole);
      assert.equal(split, 1, 'replayed split');
    } finally {
      BacktestShards.prototype.run = run;
    }
  });

  it('autoglm backtest splits by default only large recordings on 2 cores or more', () => {
    assert.equal(AUTO_SHARDS_MIN_SAMPLES, 1_000_000);
    assert.equal(autoShards(AUTO_SHARDS_MIN_SAMPLES - 1, 8), 1);
    assert.equal(autoShards(AUTO_SHARDS_MIN_SAMPLES, 2), 2);
    assert.equal(autoShards(AUTO_SHARDS_MIN_SAMPLES, 8), 2);
    assert.equal(autoShards(10 * AUTO_SHARDS_MIN_SAMPLES, 1), 1);
  });

  it('refuses what a split would change: time order, shared limits; and a rule set the shards did not load', async () => {
    const ruleSet = await loadBacktestRules(rulesDirs.starter, config);
    const { samples, events } = recording();
    assert.equal(splitWhy({ samples, events }, config, ruleSet), undefined);
    const swapped = [...samples];
    [swapped[10], swapped[11]] = [swapped[11]!, swapped[10]!];
    assert.equal(splitWhy({ samples: swapped, events }, config, ruleSet), 'samples out of time order');
    assert.equal(
      splitWhy({ samples, events: [...events].reverse() }, config, ruleSet),
      'events out of time order',
    );
    assert.match(
      splitWhy({ samples, events }, { ...config, maxEntities: 6 }, ruleSet) ?? '',
      /AUTOGLM_MAX_ENTITIES/,
    );
    assert.match(
      splitWhy({ samples, events }, { ...config, baselineMaxStates: 13 }, ruleSet) ?? '',
      /AUTOGLM_BASELINE_MAX_STATES/,
    );
    assert.match(
      splitWhy({ samples, events }, { ...config, episodeMaxTracked: 20 }, ruleSet) ?? '',
      /AUTOGLM_EPISODE_MAX_TRACKED/,
    );
    const pool = await BacktestShards.start({
      rulesDir: rulesDirs.static,
      modelDir: 'off',
      config,
      shards: 2,
    });
    pools.push(pool);
    assert.equal(
      await pool.run(
        { samples: swapped, events },
        { config, ruleSet: await loadBacktestRules(rulesDirs.static, config) },
      ),
      undefined,
    );
    await assert.rejects(pool.run({ samples, events }, { config, ruleSet }), /the shards loaded rule set/);
  });
});

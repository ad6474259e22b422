/**
 * The baselines survive a crash: a sense process killed with -9 is replaced by another, which
 * reads the baselines back from the changelog instead of warming up again. Its observations carry
 * the same baseline facts an uninterrupted run gives (real Kafka, sense as its own process).
 * The replay a new owner does covers two windows (a few samples here), far less than the 30-sample
 * warm-up: without the changelog the new process would list `cpu` in `warmingUp`.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { MetricSample, Observation } from '../../services/common/contracts.js';
import { createLogger } from '../../services/common/logger.js';
import { unique } from '../support/config.js';
import { SenseRun } from '../support/sense-run.js';

const logger = createLogger('warn');
const ENTITIES = [unique('bl-a'), unique('bl-b'), unique('bl-c')];
const STEP = 5000;
const ROUNDS = 70;
const CUT = 45; // rounds before the crash: warm (30 samples) well before it
const T0 = Math.floor((Date.now() - ROUNDS * STEP - 60_000) / STEP) * STEP;
/** Windows of 10s, an observation every 5s: a new owner replays ~4 samples per entity. */
const SETTINGS = { window: '10s', emitEvery: '5s' };

/** One cpu sample per entity every 5s of event time; a spike on the first entity after the crash. */
function stream(): MetricSample[] {
  const out: MetricSample[] = [];
  for (let i = 0; i < ROUNDS; i++)
    ENTITIES.forEach((entity, k) =>
      out.push({
        entity,
        metric: 'cpu',
        value: k === 0 && i === CUT + 10 ? 95 : 30 + 10 * k + ((i * 7 + k * 3) % 5),
        ts: T0 + i * STEP,
      }),
    );
  return out;
}

describe('sense baselines across a kill -9 (real Kafka)', () => {
  const runs: SenseRun[] = [];
  after(async () => {
    for (const r of runs) await r.cleanUp();
  });

  it('a new process continues the baselines from the changelog: the same facts as an uninterrupted run', async () => {
    const samples = stream();
    const whole = new SenseRun(2, logger, SETTINGS);
    runs.push(whole);
    await whole.produce(samples);
    const s = await whole.startSense();
    await whole.caughtUp();
    await whole.stopSense(s);
    const expected = new Set(await whole.observations());

    const crashed = new SenseRun(2, logger, SETTINGS);
    runs.push(crashed);
    const cut = CUT * ENTITIES.length;
    await crashed.produce(samples.slice(0, cut));
    const first = crashed.spawnSense();
    await crashed.caughtUp();
    await crashed.kill(first, 'SIGKILL');
    await crashed.produce(samples.slice(cut));
    const second = crashed.spawnSense();
    await crashed.caughtUp();
    await crashed.kill(second, 'SIGTERM');
    const got = new Set(await crashed.observations()); // a kill -9 may emit an observation twice

    const afterCrash = [...got]
      .map((o) => JSON.parse(o) as Observation)
      .filter((o) => o.ts >= T0 + CUT * STEP);
    assert.ok(
      afterCrash.length >= (ROUNDS - CUT - 2) * ENTITIES.length,
      `${afterCrash.length} observations after the crash`,
    );
    for (const o of afterCrash) {
      assert.equal(o.warmingUp, undefined, `${o.entity} at ${o.ts} is not warming up again`);
      assert.equal(typeof o.features['cpu.deviation'], 'number');
    }
    const spike = afterCrash.find((o) => o.entity === ENTITIES[0] && o.ts === T0 + (CUT + 10) * STEP);
    assert.ok(
      spike && spike.features['cpu.anomaly']! > 0.99,
      `the spike after the crash is flagged: ${JSON.stringify(spike)}`,
    );
    assert.deepEqual([...got].sort(), [...expected].sort());
  });
});

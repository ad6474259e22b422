/**
 * The sense step loses and doubles nothing across a restart in the middle of a window, and across
 * processes joining and leaving its group: the observations equal those of an uninterrupted run
 * over the same samples (real Kafka; each run on topics and a group of its own).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { MetricSample } from '../../services/common/contracts.js';
import { createLogger } from '../../services/common/logger.js';
import { unique } from '../support/config.js';
import { SenseRun } from '../support/sense-run.js';

const logger = createLogger('warn');
const ENTITIES = [unique('svc-a'), unique('svc-b'), unique('svc-c'), unique('svc-d'), unique('svc-e')];
const T0 = Date.now() - 120_000;

/** Samples of every entity every 250ms of event time, in event-time order. */
function stream(rounds: number): MetricSample[] {
  const out: MetricSample[] = [];
  for (let i = 0; i < rounds; i++)
    ENTITIES.forEach((entity, k) =>
      out.push({ entity, metric: 'cpu', value: 40 + ((i * 7 + k * 3) % 17), ts: T0 + i * 250 }),
    );
  return out;
}

describe('sense across restarts and rebalances (real Kafka)', () => {
  const runs: SenseRun[] = [];
  const run = (partitions: number) => {
    const r = new SenseRun(partitions, logger);
    runs.push(r);
    return r;
  };
  after(async () => {
    for (const r of runs) await r.cleanUp();
  });

  /** The observations of one sense process reading all of `samples` without interruption. */
  async function uninterrupted(partitions: number, samples: readonly MetricSample[]): Promise<string[]> {
    const whole = run(partitions);
    await whole.produce(samples);
    const s = await whole.startSense();
    await whole.caughtUp();
    await whole.stopSense(s);
    return whole.observations();
  }

  it('emits after a restart in the middle of a window exactly what an uninterrupted run emits', async () => {
    const samples = stream(60);
    const expected = await uninterrupted(2, samples);
    assert.ok(expected.length >= 5 * 29, `${expected.length} observations (one per entity per 500ms)`);

    const restarted = run(2);
    const cut = 137; // not on a round: some entities of the round are before the cut, some after
    await restarted.produce(samples.slice(0, cut));
    const first = await restarted.startSense();
    await restarted.caughtUp();
    await restarted.stopSense(first);
    await restarted.produce(samples.slice(cut));
    const second = await restarted.startSense();
    await restarted.caughtUp();
    await restarted.stopSense(second);
    assert.deepEqual(await restarted.observations(), expected);
  });

  it('loses and doubles nothing while processes join and leave the group (1 → 2 → 3 → 2)', async () => {
    const samples = stream(80);
    const expected = await uninterrupted(6, samples);

    const scaled = run(6);
    const parts = [samples.slice(0, 90), samples.slice(90, 190), samples.slice(190, 290), samples.slice(290)];
    const p1 = await scaled.startSense();
    await scaled.produce(parts[0]!);
    await scaled.caughtUp();
    await scaled.startSense();
    await scaled.produce(parts[1]!);
    await scaled.caughtUp();
    await scaled.startSense();
    await scaled.produce(parts[2]!);
    await scaled.caughtUp();
    await scaled.stopSense(p1);
    await scaled.produce(parts[3]!);
    await scaled.caughtUp();
    assert.deepEqual(await scaled.observations(), expected);
  });
});

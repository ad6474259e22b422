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
const T0 = Date.now() - 3_600_000;

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

  it('loses and doubles nothing while processes join and leave the group (1 → 2 → 3 → 2) as it catches up', async () => {
    const rounds = 6000;
    const samples = stream(rounds);
    const expected = await uninterrupted(6, samples);
    assert.ok(expected.length >= 5 * (rounds / 2 - 1), `${expected.length} observations`);

    const scaled = run(6);
    const cuts = [0, 7501, 15_002, 22_503, samples.length]; // not on a round
    const parts = cuts.slice(1).map((end, k) => samples.slice(cuts[k], end));
    // Each process starts joining right after a part is produced, while the group is still reading it.
    const backlogAtJoin: number[] = [];
    const join = async (part: readonly MetricSample[]) => {
      await scaled.produce(part);
      const joining = scaled.startSense();
      backlogAtJoin.push(await scaled.behind());
      return joining;
    };
    await scaled.produce(parts[0]!);
    const p1 = await join(parts[1]!);
    await join(parts[2]!);
    await join(parts[3]!);
    await scaled.stopSense(p1);
    await scaled.caughtUp();
    for (const behind of backlogAtJoin) {
      assert.ok(behind > 0, `every process joined while the group was behind (${backlogAtJoin.join(', ')})`);
    }
    assert.deepEqual(await scaled.observations(), expected);
  });
});

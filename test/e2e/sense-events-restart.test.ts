/**
 * The events in a window survive a crash of the sense step: a sense process killed with SIGKILL
 * after it committed a deploy event, and restarted with no new event on that partition, emits
 * the same observations (their `events`, hence `eventKinds`, included) as an uninterrupted run
 * over the same samples and events (real Kafka; each run on topics and a group of its own).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { MetricSample, Observation, OpsEvent } from '../../services/common/contracts.js';
import { factsFor } from '../../services/common/facts.js';
import { createLogger } from '../../services/common/logger.js';
import { unique } from '../support/config.js';
import { SenseRun } from '../support/sense-run.js';

const logger = createLogger('warn');
const ENTITIES = [unique('search-pod'), unique('api-pod'), unique('web-pod')];
const DEPLOYED = ENTITIES[0]!;
const T0 = Date.now() - 3_600_000;
const ROUND_MS = 250;

/** Samples of every entity every 250ms of event time, rounds `from` to `to` (excluded). */
function rounds(from: number, to: number): MetricSample[] {
  const out: MetricSample[] = [];
  for (let i = from; i < to; i++)
    ENTITIES.forEach((entity, k) =>
      out.push({ entity, metric: 'cpu', value: 40 + ((i * 7 + k * 3) % 17), ts: T0 + i * ROUND_MS }),
    );
  return out;
}

/** The deploy, 100ms before round 30: in the 3s windows of the rounds after it up to round 41. */
const DEPLOY: OpsEvent = {
  entity: DEPLOYED,
  kind: 'deploy',
  message: 'v2 rolled out',
  ts: T0 + 30 * ROUND_MS - 100,
};
/** Where the crash comes: after the deploy was committed, in the middle of round 33 and of a window. */
const CUT = 33;

describe('sense events across a SIGKILL (real Kafka)', () => {
  const runs: SenseRun[] = [];
  after(async () => {
    for (const r of runs) await r.cleanUp();
  });

  it('rebuilds the windows with their events: the same observations as an uninterrupted run', async () => {
    // Phases so that each run reads samples and the event in the same order: samples up to round
    // 30, then the deploy (applied before any later sample), then the rest.
    const before = rounds(0, 31);
    const upToCut = [...rounds(31, CUT), ...rounds(CUT, CUT + 1).slice(0, 1)];
    const rest = [...rounds(CUT, CUT + 1).slice(1), ...rounds(CUT + 1, 60)];

    const whole = new SenseRun(2, logger);
    runs.push(whole);
    await whole.produce(before);
    const w = await whole.startSense();
    await whole.caughtUp();
    await whole.produceEvents([DEPLOY]);
    await whole.caughtUp();
    await whole.produce(upToCut);
    await whole.caughtUp();
    await whole.produce(rest);
    await whole.caughtUp();
    await whole.stopSense(w);
    const expected = await whole.observations();

    const carrying = expected
      .map((text) => JSON.parse(text) as Observation)
      .filter((o) => o.events.some((e) => e.kind === 'deploy'));
    assert.ok(
      carrying.some((o) => o.entity === DEPLOYED && o.ts > T0 + CUT * ROUND_MS),
      `the uninterrupted run carries the deploy in windows after the cut (${carrying.length} observations)`,
    );

    const killed = new SenseRun(2, logger);
    runs.push(killed);
    await killed.produce(before);
    const first = killed.spawnSense();
    await killed.caughtUp();
    await killed.produceEvents([DEPLOY]);
    await killed.caughtUp();
    await killed.produce(upToCut);
    await killed.caughtUp(); // the deploy's offset and the samples' are committed
    await killed.kill(first, 'SIGKILL');
    await killed.produce(rest);
    const second = killed.spawnSense();
    await killed.caughtUp();
    await killed.kill(second, 'SIGTERM');
    const rebuilt = await killed.observations();

    // What the rollback rule reads: the event kinds of each window after the restart.
    const kindsAfterCut = (list: string[]) =>
      list
        .map((text) => JSON.parse(text) as Observation)
        .filter((o) => o.ts > T0 + CUT * ROUND_MS)
        .map((o) => `${o.entity}@${o.ts - T0}: ${JSON.stringify(factsFor(o).eventKinds)}`);
    assert.deepEqual(
      kindsAfterCut(rebuilt),
      kindsAfterCut(expected),
      'windows after the restart carry the deploy',
    );
    assert.deepEqual(rebuilt, expected);
  });
});

/**
 * An entity's last deploy time (`lastDeploy`, the `deploy.ageSeconds` fact the rollback rules read)
 * survives a crash of the sense step after the deploy has left every window: sense killed with
 * SIGKILL once later events moved its events partition past the windows' rebuild span replays
 * AUTOGLM_SENSE_EVENTS_REPLAY (15m) of events, so the observations after the restart still carry
 * the deploy's time, the same as an uninterrupted run's (real Kafka; each run on topics of its own).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { MetricSample, Observation, OpsEvent } from '../../services/common/contracts.js';
import { factOf } from '../../services/common/facts.js';
import { createLogger } from '../../services/common/logger.js';
import { unique } from '../support/config.js';
import { SenseRun } from '../support/sense-run.js';

const logger = createLogger('warn');
const ENTITIES = [unique('search-pod'), unique('api-pod')];
const DEPLOYED = ENTITIES[0]!;
const T0 = Date.now() - 3_600_000;
const ROUND_MS = 250;

/** Samples of every entity every 250ms of event time, rounds `from` to `to` (excluded). */
function rounds(from: number, to: number): MetricSample[] {
  const out: MetricSample[] = [];
  for (let i = from; i < to; i++)
    ENTITIES.forEach((entity, k) =>
      out.push({ entity, metric: 'errors', value: 10 + ((i * 7 + k * 3) % 5), ts: T0 + i * ROUND_MS }),
    );
  return out;
}

/** The deploy, just before round 30: in the 3s windows up to round 41 only. */
const DEPLOY: OpsEvent = {
  entity: DEPLOYED,
  kind: 'deploy',
  message: 'v2 rolled out',
  ts: T0 + 30 * ROUND_MS - 100,
};
/**
 * Later events of the same entity (so of the same events partition), after the deploy has left the
 * window: the second one takes the partition's event time past the windows' rebuild span (3s + 6s +
 * 2 × 500ms) beyond the first, so a replay of that span alone starts at the first, after the deploy.
 */
const LOGS: OpsEvent[] = [45, 100].map((round) => ({
  entity: DEPLOYED,
  kind: 'log',
  message: 'NullPointerException',
  ts: T0 + round * ROUND_MS - 100,
}));
/** Where the crash comes: after the log events were committed. */
const CUT = 103;
const END = 120;

describe('the last deploy time across a SIGKILL of sense (real Kafka)', () => {
  const runs: SenseRun[] = [];
  after(async () => {
    for (const r of runs) await r.cleanUp();
  });

  it('observations after the restart carry the deploy that left the window, as an uninterrupted run', async () => {
    const phases = [
      { samples: rounds(0, 31) },
      { events: [DEPLOY] },
      { samples: rounds(31, 45) },
      { events: [LOGS[0]!] },
      { samples: rounds(45, 100) },
      { events: [LOGS[1]!] },
      { samples: rounds(100, CUT) },
    ];
    const rest = rounds(CUT, END);
    const play = async (run: SenseRun) => {
      for (const p of phases) {
        if (p.samples) await run.produce(p.samples);
        if (p.events) await run.produceEvents(p.events);
        await run.caughtUp();
      }
    };

    const whole = new SenseRun(2, logger);
    runs.push(whole);
    const w = await whole.startSense();
    await play(whole);
    await whole.produce(rest);
    await whole.caughtUp();
    await whole.stopSense(w);
    const expected = await whole.observations();

    const killed = new SenseRun(2, logger);
    runs.push(killed);
    const first = killed.spawnSense();
    await play(killed); // the deploy's and the logs' offsets are committed
    await killed.kill(first, 'SIGKILL');
    await killed.produce(rest);
    const second = killed.spawnSense();
    await killed.caughtUp();
    await killed.kill(second, 'SIGTERM');
    const rebuilt = await killed.observations();

    const afterCut = (list: string[]) =>
      list
        .map((text) => JSON.parse(text) as Observation)
        .filter((o) => o.entity === DEPLOYED && o.ts > T0 + CUT * ROUND_MS);
    const late = afterCut(rebuilt);
    assert.ok(late.length > 5, `observations of the deployed entity after the restart (${late.length})`);
    for (const o of late) {
      assert.ok(!o.events.some((e) => e.kind === 'deploy'), 'the deploy has left the window');
      assert.equal(o.lastDeploy, DEPLOY.ts, `${o.ts - T0}: the deploy's time is kept across the restart`);
      assert.equal(factOf('deploy.ageSeconds', o), (o.window.end - DEPLOY.ts) / 1000);
    }
    assert.deepEqual(afterCut(rebuilt), afterCut(expected));
    assert.deepEqual(rebuilt, expected);
  });
});

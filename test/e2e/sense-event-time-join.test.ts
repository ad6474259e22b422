/**
 * Sense joins samples with their events on event time: a deploy written while sense is down, with
 * the events partition behind (megabytes of log events of other entities to read before it, more
 * than two fetches of a partition) and the metrics partition a few kilobytes, is in every window
 * of the deployed entity that holds its time once sense has caught up after the restart. Without
 * the join the metrics partition was read to its end in one fetch and every such window was
 * emitted before the deploy was read: none carried it, and the rollback rule never matched.
 * Real Kafka; topics and a group of its own.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { MetricSample, Observation, OpsEvent } from '../../services/common/contracts.js';
import { createLogger } from '../../services/common/logger.js';
import { unique } from '../support/config.js';
import { SenseRun } from '../support/sense-run.js';

const logger = createLogger('warn');
const ENTITIES = [unique('search-pod'), unique('api-pod'), unique('web-pod'), unique('db-pod')];
const DEPLOYED = ENTITIES[0]!;
const NOISY = ENTITIES.slice(1);
const T0 = Date.now() - 3_600_000;
const ROUND_MS = 250;
const FIRST_DOWN = 30;
/** The deploy comes with round 40; the 3 s windows that hold it end in rounds 40 to 51. */
const DEPLOY_ROUND = 40;
const LAST = DEPLOY_ROUND + 20;
/** Log events of other entities per round before the deploy: 10 rounds × 240 × 4 KB ≈ 9.8 MB. */
const NOISE_PER_ROUND = 240;

function round(i: number): MetricSample[] {
  return ENTITIES.map((entity, k) => ({
    entity,
    metric: 'errors',
    value: entity === DEPLOYED && i >= DEPLOY_ROUND ? 12 + (i % 3) : 0.1 * ((i + k) % 4),
    ts: T0 + i * ROUND_MS,
  }));
}

function noise(i: number, n: number): OpsEvent[] {
  return Array.from({ length: n }, (_, k) => ({
    entity: NOISY[k % NOISY.length]!,
    kind: 'log',
    message: `${i}/${k} ${'x'.repeat(4000)}`,
    ts: T0 + i * ROUND_MS,
  }));
}

const DEPLOY: OpsEvent = {
  entity: DEPLOYED,
  kind: 'deploy',
  message: 'v2 rolled out',
  ts: T0 + DEPLOY_ROUND * ROUND_MS,
};

/** The deployed entity's observations whose window holds the deploy: window end, and whether it carries it. */
function holdingTheDeploy(observations: readonly string[]): string[] {
  return observations
    .map((text) => JSON.parse(text) as Observation)
    .filter((o) => o.entity === DEPLOYED && o.window.start < DEPLOY.ts && DEPLOY.ts <= o.window.end)
    .sort((a, b) => a.ts - b.ts)
    .map((o) => `${o.ts - T0}:${o.events.some((e) => e.kind === 'deploy') ? 'deploy' : 'none'}`);
}

describe('sense joins samples and events on event time (real Kafka)', () => {
  const runs: SenseRun[] = [];
  after(async () => {
    for (const r of runs) await r.cleanUp();
  });

  it('a deploy behind megabytes of events is in every window that holds it, after a restart', async () => {
    // One partition: the entities' samples on one metrics partition, their events on one events partition.
    const run = new SenseRun(1, logger);
    runs.push(run);
    for (let i = 0; i < FIRST_DOWN; i++) await run.produce(round(i));
    const first = await run.startSense();
    await run.caughtUp();
    await run.stopSense(first);
    // Sense is down; each round as a live fleet writes it: its events, then its samples.
    for (let i = FIRST_DOWN; i < LAST; i++) {
      await run.produceEvents([
        ...noise(i, i < DEPLOY_ROUND ? NOISE_PER_ROUND : 2),
        ...(i === DEPLOY_ROUND ? [DEPLOY] : []),
      ]);
      await run.produce(round(i));
    }
    const second = await run.startSense();
    await run.caughtUp();
    await run.stopSense(second);
    const seen = holdingTheDeploy(await run.observations());
    // Rounds 40 to 51 end a window holding the deploy; each emits (one per 500 ms bucket: 6 or more).
    assert.ok(
      seen.length >= 6,
      `the deployed entity's windows after the deploy were emitted: ${seen.join(' ')}`,
    );
    assert.deepEqual(
      seen.filter((s) => s.endsWith('none')),
      [],
      `every window holding the deploy carries it: ${seen.join(' ')}`,
    );
  });
});

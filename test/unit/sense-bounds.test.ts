/**
 * The bounds that keep one entity's observation small (review N1): a metric or event that could
 * take an observation past AUTOGLM_MAX_OBSERVATION_BYTES is refused and the rest of the entity is
 * still observed; the publisher never sends a record over the limit; the knob is checked at start.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../services/common/config.js';
import { MAX_MESSAGE_BYTES, type MetricSample, type Observation } from '../../services/common/contracts.js';
import { isUnpublishable } from '../../services/sense/observation-output.js';
import { EntityWindows, metricJsonBytes, type SampleOutcome } from '../../services/sense/windows.js';

const T0 = 1_800_000_000_000;
const LIMIT = 8192;
const windows = (maxObservationBytes = LIMIT) =>
  new EntityWindows({
    windowMs: 10_000,
    emitEveryMs: 1000,
    maxMetricsPerEntity: 64,
    maxEntities: 100,
    maxObservationBytes,
  });
const name = (i: number) => `m${String(i).padStart(3, '0')}_${'x'.repeat(123)}`; // 128 characters
const bytes = (o: Observation) => Buffer.byteLength(JSON.stringify(o));
const observed = (o: SampleOutcome): Observation[] => (o.kind === 'observation' ? [o.observation] : []);

describe('observation byte bound', () => {
  it('refuses the metric that could overflow the observation, naming the knob, and keeps observing the rest', () => {
    const w = windows();
    const outcomes = Array.from({ length: 20 }, (_, i) =>
      w.addSample({ entity: 'e1', metric: name(i), value: -1.2345678901234567e-300, ts: T0 + i }),
    );
    const fits = Math.floor((LIMIT - 200) / metricJsonBytes(name(0)));
    const firstRefused = outcomes.findIndex((o) => o.kind === 'refused');
    assert.ok(firstRefused >= fits - 1 && firstRefused <= fits, `refused from metric ${firstRefused}`);
    for (const o of outcomes.slice(firstRefused)) {
      assert.equal(o.kind, 'refused');
      if (o.kind !== 'refused') continue;
      assert.equal(o.reason, 'observation_too_large');
      assert.equal(o.field, 'metric');
      assert.match(o.message, /e1.*AUTOGLM_MAX_OBSERVATION_BYTES.*shorter metric names/);
    }
    // The metrics already in keep being observed, and the observation stays under the limit.
    const [o] = observed(w.addSample({ entity: 'e1', metric: name(0), value: 1 / 3, ts: T0 + 5000 }));
    assert.ok(o);
    assert.equal(Object.keys(o.features).filter((f) => f.endsWith('.avg')).length, firstRefused);
    assert.ok(bytes(o) <= LIMIT, `${bytes(o)} bytes`);
    // Another entity is not affected.
    assert.equal(w.addSample({ entity: 'e2', metric: name(0), value: 1, ts: T0 }).kind, 'observation');
  });

  it('frees the room of a metric once it has left the window', () => {
    const w = windows();
    let i = 0;
    while (w.addSample({ entity: 'e1', metric: name(i), value: 1, ts: T0 }).kind !== 'refused') i++;
    // Only metric 0 goes on; the others leave the window and make room for new names.
    w.addSample({ entity: 'e1', metric: name(0), value: 1, ts: T0 + 20_000 });
    const later = w.addSample({ entity: 'e1', metric: name(i), value: 1, ts: T0 + 20_001 });
    assert.equal(later.kind, 'buffered');
  });

  it('refuses an event that could overflow the observation (escaped text counted) and changes nothing', () => {
    const w = windows(4096);
    w.addSample({ entity: 'e1', metric: 'cpu', value: 1, ts: T0 });
    const message = '\u0001'.repeat(256); // 6 bytes each in JSON
    const results = Array.from({ length: 5 }, (_, k) =>
      w.addEvent({ entity: 'e1', kind: 'log', message, ts: T0 - 100 + k }),
    );
    assert.deepEqual(
      results.map((r) => r.kind),
      ['event', 'event', 'refused', 'refused', 'refused'],
    );
    const refused = results[2]!;
    assert.equal(refused.kind === 'refused' && refused.reason, 'observation_too_large');
    assert.equal(refused.kind === 'refused' && refused.field, 'message');
    const [o] = observed(w.addSample({ entity: 'e1', metric: 'cpu', value: 2, ts: T0 + 1000 }));
    assert.equal(o?.events.length, 2);
    assert.ok(bytes(o!) <= 4096, `${bytes(o!)} bytes`);
  });

  it('never emits an observation over the limit, whatever the mix of names, values and events', () => {
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (const limit of [4096, 16_384, 32_768]) {
      const w = windows(limit);
      let largest = 0;
      for (let step = 0; step < 6000; step++) {
        const entity = `svc/pod-${Math.floor(rand() * 3)}`;
        const ts = T0 + step * 50 - Math.floor(rand() * 3000);
        if (rand() < 0.05) {
          const text = rand() < 0.5 ? '"é\n'.repeat(100) : 'deploy';
          w.addEvent({ entity, kind: 'k'.repeat(1 + Math.floor(rand() * 127)), message: text, ts });
          continue;
        }
        const metric = `m${Math.floor(rand() * 80)}${'_'.repeat(Math.floor(rand() * 120))}`;
        const value = rand() < 0.5 ? -1.2345678901234567e-300 * rand() : rand() * 1e12;
        const sample: MetricSample = { entity, metric, value, ts };
        for (const o of observed(w.addSample(sample))) largest = Math.max(largest, bytes(o));
      }
      assert.ok(largest > limit / 2, `the test fills observations (largest ${largest} of ${limit})`);
      assert.ok(largest <= limit, `largest observation ${largest} bytes, limit ${limit}`);
    }
  });
});

describe('AUTOGLM_MAX_OBSERVATION_BYTES', () => {
  it('defaults to 32 KiB, well under what decide accepts', () => {
    assert.equal(loadConfig({}).maxObservationBytes, 32_768);
    assert.ok(loadConfig({}).maxObservationBytes <= MAX_MESSAGE_BYTES / 2);
  });

  it('is refused over decide’s limit or too small, listed with the other problems', () => {
    for (const value of ['70000', '100', 'lots']) {
      try {
        loadConfig({ AUTOGLM_MAX_OBSERVATION_BYTES: value, AUTOGLM_MAX_ENTITIES: '0' });
        assert.fail(`accepted ${value}`);
      } catch (err) {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.problems.length, 2, err.message);
        assert.match(err.message, /AUTOGLM_MAX_OBSERVATION_BYTES/);
        assert.match(err.message, /AUTOGLM_MAX_ENTITIES/);
      }
    }
  });
});

describe('isUnpublishable', () => {
  it('tells a record the broker will never take from a failure worth retrying', () => {
    const tooLarge = Object.assign(new Error('too large'), { type: 'MESSAGE_TOO_LARGE', retriable: false });
    assert.equal(isUnpublishable(tooLarge), true);
    assert.equal(isUnpublishable(new Error('wrapped', { cause: tooLarge })), true);
    const leader = Object.assign(new Error('leader'), { type: 'NOT_LEADER_FOR_PARTITION', retriable: true });
    assert.equal(isUnpublishable(leader), false);
    assert.equal(isUnpublishable(new Error('Connection error')), false);
    assert.equal(isUnpublishable(undefined), false);
  });
});

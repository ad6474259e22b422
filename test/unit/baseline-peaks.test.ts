import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRandom } from '../../services/classifier/seeded-random.js';
import { loadConfig } from '../../services/common/config.js';
import { BASELINE_RECORD_BYTES, BaselineStore } from '../../services/sense/baseline.js';
import { BaselinePeaks, PEAK_BYTES } from '../../services/sense/baseline-peaks.js';
import { baselineOptionsOf } from '../../services/sense/sense-options.js';
import { generateSeries } from '../support/baseline-series.js';

const t0 = Date.UTC(2026, 0, 5);
const step = 300_000;

/**
 * A host at 0 with small bursts (3-8%) on 9% of its 5-minute samples and large ones (60-80%) on 1%,
 * about three a day at any hour (NAB's ec2_disk_write_bytes and ec2_network_in series look like
 * this): `days` of them into `store`. The tail model's mean excess is that of the small bursts, so
 * without the peaks every large burst scored over 15 deviations.
 */
function twoKinds(store: BaselineStore, days: number): number {
  const next = seededRandom(7);
  const n = (days * 86_400_000) / step;
  for (let i = 0; i < n; i++) {
    const u = next();
    store.update('e', 'cpu', t0 + i * step, u < 0.01 ? 60 + 20 * next() : u < 0.1 ? 3 + 5 * next() : 0);
  }
  return n;
}

/** The deviation of a burst to `x` after 6 days of twoKinds, in a store with `options`. */
function burstAfter(x: number, options: ConstructorParameters<typeof BaselineStore>[0] = {}): number {
  const store = new BaselineStore(options);
  const n = twoKinds(store, 6);
  store.update('e', 'cpu', t0 + n * step, x);
  return store.facts('e', 'cpu')!.deviation;
}

describe('baseline recent peaks: a repeat of a metric’s recent excursions is not novel', () => {
  it('a burst as large as the bursts of the last days scores below the anomaly deviation; one far beyond them still scores above', () => {
    const without = burstAfter(70, { tailPeakRank: 0 });
    assert.ok(without >= 4.5, `without the peaks a burst to 70 is an anomaly: ${without.toFixed(2)}`);
    const repeat = burstAfter(70);
    assert.ok(repeat < 4.5, `a burst to 70, as the recent ones: ${repeat.toFixed(2)} deviations`);
    const novel = burstAfter(200);
    assert.ok(novel >= 4.5, `a burst to 200, far beyond them: ${novel.toFixed(2)} deviations`);
  });

  it('changes nothing where the tail model does not widen the spread (Gaussian noise, rare spikes: each spike as large as the last is still one)', () => {
    for (const kind of ['noisy', 'spikes'] as const) {
      const series = generateSeries(kind, 3);
      const withPeaks = new BaselineStore();
      const without = new BaselineStore({ tailPeakRank: 0 });
      for (let i = 0; i < series.ts.length; i++) {
        withPeaks.update('e', 'cpu', series.ts[i]!, series.values[i]!);
        without.update('e', 'cpu', series.ts[i]!, series.values[i]!);
        assert.equal(
          withPeaks.facts('e', 'cpu')?.deviation,
          without.facts('e', 'cpu')?.deviation,
          `${kind} ${i}`,
        );
      }
    }
  });

  it('an excursion counts by its peak once it ends, never for itself while it runs; peaks halve every half-life', () => {
    const day = 86_400_000;
    const peaks = new BaselinePeaks(2, 2 * day);
    const b = new Uint8Array(PEAK_BYTES);
    let ts = 0;
    const sample = (a: number, dt = step) => {
      ts += dt;
      peaks.learn(b, 0, a, a > 2, ts, dt);
    };
    // Two excursions: 3 → 16 → 5 spreads, then 8 → 4.
    for (const a of [0, 3, 16, 5, 0, 8, 4]) sample(a);
    assert.equal(peaks.novelFrom(b, 0), 0, 'the second is still running: one peak remembered');
    sample(0);
    assert.ok(Math.abs(peaks.novelFrom(b, 0) - 8) / 8 < 0.05, `second largest ${peaks.novelFrom(b, 0)}`);
    // A third excursion, larger than both, running: the second largest is still 8.
    sample(40);
    assert.ok(Math.abs(peaks.novelFrom(b, 0) - 8) / 8 < 0.05);
    sample(0);
    assert.ok(Math.abs(peaks.novelFrom(b, 0) - 16) / 16 < 0.05, 'the 16 is now second');
    // Two days later (one half-life, quiet): halved.
    sample(0, 2 * day);
    assert.ok(Math.abs(peaks.novelFrom(b, 0) - 8) / 8 < 0.1, `after a half-life ${peaks.novelFrom(b, 0)}`);
    // A month later: forgotten.
    sample(0, 30 * day);
    assert.equal(peaks.novelFrom(b, 0), 0);
    assert.equal(new BaselinePeaks(0, day).novelFrom(b, 0), 0, 'rank 0: off');
  });

  it('format 6 keeps the peaks; a format-5 record (before them) restores with none remembered', () => {
    const whole = new BaselineStore({ checkpointEveryMs: 1 });
    const n = twoKinds(whole, 6);
    const v6 = whole.takeCheckpoints(0)[0]!.value!;
    assert.equal(v6.length, BASELINE_RECORD_BYTES);
    const v5 = Buffer.from(v6.subarray(0, BASELINE_RECORD_BYTES - 5));
    v5.writeUInt8(5, 0);
    const again = new BaselineStore();
    const old = new BaselineStore();
    assert.equal(again.restore('e', 'cpu', v6, 0), undefined);
    assert.equal(old.restore('e', 'cpu', v5, 0), undefined);
    for (const store of [whole, again, old]) store.update('e', 'cpu', t0 + n * step, 70);
    assert.equal(again.facts('e', 'cpu')!.deviation, whole.facts('e', 'cpu')!.deviation);
    assert.ok(old.facts('e', 'cpu')!.deviation >= 4.5, 'no peaks remembered: the tail model alone');
  });

  it('AUTOGLM_BASELINE_TAIL_PEAK_RANK, _HALF_LIFE and _DEVIATION reach the store; "off" is 0; a bad value names the knob', () => {
    const options = baselineOptionsOf(loadConfig({}));
    assert.equal(options.tailPeakRank, 4);
    assert.equal(options.tailPeakHalfLifeMs, 2 * 86_400_000);
    assert.equal(options.tailPeakDeviation, 3);
    assert.equal(baselineOptionsOf(loadConfig({ AUTOGLM_BASELINE_TAIL_PEAK_RANK: 'off' })).tailPeakRank, 0);
    assert.throws(
      () => loadConfig({ AUTOGLM_BASELINE_TAIL_PEAK_RANK: '5' }),
      /AUTOGLM_BASELINE_TAIL_PEAK_RANK/,
    );
    assert.throws(
      () => loadConfig({ AUTOGLM_BASELINE_TAIL_PEAK_HALF_LIFE: '0s' }),
      /AUTOGLM_BASELINE_TAIL_PEAK_HALF_LIFE/,
    );
    assert.throws(
      () => loadConfig({ AUTOGLM_BASELINE_TAIL_PEAK_DEVIATION: '-1' }),
      /AUTOGLM_BASELINE_TAIL_PEAK_DEVIATION/,
    );
    assert.throws(
      () => new BaselineStore({ tailPeakRank: 5 }),
      /tailPeakRank must be an integer from 0 \(off\) to 4/,
    );
    assert.throws(() => new BaselineStore({ tailPeakDeviation: 0 }), /tailPeakDeviation must be positive/);
  });

  it('takes no memory for peaks where they are off, or where the tail model that reads them is off', () => {
    const reserved = (opts: ConstructorParameters<typeof BaselineStore>[0]) => {
      const store = new BaselineStore(opts);
      store.update('e', 'cpu', 0, 1);
      return store.reservedBytes;
    };
    const none = reserved({ tailPeakRank: 0 });
    assert.ok(reserved({}) > none, 'peaks on: their bytes are reserved');
    assert.equal(reserved({ tailRisk: 0 }), none);
    assert.equal(reserved({ tailRisk: 0, tailPeakRank: 0 }), none);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRandom } from '../../services/classifier/seeded-random.js';
import { loadConfig } from '../../services/common/config.js';
import { BASELINE_RECORD_BYTES, BaselineStore } from '../../services/sense/baseline.js';
import { baselineOptionsOf } from '../../services/sense/sense-options.js';
import { generateSeries } from '../support/baseline-series.js';

const t0 = Date.UTC(2026, 0, 5);
const step = 300_000;

/**
 * Disk writes of a host that sits at 0 and bursts to 10-30% on about 5% of its 5-minute samples
 * (NAB's ec2_disk_write_bytes series look like this): `days` of them into `store`.
 */
function bursty(store: BaselineStore, days: number, seed = 7): number {
  const next = seededRandom(seed);
  const n = (days * 86_400_000) / step;
  for (let i = 0; i < n; i++) store.update('e', 'cpu', t0 + i * step, next() < 0.05 ? 10 + 20 * next() : 0);
  return n;
}

describe('baseline tail model: excursions that are common are not incidents', () => {
  it('a burst as large as the bursts a bursty metric makes every day scores below the anomaly deviation; one far beyond still scores above', () => {
    // Without the tail model (tailRisk 0, as before) the spread of a metric at 0 is its floor (0.3)
    // and every burst of 20% scored ~65 deviations: an incident several times a day.
    const withTail = new BaselineStore();
    const without = new BaselineStore({ tailRisk: 0 });
    const n = bursty(withTail, 6);
    bursty(without, 6);
    for (const store of [withTail, without]) store.update('e', 'cpu', t0 + n * step, 20);
    const typical = withTail.facts('e', 'cpu')!;
    assert.ok(without.facts('e', 'cpu')!.deviation > 30, 'without the tail a burst is tens of deviations');
    assert.ok(typical.deviation < 4.5, `a typical burst: ${typical.deviation.toFixed(2)} deviations`);
    // The spread fact is the widened spread (what verify measures samples after an action in).
    assert.ok(typical.spread > 1, `spread ${typical.spread.toFixed(2)}, the floor alone is 0.3`);
    // A burst to 100% after the same history: far beyond anything seen, an incident.
    const big = new BaselineStore();
    bursty(big, 6);
    big.update('e', 'cpu', t0 + n * step, 100);
    assert.ok(big.facts('e', 'cpu')!.deviation >= 4.5, `a burst to 100: ${big.facts('e', 'cpu')!.deviation}`);
  });

  it('changes nothing on Gaussian noise: the deviations are those without the tail model', () => {
    const series = generateSeries('noisy', 3);
    const withTail = new BaselineStore();
    const without = new BaselineStore({ tailRisk: 0 });
    for (let i = 0; i < series.ts.length; i++) {
      withTail.update('e', 'cpu', series.ts[i]!, series.values[i]!);
      without.update('e', 'cpu', series.ts[i]!, series.values[i]!);
      const a = withTail.facts('e', 'cpu');
      const b = without.facts('e', 'cpu');
      assert.equal(a?.deviation, b?.deviation, `sample ${i}`);
    }
  });

  it('an incident lasting hours widens the spread little: a second incident a day later is still one', () => {
    // Normal 40 ± 1 for 3 days, then 80 for 4 hours (48 samples, every one an excursion), back to
    // normal, and a day later 60: 20 above a normal of spread ~1 is an incident whatever came before.
    const store = new BaselineStore();
    const next = seededRandom(3);
    const value = (i: number) => (i >= 864 && i < 912 ? 80 : 40 + (next() - 0.5) * 3);
    let i = 0;
    for (; i < 912 + 288; i++) store.update('e', 'cpu', t0 + i * step, value(i));
    const before = store.facts('e', 'cpu')!;
    store.update('e', 'cpu', t0 + i * step, 60);
    const after = store.facts('e', 'cpu')!;
    assert.ok(
      after.deviation >= 4.5,
      `60 on a normal of ${before.baseline.toFixed(1)}: ${after.deviation.toFixed(2)}`,
    );
    assert.ok(before.spread < 3, `spread after the incident ${before.spread.toFixed(2)}`);
  });

  it('a format-3 record (before the tail model) restores, its tail starting as a new state’s', () => {
    const series = generateSeries('spikes', 2);
    const whole = new BaselineStore({ checkpointEveryMs: 1 });
    const half = Math.floor(series.ts.length / 2);
    for (let i = 0; i < half; i++) whole.update('e', 'cpu', series.ts[i]!, series.values[i]!);
    const v4 = whole.takeCheckpoints(0)[0]!.value!;
    assert.equal(v4.length, BASELINE_RECORD_BYTES);
    // Format 3 wrote the same doubles and floats up to the tail's: a prefix of format 4.
    const v3 = Buffer.from(v4.subarray(0, 180));
    v3.writeUInt8(3, 0);
    const restored = new BaselineStore();
    assert.equal(restored.restore('e', 'cpu', v3, 0), undefined);
    restored.update('e', 'cpu', series.ts[half]!, series.values[half]!);
    whole.update('e', 'cpu', series.ts[half]!, series.values[half]!);
    assert.ok(Math.abs(restored.facts('e', 'cpu')!.baseline - whole.facts('e', 'cpu')!.baseline) < 1e-9);
    const wrong = Buffer.from(v3);
    wrong.writeUInt8(4, 0);
    assert.match(restored.restore('e', 'cpu', wrong, 0)!, /format 4, 180 bytes/);
  });

  it('AUTOGLM_BASELINE_TAIL_RISK and _TAIL_HALF_LIFE reach the store; "off" is 0; a bad value names the knob', () => {
    const options = baselineOptionsOf(loadConfig({}));
    assert.equal(options.tailRisk, 0.006);
    assert.equal(options.tailHalfLifeMs, 2 * 86_400_000);
    assert.equal(baselineOptionsOf(loadConfig({ AUTOGLM_BASELINE_TAIL_RISK: 'off' })).tailRisk, 0);
    assert.throws(() => loadConfig({ AUTOGLM_BASELINE_TAIL_RISK: 'often' }), /AUTOGLM_BASELINE_TAIL_RISK/);
    assert.throws(() => new BaselineStore({ tailRisk: 1 }), /tailRisk must be at least 0 and below 1/);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRandom } from '../../services/classifier/seeded-random.js';
import { loadConfig } from '../../services/common/config.js';
import { BASELINE_RECORD_BYTES, BaselineStore } from '../../services/sense/baseline.js';
import { baselineOptionsOf } from '../../services/sense/sense-options.js';

const t0 = Date.UTC(2026, 0, 5);
const step = 300_000;
const DAY = 86_400_000;

/**
 * A temperature-like metric: 50 with a daily swing of ±5 and noise ±1 for `flatDays`, then falling
 * by `fall` over `fallDays` (a cooling failure: slow enough that the hours-long baseline follows it).
 * Calls `each` after every sample with the day it is in.
 */
function declining(
  store: BaselineStore,
  flatDays: number,
  fallDays: number,
  fall: number,
  each: (day: number) => void,
): void {
  const next = seededRandom(11);
  const n = ((flatDays + fallDays) * DAY) / step;
  for (let i = 0; i < n; i++) {
    const ts = t0 + i * step;
    const day = (i * step) / DAY;
    const trend = day <= flatDays ? 0 : (-fall * (day - flatDays)) / fallDays;
    const daily = 5 * Math.sin((2 * Math.PI * (ts % DAY)) / DAY);
    store.update('e', 'cpu', ts, 50 + daily + trend + 2 * next() - 1);
    each(day);
  }
}

describe('baseline drift: a shift the baseline follows still shows', () => {
  it('a slow decline the level follows scores no deviation but a drift of 3 or more below; before it drift stays small, and 0 while the state is younger than the drift half-life', () => {
    const store = new BaselineStore();
    let youngMax = 0;
    let flatMax = 0;
    let fallDeviation = 0;
    let fallDrift = 0;
    declining(store, 10, 2, 12, (day) => {
      const f = store.facts('e', 'cpu');
      if (f === undefined) return;
      if (day < 7) youngMax = Math.max(youngMax, Math.abs(f.drift));
      else if (day < 10) flatMax = Math.max(flatMax, Math.abs(f.drift));
      else {
        fallDeviation = Math.max(fallDeviation, Math.abs(f.deviation));
        fallDrift = Math.min(fallDrift, f.drift);
      }
    });
    assert.equal(youngMax, 0, 'drift is 0 until the state is 7 days old');
    assert.ok(flatMax < 2, `largest |drift| on the flat days 7-10: ${flatMax.toFixed(2)}`);
    assert.ok(
      fallDeviation < 4.5,
      `the decline's largest |deviation|: ${fallDeviation.toFixed(2)} (the level follows it)`,
    );
    assert.ok(fallDrift <= -3, `the decline's drift: ${fallDrift.toFixed(2)}`);
  });

  it('the drift half-life is AUTOGLM_BASELINE_DRIFT_HALF_LIFE (7d); a shorter one lets drift speak sooner', () => {
    assert.equal(baselineOptionsOf(loadConfig({})).driftHalfLifeMs, 7 * DAY);
    assert.equal(
      baselineOptionsOf(loadConfig({ AUTOGLM_BASELINE_DRIFT_HALF_LIFE: '2d' })).driftHalfLifeMs,
      2 * DAY,
    );
    assert.throws(
      () => loadConfig({ AUTOGLM_BASELINE_DRIFT_HALF_LIFE: 'weekly' }),
      /AUTOGLM_BASELINE_DRIFT_HALF_LIFE/,
    );
    const quick = new BaselineStore({ driftHalfLifeMs: 2 * DAY });
    const slow = new BaselineStore();
    let quickDrift = 0;
    let slowDrift = 0;
    declining(quick, 4, 2, 12, () => {
      quickDrift = Math.min(quickDrift, quick.facts('e', 'cpu')?.drift ?? 0);
    });
    declining(slow, 4, 2, 12, () => {
      slowDrift = Math.min(slowDrift, slow.facts('e', 'cpu')?.drift ?? 0);
    });
    assert.ok(
      quickDrift <= -1,
      `a 2-day reference shows the decline from day 4: drift ${quickDrift.toFixed(2)}`,
    );
    assert.equal(slowDrift, 0, 'a 7-day one is still too young on day 6');
  });

  it('formats 5 and 6 keep the slow reference; a format-4 record (before it) restores with the reference at the level and drift 0 until it is old enough', () => {
    const whole = new BaselineStore({ checkpointEveryMs: 1 });
    declining(whole, 10, 1.5, 12, () => {});
    const v6 = whole.takeCheckpoints(0)[0]!.value!;
    assert.equal(v6.length, BASELINE_RECORD_BYTES);
    assert.equal(v6.readUInt8(0), 6);
    // Format 5 wrote the same doubles and floats, without the recent peaks (5 bytes): a prefix of format 6.
    const v5 = Buffer.from(v6.subarray(0, BASELINE_RECORD_BYTES - 5));
    v5.writeUInt8(5, 0);
    for (const v of [v6, v5]) {
      const again = new BaselineStore();
      assert.equal(again.restore('e', 'cpu', v, 0), undefined);
      assert.ok(Math.abs(again.facts('e', 'cpu')!.drift - whole.facts('e', 'cpu')!.drift) < 1e-6);
    }
    assert.ok(whole.facts('e', 'cpu')!.drift <= -3);
    // Format 4 wrote the same doubles and floats up to the slow reference's: a prefix of format 5.
    const v4 = Buffer.from(v5.subarray(0, v5.length - 8));
    v4.writeUInt8(4, 0);
    const old = new BaselineStore();
    assert.equal(old.restore('e', 'cpu', v4, 0), undefined);
    const f = old.facts('e', 'cpu')!;
    assert.ok(Math.abs(f.drift) < 1e-3, `the level is its own reference: drift ${f.drift}`);
    assert.ok(Math.abs(f.baseline - whole.facts('e', 'cpu')!.baseline) < 1e-6);
    const wrong = Buffer.from(v4);
    wrong.writeUInt8(5, 0);
    assert.match(old.restore('e', 'cpu', wrong, 0)!, /format 5, 192 bytes/);
  });
});

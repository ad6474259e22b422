import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  NAB_PROFILES,
  probationRows,
  rowAtOrBefore,
  scaledSigmoid,
  scoreCorpus,
  scoreSeries,
  type NabSeries,
} from '../../services/backtest/nab-score.js';

// 100 rows one minute apart; probation = min(floor(0.15 × 100), 750) = 15 rows; one window on rows 40..49.
const MIN = 60_000;
const T0 = 1_400_000_000_000;
const rows = Array.from({ length: 100 }, (_, i) => T0 + i * MIN);
const at = (i: number) => T0 + i * MIN;
const series = (detections: number[], windows: Array<[number, number]> = [[at(40), at(49)]]): NabSeries => ({
  timestamps: rows,
  windows,
  detections,
});
const close = (actual: number, expected: number, what: string) =>
  assert.ok(Math.abs(actual - expected) < 1e-9, `${what}: ${actual} ≠ ${expected}`);

describe('NAB scorer', () => {
  it('scaled sigmoid: 2/(1+e^(5x)) - 1, -1 beyond 3', () => {
    close(scaledSigmoid(-1), 0.9866142981514305, 'left edge'); // 2σ(5) - 1
    close(scaledSigmoid(0), 0, 'right edge');
    close(scaledSigmoid(1), -0.9866142981514305, 'one width after');
    assert.equal(scaledSigmoid(3.01), -1);
    assert.equal(probationRows(100), 15);
    assert.equal(probationRows(10_000), 750);
  });

  it('maps a decision time to the newest row at or before it', () => {
    assert.equal(rowAtOrBefore(rows, at(3)), 3);
    assert.equal(rowAtOrBefore(rows, at(3) + 59_999), 3);
    assert.equal(rowAtOrBefore(rows, T0 - 1), -1);
    assert.equal(rowAtOrBefore(rows, at(500)), 99);
  });

  it('a detection on the first row of the window scores tp, and normalises to 100', () => {
    const c = scoreCorpus([series([at(40)])], NAB_PROFILES.standard);
    close(c.raw, 1, 'raw');
    close(c.nullRaw, -1, 'null');
    close(c.perfectRaw, 1, 'perfect');
    close(c.normalized, 100, 'normalized');
  });

  it('no detection is the null detector: -fn per window, 0 normalised', () => {
    const c = scoreCorpus([series([])], NAB_PROFILES.reward_low_FN_rate);
    close(c.raw, -2, 'raw');
    close(c.normalized, 0, 'normalized');
  });

  it('a late detection scores the sigmoid of its position: row 49 of 40..49 is at -1/10', () => {
    // σs(-0.1) / σs(-1) = (2/(1+e^-0.5) - 1) / 0.98661 = 0.244919 / 0.986614 = 0.248242
    const c = scoreCorpus([series([at(49)])], NAB_PROFILES.standard);
    close(c.raw, 0.24824154977542992, 'raw');
    close(c.normalized, 62.4120774887715, 'normalized'); // 100 × (0.248242 + 1) / 2
  });

  it('only the first detection of a window counts; false positives cost fp by their distance after the window', () => {
    // window: first detection row 45 → σs(-(49-45+1)/10) / σs(-1) = σs(-0.5)/0.986614 = 0.859793
    //   (row 47 in the same window adds nothing)
    // row 20, after probation, no preceding window → -0.11
    // row 10, in probation → not scored
    // row 50 → 0.11 × σs(|49-50| / 9) = 0.11 × (2/(1+e^(5/9)) - 1) = -0.029793
    const s = scoreSeries(series([at(45), at(47), at(20), at(10), at(50)]), NAB_PROFILES.standard);
    close(s.raw, 0.8597925669097837 - 0.11 - 0.029793183036839352, 'raw');
    assert.equal(s.falsePositives, 2);
    assert.equal(s.windows[0]?.detectedRow, 45);
    // normalised: 100 × (0.719999 + 1) / 2 = 85.99997
    close(
      scoreCorpus([series([at(45), at(47), at(20), at(10), at(50)])], NAB_PROFILES.standard).normalized,
      85.99996919364722,
      'normalized',
    );
  });

  it('a false positive one window width after costs fp × σs(1); far after (beyond 3 widths) the full fp', () => {
    const one = scoreSeries(series([at(58)]), NAB_PROFILES.reward_low_FP_rate);
    close(one.raw, -1 + 0.22 * -0.9866142981514305, 'one width: -fn + 0.22 σs(1)');
    const far = scoreSeries(series([at(90)]), NAB_PROFILES.standard); // (90-49)/9 = 4.6 > 3
    close(far.raw, -1 - 0.11, 'far');
  });

  it('a window wholly inside probation is not scored, but counts in the perfect score as NAB normalises', () => {
    const s = series(
      [],
      [
        [at(2), at(5)],
        [at(40), at(49)],
      ],
    );
    const c = scoreCorpus([s], NAB_PROFILES.standard);
    assert.equal(c.series[0]?.windows[0]?.scored, false);
    close(c.nullRaw, -1, 'null: one scored window');
    close(c.perfectRaw, 2, 'perfect: every labeled window');
    close(c.normalized, 0, 'normalized');
  });

  it('sums series before normalising', () => {
    // (1 + 0.248242) + null (-2) over perfect 2: 100 × (1.248242 + 2) / 4 = 81.206
    const c = scoreCorpus([series([at(40)]), series([at(49)])], NAB_PROFILES.standard);
    close(c.normalized, (100 * (1 + 0.24824154977542992 + 2)) / 4, 'normalized');
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crossValidate, halves, scoreSubset } from '../../services/backtest/folds.js';
import type { NabSeries } from '../../services/backtest/nab-score.js';

// 100 rows a minute apart, one window on rows 40..49 (probation: the first 15 rows).
const MIN = 60_000;
const T0 = 1_400_000_000_000;
const at = (i: number) => T0 + i * MIN;
const rows = Array.from({ length: 100 }, (_, i) => at(i));
const series = (detections: number[]): NabSeries => ({
  timestamps: rows,
  windows: [[at(40), at(49)]],
  detections,
});

describe('backtest folds', () => {
  it('splits series by sorted name, alternately, each name once', () => {
    assert.deepEqual(halves(['d', 'b', 'a', 'e', 'c', 'b']), { A: ['a', 'c', 'e'], B: ['b', 'd'] });
    assert.deepEqual(halves([]), { A: [], B: [] });
  });

  it('scores a half on its own series only: a perfect and a null series give 100 and 0, both 50', () => {
    const scored = new Map([
      ['hit', series([at(40)])], // the window's first row: the profile's full true-positive weight
      ['miss', series([])],
    ]);
    const hit = scoreSubset(scored, ['hit']);
    const miss = scoreSubset(scored, ['miss']);
    const both = scoreSubset(scored, ['hit', 'miss']);
    assert.ok(Math.abs(hit.standard - 100) < 1e-9, `hit ${hit.standard}`);
    assert.equal(miss.standard, 0);
    assert.ok(Math.abs(both.standard - 50) < 1e-9, `both ${both.standard}`);
    assert.ok(Math.abs(hit.reward_low_FP_rate - 100) < 1e-9);
    assert.throws(() => scoreSubset(scored, ['hit', 'nope']), /no scored series named nope/);
  });

  it('chooses on one half and reports the other: the held-out mean, not the best seen', () => {
    const cv = crossValidate([
      { setting: 'shipped', all: 40, A: 20, B: 60 },
      { setting: 'fits A', all: 35, A: 50, B: 10 },
      { setting: 'fits B', all: 45, A: 15, B: 70 },
    ]);
    assert.equal(cv.chosenOnA.setting, 'fits A');
    assert.equal(cv.chosenOnB.setting, 'fits B');
    assert.equal(cv.heldOut, (10 + 15) / 2);
    assert.equal(crossValidate([{ setting: 'x', all: 1, A: 2, B: 3 }]).heldOut, 2.5);
    assert.throws(() => crossValidate([]), /at least one setting/);
  });
});

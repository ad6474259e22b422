import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  evaluateModel,
  expectedCalibrationError,
  formatEvaluation,
  rocAuc,
} from '../../services/classifier/evaluate.js';
import type { GlmModel, LabeledRow } from '../../services/classifier/model-types.js';

/** P(bad) = sigmoid(cpu.avg): a model whose every number is known by hand. */
const logit: GlmModel = {
  name: 'hand',
  version: 'hand-1',
  link: 'logit',
  classes: ['ok', 'bad'],
  features: [{ kind: 'numeric', name: 'cpu.avg' }],
  columns: ['cpu.avg'],
  mean: [0],
  scale: [1],
  weights: [[1]],
  intercepts: [0],
};

const row = (x: number, label: string): LabeledRow => ({ features: { 'cpu.avg': x }, events: [], label });
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const close = (actual: number, expected: number) =>
  assert.ok(Math.abs(actual - expected) < 1e-12, `${actual} ≠ ${expected}`);

describe('rocAuc', () => {
  it('is 1 for a perfect ranking, 0 for a reversed one and 0.5 for ties', () => {
    assert.equal(rocAuc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]), 1);
    assert.equal(rocAuc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]), 0);
    assert.equal(rocAuc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1]), 0.5);
  });

  it('counts a tie between a positive and a negative as half', () => {
    // Pairs (pos, neg): (0.5 vs 0.5) half, (0.5 vs 0.1) win, (0.9 vs both) wins: 3.5 / 4.
    assert.equal(rocAuc([0.1, 0.5, 0.5, 0.9], [0, 0, 1, 1]), 0.875);
  });

  it('is NaN without both positives and negatives', () => {
    assert.ok(Number.isNaN(rocAuc([0.1, 0.2], [1, 1])));
  });
});

describe('expectedCalibrationError', () => {
  it('is 0 for a perfectly calibrated bin', () => {
    // Confidence 0.75 (one bin), three of four right.
    assert.equal(expectedCalibrationError([0.75, 0.75, 0.75, 0.75], [1, 1, 1, 0]), 0);
  });

  it('weighs each bin by its share of the rows', () => {
    // Bin 9: confidence 0.95, all wrong → 0.95 gap, half the rows; bin 6: 0.6, all right → 0.4 gap.
    close(expectedCalibrationError([0.95, 0.95, 0.6, 0.6], [0, 0, 1, 1]), 0.5 * 0.95 + 0.5 * 0.4);
    assert.equal(expectedCalibrationError([1, 1], [1, 1]), 0);
  });
});

describe('evaluateModel', () => {
  it('computes every metric of a hand-checked logit case', () => {
    const rows = [row(-2, 'ok'), row(-1, 'ok'), row(1, 'bad'), row(2, 'bad'), row(3, 'ok')];
    const e = evaluateModel(logit, rows);
    assert.equal(e.rows, 5);
    assert.deepEqual(e.confusion, {
      classes: ['ok', 'bad'],
      matrix: [
        [2, 1],
        [0, 2],
      ],
    });
    close(e.accuracy, 4 / 5);
    // "ok" is ranked by 1 - p: the ok row at 3 scores lowest of all → 4 of 6 pairs won.
    close(e.aucPerClass.ok!, 4 / 6);
    close(e.aucPerClass.bad!, 4 / 6);
    close(e.macroAuc, 4 / 6);
    // F1 ok: 2·2 / (2·2 + 0 + 1) = 0.8; bad: 2·2 / (2·2 + 1 + 0) = 0.8.
    close(e.macroF1, 0.8);
    const expectedLoss = -(2 * Math.log(sigmoid(2)) + 2 * Math.log(sigmoid(1)) + Math.log(sigmoid(-3))) / 5;
    close(e.logLoss, expectedLoss);
    // Bin 8: σ(2) twice, both right; bin 7: σ(1) twice, both right; bin 9: σ(3) once, wrong.
    const gaps = 2 * (1 - sigmoid(2)) + 2 * (1 - sigmoid(1)) + sigmoid(3);
    close(e.ece, gaps / 5);
  });

  it('evaluates a softmax model per class and formats the CLI lines', () => {
    const softmax: GlmModel = {
      ...logit,
      link: 'softmax',
      classes: ['low', 'mid', 'high'],
      weights: [[-2, 0, 2]],
      intercepts: [0, 1, 0],
    };
    const rows = [
      row(-3, 'low'),
      row(-2, 'low'),
      row(0, 'mid'),
      row(0.1, 'mid'),
      row(2, 'high'),
      row(3, 'high'),
    ];
    const e = evaluateModel(softmax, rows);
    assert.equal(e.accuracy, 1);
    assert.equal(e.macroAuc, 1);
    assert.equal(e.macroF1, 1);
    const lines = formatEvaluation(e);
    assert.ok(lines.includes('macro AUC 1.0000'), lines.join('\n'));
    assert.ok(lines.some((l) => /^ECE \d\.\d{4}$/.test(l)));
    assert.ok(lines.includes('AUC mid 1.0000'));
  });

  it('reports n/a for a class missing from the rows and leaves it out of the macro AUC', () => {
    const e = evaluateModel(logit, [row(1, 'bad'), row(2, 'bad')]);
    assert.ok(Number.isNaN(e.macroAuc));
    assert.ok(formatEvaluation(e).includes('macro AUC n/a'));
    assert.throws(
      () => evaluateModel(logit, [row(1, 'worse')]),
      /row 1: label "worse" is not a class of hand-1/,
    );
  });
});

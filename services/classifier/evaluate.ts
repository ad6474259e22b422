/**
 * How good a trained model is on labeled rows it did not train on: one-vs-rest ROC AUC, macro F1,
 * the confusion matrix, expected calibration error, accuracy and log loss.
 */
import type { GlmModel, LabeledRow } from './model-types.js';
import { predictVector } from './predict.js';
import { columnCount, vectorize } from './vectorize.js';

/** The metrics of one evaluation. AUC is NaN for a class without both positives and negatives. */
export interface Evaluation {
  rows: number;
  aucPerClass: Record<string, number>;
  /** Mean AUC over the classes where it is defined. */
  macroAuc: number;
  /** Mean F1 over the classes that occur as truth or prediction. */
  macroF1: number;
  /** matrix[true][predicted], in `classes` order. */
  confusion: { classes: string[]; matrix: number[][] };
  /** Expected calibration error: 10 equal-width bins on the top-class confidence. */
  ece: number;
  accuracy: number;
  /** Mean negative log probability of the true class (floored at 1e-15). */
  logLoss: number;
}

/** Evaluates `model` on `rows` (labels must be classes of the model). */
export function evaluateModel(model: GlmModel, rows: readonly LabeledRow[]): Evaluation {
  const classes = [...model.classes];
  const K = classes.length;
  const index = new Map(classes.map((c, k) => [c, k]));
  const x = new Float64Array(columnCount(model.features));
  const scores = classes.map(() => new Float64Array(rows.length));
  const truth = new Int32Array(rows.length);
  const matrix = classes.map(() => new Array<number>(K).fill(0));
  const confidence = new Float64Array(rows.length);
  const correct = new Uint8Array(rows.length);
  let logLoss = 0;
  rows.forEach((row, i) => {
    const k = index.get(row.label);
    if (k === undefined)
      throw new Error(`row ${i + 1}: label "${row.label}" is not a class of ${model.version}`);
    const p = predictVector(model, vectorize(row, model.features, model.mean, x));
    let best = 0;
    for (let c = 0; c < K; c++) {
      scores[c]![i] = p[c]!;
      if (p[c]! > p[best]!) best = c;
    }
    truth[i] = k;
    matrix[k]![best]!++;
    confidence[i] = p[best]!;
    correct[i] = best === k ? 1 : 0;
    logLoss -= Math.log(Math.max(p[k]!, 1e-15));
  });
  const aucPerClass: Record<string, number> = {};
  classes.forEach((c, k) => {
    aucPerClass[c] = rocAuc(
      scores[k]!,
      Uint8Array.from(truth, (t) => (t === k ? 1 : 0)),
    );
  });
  const f1s: number[] = [];
  for (let k = 0; k < K; k++) {
    const tp = matrix[k]![k]!;
    const fn = matrix[k]!.reduce((a, v) => a + v, 0) - tp;
    const fp = matrix.reduce((a, row) => a + row[k]!, 0) - tp;
    if (tp + fp + fn > 0) f1s.push((2 * tp) / (2 * tp + fp + fn));
  }
  const defined = Object.values(aucPerClass).filter((a) => !Number.isNaN(a));
  const n = rows.length;
  return {
    rows: n,
    aucPerClass,
    macroAuc: mean(defined),
    macroF1: mean(f1s),
    confusion: { classes, matrix },
    ece: expectedCalibrationError(confidence, correct),
    accuracy: n > 0 ? correct.reduce((a, v) => a + v, 0) / n : NaN,
    logLoss: n > 0 ? logLoss / n : NaN,
  };
}

const mean = (values: readonly number[]) =>
  values.length > 0 ? values.reduce((a, v) => a + v, 0) / values.length : NaN;

/**
 * ROC AUC by ranks (Mann–Whitney U): the chance a positive scores above a negative, ties counted
 * half. NaN without both positives and negatives.
 */
export function rocAuc(scores: ArrayLike<number>, positive: ArrayLike<number>): number {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let positives = 0;
  let rankSum = 0;
  for (let start = 0; start < n;) {
    let end = start;
    while (end + 1 < n && scores[order[end + 1]!] === scores[order[start]!]) end++;
    const averageRank = (start + end) / 2 + 1;
    for (let t = start; t <= end; t++)
      if (positive[order[t]!]) {
        positives++;
        rankSum += averageRank;
      }
    start = end + 1;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return NaN;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** ECE over `bins` equal-width bins of confidence: Σ (bin share) · |accuracy − mean confidence|. */
export function expectedCalibrationError(
  confidence: ArrayLike<number>,
  correct: ArrayLike<number>,
  bins = 10,
): number {
  const n = confidence.length;
  if (n === 0) return NaN;
  const count = new Float64Array(bins);
  const confidenceSum = new Float64Array(bins);
  const correctSum = new Float64Array(bins);
  for (let i = 0; i < n; i++) {
    const bin = Math.min(bins - 1, Math.floor(confidence[i]! * bins));
    count[bin]!++;
    confidenceSum[bin]! += confidence[i]!;
    correctSum[bin]! += correct[i]! ? 1 : 0;
  }
  let ece = 0;
  for (let bin = 0; bin < bins; bin++)
    if (count[bin]! > 0) ece += Math.abs(correctSum[bin]! - confidenceSum[bin]!) / n;
  return ece;
}

const fixed = (v: number) => (Number.isNaN(v) ? 'n/a' : v.toFixed(4));

/** Lines for the CLI: the headline metrics, AUC per class and the confusion matrix. */
export function formatEvaluation(e: Evaluation): string[] {
  const lines = [
    `rows ${e.rows}`,
    `macro AUC ${fixed(e.macroAuc)}`,
    `macro F1 ${fixed(e.macroF1)}`,
    `accuracy ${fixed(e.accuracy)}`,
    `log loss ${fixed(e.logLoss)}`,
    `ECE ${fixed(e.ece)}`,
  ];
  for (const [cls, auc] of Object.entries(e.aucPerClass))
    lines.push(
      `AUC ${cls} ${Number.isNaN(auc) ? 'n/a (needs rows of the class and of others)' : auc.toFixed(4)}`,
    );
  const { classes, matrix } = e.confusion;
  const width = Math.max(6, ...classes.map((c) => c.length), ...matrix.flat().map((v) => String(v).length));
  const cell = (s: string) => s.padStart(width);
  lines.push(`confusion (rows: true class, columns: predicted)`);
  lines.push(`${cell('')} ${classes.map(cell).join(' ')}`);
  matrix.forEach((row, k) => lines.push(`${cell(classes[k]!)} ${row.map((v) => cell(String(v))).join(' ')}`));
  return lines;
}

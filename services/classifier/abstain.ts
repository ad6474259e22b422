/**
 * When the classifier should say "unknown" rather than guess: its top class is not sure enough, or
 * the input is far from anything it was trained on (a standardized distance over the numeric
 * inputs, with the limit learned from the training rows). A fact that abstains has class
 * `unknown` and a `reason` naming what was seen; rules that need a class do not match it.
 */
import type { GlmModel, LabeledRow } from './model-types.js';
import { columnCount, vectorize } from './vectorize.js';

/** The class of a fact that abstains. */
export const UNKNOWN_CLASS = 'unknown';

/** The abstain thresholds a model carries (model.json `abstain`). */
export interface AbstainThresholds {
  /** Below this top-class probability the fact is `unknown` (0.5). */
  readonly minConfidence: number;
  /** Beyond this distance from the training data the fact is `unknown` (learned: `maxDistance`). */
  readonly maxDistance: number;
}

/** Top-class probability below which a model abstains, unless its config says otherwise. */
export const DEFAULT_MIN_CONFIDENCE = 0.5;
/** The training distance quantile the limit starts from, and the margin it gets beyond it. */
const DISTANCE_QUANTILE = 0.999;
const DISTANCE_MARGIN = 1.5;

/** How many leading columns are numeric (the rest are event-token buckets). */
function numericColumns(model: Pick<GlmModel, 'features'>): number {
  return model.features.filter((f) => f.kind === 'numeric').length;
}

/**
 * The root mean square of the standardized numeric inputs of the vector at `offset` (a missing
 * input was imputed at its training mean: 0), and the input farthest out. 0 with no numeric input.
 */
export function inputDistance(
  model: Pick<GlmModel, 'features' | 'mean' | 'scale' | 'columns'>,
  x: ArrayLike<number>,
  offset = 0,
): { distance: number; farthest: string | undefined; z: number } {
  const m = numericColumns(model);
  if (m === 0) return { distance: 0, farthest: undefined, z: 0 };
  let sum = 0;
  let worst = -1;
  let worstZ = 0;
  for (let j = 0; j < m; j++) {
    const z = (x[offset + j]! - model.mean[j]!) / model.scale[j]!;
    sum += z * z;
    if (Math.abs(z) > Math.abs(worstZ)) [worst, worstZ] = [j, z];
  }
  return { distance: Math.sqrt(sum / m), farthest: model.columns[worst], z: worstZ };
}

/** The limits for `model` learned from its training rows: the distance most of them stay within, with a margin. */
export function abstainThresholds(
  model: Pick<GlmModel, 'features' | 'mean' | 'scale' | 'columns'>,
  train: readonly LabeledRow[],
  minConfidence = DEFAULT_MIN_CONFIDENCE,
): AbstainThresholds {
  const x = new Float64Array(columnCount(model.features));
  const distances = train
    .map((row) => inputDistance(model, vectorize(row, model.features, model.mean, x)).distance)
    .sort((a, b) => a - b);
  const at = distances[Math.min(distances.length - 1, Math.floor(DISTANCE_QUANTILE * distances.length))];
  return { minConfidence, maxDistance: (at ?? 1) * DISTANCE_MARGIN };
}

/**
 * Why the classifier abstains on the vector at `offset` with top class `top` at `confidence`;
 * undefined when it does not (or the model carries no thresholds).
 */
export function abstainReason(
  model: GlmModel,
  x: ArrayLike<number>,
  offset: number,
  top: string,
  confidence: number,
): string | undefined {
  const limits = model.abstain;
  if (limits === undefined) return undefined;
  const { distance, farthest, z } = inputDistance(model, x, offset);
  if (distance > limits.maxDistance)
    return (
      `inputs far from the training data (distance ${distance.toFixed(1)} > ${limits.maxDistance.toFixed(1)}` +
      `${farthest ? `; farthest ${farthest} at ${z.toFixed(1)} standard deviations` : ''}); the nearest class was ${top} (${confidence.toFixed(2)})`
    );
  if (confidence < limits.minConfidence)
    return `not sure: the top class ${top} has probability ${confidence.toFixed(2)} < ${limits.minConfidence}`;
  return undefined;
}

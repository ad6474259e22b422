/**
 * The TypeScript reference of the model's arithmetic: standardize, linear, sigmoid or softmax.
 * The ONNX graph must give the same probabilities within 1e-5.
 */
import type { GlmModel, IncidentFact, ModelInput } from './model-types.js';
import { UNKNOWN_CLASS, abstainReason } from './abstain.js';
import { vectorize } from './vectorize.js';

/** Probabilities per class, in `model.classes` order (logit: [1 - p, p]), of the input vector at `offset`. */
export function predictVector(model: GlmModel, x: ArrayLike<number>, offset = 0): Float64Array {
  const { mean, scale, weights, intercepts } = model;
  const outputs = intercepts.length;
  const logits = Float64Array.from(intercepts);
  for (let j = 0; j < weights.length; j++) {
    const z = (x[offset + j]! - mean[j]!) / scale[j]!;
    if (z === 0) continue;
    const row = weights[j]!;
    for (let k = 0; k < outputs; k++) logits[k]! += z * row[k]!;
  }
  if (model.link === 'logit') {
    const l = logits[0]!;
    const p = l >= 0 ? 1 / (1 + Math.exp(-l)) : Math.exp(l) / (1 + Math.exp(l));
    return Float64Array.of(1 - p, p);
  }
  let max = -Infinity;
  for (let k = 0; k < outputs; k++) max = Math.max(max, logits[k]!);
  let sum = 0;
  for (let k = 0; k < outputs; k++) sum += logits[k] = Math.exp(logits[k]! - max);
  for (let k = 0; k < outputs; k++) logits[k]! /= sum;
  return logits;
}

/** The incident fact for one input: the most likely class, its probability and all of them. */
export function predict(model: GlmModel, input: ModelInput): IncidentFact {
  const x = vectorize(input, model.features, model.mean);
  const probabilities = predictVector(model, x);
  let best = 0;
  for (let k = 1; k < probabilities.length; k++) if (probabilities[k]! > probabilities[best]!) best = k;
  const reason = abstainReason(model, x, 0, model.classes[best]!, probabilities[best]!);
  return {
    class: reason === undefined ? model.classes[best]! : UNKNOWN_CLASS,
    confidence: probabilities[best]!,
    probabilities: Object.fromEntries(model.classes.map((c, k) => [c, probabilities[k]!])),
    modelVersion: model.version,
    ...(reason !== undefined ? { reason } : {}),
  };
}

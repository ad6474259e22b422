/**
 * The intent classifier: a softmax GLM over hashed word and character n-grams, trained by the
 * project's own elastic-net trainer (services/classifier/train.ts) on the generated sentences,
 * exported to ONNX by the same exporter as the incident classifier and served by onnxruntime.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { readModelConfig } from '../classifier/model-config.js';
import { ModelLoadError, writeModelFiles } from '../classifier/model-files.js';
import type { GlmModel, LabeledRow } from '../classifier/model-types.js';
import { IncidentClassifier } from '../classifier/onnx-session.js';
import { trainGlm, type TrainReport } from '../classifier/train.js';
import { vectorizeRows } from '../classifier/vectorize.js';
import { repoRoot } from '../../infra/paths.js';
import { intentInput } from './intent-features.js';
import { INTENT_CLASSES, type Intent, isIntent } from './intents.js';
import { type TrainingSentence, trainingSentences } from './training-sentences.js';

/** Where the shipped intent model and its config live. */
export const INTENT_MODEL_DIR = path.join(repoRoot, 'models', 'intent');
export const INTENT_CONFIG_FILE = path.join(repoRoot, 'models', 'intent.config.json');

/** One sentence's intent: the most probable class and every class's probability. */
export interface IntentPrediction {
  readonly intent: Intent;
  readonly confidence: number;
  readonly probabilities: Readonly<Record<Intent, number>>;
}

/** Trains the intent model from the config and the generated sentences; deterministic (no clock). */
export function trainIntentModel(
  configFile = INTENT_CONFIG_FILE,
  sentences: readonly TrainingSentence[] = trainingSentences(),
): { model: GlmModel; report: TrainReport; heldOutAccuracy: number; rows: number } {
  const config = readModelConfig(configFile);
  const missing = INTENT_CLASSES.filter((c) => !config.classes.includes(c));
  if (missing.length > 0)
    throw new Error(
      `${configFile}: classes: add ${missing.join(', ')} (the intents of services/draft/intents.ts)`,
    );
  const rows: LabeledRow[] = sentences.map((s) => ({ ...intentInput(s.text), label: s.intent }));
  const hash = createHash('sha256')
    .update(JSON.stringify(config))
    .update(sentences.map((s) => `${s.intent}\t${s.text}`).join('\n'))
    .digest('hex')
    .slice(0, 8);
  // A fixed stamp: the same config and sentences give the same version, byte for byte.
  const trained = trainGlm(config, rows, { version: `${config.name}-20260105000000-${hash}` });
  const { report, test } = trained;
  // No numeric inputs, so no distance to abstain on: the drafter asks when the top class is unsure.
  const { abstain: _distance, ...model } = trained.model;
  void _distance;
  const x = new Float64Array(model.columns.length * test.length);
  vectorizeRows(test, model.features, model.mean, x);
  let right = 0;
  test.forEach((row, i) => {
    const p = referenceProbabilities(model, x, i * model.columns.length);
    if (model.classes[p.indexOf(Math.max(...p))] === row.label) right++;
  });
  return { model, report, heldOutAccuracy: test.length > 0 ? right / test.length : NaN, rows: rows.length };
}

/** The GLM's probabilities in TypeScript (for the training report; serving runs ONNX). */
function referenceProbabilities(model: GlmModel, x: Float64Array, offset: number): number[] {
  const K = model.classes.length;
  const logits = [...model.intercepts];
  for (let j = 0; j < model.columns.length; j++) {
    const z = (x[offset + j]! - model.mean[j]!) / model.scale[j]!;
    if (z === 0) continue;
    for (let k = 0; k < K; k++) logits[k]! += z * model.weights[j]![k]!;
  }
  const max = Math.max(...logits);
  const e = logits.map((l) => Math.exp(l - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

/** Trains and writes models/intent (model.onnx, model.json, card). */
export function writeIntentModel(
  dir = INTENT_MODEL_DIR,
  configFile = INTENT_CONFIG_FILE,
): { dir: string; accuracy: number; rows: number; report: TrainReport; version: string } {
  const { model, report, heldOutAccuracy, rows } = trainIntentModel(configFile);
  const card = {
    name: model.name,
    version: model.version,
    purpose: 'intent of a policy sentence for `autoglm rules draft` (services/draft)',
    data: `${rows} generated sentences (services/draft/training-sentences.ts, English and Chinese), ${report.testRows} held out by the trainer's split`,
    splitAccuracy: heldOutAccuracy,
    lambda: report.lambda,
    iterations: report.iterations,
    warnings: report.warnings,
  };
  const markdown = `# ${model.name} ${model.version}\n\nThe intent classifier of \`autoglm rules draft\`: a softmax GLM over hashed word and character n-grams (services/draft/intent-features.ts), trained by services/classifier/train.ts on ${rows} generated English and Chinese sentences (services/draft/training-sentences.ts). Accuracy on the trainer's own split of generated sentences: ${(heldOutAccuracy * 100).toFixed(1)}%; the real measure is the hand-written held-out set (test/fixtures/draft/, \`npx tsx bench/draft-score.ts\`).\n\nClasses: ${model.classes.join(', ')}. Lambda ${report.lambda.toPrecision(3)}. Retrain: \`autoglm rules draft --train\`.\n`;
  writeModelFiles(dir, model, { markdown, json: card });
  return { dir, accuracy: heldOutAccuracy, rows, report, version: model.version };
}

/** The served intent model: the ONNX graph in onnxruntime, inputs vectorized as in training. */
export class IntentModel {
  private constructor(private readonly session: IncidentClassifier) {}

  /** Opens models/intent (or `dir`); ModelLoadError names the file and the fix when it cannot. */
  static async load(dir = INTENT_MODEL_DIR): Promise<IntentModel> {
    let session: IncidentClassifier;
    try {
      session = await IncidentClassifier.load(dir);
    } catch (err) {
      if (!(err instanceof ModelLoadError)) throw err;
      // The incident model's fix does not fit: say how to make this one.
      const error = new Error(
        `intent model: ${err.problems.join('; ')} (${err.file}); retrain it with autoglm rules draft --train, or set AUTOGLM_INTENT_MODEL_DIR`,
      );
      error.name = 'ModelLoadError';
      throw error;
    }
    const unknown = session.model.classes.filter((c) => !isIntent(c));
    if (unknown.length > 0)
      throw new Error(
        `${dir}: classes ${unknown.join(', ')} are not intents of services/draft/intents.ts; retrain with autoglm rules draft --train`,
      );
    return new IntentModel(session);
  }

  get version(): string {
    return this.session.version;
  }

  /** The intent of each sentence, in one onnxruntime call. */
  async classify(sentences: readonly string[]): Promise<IntentPrediction[]> {
    if (sentences.length === 0) return [];
    const { model } = this.session;
    const width = model.columns.length;
    const x = new Float32Array(width * sentences.length);
    vectorizeRows(sentences.map(intentInput), model.features, model.mean, x);
    const p = await this.session.classifyVectors(x, sentences.length);
    const K = model.classes.length;
    return sentences.map((_, i) => {
      const probabilities = {} as Record<Intent, number>;
      let best = 0;
      for (let k = 0; k < K; k++) {
        probabilities[model.classes[k] as Intent] = p[i * K + k]!;
        if (p[i * K + k]! > p[i * K + best]!) best = k;
      }
      return { intent: model.classes[best] as Intent, confidence: p[i * K + best]!, probabilities };
    });
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

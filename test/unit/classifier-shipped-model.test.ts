/**
 * The shipped incident classifier (models/incident), served by onnxruntime as decide serves it, on
 * held-out generated scenarios (a seed the training data did not use): macro ROC AUC ≥ 0.95 and
 * expected calibration error ≤ 0.05, and `autoglm model evaluate` prints the `macro AUC` line.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { repoRoot } from '../../infra/paths.js';
import { modelCommand } from '../../cli/model-commands.js';
import { writeDataset } from '../../services/classifier/dataset-file.js';
import { evaluateModel, expectedCalibrationError, rocAuc } from '../../services/classifier/evaluate.js';
import { IncidentClassifier } from '../../services/classifier/onnx-session.js';
import { generateScenarios } from '../../services/classifier/scenarios.js';

const MODEL_DIR = path.join(repoRoot, 'models', 'incident');
/** Not the training seed (1, in models/incident/card.json): data the model has not seen. */
const HELD_OUT = generateScenarios({ rows: 3000, seed: 20261129 });

describe('the shipped incident classifier', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'shipped-model-'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('separates the incident classes and is calibrated, served by onnxruntime', async () => {
    const classifier = await IncidentClassifier.load(MODEL_DIR);
    try {
      const facts = await classifier.classify(HELD_OUT);
      const classes = classifier.model.classes;
      const aucs = classes.map((cls) =>
        rocAuc(
          facts.map((f) => f.probabilities[cls] ?? 0),
          HELD_OUT.map((r) => (r.label === cls ? 1 : 0)),
        ),
      );
      const macroAuc = aucs.reduce((a, b) => a + b, 0) / aucs.length;
      const ece = expectedCalibrationError(
        facts.map((f) => f.confidence),
        facts.map((f, i) => (f.class === HELD_OUT[i]!.label ? 1 : 0)),
      );
      assert.ok(
        macroAuc >= 0.95,
        `macro AUC ${macroAuc.toFixed(4)} (per class ${aucs.map((a) => a.toFixed(3)).join(', ')})`,
      );
      assert.ok(ece <= 0.05, `ECE ${ece.toFixed(4)}`);
      // The TypeScript reference agrees with what onnxruntime served.
      const reference = evaluateModel(classifier.model, HELD_OUT);
      assert.ok(Math.abs(reference.macroAuc - macroAuc) < 1e-4, `${reference.macroAuc} vs ${macroAuc}`);
    } finally {
      await classifier.release();
    }
  });

  it('autoglm model evaluate prints the macro AUC line, above the threshold', async () => {
    const data = path.join(tmp, 'held-out.jsonl');
    writeDataset(data, HELD_OUT);
    const lines: string[] = [];
    const io = {
      out: (t: string) => lines.push(...t.split('\n')),
      err: (t: string) => lines.push(...t.split('\n')),
    };
    const code = await modelCommand(['evaluate', '--model', MODEL_DIR, '--data', data], io);
    assert.equal(code, 0, lines.join('\n'));
    const line = lines.find((l) => /macro AUC \d/.test(l));
    assert.ok(line, lines.join('\n'));
    assert.ok(Number(/macro AUC (\d+\.\d+)/.exec(line)![1]) >= 0.95, line);
    assert.ok(
      lines.some((l) => /ECE \d/.test(l)),
      lines.join('\n'),
    );
  });
});

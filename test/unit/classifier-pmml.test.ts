/**
 * The PMML 4.4 export against JPMML-Evaluator (a well-kept PMML engine from Maven Central, run
 * through Java): the same input vectors scored by onnxruntime (model.onnx) and by JPMML on
 * `autoglm model export --format pmml`, max abs difference ≤ 1e-6; a truncated PMML or ONNX file
 * is refused with the reason. JPMML's jars are fetched once by Maven (infra/jpmml/pom.xml) into
 * .autoglm/tools/jpmml and kept there.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensureJpmml } from '../../infra/jpmml.js';
import { repoRoot } from '../../infra/paths.js';
import { modelCommand } from '../../cli/model-commands.js';
import { ModelLoadError } from '../../services/classifier/model-files.js';
import { IncidentClassifier } from '../../services/classifier/onnx-session.js';
import { predictVector } from '../../services/classifier/predict.js';
import { generateScenarios } from '../../services/classifier/scenarios.js';
import { vectorizeRows } from '../../services/classifier/vectorize.js';

const MODEL_DIR = path.join(repoRoot, 'models', 'incident');
let JARS = '';
const SCORER = path.join(repoRoot, 'infra', 'jpmml', 'PmmlScore.java');

/** JPMML's probabilities of the rows in `tsv` under `pmml`, or its exit code and stderr. */
function jpmml(pmml: string, tsv: string) {
  const run = spawnSync('java', ['-cp', `${JARS}/*`, SCORER, pmml, tsv], {
    encoding: 'utf8',
    timeout: 120_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  const values = (run.stdout ?? '')
    .split('\n')
    .filter(Boolean)
    .map((line) => line.split('\t').map(Number));
  return { status: run.status, stderr: run.stderr ?? '', values };
}

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) }, out, err };
}

describe('the PMML export', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pmml-'));
  const pmml = path.join(tmp, 'model.pmml');
  before(async () => {
    JARS = ensureJpmml();
    const { io, out } = capture();
    assert.equal(
      await modelCommand(['export', '--format', 'pmml', '--model', MODEL_DIR, '--out', pmml], io),
      0,
    );
    assert.match(out.join('\n'), /PMML 4\.4 of incident-/);
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('scores the same rows as onnxruntime within 1e-6 under JPMML-Evaluator', async () => {
    const classifier = await IncidentClassifier.load(MODEL_DIR);
    const model = classifier.model;
    const rows = generateScenarios({ rows: 300, seed: 4404 });
    const width = model.columns.length;
    const x = new Float32Array(rows.length * width);
    vectorizeRows(rows, model.features, model.mean, x);
    const onnx = await classifier.classifyVectors(x, rows.length);
    await classifier.release();
    const lines = [model.columns.join('\t')];
    for (let i = 0; i < rows.length; i++)
      lines.push(Array.from(x.subarray(i * width, (i + 1) * width)).join('\t'));
    const tsv = path.join(tmp, 'rows.tsv');
    fs.writeFileSync(tsv, `${lines.join('\n')}\n`);
    const scored = jpmml(pmml, tsv);
    assert.equal(scored.status, 0, scored.stderr);
    assert.equal(scored.values.length, rows.length);
    let maxOnnx = 0;
    let maxReference = 0;
    const K = model.classes.length;
    for (let i = 0; i < rows.length; i++) {
      assert.equal(scored.values[i]!.length, K, `row ${i}: one probability per class`);
      const reference = predictVector(model, x, i * width);
      for (let k = 0; k < K; k++) {
        const p = scored.values[i]![k]!;
        maxOnnx = Math.max(maxOnnx, Math.abs(p - onnx[i * K + k]!));
        maxReference = Math.max(maxReference, Math.abs(p - reference[k]!));
      }
    }
    console.log(
      `PMML (JPMML-Evaluator) vs onnxruntime on ${rows.length} rows: max abs difference ${maxOnnx.toExponential(2)}; ` +
        `vs the TypeScript reference (float64): ${maxReference.toExponential(2)}`,
    );
    assert.ok(maxOnnx <= 1e-6, `max abs difference ${maxOnnx}`);
    assert.ok(maxReference <= 1e-9, `vs the reference ${maxReference}`);
  });

  it('is refused by JPMML with the reason when truncated', () => {
    const text = fs.readFileSync(pmml, 'utf8');
    const truncated = path.join(tmp, 'truncated.pmml');
    fs.writeFileSync(truncated, text.slice(0, Math.floor(text.length / 2)));
    const tsv = path.join(tmp, 'empty.tsv');
    fs.writeFileSync(tsv, 'cpu.avg\n');
    const scored = jpmml(truncated, tsv);
    assert.equal(scored.status, 2);
    assert.match(scored.stderr, /PMML refused: .*(XML|SAX|end|unmarshal|Premature)/is);
  });

  it('refuses a truncated model.onnx with the reason, and an unknown export format', async () => {
    const dir = path.join(tmp, 'bad-onnx');
    fs.mkdirSync(dir);
    for (const f of fs.readdirSync(MODEL_DIR)) fs.copyFileSync(path.join(MODEL_DIR, f), path.join(dir, f));
    const onnx = fs.readFileSync(path.join(dir, 'model.onnx'));
    fs.writeFileSync(path.join(dir, 'model.onnx'), onnx.subarray(0, Math.floor(onnx.length / 2)));
    await assert.rejects(IncidentClassifier.load(dir), (err: unknown) => {
      assert.ok(err instanceof ModelLoadError);
      assert.match(err.message, /model\.onnx/);
      assert.match(err.message, /not an ONNX model|protobuf|refused|metadata|graph|does not match/);
      return true;
    });
    const { io, err } = capture();
    assert.equal(await modelCommand(['export', '--format', 'onnx', '--model', MODEL_DIR], io), 2);
    assert.match(err.join('\n'), /--format must be "pmml", got "onnx"/);
  });
});

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import util from 'node:util';
import { after, describe, it } from 'node:test';
import {
  ModelLoadError,
  modelStamp,
  readModelJson,
  writeModelFiles,
} from '../../services/classifier/model-files.js';
import { plainIncident } from '../../services/classifier/incident-fact.js';
import type {
  FeatureSpec,
  GlmModel,
  IncidentFact,
  ModelInput,
} from '../../services/classifier/model-types.js';
import { glmToOnnx } from '../../services/classifier/onnx-export.js';
import { IncidentClassifier } from '../../services/classifier/onnx-session.js';
import { predict, predictVector } from '../../services/classifier/predict.js';
import { seededGaussian, seededRandom } from '../../services/classifier/seeded-random.js';
import { columnsOf, vectorize } from '../../services/classifier/vectorize.js';

const NUMERIC = 16;
const BUCKETS = 64;
const ROWS = 1000;
const card = { markdown: '# test model\n', json: { test: true } };

/** A model at the real width (16 numeric + 64 token buckets) with random weights from `seed`. */
function randomModel(link: 'logit' | 'softmax', classes: string[], seed: number, version?: string): GlmModel {
  const random = seededRandom(seed);
  const gaussian = seededGaussian(random);
  const features: FeatureSpec[] = [
    ...Array.from({ length: NUMERIC }, (_, i) => ({ kind: 'numeric' as const, name: `metric${i}.avg` })),
    { kind: 'event_tokens', name: 'events', buckets: BUCKETS },
  ];
  const columns = columnsOf(features);
  const outputs = link === 'logit' ? 1 : classes.length;
  return {
    name: 'incident',
    version: version ?? `incident-20260105120000-${seed.toString(16).padStart(8, '0')}`,
    link,
    classes,
    features,
    columns,
    mean: columns.map((_, j) => (j < NUMERIC ? 100 * random() : 0.3 * random())),
    scale: columns.map((_, j) => (j < NUMERIC ? 1 + 20 * random() : 0.1 + random())),
    weights: columns.map(() => Array.from({ length: outputs }, () => 0.7 * gaussian())),
    intercepts: Array.from({ length: outputs }, () => gaussian()),
  };
}

/** `rows` input vectors around the model's means: numeric columns spread by their scale, sparse token counts. */
function randomRows(model: GlmModel, rows: number, seed: number): Float32Array {
  const random = seededRandom(seed);
  const gaussian = seededGaussian(random);
  const width = model.columns.length;
  const x = new Float32Array(rows * width);
  for (let i = 0; i < rows; i++)
    for (let j = 0; j < width; j++)
      x[i * width + j] =
        j < NUMERIC
          ? model.mean[j]! + 2 * model.scale[j]! * gaussian()
          : random() < 0.1
            ? Math.log1p(1 + Math.floor(4 * random()))
            : 0;
  return x;
}

const tmpDirs: string[] = [];
function tmpDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'classifier-onnx-'));
  tmpDirs.push(dir);
  return dir;
}
after(() => {
  for (const dir of tmpDirs) fs.rmSync(dir, { recursive: true, force: true });
});

async function loadedModel(model: GlmModel): Promise<{ dir: string; classifier: IncidentClassifier }> {
  const dir = tmpDir();
  writeModelFiles(dir, model, card);
  return { dir, classifier: await IncidentClassifier.load(dir) };
}

describe('ONNX export: parity with the TypeScript reference', () => {
  const cases = [
    { link: 'logit' as const, classes: ['healthy', 'incident'], seed: 11 },
    {
      link: 'softmax' as const,
      classes: ['healthy', 'cpu_saturation', 'memory_leak', 'disk_full', 'crash_loop', 'network'],
      seed: 12,
    },
  ];
  for (const { link, classes, seed } of cases)
    it(`${link}, ${classes.length} classes, ${NUMERIC + BUCKETS} columns, ${ROWS} rows: within 1e-5`, async (t) => {
      const model = randomModel(link, classes, seed);
      const { classifier } = await loadedModel(model);
      const width = model.columns.length;
      const x = randomRows(model, ROWS, seed + 100);
      const got = await classifier.classifyVectors(x, ROWS);
      assert.equal(got.length, ROWS * classes.length);
      let maxDiff = 0;
      let spread = 0;
      for (let i = 0; i < ROWS; i++) {
        const want = predictVector(model, x, i * width);
        let sum = 0;
        for (let k = 0; k < classes.length; k++) {
          const p = got[i * classes.length + k]!;
          maxDiff = Math.max(maxDiff, Math.abs(p - want[k]!));
          spread = Math.max(spread, Math.abs(want[k]! - 1 / classes.length));
          sum += p;
        }
        assert.ok(Math.abs(sum - 1) < 1e-5, `row ${i}: probabilities sum to ${sum}`);
      }
      t.diagnostic(`max abs diff ${maxDiff.toExponential(2)}`);
      assert.ok(maxDiff <= 1e-5, `max abs diff ${maxDiff}`);
      // Random weights that gave near-uniform probabilities would make parity trivial.
      assert.ok(spread > 0.3, `probabilities barely vary (${spread})`);
      await classifier.release();
    });
});

describe('IncidentClassifier.classify', () => {
  const classes = ['healthy', 'cpu_saturation', 'memory_leak', 'disk_full', 'crash_loop', 'network'];
  const model = randomModel('softmax', classes, 21);
  const random = seededRandom(22);
  const words = ['oomkilled', 'connection', 'refused', 'disk', 'full', 'restart', 'timeout', 'backoff'];
  const inputs: ModelInput[] = Array.from({ length: 200 }, (_, i) => ({
    // Every fifth input misses a feature: vectorize puts the training mean there.
    features: Object.fromEntries(
      model.columns
        .slice(0, NUMERIC)
        .filter((_, j) => (i + j) % 5 !== 0)
        .map((name, j) => [name, Math.round(100 * random() * 100) / 100 + j]),
    ),
    events: Array.from({ length: i % 4 }, () => ({
      kind: random() < 0.5 ? 'k8s' : 'log',
      message: `${words[Math.floor(random() * words.length)]} ${words[Math.floor(random() * words.length)]}`,
    })),
  }));

  it('gives one fact per input: class = argmax, the model version, probabilities as the reference', async () => {
    const { classifier } = await loadedModel(model);
    assert.equal(classifier.version, model.version);
    const facts = await classifier.classify(inputs);
    assert.equal(facts.length, inputs.length);
    const seen = new Set<string>();
    facts.forEach((fact, i) => {
      const probabilities = classes.map((c) => fact.probabilities[c]!);
      const best = probabilities.indexOf(Math.max(...probabilities));
      assert.equal(fact.class, classes[best]);
      assert.equal(fact.confidence, probabilities[best]);
      assert.equal(fact.modelVersion, model.version);
      const reference = predict(model, inputs[i]!);
      for (const c of classes)
        assert.ok(Math.abs(fact.probabilities[c]! - reference.probabilities[c]!) <= 1e-5, `input ${i}, ${c}`);
      seen.add(fact.class);
    });
    assert.ok(seen.size >= 3, `only ${[...seen].join(', ')} predicted`);
    // Batches of another size, one row, none, and two calls at once all agree with the batch.
    const plain = (list: readonly IncidentFact[]) => list.map(plainIncident);
    assert.deepEqual(plain(await classifier.classify(inputs.slice(0, 1))), plain(facts.slice(0, 1)));
    assert.deepEqual(plain(await classifier.classify(inputs.slice(0, 7))), plain(facts.slice(0, 7)));
    assert.deepEqual(await classifier.classify([]), []);
    const [a, b] = await Promise.all([
      classifier.classify(inputs.slice(0, 50)),
      classifier.classify(inputs.slice(50)),
    ]);
    assert.deepEqual(plain([...a, ...b]), plain(facts));
    await classifier.release();
  });

  for (const [link, names] of [
    ['softmax', classes],
    ['logit', ['healthy', 'incident']],
  ] as const)
    it(`${link}: each fact holds its row of the output, bit for bit, read late or serialized`, async () => {
      const { classifier } = await loadedModel(randomModel(link, [...names], 23));
      const k = names.length;
      const width = classifier.model.columns.length;
      // The plain path: each input vectorized alone, then inference on the ready vectors.
      const x = new Float32Array(inputs.length * width);
      inputs.forEach((input, i) =>
        vectorize(input, classifier.model.features, classifier.model.mean, x, i * width),
      );
      const expected = (await classifier.classifyVectors(x, inputs.length)).slice();
      const facts = await classifier.classify(inputs);
      // Another batch before any probability is read: the facts must not share its buffers.
      await classifier.classify([...inputs].reverse());
      facts.forEach((fact, i) => {
        const row = Array.from(expected.subarray(i * k, (i + 1) * k));
        const best = row.indexOf(Math.max(...row));
        const want = {
          class: names[best]!,
          confidence: row[best]!,
          probabilities: Object.fromEntries(names.map((c, j) => [c, row[j]!])),
          modelVersion: classifier.version,
        };
        assert.deepEqual({ ...fact.probabilities }, want.probabilities, `row ${i}`);
        assert.equal(fact.probabilities, fact.probabilities, 'the record is built once');
        assert.deepEqual(plainIncident(fact), want);
        // As a decision records it: JSON with every probability, the four fields in this order.
        const json = JSON.stringify(fact);
        assert.equal(json, JSON.stringify(want));
        assert.deepEqual(Object.keys(JSON.parse(json)), [
          'class',
          'confidence',
          'probabilities',
          'modelVersion',
        ]);
      });
      assert.match(util.inspect(facts[0]), /probabilities: \{/);
      await classifier.release();
    });
});

describe('IncidentClassifier.load refuses a bad model folder', () => {
  const model = randomModel('logit', ['healthy', 'incident'], 31);

  async function refusal(dir: string): Promise<ModelLoadError> {
    const err = await IncidentClassifier.load(dir).then(
      () => assert.fail('loaded'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ModelLoadError, String(err));
    assert.equal(err.name, 'ModelLoadError');
    assert.match(
      err.message,
      /retrain with `autoglm model train` or set AUTOGLM_MODEL_DIR=off for rules-only/,
    );
    return err;
  }

  it('a corrupt model.onnx: not an ONNX model', async () => {
    const dir = tmpDir();
    writeModelFiles(dir, model, card);
    const onnxFile = path.join(dir, 'model.onnx');
    const bytes = fs.readFileSync(onnxFile);
    fs.writeFileSync(onnxFile, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const truncated = await refusal(dir);
    assert.match(truncated.message, /model\.onnx: not an ONNX model \(protobuf parse failed/);
    assert.equal(truncated.file, onnxFile);
    fs.writeFileSync(onnxFile, '<html>502 Bad Gateway</html>\n');
    assert.match((await refusal(dir)).message, /model\.onnx: not an ONNX model/);
    fs.writeFileSync(onnxFile, '');
    assert.match((await refusal(dir)).message, /model\.onnx: empty file/);
  });

  it('an ONNX graph of another training: version mismatch', async () => {
    const dir = tmpDir();
    writeModelFiles(dir, model, card);
    const other = randomModel('logit', ['healthy', 'incident'], 31, 'incident-20260106090000-0badf00d');
    fs.writeFileSync(path.join(dir, 'model.onnx'), glmToOnnx(other));
    const err = await refusal(dir);
    assert.match(
      err.message,
      /model\.onnx: version incident-20260106090000-0badf00d does not match model\.json's incident-20260105120000-0000001f/,
    );
  });

  it('an ONNX graph of another width: the input shape is named', async () => {
    const dir = tmpDir();
    writeModelFiles(dir, model, card);
    const narrow = { ...model, features: model.features.slice(0, NUMERIC) };
    const narrowModel = {
      ...narrow,
      columns: columnsOf(narrow.features),
      mean: model.mean.slice(0, NUMERIC),
      scale: model.scale.slice(0, NUMERIC),
      weights: model.weights.slice(0, NUMERIC),
    };
    fs.writeFileSync(path.join(dir, 'model.onnx'), glmToOnnx(narrowModel));
    const err = await refusal(dir);
    assert.match(err.message, /input "x" has shape \[batch, 16\], expected \[batch, 80\]/);
    assert.match(err.message, /"columns" metadata does not match model\.json/);
  });

  it('a model.json that is not a GlmModel: the field is named', async () => {
    const dir = tmpDir();
    writeModelFiles(dir, model, card);
    const jsonFile = path.join(dir, 'model.json');
    fs.writeFileSync(jsonFile, JSON.stringify({ ...model, scale: model.scale.slice(1) }));
    assert.match(
      (await refusal(dir)).message,
      /model\.json: scale: expected 80 entries \(one per column\), got 79/,
    );
    fs.writeFileSync(jsonFile, JSON.stringify({ ...model, link: 'probit' }));
    assert.match((await refusal(dir)).message, /model\.json: link: /);
    fs.writeFileSync(jsonFile, '{"name": ');
    assert.match((await refusal(dir)).message, /model\.json: not JSON/);
    assert.throws(() => readModelJson(dir), ModelLoadError);
  });

  it('missing files and folders', async () => {
    const dir = tmpDir();
    assert.match((await refusal(path.join(dir, 'nowhere'))).message, /nowhere: no such model folder/);
    writeModelFiles(dir, model, card);
    fs.rmSync(path.join(dir, 'model.onnx'));
    assert.match((await refusal(dir)).message, /model\.onnx: missing/);
    // Every problem of the folder in one refusal: a bad model.json does not hide a missing model.onnx.
    fs.writeFileSync(path.join(dir, 'model.json'), '{"name": ');
    const both = (await refusal(dir)).message;
    assert.match(both, /refused:\n  - model\.json: not JSON .*\n  - model\.onnx: missing\n/);
    fs.rmSync(path.join(dir, 'model.json'));
    assert.match((await refusal(dir)).message, /  - model\.json: missing\n  - model\.onnx: missing\n/);
  });
});

describe('model files', () => {
  it('writes the folder, reads model.json back as written, and stamps every rewrite', () => {
    const dir = path.join(tmpDir(), 'incident');
    const model = randomModel('softmax', ['a', 'b', 'c'], 41);
    const written = writeModelFiles(dir, model, card);
    assert.deepEqual(written.files.map((f) => path.basename(f)).sort(), [
      'card.json',
      'card.md',
      'model.json',
      'model.onnx',
    ]);
    assert.deepEqual(readModelJson(dir), model);
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(dir, 'card.json'), 'utf8')), card.json);
    const before = modelStamp(dir);
    assert.equal(modelStamp(dir), before);
    writeModelFiles(dir, { ...model, version: 'incident-20260107000000-00000042' }, card);
    assert.notEqual(modelStamp(dir), before);
    assert.match(modelStamp(path.join(dir, 'none')), /model\.onnx:missing/);
  });
});

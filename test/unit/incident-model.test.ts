/**
 * decide's incident classifier: the shipped model loads and classifies; a changed model folder is
 * checked before it is swapped in; a corrupt one is refused (counted) and the last good model keeps
 * classifying; a missing model is a clear start-up error.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { repoRoot } from '../../infra/paths.js';
import { readModelJson, writeModelFiles } from '../../services/classifier/model-files.js';
import { generateScenarios } from '../../services/classifier/scenarios.js';
import { createLogger } from '../../services/common/logger.js';
import { IncidentModel } from '../../services/decide/incident-model.js';

const SHIPPED = path.join(repoRoot, 'models', 'incident');

describe('IncidentModel (decide)', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'incident-model-'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('hot-swaps a checked new model and refuses a corrupt one, keeping the last good model', async () => {
    const dir = path.join(tmp, 'model');
    fs.cpSync(SHIPPED, dir, { recursive: true });
    const registry = new Registry();
    const metric = async (name: string, labels: Record<string, string>) =>
      (await registry.getSingleMetric(name)?.get())?.values.find((v) =>
        Object.entries(labels).every(([k, x]) => v.labels[k] === x),
      )?.value ?? 0;
    const model = await IncidentModel.load({ dir, intervalMs: 0, logger: createLogger('silent'), registry });
    const rows = generateScenarios({ rows: 20, seed: 5 });
    assert.equal(rows.length, 20);
    /** The version each row was classified with: one answer per row, never an empty list. */
    const versions = async () => {
      const facts = await model.classify(rows);
      assert.equal(facts.length, rows.length, 'one answer per row');
      return new Set(facts.map((f) => f?.modelVersion));
    };
    const first = model.version;
    assert.deepEqual(await versions(), new Set([first]));

    fs.writeFileSync(path.join(dir, 'model.onnx'), 'not a model');
    await model.check();
    assert.equal(await metric('autoglm_decide_model_reloads_total', { result: 'refused' }), 1);
    assert.equal(model.version, first, 'the last good model keeps classifying');
    assert.deepEqual(await versions(), new Set([first]));

    // A new version of the model (every class's intercept moved): checked, then swapped in.
    const next = readModelJson(SHIPPED);
    const card = JSON.parse(fs.readFileSync(path.join(SHIPPED, 'card.json'), 'utf8'));
    const version = `${next.name}-20990101000000-0badc0de`;
    writeModelFiles(
      dir,
      { ...next, version, intercepts: next.intercepts.map((b, i) => b + i * 0.01) },
      { markdown: '# test model\n', json: { ...card, version } },
    );
    await model.check();
    assert.equal(await metric('autoglm_decide_model_reloads_total', { result: 'applied' }), 1);
    assert.equal(model.version, version);
    assert.deepEqual(await versions(), new Set([version]));
    assert.equal(await metric('autoglm_decide_model_info', { version }), 1);
    await model.stop();
  });

  it('refuses to start without a model, naming the folder and the fix', async () => {
    await assert.rejects(
      IncidentModel.load({
        dir: path.join(tmp, 'nowhere'),
        intervalMs: 0,
        logger: createLogger('silent'),
        registry: new Registry(),
      }),
      (err: Error) => err.name === 'ModelLoadError' && /AUTOGLM_MODEL_DIR/.test(err.message),
    );
  });
});

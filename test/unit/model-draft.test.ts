import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { modelDraftCommand } from '../../cli/model-draft-command.js';
import { parseModelConfig } from '../../services/classifier/model-config.js';
import { draftModelConfig } from '../../services/draft/model-draft.js';

const EXPECTED = {
  name: 'cpu-leak-deploy',
  model_type: 'GLM',
  link_function: 'softmax',
  regularization: { alpha: 1, lambda: 0.01 },
  classes: ['cpu_saturation', 'memory_leak', 'bad_deploy'],
  features: ['slog(cpu.deviation)', 'slog(mem.deviation)', 'slog(errors.deviation)'],
};

describe('autoglm model draft: a model config from a sentence', () => {
  it("drafts the issue's English example into a config the validation takes", () => {
    const d = draftModelConfig(
      'a softmax model over cpu, memory and error deviations with strong L1, classes cpu, leak, deploy',
    );
    assert.deepEqual(d.questions, []);
    assert.deepEqual(d.config, EXPECTED);
    assert.ok('config' in parseModelConfig(d.config));
    const lambda = d.filled.find((f) => f.field === 'regularization.lambda');
    assert.equal(lambda?.words, 'strong');
  });

  it('drafts the same config from Chinese', () => {
    const d = draftModelConfig('用 cpu、内存和错误率的偏差训练 softmax 模型,强 L1 正则,类别 cpu、泄漏、发布');
    assert.equal(d.language, 'zh');
    assert.deepEqual(d.questions, []);
    assert.deepEqual(d.config, EXPECTED);
  });

  it('reads event text, a logistic link, a name, class weights and the class list before the features', () => {
    const d = draftModelConfig(
      'classes healthy and dependency outage, a balanced logistic model over latency deviations and event text, named dep-check',
    );
    assert.deepEqual(d.questions, []);
    assert.deepEqual(d.config, {
      name: 'dep-check',
      model_type: 'GLM',
      link_function: 'logit',
      regularization: { alpha: 0.5, lambda: 'auto' },
      classes: ['healthy', 'dependency_outage'],
      features: ['slog(latency.deviation)', { name: 'event_text', type: 'event_tokens', buckets: 128 }],
      class_weight: 'balanced',
    });
  });

  it('asks rather than guesses: a statistic, an unknown metric or class, one class, logit with three', () => {
    const noStat = draftModelConfig('a model over cpu and memory, classes cpu, leak');
    assert.equal(noStat.config, undefined);
    assert.match(noStat.questions.join('\n'), /Which statistic of cpu, mem/);
    const gpu = draftModelConfig('a model over gpu deviations, classes cpu, leak');
    assert.match(gpu.questions.join('\n'), /"gpu" is not a metric .*did you mean "cpu"/);
    const gpuZh = draftModelConfig('类别 cpu、泄漏,用 gpu 偏差');
    assert.match(gpuZh.questions.join('\n'), /"gpu" is not a metric/);
    const banana = draftModelConfig('a model over cpu deviations, classes cpu, banana');
    assert.match(
      banana.questions.join('\n'),
      /"banana" is not a class .*the classes are healthy, cpu_saturation/,
    );
    assert.match(banana.questions.join('\n'), /Only one class/);
    const near = draftModelConfig('a model over cpu deviations, classes cpu, leek');
    assert.match(near.questions.join('\n'), /"leek" .*did you mean "memory_leak"/);
    const logit = draftModelConfig('a logistic model over cpu deviations, classes cpu, leak, disk');
    assert.match(logit.questions.join('\n'), /logistic model takes exactly 2 classes/);
    const noClasses = draftModelConfig('a softmax model over cpu deviations');
    assert.match(noClasses.questions.join('\n'), /Which classes/);
  });

  it('refuses an empty sentence and one in another language, saying what to write', () => {
    assert.match(draftModelConfig('   ').error ?? '', /empty/);
    assert.match(
      draftModelConfig('ein Modell über CPU-Abweichungen mit Klassen für Lecks').error ?? '',
      /English or Chinese/,
    );
  });

  it('writes the file only when nothing is left to ask and it is new (or with --force)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autoglm-model-draft-'));
    const lines: string[] = [];
    const io = { out: (t: string) => lines.push(t), err: (t: string) => lines.push(t) };
    const out = path.join(dir, 'm.config.json');
    try {
      const sentence = 'a softmax model over cpu and memory deviations, classes cpu, leak';
      assert.equal(modelDraftCommand([sentence, '--out', out], io), 0);
      const written = JSON.parse(fs.readFileSync(out, 'utf8')) as unknown;
      assert.ok('config' in parseModelConfig(written));
      assert.equal(modelDraftCommand([sentence, '--out', out], io), 1, 'an existing file is not replaced');
      assert.match(lines.join('\n'), /exists; nothing written/);
      const partial = path.join(dir, 'partial.json');
      assert.equal(
        modelDraftCommand(['a model over cpu deviations, classes cpu, leak, banana', '--out', partial], io),
        1,
      );
      assert.equal(fs.existsSync(partial), false, 'nothing written while questions are left');
      modelDraftCommand(
        ['a model over cpu deviations, classes cpu, leak, banana', '--out', partial, '--force'],
        io,
      );
      assert.deepEqual((JSON.parse(fs.readFileSync(partial, 'utf8')) as { classes: string[] }).classes, [
        'cpu_saturation',
        'memory_leak',
      ]);
      assert.equal(modelDraftCommand([], io), 2);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

/**
 * decide's start checks every file it reads before anything connects and lists every problem in
 * one error: the actuators' settings and files, the rule files, the model folder and the runbooks
 * (it stopped at the first of these, so a fix met the next at the next start).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { repoRoot } from '../../infra/paths.js';
import { ModelLoadError } from '../../services/classifier/model-files.js';
import { ConfigError, loadConfig } from '../../services/common/config.js';
import { createLogger } from '../../services/common/logger.js';
import { startDecide } from '../../services/decide/main.js';
import { RuleLoadError } from '../../services/decide/rule-file.js';
import { RunbookLoadError } from '../../services/runbooks/runbook-files.js';
import { fastCpuRule } from '../support/fast-loop.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'decide-start-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const write = (file: string, text: string) => {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text, { mode: 0o600 });
  return file;
};

/** A folder of its own under tmp, with these files. */
const folder = (name: string, files: Record<string, string> = {}) => {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  for (const [file, text] of Object.entries(files)) write(path.join(dir, file), text);
  return dir;
};

const http = (name: string, url: string) => {
  const rule = fastCpuRule(name, '5s');
  return JSON.stringify({
    ...rule,
    event: { ...rule.event, params: { ...rule.event.params, actuator: { type: 'http', url } } },
  });
};

const command = (name: string) => {
  const rule = fastCpuRule(name, '5s');
  return JSON.stringify({
    ...rule,
    conditions: { all: [{ fact: 'mem.avg', operator: 'greaterThan', value: 85 }] },
    event: {
      ...rule.event,
      params: { ...rule.event.params, actuator: { type: 'command', command: 'scale.sh' } },
    },
  });
};

/** decide's start refused with these settings; nothing may connect (the broker's port is closed). */
async function refusal(settings: Record<string, string>): Promise<ConfigError> {
  const config = loadConfig({
    KAFKA_BROKERS: '127.0.0.1:1',
    TEMPORAL_ADDRESS: '127.0.0.1:1',
    AUTOGLM_RUNBOOK_HITS: '0',
    AUTOGLM_MODEL_DIR: 'off',
    ...settings,
  });
  const logger = createLogger('silent');
  const err = await startDecide({ config, logger, registry: new Registry() }).then(
    async (service) => {
      await service.stop();
      return undefined;
    },
    (e: unknown) => e,
  );
  assert.ok(err instanceof ConfigError, `a ConfigError, not ${String(err)}`);
  assert.equal(err.name, 'ConfigError');
  return err;
}

describe('decide start', () => {
  it('lists a bad actuator setting, a bad rule file, a bad model folder and a bad runbook in one error', async () => {
    const key = write(path.join(tmp, 'hmac.key'), 'short\n');
    const rules = folder('rules', { 'bad.json': '{"name": "bad",' });
    const model = folder('model', {
      'model.json': fs.readFileSync(path.join(repoRoot, 'models', 'incident', 'model.json'), 'utf8'),
      'model.onnx': 'not a model',
    });
    const runbooks = folder('runbooks', { 'cpu.md': '# CPU\n' });
    const err = await refusal({
      AUTOGLM_ACTUATOR_HMAC_KEY_FILE: key,
      AUTOGLM_RULES_DIR: rules,
      AUTOGLM_MODEL_DIR: model,
      AUTOGLM_RUNBOOKS_DIR: runbooks,
      AUTOGLM_RUNBOOK_HITS: '3',
    });
    const fix = 'retrain with `autoglm model train` or set AUTOGLM_MODEL_DIR=off for rules-only';
    assert.equal(err.problems.length, 4, err.message);
    assert.equal(
      err.problems[0],
      `AUTOGLM_ACTUATOR_HMAC_KEY_FILE=${key}: the key must be at least 16 bytes (for example: openssl rand -hex 32)`,
    );
    assert.match(err.problems[1]!, new RegExp(`^AUTOGLM_RULES_DIR=${rules}: bad\\.json: not valid JSON`));
    assert.match(
      err.problems[2]!,
      new RegExp(`^AUTOGLM_MODEL_DIR=${model}: model\\.onnx: not an ONNX model .*; ${escape(fix)}$`),
    );
    assert.equal(
      err.problems[3],
      `AUTOGLM_RUNBOOKS_DIR=${runbooks}: cpu.md:1: no front matter; start the file with a line "---", then "title: …" (and classes, rules, actions, lang), then "---"`,
    );
    // Each part also as its own error, to tell them apart.
    const parts = (err as ConfigError & { parts: Record<string, unknown> }).parts;
    assert.ok(parts.rules instanceof RuleLoadError);
    assert.ok(parts.model instanceof ModelLoadError);
    assert.ok(parts.runbooks instanceof RunbookLoadError);
  });

  it("checks the rules' actuators when the actuator files are refused, a missing command folder listed once", async () => {
    const key = write(path.join(tmp, 'short.key'), 'short\n');
    const commands = path.join(tmp, 'no-such-commands');
    const rules = folder('rules-actuators', {
      'outside.json': http('outside', 'https://elsewhere.example.com/scale'),
      'scale.json': command('scale'),
    });
    const err = await refusal({
      AUTOGLM_ACTUATOR_HMAC_KEY_FILE: key,
      AUTOGLM_COMMAND_DIR: commands,
      AUTOGLM_HTTP_ALLOWED_ORIGINS: 'https://ops.example.com',
      AUTOGLM_HTTP_ACTUATOR_URL: 'https://ops.example.com/actuate',
      AUTOGLM_RULES_DIR: rules,
    });
    assert.equal(err.problems.length, 3, err.message);
    assert.match(err.problems[0]!, /^AUTOGLM_ACTUATOR_HMAC_KEY_FILE=/);
    assert.equal(
      err.problems[1],
      `AUTOGLM_COMMAND_DIR=${commands}: not a directory; set it to the folder that holds the allowlisted command actuators, or leave it empty to run no commands`,
    );
    assert.match(
      err.problems[2]!,
      new RegExp(
        `^AUTOGLM_RULES_DIR=${rules}: outside\\.json: event\\.params\\.actuator: .*elsewhere\\.example\\.com`,
      ),
    );
  });

  it('names a missing rules folder and model folder once each', async () => {
    const rules = path.join(tmp, 'no-rules');
    const model = path.join(tmp, 'no-model');
    const err = await refusal({ AUTOGLM_RULES_DIR: rules, AUTOGLM_MODEL_DIR: model });
    assert.deepEqual(err.problems, [
      `AUTOGLM_RULES_DIR=${rules}: rules folder not found (set AUTOGLM_RULES_DIR)`,
      `AUTOGLM_MODEL_DIR=${model}: no such model folder; retrain with \`autoglm model train\` or set AUTOGLM_MODEL_DIR=off for rules-only`,
    ]);
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

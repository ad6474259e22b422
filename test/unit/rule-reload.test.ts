import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { repoRoot } from '../../infra/paths.js';
import { createLogger } from '../../services/common/logger.js';
import { Decider } from '../../services/decide/decider.js';
import { RuleReloader } from '../../services/decide/rule-reload.js';
import { loadRuleSet } from '../../services/decide/rule-set.js';

/** A plain static-threshold CPU rule (cpu.avg > 85): the fixture these tests vary. */
const starter = fs.readFileSync(path.join(repoRoot, 'test', 'fixtures', 'rules', 'cpu-static.json'), 'utf8');
const T0 = Date.parse('2026-01-05T12:00:00Z');
const hot = {
  entity: 'web-1',
  seq: 0,
  window: { start: T0 - 30_000, end: T0 },
  features: { 'cpu.avg': 95, 'cpu.count': 6, 'mem.avg': 95 },
  events: [],
  ts: T0,
};

describe('RuleReloader', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rule-reload-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'rule.json');

  it('swaps in a checked change, refuses a broken one (keeping the last good set), then takes the fix', async () => {
    fs.writeFileSync(file, starter);
    const load = () => loadRuleSet(dir);
    const first = await load();
    assert.ok(first.ruleSet, first.problems.join('\n'));
    const decider = new Decider(first.ruleSet);
    const registry = new Registry();
    const reloader = new RuleReloader({
      dir,
      decider,
      load,
      intervalMs: 0,
      logger: createLogger('silent'),
      registry,
    });
    const metric = async (name: string, labels: Record<string, string> = {}) =>
      (await registry.getSingleMetric(name)?.get())?.values.find((v) =>
        Object.entries(labels).every(([k, x]) => v.labels[k] === x),
      )?.value ?? 0;
    const rules = async () => (await decider.decide(hot, T0)).decisions.map((d) => d.rule);

    await reloader.check();
    assert.equal(
      await metric('autoglm_decide_rule_reloads_total', { result: 'applied' }),
      0,
      'no change, no reload',
    );

    const broken = JSON.parse(starter);
    broken.conditions.all[0].operator = 'greaterThen';
    fs.writeFileSync(file, JSON.stringify(broken));
    await reloader.check();
    assert.equal(await metric('autoglm_decide_rule_reloads_total', { result: 'refused' }), 1);
    assert.equal(await metric('autoglm_decide_rules_refused'), 1);
    assert.equal(decider.ruleSet, first.ruleSet, 'the last good set keeps deciding');
    assert.deepEqual(await rules(), ['cpu-saturation-scale-out']);
    await reloader.check();
    assert.equal(
      await metric('autoglm_decide_rule_reloads_total', { result: 'refused' }),
      1,
      'refused once per change',
    );

    const fixed = JSON.parse(starter);
    fixed.name = 'mem-saturation';
    fixed.conditions.all[0].fact = 'mem.avg';
    fs.writeFileSync(file, JSON.stringify(fixed));
    await reloader.check();
    assert.equal(await metric('autoglm_decide_rule_reloads_total', { result: 'applied' }), 1);
    assert.equal(await metric('autoglm_decide_rules_refused'), 0);
    assert.notEqual(decider.ruleSet.hash, first.ruleSet.hash);
    assert.equal(await metric('autoglm_decide_rule_set_info', { hash: decider.ruleSet.hash }), 1);
    assert.deepEqual(await rules(), ['mem-saturation']);
    await reloader.stop();
  });
});

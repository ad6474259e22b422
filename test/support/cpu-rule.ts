import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../../infra/paths.js';
import type { Observation } from '../../services/common/contracts.js';
import { parseRuleFile, type LoadedRule } from '../../services/decide/rule-file.js';

/**
 * The starter-shaped CPU rule of test/fixtures/rules/cpu-static.json (cpu.avg > 85), with `params`
 * over its event's params (e.g. `for`, `keepFiringFor`), loaded as decide loads a rule file.
 */
export function cpuStaticRule(params: Record<string, unknown> = {}): LoadedRule {
  const file = path.join(repoRoot, 'test', 'fixtures', 'rules', 'cpu-static.json');
  const json = JSON.parse(fs.readFileSync(file, 'utf8'));
  Object.assign(json.event.params, params);
  const r = parseRuleFile(file, JSON.stringify(json));
  assert.ok('rule' in r, JSON.stringify(r));
  return r.rule;
}

/** An observation of `entity` at 95% CPU whose 30 s window ends at `end`: the rule above matches it. */
export function hotCpu(entity: string, end: number): Observation {
  return {
    entity,
    seq: 0,
    window: { start: end - 30_000, end },
    features: { 'cpu.avg': 95, 'cpu.count': 6 },
    events: [],
    ts: end,
  };
}

/**
 * The scenario suite's rules: the starter rules and catalog without the maintenance windows, so
 * its judgement (every injected incident acted on) does not depend on the day and hour it runs.
 * The starter windows hold search's pods on weekend nights: a CI run then lost its bad deploys.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { suiteRulesDir } from '../../cli/scenario-suite.js';
import { repoRoot } from '../../infra/paths.js';

describe('the scenario suite rules folder', () => {
  it('keeps the catalog and leaves out the maintenance windows the starter context has', () => {
    const starter = path.join(repoRoot, 'rules', 'context');
    assert.ok(
      fs.existsSync(path.join(starter, 'maintenance.json')),
      'the starter context has maintenance windows',
    );
    const dir = suiteRulesDir();
    try {
      const context = fs.readdirSync(path.join(dir, 'context'));
      assert.ok(context.includes('catalog.json'), context.join(', '));
      assert.ok(!context.includes('maintenance.json'), context.join(', '));
      assert.ok(fs.readdirSync(dir).some((f) => f.startsWith('error-spike-after-deploy-rollback')));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

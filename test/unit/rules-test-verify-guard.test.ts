/**
 * `rules test` fails a case that decides while its own facts already pass the rule's verification
 * (services/decide/rule-verify-guard.ts): an action that changes nothing would be verified. The
 * fixture is the tier 2-4 no-errors-metric rollback twin, which decides from 1.5 deviations up: with
 * its verify before 34dbe3d (`latency.deviation < 2` alone) its own 1.5-deviation case is caught.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { repoRoot } from '../../infra/paths.js';
import { readRuleTestFile, runCase, type RuleTestCase } from '../../services/decide/rule-tests.js';
import { loadRuleSet } from '../../services/decide/rule-set.js';
import { verifyText } from '../../services/decide/rule-verify-guard.js';

const NAME = 'bad-deploy-no-errors-metric-rollback';
const rulesDir = path.join(repoRoot, 'rules');
/** Both twins (a case of one may expect the other's decision). */
const twins = [NAME, `${NAME}-tier1`].map(
  (n) => JSON.parse(fs.readFileSync(path.join(rulesDir, `${n}.json`), 'utf8')) as Record<string, any>,
);
const testFile = path.join(rulesDir, `${NAME}.test.json`);
const read = readRuleTestFile(testFile);
if ('problems' in read) throw new Error(read.problems.join('\n'));
const cases = read.cases;
/** The case at 1.5 deviations (the decision bar) that rolls back. */
const atTheBar = cases.find((c) => c.facts['latency.deviation'] === 1.5 && c.expect.length > 0)!;
/** A case far above the bar (6 deviations) that rolls back. */
const farAbove = cases.find((c) => c.facts['latency.deviation'] === 6 && c.expect.length > 0)!;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rules-verify-guard-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** The twins alone in a folder (with the starter context), `change` applied to copies of both. */
async function setWith(change: (r: Record<string, any>) => void) {
  const dir = fs.mkdtempSync(path.join(tmp, 'set-'));
  fs.cpSync(path.join(rulesDir, 'context'), path.join(dir, 'context'), { recursive: true });
  for (const twin of twins) {
    const rule = structuredClone(twin);
    change(rule);
    fs.writeFileSync(path.join(dir, `${rule.name as string}.json`), JSON.stringify(rule));
  }
  const loaded = await loadRuleSet(dir);
  assert.ok(loaded.ruleSet, loaded.problems.join('\n'));
  return loaded.ruleSet;
}
const withoutRelativeTo = (r: Record<string, any>) => delete r.event.params.verify.relativeTo;

describe('rules test: a case must not already pass its own rule’s verification', () => {
  it('passes the twins as shipped (verify.relativeTo on latency.avg) on every case of their test files', async () => {
    const set = await setWith(() => {});
    for (const name of [NAME, `${NAME}-tier1`]) {
      const file = path.join(rulesDir, `${name}.test.json`);
      const own = readRuleTestFile(file);
      assert.ok('cases' in own);
      for (const c of own.cases) {
        const r = await runCase(set, file, c);
        assert.ok(r.passed, `${c.name}: ${r.details.join('\n')}`);
      }
    }
  });

  it('fails the decision-bar case with the verify of before (latency.deviation < 2 alone), naming rule, case and condition', async () => {
    const set = await setWith(withoutRelativeTo);
    const r = await runCase(set, testFile, atTheBar);
    assert.equal(r.passed, false);
    assert.deepEqual(r.details, [
      `rule "${NAME}": case '${atTheBar.name}' decides, and its own facts already pass verify.conditions ` +
        '(latency.deviation < 2): an action that changes nothing would be verified; make verify stricter ' +
        'than the decision or add relativeTo',
    ]);
    // Far above the verify bar, the same verify is not met on the decision's facts.
    assert.ok((await runCase(set, testFile, farAbove)).passed);
  });

  it('takes an explicit opt-out with a reason, and fails an opt-out that is no longer needed', async () => {
    const set = await setWith(withoutRelativeTo);
    const why = 'this rule verifies with an absolute bar on purpose';
    const optedOut: RuleTestCase = { ...atTheBar, verifyMayAlreadyPass: why };
    assert.ok((await runCase(set, testFile, optedOut)).passed);
    const stale = await runCase(set, testFile, { ...farAbove, verifyMayAlreadyPass: why });
    assert.deepEqual(stale.details, [
      `case '${farAbove.name}' gives verifyMayAlreadyPass, but no rule it decides passes its verification on the case's facts: remove the field`,
    ]);
    const file = path.join(tmp, 'short.test.json');
    fs.writeFileSync(
      file,
      JSON.stringify({ cases: [{ name: 'x', expect: [], verifyMayAlreadyPass: 'ok' }] }),
    );
    const short = readRuleTestFile(file);
    assert.ok('problems' in short);
    assert.match(short.problems.join('\n'), /cases\.0\.verifyMayAlreadyPass: say why/);
  });

  it('does not count a verification that is unknown on the case’s facts (a fact verify reads is not in the case)', async () => {
    const set = await setWith((r) => {
      withoutRelativeTo(r);
      r.event.params.verify.conditions = {
        all: [{ fact: 'latency.p95', operator: 'lessThan', value: 1000 }],
      };
    });
    const { 'latency.p95': _p95, ...facts } = atTheBar.facts;
    assert.ok((await runCase(set, testFile, { ...atTheBar, facts })).passed);
    // With the fact there, the same verify passes on the case's facts: caught.
    assert.equal((await runCase(set, testFile, atTheBar)).passed, false);
  });

  it('writes verify conditions as an author reads them', () => {
    assert.equal(
      verifyText(
        {
          all: [
            { fact: 'errors.avg', operator: 'lessThan', value: 2 },
            {
              any: [
                { fact: 'cpu.deviation', operator: 'lessThan', value: 2 },
                { not: { fact: 'cpu.avg', operator: 'greaterThanInclusive', value: 70 } },
              ],
            },
          ],
        },
        [{ fact: 'latency.avg', atMost: 0.95 }],
      ),
      'errors.avg < 2 and (cpu.deviation < 2 or not cpu.avg >= 70) and latency.avg <= 0.95 × its decision-time value',
    );
  });
});

import assert from 'node:assert/strict';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { repoRoot } from '../../infra/paths.js';
import { fleetDataset, type FleetRow } from '../../services/classifier/fleet-dataset.js';
import { readModelJson } from '../../services/classifier/model-files.js';
import type { GlmModel } from '../../services/classifier/model-types.js';
import { predict } from '../../services/classifier/predict.js';
import { Decider } from '../../services/decide/decider.js';
import { loadRuleSet, type RuleSet } from '../../services/decide/rule-set.js';

/**
 * The starter rules and the shipped model on the fleet simulator's traces with `errors` reported
 * under another name (http_5xx_rate) and no ingest mapping: the errors rules cannot judge, their
 * no-errors-metric twins must decide the bad deploys and the dependency outages, and nothing may
 * roll back or open a breaker on a healthy, noisy or other incident's entity.
 */
const TWINS = new Set([
  'bad-deploy-no-errors-metric-rollback',
  'bad-deploy-no-errors-metric-rollback-tier1',
  'dependency-outage-no-errors-metric-open-circuit-breaker',
]);
const RIGHT: Record<string, string> = {
  bad_deploy: 'rollback',
  dependency_outage: 'open_circuit_breaker',
};

/**
 * Per (round, entity): the scenario and every rule that decided, fed in time order through one
 * Decider. A row sampled before sense emitted a new observation repeats the previous one (sense
 * emits every 5 s): it is left out, as decide sees each observation once.
 */
async function decideRounds(
  set: RuleSet,
  model: GlmModel,
  rows: readonly FleetRow[],
): Promise<Array<{ scenario: string; entity: string; decided: Array<{ rule: string; action: string }> }>> {
  const rounds = new Map<string, FleetRow[]>();
  for (const r of rows) {
    const key = `${r.round}/${r.entity}`;
    const list = rounds.get(key) ?? [];
    list.push(r);
    rounds.set(key, list);
  }
  const out: Array<{ scenario: string; entity: string; decided: Array<{ rule: string; action: string }> }> =
    [];
  for (const list of rounds.values()) {
    list.sort((a, b) => a.atS - b.atS);
    const decider = new Decider(set);
    const decided: Array<{ rule: string; action: string }> = [];
    let previous: FleetRow['features'] | undefined;
    for (const r of list) {
      if (previous !== undefined && sameFeatures(previous, r.features)) continue;
      previous = r.features;
      // Event time: Monday noon plus the round and the seconds into it (no clock).
      const end = Date.UTC(2026, 0, 5, 12) + r.round * 300_000 + r.atS * 1000;
      const obs = {
        entity: r.entity,
        seq: 0,
        window: { start: end - 30_000, end },
        features: r.features as Record<string, number>,
        events: r.events.map((e) => ({ kind: e.kind, message: e.message, ts: end - 1000 })),
        ts: end,
      };
      const step = await decider.decide(obs, end, predict(model, r));
      for (const d of step.decisions) decided.push({ rule: d.rule, action: d.action });
    }
    out.push({ scenario: list[0]!.scenario ?? 'quiet', entity: list[0]!.entity, decided });
  }
  return out;
}

function sameFeatures(a: FleetRow['features'], b: FleetRow['features']): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

describe('the starter rules on a fleet whose errors metric goes by another name', () => {
  let set: RuleSet;
  let model: GlmModel;
  before(async () => {
    const loaded = await loadRuleSet(path.join(repoRoot, 'rules'));
    assert.ok(loaded.ruleSet, loaded.problems?.join('\n'));
    set = loaded.ruleSet;
    model = readModelJson(path.join(repoRoot, 'models', 'incident'));
  });

  // Observed every 3 s for the first 30 s (the deploy event's window), then as the loop goes on.
  const sampleAtS = [...Array.from({ length: 10 }, (_, i) => 3 + 3 * i), 45, 60, 75, 90];

  it('rolls back the bad deploys and opens the breaker on outages, with no wrong or healthy action', async () => {
    const rows = fleetDataset({ seed: 5, rounds: 4, rename: { errors: 'http_5xx_rate' }, sampleAtS });
    const rounds = await decideRounds(set, model, rows);
    const count = (scenario: string) => rounds.filter((r) => r.scenario === scenario);
    for (const scenario of Object.keys(RIGHT)) {
      const incidents = count(scenario);
      assert.ok(incidents.length >= 10, `${scenario}: ${incidents.length} rounds`);
      const right = incidents.filter((r) =>
        r.decided.some((d) => TWINS.has(d.rule) && d.action === RIGHT[scenario]),
      ).length;
      // Measured: 16 of 16 bad deploys and 16 of 16 outages (seed 5, 4 rounds).
      assert.ok(right >= 0.85 * incidents.length, `${scenario}: ${right} of ${incidents.length} decided`);
    }
    // No rollback or breaker anywhere else: healthy, noisy, or another class's entity.
    assert.ok(count('noisy_healthy').length >= 10, 'noisy healthy rounds to judge');
    for (const r of rounds) {
      const wrong = r.decided.filter(
        (d) =>
          (d.action === 'rollback' || d.action === 'open_circuit_breaker') && RIGHT[r.scenario] !== d.action,
      );
      assert.deepEqual(wrong, [], `${r.scenario}: ${JSON.stringify(wrong)}`);
    }
    // The errors rules cannot judge without errors facts: only the twins decide.
    for (const r of rounds)
      for (const d of r.decided)
        assert.ok(
          !d.rule.startsWith('error-spike') && d.rule !== 'dependency-outage-open-circuit-breaker',
          d.rule,
        );
  });

  it('does not roll back a noisy healthy entity after a good deploy, on baselines as young as the live mix has', async () => {
    // The live mix's fleet (bench/classifier-live-mix.ts): 35 s of history before the incidents, so
    // every baseline is young (it learns a bad deploy's latency within 20 s), and an observation every
    // 5 s for 4 minutes. A noisy entity deploys about every 100 s (deploys that go fine) and its
    // single latency samples swing 2-4 deviations up; the classifier may call it a bad deploy at 0.9.
    // One such sample (with the classifier's word) used to roll it back: 4 noisy entities of 64 here
    // with the rule of 5e04e82 and its shipped model (8 with the model being retrained then); the rule
    // now wants latency up at two observations in a row with the window's mean above normal.
    const rename = { errors: 'http_5xx_rate' };
    const every5s = Array.from({ length: 48 }, (_, i) => 5 + 5 * i);
    const rounds: Array<{
      scenario: string;
      entity: string;
      decided: Array<{ rule: string; action: string }>;
    }> = [];
    for (let seed = 1; seed <= 16; seed++) {
      const rows = fleetDataset({ seed, rounds: 1, historyMs: 35_000, rename, sampleAtS: every5s });
      rounds.push(...(await decideRounds(set, model, rows)));
    }
    const of = (scenario: string) => rounds.filter((r) => r.scenario === scenario);
    assert.ok(of('noisy_healthy').length >= 48, `${of('noisy_healthy').length} noisy healthy entities`);
    for (const r of rounds) {
      const wrong = r.decided.filter((d) => TWINS.has(d.rule) && RIGHT[r.scenario] !== d.action);
      assert.deepEqual(wrong, [], `${r.scenario} ${r.entity}: ${JSON.stringify(wrong)}`);
    }
    // And the bad deploys are still rolled back there (measured: 60 of 64; 63 with the retrained model).
    const bad = of('bad_deploy');
    const rolledBack = bad.filter((r) => r.decided.some((d) => TWINS.has(d.rule) && d.action === 'rollback'));
    assert.ok(
      rolledBack.length >= 0.9 * bad.length,
      `${rolledBack.length} of ${bad.length} bad deploys rolled back`,
    );
  });

  it('leaves the twins silent where errors are reported', async () => {
    const rows = fleetDataset({ seed: 5, rounds: 2, sampleAtS });
    const rounds = await decideRounds(set, model, rows);
    const twins = rounds.flatMap((r) => r.decided.filter((d) => TWINS.has(d.rule)));
    assert.deepEqual(twins, []);
    // And the errors rules still decide there (the twins did not replace them).
    assert.ok(rounds.some((r) => r.decided.some((d) => d.rule.startsWith('error-spike'))));
  });
});

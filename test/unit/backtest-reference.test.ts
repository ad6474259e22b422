/**
 * The backtest leaves out much of the Decider's work: observations the rules clear are checked
 * from the windows' view and never built (EntityWindows.addSampleUnbuilt), the classifier is asked
 * only where its answer could change a rule, and cleared observations wait behind those waiting
 * for the classifier's batch. Checked here against the plainest replay of the same cores: every
 * observation built by addSample, classified on its own by the shipped model, and given to the
 * Decider in order. The recording is the fleet simulator's (every entity samples every second, so
 * no window or baseline goes idle and the reference needs no eviction), with incidents of every
 * class and deploy events.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from '../../infra/paths.js';
import { runBacktest, type BacktestClassifier } from '../../services/backtest/backtest.js';
import { SCENARIO_CLASSES, type ScenarioClass } from '../../services/classifier/scenarios.js';
import { loadBacktestClassifier, loadBacktestRules } from '../../services/backtest/run.js';
import { loadConfig, type Config } from '../../services/common/config.js';
import type { MetricSample, OpsEvent } from '../../services/common/contracts.js';
import { Decider } from '../../services/decide/decider.js';
import { EpisodeTracker } from '../../services/decide/episodes.js';
import type { RuleSet } from '../../services/decide/rule-set.js';
import { FleetModel } from '../../services/fleet/fleet-model.js';
import { BaselineStore } from '../../services/sense/baseline.js';
import { baselineOptionsOf, windowOptionsOf } from '../../services/sense/sense-options.js';
import { EntityWindows } from '../../services/sense/windows.js';

/** The incident classes (the scenarios list healthy first). */
const CLASSES = SCENARIO_CLASSES.filter((c): c is Exclude<ScenarioClass, 'healthy'> => c !== 'healthy');

/** Nine pods of three services for three hours, a tick a second, an incident every ten minutes. */
function fleetRecording(): { samples: MetricSample[]; events: OpsEvent[] } {
  const fleet = new FleetModel({
    services: 3,
    podsPerService: 3,
    seed: 5,
    incidentTimeoutMs: 4 * 60_000,
    noisyDurationMs: 4 * 60_000,
    recoveryMs: 20_000,
    tickMs: 1000,
  });
  const samples: MetricSample[] = [];
  const events: OpsEvent[] = [];
  const start = Date.UTC(2026, 0, 5);
  const ids = fleet.entityIds;
  let k = 0;
  for (let t = start; t < start + 3 * 3_600_000; t += 1000) {
    if ((t - start) % 600_000 === 300_000) {
      fleet.inject({ class: CLASSES[k % CLASSES.length]!, entity: ids[k % ids.length]! }, t);
      k++;
    }
    const out = fleet.tick(t);
    samples.push(...out.samples);
    events.push(...out.events);
  }
  return { samples, events };
}

/** Every observation built, classified alone and decided in order: decisions and held-back matches by rule. */
async function reference(
  input: { samples: readonly MetricSample[]; events: readonly OpsEvent[] },
  config: Config,
  ruleSet: RuleSet,
  classifier: BacktestClassifier,
) {
  const windows = new EntityWindows(windowOptionsOf(config, new BaselineStore(baselineOptionsOf(config))));
  const decider = new Decider(ruleSet, {
    maxDecisionAgeMs: config.maxDecisionAge,
    episodes: new EpisodeTracker({ maxTracked: config.episodeMaxTracked, idleMs: config.episodeIdle }),
  });
  const decisions: unknown[] = [];
  const suppressed: Record<string, number> = {};
  let observations = 0;
  let asked = 0;
  let e = 0;
  for (const sample of input.samples) {
    while (e < input.events.length && input.events[e]!.ts <= sample.ts) windows.addEvent(input.events[e++]!);
    if (Math.abs(sample.value) > config.maxAbsValue) continue;
    const outcome = windows.addSample(sample, 0);
    if (outcome.kind !== 'observation') continue;
    const obs = outcome.observation;
    observations++;
    const [incident] = await classifier.classify([obs]);
    if (incident) asked++;
    const decided = await decider.decide(obs, obs.window.end, incident ?? null, 0);
    for (const s of decided.suppressed) suppressed[s.rule] = (suppressed[s.rule] ?? 0) + 1;
    for (const d of decided.decisions)
      decisions.push({
        decisionId: d.decisionId,
        entity: d.entity,
        rule: d.rule,
        action: d.action,
        window: d.window,
      });
  }
  return { decisions, suppressed, observations, asked };
}

describe('the backtest against a replay that skips nothing', () => {
  const input = fleetRecording();
  for (const baseline of ['on', 'off'] as const)
    it(`makes the decisions of deciding every observation in order, with the shipped model (baselines ${baseline})`, async () => {
      const config = loadConfig({}, { window: '30s', baseline });
      const ruleSet = await loadBacktestRules(path.join(repoRoot, 'rules'), config);
      const classifier = await loadBacktestClassifier(config.modelDir);
      assert.ok(classifier, 'the shipped model loads');
      const expected = await reference(input, config, ruleSet, classifier);
      const run = await runBacktest(input, { config, ruleSet, classifier });
      assert.equal(run.observations, expected.observations);
      assert.ok(expected.decisions.length >= 5, `${expected.decisions.length} decisions`);
      assert.ok(expected.asked > 0, 'the classifier named incidents');
      assert.deepEqual(
        run.decisions.map((d) => ({
          decisionId: d.decisionId,
          entity: d.entity,
          rule: d.rule,
          action: d.action,
          window: d.window,
        })),
        expected.decisions,
      );
      assert.deepEqual(run.suppressed, expected.suppressed);
      assert.deepEqual(run.ruleFailures, {});
    });
});

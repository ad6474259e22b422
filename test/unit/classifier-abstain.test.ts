/**
 * Abstaining: the shipped classifier says `unknown` with the reason when its top class is not sure
 * or the input is far from its training data (served by onnxruntime and by the TypeScript
 * reference alike), and a rule that needs a class does not act on such a fact.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { repoRoot } from '../../infra/paths.js';
import { UNKNOWN_CLASS, abstainThresholds, inputDistance } from '../../services/classifier/abstain.js';
import { Registry } from 'prom-client';
import { labelHistory } from '../../services/classifier/dataset-from-topics.js';
import { plainIncident } from '../../services/classifier/incident-fact.js';
import { ModelMonitor } from '../../services/classifier/monitor.js';
import { parseModelConfig } from '../../services/classifier/model-config.js';
import { readModelJson } from '../../services/classifier/model-files.js';
import { IncidentClassifier } from '../../services/classifier/onnx-session.js';
import { predict } from '../../services/classifier/predict.js';
import { generateScenarios } from '../../services/classifier/scenarios.js';
import { vectorize } from '../../services/classifier/vectorize.js';
import { Decider } from '../../services/decide/decider.js';
import { parseRuleFile } from '../../services/decide/rule-file.js';
import { ruleSetOf } from '../../services/decide/rule-set.js';

const MODEL_DIR = path.join(repoRoot, 'models', 'incident');
const model = readModelJson(MODEL_DIR);
const T0 = 1_800_000_000_000;

describe('the classifier abstains', () => {
  let classifier: IncidentClassifier;
  before(async () => {
    classifier = await IncidentClassifier.load(MODEL_DIR);
  });
  after(async () => {
    await classifier.release();
  });

  it('carries thresholds learned from its training rows', () => {
    assert.ok(model.abstain, 'the shipped model has abstain thresholds');
    assert.equal(model.abstain.minConfidence, 0.5);
    const rows = generateScenarios({ rows: 2000, seed: 404 });
    const limits = abstainThresholds(model, rows);
    // Held-out rows of the same generator are within the limit, nearly all of them.
    const x = new Float64Array(model.columns.length);
    const far = rows.filter(
      (r) =>
        inputDistance(model, vectorize(r, model.features, model.mean, x)).distance >
        model.abstain!.maxDistance,
    );
    assert.ok(far.length / rows.length < 0.005, `${far.length} of ${rows.length} far`);
    assert.ok(limits.maxDistance > 0);
  });

  it('says unknown, with what was seen, for an input far from the training data', async () => {
    const row = generateScenarios({ rows: 50, seed: 405 }).find((r) => r.label === 'healthy')!;
    const strange = {
      features: { ...row.features, 'mem.avg': 4000, 'disk.avg': -900, 'cpu.max': 7000 },
      events: [],
    };
    const [served] = await classifier.classify([strange]);
    const reference = predict(model, strange);
    for (const fact of [served!, reference]) {
      assert.equal(fact.class, UNKNOWN_CLASS);
      assert.match(
        fact.reason ?? '',
        /far from the training data \(distance \d+\.\d > \d+\.\d; farthest \S+ at/,
      );
      assert.match(fact.reason ?? '', /the nearest class was \w+/);
    }
    assert.equal(plainIncident(served!).reason, served!.reason);
    assert.equal(JSON.parse(JSON.stringify(served)).reason, served!.reason);
  });

  it('says unknown when the top class is not sure, and names the class when it is', async () => {
    const rows = generateScenarios({ rows: 3000, seed: 406 });
    const facts = await classifier.classify(rows);
    const unsure = facts.filter((f) => f.class === UNKNOWN_CLASS && /not sure/.test(f.reason ?? ''));
    assert.ok(unsure.length > 0, 'some rows are unsure');
    for (const f of unsure) assert.ok(f.confidence < 0.5);
    for (const f of facts.filter((f) => f.class !== UNKNOWN_CLASS)) {
      assert.ok(f.confidence >= 0.5);
      assert.equal(f.reason, undefined);
    }
    // Most rows still get a class.
    assert.ok(unsure.length / rows.length < 0.1, `${unsure.length} unsure`);
  });

  it('does not let a rule that needs a class act on unknown', async () => {
    const rule = parseRuleFile(
      'needs-class.json',
      JSON.stringify({
        name: 'needs-class',
        description: 'acts on a dependency outage the classifier names',
        conditions: { all: [{ fact: 'incident.class', operator: 'equal', value: 'dependency_outage' }] },
        event: {
          type: 'remediate',
          params: {
            action: 'open_circuit_breaker',
            args: {},
            cooldown: '1m',
            verify: {
              conditions: { all: [{ fact: 'errors.avg', operator: 'lessThan', value: 1 }] },
              within: '5m',
            },
          },
        },
      }),
    );
    assert.ok('rule' in rule, JSON.stringify(rule));
    const decider = new Decider(ruleSetOf([rule.rule]));
    const observation = {
      entity: 'svc/x',
      seq: 0,
      window: { start: T0 - 30_000, end: T0 },
      features: {},
      events: [],
      ts: T0,
    };
    const sure = {
      class: 'dependency_outage',
      confidence: 0.9,
      probabilities: {},
      modelVersion: model.version,
    };
    const unknown = { ...sure, class: UNKNOWN_CLASS, confidence: 0.4, reason: 'not sure' };
    assert.equal((await decider.decide(observation, T0, sure)).decisions.length, 1);
    assert.equal(
      (await decider.decide({ ...observation, entity: 'svc/y' }, T0, unknown)).decisions.length,
      0,
    );
  });

  it('gives a verdict on an unknown class no say in the live AUC or the dataset', () => {
    const monitor = new ModelMonitor({ registry: new Registry(), model });
    const probabilities = Object.fromEntries(model.classes.map((c) => [c, 1 / model.classes.length]));
    monitor.expectVerdict('d-unknown', probabilities, UNKNOWN_CLASS);
    assert.equal(monitor.recordVerdict({ decisionId: 'd-unknown', outcome: 'verified' }), false);
    monitor.expectVerdict('d-named', probabilities, 'memory_leak');
    assert.equal(monitor.recordVerdict({ decisionId: 'd-named', outcome: 'verified' }), true);

    const window = { start: T0 - 30_000, end: T0 };
    const observation = { entity: 'svc/x', seq: 1, window, features: { 'cpu.avg': 50 }, events: [], ts: T0 };
    const decision = {
      decisionId: 'd1',
      entity: 'svc/x',
      rule: 'mystery-rule',
      ruleVersion: 'v1',
      mode: 'enforce' as const,
      action: 'restart',
      args: {},
      actuator: { type: 'http' as const },
      cooldown: '10m',
      approval: 'none' as const,
      verify: { conditions: { all: [] }, within: '5m', stableFor: '0s' },
      incident: { class: UNKNOWN_CLASS, confidence: 0.4, modelVersion: model.version },
      facts: {},
      window,
      stale: false,
      ts: T0,
    };
    const verdict = {
      decisionId: 'd1',
      workflowId: 'wf-d1',
      entity: 'svc/x',
      rule: 'mystery-rule',
      action: 'restart',
      outcome: 'verified' as const,
      evidence: {},
      ts: T0 + 60_000,
    };
    const out = labelHistory(
      { observations: [observation], decisions: [decision], verdicts: [verdict] },
      { classes: [...model.classes], healthyRatio: 0 },
    );
    assert.equal(out.stats.decisionsWithoutClass, 1);
    assert.equal(out.rows.filter((r) => r.label !== 'healthy').length, 0);
  });

  it('takes min_confidence from the model config, refusing a bad one', () => {
    const base = JSON.parse(fs.readFileSync(path.join(repoRoot, 'models', 'incident.config.json'), 'utf8'));
    const ok = parseModelConfig({ ...base, abstain: { min_confidence: 0.7 } });
    assert.ok('config' in ok && ok.config.abstain?.min_confidence === 0.7);
    const bad = parseModelConfig({ ...base, abstain: { min_confidence: 1.5, distance: 3 } });
    assert.ok('problems' in bad);
    assert.match(bad.problems.join('\n'), /abstain\.min_confidence: must be a probability/);
    assert.match(bad.problems.join('\n'), /abstain\.distance: is not an abstain field/);
  });
});

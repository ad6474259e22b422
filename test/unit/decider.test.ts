import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from '../../infra/paths.js';
import { ClassifiedIncident, plainIncident } from '../../services/classifier/incident-fact.js';
import { IncidentClassifier } from '../../services/classifier/onnx-session.js';
import { generateScenarios } from '../../services/classifier/scenarios.js';
import { decisionSchema, type Observation } from '../../services/common/contracts.js';
import { Decider } from '../../services/decide/decider.js';
import { CooldownGate } from '../../services/decide/cooldown.js';
import { decisionIdFor } from '../../services/decide/decision-id.js';
import { EpisodeTracker } from '../../services/decide/episodes.js';
import { parseRuleFile, type LoadedRule } from '../../services/decide/rule-file.js';
import { ruleSetOf } from '../../services/decide/rule-set.js';
import {
  EMPTY_CONTEXT,
  NO_CONTEXT_FACTS,
  type RuleContext,
} from '../../services/common/context/context-files.js';
import { expandTemplate } from '../../services/decide/template.js';

const T0 = 1_800_000_000_000;
/** A plain static-threshold CPU rule (cpu.avg > 85), named like the starter's. */
const file = path.join(repoRoot, 'test', 'fixtures', 'rules', 'cpu-static.json');

function starterRule(change: (r: Record<string, any>) => void = () => {}): LoadedRule {
  const json = JSON.parse(fs.readFileSync(file, 'utf8'));
  change(json);
  const r = parseRuleFile(file, JSON.stringify(json));
  assert.ok('rule' in r, JSON.stringify(r));
  return r.rule;
}

function obs(entity: string, features: Record<string, number>, end = T0): Observation {
  return { entity, seq: 0, window: { start: end - 30_000, end }, features, events: [], ts: end };
}

describe('Decider', () => {
  it('decides to scale out a saturated entity, with args filled in', async () => {
    const { decisions } = await new Decider(ruleSetOf([starterRule()])).decide(
      obs('web-1', { 'cpu.avg': 93, 'cpu.count': 6 }),
      T0,
    );
    assert.equal(decisions.length, 1);
    const d = decisions[0]!;
    assert.equal(d.rule, 'cpu-saturation-scale-out');
    assert.equal(d.action, 'scale_out');
    assert.equal(d.mode, 'enforce');
    assert.deepEqual(d.args, { entity: 'web-1', by: 1, observedCpu: 93 });
    assert.equal(d.decisionId, decisionIdFor('web-1', d.rule, { start: T0 - 30_000, end: T0 }));
    assert.equal(d.facts['cpu.avg'], 93);
    assert.equal(d.verify.within, '5m');
    assert.deepEqual(d.onVerifyFailure, { action: 'scale_in', args: { entity: 'web-1', by: 1 } });
    assert.equal(d.escalate?.action, 'page');
    assert.match(String(d.escalate?.args.summary), /^scale_out of web-1 did not/);
  });

  it('makes no decision for a healthy entity or one without the metric', async () => {
    const decider = new Decider(ruleSetOf([starterRule()]));
    assert.equal(
      (await decider.decide(obs('ok', { 'cpu.avg': 40, 'cpu.count': 6 }), T0)).decisions.length,
      0,
    );
    assert.equal((await decider.decide(obs('mem-only', { 'mem.avg': 99 }), T0)).decisions.length, 0);
    assert.equal(
      (await decider.decide(obs('thin', { 'cpu.avg': 99, 'cpu.count': 1 }), T0)).decisions.length,
      0,
    );
  });

  it('gives a replayed observation the same decision, but holds back a new window in cooldown', async () => {
    const decider = new Decider(ruleSetOf([starterRule()]));
    const first = await decider.decide(obs('web-2', { 'cpu.avg': 95, 'cpu.count': 6 }), T0);
    const replay = await decider.decide(obs('web-2', { 'cpu.avg': 95, 'cpu.count': 6 }), T0);
    assert.deepEqual(replay.decisions, first.decisions);
    const next = await decider.decide(obs('web-2', { 'cpu.avg': 96, 'cpu.count': 6 }, T0 + 5000), T0);
    assert.equal(next.decisions.length, 0);
    assert.deepEqual(next.suppressed, [
      { rule: 'cpu-saturation-scale-out', entity: 'web-2', reason: 'cooldown' },
    ]);
    const later = await decider.decide(obs('web-2', { 'cpu.avg': 96, 'cpu.count': 6 }, T0 + 11 * 60_000), T0);
    assert.equal(later.decisions.length, 1);
    assert.notEqual(later.decisions[0]?.decisionId, first.decisions[0]?.decisionId);
  });

  it('publishes shadow decisions with their mode', async () => {
    const shadow = starterRule((r) => {
      r.event.params.mode = 'shadow';
    });
    const { decisions } = await new Decider(ruleSetOf([shadow])).decide(
      obs('web-3', { 'cpu.avg': 99, 'cpu.count': 9 }),
      T0,
    );
    assert.equal(decisions[0]?.mode, 'shadow');
  });

  it('keeps the entity fact even when an observation carries a feature named "entity"', async () => {
    const { decisions } = await new Decider(ruleSetOf([starterRule()])).decide(
      obs('web-9', { 'cpu.avg': 95, 'cpu.count': 6, entity: 7 }),
      T0,
    );
    assert.equal(decisions[0]?.args.entity, 'web-9');
  });

  it('marks a decision stale when its window ended longer ago than the allowed age', async () => {
    const decider = new Decider(ruleSetOf([starterRule()]), { maxDecisionAgeMs: 180_000 });
    const hot = { 'cpu.avg': 95, 'cpu.count': 6 };
    const fresh = await decider.decide(obs('web-4', hot), T0 + 179_000);
    assert.equal(fresh.decisions[0]?.stale, false);
    const old = await decider.decide(obs('web-5', hot), T0 + 181_000);
    assert.equal(old.decisions[0]?.stale, true);
    assert.equal(old.decisions[0]?.cooldown, '10m');
    assert.equal(old.decisions[0]?.approval, 'none');
  });

  it('lets a fresh decision through the cooldown a stale one opened (a backlog acted on nothing)', async () => {
    const decider = new Decider(ruleSetOf([starterRule()]), { maxDecisionAgeMs: 180_000 });
    const hot = { 'cpu.avg': 95, 'cpu.count': 6 };
    // A backlog: windows decided 4 minutes late are stale, and hold back one another (the audit).
    const late = await decider.decide(obs('web-6', hot, T0), T0 + 240_000);
    assert.equal(late.decisions[0]?.stale, true);
    const lateToo = await decider.decide(obs('web-6', hot, T0 + 30_000), T0 + 270_000);
    assert.deepEqual(lateToo.decisions, [], 'a second stale window within the cooldown is held back');
    // Caught up: the incident still going, a fresh window decides (and opens the real cooldown).
    const fresh = await decider.decide(obs('web-6', hot, T0 + 300_000), T0 + 301_000);
    assert.equal(fresh.decisions[0]?.stale, false, 'the fresh window is decided');
    const next = await decider.decide(obs('web-6', hot, T0 + 330_000), T0 + 331_000);
    assert.deepEqual(next.decisions, [], 'the fresh decision holds the cooldown');
  });
});

describe('Decider over a rule set', () => {
  const hot = { 'cpu.avg': 95, 'cpu.count': 6, 'mem.avg': 95 };
  const memRule = (priority: number) =>
    starterRule((r) => {
      r.name = 'mem-rule';
      r.priority = priority;
      r.conditions.all[0].fact = 'mem.avg';
    });

  it('gives every matching rule its decision, highest priority first, with the set hash', async () => {
    const set = ruleSetOf([starterRule(), memRule(20)]);
    const { decisions } = await new Decider(set).decide(obs('web-10', hot), T0);
    assert.deepEqual(
      decisions.map((d) => d.rule),
      ['mem-rule', 'cpu-saturation-scale-out'],
    );
    assert.ok(decisions.every((d) => d.ruleSet === set.hash));
    const low = await new Decider(ruleSetOf([starterRule(), memRule(5)])).decide(obs('web-10', hot), T0);
    assert.deepEqual(
      low.decisions.map((d) => d.rule),
      ['cpu-saturation-scale-out', 'mem-rule'],
    );
  });

  it('holds a rule back during a maintenance window of the context', async () => {
    const inMaintenance: RuleContext = {
      factsFor: () => ({ ...NO_CONTEXT_FACTS, maintenance: true, maintenanceWindow: 'w' }),
    };
    const held = await new Decider(ruleSetOf([starterRule()], inMaintenance)).decide(obs('web-11', hot), T0);
    assert.equal(held.decisions.length, 0);
    const open = await new Decider(ruleSetOf([starterRule()], EMPTY_CONTEXT)).decide(obs('web-11', hot), T0);
    assert.equal(open.decisions.length, 1);
    assert.equal(open.decisions[0]?.facts.maintenance, false);
  });

  it('reports a rule that throws for that rule only; the others still decide', async () => {
    // A JSONPath on a fact makes the rule fall back to json-rules-engine; an unknown operator then throws.
    const broken = starterRule((r) => {
      r.name = 'broken';
      r.conditions.all[0] = { fact: 'labels', path: '$.x', operator: 'bogusOperator', value: 1 };
    });
    const result = await new Decider(ruleSetOf([broken, starterRule()])).decide(obs('web-12', hot), T0);
    assert.deepEqual(
      result.decisions.map((d) => d.rule),
      ['cpu-saturation-scale-out'],
    );
    assert.equal(result.failures.length, 1);
    assert.equal(result.failures[0]?.rule, 'broken');
    assert.match(result.failures[0]?.message ?? '', /bogusOperator/);
  });

  it('decides with the swapped set from the next observation on', async () => {
    const first = ruleSetOf([starterRule()]);
    const decider = new Decider(first);
    assert.equal((await decider.decide(obs('web-13', hot), T0)).decisions[0]?.ruleSet, first.hash);
    const second = ruleSetOf([memRule(10)]);
    decider.use(second);
    const after = await decider.decide(obs('web-14', hot), T0);
    assert.deepEqual(
      after.decisions.map((d) => [d.rule, d.ruleSet]),
      [['mem-rule', second.hash]],
    );
    assert.notEqual(first.hash, second.hash);
  });
});

describe("Decider with the classifier's facts", () => {
  it('lets compiled rules, JSONPath rules and templates read the probabilities, and records them', async () => {
    const classifier = await IncidentClassifier.load(path.join(repoRoot, 'models', 'incident'));
    const rows = generateScenarios({ rows: 200, seed: 3 }).filter((r) => r.label === 'memory_leak');
    const facts = await classifier.classify(rows);
    await classifier.release();
    const i = facts.findIndex((f) => f.class === 'memory_leak' && f.confidence > 0.6);
    assert.ok(i >= 0, 'a confident memory_leak row');
    const fact = facts[i]!;
    assert.ok(fact instanceof ClassifiedIncident, 'classify() gives the lazy facts');
    const want = plainIncident(fact);
    const byClass = starterRule((r) => {
      r.name = 'leak-by-class';
      r.conditions = { all: [{ fact: 'incident.class', operator: 'equal', value: 'memory_leak' }] };
      r.event.params.args = {
        entity: '{{entity}}',
        leak: '{{incident.probabilities.memory_leak}}',
        all: '{{incident.probabilities}}',
      };
    });
    // A `path` keeps this rule in json-rules-engine, which walks own properties only.
    const byPath = starterRule((r) => {
      r.name = 'leak-by-path';
      r.conditions = {
        all: [{ fact: 'incident', path: '$.probabilities.memory_leak', operator: 'greaterThan', value: 0.6 }],
      };
    });
    for (const rules of [[byClass], [byClass, byPath]]) {
      const set = ruleSetOf(rules);
      assert.equal(set.compiled.stats.fallback, rules.length - 1);
      const observation = {
        ...obs(`svc-${rules.length}`, { ...rows[i]!.features }),
        events: rows[i]!.events.map((e) => ({ ...e, ts: T0 })),
      };
      const { decisions, failures } = await new Decider(set).decide(observation, T0, fact);
      assert.deepEqual(failures, []);
      assert.deepEqual(
        decisions.map((d) => d.rule).sort(),
        rules.map((r) => r.name),
      );
      for (const d of decisions) {
        // Recorded as data: the decision's JSON holds every probability, and parses as a Decision.
        const recorded = JSON.parse(JSON.stringify(d));
        assert.deepEqual(recorded.incident, want);
        assert.deepEqual(Object.keys(recorded.incident.probabilities), [
          'healthy',
          'cpu_saturation',
          'memory_leak',
          'bad_deploy',
          'disk_pressure',
          'dependency_outage',
        ]);
        decisionSchema.parse(recorded);
      }
      const d = decisions.find((x) => x.rule === 'leak-by-class')!;
      assert.equal(d.args.leak, fact.probabilities.memory_leak);
      assert.deepEqual(d.args.all, want.probabilities);
    }
  });
});

describe('CooldownGate', () => {
  it('forgets cooldowns that ended, so idle entities do not pile up', () => {
    const gate = new CooldownGate();
    for (let i = 0; i < 30_000; i++) assert.ok(gate.admit(`e-${i}`, 'r', `d-${i}`, T0 + i * 1000, 5000));
    assert.ok(gate.size < 10_100, `${gate.size} entries kept`);
    assert.equal(
      gate.admit('e-29999', 'r', 'other', T0 + 29_999_500, 5000),
      false,
      'a live cooldown is kept',
    );
  });
});

describe('expandTemplate', () => {
  it('resolves own fields only, never inherited members', () => {
    const ctx = { entity: 'web-1', catalog: { owner: 'team-a' } };
    assert.deepEqual(
      expandTemplate(
        { a: '{{constructor}}', b: '{{__proto__}}', c: '{{catalog.constructor}}', d: 'x {{toString}}' },
        ctx,
      ),
      { a: '{{constructor}}', b: '{{__proto__}}', c: '{{catalog.constructor}}', d: 'x {{toString}}' },
    );
  });

  it('keeps types for whole placeholders and leaves unknown names visible', () => {
    const ctx = { entity: 'web-1', 'cpu.avg': 91, catalog: { owner: 'team-a' } };
    assert.deepEqual(
      expandTemplate(
        {
          e: '{{entity}}',
          cpu: '{{cpu.avg}}',
          owner: '{{catalog.owner}}',
          text: 'on {{entity}} at {{cpu.avg}}%',
          miss: '{{nope}}',
          n: [1, '{{entity}}'],
        },
        ctx,
      ),
      { e: 'web-1', cpu: 91, owner: 'team-a', text: 'on web-1 at 91%', miss: '{{nope}}', n: [1, 'web-1'] },
    );
  });
});

describe('Decider with episodes (event.params.for / keepFiringFor)', () => {
  const episodic = () =>
    starterRule((r) => {
      r.event.params.for = '1m';
      r.event.params.keepFiringFor = '10m';
      r.event.params.cooldown = '0s';
    });
  const hot = (end: number) => obs('web-9', { 'cpu.avg': 95, 'cpu.count': 6 }, end);
  const cool = (end: number) => obs('web-9', { 'cpu.avg': 40, 'cpu.count': 6 }, end);

  it('a rule that matches 20 observations in a row decides once, with an id from the episode’s first window', async () => {
    const decider = new Decider(ruleSetOf([episodic()]));
    const all = [];
    const held = [];
    for (let i = 0; i < 20; i++) {
      const r = await decider.decide(hot(T0 + i * 5000), T0 + i * 5000);
      all.push(...r.decisions);
      held.push(...r.held.map((h) => h.reason));
    }
    assert.equal(all.length, 1);
    const d = all[0]!;
    assert.equal(d.window.end, T0 + 60_000, 'decided where the condition had held for 1m');
    assert.equal(d.decisionId, decisionIdFor('web-9', d.rule, { start: T0 - 30_000, end: T0 }));
    assert.deepEqual(d.episode, {
      start: T0 - 30_000,
      window: { start: T0 - 30_000, end: T0 },
      heldMs: 60_000,
    });
    decisionSchema.parse(d);
    assert.deepEqual(held, [...Array(12).fill('pending'), ...Array(7).fill('episode')]);
  });

  it('without for/keepFiringFor a rule decides on every match as before (cooldown 0s)', async () => {
    const decider = new Decider(ruleSetOf([starterRule((r) => (r.event.params.cooldown = '0s'))]));
    let n = 0;
    for (let i = 0; i < 5; i++) {
      const r = await decider.decide(hot(T0 + i * 5000), T0 + i * 5000);
      n += r.decisions.length;
      assert.equal(r.decisions[0]?.episode, undefined);
      assert.deepEqual(r.episodeChanges, []);
    }
    assert.equal(n, 5);
  });

  it('the episode ends after keepFiringFor without a match; the next incident decides again', async () => {
    const decider = new Decider(ruleSetOf([episodic()]));
    const ended = [];
    let decisions = 0;
    const feed = async (o: Observation) => {
      const r = await decider.decide(o, o.window.end);
      decisions += r.decisions.length;
      ended.push(...r.episodesEnded);
    };
    for (let i = 0; i < 15; i++) await feed(hot(T0 + i * 5000));
    for (let i = 15; i < 15 + 130; i++) await feed(cool(T0 + i * 5000)); // 10m50s cool
    assert.equal(ended.length, 1);
    for (let i = 145; i < 160; i++) await feed(hot(T0 + i * 5000));
    assert.equal(decisions, 2);
  });

  it('decides with the episode tracker it is given (decide passes the one its changelog restores)', async () => {
    const tracker = new EpisodeTracker();
    const decider = new Decider(ruleSetOf([episodic()]), { maxDecisionAgeMs: 60_000, episodes: tracker });
    for (let i = 0; i < 5; i++) await decider.decide(hot(T0 + i * 5000), T0, null, 2);
    const state = tracker.get('web-9', 'cpu-saturation-scale-out');
    assert.equal(state?.phase, 'pending');
    assert.equal(state?.lastSeen, T0 + 20_000);
    assert.equal(state?.partition, 2, 'its changelog record goes to the observation’s partition');
  });

  it('a stale episode is published once for the audit and decides on the first fresh observation', async () => {
    const decider = new Decider(ruleSetOf([episodic()]), { maxDecisionAgeMs: 60_000 });
    const all = [];
    const held = [];
    // A backlog: the first 20 observations are read 5 minutes late, the next 5 as they come.
    for (let i = 0; i < 25; i++) {
      const end = T0 + i * 5000;
      const r = await decider.decide(hot(end), i < 20 ? end + 300_000 : end);
      all.push(...r.decisions);
      held.push(...r.held.filter((h) => h.reason === 'stale'));
    }
    assert.deepEqual(
      all.map((d) => [d.window.end, d.stale]),
      [
        [T0 + 60_000, true],
        [T0 + 100_000, false],
      ],
    );
    assert.equal(held.length, 7, 'the stale ones after the audit decision');
    assert.equal(all[1]!.decisionId, decisionIdFor('web-9', all[1]!.rule, { start: T0 - 30_000, end: T0 }));
    assert.notEqual(all[0]!.decisionId, all[1]!.decisionId);
  });

  it('an episode held by the cooldown decides once the cooldown has passed, if it still matches', async () => {
    const rule = starterRule((r) => {
      r.event.params.keepFiringFor = '0s';
      r.event.params.cooldown = '1m';
    });
    const decider = new Decider(ruleSetOf([rule]));
    const ends: number[] = [];
    const feed = async (o: Observation) => {
      const r = await decider.decide(o, o.window.end);
      ends.push(...r.decisions.map((d) => d.window.end));
    };
    await feed(hot(T0)); // episode 1 decides; cooldown until T0 + 1m
    await feed(cool(T0 + 5000)); // and ends
    for (let i = 2; i < 20; i++) await feed(hot(T0 + i * 5000)); // episode 2, held until T0 + 1m
    assert.deepEqual(ends, [T0, T0 + 60_000]);
  });
});

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, it } from 'node:test';
import { Decider } from '../../services/decide/decider.js';
import { parseRuleFile } from '../../services/decide/rule-file.js';
import { loadRuleSet } from '../../services/decide/rule-set.js';
import {
  DEFAULT_LANE,
  describeUrgency,
  fairnessKeyOf,
  urgencyFacts,
  urgencyOf,
} from '../../services/decide/urgency.js';

const RULES_DIR = new URL('../../rules/', import.meta.url).pathname;

describe('urgency of a remediation (lane and fairness key)', () => {
  const checkout = { entity: 'checkout/pod-1', service: 'checkout', tier: 1 };
  const batch = { entity: 'batch/job-7', service: 'batch', tier: 3 };

  it('gives a rule without priority the default lane and no raise, whatever the tier', () => {
    const u = urgencyOf(undefined, { ...checkout, confidence: 0.99 });
    assert.equal(u.lane, DEFAULT_LANE);
    assert.equal(u.lane, 3);
    assert.equal(u.fairnessKey, 'service:checkout');
  });

  it("takes the rule's lane, one up for a tier-1 service, none for tier 3 or no catalog entry", () => {
    assert.equal(urgencyOf(4, batch).lane, 4);
    assert.equal(urgencyOf(4, checkout).lane, 3);
    assert.equal(urgencyOf(4, { entity: 'x/1' }).lane, 4);
    assert.equal(urgencyOf({ lane: 4, tier: false }, checkout).lane, 4, 'tier: false opts out');
  });

  it('raises one more lane when the classifier is at least as sure as the rule asks, and stops at 1', () => {
    assert.equal(urgencyOf({ lane: 3, tier: true, confidence: 0.9 }, { ...batch, confidence: 0.9 }).lane, 2);
    assert.equal(urgencyOf({ lane: 3, tier: true, confidence: 0.9 }, { ...batch, confidence: 0.89 }).lane, 3);
    const both = urgencyOf({ lane: 2, tier: true, confidence: 0.6 }, { ...checkout, confidence: 0.8 });
    assert.equal(both.lane, 1);
    assert.match(both.because.join(' | '), /lane 1 is the most urgent/);
    const none = urgencyOf({ lane: 3, tier: true, confidence: 0.9 }, batch);
    assert.equal(none.lane, 3);
    assert.match(none.because.join(' | '), /no classifier confidence/);
  });

  it('says why in one line', () => {
    const line = describeUrgency(urgencyOf(2, checkout));
    assert.equal(
      line,
      "lane 1 (the rule's lane 2; tier 1 service checkout: one lane up), fairness key service:checkout",
    );
  });

  it('keys fairness by service, else by entity, within 64 bytes', () => {
    assert.equal(fairnessKeyOf({ entity: 'a/b', service: null }), 'entity:a/b');
    const long = fairnessKeyOf({ entity: `é${'x'.repeat(100)}` });
    assert.ok(Buffer.byteLength(long) <= 64);
    assert.ok(long.startsWith('entity:é'));
  });

  it("reads decide's facts", () => {
    assert.deepEqual(
      urgencyFacts({ entity: 'e', service: 's', tier: 2, 'incident.confidence': 0.5, other: 1 }),
      { entity: 'e', service: 's', tier: 2, confidence: 0.5 },
    );
    assert.deepEqual(urgencyFacts({ entity: 'e', service: null, tier: null, 'incident.confidence': null }), {
      entity: 'e',
      service: null,
      tier: null,
      confidence: null,
    });
  });

  it('is refused in a rule file naming the field and the fix', () => {
    const rule = JSON.parse(fs.readFileSync(`${RULES_DIR}disk-pressure-clean-up.json`, 'utf8'));
    for (const [value, message] of [
      [0, /event\.params\.priority: must be an integer from 1 \(most urgent\) to 5/],
      [2.5, /event\.params\.priority: must be a lane from 1 \(most urgent\) to 5, or \{"lane"/],
      [{ lane: 2, confidence: 1.5 }, /event\.params\.priority\.confidence: must be a number from 0 to 1/],
    ] as const) {
      rule.event.params.priority = value;
      const parsed = parseRuleFile('r.json', JSON.stringify(rule));
      assert.ok('problems' in parsed, JSON.stringify(value));
      assert.match(parsed.problems.join('\n'), message);
    }
  });

  it('puts the starter rollbacks and the circuit breaker above the clean-up and the scale-out', async () => {
    const { ruleSet, problems } = await loadRuleSet(RULES_DIR);
    assert.deepEqual(problems, []);
    const lane = (name: string) => {
      const p = ruleSet!.byName.get(name)?.params.priority;
      assert.ok(p !== undefined, `${name} sets a priority`);
      return typeof p === 'number' ? p : p.lane;
    };
    for (const urgent of [
      'error-spike-after-deploy-rollback',
      'error-spike-after-deploy-rollback-tier1',
      'dependency-outage-open-circuit-breaker',
    ])
      for (const routine of ['disk-pressure-clean-up', 'cpu-saturation-scale-out'])
        assert.ok(lane(urgent) < lane(routine), `${urgent} above ${routine}`);
  });

  it('is recorded on the decision of a rule that sets one, and absent otherwise', async () => {
    const { ruleSet } = await loadRuleSet(RULES_DIR);
    const now = Date.UTC(2026, 0, 5, 12);
    const obs = {
      entity: 'checkout/pod-9',
      seq: 1,
      window: { start: now - 30_000, end: now },
      features: { 'disk.avg': 95, 'disk.max': 97, 'disk.count': 6 },
      events: [],
      ts: now,
    };
    const decider = new Decider(ruleSet!, { maxDecisionAgeMs: 180_000 });
    // The disk rule opts in to episodes (`for`): the first match is pending, a minute later it decides.
    await decider.decide(obs, now);
    const later = { ...obs, seq: 2, window: { start: now + 60_000, end: now + 90_000 }, ts: now + 90_000 };
    const { decisions } = await decider.decide(later, now + 90_000);
    const disk = decisions.find((d) => d.rule === 'disk-pressure-clean-up');
    assert.ok(disk, JSON.stringify(decisions.map((d) => d.rule)));
    assert.equal(disk.priority?.fairnessKey, 'service:checkout');
    assert.equal(
      disk.priority?.lane,
      (ruleSet!.byName.get('disk-pressure-clean-up')!.params.priority as number) - 1,
    );
  });
});

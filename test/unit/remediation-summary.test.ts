import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Decision } from '../../services/common/contracts.js';
import { workflowIdFor } from '../../services/decide/decision-id.js';
import { remediationDetails, remediationSummary } from '../../services/decide/remediation-summary.js';

const decision: Decision = {
  decisionId: '0123456789abcdef01234567',
  entity: 'checkout/pod-1',
  rule: 'cpu-saturation-scale-out',
  ruleVersion: 'v1',
  mode: 'enforce',
  action: 'scale_out',
  args: { entity: 'checkout/pod-1', by: 1 },
  actuator: { type: 'http' },
  cooldown: '10m',
  approval: 'none',
  verify: {
    conditions: { all: [{ fact: 'cpu.avg', operator: 'lessThan', value: 70 }] },
    within: '5m',
    stableFor: '1m',
  },
  onVerifyFailure: { action: 'scale_in', args: { by: 1 } },
  escalate: { action: 'page', args: {} },
  incident: {
    class: 'cpu_saturation',
    confidence: 0.934,
    probabilities: { cpu_saturation: 0.934, healthy: 0.066 },
    modelVersion: 'incident-20260105120000-0abc1234',
  },
  facts: { 'cpu.avg': 92.33333, 'cpu.deviation': 6.2, maintenance: false, labels: { a: 'b' } },
  window: { start: Date.UTC(2026, 0, 5, 12), end: Date.UTC(2026, 0, 5, 12, 0, 30) },
  stale: false,
  ts: Date.UTC(2026, 0, 5, 12, 0, 30),
} as Decision;

describe('how a remediation reads in the Temporal UI', () => {
  it('its workflow id names the entity and the rule, and stays deterministic', () => {
    assert.equal(workflowIdFor(decision), 'remediate-checkout/pod-1-cpu-saturation-scale-out-0123456789ab');
    assert.equal(workflowIdFor({ ...decision }), workflowIdFor(decision));
    assert.notEqual(
      workflowIdFor({ ...decision, decisionId: 'ffff' + decision.decisionId.slice(4) }),
      workflowIdFor(decision),
    );
  });

  it('its summary is one line: action, entity, rule, incident', () => {
    assert.equal(
      remediationSummary(decision),
      'scale_out checkout/pod-1 — rule cpu-saturation-scale-out, incident cpu_saturation (0.93)',
    );
    assert.equal(
      remediationSummary({ ...decision, incident: null, mode: 'shadow' }),
      'scale_out checkout/pod-1 — rule cpu-saturation-scale-out [shadow]',
    );
  });

  it('its details list the args, the triggering facts with values, the incident and the verification', () => {
    const details = remediationDetails(decision).split('\n');
    assert.deepEqual(details, [
      '**scale_out** on **checkout/pod-1** by rule **cpu-saturation-scale-out** (enforce, approval none, cooldown 10m)',
      '- args: `{"entity":"checkout/pod-1","by":1}` via the http actuator',
      '- triggered by: `cpu.avg` = 92.333, `cpu.deviation` = 6.2, `maintenance` = false',
      '- incident: cpu_saturation, confidence 0.93 (model incident-20260105120000-0abc1234)',
      '- verified when the verify conditions hold for 1m within 5m; else scale_in, then page',
      '- window 2026-01-05T12:00:00.000Z – 2026-01-05T12:00:30.000Z, decision 0123456789abcdef01234567',
    ]);
  });

  it('its details link the runbook sections retrieval found, and say nothing of runbooks without them', () => {
    const withRunbooks = {
      ...decision,
      runbooks: [
        {
          title: 'What to check',
          runbook: 'cpu-saturation',
          link: 'runbooks/cpu-saturation.md#what-to-check',
          score: 9.1,
        },
      ],
    };
    assert.equal(
      remediationDetails(withRunbooks).split('\n').at(-1),
      '- runbooks: [What to check](runbooks/cpu-saturation.md#what-to-check)',
    );
    assert.ok(!remediationDetails(decision).includes('runbooks'));
  });

  it('its details say why the classifier abstained', () => {
    const abstained = {
      ...decision,
      incident: { ...decision.incident!, class: 'unknown', confidence: 0.41, reason: 'top class below 0.5' },
    };
    assert.equal(
      remediationDetails(abstained).split('\n')[3],
      '- incident: unknown, confidence 0.41 (model incident-20260105120000-0abc1234); abstained: top class below 0.5',
    );
  });
});

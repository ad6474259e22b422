/**
 * The verify check on the real services (Kafka, Temporal, act and verify workers): a recovery that
 * holds is verified after stableFor; one that flaps back inside stableFor is not; no data is expired,
 * not failed; observations from before the action never verify it; a comparison with the
 * decision-time value works both ways.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Decision, Verdict } from '../../services/common/contracts.js';
import { RemediationStarter } from '../../services/decide/workflow-starter.js';
import { ObservationFeeder } from '../support/observation-feeder.js';
import { SafetyHarness } from '../support/safety-harness.js';

describe('verify outcomes (real Kafka and Temporal)', () => {
  let h: SafetyHarness;
  let feeder: ObservationFeeder | undefined;

  before(async () => {
    h = await SafetyHarness.start();
    await h.startAct();
    feeder = new ObservationFeeder(h.producer, h.topics.observations, 500);
  });

  after(async () => {
    await feeder?.stop();
    await h?.stop();
  });

  async function remediate(entity: string, verify: Decision['verify'], facts: Record<string, unknown> = {}) {
    const { workflowId } = await new RemediationStarter(h.client, h.config).start(
      h.decision(entity, Date.now(), { verify, facts }),
    );
    return h.verdicts.waitFor<Verdict>((v) => v.workflowId === workflowId, 90_000);
  }
  const cpuBelow70 = { all: [{ fact: 'cpu.avg', operator: 'lessThan', value: 70 }] };

  it('verifies a recovery that holds for stableFor, and not one that flaps back inside it', async (t) => {
    const holds = h.entity('holds');
    const flaps = h.entity('flaps');
    feeder!.set(holds, { features: () => ({ 'cpu.avg': 50 }) });
    // Back above 70 every third observation (1.5s): never 2s in a row.
    feeder!.set(flaps, { features: (t) => ({ 'cpu.avg': t % 3 === 2 ? 90 : 50 }) });
    let heldArrived = 0;
    const [held, flapped] = await Promise.all([
      remediate(holds, { conditions: cpuBelow70, within: '8s', stableFor: '2s' }).then((v) => {
        heldArrived = Date.now();
        return v;
      }),
      remediate(flaps, { conditions: cpuBelow70, within: '8s', stableFor: '2s' }),
    ]);
    assert.equal(held.outcome, 'verified', JSON.stringify(held.evidence));
    const since = held.evidence.holdingSince as number;
    const last = (held.evidence.lastObservation as { ts: number }).ts;
    assert.ok(last - since >= 2000, `held ${last - since}ms before the verdict`);
    // From the observation that completed stableFor (its window end) to the verdict on Kafka.
    t.diagnostic(`stableFor reached → verdict read from Kafka: ${heldArrived - last} ms`);
    assert.equal(flapped.outcome, 'failed', JSON.stringify(flapped.evidence));
    const broke = flapped.evidence.observations as Array<{ holds: boolean }>;
    assert.ok(
      broke.some((o) => !o.holds),
      'the evidence shows the observations that broke it',
    );
    assert.deepEqual(
      (held.evidence.condition as { stableFor: string }).stableFor,
      '2s',
      'the condition as evaluated',
    );
  });

  it('gives expired, not failed, when no data arrives, and never counts observations from before the action', async () => {
    const silent = h.entity('silent');
    const old = h.entity('old-windows');
    // Healthy observations, but every window ended 20s before it was sent: all before the action.
    feeder!.set(old, { features: () => ({ 'cpu.avg': 50 }), agoMs: 20_000 });
    const [none, stale] = await Promise.all([
      remediate(silent, { conditions: cpuBelow70, within: '2s', stableFor: '0s' }),
      remediate(old, { conditions: cpuBelow70, within: '2s', stableFor: '0s' }),
    ]);
    assert.equal(none.outcome, 'expired', JSON.stringify(none.evidence));
    assert.equal(none.evidence.observationsChecked, 0);
    assert.equal(stale.outcome, 'expired', JSON.stringify(stale.evidence));
    assert.equal(stale.evidence.observationsChecked, 0, 'pre-action observations are not checked');
  });

  it('compares with the value at decision time, both ways', async () => {
    const halved = h.entity('errors-halved');
    const notHalved = h.entity('errors-not-halved');
    feeder!.set(halved, { features: () => ({ 'cpu.avg': 50, 'errors.avg': 8 }) });
    feeder!.set(notHalved, { features: () => ({ 'cpu.avg': 50, 'errors.avg': 12 }) });
    const verify = {
      conditions: cpuBelow70,
      within: '4s',
      stableFor: '1s',
      relativeTo: [{ fact: 'errors.avg', atMost: 0.5 }],
    };
    const [ok, notOk] = await Promise.all([
      remediate(halved, verify, { 'errors.avg': 20 }),
      remediate(notHalved, verify, { 'errors.avg': 20 }),
    ]);
    assert.equal(ok.outcome, 'verified', JSON.stringify(ok.evidence));
    assert.deepEqual(ok.evidence.decisionValues, { 'errors.avg': 20 });
    assert.equal(notOk.outcome, 'failed', JSON.stringify(notOk.evidence));
    const [comparison] = notOk.evidence.relativeTo as Array<{ value: number; limit: number; holds: boolean }>;
    assert.deepEqual(comparison, {
      fact: 'errors.avg',
      decisionValue: 20,
      value: 12,
      limit: 10,
      holds: false,
    });
  });
});

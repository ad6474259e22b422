/**
 * The fleet's schedule never waits on incidents the loop will not act on by design: parked ones
 * (absorbed, shadow, awaiting approval) and noisy-but-healthy entities hold no slot; it avoids the
 * entities and scenarios the loop's guards would hold back, and falls back to them when nothing else
 * is free. The loop's words (decisions, verdicts) map to what is parked and how it is said.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Decision, Verdict } from '../../services/common/contracts.js';
import { loadFleetConfig } from '../../services/fleet/fleet-config.js';
import { FleetModel, type FleetModelOptions } from '../../services/fleet/fleet-model.js';
import type { Parked } from '../../services/fleet/fleet-types.js';
import { avoidListOf } from '../../services/fleet/loop-feedback.js';
import { parkedByDecision, parkedByVerdict, parkedText } from '../../services/fleet/parked.js';

const T0 = Date.UTC(2026, 0, 5, 10, 0, 0);
const S = 1000;

const fleet = (o: Partial<FleetModelOptions> = {}) =>
  new FleetModel({
    services: 5,
    podsPerService: 2,
    seed: 7,
    mix: [{ class: 'bad_deploy', weight: 1 }],
    scenarioEveryMs: 10 * S,
    maxActiveIncidents: 3,
    ...o,
  });

const awaiting = (at: number): Parked => ({
  kind: 'awaiting_approval',
  rule: 'error-spike-after-deploy-rollback-tier1',
  workflowId: 'remediate-x',
  why: 'rollback waits for an operator',
  at,
});

describe('the fleet schedule and incidents the loop leaves alone', () => {
  it('stops at maxActiveIncidents while the loop may act, and goes on once they are parked', () => {
    const f = fleet();
    let t = T0;
    for (; t < T0 + 2 * 60 * S; t += S) f.tick(t);
    assert.equal(f.activeIncidents(), 3, 'three, then the schedule waits');
    // The loop says all three wait for an operator: their slots are free.
    for (const i of f.incidents()) assert.ok(f.park(i.entity, awaiting(t)));
    assert.equal(f.blockingIncidents(), 0);
    for (const end = t + 60 * S; t < end; t += S) f.tick(t);
    const all = f.incidents();
    assert.equal(all.filter((i) => i.parked?.kind === 'awaiting_approval').length, 3);
    assert.equal(all.length, 6, 'three more injected while three wait for approval');
    assert.equal(f.blockingIncidents(), 3);
  });

  it('parks only an active incident that began by the time the loop spoke', () => {
    const f = fleet({ scenarioEveryMs: 0 });
    f.tick(T0);
    const made = f.inject({ class: 'cpu_saturation', entity: 'checkout/pod-1' }, T0 + S);
    assert.ok(made.ok);
    assert.equal(f.park('checkout/pod-1', awaiting(T0)), undefined, 'a decision from before it began');
    assert.equal(f.park('search/pod-1', awaiting(T0 + 2 * S)), undefined, 'no incident there');
    assert.equal(f.park('checkout/pod-1', awaiting(T0 + 2 * S))?.parked?.kind, 'awaiting_approval');
  });

  it('noisy-but-healthy entities hold no slot', () => {
    const f = fleet({ mix: [{ class: 'noisy_healthy', weight: 1 }], noisyDurationMs: 10 * 60 * S });
    for (let t = T0; t < T0 + 2 * 60 * S; t += S) f.tick(t);
    assert.ok(f.activeIncidents() > 3, `${f.activeIncidents()} noisy entities at once`);
    assert.equal(f.blockingIncidents(), 0);
  });

  it('on demand, avoids the entities and scenarios the guards would hold back, unless nothing else is free', () => {
    const f = fleet({ services: 2, podsPerService: 2, scenarioEveryMs: 0 });
    f.tick(T0);
    f.avoid(
      avoidListOf([
        { entity: 'checkout/pod-1', action: 'scale_out', rule: 'cpu', running: true, startedAt: T0 },
        { entity: 'checkout/pod-2', action: 'rollback', rule: 'rb', running: false, startedAt: T0 },
        { entity: 'search/pod-1', action: 'rollback', rule: 'rb', running: false, startedAt: T0 },
      ]),
    );
    assert.match(f.avoidedBecause('checkout/pod-1', 'disk_pressure')!, /cpu \(scale_out\) is in flight/);
    assert.match(f.avoidedBecause('checkout/pod-2', 'bad_deploy')!, /rb took rollback at 10:00 UTC/);
    assert.equal(f.avoidedBecause('checkout/pod-2', 'cpu_saturation'), undefined);
    const first = f.inject({ class: 'bad_deploy' }, T0 + S);
    assert.ok(first.ok && first.incident.entity === 'search/pod-2', 'the one entity a rollback would reach');
    const second = f.inject({ class: 'bad_deploy' }, T0 + 2 * S);
    assert.ok(second.ok, 'then an avoided one all the same (the loop will say why it does not act)');
    assert.notEqual(second.incident.entity, 'search/pod-2');
  });

  it('the schedule draws another class where the drawn one is avoided everywhere, else waits', () => {
    const f = fleet({
      services: 1,
      podsPerService: 2,
      mix: [
        { class: 'bad_deploy', weight: 1000 },
        { class: 'disk_pressure', weight: 1 },
      ],
    });
    const rolledBack = (entity: string) => ({
      entity,
      action: 'rollback',
      rule: 'rb',
      running: false,
      startedAt: T0,
    });
    f.avoid(avoidListOf([rolledBack('checkout/pod-1'), rolledBack('checkout/pod-2')]));
    let t = T0;
    for (; t < T0 + 15 * S; t += S) f.tick(t);
    assert.deepEqual(
      f.incidents().map((i) => i.class),
      ['disk_pressure'],
      'not a bad deploy where a rollback was just taken',
    );
    // Nothing free that the loop would act on: nothing injected, however long.
    f.avoid(avoidListOf([{ ...rolledBack('checkout/pod-2'), action: 'clean_disk', running: true }]));
    for (const end = t + 60 * S; t < end; t += S) f.tick(t);
    assert.equal(f.incidents().length, 1);
  });

  it('reads shadow, approval and absorbed from decisions and verdicts, and says what to do', () => {
    const d = {
      decisionId: 'abcdef0123456789abcdef01',
      entity: 'search/pod-1',
      rule: 'dep',
      action: 'open_circuit_breaker',
      mode: 'shadow',
      approval: 'none',
      stale: false,
      ts: T0,
    } as Decision;
    assert.equal(parkedText(parkedByDecision(d)!), 'shadow mode: decided, not acted (rule dep)');
    const approval = parkedByDecision({ ...d, mode: 'enforce', approval: 'required' })!;
    assert.equal(
      parkedText(approval),
      'waiting for approval: autoglm approve remediate-search/pod-1-dep-abcdef012345 --reason "…" (or autoglm reject; rule dep)',
    );
    assert.equal(parkedByDecision({ ...d, mode: 'enforce' }), undefined, 'an enforced decision acts');
    assert.equal(parkedByDecision({ ...d, stale: true }), undefined, 'a stale one starts nothing');

    const v = {
      decisionId: d.decisionId,
      workflowId: 'remediate-w',
      entity: d.entity,
      rule: 'cpu',
      action: 'scale_out',
      outcome: 'absorbed',
      evidence: {
        reason:
          'rule cpu-saturation-scale-out is cooling down on search/pod-1 until 2026-01-05T10:09:30.000Z after remediate-old',
      },
      ts: T0,
    } as Verdict;
    const absorbed = parkedByVerdict(v)!;
    assert.deepEqual([absorbed.rule, absorbed.until], ['cpu-saturation-scale-out', T0 + 9.5 * 60 * S]);
    assert.equal(parkedText(absorbed), 'absorbed: cooldown of rule cpu-saturation-scale-out until 10:09');
    const inFlight = parkedByVerdict({ ...v, evidence: { reason: 'remediate-y holds search/pod-1' } })!;
    assert.equal(parkedText(inFlight), 'absorbed: remediate-y holds search/pod-1');
    assert.equal(parkedByVerdict({ ...v, outcome: 'verified' }), undefined);
  });

  it('follows the loop by default, avoids 8h of remediations, and names a bad knob', () => {
    const c = loadFleetConfig({});
    assert.deepEqual([c.followLoop, c.avoidRecent, c.loopPoll], [true, 8 * 3600 * S, 10 * S]);
    const off = loadFleetConfig({ AUTOGLM_FLEET_FOLLOW_LOOP: 'false', AUTOGLM_FLEET_AVOID_RECENT: 'off' });
    assert.deepEqual([off.followLoop, off.avoidRecent], [false, 0]);
    assert.throws(
      () => loadFleetConfig({ AUTOGLM_FLEET_AVOID_RECENT: 'soon', AUTOGLM_FLEET_LOOP_POLL: '1ms' }),
      (err: Error) =>
        /AUTOGLM_FLEET_AVOID_RECENT/.test(err.message) && /AUTOGLM_FLEET_LOOP_POLL/.test(err.message),
    );
  });
});

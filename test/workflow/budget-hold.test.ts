/**
 * The action budget's lane hold, on Temporal's time-skipping test server with real remediations
 * (act, guard and verify workers; the target is ours): a grant to an urgent remediation made while
 * a routine one waits holds the routine lane until the urgent action has reached the target (the
 * remediation says so with the `acted` signal), so a routine grant issued after it cannot overtake
 * it on the way (signal, workflow task, activity); a lost urgent remediation holds it only
 * `laneHoldMs`. Histories recorded before the hold (at 07db096: a budget with lanes, an urgent
 * remediation granted while a routine one waited, and that routine one) replay.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Decision } from '../../services/common/contracts.js';
import {
  acquireSignal,
  actedSignal,
  actionBudgetId,
  guardStatusQuery,
  releaseSignal,
  type BudgetLimits,
} from '../../workflows/definitions.js';
import { REPORTS_ACTED_PATCH } from '../../workflows/remediate.js';
import { BudgetEnv, eventually, NARROW_LIMITS } from '../support/budget-env.js';
import { unique } from '../support/config.js';
import { readHistory, replayWithCommitted } from '../support/histories.js';

const historiesDir = fileURLToPath(new URL('../fixtures/histories/lane-hold/', import.meta.url));
const HOLD_MS = 60_000;
/** One clean_disk at a time (held by a blocker), rollbacks free; a 60 s hold. */
const limits: BudgetLimits = { ...NARROW_LIMITS, laneHoldMs: HOLD_MS };
const routine = { lane: 4, fairnessKey: 'service:batch', because: ['rule: 4'] };
const urgent = { lane: 1, fairnessKey: 'service:checkout', because: ['rule: 2', 'tier 1'] };

describe('the action budget holds the routine lane until an urgent grant has acted (time-skipping test server)', () => {
  let b: BudgetEnv;
  /** While closed, the target holds every rollback it receives (the urgent action stays on its way). */
  let gate = { opened: Promise.resolve(), open: () => {} };
  const closeGate = () => {
    let open!: () => void;
    const opened = new Promise<void>((resolve) => (open = resolve));
    gate = { opened, open };
  };

  before(async () => {
    b = await BudgetEnv.start({
      loop: true,
      limits,
      target: { hold: (a) => (a.body.action === 'rollback' ? gate.opened : Promise.resolve()) },
    });
  });
  after(async () => {
    gate.open();
    await b?.stop();
  });

  const rollback = (entity: string): Promise<Decision> =>
    b.decisionFor(entity, { rule: 'bad-deploy-rollback', action: 'rollback', priority: urgent });
  const status = (scope: string) =>
    b.client.workflow.getHandle(actionBudgetId(scope)).query(guardStatusQuery);
  const releaseBlocker = async (scope: string, blocker: string) => {
    await b.client.workflow
      .getHandle(actionBudgetId(scope))
      .signal(releaseSignal, { holder: blocker, endedAt: await b.env.currentTimeMs(), acted: false });
    await eventually(
      () => status(scope),
      (s) => !s.holders.some((h) => h.holder === blocker),
      'the blocker is released',
    );
  };
  /** Starts a routine remediation that waits for the blocked clean_disk slot. */
  const routineWaiting = async (scope: string) => {
    const entity = unique('batch/e');
    const handle = await b.remediate(
      'remediate-routine',
      await b.decisionFor(entity, { priority: routine }),
      b.settings(scope),
    );
    await eventually(
      () => b.answers(handle.workflowId),
      (a) => a.some((x) => x.result === 'deferred'),
      'the routine remediation is deferred',
    );
    return { entity, handle };
  };

  it('grants the routine remediation only once the urgent action has reached the target', async () => {
    closeGate();
    const scope = unique('wf-hold');
    const blocker = await b.holdTheSlot(scope, { lane: 4, fairnessKey: 'service:batch' });
    const r = await routineWaiting(scope);
    const urgentEntity = unique('checkout/e');
    const u = await b.remediate('remediate-urgent', await rollback(urgentEntity), b.settings(scope));
    // The urgent remediation is granted (a rollback slot is free) and its action is at the target, held there.
    await eventually(
      async () => b.acted(urgentEntity),
      (v) => v,
      'the urgent action reaches the target',
    );
    const grant = (await b.answers(u.workflowId)).find((a) => a.guard === 'budget' && a.result === 'granted');
    assert.equal(grant?.reportActed, true, 'the urgent grant asks to hear when it acted');
    // The clean_disk slot frees: the routine request fits, but the lane hold keeps it.
    await releaseBlocker(scope, blocker);
    await sleep(500);
    await b.env.sleep(3_000);
    await sleep(500);
    const held = await status(scope);
    assert.deepEqual(
      held.deferred.map((d) => [d.holder, d.reason]),
      [[r.handle.workflowId, `lane 1 ${u.workflowId} acts first, before lane 4 (AUTOGLM_LANE_HOLD=60s)`]],
    );
    assert.equal(b.acted(r.entity), false, 'no routine action while the urgent one is on its way');
    // The urgent action completes: its remediation tells the budget, the routine one goes.
    gate.open();
    assert.equal((await r.handle.result()).outcome, 'verified');
    assert.equal((await u.result()).outcome, 'verified');
    const at = (entity: string) => b.target.received.find((a) => a.body.entity === entity)!.at;
    assert.ok(at(urgentEntity) < at(r.entity), 'the urgent action reached the target first');
    const { events } = await u.fetchHistory();
    const marker = (events ?? []).some(
      (e) =>
        e.markerRecordedEventAttributes?.markerName === 'core_patch' &&
        Object.values(e.markerRecordedEventAttributes.details ?? {}).some((d) =>
          d.payloads?.some((p) =>
            Buffer.from(p.data ?? [])
              .toString()
              .includes(`"${REPORTS_ACTED_PATCH}"`),
          ),
        ),
    );
    assert.ok(marker, `the urgent remediation's history carries the ${REPORTS_ACTED_PATCH} marker`);
    assert.ok(
      (events ?? []).some(
        (e) => e.signalExternalWorkflowExecutionInitiatedEventAttributes?.signalName === actedSignal.name,
      ),
      'it signalled the budget that it acted',
    );
  });

  it('lets the routine lane go when the urgent remediation never acts (after the hold, 60 s)', async () => {
    const scope = unique('wf-hold-lost');
    const blocker = await b.holdTheSlot(scope, { lane: 4, fairnessKey: 'service:batch' });
    const r = await routineWaiting(scope);
    // A lost urgent remediation: it is granted (and told to report) but never acts.
    const lost = await b.openHolder('remediate-lost');
    await b.client.workflow.getHandle(actionBudgetId(scope)).signal(acquireSignal, {
      holder: lost,
      entity: 'checkout/lost',
      rule: 'bad-deploy-rollback',
      action: 'rollback',
      cooldownMs: 0,
      lane: 1,
      fairnessKey: 'service:checkout',
      limits,
    });
    await eventually(
      () => status(scope),
      (s) => s.holders.some((h) => h.holder === lost),
      'the lost urgent request is granted',
    );
    await releaseBlocker(scope, blocker);
    await sleep(500);
    await b.env.sleep(HOLD_MS - 15_000);
    await sleep(1000);
    assert.equal(b.acted(r.entity), false, 'held for most of the hold');
    assert.match((await status(scope)).deferred[0]?.reason ?? '', /AUTOGLM_LANE_HOLD=60s/);
    await b.env.sleep(20_000);
    assert.equal((await r.handle.result()).outcome, 'verified', 'acts once the hold has timed out');
  });

  it('replays the histories recorded before the hold', async () => {
    const { committed, failures } = await replayWithCommitted(b.bundle, historiesDir, new Map());
    assert.deepEqual(committed, [
      'budget-lanes-before-hold.pb',
      'deferred-lanes-before-hold.pb',
      'urgent-before-hold.pb',
    ]);
    // The urgent remediation was granted while a routine one waited: the case the hold now changes.
    const budget = readHistory(
      historiesDir,
      committed.find((f) => f.startsWith('budget'))!,
    );
    assert.ok(
      (budget.events ?? []).some((e) =>
        e.workflowExecutionSignaledEventAttributes?.input?.payloads?.some((p) =>
          Buffer.from(p.data ?? [])
            .toString()
            .includes('"lane":1'),
        ),
      ),
      'the old budget history holds an urgent request',
    );
    assert.deepEqual(failures, []);
  });
});

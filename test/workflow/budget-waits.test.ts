/**
 * A remediation the action budget deferred waits for the budget's signal instead of asking again
 * every 30 s (in a storm, hundreds of re-asks filled the act worker's slots ahead of the actions):
 * it asks once, hears "deferred", and acts as soon as the budget grants it; it asks again only
 * after `budgetReaskMs` (5-6 minutes, spread by its workflow id), a safety net. The guard requests
 * run on the guard worker's own task queue when the settings name one, and on the act task queue
 * in workflows started without it. Time-skipping test server; the budget's slot is held by an
 * open workflow that never releases it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { actionBudgetId, releaseSignal, type GuardKind } from '../../workflows/definitions.js';
import { BUDGET_REASK_JITTER_MS, BUDGET_REASK_MS, budgetReaskMs } from '../../workflows/remediate.js';
import { BudgetEnv } from '../support/budget-env.js';
import { unique } from '../support/config.js';

describe('a deferred remediation waits for the budget’s answer (time-skipping test server)', () => {
  let b: BudgetEnv;

  before(async () => {
    b = await BudgetEnv.start({ loop: true });
  });

  after(async () => {
    await b?.stop();
  });

  async function until(ok: () => boolean | Promise<boolean>, what: string): Promise<void> {
    const deadline = Date.now() + 30_000;
    while (!(await ok())) {
      assert.ok(Date.now() < deadline, what);
      await sleep(50);
    }
  }

  const asked = (holder: string, kind: GuardKind) =>
    b.requests.filter((r) => r.holder === holder && r.kind === kind);

  it('spreads the re-ask interval over a minute past five, the same for the same workflow', () => {
    const ids = Array.from({ length: 200 }, (_, i) => `remediate-${i}`);
    const intervals = ids.map(budgetReaskMs);
    assert.deepEqual(ids.map(budgetReaskMs), intervals, 'deterministic');
    for (const ms of intervals)
      assert.ok(ms >= BUDGET_REASK_MS && ms < BUDGET_REASK_MS + BUDGET_REASK_JITTER_MS);
    assert.ok(new Set(intervals.map((ms) => Math.floor(ms / 10_000))).size >= 5, 'spread over the minute');
  });

  it('asks the budget once, acts on its signal when the slot frees, and asks again only after minutes', async () => {
    const scope = unique('wf-waits');
    const blocker = await b.holdTheSlot(scope);
    const entity = unique('disk');
    const handle = await b.remediate('remediate-waits', await b.decisionFor(entity), b.settings(scope));
    const id = handle.workflowId;
    await until(() => asked(id, 'budget').length === 1, 'the remediation asks the budget');
    // Deferred: four minutes of workflow time pass without another ask (it asked every 30 s before).
    await sleep(500);
    await b.env.sleep(4 * 60_000);
    await sleep(500);
    assert.equal(asked(id, 'budget').length, 1, 'one ask in four minutes while deferred');
    assert.equal(b.acted(entity), false, 'it waits while the slot is held');
    // The safety net: past its re-ask interval it asks once more (and keeps waiting).
    await b.env.sleep(budgetReaskMs(id) - 4 * 60_000 + 1_000);
    await until(() => asked(id, 'budget').length === 2, 'it asks again after its re-ask interval');
    // Every guard request ran on the guard queue, none on the act queue.
    assert.deepEqual(
      [...new Set(b.requests.filter((r) => r.holder === id).map((r) => r.taskQueue))],
      [b.guardQueue],
    );
    // The slot frees: the budget's grant (a signal) lets it act at once, with no ask of its own.
    const budget = b.client.workflow.getHandle(actionBudgetId(scope));
    await budget.signal(releaseSignal, {
      holder: blocker,
      endedAt: await b.env.currentTimeMs(),
      acted: false,
    });
    await until(() => b.acted(entity), 'it acts on the budget’s grant');
    const verdict = await handle.result();
    assert.equal(verdict.outcome, 'verified', JSON.stringify(verdict.evidence));
    assert.equal(asked(id, 'budget').length, 2, 'no ask between the grant and the action');
    assert.ok(verdict.evidence.deferred !== undefined, 'the verdict says it was deferred');
  });

  it('runs the guard requests on the act task queue in workflows started without a guard queue', async () => {
    const scope = unique('wf-waits-old');
    const entity = unique('disk-old');
    const { guardTaskQueue: _omitted, ...older } = b.settings(scope);
    const handle = await b.remediate('remediate-older', await b.decisionFor(entity), older);
    assert.equal((await handle.result()).outcome, 'verified');
    const queues = b.requests.filter((r) => r.holder === handle.workflowId).map((r) => r.taskQueue);
    assert.deepEqual(queues, [b.queue, b.queue], 'entity guard and budget, on the act queue');
  });
});

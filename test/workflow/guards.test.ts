/**
 * The guard workflows on Temporal's time-skipping test server, driven by their signals as the
 * remediations drive them: continue-as-new carries what a guard holds, and a lease or a queued
 * request whose remediation is gone (terminated by hand, never started) does not block the
 * entity or the budget. The "remediations" here are open workflows on a task queue no worker
 * polls: they take the guards' answers as signals, which the test reads from their histories.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, type WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import {
  ACTION_BUDGET_WORKFLOW,
  acquireSignal,
  ENTITY_GUARD_WORKFLOW,
  guardStatusQuery,
  leaseAnswerSignal,
  releaseSignal,
  type BudgetLimits,
  type LeaseAnswer,
  type LeaseRequest,
} from '../../workflows/definitions.js';
import type { EntityGuardSnapshot } from '../../workflows/guard-state.js';
import type { GuardOptions } from '../../workflows/guards.js';
import { unique } from '../support/config.js';
import { createTimeSkippingEnv } from '../support/time-skipping.js';

const workflowsPath = fileURLToPath(new URL('../../workflows/index.ts', import.meta.url));
const MINUTE = 60_000;

describe('guard workflows (time-skipping test server)', () => {
  let env: TestWorkflowEnvironment;
  /** A plain client: time moves only where a test says so (see remediate.test.ts). */
  let client: Client;
  let worker: Worker;
  let running: Promise<void>;
  const queue = unique('wf-guards');
  /** A task queue no worker polls: workflows started there stay open and take signals. */
  const nowhere = unique('wf-nowhere');
  const started: WorkflowHandle[] = [];

  before(async () => {
    env = await createTimeSkippingEnv();
    client = new Client({ connection: env.connection });
    worker = await Worker.create({ connection: env.nativeConnection, taskQueue: queue, workflowsPath });
    running = worker.run();
  });

  after(async () => {
    await Promise.allSettled(started.map((h) => h.terminate('test over')));
    if (worker?.getState() === 'RUNNING') worker.shutdown();
    await running;
    await env?.teardown();
  });

  /** A remediation that is alive (open, takes signals) but never runs. */
  async function liveHolder(): Promise<string> {
    const handle = await client.workflow.start('remediate', {
      taskQueue: nowhere,
      workflowId: unique('remediate-live'),
    });
    started.push(handle);
    return handle.workflowId;
  }

  const request = (holder: string, rule: string, action = 'scale_out'): LeaseRequest => ({
    holder,
    entity: 'host-1',
    rule,
    action,
    cooldownMs: 10 * MINUTE,
  });

  /** The lease answers a holder has received, in order. */
  async function answersTo(holder: string): Promise<LeaseAnswer['result'][]> {
    const { events } = await client.workflow.getHandle(holder).fetchHistory();
    return (events ?? []).flatMap((e) => {
      const s = e.workflowExecutionSignaledEventAttributes;
      if (s?.signalName !== leaseAnswerSignal.name) return [];
      return [defaultPayloadConverter.fromPayload<LeaseAnswer>(s.input!.payloads![0]!).result];
    });
  }

  /** Polls (real time) until `ok` holds of what `read` returns; fails naming the last value. */
  async function eventually<T>(read: () => Promise<T>, ok: (v: T) => boolean, what: string): Promise<T> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const v = await read();
      if (ok(v)) return v;
      assert.ok(Date.now() < deadline, `${what}; last: ${JSON.stringify(v)}`);
      await sleep(50);
    }
  }

  /** Whether a guard's signal to a remediation failed (the remediation is gone), as its history shows. */
  const failedSignals = async (guard: WorkflowHandle) =>
    ((await guard.fetchHistory()).events ?? []).filter(
      (e) => e.signalExternalWorkflowExecutionFailedEventAttributes,
    ).length;

  const runStatus = async (workflowId: string, runId: string) =>
    (await client.workflow.getHandle(workflowId, runId).describe()).status.name;

  it('continues as new past its history limit, carrying the lease, the cooldowns and the limit', async () => {
    const options: GuardOptions = { maxHistoryEvents: 40 };
    const snapshot: EntityGuardSnapshot = { cooldowns: {}, recentDenials: [] };
    const guard = await client.workflow.start(ENTITY_GUARD_WORKFLOW, {
      taskQueue: queue,
      workflowId: unique('guard-can'),
      args: [snapshot, options],
    });
    started.push(guard);
    const firstRun = guard.firstExecutionRunId;
    const [cooled, inFlight, asker] = await Promise.all([liveHolder(), liveHolder(), liveHolder()]);

    // cpu-scale-out acts and ends: its rule cools down; then mem-restart takes the lease.
    await guard.signal(acquireSignal, request(cooled, 'cpu-scale-out'));
    await eventually(
      () => answersTo(cooled),
      (a) => a.length === 1,
      'the first holder hears back',
    );
    await guard.signal(releaseSignal, { holder: cooled, endedAt: await env.currentTimeMs(), acted: true });
    await guard.signal(acquireSignal, request(inFlight, 'mem-restart', 'restart'));
    await eventually(
      () => answersTo(inFlight),
      (a) => a.length === 1,
      'the second holder hears back',
    );

    // Each refused request adds ~6 events: 10 take the guard past 40, and it continues as new
    // once the signals stop coming (a completion is refused while new signals wait); twice.
    const runs = [firstRun];
    for (const round of [1, 2]) {
      for (let i = 0; i < 10; i++) await guard.signal(acquireSignal, request(asker, 'cpu-scale-out'));
      const current = runs[runs.length - 1]!;
      await eventually(
        () => runStatus(guard.workflowId, current),
        (s) => s === 'CONTINUED_AS_NEW',
        `run ${round} continues as new`,
      );
      runs.push((await client.workflow.getHandle(guard.workflowId).describe()).runId);
    }
    assert.deepEqual(
      await Promise.all(runs.slice(0, 2).map((r) => runStatus(guard.workflowId, r))),
      ['CONTINUED_AS_NEW', 'CONTINUED_AS_NEW'],
      'the limit came along to the second run',
    );

    const status = await client.workflow.getHandle(guard.workflowId).query(guardStatusQuery);
    assert.deepEqual(
      status.holders.map((h) => [h.holder, h.rule]),
      [[inFlight, 'mem-restart']],
    );
    assert.deepEqual(
      status.cooldowns.map((c) => [c.rule, c.after]),
      [['cpu-scale-out', cooled]],
    );
    assert.deepEqual(
      status.recentDenials.map((d) => d.holder),
      [asker],
    );
    assert.ok((await answersTo(asker)).every((r) => r === 'denied'));

    // The carried lease still works: released, the entity is free for another rule.
    await guard.signal(releaseSignal, { holder: inFlight, endedAt: await env.currentTimeMs(), acted: false });
    await guard.signal(acquireSignal, request(asker, 'disk-cleanup', 'cleanup'));
    const answers = await eventually(
      () => answersTo(asker),
      (a) => a.at(-1) === 'granted',
      'the asker gets the lease once the carried holder released it',
    );
    assert.ok(answers.length >= 3);
  });

  it('frees the entity when the remediation it granted is gone', async () => {
    // A cooldown of another rule keeps the guard running (an idle guard ends).
    const now = await env.currentTimeMs();
    const snapshot: EntityGuardSnapshot = {
      cooldowns: { 'other-rule': { until: now + 60 * MINUTE, after: 'remediate-earlier' } },
      recentDenials: [],
    };
    const guard = await client.workflow.start(ENTITY_GUARD_WORKFLOW, {
      taskQueue: queue,
      workflowId: unique('guard-gone'),
      args: [snapshot],
    });
    started.push(guard);
    const gone = unique('remediate-gone'); // never started (or terminated by hand)
    await guard.signal(acquireSignal, request(gone, 'cpu-scale-out'));
    await eventually(
      () => failedSignals(guard),
      (n) => n === 1,
      'the guard could not answer the gone holder',
    );
    await eventually(
      () => guard.query(guardStatusQuery),
      (s) => s.holders.length === 0,
      'the guard releases the lease it granted to a gone holder',
    );

    const live = await liveHolder();
    await guard.signal(acquireSignal, request(live, 'cpu-scale-out'));
    assert.deepEqual(
      await eventually(
        () => answersTo(live),
        (a) => a.length === 1,
        'the live holder hears back',
      ),
      ['granted'],
      'not "remediation … is in flight"',
    );
    const status = await guard.query(guardStatusQuery);
    assert.deepEqual(
      status.holders.map((h) => h.holder),
      [live],
    );
    assert.deepEqual(
      status.cooldowns.map((c) => c.rule),
      ['other-rule'],
      'a gone holder never acted: no cooldown',
    );
  });

  it('frees a budget slot, and withdraws a queued request, of a remediation that is gone', async () => {
    const limits: BudgetLimits = {
      maxConcurrentPerAction: 1,
      maxConcurrentPerRule: 10,
      maxActionsPerPeriod: 100,
      periodMs: 10 * MINUTE,
      maxDeferred: 10,
    };
    const budget = await client.workflow.start(ACTION_BUDGET_WORKFLOW, {
      taskQueue: queue,
      workflowId: unique('budget-gone'),
      args: [{ limits }],
    });
    started.push(budget);
    const acquire = (holder: string) => budget.signal(acquireSignal, { ...request(holder, 'r'), limits });

    // A gone remediation granted the only slot: the slot is freed for the next.
    await acquire(unique('remediate-gone'));
    await eventually(
      () => failedSignals(budget),
      (n) => n === 1,
      'the budget could not answer the gone holder',
    );
    const first = await liveHolder();
    await acquire(first);
    assert.deepEqual(
      await eventually(
        () => answersTo(first),
        (a) => a.length === 1,
        'the first live holder hears back',
      ),
      ['granted'],
    );

    // A gone remediation queued behind it is withdrawn, so it cannot take the slot from the next.
    await acquire(unique('remediate-gone'));
    await eventually(
      () => failedSignals(budget),
      (n) => n === 2,
      'the budget could not tell the gone holder to wait',
    );
    const second = await liveHolder();
    await acquire(second);
    await eventually(
      () => answersTo(second),
      (a) => a.length === 1,
      'the second live holder is told to wait',
    );
    assert.deepEqual(
      (await budget.query(guardStatusQuery)).deferred.map((d) => d.holder),
      [second],
      'only the live request waits',
    );
    await budget.signal(releaseSignal, { holder: first, endedAt: await env.currentTimeMs(), acted: true });
    assert.deepEqual(
      await eventually(
        () => answersTo(second),
        (a) => a.length === 2,
        'the second live holder hears back again',
      ),
      ['deferred', 'granted'],
    );
    const status = await budget.query(guardStatusQuery);
    assert.deepEqual(
      status.holders.map((h) => h.holder),
      [second],
    );
    assert.equal(status.grantsInPeriod, 3, 'the gone one, the first, the second');
  });
});

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
import { Context } from '@temporalio/activity';
import { Client, type WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import {
  bundleWorkflowCode,
  DefaultLogger,
  Worker,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { createActActivities } from '../../services/act/activities.js';
import { createGuardWorker } from '../../services/act/guard-worker.js';
import { createActuatorRegistry } from '../../services/actuators/actuator.js';
import { httpActuator } from '../../services/actuators/http.js';
import type { Decision } from '../../services/common/contracts.js';
import { createLogger } from '../../services/common/logger.js';
import {
  ACTION_BUDGET_WORKFLOW,
  acquireSignal,
  ENTITY_GUARD_WORKFLOW,
  actionBudgetId,
  releaseSignal,
  type BudgetLimits,
  type GuardKind,
  type RemediateSettings,
} from '../../workflows/definitions.js';
import { BUDGET_REASK_JITTER_MS, BUDGET_REASK_MS, budgetReaskMs } from '../../workflows/remediate.js';
import { unique } from '../support/config.js';
import { startActionTarget, type ActionTarget } from '../support/target.js';
import { createTimeSkippingEnv } from '../support/time-skipping.js';

const workflowsPath = fileURLToPath(new URL('../../workflows/index.ts', import.meta.url));

const limits: BudgetLimits = {
  maxConcurrentPerAction: 1,
  maxConcurrentPerRule: 100,
  maxActionsPerPeriod: 1000,
  periodMs: 600_000,
  maxDeferred: 100,
};

describe('a deferred remediation waits for the budget’s answer (time-skipping test server)', () => {
  let env: TestWorkflowEnvironment;
  let client: Client;
  let target: ActionTarget;
  let bundle: WorkflowBundleWithSourceMap;
  let workers: Worker[] = [];
  let running: Promise<unknown>;
  const actQueue = unique('wf-waits-act');
  const guardQueue = unique('wf-waits-guards');
  const verifyQueue = unique('wf-waits-verify');
  const started: WorkflowHandle[] = [];
  /** Each guard request: who asked which guard, on which task queue. */
  const requests: Array<{ holder: string; kind: GuardKind; taskQueue: string }> = [];

  before(async () => {
    env = await createTimeSkippingEnv();
    client = new Client({ connection: env.connection });
    bundle = await bundleWorkflowCode({ workflowsPath, logger: new DefaultLogger('WARN') });
    target = await startActionTarget({});
    const act = createActActivities({
      actuators: createActuatorRegistry([
        httpActuator({ defaultUrl: target.url, timeoutMs: 5000, allowedOrigins: [], maxResponseBytes: 4096 }),
      ]),
      publish: async () => {},
      client,
      actTaskQueue: actQueue,
      budgetLimits: limits,
      logger: createLogger('warn'),
      registry: new Registry(),
    });
    const requestLease: typeof act.requestLease = async (input) => {
      requests.push({
        holder: input.request.holder,
        kind: input.kind,
        taskQueue: Context.current().info.taskQueue,
      });
      return act.requestLease(input);
    };
    const counted = { ...act, requestLease };
    workers = [
      await Worker.create({
        connection: env.nativeConnection,
        taskQueue: actQueue,
        workflowBundle: bundle,
        activities: counted,
      }),
      await createGuardWorker({
        connection: env.nativeConnection,
        namespace: 'default',
        taskQueue: guardQueue,
        slots: 4,
        activities: counted,
      }),
      await Worker.create({
        connection: env.nativeConnection,
        taskQueue: verifyQueue,
        activities: {
          verifyRemediation: async () => ({ verified: true, outcome: 'verified', evidence: {} }),
        },
      }),
    ];
    running = Promise.all(workers.map((w) => w.run()));
  });

  after(async () => {
    await Promise.allSettled(started.map((h) => h.terminate('test over')));
    for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    await running;
    await target?.close();
    await env?.teardown();
  });

  const settings = (scope: string, over: Partial<RemediateSettings> = {}): RemediateSettings => ({
    scope,
    cooldownMs: 0,
    verifyTaskQueue: verifyQueue,
    // Old enough inputs are allowed to wait through several re-ask intervals.
    maxDecisionAgeMs: 30 * 60_000,
    approvalTimeoutMs: 60_000,
    actuationTimeoutMs: 10_000,
    guardTaskQueue: guardQueue,
    ...over,
  });

  async function decisionFor(entity: string): Promise<Decision> {
    const now = await env.currentTimeMs();
    return {
      decisionId: unique('d'),
      entity,
      rule: 'disk-clean-up',
      ruleVersion: 'v1',
      mode: 'enforce',
      action: 'clean_disk',
      args: { entity },
      actuator: { type: 'http' },
      cooldown: '0s',
      approval: 'none',
      verify: { conditions: { all: [] }, within: '1s', stableFor: '0s' },
      incident: null,
      facts: {},
      window: { start: now - 3000, end: now },
      stale: false,
      ts: now,
    };
  }

  /**
   * Holds the budget's only clean_disk slot for a holder that stays open and takes signals: an
   * entity guard holding a lease (it waits a day); a workflow no worker runs would keep the test
   * server from skipping time.
   */
  async function holdTheSlot(scope: string): Promise<string> {
    const now = await env.currentTimeMs();
    const blocker = await client.workflow.start(ENTITY_GUARD_WORKFLOW, {
      taskQueue: actQueue,
      workflowId: unique('blocker'),
      args: [
        {
          holder: { holder: 'x', rule: 'r', action: 'a', since: now, cooldownMs: 0 },
          cooldowns: {},
          recentDenials: [],
        },
      ],
    });
    started.push(blocker);
    await client.workflow.signalWithStart(ACTION_BUDGET_WORKFLOW, {
      taskQueue: actQueue,
      workflowId: actionBudgetId(scope),
      args: [{ limits }],
      signal: acquireSignal,
      signalArgs: [
        {
          holder: blocker.workflowId,
          entity: 'x',
          rule: 'disk-clean-up',
          action: 'clean_disk',
          cooldownMs: 0,
          limits,
        },
      ],
    });
    started.push(client.workflow.getHandle(actionBudgetId(scope)));
    return blocker.workflowId;
  }

  async function until(ok: () => boolean | Promise<boolean>, what: string): Promise<void> {
    const deadline = Date.now() + 30_000;
    while (!(await ok())) {
      assert.ok(Date.now() < deadline, what);
      await sleep(50);
    }
  }

  const asked = (holder: string, kind: GuardKind) =>
    requests.filter((r) => r.holder === holder && r.kind === kind);
  const acted = (entity: string) => target.received.some((a) => a.body.entity === entity);

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
    const blocker = await holdTheSlot(scope);
    const entity = unique('disk');
    const handle = await client.workflow.start('remediate', {
      taskQueue: actQueue,
      workflowId: unique('remediate-waits'),
      args: [await decisionFor(entity), settings(scope)],
    });
    started.push(handle);
    const id = handle.workflowId;
    await until(() => asked(id, 'budget').length === 1, 'the remediation asks the budget');
    // Deferred: four minutes of workflow time pass without another ask (it asked every 30 s before).
    await sleep(500);
    await env.sleep(4 * 60_000);
    await sleep(500);
    assert.equal(asked(id, 'budget').length, 1, 'one ask in four minutes while deferred');
    assert.equal(acted(entity), false, 'it waits while the slot is held');
    // The safety net: past its re-ask interval it asks once more (and keeps waiting).
    await env.sleep(budgetReaskMs(id) - 4 * 60_000 + 1_000);
    await until(() => asked(id, 'budget').length === 2, 'it asks again after its re-ask interval');
    // Every guard request ran on the guard queue, none on the act queue.
    assert.deepEqual(
      [...new Set(requests.filter((r) => r.holder === id).map((r) => r.taskQueue))],
      [guardQueue],
    );
    // The slot frees: the budget's grant (a signal) lets it act at once, with no ask of its own.
    const budget = client.workflow.getHandle(actionBudgetId(scope));
    await budget.signal(releaseSignal, { holder: blocker, endedAt: await env.currentTimeMs(), acted: false });
    await until(() => acted(entity), 'it acts on the budget’s grant');
    const verdict = await handle.result();
    assert.equal(verdict.outcome, 'verified', JSON.stringify(verdict.evidence));
    assert.equal(asked(id, 'budget').length, 2, 'no ask between the grant and the action');
    assert.ok(verdict.evidence.deferred !== undefined, 'the verdict says it was deferred');
  });

  it('runs the guard requests on the act task queue in workflows started without a guard queue', async () => {
    const scope = unique('wf-waits-old');
    const entity = unique('disk-old');
    const { guardTaskQueue: _omitted, ...older } = settings(scope);
    const handle = await client.workflow.start('remediate', {
      taskQueue: actQueue,
      workflowId: unique('remediate-older'),
      args: [await decisionFor(entity), older],
    });
    started.push(handle);
    assert.equal((await handle.result()).outcome, 'verified');
    const queues = requests.filter((r) => r.holder === handle.workflowId).map((r) => r.taskQueue);
    assert.deepEqual(queues, [actQueue, actQueue], 'entity guard and budget, on the act queue');
  });
});

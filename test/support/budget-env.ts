/**
 * The action budget's workflow tests share this setup: Temporal's time-skipping test server, the
 * project's workflows bundled once, a worker for them, "remediations" that are open workflows on a
 * task queue no worker polls (they take the budget's signals and never run), and reading back the
 * answers a holder was signalled. With `loop`, also the act step's activities against a local
 * target, the guard worker on its own task queue and a verify worker that always verifies, so real
 * remediations run end to end (every guard request is recorded with the task queue it ran on).
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Context } from '@temporalio/activity';
import { Client, type WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
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
  actionBudgetId,
  ENTITY_GUARD_WORKFLOW,
  leaseAnswerSignal,
  type BudgetLimits,
  type GuardKind,
  type LeaseAnswer,
  type LeaseRequest,
  type RemediateSettings,
} from '../../workflows/definitions.js';
import { unique } from './config.js';
import { startActionTarget, type ActionTarget, type ActionTargetOptions } from './target.js';
import { createTimeSkippingEnv } from './time-skipping.js';

const workflowsPath = fileURLToPath(new URL('../../workflows/index.ts', import.meta.url));

/** One clean_disk at a time, no period limit to speak of: grants follow releases. */
export const NARROW_LIMITS: BudgetLimits = {
  maxConcurrentPerAction: 1,
  maxConcurrentPerRule: 100,
  maxActionsPerPeriod: 1000,
  periodMs: 600_000,
  maxDeferred: 100,
};

/** What `BudgetEnv.start` sets up beyond the workflow worker. */
export interface BudgetEnvOptions {
  /** Act, guard and verify workers and a target, for remediations that run (default: none). */
  readonly loop?: boolean;
  /** The limits the act step's guard requests carry (default `NARROW_LIMITS`). */
  readonly limits?: BudgetLimits;
  /** The target's options (a slow target holds actions in flight). */
  readonly target?: ActionTargetOptions;
}

/** A time-skipping server with the workflows running; `stop()` ends everything it started. */
export class BudgetEnv {
  /** Every workflow a test started, terminated by `stop()`. */
  readonly started: WorkflowHandle[] = [];
  /** Each guard request the act step sent: who asked which guard, on which task queue. */
  readonly requests: Array<{ holder: string; kind: GuardKind; taskQueue: string }> = [];
  /** Where remediations and guards run (the act task queue). */
  readonly queue = unique('wf-budget-act');
  readonly guardQueue = unique('wf-budget-guards');
  readonly verifyQueue = unique('wf-budget-verify');
  private readonly nowhere = unique('wf-nowhere');
  private running: Promise<unknown> = Promise.resolve();
  private workers: Worker[] = [];

  private constructor(
    readonly env: TestWorkflowEnvironment,
    readonly client: Client,
    readonly bundle: WorkflowBundleWithSourceMap,
    readonly limits: BudgetLimits,
    private readonly target_?: ActionTarget,
  ) {}

  static async start(opts: BudgetEnvOptions = {}): Promise<BudgetEnv> {
    const env = await createTimeSkippingEnv();
    const client = new Client({ connection: env.connection });
    const bundle = await bundleWorkflowCode({ workflowsPath, logger: new DefaultLogger('WARN') });
    const target = opts.loop ? await startActionTarget(opts.target ?? {}) : undefined;
    const b = new BudgetEnv(env, client, bundle, opts.limits ?? NARROW_LIMITS, target);
    await b.startWorkers();
    return b;
  }

  /** The local target's log (only with `loop`). */
  get target(): ActionTarget {
    assert.ok(this.target_, 'BudgetEnv.start({ loop: true }) starts a target');
    return this.target_;
  }

  private async startWorkers(): Promise<void> {
    const { env, client } = this;
    const act = createActActivities({
      actuators: createActuatorRegistry(
        this.target_
          ? [
              httpActuator({
                defaultUrl: this.target_.url,
                timeoutMs: 600_000,
                allowedOrigins: [],
                maxResponseBytes: 4096,
              }),
            ]
          : [],
      ),
      publish: async () => {},
      client,
      actTaskQueue: this.queue,
      budgetLimits: this.limits,
      logger: createLogger('warn'),
      registry: new Registry(),
    });
    const requestLease: typeof act.requestLease = async (input) => {
      this.requests.push({
        holder: input.request.holder,
        kind: input.kind,
        taskQueue: Context.current().info.taskQueue,
      });
      return act.requestLease(input);
    };
    const activities = { ...act, requestLease };
    this.workers.push(
      await Worker.create({
        connection: env.nativeConnection,
        taskQueue: this.queue,
        workflowBundle: this.bundle,
        activities,
      }),
    );
    if (this.target_)
      this.workers.push(
        await createGuardWorker({
          connection: env.nativeConnection,
          namespace: 'default',
          taskQueue: this.guardQueue,
          slots: 4,
          activities,
        }),
        await Worker.create({
          connection: env.nativeConnection,
          taskQueue: this.verifyQueue,
          activities: {
            verifyRemediation: async () => ({ verified: true, outcome: 'verified', evidence: {} }),
          },
        }),
      );
    this.running = Promise.all(this.workers.map((w) => w.run()));
  }

  async stop(): Promise<void> {
    await Promise.allSettled(this.started.map((h) => h.terminate('test over')));
    for (const w of this.workers) if (w.getState() === 'RUNNING') w.shutdown();
    await this.running;
    await this.target_?.close();
    await this.env.teardown();
  }

  /** A remediation that is alive (open, takes signals) but never runs. */
  async liveHolder(name: string): Promise<string> {
    const handle = await this.client.workflow.start('remediate', {
      taskQueue: this.nowhere,
      workflowId: unique(name),
    });
    this.started.push(handle);
    return handle.workflowId;
  }

  /** Starts an action budget of its own (a workflow id nobody else uses). */
  async startBudget(limits: BudgetLimits = this.limits, name = 'budget'): Promise<WorkflowHandle> {
    const budget = await this.client.workflow.start(ACTION_BUDGET_WORKFLOW, {
      taskQueue: this.queue,
      workflowId: unique(name),
      args: [{ limits }],
    });
    this.started.push(budget);
    return budget;
  }

  /**
   * Holds the budget of `scope`'s only clean_disk slot for a holder that stays open and takes
   * signals: an entity guard holding a lease (it waits a day); a workflow no worker runs would keep
   * the test server from skipping time. Returns the holder's id.
   */
  async holdTheSlot(
    scope: string,
    request: Partial<LeaseRequest> = {},
    limits: BudgetLimits = this.limits,
  ): Promise<string> {
    const blocker = await this.openHolder('blocker');
    await this.client.workflow.signalWithStart(ACTION_BUDGET_WORKFLOW, {
      taskQueue: this.queue,
      workflowId: actionBudgetId(scope),
      args: [{ limits }],
      signal: acquireSignal,
      signalArgs: [
        {
          holder: blocker,
          entity: 'x',
          rule: 'disk-clean-up',
          action: 'clean_disk',
          cooldownMs: 0,
          ...request,
          limits,
        },
      ],
    });
    this.started.push(this.client.workflow.getHandle(actionBudgetId(scope)));
    return blocker;
  }

  /**
   * A holder that stays open, takes signals and never acts (an entity guard holding a lease, which
   * waits a day), without keeping the test server from skipping time: a remediation that is lost.
   */
  async openHolder(name: string): Promise<string> {
    const now = await this.env.currentTimeMs();
    const handle = await this.client.workflow.start(ENTITY_GUARD_WORKFLOW, {
      taskQueue: this.queue,
      workflowId: unique(name),
      args: [
        {
          holder: { holder: 'x', rule: 'r', action: 'a', since: now, cooldownMs: 0 },
          cooldowns: {},
          recentDenials: [],
        },
      ],
    });
    this.started.push(handle);
    return handle.workflowId;
  }

  /** Every lease answer `holder` was signalled, in order. */
  async answers(holder: string): Promise<LeaseAnswer[]> {
    const { events } = await this.client.workflow.getHandle(holder).fetchHistory();
    return (events ?? []).flatMap((e) => {
      const s = e.workflowExecutionSignaledEventAttributes;
      if (s?.signalName !== leaseAnswerSignal.name) return [];
      return [defaultPayloadConverter.fromPayload<LeaseAnswer>(s.input!.payloads![0]!)];
    });
  }

  /** Settings for a remediation of `scope` on these workers. */
  settings(scope: string, over: Partial<RemediateSettings> = {}): RemediateSettings {
    return {
      scope,
      cooldownMs: 0,
      verifyTaskQueue: this.verifyQueue,
      // Old enough inputs are allowed to wait through several re-ask intervals.
      maxDecisionAgeMs: 30 * 60_000,
      approvalTimeoutMs: 60_000,
      actuationTimeoutMs: 600_000,
      guardTaskQueue: this.guardQueue,
      ...over,
    };
  }

  /** A decision to clean `entity`'s disk (or `over`'s action), fresh at the server's time. */
  async decisionFor(entity: string, over: Partial<Decision> = {}): Promise<Decision> {
    const now = await this.env.currentTimeMs();
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
      ...over,
    };
  }

  /** Starts a remediation of `decision` on the act task queue. */
  async remediate(name: string, decision: Decision, settings: RemediateSettings): Promise<WorkflowHandle> {
    const handle = await this.client.workflow.start('remediate', {
      taskQueue: this.queue,
      workflowId: unique(name),
      args: [decision, settings],
    });
    this.started.push(handle);
    return handle;
  }

  /** Whether the target acted for `entity` (only with `loop`). */
  acted(entity: string): boolean {
    return this.target.received.some((a) => a.body.entity === entity);
  }
}

/** Reads until `ok` (real time, polling every 50 ms); fails with `what` and the last value after `ms`. */
export async function eventually<T>(
  read: () => Promise<T>,
  ok: (v: T) => boolean,
  what: string,
  ms = 30_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    assert.ok(Date.now() < deadline, `${what}; last: ${JSON.stringify(v).slice(0, 300)}`);
    await sleep(50);
  }
}

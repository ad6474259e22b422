/**
 * The real loop from decide on (real Kafka, Temporal, rules engine, decide, act and verify; only the
 * HTTP target is ours) for the lane tests and the priority-storm bench: rules with lanes (or the
 * same rules without, to compare), a catalog with tier-1 and tier-3 services, a deliberately
 * narrow act worker (2 activities at once) and budget (a few actions a second fleet-wide), and
 * observations produced straight to decide's input. The target's log says who acted when.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import type { Kafka, Producer } from 'kafkajs';
import { Registry } from 'prom-client';
import { createActActivities } from '../../services/act/activities.js';
import { createGuardWorker } from '../../services/act/guard-worker.js';
import { actuatorsFromConfig } from '../../services/actuators/from-config.js';
import { guardTaskQueueOf, topicNames, type Config } from '../../services/common/config.js';
import type { Observation } from '../../services/common/contracts.js';
import { connectProducer, createKafka, ensureTopics, sendJson } from '../../services/common/kafka.js';
import { createLogger } from '../../services/common/logger.js';
import type { Service } from '../../services/common/service.js';
import { connectClient, connectWorker, installTemporalRuntime } from '../../services/common/temporal.js';
import { startDecide } from '../../services/decide/main.js';
import { startVerify } from '../../services/verify/main.js';
import { actionBudgetId, guardStatusQuery, type GuardStatus } from '../../workflows/definitions.js';
import { testConfig, unique } from './config.js';
import { deleteTopicsWithPrefix } from './kafka.js';
import { startActionTarget, type ActionTarget } from './target.js';

const workflowsPath = fileURLToPath(new URL('../../workflows/index.ts', import.meta.url));

/** A routine rule (disk clean-up, lane 4) and an urgent one (rollback after a deploy, lane 2, tier 1 → 1). */
function laneRules(withLanes: boolean) {
  const verify = {
    conditions: { all: [{ fact: 'disk.avg', operator: 'lessThan', value: 80 }] },
    within: '1s',
  };
  const routine = {
    name: 'lanes-disk-clean-up',
    priority: 15,
    conditions: {
      all: [
        { fact: 'disk.avg', operator: 'greaterThan', value: 85 },
        { fact: 'disk.count', operator: 'greaterThanInclusive', value: 3 },
      ],
    },
    event: {
      type: 'remediate',
      params: {
        action: 'clean_disk',
        args: { entity: '{{entity}}' },
        cooldown: '10m',
        ...(withLanes ? { priority: 4 } : {}),
        verify: { ...verify, stableFor: '0s' },
      },
    },
  };
  const urgent = {
    name: 'lanes-bad-deploy-rollback',
    priority: 30,
    conditions: {
      all: [
        { fact: 'errors.avg', operator: 'greaterThan', value: 5 },
        { fact: 'eventKinds', operator: 'contains', value: 'deploy' },
      ],
    },
    event: {
      type: 'remediate',
      params: {
        action: 'rollback',
        args: { entity: '{{entity}}', service: '{{service}}' },
        cooldown: '10m',
        // The starter's tier-1 rollback asks a person; here the approval is taken as given.
        approval: 'none',
        ...(withLanes ? { priority: 2 } : {}),
        verify: {
          conditions: { all: [{ fact: 'errors.avg', operator: 'lessThan', value: 2 }] },
          within: '1s',
          stableFor: '0s',
        },
      },
    },
  };
  return [routine, urgent];
}

/** Options of one run: budget and act worker widths. */
export interface LanesOptions {
  readonly withLanes?: boolean;
  /** Actions granted per second fleet-wide (every kind): the narrow budget. */
  readonly actionsPerSecond?: number;
  /** Activities the act worker runs at once. */
  readonly actSlots?: number;
  /** Actions of one kind in flight at once (from the grant to the end of verification). */
  readonly perAction?: number;
}

/** The loop for the lane tests; `stop()` removes everything it started. */
export class LanesHarness {
  readonly logger = createLogger('warn');
  private readonly services: Service[] = [];
  private actWorker?: { worker: Worker; running: Promise<void> };
  private seq = 0;
  /** While closed, the target holds every action it receives (they stay in flight). */
  private gate: { opened: Promise<void>; open: () => void } = { opened: Promise.resolve(), open: () => {} };

  private constructor(
    readonly id: string,
    readonly config: Config,
    readonly target: ActionTarget,
    readonly kafka: Kafka,
    readonly producer: Producer,
    readonly client: Client,
    private readonly rulesDir: string,
  ) {}

  static async start(opts: LanesOptions = {}): Promise<LanesHarness> {
    const id = unique('lanes')
      .replace(/[^a-z0-9]/gi, '')
      .toLowerCase();
    const rulesDir = fs.mkdtempSync(path.join(os.tmpdir(), 'autoglm-lanes-'));
    for (const rule of laneRules(opts.withLanes ?? true))
      fs.writeFileSync(path.join(rulesDir, `${rule.name}.json`), JSON.stringify(rule));
    fs.mkdirSync(path.join(rulesDir, 'context'));
    const services = Object.fromEntries(
      [
        ['checkout', 1],
        ['batch', 3],
        ['svca', 3],
        ['svcb', 3],
      ].map(([name, tier]) => [
        `${id}-${name}`,
        { owner: `team-${name}`, tier, entities: [`${id}-${name}/**`] },
      ]),
    );
    fs.writeFileSync(path.join(rulesDir, 'context', 'catalog.json'), JSON.stringify({ services }));
    const ref: { h?: LanesHarness } = {};
    const target = await startActionTarget({ hold: async () => ref.h?.gate.opened.then(() => sleep(50)) });
    const perSecond = opts.actionsPerSecond ?? 4;
    const config = testConfig({
      rulesDir,
      modelDir: 'off',
      httpActuatorUrl: target.url,
      // closeTarget holds actions for as long as a test needs: no timeout and retry meanwhile.
      httpActuatorTimeout: '10m',
      // Below one a second: one action per period of 1/rate seconds.
      maxActionsPerPeriod: String(Math.max(1, Math.round(perSecond))),
      actionsPeriod: perSecond >= 1 ? '1s' : `${Math.round(1000 / perSecond)}ms`,
      maxConcurrentPerAction: String(opts.perAction ?? 1000),
      maxConcurrentPerRule: '1000',
      maxDeferred: '2000',
      maxDecisionAge: '10m',
      rulesReloadInterval: '0s',
    });
    const kafka = createKafka(config, createLogger('warn'));
    await ensureTopics(kafka, Object.values(topicNames(config)), config.topicPartitions);
    const h = new LanesHarness(
      id,
      config,
      target,
      kafka,
      await connectProducer(kafka),
      await connectClient(config),
      rulesDir,
    );
    ref.h = h;
    installTemporalRuntime(h.logger);
    h.services.push(await startVerify({ config, logger: h.logger, registry: new Registry() }));
    await h.startAct(opts.actSlots ?? 2);
    h.services.push(await startDecide({ config, logger: h.logger, registry: new Registry() }));
    return h;
  }

  /** The act step as services/act/main.ts wires it, with a narrow worker. */
  private async startAct(slots: number): Promise<void> {
    const c = this.config;
    const producer = await connectProducer(this.kafka);
    const activities = createActActivities({
      actuators: actuatorsFromConfig(c),
      publish: (verdict) =>
        sendJson(producer, topicNames(c).verdicts, [{ key: verdict.entity, value: verdict }]),
      client: this.client,
      actTaskQueue: c.actTaskQueue,
      budgetLimits: {
        maxConcurrentPerAction: c.maxConcurrentPerAction,
        maxConcurrentPerRule: c.maxConcurrentPerRule,
        maxActionsPerPeriod: c.maxActionsPerPeriod,
        periodMs: c.actionsPeriod,
        maxDeferred: c.maxDeferred,
        laneHoldMs: c.laneHold,
      },
      logger: this.logger,
      registry: new Registry(),
    });
    const connection = await connectWorker(c);
    const worker = await Worker.create({
      connection,
      namespace: c.temporalNamespace,
      taskQueue: c.actTaskQueue,
      workflowsPath,
      activities,
      maxConcurrentActivityTaskExecutions: slots,
    });
    // The guard requests on their own worker, as services/act/main.ts runs them.
    const guardConnection = await connectWorker(c);
    const guards = await createGuardWorker({
      connection: guardConnection,
      namespace: c.temporalNamespace,
      taskQueue: guardTaskQueueOf(c),
      slots: c.guardSlots,
      activities,
    });
    const guardsRunning = guards.run();
    this.actWorker = { worker, running: worker.run() };
    this.services.push({
      name: 'act',
      readiness: () => ({}),
      stop: async () => {
        if (worker.getState() === 'RUNNING') worker.shutdown();
        if (guards.getState() === 'RUNNING') guards.shutdown();
        await this.actWorker?.running;
        await guardsRunning;
        await connection.close();
        await guardConnection.close();
        await producer.disconnect();
      },
    });
  }

  /** Holds the target's answers until `openTarget`: what reaches it stays in flight. */
  closeTarget(): void {
    let open!: () => void;
    const opened = new Promise<void>((resolve) => (open = resolve));
    this.gate = { opened, open };
  }

  openTarget(): void {
    this.gate.open();
  }

  /** An entity of one of the catalog's services (`checkout` tier 1; `batch`, `svca`, `svcb` tier 3). */
  entity(service: 'checkout' | 'batch' | 'svca' | 'svcb', i: number): string {
    return `${this.id}-${service}/e${i}`;
  }

  /** Observations that match the routine rule (disk) or the urgent one (errors after a deploy). */
  async incidents(kind: 'routine' | 'urgent', entities: readonly string[]): Promise<number> {
    const end = Date.now();
    const messages = entities.map((entity) => {
      const obs: Observation = {
        entity,
        seq: this.seq++,
        window: { start: end - 3000, end },
        features:
          kind === 'routine'
            ? { 'disk.avg': 95, 'disk.max': 97, 'disk.count': 6 }
            : { 'errors.avg': 20, 'errors.count': 6 },
        events: kind === 'urgent' ? [{ kind: 'deploy', message: 'release 42', ts: end - 2000 }] : [],
        ts: end,
      };
      return { key: entity, value: obs };
    });
    await sendJson(this.producer, topicNames(this.config).observations, messages);
    return end;
  }

  /** When the target first acted for each entity (its own log), by entity. */
  actedAt(): Map<string, number> {
    const acted = new Map<string, number>();
    for (const a of this.target.received) {
      const e = String(a.body.entity);
      if (!acted.has(e)) acted.set(e, a.at);
    }
    return acted;
  }

  /** The action budget's status, or undefined before it started. */
  async budget(): Promise<GuardStatus | undefined> {
    try {
      return await this.client.workflow
        .getHandle(actionBudgetId(this.config.topicPrefix))
        .query(guardStatusQuery);
    } catch {
      return undefined;
    }
  }

  /**
   * How many remediations have ended (Temporal's visibility, read at most every 5 s): in an
   * overloaded storm some end without reaching the budget (absorbed, stale).
   */
  async ended(): Promise<number> {
    if (Date.now() - this.endedRead.at < 5_000) return this.endedRead.count;
    const query = `TaskQueue = "${this.config.actTaskQueue}" AND WorkflowType = "remediate" AND ExecutionStatus != "Running"`;
    const { count } = await this.client.workflow.count(query).catch(() => ({ count: this.endedRead.count }));
    this.endedRead = { at: Date.now(), count };
    return count;
  }
  private endedRead = { at: 0, count: 0 };

  /** Polls (real time) until `ok`; fails with `what` after `ms`. */
  async until(ok: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
    const deadline = Date.now() + ms;
    while (!(await ok())) {
      if (Date.now() > deadline) {
        const b = await this.budget();
        const lanes = b?.deferred.map((d) => d.lane ?? 3).join('') ?? '-';
        throw new Error(
          `timed out: ${what}; budget: ${b?.holders.length ?? '-'} in flight, waiting lanes ${lanes}; target: ${this.actedAt().size} entities acted`,
        );
      }
      await sleep(100);
    }
  }

  async stop(): Promise<void> {
    this.openTarget();
    for (const s of this.services.reverse()) await s.stop().catch(() => undefined);
    // Everything this run left open ran on its own task queue: remediations, guards, the budget.
    const query = `TaskQueue = "${this.config.actTaskQueue}" AND ExecutionStatus = "Running"`;
    const ids: string[] = [];
    for await (const run of this.client.workflow.list({ query })) ids.push(run.workflowId);
    for (let i = 0; i < ids.length; i += 50)
      await Promise.allSettled(
        ids.slice(i, i + 50).map((id) => this.client.workflow.getHandle(id).terminate('test over')),
      );
    await deleteTopicsWithPrefix(this.kafka, this.config.topicPrefix);
    await this.producer.disconnect();
    await this.client.connection.close();
    await this.target.close();
    fs.rmSync(this.rulesDir, { recursive: true, force: true });
  }
}

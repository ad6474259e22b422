/**
 * Workflow-level tests of the remediation and its guards on Temporal's time-skipping test server:
 * real workflow code, real guard workflows, the real http actuator against a local target (the
 * edge we do not own), and the real lease activity; only the verdict sink and the verify step
 * are scripted (no Kafka here). Each path's history is then replayed against the current code.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Context } from '@temporalio/activity';
import { Client, type HistoryAndWorkflowId, type WorkflowHandle } from '@temporalio/client';
import proto from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { Registry } from 'prom-client';
import { createActActivities } from '../../services/act/activities.js';
import { createActuatorRegistry } from '../../services/actuators/actuator.js';
import { httpActuator } from '../../services/actuators/http.js';
import type { Decision, Verdict } from '../../services/common/contracts.js';
import { createLogger } from '../../services/common/logger.js';
import { startActionTarget, type ActionTarget } from '../support/target.js';
import type { VerificationRequest, VerificationResult } from '../../services/verify/activities.js';
import {
  actionBudgetId,
  approvalUpdate,
  approveSignal,
  entityGuardId,
  statusQuery,
  type BudgetLimits,
  type RemediateSettings,
} from '../../workflows/definitions.js';
import { unique } from '../support/config.js';
import { createTimeSkippingEnv } from '../support/time-skipping.js';

const workflowsPath = fileURLToPath(new URL('../../workflows/index.ts', import.meta.url));

/** Replays histories with the current workflow code (one bundle); fails naming each that diverged. */
async function replayAll(histories: HistoryAndWorkflowId[]): Promise<void> {
  const failures: string[] = [];
  for await (const result of Worker.runReplayHistories({ workflowsPath }, histories)) {
    if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
  }
  assert.deepEqual(failures, [], 'replays without a nondeterminism error');
}
const historiesDir = fileURLToPath(new URL('../fixtures/histories/', import.meta.url));
const HMAC_KEY = Buffer.from('workflow-test-hmac-key-0123456789');
/** Histories are kept as protobuf bytes: the SDK's JSON helpers refuse the client's decoded objects. */
const History = proto.temporal.api.history.v1.History;

describe('remediate workflow and its guards (time-skipping test server)', () => {
  let env: TestWorkflowEnvironment;
  /**
   * A plain client: awaiting a result through it does not let the server skip time (the
   * environment's own client does, which would fire every timer of every running workflow, the
   * guards' included). Time moves on only where a test says so, with `env.sleep`.
   */
  let client: Client;
  let target: ActionTarget;
  let workers: Worker[] = [];
  let running: Promise<unknown>;
  const actQueue = unique('wf-act');
  const verifyQueue = unique('wf-verify');
  const published: Verdict[] = [];
  /** Per entity: how long the target holds an action (ms; default 300). */
  const holdFor = new Map<string, number>();
  /** Per entity: whether verification passes (default yes), or says no data came ('expired'). */
  const verifyOutcome = new Map<string, boolean | 'expired'>();
  const limits: { -readonly [K in keyof BudgetLimits]: BudgetLimits[K] } = {
    maxConcurrentPerAction: 2,
    maxConcurrentPerRule: 10,
    maxActionsPerPeriod: 100,
    periodMs: 600_000,
    maxDeferred: 10,
  };
  /** Histories recorded per path, replayed at the end. */
  const histories = new Map<string, Awaited<ReturnType<WorkflowHandle['fetchHistory']>>>();

  before(async () => {
    env = await createTimeSkippingEnv();
    client = new Client({ connection: env.connection });
    target = await startActionTarget({
      hmacKey: HMAC_KEY,
      hold: (a) => sleep(holdFor.get(String(a.body.entity)) ?? 300),
    });
    const logger = createLogger('warn');
    const act = createActActivities({
      actuators: createActuatorRegistry([
        httpActuator({
          defaultUrl: target.url,
          timeoutMs: 5000,
          allowedOrigins: [],
          maxResponseBytes: 4096,
          hmacKey: HMAC_KEY,
        }),
      ]),
      publish: async (verdict) => {
        published.push(verdict);
      },
      client,
      actTaskQueue: actQueue,
      budgetLimits: limits,
      logger,
      registry: new Registry(),
    });
    const verifyRemediation = async (req: VerificationRequest): Promise<VerificationResult> => {
      Context.current().heartbeat();
      const scripted = verifyOutcome.get(req.entity) ?? true;
      const outcome = scripted === 'expired' ? 'expired' : scripted ? 'verified' : 'failed';
      return {
        verified: outcome === 'verified',
        outcome,
        evidence: { verification: outcome, observationsChecked: outcome === 'expired' ? 0 : 3 },
      };
    };
    workers = [
      await Worker.create({
        connection: env.nativeConnection,
        taskQueue: actQueue,
        workflowsPath,
        activities: act,
      }),
      await Worker.create({
        connection: env.nativeConnection,
        taskQueue: verifyQueue,
        activities: { verifyRemediation },
      }),
    ];
    running = Promise.all(workers.map((w) => w.run()));
  });

  after(async () => {
    for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    await running;
    await target?.close();
    await env?.teardown();
  });

  const scope = () => unique('wf');
  const settings = (s: string, over: Partial<RemediateSettings> = {}): RemediateSettings => ({
    scope: s,
    cooldownMs: 600_000,
    verifyTaskQueue: verifyQueue,
    maxDecisionAgeMs: 180_000,
    approvalTimeoutMs: 1_800_000,
    actuationTimeoutMs: 10_000,
    ...over,
  });

  async function decisionFor(entity: string, over: Partial<Decision> = {}): Promise<Decision> {
    const now = await env.currentTimeMs();
    return {
      decisionId: unique('d'),
      entity,
      rule: 'cpu-scale-out',
      ruleVersion: 'v1',
      mode: 'enforce',
      action: 'scale_out',
      args: { entity, by: 1 },
      actuator: { type: 'http' },
      cooldown: '10m',
      approval: 'none',
      verify: { conditions: { all: [] }, within: '5m', stableFor: '0s' },
      onVerifyFailure: { action: 'scale_in', args: { entity, by: 1 } },
      escalate: { action: 'page', args: { team: 'sre' } },
      incident: null,
      facts: {},
      window: { start: now - 30_000, end: now },
      stale: false,
      ts: now,
      ...over,
    };
  }

  const start = (decision: Decision, s: RemediateSettings) =>
    client.workflow.start('remediate', {
      taskQueue: actQueue,
      workflowId: `remediate-${decision.decisionId}`,
      args: [decision, s],
    });

  const callsFor = (entity: string) => target.received.filter((a) => a.body.entity === entity);

  async function record(name: string, handle: WorkflowHandle) {
    histories.set(name, await handle.fetchHistory());
  }

  /** Polls the status query until `ok` holds (real time; the workflow waits on a timer meanwhile). */
  async function waitForStatus(
    handle: WorkflowHandle,
    ok: (phase: string, waitingFor?: string) => boolean,
    /** Set to stop polling early (when another poller already found what the test waits for). */
    stop: { done: boolean } = { done: false },
  ) {
    const deadline = Date.now() + 20_000;
    while (!stop.done) {
      const s = await handle.query(statusQuery).catch(() => undefined);
      if (s && ok(s.phase, s.waitingFor)) return s;
      if (Date.now() > deadline) throw new Error(`status never matched; last: ${JSON.stringify(s)}`);
      await sleep(100);
    }
    return undefined;
  }

  it('acts once, signed, verifies, publishes the verdict and answers the status query', async () => {
    const entity = unique('ok');
    const handle = await start(await decisionFor(entity), settings(scope()));
    const verdict = await handle.result();
    assert.equal(verdict.outcome, 'verified', JSON.stringify(verdict.evidence));
    assert.deepEqual(
      callsFor(entity).map((c) => [c.body.action, c.idempotencyKey, c.signed]),
      [['scale_out', handle.workflowId, true]],
    );
    assert.equal((await handle.query(statusQuery)).phase, 'done');
    assert.ok(published.some((v) => v.workflowId === handle.workflowId && v.outcome === 'verified'));
    await record('verified', handle);
  });

  it('absorbs a second remediation of an entity while one is in flight, then holds the cooldown', async () => {
    const s = settings(scope());
    const entity = unique('busy');
    const first = await start(await decisionFor(entity, { approval: 'required' }), s);
    await waitForStatus(first, (phase) => phase === 'awaiting-approval');

    const second = await start(await decisionFor(entity, { rule: 'mem-restart', action: 'restart' }), s);
    const absorbed = await second.result();
    assert.equal(absorbed.outcome, 'absorbed');
    assert.match(
      String(absorbed.evidence.reason),
      new RegExp(`remediation ${first.workflowId} .* is in flight`),
    );
    assert.equal(callsFor(entity).length, 0, 'nothing acted yet');
    await record('absorbed-in-flight', second);

    await first.signal(approveSignal, { by: 'alice', reason: 'looked at the dashboard' });
    const done = await first.result();
    assert.equal(done.outcome, 'verified');
    assert.deepEqual(done.evidence.approval && (done.evidence.approval as { by: string }).by, 'alice');
    await record('approved-by-signal', first);

    const during = await start(await decisionFor(entity), s);
    const cooled = await during.result();
    assert.equal(cooled.outcome, 'absorbed');
    assert.match(String(cooled.evidence.reason), /rule cpu-scale-out is cooling down/);
    await record('absorbed-cooldown', during);

    await env.sleep('11 minutes');
    const afterCooldown = await start(await decisionFor(entity), s);
    assert.equal((await afterCooldown.result()).outcome, 'verified');
    assert.equal(
      callsFor(entity).filter((c) => c.effective).length,
      2,
      'the first and the one after the cooldown',
    );
    const guard = client.workflow.getHandle(entityGuardId(s.scope, entity));
    await record('entity-guard', guard);
  });

  it('keeps at most N actions of a kind in flight fleet-wide and says why the others wait', async () => {
    const s = settings(scope());
    const before = target.maxInFlight;
    assert.ok(before <= 2);
    const entities = [1, 2, 3, 4, 5].map((i) => unique(`fleet${i}`));
    const handles = await Promise.all(entities.map(async (e) => start(await decisionFor(e), s)));
    const stop = { done: false };
    const waiting = await Promise.any(
      handles.map(async (h) => {
        const s = await waitForStatus(
          h,
          (_p, w) => /action budget: 2 scale_out actions in flight/.test(w ?? ''),
          stop,
        );
        if (!s) throw new Error('stopped');
        return s;
      }),
    ).finally(() => {
      stop.done = true; // the other pollers end instead of querying a torn-down server later
    });
    assert.match(waiting.waitingFor ?? '', /AUTOGLM_MAX_CONCURRENT_PER_ACTION=2/);
    const verdicts = await Promise.all(handles.map((h) => h.result()));
    assert.deepEqual(
      verdicts.map((v) => v.outcome),
      ['verified', 'verified', 'verified', 'verified', 'verified'],
    );
    assert.equal(target.maxInFlight, 2, 'never more than 2 scale_out actions at the target at once');
    const deferred = verdicts.filter((v) => v.evidence.deferred !== undefined);
    assert.ok(deferred.length >= 1, 'a deferred action says so in its verdict');
    assert.match(JSON.stringify(deferred[0]!.evidence.deferred), /scale_out actions in flight/);
    await record('deferred-by-budget', handles[verdicts.indexOf(deferred[0]!)]!);
    await record('action-budget', client.workflow.getHandle(actionBudgetId(s.scope)));
  });

  it('denies an action at once when the deferred queue is full', async () => {
    const s = settings(scope());
    limits.maxConcurrentPerAction = 1;
    limits.maxDeferred = 0;
    try {
      const a = unique('q1');
      const b = unique('q2');
      holdFor.set(a, 3000);
      const first = await start(await decisionFor(a), s);
      // The first holds the only slot while its action is at the target; then the second asks.
      const deadline = Date.now() + 20_000;
      while (callsFor(a).length === 0) {
        assert.ok(Date.now() < deadline, 'the first action reaches the target');
        await sleep(20);
      }
      const second = await start(await decisionFor(b), s);
      const denied = await second.result();
      assert.equal(denied.outcome, 'denied', JSON.stringify(denied.evidence));
      assert.match(String(denied.evidence.reason), /AUTOGLM_MAX_DEFERRED=0/);
      assert.equal(callsFor(b).length, 0);
      assert.equal((await first.result()).outcome, 'verified');
      await record('denied-by-budget', second);
    } finally {
      limits.maxConcurrentPerAction = 2;
      limits.maxDeferred = 10;
    }
  });

  it('waits for approval: rejected through the update, which refuses a bad answer', async () => {
    const entity = unique('rej');
    const handle = await start(await decisionFor(entity, { approval: 'required' }), settings(scope()));
    await waitForStatus(handle, (phase) => phase === 'awaiting-approval');
    await assert.rejects(
      handle.executeUpdate(approvalUpdate, { args: [{ approve: false, by: 'bob', reason: ' ' }] }),
    );
    const status = await handle.executeUpdate(approvalUpdate, {
      args: [{ approve: false, by: 'bob', reason: 'change freeze' }],
    });
    assert.equal(status.approval?.by, 'bob');
    await assert.rejects(
      handle.executeUpdate(approvalUpdate, { args: [{ approve: true, by: 'eve', reason: 'me too' }] }),
      'a second answer is refused',
    );
    const verdict = await handle.result();
    assert.equal(verdict.outcome, 'rejected');
    assert.match(String(verdict.evidence.reason), /rejected by bob: change freeze/);
    assert.equal(callsFor(entity).length, 0);
    await record('rejected', handle);
  });

  it('ignores an approval signal without who and why, and keeps waiting', async () => {
    const entity = unique('sig');
    const handle = await start(await decisionFor(entity, { approval: 'required' }), settings(scope()));
    await waitForStatus(handle, (phase) => phase === 'awaiting-approval');
    await handle.signal(approveSignal, 'yes' as never);
    await handle.signal(approveSignal, { by: 'mallory' } as never);
    await sleep(300);
    const waiting = await handle.query(statusQuery);
    assert.equal(waiting.phase, 'awaiting-approval');
    assert.equal(waiting.approval, undefined);
    await handle.signal(approveSignal, { by: 'alice', reason: 'ok' });
    assert.equal((await handle.result()).outcome, 'verified');
  });

  it('refuses an approval for a remediation that needs none', async () => {
    const handle = await start(await decisionFor(unique('noappr')), settings(scope()));
    await handle.result();
    await assert.rejects(
      handle.executeUpdate(approvalUpdate, { args: [{ approve: true, by: 'a', reason: 'b' }] }),
    );
  });

  it('expires when nobody approves in time, without acting', async () => {
    const entity = unique('exp');
    const handle = await start(await decisionFor(entity, { approval: 'required' }), settings(scope()));
    await waitForStatus(handle, (phase) => phase === 'awaiting-approval');
    await env.sleep('31 minutes'); // past the 30m approval timeout
    const verdict = await handle.result();
    assert.equal(verdict.outcome, 'expired');
    assert.equal(callsFor(entity).length, 0);
    await record('expired', handle);
  });

  it('never acts on a stale decision and leaves the entity free', async () => {
    const s = settings(scope());
    const entity = unique('old');
    const now = await env.currentTimeMs();
    const handle = await start(
      await decisionFor(entity, { window: { start: now - 700_000, end: now - 600_000 } }),
      s,
    );
    const verdict = await handle.result();
    assert.equal(verdict.outcome, 'stale');
    assert.match(String(verdict.evidence.reason), /600s old, more than the 180s allowed/);
    assert.equal(callsFor(entity).length, 0);
    const fresh = await start(await decisionFor(entity), s);
    assert.equal(
      (await fresh.result()).outcome,
      'verified',
      'a stale decision holds no lease and no cooldown',
    );
    await record('stale', handle);
  });

  it('compensates, then escalates, when verification fails', async () => {
    const entity = unique('bad');
    verifyOutcome.set(entity, false);
    const handle = await start(await decisionFor(entity), settings(scope()));
    const verdict = await handle.result();
    assert.equal(verdict.outcome, 'compensated');
    assert.deepEqual(
      callsFor(entity).map((c) => [c.body.action, c.idempotencyKey]),
      [
        ['scale_out', handle.workflowId],
        ['scale_in', `${handle.workflowId}/compensate`],
        ['page', `${handle.workflowId}/escalate`],
      ],
    );
    await record('compensated', handle);
  });

  it('ends expired when no data came to verify the action: escalates, does not roll back', async () => {
    const entity = unique('nodata');
    verifyOutcome.set(entity, 'expired');
    const handle = await start(await decisionFor(entity), settings(scope()));
    const verdict = await handle.result();
    assert.equal(verdict.outcome, 'expired');
    assert.equal(verdict.evidence.verification, 'expired');
    assert.deepEqual(
      callsFor(entity).map((c) => [c.body.action, c.idempotencyKey]),
      [
        ['scale_out', handle.workflowId],
        ['page', `${handle.workflowId}/escalate`],
      ],
    );
    await record('verification-expired', handle);
  });

  it('replays every recorded history with the current workflow code', async () => {
    assert.ok(histories.size >= 8, `recorded ${[...histories.keys()].join(', ')}`);
    if (process.env.AUTOGLM_RECORD_HISTORIES === '1') {
      fs.mkdirSync(historiesDir, { recursive: true });
      for (const [name, history] of histories)
        fs.writeFileSync(path.join(historiesDir, `${name}.pb`), History.encode(history).finish());
    }
    await replayAll([...histories].map(([workflowId, history]) => ({ workflowId, history })));
  });

  it('replays the committed histories of every path (a change that breaks running workflows fails here)', async () => {
    const files = fs.existsSync(historiesDir)
      ? fs.readdirSync(historiesDir).filter((f) => f.endsWith('.pb'))
      : [];
    assert.ok(files.length >= 8, `committed histories in ${historiesDir}: ${files.join(', ')}`);
    await replayAll(
      files.map((f) => ({
        workflowId: f,
        history: History.decode(fs.readFileSync(path.join(historiesDir, f))),
      })),
    );
  });
});

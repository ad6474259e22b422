/**
 * Workflow-level tests of the remediation and its guards on Temporal's time-skipping test server:
 * real workflow code, real guard workflows, the real http actuator against a local target (the
 * edge we do not own), and the real lease activity; only the verdict sink and the verify step
 * are scripted (no Kafka here). Each path's history is then replayed against the current code.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Context } from '@temporalio/activity';
import { Client, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import {
  bundleWorkflowCode,
  DefaultLogger,
  Worker,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import { Registry } from 'prom-client';
import { createActActivities } from '../../services/act/activities.js';
import { createActuatorRegistry } from '../../services/actuators/actuator.js';
import { httpActuator } from '../../services/actuators/http.js';
import type { Decision, Verdict } from '../../services/common/contracts.js';
import { createLogger } from '../../services/common/logger.js';
import { startActionTarget, type ActionTarget } from '../support/target.js';
import type { VerificationRequest, VerificationResult } from '../../services/verify/activities.js';
import { MAX_APPROVAL_BY_CHARS, MAX_APPROVAL_REASON_CHARS } from '../../workflows/approval.js';
import {
  actionBudgetId,
  approvalUpdate,
  approveSignal,
  entityGuardId,
  rejectSignal,
  statusQuery,
  type BudgetLimits,
  type RemediateSettings,
  type RemediationStatus,
} from '../../workflows/definitions.js';
import { unique } from '../support/config.js';
import { replayWithCommitted, type FetchedHistory } from '../support/histories.js';
import { createTimeSkippingEnv } from '../support/time-skipping.js';

const workflowsPath = fileURLToPath(new URL('../../workflows/index.ts', import.meta.url));

/** A promise the test opens when it wants: holds an action at the target, or a verdict's publishing. */
interface Gate {
  readonly opened: Promise<void>;
  open(): void;
}
function gate(): Gate {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

/** An `assert.rejects` matcher: the update was refused (by the validator) with a message matching `pattern`. */
const refusedWith = (pattern: RegExp) => (err: unknown) => {
  assert.ok(err instanceof WorkflowUpdateFailedError, `an update failure, not ${String(err)}`);
  assert.match(err.cause?.message ?? '', pattern);
  return true;
};

/**
 * Every path with a committed history in test/fixtures/histories: the recorded histories of a run
 * must be exactly these (a new path commits its history: `AUTOGLM_RECORD_HISTORIES=1` writes the
 * missing ones, never over an old one).
 */
const PATHS = [
  'absorbed-cooldown',
  'absorbed-in-flight',
  'action-budget',
  'approved-by-signal',
  'compensated',
  'deferred-by-budget',
  'denied-by-budget',
  'entity-guard',
  'expired',
  'late-approval',
  'refused-approvals',
  'rejected',
  'rejected-by-signal',
  'stale',
  'verification-expired',
  'verified',
].sort();
/**
 * Histories recorded with older workflow code, for paths that code took differently: the current
 * code must replay them as they ran. `acted-on-a-string-false-before-checks`: before the approval
 * checks, the update `{"approve": "false", …}` approved and acted (security review 3, N4).
 */
const OLDER = ['acted-on-a-string-false-before-checks'];
const historiesDir = fileURLToPath(new URL('../fixtures/histories/', import.meta.url));
const HMAC_KEY = Buffer.from('workflow-test-hmac-key-0123456789');

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
  /** Per entity: a gate the target holds its actions on until the test opens it (default 300 ms). */
  const holdAt = new Map<string, Gate>();
  /** Per entity: a gate the verdict's publishing waits on (default none), to keep a remediation open. */
  const holdPublish = new Map<string, Gate>();
  let bundle: WorkflowBundleWithSourceMap;
  let act: ReturnType<typeof createActActivities>;
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
  const histories = new Map<string, FetchedHistory>();

  before(async () => {
    env = await createTimeSkippingEnv();
    client = new Client({ connection: env.connection });
    bundle = await bundleWorkflowCode({ workflowsPath, logger: new DefaultLogger('WARN') });
    target = await startActionTarget({
      hmacKey: HMAC_KEY,
      hold: (a) => holdAt.get(String(a.body.entity))?.opened ?? sleep(300),
    });
    const logger = createLogger('warn');
    act = createActActivities({
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
        await holdPublish.get(verdict.entity)?.opened;
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
        workflowBundle: bundle,
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
    for (const g of [...holdAt.values(), ...holdPublish.values()]) g.open();
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

  const start = (decision: Decision, s: RemediateSettings, taskQueue = actQueue) =>
    client.workflow.start('remediate', {
      taskQueue,
      workflowId: `remediate-${decision.decisionId}`,
      args: [decision, s],
    });

  const callsFor = (entity: string) => target.received.filter((a) => a.body.entity === entity);

  async function record(name: string, handle: WorkflowHandle) {
    histories.set(name, await handle.fetchHistory());
  }

  /** Waits (real time) until the target has received `n` actions for `entity`. */
  async function waitForCalls(entity: string, n: number) {
    const deadline = Date.now() + 20_000;
    while (callsFor(entity).length < n) {
      assert.ok(Date.now() < deadline, `${n} action(s) for ${entity} reach the target`);
      await sleep(20);
    }
  }

  /** Polls the status query until `ok` holds (real time; the workflow waits on a timer meanwhile). */
  async function waitForStatus(
    handle: WorkflowHandle,
    ok: (phase: string, waitingFor?: string, status?: RemediationStatus) => boolean,
    /** Set to stop polling early (when another poller already found what the test waits for). */
    stop: { done: boolean } = { done: false },
  ) {
    const deadline = Date.now() + 20_000;
    while (!stop.done) {
      const s = await handle.query(statusQuery).catch(() => undefined);
      if (s && ok(s.phase, s.waitingFor, s)) return s;
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

  it("carries the decision's runbook sections into the status query and the verdict", async () => {
    const entity = unique('rb');
    const runbooks = [
      {
        title: 'CPU saturation › Scale out',
        runbook: 'cpu-saturation',
        link: 'runbooks/cpu-saturation.md#scale-out',
        score: 6.2,
      },
    ];
    const handle = await start(await decisionFor(entity, { runbooks }), settings(scope()));
    const verdict = await handle.result();
    assert.deepEqual((await handle.query(statusQuery)).runbooks, [
      { title: 'CPU saturation › Scale out', link: 'runbooks/cpu-saturation.md#scale-out' },
    ]);
    assert.deepEqual(verdict.runbooks, runbooks);
    assert.deepEqual(published.find((v) => v.workflowId === handle.workflowId)?.runbooks, runbooks);
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
    const a = unique('q1');
    const b = unique('q2');
    const held = gate();
    holdAt.set(a, held);
    try {
      const first = await start(await decisionFor(a), s);
      // The first holds the only slot while its action is held at the target; then the second asks.
      await waitForCalls(a, 1);
      const second = await start(await decisionFor(b), s);
      const denied = await second.result();
      assert.equal(denied.outcome, 'denied', JSON.stringify(denied.evidence));
      assert.match(String(denied.evidence.reason), /AUTOGLM_MAX_DEFERRED=0/);
      assert.equal(callsFor(b).length, 0);
      held.open();
      assert.equal((await first.result()).outcome, 'verified');
      await record('denied-by-budget', second);
    } finally {
      held.open();
      limits.maxConcurrentPerAction = 2;
      limits.maxDeferred = 10;
    }
  });

  it('waits for approval: rejected through the update, which refuses a malformed answer and a second one', async () => {
    const entity = unique('rej');
    const handle = await start(await decisionFor(entity, { approval: 'required' }), settings(scope()));
    await waitForStatus(handle, (phase) => phase === 'awaiting-approval');
    await assert.rejects(
      handle.executeUpdate(approvalUpdate, { args: [{ approve: false, by: 'bob', reason: ' ' }] }),
      refusedWith(/^"reason" is blank: why/),
    );
    const status = await handle.executeUpdate(approvalUpdate, {
      args: [{ approve: false, by: 'bob', reason: 'change freeze' }],
    });
    assert.deepEqual(status.approval && { ...status.approval, at: 0 }, {
      approve: false,
      by: 'bob',
      reason: 'change freeze',
      at: 0,
    });
    await assert.rejects(
      handle.executeUpdate(approvalUpdate, { args: [{ approve: true, by: 'eve', reason: 'me too' }] }),
      refusedWith(/^already rejected by bob$/),
      'a second answer is refused',
    );
    const verdict = await handle.result();
    assert.equal(verdict.outcome, 'rejected');
    assert.match(String(verdict.evidence.reason), /rejected by bob: change freeze/);
    assert.equal(callsFor(entity).length, 0);
    await record('rejected', handle);
  });

  /**
   * Answers that must never act (security review 3, N4; test review 3, High 2): each is refused
   * by the update's validator with a message naming the field, and ignored (recorded) as a signal;
   * the remediation keeps waiting and expires without acting.
   */
  const malformed: ReadonlyArray<{
    name: string;
    input: unknown;
    /** The validator's message; undefined for a shape only a signal can have. */
    update?: RegExp;
    /** The message recorded for the signal (default: `update`'s). */
    signal?: RegExp;
    via?: 'approve' | 'reject';
  }> = [
    {
      name: 'approve as the string "false"',
      input: { approve: 'false', by: 'bob', reason: 'I reject this' },
      update:
        /^"approve" must be the JSON boolean true or false, not a string \(write false, not "false" or 0\)$/,
    },
    {
      name: 'approve as the string "no"',
      input: { approve: 'no', by: 'bob', reason: 'nope' },
      update: /^"approve" must be the JSON boolean true or false, not a string/,
    },
    {
      name: 'approve as the string "true"',
      input: { approve: 'true', by: 'alice', reason: 'looks right' },
      update: /^"approve" must be the JSON boolean true or false, not a string/,
    },
    {
      name: 'approve: 1',
      input: { approve: 1, by: 'alice', reason: 'looks right' },
      update: /^"approve" must be the JSON boolean true or false, not a number/,
    },
    {
      name: 'an empty object',
      input: {},
      update:
        /^"approve" is required: true to approve, false to reject; "by" is required: who decides .*; "reason" is required: why/,
      signal: /^"by" is required: who decides .*; "reason" is required: why/,
    },
    {
      name: 'no "by"',
      input: { approve: true, reason: 'looks right' },
      update: /^"by" is required: who decides \(a user name or e-mail\)$/,
    },
    {
      name: 'no "reason"',
      input: { approve: true, by: 'alice' },
      update: /^"reason" is required: why \(shown in the verdict\)$/,
    },
    {
      name: 'a whitespace "by"',
      input: { approve: true, by: ' \t ', reason: 'looks right' },
      update: /^"by" is blank: who decides/,
    },
    {
      name: 'a "by" one character too long',
      input: { approve: true, by: 'a'.repeat(MAX_APPROVAL_BY_CHARS + 1), reason: 'looks right' },
      update: new RegExp(
        `^"by" is ${MAX_APPROVAL_BY_CHARS + 1} characters long; at most ${MAX_APPROVAL_BY_CHARS} are allowed: shorten it$`,
      ),
    },
    {
      name: 'a 1.5 MB "reason" (a verdict over Kafka\'s 1 MB)',
      input: { approve: true, by: 'alice', reason: 'r'.repeat(1_500_000) },
      update: new RegExp(
        `^"reason" is 1500000 characters long; at most ${MAX_APPROVAL_REASON_CHARS} are allowed: shorten it$`,
      ),
    },
    {
      name: 'a control character in "reason"',
      input: { approve: true, by: 'alice', reason: 'fine\u001b[2Jnot' },
      update: /^"reason" holds a control or direction character \(U\+001B at index 4\): remove it$/,
    },
    {
      name: 'a string instead of an object',
      input: 'yes',
      update:
        /^an approval is a JSON object \{"approve": true\|false, "by": "<who>", "reason": "<why>"\}, not a string$/,
    },
    {
      name: 'the approve signal saying approve: false',
      input: { approve: false, by: 'bob', reason: 'I reject this' },
      signal:
        /^"approve": false contradicts the approve signal: leave "approve" out, or send the reject signal$/,
    },
    {
      name: 'the reject signal with approve as the string "false"',
      input: { approve: 'false', by: 'bob', reason: 'I reject this' },
      signal: /^"approve" must be the JSON boolean true or false, not a string/,
      via: 'reject',
    },
  ];
  for (const c of malformed) {
    it(`never acts on ${c.name}: refused as an update, recorded and ignored as a signal`, async () => {
      const entity = unique('bad-answer');
      const handle = await start(await decisionFor(entity, { approval: 'required' }), settings(scope()));
      await waitForStatus(handle, (phase) => phase === 'awaiting-approval');
      if (c.update) {
        await assert.rejects(
          handle.executeUpdate(approvalUpdate, { args: [c.input as never] }),
          refusedWith(c.update),
        );
      }
      await handle.signal(c.via === 'reject' ? rejectSignal : approveSignal, c.input as never);
      const waiting = await waitForStatus(handle, (_p, _w, s) => s?.refusedApprovals !== undefined);
      assert.equal(waiting?.phase, 'awaiting-approval');
      assert.equal(waiting?.approval, undefined);
      assert.equal(waiting?.refusedApprovals?.count, 1);
      assert.equal(waiting?.refusedApprovals?.latest[0]?.via, `${c.via ?? 'approve'} signal`);
      assert.match(waiting?.refusedApprovals?.latest[0]?.problem ?? '', (c.signal ?? c.update)!);

      await env.sleep('31 minutes'); // past the 30m approval timeout: nothing was taken
      const verdict = await handle.result();
      assert.equal(verdict.outcome, 'expired', JSON.stringify(verdict.evidence).slice(0, 500));
      assert.equal(verdict.evidence.approval, undefined);
      assert.deepEqual(verdict.evidence.refusedApprovals, waiting?.refusedApprovals);
      assert.ok(JSON.stringify(verdict).length < 4096, 'the verdict stays small');
      assert.equal(callsFor(entity).length, 0, 'the target saw no action');
      if (c === malformed[0]) await record('refused-approvals', handle);
    });
  }

  it('acts on a well-formed approval update, keeping only approve, by and reason (trimmed)', async () => {
    const entity = unique('appr');
    const by = `alice-${'x'.repeat(MAX_APPROVAL_BY_CHARS - 6)}`; // the longest allowed
    const reason = `${'r'.repeat(MAX_APPROVAL_REASON_CHARS - 1)}.`;
    const handle = await start(await decisionFor(entity, { approval: 'required' }), settings(scope()));
    await waitForStatus(handle, (phase) => phase === 'awaiting-approval');
    const extra = { approved: false, note: 'n'.repeat(100_000), at: 0 };
    const status = await handle.executeUpdate(approvalUpdate, {
      args: [{ approve: true, by: `  ${by} `, reason: `\n${reason}`, ...extra } as never],
    });
    assert.deepEqual(Object.keys(status.approval ?? {}).sort(), ['approve', 'at', 'by', 'reason']);
    const verdict = await handle.result();
    assert.equal(verdict.outcome, 'verified', JSON.stringify(verdict.evidence).slice(0, 500));
    const approval = verdict.evidence.approval as Record<string, unknown>;
    assert.deepEqual({ ...approval, at: 0 }, { approve: true, by, reason, at: 0 });
    assert.ok(typeof approval.at === 'number' && approval.at > 0, 'the time it was taken');
    assert.equal(verdict.evidence.refusedApprovals, undefined);
    assert.equal(callsFor(entity).length, 1);
  });

  it('acts on the approve signal with approve: true and extra fields, keeping only the three', async () => {
    const entity = unique('appr-sig');
    const handle = await start(await decisionFor(entity, { approval: 'required' }), settings(scope()));
    await waitForStatus(handle, (phase) => phase === 'awaiting-approval');
    await handle.signal(approveSignal, {
      approve: true,
      by: 'alice@example.com',
      reason: 'checked',
      extra: { nested: 'x'.repeat(10_000) },
    } as never);
    const verdict = await handle.result();
    assert.equal(verdict.outcome, 'verified');
    const approval = verdict.evidence.approval as Record<string, unknown>;
    assert.deepEqual(Object.keys(approval).sort(), ['approve', 'at', 'by', 'reason']);
    assert.equal(approval.by, 'alice@example.com');
    assert.equal(callsFor(entity).length, 1);
  });

  it('ends rejected on the reject signal, without acting', async () => {
    const entity = unique('rej-sig');
    const handle = await start(await decisionFor(entity, { approval: 'required' }), settings(scope()));
    await waitForStatus(handle, (phase) => phase === 'awaiting-approval');
    await handle.signal(rejectSignal, { by: 'bob', reason: 'not during the release' });
    const verdict = await handle.result();
    assert.equal(verdict.outcome, 'rejected');
    assert.match(String(verdict.evidence.reason), /^rejected by bob: not during the release$/);
    const approval = verdict.evidence.approval as Record<string, unknown>;
    assert.deepEqual(
      { ...approval, at: 0 },
      {
        approve: false,
        by: 'bob',
        reason: 'not during the release',
        at: 0,
      },
    );
    assert.equal(callsFor(entity).length, 0, 'the target saw no action');
    await record('rejected-by-signal', handle);
  });

  it('ignores approval signals without who and why, keeps the latest 10, and keeps waiting', async () => {
    const entity = unique('sig');
    const handle = await start(await decisionFor(entity, { approval: 'required' }), settings(scope()));
    await waitForStatus(handle, (phase) => phase === 'awaiting-approval');
    const bad: unknown[] = [
      ...Array.from({ length: 8 }, (_, i) => ({ by: `x${i}` })),
      'yes',
      { by: 'mallory' },
      { reason: 'nobody said who' },
      { by: '   ', reason: 'a blank who' },
    ];
    for (const input of bad) await handle.signal(approveSignal, input as never);
    const waiting = await waitForStatus(handle, (_p, _w, s) => s?.refusedApprovals?.count === bad.length);
    assert.equal(waiting?.phase, 'awaiting-approval');
    assert.equal(waiting?.approval, undefined);
    const latest = waiting?.refusedApprovals?.latest ?? [];
    assert.equal(latest.length, 10, 'the latest 10 are kept');
    assert.deepEqual(
      latest.slice(-4).map((r) => r.problem.replace(/:.*/, '')),
      [
        'an approval is a JSON object {"approve"',
        '"reason" is required',
        '"by" is required',
        '"by" is blank',
      ],
      'in order: "yes", {by: "mallory"}, a reason without who, a whitespace who',
    );
    assert.equal(callsFor(entity).length, 0);

    await handle.signal(approveSignal, { by: 'alice', reason: 'ok' });
    const verdict = await handle.result();
    assert.equal(verdict.outcome, 'verified');
    assert.equal((verdict.evidence.approval as { by: string }).by, 'alice');
    assert.equal((verdict.evidence.refusedApprovals as { count: number }).count, bad.length);
    assert.equal(callsFor(entity).length, 1);
  });

  it('refuses an approval for a remediation that needs none (sent while its action is at the target)', async () => {
    const entity = unique('noappr');
    const held = gate();
    holdAt.set(entity, held);
    try {
      const handle = await start(await decisionFor(entity), settings(scope()));
      await waitForCalls(entity, 1);
      await assert.rejects(
        handle.executeUpdate(approvalUpdate, { args: [{ approve: false, by: 'a', reason: 'b' }] }),
        refusedWith(/^this remediation needs no approval$/),
      );
      await handle.signal(rejectSignal, { by: 'a', reason: 'b' });
      const refused = await waitForStatus(handle, (_p, _w, s) => s?.refusedApprovals !== undefined);
      assert.equal(refused?.phase, 'acting', 'the refusals came while the action was in flight');
      assert.match(
        refused?.refusedApprovals?.latest[0]?.problem ?? '',
        /^this remediation needs no approval$/,
      );
      held.open();
      const verdict = await handle.result();
      assert.equal(verdict.outcome, 'verified');
      assert.equal(verdict.evidence.approval, undefined);
      assert.equal(callsFor(entity).length, 1);
    } finally {
      held.open();
    }
  });

  it('never takes an approval that comes after the deadline, even in the task that ends the wait', async () => {
    const entity = unique('late');
    const queue = unique('wf-late');
    const APPROVAL_TIMEOUT_MS = 4_000;
    // No sticky cache: the second worker rebuilds the workflow from history, as after a restart.
    const worker = () =>
      Worker.create({
        connection: env.nativeConnection,
        taskQueue: queue,
        workflowBundle: bundle,
        activities: act,
        maxCachedWorkflows: 0,
      });
    const publishing = gate();
    holdPublish.set(entity, publishing);
    const first = await worker();
    const firstRun = first.run();
    let handle!: Awaited<ReturnType<typeof start>>;
    try {
      handle = await start(
        await decisionFor(entity, { approval: 'required' }),
        settings(scope(), { approvalTimeoutMs: APPROVAL_TIMEOUT_MS }),
        queue,
      );
      await waitForStatus(handle, (phase) => phase === 'awaiting-approval');
    } finally {
      first.shutdown();
      await firstRun;
    }
    // With no worker, the approval timeout fires and then the approval lands: one task sees both.
    // With no worker, the approval timeout fires, then the approval lands: one task sees both.
    // (Real time: the test server's env.sleep waits a minute for a task no worker takes.)
    const [second] = await Promise.all([worker(), sleep(APPROVAL_TIMEOUT_MS + 1_000)]);
    await handle.signal(approveSignal, { by: 'alice', reason: 'sorry, I was away' });
    const secondRun = second.run();
    try {
      const publishingNow = await waitForStatus(handle, (phase) => phase === 'publishing');
      assert.equal(publishingNow?.verdict?.outcome, 'expired');
      assert.equal(publishingNow?.approval, undefined);
      assert.match(
        publishingNow?.refusedApprovals?.latest[0]?.problem ?? '',
        /^too late: the approval deadline passed at .* \(AUTOGLM_APPROVAL_TIMEOUT\)$/,
      );
      await assert.rejects(
        handle.executeUpdate(approvalUpdate, { args: [{ approve: true, by: 'alice', reason: 'now?' }] }),
        refusedWith(/^it no longer waits for an approval: it expired$/),
      );
      publishing.open();
      const verdict = await handle.result();
      assert.equal(verdict.outcome, 'expired');
      assert.equal(verdict.evidence.approval, undefined);
      assert.equal((verdict.evidence.refusedApprovals as { count: number }).count, 1);
      assert.equal(callsFor(entity).length, 0, 'the target saw no action');
      await record('late-approval', handle);
    } finally {
      publishing.open();
      second.shutdown();
      await secondRun;
    }
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

  it('records a history of exactly the committed paths, and replays them with the current code', async () => {
    assert.deepEqual(
      [...histories.keys()].sort(),
      PATHS,
      'every path recorded, each with a committed history',
    );
    // Recording writes the missing ones; this run's are replayed (and the committed ones with them).
    const { failures } = await replayWithCommitted(bundle, historiesDir, histories);
    assert.deepEqual(failures, [], 'replays without a nondeterminism error');
  });

  it('replays the committed histories of every path (a change that breaks running workflows fails here)', async () => {
    const { committed, failures } = await replayWithCommitted(bundle, historiesDir, new Map());
    assert.deepEqual(
      committed,
      [...PATHS, ...OLDER].map((p) => `${p}.pb`).sort(),
      `committed histories in ${historiesDir}`,
    );
    assert.deepEqual(failures, [], 'replays without a nondeterminism error');
  });
});

/**
 * Approver identity on Temporal's time-skipping test server: the real remediation workflow and
 * guards, the real act activities with an approvers file (HMAC and Ed25519 keys in a temporary
 * folder), the real http actuator against a local target; only verification is scripted. Answers
 * go through `answerApproval` (services/common/approval-client.ts), as `autoglm approve` and a
 * console send them. Each path's history is replayed, with the committed ones in
 * test/fixtures/histories/approval-identity (`AUTOGLM_RECORD_HISTORIES=1` writes missing ones).
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
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
import { Registry } from 'prom-client';
import { createActActivities } from '../../services/act/activities.js';
import { IDENTITY_NOT_CHECKED } from '../../services/act/approval-activities.js';
import { createActuatorRegistry } from '../../services/actuators/actuator.js';
import { httpActuator } from '../../services/actuators/http.js';
import { answerApproval, ApprovalRefusedError } from '../../services/common/approval-client.js';
import { readSigningKey, signApproval, type SigningKey } from '../../services/common/approval-proof.js';
import type { Decision } from '../../services/common/contracts.js';
import { createLogger } from '../../services/common/logger.js';
import type { VerificationResult } from '../../services/verify/activities.js';
import {
  approvalUpdate,
  approveSignal,
  statusQuery,
  type RemediateSettings,
  type RemediationStatus,
} from '../../workflows/definitions.js';
import { unique } from '../support/config.js';
import { replayWithCommitted, type FetchedHistory } from '../support/histories.js';
import { startActionTarget, type ActionTarget } from '../support/target.js';
import { createTimeSkippingEnv } from '../support/time-skipping.js';

const workflowsPath = fileURLToPath(new URL('../../workflows/index.ts', import.meta.url));
const fixturesDir = fileURLToPath(new URL('../fixtures/histories/approval-identity/', import.meta.url));
const HMAC_KEY = Buffer.from('approval-identity-test-hmac-key-0123');

/** An `assert.rejects` matcher: the answer was refused, with a message matching `pattern`. */
const refusedWith = (pattern: RegExp) => (err: unknown) => {
  assert.ok(err instanceof ApprovalRefusedError, `a refusal, not ${String(err)}`);
  assert.match(err.message, pattern);
  return true;
};

describe('approver identity (time-skipping test server)', () => {
  let env: TestWorkflowEnvironment;
  let client: Client;
  let target: ActionTarget;
  let bundle: WorkflowBundleWithSourceMap;
  let dir: string;
  let running: Promise<unknown>;
  const workers: Worker[] = [];
  const checkedQueue = unique('wf-appr-checked');
  const uncheckedQueue = unique('wf-appr-unchecked');
  const verifyQueue = unique('wf-appr-verify');
  const keys: Record<'alice' | 'bob' | 'eve', SigningKey> = {} as never;
  const histories = new Map<string, FetchedHistory>();

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'approval-identity-'));
    const secret = (name: string) =>
      fs.writeFileSync(path.join(dir, name), crypto.randomBytes(32).toString('base64'), { mode: 0o600 });
    secret('alice.key');
    secret('eve.key');
    const bob = crypto.generateKeyPairSync('ed25519');
    fs.writeFileSync(path.join(dir, 'bob.pem'), bob.privateKey.export({ type: 'pkcs8', format: 'pem' }), {
      mode: 0o600,
    });
    fs.writeFileSync(path.join(dir, 'bob.pub'), bob.publicKey.export({ type: 'spki', format: 'pem' }));
    const approversFile = path.join(dir, 'approvers.json');
    fs.writeFileSync(
      approversFile,
      JSON.stringify({
        approvers: [
          { name: 'alice', team: 'sre', keyFile: 'alice.key' },
          { name: 'bob', team: 'payments', services: ['payments'], publicKeyFile: 'bob.pub' },
        ],
      }),
    );
    keys.alice = readSigningKey(path.join(dir, 'alice.key'));
    keys.bob = readSigningKey(path.join(dir, 'bob.pem'));
    keys.eve = readSigningKey(path.join(dir, 'eve.key'));

    env = await createTimeSkippingEnv();
    client = new Client({ connection: env.connection });
    bundle = await bundleWorkflowCode({ workflowsPath, logger: new DefaultLogger('WARN') });
    target = await startActionTarget({ hmacKey: HMAC_KEY });
    const logger = createLogger('warn');
    const activities = (taskQueue: string, approvers?: { file: string; proofMaxAgeMs: number }) =>
      createActActivities({
        actuators: createActuatorRegistry([
          httpActuator({
            defaultUrl: target.url,
            timeoutMs: 5000,
            allowedOrigins: [],
            maxResponseBytes: 4096,
            hmacKey: HMAC_KEY,
          }),
        ]),
        publish: async () => {},
        client,
        actTaskQueue: taskQueue,
        budgetLimits: {
          maxConcurrentPerAction: 10,
          maxConcurrentPerRule: 10,
          maxActionsPerPeriod: 100,
          periodMs: 600_000,
          maxDeferred: 10,
        },
        logger,
        registry: new Registry(),
        ...(approvers ? { approvers } : {}),
      });
    const verifyRemediation = async (): Promise<VerificationResult> => {
      Context.current().heartbeat();
      return { verified: true, outcome: 'verified', evidence: { verification: 'verified' } };
    };
    workers.push(
      await Worker.create({
        connection: env.nativeConnection,
        taskQueue: checkedQueue,
        workflowBundle: bundle,
        activities: activities(checkedQueue, { file: approversFile, proofMaxAgeMs: 5 * 60_000 }),
      }),
      await Worker.create({
        connection: env.nativeConnection,
        taskQueue: uncheckedQueue,
        workflowBundle: bundle,
        activities: activities(uncheckedQueue),
      }),
      await Worker.create({
        connection: env.nativeConnection,
        taskQueue: verifyQueue,
        activities: { verifyRemediation },
      }),
    );
    running = Promise.all(workers.map((w) => w.run()));
  });

  after(async () => {
    for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    await running;
    await target?.close();
    await env?.teardown();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const settings = (over: Partial<RemediateSettings> = {}): RemediateSettings => ({
    scope: unique('wf-appr'),
    cooldownMs: 600_000,
    verifyTaskQueue: verifyQueue,
    maxDecisionAgeMs: 180_000,
    approvalTimeoutMs: 1_800_000,
    actuationTimeoutMs: 10_000,
    ...over,
  });

  /** A decision that needs approval, for an entity of catalog service `service`. */
  async function decisionFor(entity: string, service: string | null): Promise<Decision> {
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
      approval: 'required',
      verify: { conditions: { all: [] }, within: '5m', stableFor: '0s' },
      incident: null,
      facts: { entity, service },
      window: { start: now - 30_000, end: now },
      stale: false,
      ts: now,
    };
  }

  /** Starts a remediation and waits until it waits for approval and knows who may answer. */
  async function waiting(entity: string, service: string | null, queue = checkedQueue, over = {}) {
    const decision = await decisionFor(entity, service);
    const handle = await client.workflow.start('remediate', {
      taskQueue: queue,
      workflowId: `remediate-${decision.decisionId}`,
      args: [decision, settings(over)],
    });
    const status = await statusWhen(
      handle,
      (s) => s.phase === 'awaiting-approval' && s.approvers !== undefined,
    );
    return { handle, decision, status };
  }

  async function statusWhen(handle: WorkflowHandle, ok: (s: RemediationStatus) => boolean) {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const s = await handle.query(statusQuery).catch(() => undefined);
      if (s && ok(s)) return s;
      if (Date.now() > deadline) throw new Error(`status never matched; last: ${JSON.stringify(s)}`);
      await sleep(100);
    }
  }

  const callsFor = (entity: string) => target.received.filter((a) => a.body.entity === entity);
  const answer = (workflowId: string, approve: boolean, by: 'alice' | 'bob' | 'eve', signed = true) =>
    answerApproval(client, {
      workflowId,
      approve,
      by,
      reason: 'checked the dashboard',
      ...(signed ? { signingKey: keys[by] } : {}),
    });

  it('refuses unsigned, unlisted and out-of-scope approvals, then acts on a signed one from who may', async () => {
    const entity = unique('checkout-pod');
    const { handle, status } = await waiting(entity, 'checkout');
    assert.deepEqual(status.approvers, { checked: true, mayApprove: ['alice'], more: 0 });
    assert.match(status.waitingFor ?? '', /signed answers only; may approve: alice/);

    // Unsigned, as the update: refused by its validator before history records it.
    await assert.rejects(
      answer(handle.workflowId, true, 'alice', false),
      refusedWith(/^approver identity is checked here: sign the answer with "alice"'s key/),
    );
    // Unsigned, as a signal from the Temporal UI: recorded, ignored.
    await handle.signal(approveSignal, { by: 'alice', reason: 'from the UI' });
    const afterSignal = await statusWhen(handle, (s) => s.refusedApprovals !== undefined);
    assert.match(
      afterSignal.refusedApprovals?.latest[0]?.problem ?? '',
      /^approver identity is checked here/,
    );
    // Signed, but by someone not listed, or listed for another service only.
    await assert.rejects(
      answer(handle.workflowId, true, 'eve'),
      refusedWith(/^"eve" is not a listed approver \(AUTOGLM_APPROVERS_FILE\): alice may approve it$/),
    );
    await assert.rejects(
      answer(handle.workflowId, true, 'bob'),
      refusedWith(
        /^"bob" may not approve a remediation of service checkout: alice may approve it; "bob" may still reject it$/,
      ),
    );
    // A proof made for another remediation (its own workflow id) does not carry over.
    const other = await decisionFor(entity, 'checkout');
    const borrowed = signApproval(keys.alice, {
      workflowId: `remediate-${other.decisionId}`,
      decisionId: other.decisionId,
      approve: true,
      by: 'alice',
      reason: 'checked the dashboard',
      at: Date.now(),
    });
    await assert.rejects(
      answerApproval(client, {
        workflowId: handle.workflowId,
        approve: true,
        by: 'alice',
        reason: 'checked the dashboard',
        proof: borrowed,
      }),
      refusedWith(/^the proof does not match "alice"'s key/),
    );
    // An old proof: signed ten minutes before it arrived.
    await assert.rejects(
      answerApproval(
        client,
        { workflowId: handle.workflowId, approve: true, by: 'alice', reason: 'ok', signingKey: keys.alice },
        { now: () => Date.now() - 10 * 60_000 },
      ),
      refusedWith(/more than the 300s allowed \(AUTOGLM_APPROVAL_PROOF_MAX_AGE\): sign a new answer$/),
    );
    const stillWaiting = await handle.query(statusQuery);
    assert.equal(stillWaiting.phase, 'awaiting-approval');
    assert.equal(stillWaiting.approval, undefined);
    assert.equal(
      stillWaiting.refusedApprovals?.count,
      5,
      'the signal and the four refused by the approver check',
    );
    assert.equal(callsFor(entity).length, 0, 'nothing acted');

    const taken = await answer(handle.workflowId, true, 'alice');
    assert.deepEqual(taken.approvalIdentity, {
      checked: true,
      approver: 'alice',
      team: 'sre',
      key: 'hmac-sha256',
    });
    const verdict = await handle.result();
    assert.equal(verdict.outcome, 'verified', JSON.stringify(verdict.evidence).slice(0, 500));
    assert.equal((verdict.evidence.approval as { by: string }).by, 'alice');
    assert.deepEqual(verdict.evidence.approvalIdentity, taken.approvalIdentity);
    assert.equal(callsFor(entity).length, 1);
    const text = JSON.stringify(await handle.fetchHistory());
    for (const file of ['alice.key', 'eve.key', 'bob.pem'])
      assert.ok(
        !text.includes(fs.readFileSync(path.join(dir, file), 'utf8').trim()),
        `no ${file} in history`,
      );
    histories.set('signed-approve', await handle.fetchHistory());
  });

  it("takes a signed reject from a listed approver who may not approve the remediation's service", async () => {
    const entity = unique('checkout-pod');
    const { handle } = await waiting(entity, 'checkout');
    const taken = await answer(handle.workflowId, false, 'bob');
    assert.deepEqual(taken.approvalIdentity, {
      checked: true,
      approver: 'bob',
      team: 'payments',
      key: 'ed25519',
    });
    const verdict = await handle.result();
    assert.equal(verdict.outcome, 'rejected');
    assert.match(String(verdict.evidence.reason), /^rejected by bob: checked the dashboard$/);
    assert.equal(callsFor(entity).length, 0);
    histories.set('signed-reject', await handle.fetchHistory());
  });

  it('without an approvers file takes an unsigned answer and says identity is not checked', async () => {
    const entity = unique('free-pod');
    const { handle, status } = await waiting(entity, 'checkout', uncheckedQueue);
    assert.deepEqual(status.approvers, { checked: false, note: IDENTITY_NOT_CHECKED });
    assert.match(status.waitingFor ?? '', /approver identity is not checked: no AUTOGLM_APPROVERS_FILE/);
    const taken = await answer(handle.workflowId, true, 'eve', false);
    assert.deepEqual(taken.approvalIdentity, { checked: false, note: IDENTITY_NOT_CHECKED });
    assert.equal((await handle.result()).outcome, 'verified');
    assert.equal(callsFor(entity).length, 1);
    histories.set('unchecked-approve', await handle.fetchHistory());
  });

  it("checks answers with the limits in the workflow's settings, and the defaults when there are none", async () => {
    const limited = await waiting(unique('lim'), 'payments', checkedQueue, {
      approvalLimits: { maxByChars: 8, maxReasonChars: 20, maxRefusedKept: 2 },
    });
    await assert.rejects(
      limited.handle.executeUpdate(approvalUpdate, {
        args: [{ approve: true, by: 'alice-xyz', reason: 'r'.repeat(21) }],
      }),
      (err: Error) => {
        assert.match(
          (err.cause as Error | undefined)?.message ?? '',
          /^"by" is 9 characters long; at most 8 are allowed: shorten it; "reason" is 21 characters long; at most 20 are allowed/,
        );
        return true;
      },
    );
    for (let i = 0; i < 3; i++) await limited.handle.signal(approveSignal, { by: `x${i}` } as never);
    const kept = await statusWhen(limited.handle, (s) => s.refusedApprovals?.count === 3);
    assert.equal(kept.refusedApprovals?.latest.length, 2, 'only the latest 2 kept');
    await limited.handle.terminate('test done');

    // No approvalLimits (a workflow started before them): 128 and 1024, as before the knobs.
    const defaults = await waiting(unique('def'), 'payments');
    await assert.rejects(
      defaults.handle.executeUpdate(approvalUpdate, {
        args: [{ approve: true, by: 'alice-xyz', reason: 'r'.repeat(1024) }],
      }),
      (err: Error) => {
        assert.match(
          (err.cause as Error | undefined)?.message ?? '',
          /^approver identity is checked here/,
          'the shape passed',
        );
        return true;
      },
    );
    await assert.rejects(
      defaults.handle.executeUpdate(approvalUpdate, {
        args: [{ approve: true, by: 'a'.repeat(129), reason: 'ok' }],
      }),
      (err: Error) => {
        assert.match(
          (err.cause as Error | undefined)?.message ?? '',
          /^"by" is 129 characters long; at most 128 are allowed/,
        );
        return true;
      },
    );
    await defaults.handle.terminate('test done');
  });

  it('replays the histories of this run and the committed ones with the current code', async () => {
    assert.deepEqual([...histories.keys()].sort(), ['signed-approve', 'signed-reject', 'unchecked-approve']);
    const { committed, failures } = await replayWithCommitted(bundle, fixturesDir, histories);
    assert.deepEqual(committed, ['signed-approve.pb', 'signed-reject.pb', 'unchecked-approve.pb']);
    assert.deepEqual(failures, [], 'replays without a nondeterminism error');
  });
});

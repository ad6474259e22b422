/**
 * Durability: the act worker is killed with SIGKILL while an action is at the target; a new act
 * worker takes over, the activity is retried with the same idempotency key, and the target (which
 * de-duplicates by that key, as a well-behaved one does) sees exactly one effective action.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { Verdict } from '../../services/common/contracts.js';
import { RemediationStarter } from '../../services/decide/workflow-starter.js';
import { SafetyHarness } from '../support/safety-harness.js';
import { spawnService } from '../support/service-process.js';

describe('an act worker killed during an actuation', () => {
  const children: ChildProcess[] = [];
  let h: SafetyHarness;

  before(async () => {
    // A short actuator timeout, so the retry after the crash comes soon (activity timeout = it + 5s).
    h = await SafetyHarness.start({ httpActuatorTimeout: '2s' });
  });

  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await h?.stop();
  });

  /** The act service as its own process, configured like the harness's in-process services. */
  function startActProcess(): ChildProcess {
    const c = h.config;
    const child = spawnService('act', c, {
      AUTOGLM_HTTP_ACTUATOR_URL: c.httpActuatorUrl,
      AUTOGLM_HTTP_ACTUATOR_TIMEOUT: '2s',
      AUTOGLM_ACTUATOR_HMAC_KEY_FILE: c.actuatorHmacKeyFile,
      AUTOGLM_LOG_FORMAT: 'json',
    });
    children.push(child);
    return child;
  }

  it('completes the run with exactly one effective action at the target', async () => {
    const entity = h.entity('crash');
    const first = startActProcess();
    let killedAt = 0;
    h.holdFor.set(entity, async (action) => {
      if (!action.effective) return;
      // The action reached the target and the worker has not heard back: kill it now.
      first.kill('SIGKILL');
      await new Promise((resolve) => first.once('exit', resolve));
      killedAt = Date.now();
      startActProcess();
    });
    const { workflowId } = await new RemediationStarter(h.client, h.config).start(
      h.decision(entity, Date.now(), { action: 'restart' }),
    );
    const verdict = await h.verdicts.waitFor<Verdict>((v) => v.workflowId === workflowId, 120_000);
    assert.ok(killedAt > 0, 'the worker was killed during the actuation');
    assert.equal(first.signalCode, 'SIGKILL');
    const calls = h.callsFor(entity);
    assert.ok(calls.length >= 2, `the action was retried after the crash (${calls.length} requests)`);
    assert.deepEqual(
      new Set(calls.map((c) => c.idempotencyKey)),
      new Set([workflowId]),
      'one idempotency key',
    );
    assert.equal(calls.filter((c) => c.effective).length, 1, 'exactly one effective action');
    assert.ok(calls.every((c) => c.signed));
    assert.ok(verdict.evidence.acted, 'the run went on past the action to verification and a verdict');
  });
});

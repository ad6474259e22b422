/**
 * Durability: the act worker is killed with SIGKILL while an action is at the target; a new act
 * worker takes over, the activity is retried with the same idempotency key, and the target (which
 * de-duplicates by that key, as a well-behaved one does) sees exactly one effective action.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { repoRoot } from '../../infra/paths.js';
import type { Verdict } from '../../services/common/contracts.js';
import { RemediationStarter } from '../../services/decide/workflow-starter.js';
import { SafetyHarness } from '../support/safety-harness.js';

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
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'services/act/main.ts')], {
      cwd: repoRoot,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: {
        ...process.env,
        KAFKA_BROKERS: c.kafkaBrokers.join(','),
        TEMPORAL_ADDRESS: c.temporalAddress,
        AUTOGLM_TOPIC_PREFIX: c.topicPrefix,
        AUTOGLM_TOPIC_PARTITIONS: String(c.topicPartitions),
        AUTOGLM_GROUP_PREFIX: c.groupPrefix,
        AUTOGLM_ACT_TASK_QUEUE: c.actTaskQueue,
        AUTOGLM_VERIFY_TASK_QUEUE: c.verifyTaskQueue,
        AUTOGLM_HTTP_ACTUATOR_URL: c.httpActuatorUrl,
        AUTOGLM_HTTP_ACTUATOR_TIMEOUT: '2s',
        AUTOGLM_ACTUATOR_HMAC_KEY_FILE: c.actuatorHmacKeyFile,
        AUTOGLM_OPS_PORT: '0',
        AUTOGLM_LOG_FORMAT: 'json',
        LOG_LEVEL: 'warn',
      },
    });
    child.stderr?.resume();
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

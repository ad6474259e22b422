import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { ENTITY_KEY, VERDICT_KEY } from '../../workflows/definitions.js';
import { unique } from '../support/config.js';
import { createTimeSkippingEnv } from '../support/time-skipping.js';
import { approveUpdate, pokeSignal, type SleepyActivities } from './sleepy-workflow.js';

const TWO_HOURS_MS = 2 * 60 * 60 * 1000;

describe('Temporal time-skipping test server (offline)', () => {
  let env: TestWorkflowEnvironment;
  let worker: Worker;
  let running: Promise<void>;
  const taskQueue = unique('time-skipping');
  const activities: SleepyActivities = { stamp: async (label) => `${label}!` };

  before(async () => {
    env = await createTimeSkippingEnv();
    worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowsPath: fileURLToPath(new URL('./sleepy-workflow.ts', import.meta.url)),
      activities,
    });
    running = worker.run();
  });
  after(async () => {
    if (worker) {
      worker.shutdown();
      await running;
    }
    await env?.teardown();
  });

  it('skips a 2-hour timer and takes the project search attributes at start and on upsert', async () => {
    const workflowId = unique('sleepy');
    const started = Date.now();
    const result = await env.client.workflow.execute('sleepyWorkflow', {
      taskQueue,
      workflowId,
      workflowExecutionTimeout: '1d',
      typedSearchAttributes: [{ key: ENTITY_KEY, value: 'host-1' }],
    });
    const wallMs = Date.now() - started;
    assert.ok(wallMs < 20_000, `2h of workflow time took ${wallMs} ms of wall time`);
    assert.ok(result.sleptMs >= TWO_HOURS_MS, `workflow time advanced ${result.sleptMs} ms`);
    assert.equal(result.stamped, 'woke!');
    const described = await env.client.workflow.getHandle(workflowId).describe();
    assert.equal(described.typedSearchAttributes.get(ENTITY_KEY), 'host-1');
    assert.equal(described.typedSearchAttributes.get(VERDICT_KEY), 'verified');
  });

  it('delivers signals and updates (with a validator) to a running workflow', async () => {
    const handle = await env.client.workflow.start('gatedWorkflow', {
      taskQueue,
      workflowId: unique('gated'),
      workflowExecutionTimeout: '2d',
    });
    await handle.signal(pokeSignal);
    await handle.signal(pokeSignal);
    await assert.rejects(handle.executeUpdate(approveUpdate, { args: [''] }), WorkflowUpdateFailedError);
    const ack = await handle.executeUpdate(approveUpdate, { args: ['lead'] });
    assert.deepEqual(ack, { accepted: true, pokes: 2 });
    assert.deepEqual(await handle.result(), { approvedBy: 'lead', pokes: 2, timedOut: false });
  });

  it('skips a 1-day condition timeout when nobody answers', async () => {
    const started = Date.now();
    const result = await env.client.workflow.execute('gatedWorkflow', {
      taskQueue,
      workflowId: unique('gated-timeout'),
      workflowExecutionTimeout: '2d',
    });
    assert.deepEqual(result, { pokes: 0, timedOut: true }); // undefined fields do not survive JSON
    assert.ok(Date.now() - started < 20_000);
  });
});

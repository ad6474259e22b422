import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { SEARCH_ATTRIBUTES } from '../../infra/temporal.js';
import { createLogger } from '../../services/common/logger.js';
import { connectClient, connectWorker, installTemporalRuntime } from '../../services/common/temporal.js';
import { testConfig, unique } from '../support/config.js';

describe('Temporal smoke (real dev server)', () => {
  const config = testConfig();
  let client: Client;

  before(async () => {
    installTemporalRuntime(createLogger('warn'));
    client = await connectClient(config);
  });
  after(async () => {
    await client.connection.close();
  });

  it('runs a workflow with one activity on a real worker', async () => {
    const connection = await connectWorker(config);
    const worker = await Worker.create({
      connection,
      taskQueue: config.actTaskQueue,
      workflowsPath: fileURLToPath(new URL('./echo-workflow.ts', import.meta.url)),
      activities: { shout: async (text: string) => text.toUpperCase() },
    });
    const result = await worker.runUntil(
      client.workflow.execute('echoWorkflow', {
        taskQueue: config.actTaskQueue,
        workflowId: unique('smoke-echo'),
        args: ['hello'],
      }),
    );
    await connection.close();
    assert.equal(result, 'HELLO');
  });

  it('has the Autoglm search attributes registered as Keyword', async () => {
    const { customAttributes } = await client.connection.operatorService.listSearchAttributes({
      namespace: config.temporalNamespace,
    });
    for (const name of SEARCH_ATTRIBUTES) {
      assert.equal(customAttributes?.[name], 2, `${name} should be a Keyword search attribute`);
    }
  });
});

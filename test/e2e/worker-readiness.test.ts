/**
 * A running Temporal worker whose server stops answering: its state stays RUNNING (it retries its
 * polls), so `/readyz` must tell from a probe of its own, and say why under `connections`; when the
 * server answers again the worker is ready again. The server is the real one behind a TCP proxy
 * that this test takes down and up (the shared server keeps running).
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import { Worker } from '@temporalio/worker';
import { Registry } from 'prom-client';
import { createLogger } from '../../services/common/logger.js';
import { startOpsServer } from '../../services/common/ops-server.js';
import { connectWorker, installTemporalRuntime } from '../../services/common/temporal.js';
import { runWorker } from '../../services/common/worker.js';
import { testConfig, unique } from '../support/config.js';
import { TcpProxy } from '../support/tcp-proxy.js';

interface Readyz {
  ready: boolean;
  checks: Record<string, boolean>;
  connections?: Record<string, { problem: string; at: string }>;
}

async function readyz(port: number): Promise<{ status: number; body: Readyz }> {
  const res = await fetch(`http://127.0.0.1:${port}/readyz`);
  return { status: res.status, body: (await res.json()) as Readyz };
}

/** Polls `/readyz` until `want` holds (or fails after `timeoutMs` with the last answer). */
async function until(
  port: number,
  want: (r: { status: number; body: Readyz }) => boolean,
  timeoutMs: number,
) {
  const deadline = Date.now() + timeoutMs;
  let last = await readyz(port);
  while (!want(last)) {
    if (Date.now() > deadline) assert.fail(`/readyz stayed ${last.status} ${JSON.stringify(last.body)}`);
    await sleep(100);
    last = await readyz(port);
  }
  return last;
}

describe('a Temporal worker whose server stops answering', () => {
  const cleanups: Array<() => Promise<void>> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  });

  it('is not ready while the server does not answer, says why on /readyz, and is ready again after', async () => {
    installTemporalRuntime(createLogger('warn'));
    const base = testConfig();
    const proxy = await TcpProxy.start(base.temporalAddress);
    cleanups.push(() => proxy.down());
    const config = { ...base, temporalAddress: proxy.address };
    const taskQueue = unique('readyz');
    const connection = await connectWorker(config);
    const worker = await Worker.create({
      connection,
      namespace: config.temporalNamespace,
      taskQueue,
      activities: { noop: async () => 'ok' },
    });
    const errors: unknown[] = [];
    const running = runWorker(worker, connection, (err) => errors.push(err), {
      everyMs: 200,
      timeoutMs: 1000,
    });
    cleanups.push(async () => {
      await proxy.up();
      await running.stop();
    });
    const ops = await startOpsServer({
      port: 0,
      registry: new Registry(),
      readiness: () => ({ 'test.worker': running.ready() }),
    });
    cleanups.push(() => ops.close());

    await until(ops.port, (r) => r.status === 200, 15_000);

    await proxy.down();
    const down = await until(ops.port, (r) => r.status === 503, 15_000);
    assert.equal(down.body.checks['test.worker'], false);
    assert.equal(worker.getState(), 'RUNNING', 'the worker itself still runs (it retries its polls)');
    const problem = down.body.connections?.[`temporal (${taskQueue})`]?.problem ?? '';
    assert.match(problem, new RegExp(`task queue ${taskQueue} \\(namespace ${config.temporalNamespace}\\)`));
    assert.match(problem, /did not answer/);
    assert.match(problem, /TEMPORAL_ADDRESS/);

    await proxy.up();
    const back = await until(ops.port, (r) => r.status === 200, 30_000);
    assert.equal(back.body.connections, undefined, 'no problem shown once ready again');
    assert.deepEqual(errors, [], 'the worker did not stop');
  });
});

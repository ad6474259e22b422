import type { NativeConnection, Worker } from '@temporalio/worker';
import { clearConnectionProblem, noteConnectionProblem } from './connection-problems.js';

/** How often a running worker asks its server whether it answers (for `/readyz`), and how long it waits. */
export const WORKER_PROBE = { everyMs: 10_000, timeoutMs: 5_000 } as const;

/** The first line of an error's message (a gRPC error's details can run long). */
const firstLine = (err: unknown) => String((err as Error)?.message ?? err).split('\n')[0]!;

/**
 * Runs a created worker and returns its readiness probe and a graceful stop. A worker that polls
 * keeps retrying when its server goes away, and its state stays RUNNING: so every `probe.everyMs`
 * it asks the server to describe its namespace, and a failed answer makes it not ready, with the
 * reason under `connections["temporal (<task queue>)"]` on `/readyz` (as a refused Kafka connection's is) until an
 * answer comes again. A worker that stopped for good (FAILED) says why the same way.
 */
export function runWorker(
  worker: Worker,
  connection: NativeConnection,
  onError: (err: unknown) => void,
  probe: { readonly everyMs: number; readonly timeoutMs: number } = WORKER_PROBE,
) {
  const { taskQueue, namespace } = worker.options;
  const where = `the Temporal worker of task queue ${taskQueue} (namespace ${namespace})`;
  // One entry per worker: act's and verify's in one process (`autoglm up`) each keep their own.
  const key = `temporal (${taskQueue})`;
  let unanswered = false;
  const running = worker.run().catch((err: unknown) => {
    noteConnectionProblem(
      key,
      `${where} stopped for good: ${firstLine(err)}; the process must be restarted (a supervisor does)`,
    );
    onError(err);
  });
  let probing: Promise<void> | undefined;
  const timer = setInterval(() => {
    if (probing || worker.getState() !== 'RUNNING') return;
    probing = connection
      .withDeadline(Date.now() + probe.timeoutMs, () =>
        connection.workflowService.describeNamespace({ namespace }),
      )
      .then(
        () => {
          if (unanswered) clearConnectionProblem(key);
          unanswered = false;
        },
        (err: unknown) => {
          unanswered = true;
          noteConnectionProblem(
            key,
            `${where}: the server did not answer (${firstLine(err)}); the worker keeps retrying: check that Temporal is up at TEMPORAL_ADDRESS, the TLS or API key settings, and TEMPORAL_NAMESPACE`,
          );
        },
      )
      .finally(() => (probing = undefined));
  }, probe.everyMs);
  timer.unref();
  return {
    ready: () => worker.getState() === 'RUNNING' && !unanswered,
    /** Waits for in-flight activities and workflow tasks, then closes the connection. */
    async stop(): Promise<void> {
      clearInterval(timer);
      await probing;
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await connection.close();
    },
  };
}

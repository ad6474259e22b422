import type { NativeConnection, Worker } from '@temporalio/worker';

/** Runs a created worker and returns its readiness probe and a graceful stop. */
export function runWorker(worker: Worker, connection: NativeConnection, onError: (err: unknown) => void) {
  const running = worker.run().catch(onError);
  return {
    ready: () => worker.getState() === 'RUNNING',
    /** Waits for in-flight activities and workflow tasks, then closes the connection. */
    async stop(): Promise<void> {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await connection.close();
    },
  };
}

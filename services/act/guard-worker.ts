/**
 * The act process's second Temporal worker: it serves only the guard requests (`requestLease`, a
 * remediation asking its entity guard or the action budget), on a task queue of their own
 * (AUTOGLM_GUARD_TASK_QUEUE, `<act task queue>-guards` by default) with their own slots
 * (AUTOGLM_GUARD_SLOTS). In a storm the act worker's slots are full of actions, verdicts and
 * approvals; the requests that decide who goes next must not wait behind them.
 */
import { Worker, type NativeConnection } from '@temporalio/worker';
import type { ActActivities } from './activities.js';

/** Creates (does not run) the guard worker on `taskQueue`, with `slots` requests at once. */
export function createGuardWorker(opts: {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  slots: number;
  activities: Pick<ActActivities, 'requestLease'>;
}): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    // Activities only: the guard workflows run on the act task queue (at priority 1).
    activities: { requestLease: opts.activities.requestLease },
    maxConcurrentActivityTaskExecutions: opts.slots,
  });
}

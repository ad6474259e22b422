import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { actionBudgetId, entityGuardId } from '../../workflows/definitions.js';

/**
 * Terminates what a test left running in the shared Temporal: its remediations (by entity) and
 * the guard workflows of its scope. Workflows already closed or never started are skipped.
 */
export async function terminateTestRuns(
  client: Client,
  scope: string,
  entities: Iterable<string>,
): Promise<void> {
  const ids = new Set<string>([actionBudgetId(scope)]);
  // Only this test's remediations, on its task queues (`<id>-act` beside topics `<id>.autoglm`): the
  // fleet's entity names (checkout/pod-1, …) are shared with every other run on this Temporal, and
  // a kill soak's remediation was terminated here mid-verification, its verdict never published.
  const ownQueues = `${scope.replace(/\.autoglm$/, '')}-`;
  for (const entity of entities) {
    ids.add(entityGuardId(scope, entity));
    const query = `WorkflowType = "remediate" AND AutoglmEntity = "${entity}" AND ExecutionStatus = "Running"`;
    for await (const run of client.workflow.list({ query }))
      if (run.taskQueue.startsWith(ownQueues)) ids.add(run.workflowId);
  }
  for (const id of ids) {
    await client.workflow
      .getHandle(id)
      .terminate('test finished')
      .catch((err: unknown) => {
        if (err instanceof WorkflowNotFoundError) return;
        throw err;
      });
  }
}

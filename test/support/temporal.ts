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
  for (const entity of entities) {
    ids.add(entityGuardId(scope, entity));
    const query = `WorkflowType = "remediate" AND AutoglmEntity = "${entity}" AND ExecutionStatus = "Running"`;
    for await (const run of client.workflow.list({ query })) ids.add(run.workflowId);
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

// A one-activity workflow for the Temporal smoke test.
import { proxyActivities } from '@temporalio/workflow';

export async function echoWorkflow(text: string): Promise<string> {
  const { shout } = proxyActivities<{ shout(text: string): Promise<string> }>({ startToCloseTimeout: '10s' });
  return shout(text);
}

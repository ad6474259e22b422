// The baseline of bench/guard-latency.ts: the same actuation activity with no guard in front of it.
import { proxyActivities } from '@temporalio/workflow';
import type { ActActivities, ActuationRequest } from '../services/act/activities.js';

const { actuate } = proxyActivities<Pick<ActActivities, 'actuate'>>({
  startToCloseTimeout: '10s',
  retry: { maximumAttempts: 1 },
});

/** Acts once, straight away. */
export async function actOnly(request: ActuationRequest): Promise<void> {
  await actuate(request);
}

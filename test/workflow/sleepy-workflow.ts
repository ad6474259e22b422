// Tiny workflows for the time-skipping smoke test: a long timer with a search attribute upsert,
// and a gate opened by an Update after Signals.
import {
  condition,
  defineSignal,
  defineUpdate,
  proxyActivities,
  setHandler,
  sleep,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import { VERDICT_KEY } from '../../workflows/definitions.js';

export interface SleepyActivities {
  stamp(label: string): Promise<string>;
}

const { stamp } = proxyActivities<SleepyActivities>({ startToCloseTimeout: '10s' });

/** Sleeps 2 hours of workflow time, then marks the run's verdict; returns the workflow time slept. */
export async function sleepyWorkflow(): Promise<{ sleptMs: number; stamped: string }> {
  const started = Date.now();
  await sleep('2h');
  upsertSearchAttributes([{ key: VERDICT_KEY, value: 'verified' }]);
  const stamped = await stamp('woke');
  return { sleptMs: Date.now() - started, stamped };
}

export const pokeSignal = defineSignal<[]>('poke');
export const approveUpdate = defineUpdate<{ accepted: boolean; pokes: number }, [by: string]>('approve');

/** Waits (up to a day of workflow time) for an `approve` update; counts `poke` signals meanwhile. */
export async function gatedWorkflow(): Promise<{ approvedBy?: string; pokes: number; timedOut: boolean }> {
  let pokes = 0;
  let approvedBy: string | undefined;
  setHandler(pokeSignal, () => {
    pokes += 1;
  });
  setHandler(
    approveUpdate,
    (by) => {
      approvedBy = by;
      return { accepted: true, pokes };
    },
    {
      validator: (by) => {
        if (!by) throw new Error('approver required');
      },
    },
  );
  const approved = await condition(() => approvedBy !== undefined, '1d');
  return { approvedBy, pokes, timedOut: !approved };
}

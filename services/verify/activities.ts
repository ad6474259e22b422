import { CancelledFailure, Context } from '@temporalio/activity';
import { Counter, type Registry } from 'prom-client';
import type { Observation, VerifySpec } from '../common/contracts.js';
import { parseDuration } from '../common/duration.js';
import type { Logger } from '../common/logger.js';
import { VerifyCondition } from './condition.js';
import type { ObservationState } from './observation-state.js';
import { VerificationTracker } from './tracker.js';

/** What the workflow asks the verify worker. */
export interface VerificationRequest {
  readonly entity: string;
  readonly verify: VerifySpec;
  /** When the action took effect (epoch ms). */
  readonly actedAt: number;
}

/** The answer, with the evidence the verdict carries. */
export interface VerificationResult {
  readonly verified: boolean;
  /** `expired`: not enough data arrived in time to tell (absent in histories from before it existed). */
  readonly outcome?: 'verified' | 'failed' | 'expired';
  readonly evidence: Record<string, unknown>;
}

/** The verify worker's activities, built with their dependencies injected. */
export function createVerifyActivities(deps: {
  registry: Registry;
  state: ObservationState;
  graceMs: number;
  heartbeatMs?: number;
  logger: Logger;
}) {
  const verifications = new Counter({
    name: 'autoglm_verify_verifications_total',
    help: 'Verifications settled, by result (verified, failed, expired)',
    labelNames: ['result'],
    registers: [deps.registry],
  });
  return {
    /**
     * Watches the entity's observations after the action until the verify condition has held for
     * `stableFor`, or `within` has run out (on event time, or wall clock plus a grace when
     * observations stop). Heartbeats while it waits; a retry keeps the same deadline.
     */
    async verifyRemediation(request: VerificationRequest): Promise<VerificationResult> {
      const ctx = Context.current();
      const tracker = new VerificationTracker({
        actedAt: request.actedAt,
        withinMs: parseDuration(request.verify.within) ?? 0,
        stableForMs: parseDuration(request.verify.stableFor) ?? 0,
      });
      const condition = new VerifyCondition(request.verify.conditions);
      let chain = Promise.resolve();
      let unsubscribe = () => {};
      let timer: NodeJS.Timeout | undefined;

      const settled = new Promise<VerificationResult>((resolve, reject) => {
        const finish = () => {
          if (tracker.current === 'pending') return;
          resolve({
            verified: tracker.current === 'verified',
            outcome: tracker.current,
            evidence: tracker.evidence(),
          });
        };
        const consider = async (obs: Observation) => {
          if (tracker.current !== 'pending') return;
          tracker.observe(obs, await condition.holds(obs));
          finish();
        };
        unsubscribe = deps.state.subscribe(request.entity, request.actedAt, (obs) => {
          chain = chain.then(() => consider(obs)).catch(reject);
        });
        timer = setInterval(() => {
          ctx.heartbeat({ checked: tracker.evidence().observationsChecked });
          tracker.expire(Date.now(), deps.graceMs);
          finish();
        }, deps.heartbeatMs ?? 1000);
        ctx.cancellationSignal.addEventListener('abort', () =>
          reject(new CancelledFailure('verification cancelled')),
        );
      });
      try {
        const result = await settled;
        verifications.inc({ result: result.outcome ?? 'failed' });
        deps.logger.info({ entity: request.entity, outcome: result.outcome }, 'verification settled');
        return result;
      } finally {
        clearInterval(timer);
        unsubscribe();
      }
    },
  };
}

/** Activity signatures, for the workflow's `proxyActivities` (type-only import). */
export type VerifyActivities = ReturnType<typeof createVerifyActivities>;

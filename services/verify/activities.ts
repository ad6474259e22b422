import { CancelledFailure, Context } from '@temporalio/activity';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Observation, VerifySpec } from '../common/contracts.js';
import { parseDuration } from '../common/duration.js';
import type { Logger } from '../common/logger.js';
import { VerifyCondition } from './condition.js';
import type { ObservationState } from './observation-state.js';
import type { readBack } from './read-back.js';
import { VerificationTracker } from './tracker.js';

/** What the workflow asks the verify worker. */
export interface VerificationRequest {
  readonly entity: string;
  readonly verify: VerifySpec;
  /** When the action took effect (epoch ms). */
  readonly actedAt: number;
  /** The decision-time values of the facts `verify.relativeTo` compares with (absent in old histories). */
  readonly decisionValues?: Readonly<Record<string, number>>;
  /**
   * The decision's `<metric>.baseline|spread|deviation|last` facts of the metrics whose baseline facts
   * the verification reads: post-action observations are measured against that baseline, not the one
   * sense learned since (decision-baseline.ts). Absent in workflows from before it (the observations'
   * own baseline facts are used then).
   */
  readonly decisionBaseline?: Readonly<Record<string, number>>;
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
  /**
   * Reads the entity's observations since the action back from the topic, when this worker may
   * not have seen them all: a retried attempt (a worker died), or an action before this worker began.
   */
  readBack?: (entity: string, sinceTs: number) => ReturnType<typeof readBack>;
  /** When this worker began reading observations (epoch ms). */
  startedAt?: number;
  /** AUTOGLM_BASELINE_ANOMALY_DEVIATION: `<metric>.anomaly` against the decision-time baseline, as sense scores it. */
  anomalyDeviation?: number;
  logger: Logger;
}) {
  const verifications = new Counter({
    name: 'autoglm_verify_verifications_total',
    help: 'Verifications settled, by result (verified, failed, expired)',
    labelNames: ['result'],
    registers: [deps.registry],
  });
  const running = new Gauge({
    name: 'autoglm_verify_running',
    help: 'Verifications in progress on this worker',
    registers: [deps.registry],
  });
  const actionToVerdict = new Histogram({
    name: 'autoglm_verify_action_to_verdict_seconds',
    help: 'Time from the action to the verification settling, by result',
    labelNames: ['result'],
    buckets: [5, 15, 30, 60, 120, 300, 600, 1800, 3600],
    registers: [deps.registry],
  });
  new Gauge({
    name: 'autoglm_verify_watched_entities',
    help: 'Entities whose observations this worker keeps (those with a verification in progress)',
    registers: [deps.registry],
    collect(this: Gauge) {
      this.set(deps.state.entities);
    },
  });
  return {
    /**
     * Watches the entity's observations after the action until the verify condition has held for
     * `stableFor`, or `within` has run out (on event time, or wall clock plus a grace when
     * observations stop). Heartbeats while it waits; a retry keeps the same deadline.
     */
    async verifyRemediation(request: VerificationRequest): Promise<VerificationResult> {
      const ctx = Context.current();
      const options = {
        actedAt: request.actedAt,
        withinMs: parseDuration(request.verify.within) ?? 0,
        stableForMs: parseDuration(request.verify.stableFor) ?? 0,
      };
      let tracker = new VerificationTracker(options);
      let newest = -Infinity;
      // A retried attempt resumes: what the previous attempt had checked is in its heartbeat.
      const resumedFrom = ctx.info.attempt > 1 ? (ctx.info.heartbeatDetails ?? null) : null;
      let readBackReport: Record<string, unknown> | null = null;
      running.inc();
      const condition = new VerifyCondition(request.verify.conditions, request.verify.relativeTo ?? [], {
        decisionValues: request.decisionValues ?? {},
        ...(request.decisionBaseline ? { decisionBaseline: request.decisionBaseline } : {}),
        ...(deps.anomalyDeviation !== undefined ? { anomalyDeviation: deps.anomalyDeviation } : {}),
      });
      const comparisons = (obs: Observation | undefined) =>
        request.verify.relativeTo?.length && obs ? { relativeTo: condition.compare(obs) } : {};
      let lastSeen: Observation | undefined;
      let chain = Promise.resolve();
      let unsubscribe = () => {};
      let timer: NodeJS.Timeout | undefined;

      const settled = new Promise<VerificationResult>((resolve, reject) => {
        const finish = () => {
          if (tracker.current === 'pending') return;
          resolve({
            verified: tracker.current === 'verified',
            outcome: tracker.current,
            evidence: {
              ...tracker.evidence(),
              ...comparisons(lastSeen),
              condition: request.verify,
              decisionValues: request.decisionValues ?? null,
              // What each metric's baseline facts were measured against (decision time, none, or live).
              baselines: condition.baseline.describe(),
              resumedFrom,
              readBack: readBackReport,
            },
          });
        };
        const consider = async (obs: Observation) => {
          if (tracker.current !== 'pending') return;
          if (obs.ts < newest) {
            // An older observation (read back after newer live ones): replay all, in event-time order.
            tracker = new VerificationTracker(options);
            for (const o of deps.state.snapshot(request.entity, request.actedAt))
              if (tracker.current === 'pending') tracker.observe(o, await condition.check(o));
          } else tracker.observe(obs, await condition.check(obs));
          if (obs.ts >= newest) lastSeen = obs;
          newest = Math.max(newest, obs.ts);
          finish();
        };
        unsubscribe = deps.state.watch(request.entity, request.actedAt, (obs) => {
          chain = chain.then(() => consider(obs)).catch(reject);
        });
        // Observations since the action that this worker did not keep: a retry, a worker that began after
        // the action, or a verification that starts a while after it.
        const behind =
          ctx.info.attempt > 1 ||
          request.actedAt < (deps.startedAt ?? 0) ||
          Date.now() - request.actedAt > 2_000;
        if (behind && deps.readBack) {
          deps
            .readBack(request.entity, request.actedAt)
            .then((r) => {
              readBackReport = {
                observations: r.observations.length,
                messages: r.messages,
                complete: r.complete,
              };
              deps.state.load(request.entity, r.observations);
            })
            .catch((err: unknown) =>
              deps.logger.warn({ err, entity: request.entity }, 'read-back failed; live observations only'),
            );
        }
        timer = setInterval(() => {
          const e = tracker.evidence();
          ctx.heartbeat({
            checked: e.observationsChecked,
            holdingSince: e.holdingSince,
            newest: Number.isFinite(newest) ? newest : null,
          });
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
        actionToVerdict.observe(
          { result: result.outcome ?? 'failed' },
          (Date.now() - request.actedAt) / 1000,
        );
        deps.logger.info({ entity: request.entity, outcome: result.outcome }, 'verification settled');
        return result;
      } finally {
        clearInterval(timer);
        unsubscribe();
        running.dec();
      }
    },
  };
}

/** Activity signatures, for the workflow's `proxyActivities` (type-only import). */
export type VerifyActivities = ReturnType<typeof createVerifyActivities>;

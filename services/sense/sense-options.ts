import type { Config } from '../common/config.js';
import type { BaselineOptions, BaselineStore } from './baseline.js';
import type { WindowOptions } from './windows.js';

/**
 * The baselines' settings from the configuration: one place for the sense service and the
 * backtest, so a replay learns exactly what the service learns.
 */
export function baselineOptionsOf(config: Config): Partial<BaselineOptions> {
  return {
    halfLifeMs: config.baselineHalfLife,
    warmupSamples: config.baselineWarmupSamples,
    learnMs: config.baselineLearn,
    adaptAfterMs: config.baselineAdaptAfter,
    freezeDeviation: config.baselineFreezeDeviation,
    anomalyDeviation: config.baselineAnomalyDeviation,
    daily: config.baselineSeasonality.includes('daily'),
    weekly: config.baselineSeasonality.includes('weekly'),
    maxStates: config.baselineMaxStates,
    minSpread: config.baselineMinSpread,
    tailRisk: config.baselineTailRisk,
    tailHalfLifeMs: config.baselineTailHalfLife,
    tailPeakRank: config.baselineTailPeakRank,
    tailPeakHalfLifeMs: config.baselineTailPeakHalfLife,
    tailPeakDeviation: config.baselineTailPeakDeviation,
    driftHalfLifeMs: config.baselineDriftHalfLife,
    checkpointEveryMs: checkpointEveryMs(config.window, config.emitEvery),
  };
}

/**
 * How often (event time) a baseline state goes to the changelog: every two windows. Each record
 * costs as much to produce as an observation; at one sample a second and the defaults this is one
 * record per 60 samples of a metric (it was one per 15).
 */
export function checkpointEveryMs(windowMs: number, emitEveryMs: number): number {
  return Math.max(emitEveryMs, 2 * windowMs);
}

/**
 * How far back (event time, behind a partition's newest sample) a new owner replays: a window and
 * a checkpoint interval, plus two emit intervals of margin. A restored state is at most a
 * checkpoint interval older than its newest sample, so the replay brings every baseline and every
 * window of an entity up to date exactly, for entities lagging their partition by up to a window
 * and two emit intervals (replayed samples a restored state already has are skipped as stale).
 */
export function rebuildSpanMs(windowMs: number, emitEveryMs: number): number {
  return windowMs + checkpointEveryMs(windowMs, emitEveryMs) + 2 * emitEveryMs;
}

/** The windows' settings from the configuration (with `store` when baselines are on), for sense and the backtest. */
export function windowOptionsOf(config: Config, store: BaselineStore): WindowOptions {
  return {
    windowMs: config.window,
    emitEveryMs: config.emitEvery,
    maxMetricsPerEntity: config.maxMetricsPerEntity,
    maxEntities: config.maxEntities,
    maxObservationBytes: config.maxObservationBytes,
    ...(config.baseline === 'on' ? { baselines: store } : {}),
  };
}

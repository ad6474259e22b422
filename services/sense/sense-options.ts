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
    // Within the two windows a new owner replays: a restored state plus the replay is exact.
    checkpointEveryMs: Math.max(config.emitEvery, Math.floor(config.window / 2)),
  };
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

/**
 * Training-set augmentation: perturbed copies of labeled rows as another fleet would have shown
 * them (a metric it does not report, latency in seconds or errors per minute, no history so no
 * baseline facts, a baseline that learned the incident, fewer or no events). Rows from one
 * generator or one fleet (the fleet's own `model dataset`) all share that fleet's metric set and
 * history; a model trained on them alone learns that set. Copies are drawn from a seeded stream:
 * the same rows and settings give the same copies.
 */
import { BASELINE_STATS as BASELINE_STAT_NAMES } from '../common/facts-reference.js';
import type { LabeledRow } from './model-types.js';
import { seededRandom } from './seeded-random.js';

/** How many copies of each row, and from which seed; `config.augment` in the model config. */
export interface AugmentSpec {
  /** Perturbed copies per training row (0: none). */
  readonly copies: number;
  readonly seed: number;
}

/** Chance that a copy lacks upstream_errors (many services call nothing, many fleets do not export it). */
const DROP_UPSTREAM = 0.3;
/** Chance that a copy lacks any other one metric. */
const DROP_OTHER = 0.05;
/** Chance of no history (no baseline facts) and of a baseline that learned the incident. */
const NO_HISTORY = 0.2;
const LEARNED = 0.15;
/** Chance of latency in seconds, errors (and upstream errors) per minute. */
const LATENCY_SECONDS = 0.3;
const ERRORS_PER_MINUTE = 0.15;
/** Chance that events are not collected; otherwise each event is kept with KEEP_EVENT. */
const NO_EVENTS = 0.15;
const KEEP_EVENT = 0.7;
/** The window and baseline statistics that scale with a metric's unit. */
const SCALED_STATS = new Set(['avg', 'min', 'max', 'last', 'p95', 'slope', 'baseline', 'spread']);
/** Baseline facts sense adds once a metric has history (the one list in facts-reference.ts). */
const BASELINE_STATS: ReadonlySet<string> = new Set(BASELINE_STAT_NAMES);

/** `rows` followed by `spec.copies` perturbed copies of each (the originals first, unchanged). */
export function augmentRows(rows: readonly LabeledRow[], spec: AugmentSpec): LabeledRow[] {
  if (spec.copies <= 0) return [...rows];
  const random = seededRandom(spec.seed);
  const out: LabeledRow[] = [...rows];
  for (let c = 0; c < spec.copies; c++) for (const row of rows) out.push(perturb(row, random));
  return out;
}

/** One copy of `row` as another fleet might have shown it. */
export function perturb(row: LabeledRow, random: () => number): LabeledRow {
  const chance = (p: number) => random() < p;
  const metrics = new Set(Object.keys(row.features).map((k) => k.slice(0, k.indexOf('.'))));
  const drop = new Set<string>();
  for (const m of metrics) if (chance(m === 'upstream_errors' ? DROP_UPSTREAM : DROP_OTHER)) drop.add(m);
  // Keep at least one metric: a row with none says nothing.
  if (drop.size === metrics.size) drop.clear();
  const u = random();
  const history = u < NO_HISTORY ? 'none' : u < NO_HISTORY + LEARNED ? 'learned' : 'as-is';
  const unit: Record<string, number> = {};
  if (chance(LATENCY_SECONDS)) unit.latency = 0.001;
  if (chance(ERRORS_PER_MINUTE)) unit.errors = 60;
  if (chance(ERRORS_PER_MINUTE)) unit.upstream_errors = 60;
  const learnedSpread = 1 + 3 * random();
  const features: Record<string, number> = {};
  for (const [name, value] of Object.entries(row.features)) {
    const dot = name.indexOf('.');
    const metric = name.slice(0, dot);
    const stat = name.slice(dot + 1);
    if (drop.has(metric) || typeof value !== 'number') continue;
    if (history === 'none' && BASELINE_STATS.has(stat)) continue;
    features[name] = SCALED_STATS.has(stat) ? value * (unit[metric] ?? 1) : value;
  }
  if (history === 'learned') learnBaselines(features, metrics, learnedSpread);
  const events = chance(NO_EVENTS) ? [] : row.events.filter(() => chance(KEEP_EVENT));
  return { features, events, label: row.label };
}

/**
 * A baseline that learned the window itself: its level is the window's average and its spread
 * wider, so the newest sample's deviation is small whatever is going on.
 */
function learnBaselines(features: Record<string, number>, metrics: Set<string>, widen: number): void {
  for (const m of metrics) {
    const avg = features[`${m}.avg`];
    const last = features[`${m}.last`];
    const spread = features[`${m}.spread`];
    if (avg === undefined || last === undefined || spread === undefined) continue;
    const wider = Math.max(spread * widen, 0.02 * Math.abs(avg), 1e-9);
    features[`${m}.baseline`] = avg;
    features[`${m}.spread`] = wider;
    features[`${m}.deviation`] = (last - avg) / wider;
    if (`${m}.anomaly` in features) delete features[`${m}.anomaly`];
  }
}

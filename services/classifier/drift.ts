/**
 * Drift of the live features away from the training data, as the population stability index
 * (PSI): Σ (aᵢ − eᵢ)·ln(aᵢ / eᵢ) over bins cut at the training quantiles. Below 0.1 the population
 * is stable, from 0.25 on it has moved enough that the model's scores are not to be trusted.
 */
import type { GlmModel, LabeledRow } from './model-types.js';

/** PSI below this: the feature looks like training. */
export const PSI_WATCH = 0.1;
/** PSI from this on: the feature has drifted; retrain or look at the source. */
export const PSI_ALARM = 0.25;

/** How an operator reads one PSI value. */
export type DriftStatus = 'healthy' | 'watch' | 'alarm';

/** `healthy` below 0.1, `watch` below 0.25, `alarm` from 0.25 (and for a PSI that is not a number). */
export function driftStatus(psiValue: number): DriftStatus {
  if (psiValue < PSI_WATCH) return 'healthy';
  if (psiValue < PSI_ALARM) return 'watch';
  return 'alarm';
}

/**
 * One numeric feature's training distribution: `edges` are the inner cut points (ascending,
 * distinct), bin i holds values in (edges[i-1], edges[i]], so there are edges.length + 1 bins.
 */
export interface FeatureHistogram {
  readonly edges: readonly number[];
  readonly proportions: readonly number[];
}

/** Per numeric feature, its training histogram; stored in the model card for live drift checks. */
export type TrainingHistograms = Readonly<Record<string, FeatureHistogram>>;

/** A share standing in for an empty bin, so the logarithm stays finite. */
const EPSILON = 1e-4;

/**
 * PSI of `actual` against `expected`, with `bins` bins cut at the quantiles of `expected` (fewer
 * when values repeat). NaN when either sample is empty.
 */
export function psi(expected: readonly number[], actual: readonly number[], bins = 10): number {
  if (expected.length === 0 || actual.length === 0) return NaN;
  const reference = histogramOf(expected, bins);
  return psiOfProportions(reference.proportions, proportionsIn(reference.edges, actual));
}

/** PSI of two sets of bin shares (the same bins); empty bins count as a tiny share. */
export function psiOfProportions(expected: ArrayLike<number>, actual: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = Math.max(expected[i] ?? 0, EPSILON);
    const a = Math.max(actual[i] ?? 0, EPSILON);
    sum += (a - e) * Math.log(a / e);
  }
  return sum;
}

/** The quantile histogram of finite `values`: up to `bins` bins of about equal share. */
export function histogramOf(values: readonly number[], bins = 10): FeatureHistogram {
  if (!Number.isInteger(bins) || bins < 2)
    throw new RangeError(`bins must be a whole number ≥ 2, got ${bins}`);
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  const edges: number[] = [];
  for (let k = 1; k < bins && sorted.length > 0; k++) {
    const cut = sorted[Math.max(0, Math.ceil((k * sorted.length) / bins) - 1)]!;
    // The largest value is no cut: nothing lies above it.
    if (cut !== edges.at(-1) && cut !== sorted.at(-1)) edges.push(cut);
  }
  return { edges, proportions: proportionsIn(edges, sorted) };
}

/** The share of `values` in each bin that `edges` cut. */
export function proportionsIn(edges: readonly number[], values: readonly number[]): number[] {
  const counts = new Array<number>(edges.length + 1).fill(0);
  let n = 0;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    counts[binOf(edges, v)]! += 1;
    n++;
  }
  return counts.map((c) => (n === 0 ? 0 : c / n));
}

/** The bin of `v`: the first i with v ≤ edges[i], else the last bin. */
export function binOf(edges: readonly number[], v: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (v <= edges[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * The training histogram of each numeric feature of `model`, over the rows that have it (a
 * missing feature is imputed at serving time and says nothing about the population).
 */
export function trainingHistograms(
  rows: readonly LabeledRow[],
  model: Pick<GlmModel, 'features'>,
  bins = 10,
): TrainingHistograms {
  const out: Record<string, FeatureHistogram> = {};
  for (const feature of model.features) {
    if (feature.kind !== 'numeric') continue;
    const values: number[] = [];
    for (const row of rows) {
      const v = row.features[feature.name];
      if (v !== undefined && Number.isFinite(v)) values.push(v);
    }
    if (values.length > 0) out[feature.name] = histogramOf(values, bins);
  }
  return out;
}

/** Options of a DriftMonitor. */
export interface DriftMonitorOptions {
  /** The model's input columns (`model.columns`): where each feature sits in an observed vector. */
  readonly columns: readonly string[];
  /** After this many observations an observation weighs half as much (default 2000). */
  readonly halfLife?: number;
  /** Effective observations a feature needs before its PSI is reported (default 200). */
  readonly minObservations?: number;
}

/** One monitored feature: its training bins and the decayed live counts in them. */
interface TrackedFeature {
  readonly name: string;
  readonly column: number;
  readonly edges: readonly number[];
  readonly expected: readonly number[];
  readonly counts: Float64Array;
  total: number;
}

/** Above this, the growing weight and the counts are scaled down together. */
const RESCALE_AT = 1e150;

/**
 * Live PSI per numeric feature against its training histogram, in bounded memory: per feature one
 * count per bin, exponentially decayed, so the PSI describes roughly the last `halfLife`
 * observations. The decay is done by giving each new observation a growing weight instead of
 * shrinking every count, so an observation costs one binary search per feature.
 */
export class DriftMonitor {
  private readonly features: readonly TrackedFeature[];
  private readonly growth: number;
  private readonly minObservations: number;
  private weight = 1;

  /** Throws a RangeError naming every histogram that is malformed or has no column. */
  constructor(reference: TrainingHistograms, opts: DriftMonitorOptions) {
    const halfLife = opts.halfLife ?? 2000;
    this.minObservations = opts.minObservations ?? 200;
    const problems: string[] = [];
    if (!(halfLife > 0)) problems.push(`halfLife must be > 0, got ${halfLife}`);
    if (!(this.minObservations >= 0))
      problems.push(`minObservations must be ≥ 0, got ${this.minObservations}`);
    const features: TrackedFeature[] = [];
    for (const [name, h] of Object.entries(reference)) {
      const column = opts.columns.indexOf(name);
      if (column < 0) problems.push(`${name}: not a column of the model`);
      if (h.proportions.length !== h.edges.length + 1)
        problems.push(
          `${name}: ${h.edges.length} edges need ${h.edges.length + 1} proportions, got ${h.proportions.length}`,
        );
      if (h.edges.some((e, i) => i > 0 && !(e > h.edges[i - 1]!)))
        problems.push(`${name}: edges must be strictly ascending`);
      const share = h.proportions.reduce((a, b) => a + b, 0);
      if (Math.abs(share - 1) > 1e-6) problems.push(`${name}: proportions sum to ${share}, not 1`);
      features.push({
        name,
        column,
        edges: h.edges,
        expected: h.proportions,
        counts: new Float64Array(h.proportions.length),
        total: 0,
      });
    }
    if (problems.length > 0) throw new RangeError(`bad drift reference:\n  - ${problems.join('\n  - ')}`);
    this.features = features;
    this.growth = Math.pow(2, 1 / halfLife);
  }

  /** Counts one model input vector (as vectorize lays it out), starting at `offset`. */
  observe(x: ArrayLike<number>, offset = 0): void {
    const w = this.nextWeight();
    for (const f of this.features) this.add(f, x[offset + f.column], w);
  }

  /** Counts one observation's raw features; a feature it lacks is not counted. */
  observeFeatures(features: Readonly<Record<string, number>>): void {
    const w = this.nextWeight();
    for (const f of this.features) this.add(f, features[f.name], w);
  }

  /** PSI per feature that has enough effective observations. */
  psiByFeature(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const f of this.features) {
      if (f.total === 0 || f.total / this.weight < this.minObservations) continue;
      const actual = Array.from(f.counts, (c) => c / f.total);
      out[f.name] = psiOfProportions(f.expected, actual);
    }
    return out;
  }

  /** The effective number of observations behind each feature's PSI (decayed). */
  effectiveCounts(): Record<string, number> {
    return Object.fromEntries(this.features.map((f) => [f.name, f.total / this.weight]));
  }

  private add(f: TrackedFeature, v: number | undefined, w: number): void {
    if (v === undefined || !Number.isFinite(v)) return;
    f.counts[binOf(f.edges, v)]! += w;
    f.total += w;
  }

  private nextWeight(): number {
    this.weight *= this.growth;
    if (this.weight > RESCALE_AT) {
      for (const f of this.features) {
        for (let i = 0; i < f.counts.length; i++) f.counts[i]! /= this.weight;
        f.total /= this.weight;
      }
      this.weight = 1;
    }
    return this.weight;
  }
}

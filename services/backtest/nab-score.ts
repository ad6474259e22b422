/**
 * The Numenta Anomaly Benchmark's scoring rules, written from NAB's published description and
 * reference code (nab/sweeper.py, scorer.py, runner.py; profiles.json), so the backtest scores
 * decisions the way the published detector results were scored. Pure; no I/O.
 *
 * Per series (rows in time order, labeled windows, the rows where the detector decided):
 * - the first `min(floor(0.15 n), 750)` rows are probationary: nothing there is scored;
 * - a window scores the best (earliest) of its detections: `tp × σs(-(r - i + 1) / width) / σs(-1)`,
 *   where `σs(x) = 2 / (1 + e^{5x}) - 1` (-1 beyond x = 3), r its last row, i the detection's row;
 *   a window with no detection costs `-fn` (a window wholly in probation is not scored at all);
 * - a detection outside every window costs `fp × σs(|r - i| / (width - 1))` against the preceding
 *   window (the farther after it, the closer to `-fp`), or `-fp` when no window precedes it.
 * Normalised over all series: `100 × (S - S_null) / (S_perfect - S_null)`, S_null the score of no
 * detection at all, S_perfect `tp ×` every labeled window.
 */

/** The weights of one NAB profile (config/profiles.json). */
export interface NabProfile {
  readonly tp: number;
  readonly fp: number;
  readonly fn: number;
}

/** NAB's three application profiles. */
export const NAB_PROFILES = {
  standard: { tp: 1, fp: 0.11, fn: 1 },
  reward_low_FP_rate: { tp: 1, fp: 0.22, fn: 1 },
  reward_low_FN_rate: { tp: 1, fp: 0.11, fn: 2 },
} as const satisfies Record<string, NabProfile>;

/** The name of one of NAB's profiles. */
export type NabProfileName = keyof typeof NAB_PROFILES;

/** One series to score: its row times (ascending), labeled windows and the times the detector decided. */
export interface NabSeries {
  readonly timestamps: readonly number[];
  /** `[start, end]` in the rows' time unit; inclusive. NAB requires both to be row times. */
  readonly windows: ReadonlyArray<readonly [number, number]>;
  /** Decision times; each counts on the newest row at or before it, the first of that time (a row counts once). */
  readonly detections: readonly number[];
}

/** One labeled window as scored: rows, and the first detection in it (any row, probation included). */
export interface ScoredWindow {
  readonly start: number;
  readonly end: number;
  /** First and last row of the window. */
  readonly first: number;
  readonly last: number;
  /** Whether any of its rows is past the probationary period (else NAB leaves it out). */
  readonly scored: boolean;
  /** Row of the first detection inside the window, if any. */
  readonly detectedRow?: number;
  /** Its contribution to the raw score (-fn when missed, 0 when not scored). */
  readonly score: number;
}

/** A series' raw NAB score and its parts. */
export interface SeriesScore {
  readonly raw: number;
  /** Raw score of no detection (-fn per scored window). */
  readonly nullRaw: number;
  readonly windows: readonly ScoredWindow[];
  /** Detected rows outside every window, after probation, and what they cost. */
  readonly falsePositives: number;
  readonly falsePositiveCost: number;
  readonly probationRows: number;
}

/** NAB's scaled sigmoid of a position relative to a window (sweeper.scaledSigmoid). */
export function scaledSigmoid(position: number): number {
  if (position > 3) return -1;
  return 2 / (1 + Math.exp(5 * position)) - 1;
}

const MAX_TP = scaledSigmoid(-1);

/** NAB's probationary period: rows not scored at the start of a series of `rows` rows. */
export function probationRows(rows: number, percent = 0.15): number {
  return Math.min(Math.floor(percent * rows), percent * 5000);
}

/** Index of the newest row at or before `t`, or -1 when `t` is before the first row. */
export function rowAtOrBefore(timestamps: readonly number[], t: number): number {
  let lo = 0;
  let hi = timestamps.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if ((timestamps[mid] as number) <= t) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

/**
 * The first of the rows sharing row `i`'s time (NAB finds a time's row with `list.index`, and a
 * decision is made on the first sample of its time: the later ones are buffered by sense).
 */
function firstOfTime(timestamps: readonly number[], i: number): number {
  while (i > 0 && timestamps[i - 1] === timestamps[i]) i--;
  return i;
}

/** Scores one series with one profile (NAB's Sweeper at a threshold every decision passes). */
export function scoreSeries(series: NabSeries, profile: NabProfile, probationPercent = 0.15): SeriesScore {
  const ts = series.timestamps;
  const probation = probationRows(ts.length, probationPercent);
  // Window bounds as rows: NAB finds them by exact time; the nearest rows inside cover the rest.
  const ordered = [...series.windows].sort((a, b) => a[0] - b[0]);
  const bounds = ordered.map(([start, end]) => {
    const at = rowAtOrBefore(ts, start);
    const first = at >= 0 && ts[at] === start ? firstOfTime(ts, at) : at + 1;
    return { start, end, first, last: firstOfTime(ts, rowAtOrBefore(ts, end)) };
  });
  const rows = [
    ...new Set(series.detections.map((t) => firstOfTime(ts, rowAtOrBefore(ts, t))).filter((i) => i >= 0)),
  ].sort((a, b) => a - b);
  const best = bounds.map(() => -Infinity);
  const firstRow: Array<number | undefined> = bounds.map(() => undefined);
  let falsePositives = 0;
  let falsePositiveCost = 0;
  let w = 0; // the first window not wholly before the current row
  for (const i of rows) {
    while (w < bounds.length && (bounds[w] as { last: number }).last < i) w++;
    const inside = w < bounds.length && (bounds[w] as { first: number }).first <= i ? w : -1;
    if (inside >= 0) {
      const b = bounds[inside] as { first: number; last: number };
      firstRow[inside] ??= i;
      if (i < probation) continue;
      const width = b.last - b.first + 1;
      const s = (scaledSigmoid(-(b.last - i + 1) / width) * profile.tp) / MAX_TP;
      if (s > (best[inside] as number)) best[inside] = s;
      continue;
    }
    if (i < probation) continue;
    const prev = w - 1 >= 0 ? bounds[w - 1] : undefined;
    let unweighted = -1;
    if (prev !== undefined) {
      const width = prev.last - prev.first + 1;
      // NAB divides by width - 1 (a one-row window would divide by 0 there): treated as far away.
      unweighted = width > 1 ? scaledSigmoid(Math.abs(prev.last - i) / (width - 1)) : -1;
    }
    falsePositives++;
    falsePositiveCost += unweighted * profile.fp;
  }
  let raw = falsePositiveCost;
  let nullRaw = 0;
  const windows: ScoredWindow[] = bounds.map((b, k) => {
    const scored = b.last >= probation && b.last >= b.first;
    const detected = best[k] as number;
    const score = !scored ? 0 : detected > -Infinity ? detected : -profile.fn;
    if (scored) nullRaw -= profile.fn;
    raw += score;
    const row = firstRow[k];
    return {
      start: b.start,
      end: b.end,
      first: b.first,
      last: b.last,
      scored,
      score,
      ...(row !== undefined ? { detectedRow: row } : {}),
    };
  });
  return { raw, nullRaw, windows, falsePositives, falsePositiveCost, probationRows: probation };
}

/** A corpus' score with one profile: raw, the references, and normalised (null 0, perfect 100). */
export interface CorpusScore {
  readonly raw: number;
  readonly nullRaw: number;
  readonly perfectRaw: number;
  readonly normalized: number;
  readonly series: readonly SeriesScore[];
}

/** Scores every series and normalises between the null and the perfect detector, as NAB's runner does. */
export function scoreCorpus(
  series: readonly NabSeries[],
  profile: NabProfile,
  probationPercent = 0.15,
): CorpusScore {
  const scored = series.map((s) => scoreSeries(s, profile, probationPercent));
  const raw = sum(scored.map((s) => s.raw));
  const nullRaw = sum(scored.map((s) => s.nullRaw));
  const perfectRaw = profile.tp * sum(series.map((s) => s.windows.length));
  const span = perfectRaw - nullRaw;
  const normalized = span === 0 ? 0 : (100 * (raw - nullRaw)) / span;
  return { raw, nullRaw, perfectRaw, normalized, series: scored };
}

function sum(xs: readonly number[]): number {
  let s = 0;
  for (const x of xs) s += x;
  return s;
}

import { NAB_PROFILES, scoreCorpus, type NabProfileName, type NabSeries } from './nab-score.js';

/**
 * Two-fold cross-validation over labeled series, so a calibration is judged on series it was not
 * chosen on: the series split into two halves by their sorted names (alternately, so neither half
 * is one source's), every setting scored on both halves, the setting best on one half reported on
 * the other.
 */

/** The two halves of a set of series: sorted by name, A takes the 1st, 3rd, 5th …, B the others. */
export function halves(entities: Iterable<string>): { readonly A: string[]; readonly B: string[] } {
  const sorted = [...new Set(entities)].sort();
  return { A: sorted.filter((_, i) => i % 2 === 0), B: sorted.filter((_, i) => i % 2 === 1) };
}

/** NAB's normalised scores (null 0, perfect 100) of the named series alone, by profile. */
export function scoreSubset(
  series: ReadonlyMap<string, NabSeries>,
  names: readonly string[],
): Record<NabProfileName, number> {
  const missing = names.filter((n) => !series.has(n));
  if (missing.length > 0) throw new Error(`no scored series named ${missing.join(', ')}`);
  const picked = names.map((n) => series.get(n) as NabSeries);
  return Object.fromEntries(
    (Object.keys(NAB_PROFILES) as NabProfileName[]).map((p) => [
      p,
      scoreCorpus(picked, NAB_PROFILES[p]).normalized,
    ]),
  ) as Record<NabProfileName, number>;
}

/** One setting's NAB standard score on every series and on each half. */
export interface SettingScore {
  readonly setting: string;
  readonly all: number;
  readonly A: number;
  readonly B: number;
}

/** What two-fold cross-validation of a grid of settings gives. */
export interface CrossValidation {
  /** The setting best on half A (the first of equals), and its score on B. */
  readonly chosenOnA: SettingScore;
  /** The setting best on half B, and its score on A. */
  readonly chosenOnB: SettingScore;
  /** The mean of the two held-out scores: what to expect of a setting chosen this way on new series. */
  readonly heldOut: number;
}

/** Chooses a setting on each half and reports it on the other; throws on an empty grid. */
export function crossValidate(scores: readonly SettingScore[]): CrossValidation {
  if (scores.length === 0) throw new Error('cross-validation needs at least one setting');
  const best = (half: 'A' | 'B') =>
    scores.reduce((b, s) => (s[half] > b[half] ? s : b), scores[0] as SettingScore);
  const chosenOnA = best('A');
  const chosenOnB = best('B');
  return { chosenOnA, chosenOnB, heldOut: (chosenOnA.B + chosenOnB.A) / 2 };
}

/**
 * The facts rules and verify conditions can name: one reference for the sense step (which
 * computes the window features), the rule check and the docs. A window feature is
 * `<metric>.<stat>` for any metric name; context facts are fixed names.
 */

/** The statistics sense computes per metric, in output order; rules name them `<metric>.<stat>`. */
export const FEATURE_STATS = ['avg', 'min', 'max', 'last', 'p95', 'count', 'slope'] as const;

/**
 * The baseline facts sense adds per metric once the metric's baseline is warm (services/sense/baseline.ts):
 * - `baseline`: the entity's normal for the metric at that time (daily/weekly pattern included);
 * - `deviation`: how far the newest sample is from it, in robust standard deviations, signed
 *   (negative: below normal, e.g. traffic gone);
 * - `anomaly`: 0..1, 0.5 at |deviation| = AUTOGLM_BASELINE_ANOMALY_DEVIATION (4.5) (`anomalyScore`);
 * - `spread`: the robust standard deviation deviations are measured in, as learned through the
 *   newest sample; with `baseline` it is the normal a verification measures post-action samples
 *   against: deviation = (`<metric>.last` - baseline) / spread (services/verify/decision-baseline.ts).
 * - `drift`: how far the baseline's level (its normal of the last hours) moved from a slow reference
 *   (its normal of the last days, half-life AUTOGLM_BASELINE_DRIFT_HALF_LIFE, 7d), in the slow
 *   reference's spreads, signed (negative: the normal fell, e.g. a slow decline the baseline
 *   followed); 0 until the baseline is that old. Read live by verify, not recomputed.
 * Absent while the baseline warms up (the observation lists the metric in `warmingUp`).
 */
export const BASELINE_STATS = ['baseline', 'deviation', 'anomaly', 'spread', 'drift'] as const;

/**
 * The `anomaly` fact of a deviation: 0.5 at |deviation| = `anomalyDeviation`, near 1 two deviations
 * beyond it. One formula for sense (which learns the baseline) and verify (which recomputes it
 * against the decision-time baseline).
 */
export function anomalyScore(deviation: number, anomalyDeviation: number): number {
  return 1 / (1 + Math.exp(-2 * (Math.abs(deviation) - anomalyDeviation)));
}

/** Every statistic a rule may name as `<metric>.<stat>`. */
export const METRIC_STATS = [...FEATURE_STATS, ...BASELINE_STATS] as const;

/** Facts that are not window features, with what they hold. */
export const CONTEXT_FACTS: Readonly<Record<string, string>> = {
  entity: 'the entity id',
  events: 'recent events of the entity: [{kind, message, ts}]',
  eventKinds: 'the distinct kinds of the recent events, for example ["deploy", "alert"]',
  'deploy.ageSeconds':
    "seconds from the entity's newest deploy event to the window's end, also once that event has left the window (sense keeps the time per entity, replayed on a restart); null when sense knows no deploy of it",
  alerts:
    'the alerts firing for the entity now, from Alertmanager through ingest: [{name, severity, since, labels}], longest-firing first; [] when none',
  'alerts.firing': 'how many alerts fire for the entity now (until Alertmanager resolves them); 0 when none',
  'alerts.names': 'the distinct names of the alerts firing, for example ["KubePodCrashLooping"]',
  'alerts.severities': 'the distinct severities of the alerts firing, for example ["critical"]',
  maintenance: 'true while a maintenance window (rules/context/maintenance.json) holds the entity',
  maintenanceWindow: 'the name of the maintenance window holding the entity; null outside any',
  service: 'the catalog service (rules/context/catalog.json) the entity belongs to; null when none',
  owner: "the owning team of the entity's service; null when no service",
  tier: "the tier of the entity's service, 1 (most critical) to 4; null when no service",
  labels: "the labels of the entity's service, {name: value}; {} when no service",
  dependencies: "the services the entity's service depends on; [] when no service",
  incident:
    "the classifier's {class, confidence, probabilities, modelVersion}; null when decide runs rules-only",
  'incident.class':
    'the incident class the classifier gives the observation, e.g. "memory_leak"; null when rules-only',
  'incident.confidence': "the classifier's probability of that class, 0..1; null when rules-only",
};

const FEATURE = /^([a-z][a-z0-9_]*)\.([a-z0-9_]+)$/;

/** Why `name` is not a fact rules can use, with the closest known name; undefined when it is one. */
export function unknownFact(name: unknown): string | undefined {
  if (typeof name !== 'string') return 'a fact name must be a string such as "cpu.avg"';
  if (Object.hasOwn(CONTEXT_FACTS, name)) return undefined;
  // `alerts.<x>` is an alerts fact unless <x> is a statistic (a metric named "alerts").
  const contextual =
    name.startsWith('incident.') ||
    (name.startsWith('alerts.') &&
      !(METRIC_STATS as readonly string[]).includes(name.slice('alerts.'.length)));
  const feature = contextual ? null : FEATURE.exec(name);
  if (feature && (METRIC_STATS as readonly string[]).includes(feature[2]!)) return undefined;
  const stat = feature?.[2];
  const guess = stat !== undefined ? closest(stat, METRIC_STATS) : closest(name, Object.keys(CONTEXT_FACTS));
  const suggestion =
    stat !== undefined && guess
      ? `${feature![1]}.${guess}`
      : (guess ?? `<metric>.<${METRIC_STATS.join('|')}>`);
  return `unknown fact "${name}": facts are <metric>.<${METRIC_STATS.join('|')}> or ${Object.keys(CONTEXT_FACTS).join(', ')}; did you mean "${suggestion}"?`;
}

/** A value of the right kind for each fact name, to dry-run conditions with. */
export function sampleFact(name: string): unknown {
  switch (name) {
    case 'entity':
      return 'sample/entity-1';
    case 'events':
      return [{ kind: 'deploy', message: 'sample', ts: 0 }];
    case 'eventKinds':
      return ['deploy'];
    case 'deploy.ageSeconds':
      return 60;
    case 'alerts':
      return [{ name: 'SampleAlert', severity: 'critical', since: 0, labels: { namespace: 'sample' } }];
    case 'alerts.names':
      return ['SampleAlert'];
    case 'alerts.severities':
      return ['critical'];
    case 'maintenance':
      return false;
    case 'maintenanceWindow':
      return 'sample-window';
    case 'service':
      return 'sample';
    case 'owner':
      return 'team-sample';
    case 'tier':
      return 1;
    case 'labels':
      return { sample: 'sample' };
    case 'dependencies':
      return ['sample'];
    case 'incident':
      return { class: 'sample', confidence: 0.5, probabilities: { sample: 0.5 }, modelVersion: 'sample' };
    case 'incident.class':
      return 'sample';
    case 'incident.confidence':
      return 0.5;
    default:
      return 1;
  }
}

/** The candidate nearest to `word` by edit distance, when it is near enough to be a typo. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
    }
    previous = current;
  }
  return previous[b.length]!;
}

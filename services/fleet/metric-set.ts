/**
 * The metric set the simulated fleet reports: by default every FLEET_METRICS name in the starter
 * rules' units; a fleet may instead lack some (`drop`), name some differently (`rename`) or report
 * them in another unit (`scale`, e.g. latency in seconds). This is how a fleet other than the one
 * the classifier and the rules were written for looks to the loop, without an ingest mapping to
 * bring it back. Pure: used by the running simulator and by the classifier's fleet traces.
 */
import type { MetricSample } from '../common/contracts.js';
import { FLEET_METRICS } from './fleet-types.js';

/** How the fleet's metrics differ from FLEET_METRICS; every field may be empty. */
export interface MetricSet {
  /** Metrics the fleet does not report at all. */
  readonly drop: readonly string[];
  /** Our name → the name this fleet reports it under (applied after `scale`). */
  readonly rename: Readonly<Record<string, string>>;
  /** Our name → the factor its value is reported in (latency 0.001: seconds instead of ms). */
  readonly scale: Readonly<Record<string, number>>;
}

/** The fleet as the starter rules expect it: every metric, our names, our units. */
export const FULL_METRIC_SET: MetricSet = Object.freeze({
  drop: Object.freeze([]),
  rename: Object.freeze({}),
  scale: Object.freeze({}),
});

const METRIC_NAME = /^[a-z][a-z0-9_]{0,62}$/;

/** True when `set` changes nothing. */
export function isFullMetricSet(set: MetricSet): boolean {
  return set.drop.length === 0 && Object.keys(set.rename).length === 0 && Object.keys(set.scale).length === 0;
}

/**
 * Parses the three settings (`drop`: `a,b`; `rename`: `a=x,b=y`; `scale`: `a=0.001`); returns the
 * set, or the problems, each naming the setting (`names.drop` …) and the fix.
 */
export function parseMetricSet(
  text: { readonly drop: string; readonly rename: string; readonly scale: string },
  names: { readonly drop: string; readonly rename: string; readonly scale: string },
): { set: MetricSet } | { problems: string[] } {
  const problems: string[] = [];
  const known = (m: string) => (FLEET_METRICS as readonly string[]).includes(m);
  const list = (s: string) =>
    s
      .split(',')
      .map((p) => p.trim())
      .filter((p) => p !== '');
  const drop: string[] = [];
  for (const m of list(text.drop))
    if (!known(m))
      problems.push(`${names.drop}: "${m}" is not a fleet metric; name some of ${FLEET_METRICS.join(', ')}`);
    else drop.push(m);
  const pairs = (s: string, setting: string) => {
    const out: Array<[string, string]> = [];
    for (const part of list(s)) {
      const [from = '', to, extra] = part.split('=').map((p) => p.trim());
      if (to === undefined || extra !== undefined || !known(from))
        problems.push(
          `${setting}: "${part}" must be <metric>=<value> with a metric among ${FLEET_METRICS.join(', ')}`,
        );
      else out.push([from, to]);
    }
    return out;
  };
  const rename: Record<string, string> = {};
  const renamedTo = new Set<string>();
  for (const [from, to] of pairs(text.rename, names.rename)) {
    if (!METRIC_NAME.test(to))
      problems.push(
        `${names.rename}: "${to}" is not a metric name (lower-case letters, digits and _, from a letter)`,
      );
    else if (renamedTo.has(to))
      problems.push(`${names.rename}: two metrics would be reported as "${to}"; rename to a name of its own`);
    else rename[from] = to;
    renamedTo.add(to);
  }
  // A new name that is still one of ours, reported under its own name, would merge two series.
  for (const [from, to] of Object.entries(rename))
    if (known(to) && to !== from && !drop.includes(to) && !(to in rename))
      problems.push(
        `${names.rename}: ${from} would be reported as "${to}", which the fleet also reports; drop or rename ${to} too`,
      );
  const scale: Record<string, number> = {};
  for (const [metric, factor] of pairs(text.scale, names.scale)) {
    const f = Number(factor);
    if (!(f > 0) || !Number.isFinite(f))
      problems.push(`${names.scale}: the factor of ${metric} must be a number > 0 (latency=0.001: seconds)`);
    else scale[metric] = f;
  }
  for (const m of drop)
    if (m in rename || m in scale)
      problems.push(`${names.drop}: "${m}" is dropped, so it cannot also be renamed or scaled`);
  if (problems.length > 0) return { problems };
  return {
    set: Object.freeze({
      drop: Object.freeze(drop),
      rename: Object.freeze(rename),
      scale: Object.freeze(scale),
    }),
  };
}

/** The samples as this fleet reports them: dropped ones left out, the rest scaled and renamed. */
export function applyMetricSet(samples: readonly MetricSample[], set: MetricSet): MetricSample[] {
  if (isFullMetricSet(set)) return samples as MetricSample[];
  const out: MetricSample[] = [];
  for (const s of samples) {
    if (set.drop.includes(s.metric)) continue;
    const factor = set.scale[s.metric];
    out.push({
      ...s,
      metric: set.rename[s.metric] ?? s.metric,
      value: factor === undefined ? s.value : s.value * factor,
    });
  }
  return out;
}

import type { MetricSample } from '../common/contracts.js';
import { formatDuration } from '../common/duration.js';
import type { BacktestDecision, BacktestRun } from './backtest.js';
import type { GuardReplay } from './guards.js';
import type { LabeledWindows } from './labels.js';
import { NAB_PROFILES, scoreCorpus, type NabProfileName, type NabSeries } from './nab-score.js';
import type { Recording } from './recording.js';

const DAY_MS = 86_400_000;

/** One labeled entity's figures. */
export interface EntityScore {
  readonly entity: string;
  readonly samples: number;
  /** Time its samples span, in days. */
  readonly days: number;
  readonly decisions: number;
  readonly windows: number;
  readonly caught: number;
  readonly outside: number;
  readonly outsidePerDay: number;
  /** Per caught window: time from the window's start to its first decision (ms). */
  readonly delaysMs: readonly number[];
  /** The entity's raw NAB score, standard profile (tp 1, fp 0.11, fn 1). */
  readonly nabRawStandard: number;
}

/** Figures against labeled windows, per entity and overall. */
export interface LabelScore {
  /** Entities the labels name that the recording does not have (not scored). */
  readonly unknownEntities: readonly string[];
  /** Entities in the recording the labels do not name (not scored). */
  readonly unlabeledEntities: readonly string[];
  readonly windows: number;
  readonly caught: number;
  readonly outside: number;
  readonly entityDays: number;
  readonly outsidePerEntityDay: number;
  readonly medianDelayMs: number | null;
  /** Normalised NAB scores (null detector 0, perfect 100) by profile. */
  readonly nab: Record<NabProfileName, number>;
  readonly entities: readonly EntityScore[];
}

/** Everything `autoglm backtest` reports (`--json` prints this object). */
export interface BacktestReport {
  readonly input: {
    readonly files: readonly string[];
    readonly lines: number;
    readonly samples: number;
    readonly events: number;
    readonly entities: number;
    readonly malformed: Recording['problems'];
    readonly outOfOrder: Recording['outOfOrder'];
  };
  readonly replay: {
    readonly observations: number;
    readonly seconds: number;
    readonly samplesPerSecond: number;
    readonly refused: Record<string, number>;
    readonly late: number;
    readonly suppressedByCooldownGate: Record<string, number>;
    readonly ruleFailures: Record<string, number>;
    readonly stale: number;
  };
  readonly decisions: {
    readonly total: number;
    readonly byRule: Record<string, number>;
    readonly byAction: Record<string, number>;
    readonly byEntity: Record<string, number>;
    readonly byDay: Record<string, number>;
  };
  readonly guards: GuardReplay;
  readonly labels?: LabelScore;
}

/**
 * Each entity's rows (the times NAB scores), ascending: the sample times of its metric with the
 * most samples (a NAB series has one metric; duplicate times stay rows, as in NAB's files).
 */
export function rowsByEntity(samples: readonly MetricSample[]): Map<string, number[]> {
  const byMetric = new Map<string, Map<string, number[]>>();
  for (const s of samples) {
    let metrics = byMetric.get(s.entity);
    if (!metrics) byMetric.set(s.entity, (metrics = new Map()));
    let ts = metrics.get(s.metric);
    if (!ts) metrics.set(s.metric, (ts = []));
    ts.push(s.ts);
  }
  const rows = new Map<string, number[]>();
  for (const [entity, metrics] of byMetric) {
    let most: number[] = [];
    for (const ts of metrics.values()) if (ts.length > most.length) most = ts;
    rows.set(entity, most);
  }
  return rows;
}

function tally<T>(items: readonly T[], key: (t: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const i of items) out[key(i)] = (out[key(i)] ?? 0) + 1;
  return out;
}

function median(xs: readonly number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** Scores decisions against labeled windows: per entity and overall, with NAB's three profiles. */
export function scoreAgainstLabels(
  decisions: readonly BacktestDecision[],
  rows: ReadonlyMap<string, readonly number[]>,
  labels: LabeledWindows,
): LabelScore {
  const unknownEntities = [...labels.keys()].filter((e) => !rows.has(e)).sort();
  const unlabeledEntities = [...rows.keys()].filter((e) => !labels.has(e)).sort();
  const byEntity = new Map<string, number[]>();
  for (const d of decisions) {
    let ts = byEntity.get(d.entity);
    if (!ts) byEntity.set(d.entity, (ts = []));
    ts.push(d.ts);
  }
  const entities: EntityScore[] = [];
  const series: NabSeries[] = [];
  for (const [entity, timestamps] of [...rows].sort((a, b) => a[0].localeCompare(b[0]))) {
    const windows = labels.get(entity);
    if (!windows) continue;
    const times = (byEntity.get(entity) ?? []).sort((a, b) => a - b);
    const nab: NabSeries = { timestamps, windows, detections: times };
    series.push(nab);
    const delaysMs: number[] = [];
    for (const [start, end] of windows) {
      const first = times.find((t) => t >= start && t <= end);
      if (first !== undefined) delaysMs.push(first - start);
    }
    const outside = times.filter((t) => !windows.some(([s, e]) => t >= s && t <= e)).length;
    const days =
      timestamps.length > 1 ? ((timestamps.at(-1) as number) - (timestamps[0] as number)) / DAY_MS : 0;
    entities.push({
      entity,
      samples: timestamps.length,
      days,
      decisions: times.length,
      windows: windows.length,
      caught: delaysMs.length,
      outside,
      outsidePerDay: days > 0 ? outside / days : 0,
      delaysMs,
      nabRawStandard: scoreCorpus([nab], NAB_PROFILES.standard).raw,
    });
  }
  const nab = Object.fromEntries(
    (Object.keys(NAB_PROFILES) as NabProfileName[]).map((p) => [
      p,
      scoreCorpus(series, NAB_PROFILES[p]).normalized,
    ]),
  ) as Record<NabProfileName, number>;
  const sum = (f: (e: EntityScore) => number) => entities.reduce((s, e) => s + f(e), 0);
  const entityDays = sum((e) => e.days);
  return {
    unknownEntities,
    unlabeledEntities,
    windows: sum((e) => e.windows),
    caught: sum((e) => e.caught),
    outside: sum((e) => e.outside),
    entityDays,
    outsidePerEntityDay: entityDays > 0 ? sum((e) => e.outside) / entityDays : 0,
    medianDelayMs: median(entities.flatMap((e) => e.delaysMs)),
    nab,
    entities,
  };
}

/** The report of one replay: input, replay, decisions, guards and (with labels) the scores. */
export function buildReport(
  recording: Recording,
  run: BacktestRun,
  guards: GuardReplay,
  labels?: LabeledWindows,
): BacktestReport {
  const rows = rowsByEntity(recording.samples);
  const d = run.decisions;
  return {
    input: {
      files: recording.files,
      lines: recording.lines,
      samples: recording.samples.length,
      events: recording.events.length,
      entities: rows.size,
      malformed: recording.problems,
      outOfOrder: recording.outOfOrder,
    },
    replay: {
      observations: run.observations,
      seconds: run.elapsedMs / 1000,
      samplesPerSecond: run.elapsedMs > 0 ? (run.samples / run.elapsedMs) * 1000 : 0,
      refused: run.refused,
      late: run.late,
      suppressedByCooldownGate: run.suppressed,
      ruleFailures: run.ruleFailures,
      stale: run.stale,
    },
    decisions: {
      total: d.length,
      byRule: tally(d, (x) => x.rule),
      byAction: tally(d, (x) => x.action),
      byEntity: tally(d, (x) => x.entity),
      byDay: tally(d, (x) => new Date(x.ts).toISOString().slice(0, 10)),
    },
    guards,
    ...(labels ? { labels: scoreAgainstLabels(d, rows, labels) } : {}),
  };
}

const n = (x: number) => x.toLocaleString('en-US');
const fixed = (x: number, digits = 1) => x.toFixed(digits);
const pairs = (r: Record<string, number>) =>
  Object.entries(r)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([k, v]) => `${k} ${n(v)}`)
    .join(', ') || 'none';

/** The report as terminal text. */
export function formatReport(r: BacktestReport): string {
  const out: string[] = [];
  const i = r.input;
  out.push(
    `input: ${n(i.samples)} samples and ${n(i.events)} events of ${n(i.entities)} entities from ${i.files.length} file(s), ${n(i.lines)} lines`,
  );
  if (i.malformed.length > 0) {
    out.push(`  malformed lines (skipped): ${n(i.malformed.filter((p) => p.line > 0).length)}`);
    for (const p of i.malformed.slice(0, 10))
      out.push(p.line > 0 ? `    ${p.file}:${p.line}: ${p.message}` : `    ${p.message}`);
    if (i.malformed.length > 10) out.push(`    … ${i.malformed.length - 10} more (--json lists them)`);
  }
  if (i.outOfOrder.count > 0) {
    const f = i.outOfOrder.first;
    out.push(
      `  ${n(i.outOfOrder.count)} samples came before an earlier sample of their entity (first at ${f?.file}:${f?.line}): replayed in time order`,
    );
  }
  const p = r.replay;
  out.push(
    `replay: ${n(p.observations)} observations in ${fixed(p.seconds, 2)} s (${n(Math.round(p.samplesPerSecond))} samples/s); nothing started, published or actuated`,
  );
  if (Object.keys(p.refused).length > 0) out.push(`  refused by sense: ${pairs(p.refused)}`);
  if (p.late > 0) out.push(`  late samples (older than their window): ${n(p.late)}`);
  if (Object.keys(p.ruleFailures).length > 0)
    out.push(`  rule evaluations that threw: ${pairs(p.ruleFailures)}`);
  out.push(`decisions: ${n(r.decisions.total)}`);
  out.push(`  by rule:   ${pairs(r.decisions.byRule)}`);
  out.push(`  by action: ${pairs(r.decisions.byAction)}`);
  out.push(`  by entity: ${pairs(r.decisions.byEntity)}`);
  const days = Object.keys(r.decisions.byDay).length;
  if (days > 0)
    out.push(`  on ${days} day(s); busiest: ${pairs(r.decisions.byDay).split(', ').slice(0, 3).join(', ')}`);
  const g = r.guards;
  out.push(
    `held back: decide's cooldown gate ${n(Object.values(p.suppressedByCooldownGate).reduce((s, x) => s + x, 0))} matches; stale 0 (decided on event time)`,
  );
  out.push(
    `guards (enforced decisions; a remediation assumed to hold its lease for its verify's "within"): acted ${n(g.acted)}, one in flight ${n(g.inFlight)}, cooling down ${n(g.coolingDown)}, waited for the budget ${n(g.deferred)}, denied by the budget ${n(g.deniedByBudget)}; shadow ${n(g.shadow)}`,
  );
  const l = r.labels;
  if (l) {
    out.push('');
    if (l.unknownEntities.length > 0)
      out.push(`labels name entities not in the recording (not scored): ${l.unknownEntities.join(', ')}`);
    if (l.unlabeledEntities.length > 0)
      out.push(`entities without labels (not scored): ${l.unlabeledEntities.join(', ')}`);
    const head = [
      'entity',
      'samples',
      'days',
      'windows',
      'caught',
      'first decision after',
      'decisions',
      'outside',
      'outside/day',
      'NAB raw',
    ];
    const rows = l.entities.map((e) => [
      e.entity,
      n(e.samples),
      fixed(e.days),
      String(e.windows),
      String(e.caught),
      e.delaysMs.length > 0 ? e.delaysMs.map((ms) => formatDuration(ms) || '0s').join(' ') : '—',
      n(e.decisions),
      n(e.outside),
      fixed(e.outsidePerDay, 2),
      fixed(e.nabRawStandard, 2),
    ]);
    out.push(...table(head, rows));
    out.push(
      `windows caught ${l.caught}/${l.windows}; median time to first decision ${l.medianDelayMs === null ? '—' : formatDuration(l.medianDelayMs) || '0s'}; decisions outside windows ${n(l.outside)} (${fixed(l.outsidePerEntityDay, 2)} per entity-day over ${fixed(l.entityDays)} entity-days)`,
    );
    out.push(
      `NAB score (null 0, perfect 100): standard ${fixed(l.nab.standard)}, reward_low_FP_rate ${fixed(l.nab.reward_low_FP_rate)}, reward_low_FN_rate ${fixed(l.nab.reward_low_FN_rate)}`,
    );
  }
  return out.join('\n');
}

function table(head: readonly string[], rows: ReadonlyArray<readonly string[]>): string[] {
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((x, c) => (c === 0 ? x.padEnd(widths[c] as number) : x.padStart(widths[c] as number)))
      .join('  ');
  return [line(head), ...rows.map(line)];
}

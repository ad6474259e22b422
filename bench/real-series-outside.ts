/**
 * `bench/real-series.ts --outside`: where the decisions outside the labeled windows fall, and what
 * each costs in NAB's standard profile, so a change aimed at them starts from where they are.
 */
import type { BacktestDecision } from '../services/backtest/backtest.js';
import type { LabeledWindows } from '../services/backtest/labels.js';
import { NAB_PROFILES, probationRows, rowAtOrBefore, scaledSigmoid } from '../services/backtest/nab-score.js';
import type { Recording } from '../services/backtest/recording.js';
import { rowsByEntity } from '../services/backtest/report.js';
import type { Config } from '../services/common/config.js';
import { BaselineStore } from '../services/sense/baseline.js';
import { baselineOptionsOf } from '../services/sense/sense-options.js';

const HOUR_MS = 3_600_000;
const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

/** Lines: one per decision outside the windows, then the cost by rule, by place and by series. */
export function outsideDecisions(
  recording: Recording,
  decisions: readonly BacktestDecision[],
  labels: LabeledWindows,
  config: Config,
): string[] {
  const rows = rowsByEntity(recording.samples);
  // The baseline facts at each decision's sample: the same samples, in order, with the same settings.
  const wanted = new Set(decisions.map((d) => `${d.entity}@${d.ts}`));
  const facts = new Map<string, { deviation: number; drift: number }>();
  const store = new BaselineStore(baselineOptionsOf(config));
  for (const s of recording.samples) {
    store.update(s.entity, s.metric, s.ts, s.value);
    const key = `${s.entity}@${s.ts}`;
    const f = wanted.has(key) ? store.facts(s.entity, s.metric) : undefined;
    if (f !== undefined && !facts.has(key)) facts.set(key, { deviation: f.deviation, drift: f.drift });
  }
  const out: string[] = ['', 'decisions outside the windows (cost: NAB standard, raw):'];
  const byRule = new Map<string, [number, number]>();
  const byPlace = new Map<string, [number, number]>();
  const byEntity = new Map<string, [number, number]>();
  const add = (m: Map<string, [number, number]>, k: string, cost: number) => {
    const v = m.get(k) ?? [0, 0];
    m.set(k, [v[0] + 1, v[1] + cost]);
  };
  for (const d of [...decisions].sort((a, b) => a.entity.localeCompare(b.entity) || a.ts - b.ts)) {
    const windows = [...(labels.get(d.entity) ?? [])].sort((a, b) => a[0] - b[0]);
    const ts = rows.get(d.entity);
    if (ts === undefined || !labels.has(d.entity)) continue;
    if (windows.some(([s, e]) => d.ts >= s && d.ts <= e)) continue;
    const row = rowAtOrBefore(ts, d.ts);
    const prev = windows.filter(([, e]) => e < d.ts).at(-1);
    const next = windows.find(([s]) => s > d.ts);
    let cost = 0;
    let place: string;
    if (row < probationRows(ts.length)) place = 'probation';
    else if (prev === undefined) {
      cost = -NAB_PROFILES.standard.fp;
      place = 'before the first window';
    } else {
      const first = rowAtOrBefore(ts, prev[0]);
      const last = rowAtOrBefore(ts, prev[1]);
      const width = last - first + 1;
      const unweighted = width > 1 ? scaledSigmoid(Math.abs(last - row) / (width - 1)) : -1;
      cost = unweighted * NAB_PROFILES.standard.fp;
      place = unweighted > -0.99 ? 'right after a window' : 'far after a window';
    }
    add(byRule, d.rule, cost);
    add(byPlace, place, cost);
    add(byEntity, d.entity, cost);
    const t = new Date(d.ts);
    const f = facts.get(`${d.entity}@${d.ts}`);
    const where = [
      place,
      prev !== undefined ? `${((d.ts - prev[1]) / HOUR_MS).toFixed(1)}h after one` : '',
      next !== undefined ? `${((next[0] - d.ts) / HOUR_MS).toFixed(1)}h before the next` : '',
    ]
      .filter(Boolean)
      .join(', ');
    out.push(
      `  ${d.entity} ${t.toISOString().slice(0, 16)} ${WEEKDAYS[t.getUTCDay()]} ${t.getUTCHours()}h ${d.rule} cost ${cost.toFixed(3)}: ${where}; deviation ${f?.deviation.toFixed(1) ?? '-'}, drift ${f?.drift.toFixed(1) ?? '-'}`,
    );
  }
  const total = (title: string, m: Map<string, [number, number]>) =>
    `  ${title}: ${[...m]
      .sort((a, b) => a[1][1] - b[1][1])
      .map(([k, [n, c]]) => `${k} ${n} (${c.toFixed(2)})`)
      .join(', ')}`;
  out.push('outside cost (decisions, raw standard cost):');
  out.push(total('by rule', byRule), total('by place', byPlace), total('by series', byEntity));
  return out;
}

/**
 * Calibration without overfitting: the backtest of bench/real-series.ts (the 13 real NAB series of
 * data/nab, values as % of each series' maximum, window 15m unless AUTOGLM_WINDOW is set) over a
 * grid of settings, each scored on all series and on two halves (series sorted by name, taken
 * alternately), then two-fold cross-validation: the setting best on one half, scored on the other.
 *
 *   npx tsx bench/nab-sweep.ts [--deviation 3.5,4.5,6] [--keep 4h,8h,16h]
 *                              [--env AUTOGLM_BASELINE_HALF_LIFE=1h,3h,6h …]
 *                              [--add-rule bench/candidates/cpu-collapse-page.json,…]
 *
 * `--deviation` sets every `cpu.deviation ≥ t` condition of the CPU rule whose t is the rule's own
 * deviation threshold (copies of the rules folder, AUTOGLM_RULES_DIR or rules/, in a temporary
 * folder); `--keep` sets its keepFiringFor; `--add-rule` replays without and with each rule file
 * given added to the folder (a candidate starter rule); each `--env NAME=v1,v2` replays with each value of an
 * AUTOGLM_* setting (baselines, windows). The grid is every combination; the first row is the
 * settings as given (the shipped ones by default). Prints per setting NAB standard, low-FP and
 * low-FN on all series and standard on each half, windows caught and decisions outside windows;
 * then the cross-validation, each half's standard and low-FP scores, windows caught and decisions
 * outside windows per entity-day for the first row, and its per-series table.
 * AUTOGLM_MODEL_DIR=off skips the classifier (the CPU rule does not read it) for a faster sweep.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../services/common/config.js';
import { crossValidate, halves, scoreSubset, type SettingScore } from '../services/backtest/folds.js';
import { readLabels } from '../services/backtest/labels.js';
import type { NabSeries } from '../services/backtest/nab-score.js';
import { percentOfMax, readRecording } from '../services/backtest/recording.js';
import { rowsByEntity } from '../services/backtest/report.js';
import { backtestReport, loadBacktestClassifier, loadBacktestRules } from '../services/backtest/run.js';

const CPU_RULE = 'cpu-saturation-scale-out.json';
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dataDir = path.join(root, 'data', 'nab');
const argv = process.argv.slice(2);

/** The comma-separated values after each `flag` (repeatable). */
function valuesOf(flag: string): string[][] {
  const out: string[][] = [];
  argv.forEach((a, i) => {
    if (a !== flag) return;
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) throw new Error(`${flag} needs a value, e.g. ${flag} 4.5,6`);
    out.push(v.split(',').filter((x) => x !== ''));
  });
  return out;
}

interface Axis {
  readonly name: string;
  readonly values: readonly (string | undefined)[];
}
const axes: Axis[] = [
  { name: 'deviation', values: [undefined, ...(valuesOf('--deviation')[0] ?? [])] },
  { name: 'keepFiringFor', values: [undefined, ...(valuesOf('--keep')[0] ?? [])] },
  { name: 'addRule', values: [undefined, ...(valuesOf('--add-rule')[0] ?? [])] },
  ...valuesOf('--env').map(([spec = '', ...more]) => {
    const [name, first] = spec.split('=');
    if (!name?.startsWith('AUTOGLM_') || first === undefined)
      throw new Error(`--env takes NAME=v1,v2 with an AUTOGLM_ name, got ${spec}`);
    return { name, values: [undefined, first, ...more] };
  }),
];
// Every combination; `undefined` on an axis is "as given" (the first row is the shipped settings).
let grid: Record<string, string | undefined>[] = [{}];
for (const axis of axes)
  grid = grid.flatMap((g) => [...new Set(axis.values)].map((v) => ({ ...g, [axis.name]: v })));

const baseEnv = { ...process.env };
const baseConfig = loadConfig(baseEnv, baseEnv.AUTOGLM_WINDOW ? {} : { window: '15m' });
const labels = readLabels(path.join(dataDir, 'labels', 'combined_windows.json'));
const recording = percentOfMax(
  readRecording(
    ['realAWSCloudwatch', 'realKnownCause'].map((f) => path.join(dataDir, f)),
    { metric: 'cpu' },
  ),
);
const rows = rowsByEntity(recording.samples);
const scored = [...rows.keys()].filter((e) => labels.has(e));
const { A, B } = halves(scored);
const classifier = await loadBacktestClassifier(baseConfig.modelDir);
const cpuRule = JSON.parse(fs.readFileSync(path.join(baseConfig.rulesDir, CPU_RULE), 'utf8')) as CpuRule;
const shippedDeviation = firstDeviation(cpuRule.conditions);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nab-sweep-'));

interface Condition {
  fact?: string;
  operator?: string;
  value?: unknown;
  all?: Condition[];
  any?: Condition[];
  not?: Condition;
}
interface CpuRule {
  conditions: Condition;
  event: { params: { keepFiringFor?: string } };
}

function firstDeviation(c: Condition): number | undefined {
  if (c.fact === 'cpu.deviation' && c.operator === 'greaterThanInclusive' && typeof c.value === 'number')
    return c.value;
  for (const k of [...(c.all ?? []), ...(c.any ?? []), ...(c.not ? [c.not] : [])]) {
    const v = firstDeviation(k);
    if (v !== undefined) return v;
  }
  return undefined;
}

function setDeviation(c: Condition, from: number, to: number): void {
  if (c.fact === 'cpu.deviation' && c.operator === 'greaterThanInclusive' && c.value === from) c.value = to;
  for (const k of [...(c.all ?? []), ...(c.any ?? []), ...(c.not ? [c.not] : [])]) setDeviation(k, from, to);
}

/** A rules folder with the CPU rule changed as `g` says (the given folder itself when unchanged). */
function rulesFor(g: Record<string, string | undefined>, k: number): string {
  if (g.deviation === undefined && g.keepFiringFor === undefined && g.addRule === undefined)
    return baseConfig.rulesDir;
  const dir = path.join(tmp, `rules-${k}`);
  fs.cpSync(baseConfig.rulesDir, dir, { recursive: true });
  if (g.addRule !== undefined) {
    if (!fs.existsSync(g.addRule)) throw new Error(`--add-rule: no such file ${g.addRule}`);
    fs.copyFileSync(g.addRule, path.join(dir, path.basename(g.addRule)));
  }
  const rule = structuredClone(cpuRule);
  if (g.deviation !== undefined) {
    if (shippedDeviation === undefined) throw new Error(`${CPU_RULE} has no cpu.deviation ≥ condition`);
    setDeviation(rule.conditions, shippedDeviation, Number(g.deviation));
  }
  if (g.keepFiringFor !== undefined) rule.event.params.keepFiringFor = g.keepFiringFor;
  fs.writeFileSync(path.join(dir, CPU_RULE), JSON.stringify(rule, null, 2));
  return dir;
}

const pct = (x: number) => x.toFixed(1).padStart(6);
const results: (SettingScore & { line: string })[] = [];
let firstTable: string[] = [];
const halfLines: string[] = [];
try {
  console.log(`halves: A ${A.join(' ')}\n        B ${B.join(' ')}`);
  console.log(
    `${'setting'.padEnd(52)} standard  low-FP  low-FN | std A  std B | caught  outside (per entity-day)`,
  );
  for (const [k, g] of grid.entries()) {
    const env: Record<string, string | undefined> = { ...baseEnv };
    for (const [name, v] of Object.entries(g))
      if (name.startsWith('AUTOGLM_') && v !== undefined) env[name] = v;
    const config = loadConfig(env, env.AUTOGLM_WINDOW ? {} : { window: '15m' });
    const ruleSet = await loadBacktestRules(rulesFor(g, k), config);
    const { run, report } = await backtestReport(recording, { config, ruleSet, classifier, labels });
    const series = new Map<string, NabSeries>();
    for (const e of scored) {
      const detections = run.decisions
        .filter((d) => d.entity === e)
        .map((d) => d.ts)
        .sort((a, b) => a - b);
      series.set(e, { timestamps: rows.get(e) as number[], windows: labels.get(e)!, detections });
    }
    const all = scoreSubset(series, scored);
    const a = scoreSubset(series, A).standard;
    const b = scoreSubset(series, B).standard;
    const setting =
      Object.entries(g)
        .filter(([, v]) => v !== undefined)
        .map(([n, v]) => (n === 'addRule' ? `+${path.basename(v!)}` : `${n.replace('AUTOGLM_', '')}=${v}`))
        .join(' ') || 'as given';
    const l = report.labels!;
    const line = `${setting.padEnd(52)} ${pct(all.standard)}  ${pct(all.reward_low_FP_rate)}  ${pct(all.reward_low_FN_rate)} | ${pct(a)} ${pct(b)} | ${`${l.caught}/${l.windows}`.padStart(6)}  ${String(l.outside).padStart(7)} (${l.outsidePerEntityDay.toFixed(2)})`;
    console.log(line);
    results.push({ setting, all: all.standard, A: a, B: b, line });
    if (k === 0) {
      // Each half on its own: both profiles, windows caught, decisions outside per entity-day.
      for (const [name, half] of [
        ['A', A],
        ['B', B],
      ] as const) {
        const h = scoreSubset(series, half);
        const rowsOf = l.entities.filter((e) => half.includes(e.entity));
        const sum = (f: (e: (typeof rowsOf)[number]) => number) => rowsOf.reduce((n, e) => n + f(e), 0);
        const days = sum((e) => e.days);
        halfLines.push(
          `  half ${name}: standard ${h.standard.toFixed(1)}, low-FP ${h.reward_low_FP_rate.toFixed(1)}, windows caught ${sum((e) => e.caught)}/${sum((e) => e.windows)}, decisions outside ${sum((e) => e.outside)} (${(days > 0 ? sum((e) => e.outside) / days : 0).toFixed(2)} per entity-day over ${days.toFixed(1)})`,
        );
      }
      firstTable = l.entities.map(
        (e) =>
          `${(A.includes(e.entity) ? 'A ' : 'B ') + e.entity.padEnd(36)} ${`${e.caught}/${e.windows}`.padStart(5)} ${String(e.outside).padStart(8)} ${e.nabRawStandard.toFixed(2).padStart(8)}`,
      );
    }
  }
  const cv = crossValidate(results);
  console.log('');
  console.log(
    `cross-validation: best on A "${cv.chosenOnA.setting}" (A ${cv.chosenOnA.A.toFixed(1)}) scores ${cv.chosenOnA.B.toFixed(1)} on B; best on B "${cv.chosenOnB.setting}" (B ${cv.chosenOnB.B.toFixed(1)}) scores ${cv.chosenOnB.A.toFixed(1)} on A; held-out mean ${cv.heldOut.toFixed(1)}`,
  );
  console.log('');
  console.log(`each half, ${results[0]!.setting}:`);
  for (const line of halfLines) console.log(line);
  console.log('');
  console.log(`per series, ${results[0]!.setting}:`);
  console.log(`  ${'entity'.padEnd(36)} caught  outside  NAB raw`);
  for (const r of firstTable) console.log(r);
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}

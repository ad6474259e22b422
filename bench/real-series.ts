/**
 * The backtest over the real labeled series in data/nab (13 NAB series: AWS CloudWatch and
 * known-cause failures, 32 labeled windows) with the starter rules (rules/) and the services'
 * settings: the measuring instrument for calibrating the baselines and the rules on real data.
 *
 *   npx tsx bench/real-series.ts [--raw] [--repeat 3] [--reference [python]] [--outside]
 *                                [--nab ../shared/nab --folders realTraffic,realAdExchange] [--help]
 *
 * Each series is replayed as the metric `cpu` of the entity named by its file, on its own
 * timestamps, through runBacktest (sense's windows and baselines, the classifier of
 * AUTOGLM_MODEL_DIR, decide's Decider). The series are not CPU percentages, so by default each is
 * presented as a percentage of its own maximum (value / max × 100) and the CPU rule's 97% ceiling
 * means "at the series' peak"; `--raw` replays the values as they are. AUTOGLM_WINDOW defaults to
 * 15m here (the services' 30s window holds one 5-minute sample); any AUTOGLM_* variable set in the
 * environment wins (AUTOGLM_RULES_DIR: another rules folder, to try a rule change).
 *
 * Prints per series and overall: windows caught, time to first decision, decisions outside the
 * windows per entity-day, the NAB standard and low-FP scores of the project's scorer, and the
 * replay rate (samples/s, the median of `--repeat` replays). `--reference [python]` also scores the same decisions with NAB's own
 * scorer (../shared/nab/score.py; python with pandas below 3: NAB's labeler writes into an array pandas 3
 * makes read-only; default .autoglm/nab-venv/bin/python) and
 * prints both scores and their difference. `--nab <dir>` reads the series and labels of a NAB
 * checkout instead (its data/ and labels/ folders) and `--folders` names the folders to replay: a
 * check on series nothing was tuned on (`--help` lists the folders there).
 *
 * `--outside` lists where the decisions outside the windows fall, before changing anything to
 * remove them: per decision its series, time (UTC, weekday and hour: seasonal edges show),
 * rule, what it costs in NAB's standard profile (nothing in the probationary period, less right
 * after a window, the full 0.11 before the first window or far after one), where it is relative to
 * the windows, and the baseline's deviation and drift at that sample (a BaselineStore replayed
 * over the same samples with the same settings); then the cost by rule, by place and by series.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../services/common/config.js';
import type { BacktestDecision } from '../services/backtest/backtest.js';
import { readLabels } from '../services/backtest/labels.js';
import { NAB_PROFILES, type NabProfileName } from '../services/backtest/nab-score.js';
import { entityOfFile, parseTimestamp, percentOfMax, readRecording } from '../services/backtest/recording.js';
import { formatReport } from '../services/backtest/report.js';
import { backtestReport, loadBacktestClassifier, loadBacktestRules } from '../services/backtest/run.js';
import { outsideDecisions } from './real-series-outside.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
/** The value after `flag`, or undefined when the flag is absent; a flag without a value is an error. */
function valueOf(flag: string): string | undefined {
  const at = argv.indexOf(flag);
  if (at < 0) return undefined;
  const v = argv[at + 1];
  if (v === undefined || v.startsWith('--')) throw new Error(`${flag} needs a value`);
  return v;
}
// `--nab <dir>`: a NAB checkout (data/<folder>/*.csv, labels/combined_windows.json) instead of data/nab.
const nabRoot = valueOf('--nab');
if (argv.includes('--help')) {
  const doc = fs.readFileSync(fileURLToPath(import.meta.url), 'utf8');
  console.log(doc.slice(doc.indexOf('/**') + 4, doc.indexOf(' */')).replace(/^ \* ?/gm, ''));
  const nabData = path.resolve(nabRoot ?? path.join(root, '..', 'shared', 'nab'), 'data');
  if (fs.existsSync(nabData))
    console.log(
      `folders of ${nabData} (--nab ${path.dirname(nabData)} --folders a,b): ${fs
        .readdirSync(nabData, { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .map((d) => d.name)
        .join(', ')}`,
    );
  process.exit(0);
}
const dataDir = nabRoot ? path.resolve(nabRoot, 'data') : path.join(root, 'data', 'nab');
const labelsDir = nabRoot ? path.resolve(nabRoot, 'labels') : path.join(dataDir, 'labels');
const folderNames = (valueOf('--folders') ?? 'realAWSCloudwatch,realKnownCause').split(',').filter(Boolean);
const folders = folderNames.map((f) => path.join(dataDir, f));
const labelsFile = path.join(labelsDir, 'combined_windows.json');
const raw = argv.includes('--raw');
const refAt = argv.indexOf('--reference');

const config = loadConfig(process.env, process.env.AUTOGLM_WINDOW ? {} : { window: '15m' });
const read = readRecording(folders, { metric: 'cpu' });
const recording = raw ? read : percentOfMax(read);
const labels = readLabels(labelsFile);
const ruleSet = await loadBacktestRules(config.rulesDir, config);
const classifier = await loadBacktestClassifier(config.modelDir);
// The replay rate is the median of `--repeat` runs (3): the first run also warms the JIT up.
const repeat = Math.max(1, Number(argv[argv.indexOf('--repeat') + 1] ?? 3) || 3);
const runs = [];
for (let k = 0; k < repeat; k++)
  runs.push(await backtestReport(recording, { config, ruleSet, classifier, labels }));
const { run, report } = runs.at(-1)!;
for (const r of runs)
  if (r.run.decisions.length !== run.decisions.length) throw new Error('two replays of one recording differ');
const rates = runs.map((r) => r.report.replay.samplesPerSecond).sort((a, b) => a - b);
const rate = rates[(rates.length - 1) >> 1] as number;
const l = report.labels!;

console.log(formatReport(report));
console.log('');
console.log(
  `settings: window ${config.window / 60_000}m, emit every ${config.emitEvery / 1000}s, baselines ${config.baseline}, model ${config.modelDir === 'off' ? 'off' : path.relative(root, config.modelDir)}, rules ${ruleSet.hash}; values ${raw ? 'raw' : 'as % of each series maximum'}`,
);
console.log(
  `real-series: NAB standard ${l.nab.standard.toFixed(1)} (low-FP ${l.nab.reward_low_FP_rate.toFixed(1)}), windows caught ${l.caught}/${l.windows}, decisions outside windows ${l.outside} (${l.outsidePerEntityDay.toFixed(2)} per entity-day), replay ${Math.round(rate).toLocaleString('en-US')} samples/s (median of ${repeat} runs of ${run.samples.toLocaleString('en-US')} samples; each run ${runs.map((r) => r.report.replay.seconds.toFixed(2)).join(', ')} s)`,
);

if (argv.includes('--outside'))
  for (const line of outsideDecisions(recording, run.decisions, labels, config)) console.log(line);
if (refAt >= 0) reference(run.decisions, argv[refAt + 1]?.startsWith('--') ? undefined : argv[refAt + 1]);

/**
 * Scores the same decisions with NAB's reference scorer: one results CSV per series (NAB's rows
 * in file order, anomaly_score 1 on the first row of each decision's time), score.py run on a
 * folder holding NAB's code and this repository's data and labels.
 */
function reference(
  decisions: readonly BacktestDecision[],
  python = path.join(root, '.autoglm', 'nab-venv', 'bin', 'python'),
): void {
  const nab = path.resolve(root, '..', 'shared', 'nab');
  if (!fs.existsSync(path.join(nab, 'score.py'))) return console.log(`reference: no NAB scorer at ${nab}`);
  if (!fs.existsSync(python))
    return console.log(`reference: no python at ${python} (make a venv with 'pandas<3' there)`);
  const work = fs.mkdtempSync(path.join(root, '.autoglm', 'nab-ref-'));
  try {
    for (const f of ['score.py', 'nab', 'config']) fs.symlinkSync(path.join(nab, f), path.join(work, f));
    // Only the replayed folders and their labels: score.py scores every series under data/ and
    // walks it without following symlinked folders, so the series are copied.
    for (const f of folderNames)
      fs.cpSync(path.join(dataDir, f), path.join(work, 'data', f), { recursive: true });
    const allLabels = JSON.parse(fs.readFileSync(labelsFile, 'utf8')) as Record<string, unknown>;
    const keys = Object.keys(allLabels).filter((k) => folderNames.includes(path.dirname(k)));
    fs.mkdirSync(path.join(work, 'labels'));
    fs.writeFileSync(
      path.join(work, 'labels', 'combined_windows.json'),
      JSON.stringify(Object.fromEntries(keys.map((k) => [k, allLabels[k]]))),
    );
    const byEntity = new Map<string, Set<number>>();
    for (const d of decisions) {
      const s = byEntity.get(d.entity) ?? new Set<number>();
      s.add(d.ts);
      byEntity.set(d.entity, s);
    }
    for (const key of keys) {
      const lines = fs.readFileSync(path.join(dataDir, key), 'utf8').trim().split(/\r?\n/);
      const times = byEntity.get(entityOfFile(key)) ?? new Set<number>();
      const marked = new Set<number>();
      const out = ['timestamp,value,anomaly_score,label'];
      for (const line of lines.slice(1)) {
        const [ts, value] = line.split(',');
        const t = parseTimestamp(ts as string) as number;
        const hit = times.has(t) && !marked.has(t);
        if (hit) marked.add(t);
        out.push(`${ts},${value},${hit ? 1 : 0},0`);
      }
      const dir = path.join(work, 'results', 'autoglm', path.dirname(key));
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, `autoglm_${path.basename(key)}`), `${out.join('\n')}\n`);
    }
    const text = execFileSync(python, ['score.py', '--results', 'results', '--detector', 'autoglm'], {
      cwd: work,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // runner.normalize() writes every detector's normalised scores, unrounded, to final_results.json.
    const final = JSON.parse(fs.readFileSync(path.join(work, 'results', 'final_results.json'), 'utf8')) as {
      autoglm?: Record<NabProfileName, number>;
    };
    const theirs = final.autoglm;
    if (!theirs) return console.log(`reference: no autoglm scores in final_results.json\n${text}`);
    const mine = report.labels!.nab;
    for (const p of Object.keys(NAB_PROFILES) as NabProfileName[])
      console.log(
        `reference ${p}: NAB's score.py ${theirs[p].toFixed(6)}, ours ${mine[p].toFixed(6)}, difference ${(mine[p] - theirs[p]).toExponential(2)}`,
      );
    console.log(
      text
        .split('\n')
        .filter((x) => x.startsWith('nab:'))
        .join('\n'),
    );
    // Per series: NAB's raw standard score beside ours, where they differ (rows of its table).
    for (const e of mine === undefined ? [] : report.labels!.entities) {
      const cells = text
        .split('\n')
        .find((x) => x.startsWith(`| ${e.entity} |`))
        ?.split('|');
      const theirs = Number(cells?.[8]);
      if (!(Math.abs(theirs - e.nabRawStandard) <= 0.005))
        console.log(`  ${e.entity}: NAB raw ${theirs.toFixed(2)}, ours ${e.nabRawStandard.toFixed(4)}`);
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

import os from 'node:os';
import { parseArgs } from 'node:util';
import { loadConfig, type Config } from '../services/common/config.js';
import { formatDuration } from '../services/common/duration.js';
import { parseDuration } from '../services/common/duration.js';
import {
  BaselineError,
  diffDecisions,
  resolveBaseline,
  type DecisionDiff,
} from '../services/backtest/compare.js';
import { readLabels, type LabeledWindows } from '../services/backtest/labels.js';
import { readRecording, recordingFromJsonLines, type Recording } from '../services/backtest/recording.js';
import { formatReport, type BacktestReport } from '../services/backtest/report.js';
import { backtestReport, loadBacktestClassifier, loadBacktestRules } from '../services/backtest/run.js';
import { BacktestShards, splitWhy } from '../services/backtest/shards.js';
import { rangeOf, readTopicsRange } from './record-command.js';
import { UsageError } from './remediation-commands.js';

/** Where the command writes; tests pass their own. */
export interface BacktestIo {
  out(text: string): void;
  err(text: string): void;
  /** Progress on long runs (stderr on a terminal). */
  progress?(text: string): void;
}

const processIo: BacktestIo = {
  out: (t) => process.stdout.write(`${t}\n`),
  err: (t) => process.stderr.write(`${t}\n`),
  ...(process.stderr.isTTY ? { progress: (t: string) => process.stderr.write(`\r${t}`) } : {}),
};

export const BACKTEST_USAGE = `usage: autoglm backtest <recording…> [--entity name] [--metric name] [--labels windows.json]
                        [--rules folder] [--model folder|off] [--baseline rules-folder|model-folder|git-ref]
                        [--moved-within 1h] [--shards n] [--json]
       autoglm backtest --from <time> [--to <time>] [same options]

  recording   JSON lines of samples {entity, metric, value, ts} and events {entity, kind, message, ts},
              CSV files (timestamp,value with --entity and --metric, or with entity and metric columns),
              or folders of CSV files (NAB's layout: the entity is each file's name; --metric names the metric)
  --from, --to  instead of a recording, the metrics and events topics' records of that time range
              (as 'autoglm record' writes them: ISO times, epoch ms or durations ago)
  --labels    incident windows per entity, NAB's combined_windows.json shape: scores the decisions
  --rules     the rules folder (default AUTOGLM_RULES_DIR); --model the classifier (default AUTOGLM_MODEL_DIR)
  --baseline  another version replayed on the same input, side by side: a rules folder (with the current
              model), a model folder (holding model.onnx; with the current rules) or a git ref (the rules
              and model folders as they were at that commit); decisions gained, lost and moved, score change
  --moved-within  a lost and a gained decision of the same entity and rule this close are one moved (1h)
  --shards    replay split by entity on n threads (this one and n-1 workers; the same report);
              default 2 on a machine of 2 or more cores for a recording of 1,000,000 samples or more
              (each worker loads the rules and model first, about 0.5 s), else 1
  --json      the whole report as JSON (for CI)
Settings (window, baselines, guards' limits) are the services' own AUTOGLM_* variables.`;

/** Below this many samples a replay split by entity does not pay back starting its workers. */
export const AUTO_SHARDS_MIN_SAMPLES = 1_000_000;

/**
 * The threads `autoglm backtest` splits a replay across without `--shards`: 2 on a machine of 2 or
 * more cores for a recording of AUTO_SHARDS_MIN_SAMPLES or more, else 1 (whole). Conservative: on
 * 2 cores the split replay of 79k NAB samples takes ~0.7× the whole one's time warm (idle machine)
 * but starting a worker costs ~0.5 s and its first replay is cold (cold runs of those 79k: median
 * 0.9 s split vs 0.4 s whole); 1.6M samples cold: median 3.2 s split vs 4.9 s whole (loads 2–7).
 * More cores were not measured.
 */
export function autoShards(samples: number, cores: number): number {
  return cores >= 2 && samples >= AUTO_SHARDS_MIN_SAMPLES ? 2 : 1;
}

/**
 * `autoglm backtest`: replays a recording through the services' own cores on event time (see
 * services/backtest/backtest.ts) and reports decisions, what the guards would have held back and,
 * with labels, how the decisions score against the incident windows. Exits 1 when the recording
 * has nothing to replay.
 */
export async function backtestCommand(
  args: readonly string[],
  io: BacktestIo = processIo,
  config: Config = loadConfig(),
): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      allowPositionals: true,
      options: {
        entity: { type: 'string' },
        metric: { type: 'string' },
        labels: { type: 'string' },
        rules: { type: 'string' },
        model: { type: 'string' },
        baseline: { type: 'string' },
        'moved-within': { type: 'string' },
        shards: { type: 'string' },
        json: { type: 'boolean', default: false },
        from: { type: 'string' },
        to: { type: 'string' },
        'max-messages': { type: 'string' },
        timeout: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n${BACKTEST_USAGE}`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.out(BACKTEST_USAGE);
    return 0;
  }
  const fromTopics = values.from !== undefined || values.to !== undefined;
  if (fromTopics && positionals.length > 0)
    throw new UsageError(`either recordings or --from/--to (the topics), not both\n${BACKTEST_USAGE}`);
  if (!fromTopics && positionals.length === 0)
    throw new UsageError(`name a recording, or a time range of the topics with --from\n${BACKTEST_USAGE}`);
  const movedWithin = values['moved-within'] ?? '1h';
  const movedWithinMs = parseDuration(movedWithin);
  if (movedWithinMs === undefined)
    throw new UsageError(
      `--moved-within: "${movedWithin}" is not a duration (like 30m or 1h)\n${BACKTEST_USAGE}`,
    );
  const asked = values.shards === undefined ? undefined : Number(values.shards);
  if (asked !== undefined && (!Number.isInteger(asked) || asked < 1 || asked > 64))
    throw new UsageError(
      `--shards: "${values.shards}" is not a number of threads from 1 to 64\n${BACKTEST_USAGE}`,
    );
  const recording = fromTopics
    ? await topicRecording(values, config)
    : readRecording(positionals, {
        ...(values.entity !== undefined ? { entity: values.entity } : {}),
        ...(values.metric !== undefined ? { metric: values.metric } : {}),
      });
  if (recording.samples.length === 0 && recording.events.length === 0) {
    const bad = recording.problems.filter((p) => p.line > 0).length;
    io.err(
      `the recording is empty: no sample or event in ${recording.files.join(', ')}` +
        (bad > 0 ? ` (${bad} malformed lines, the first ${describe(recording)})` : ''),
    );
    return 1;
  }
  const labels: LabeledWindows | undefined = values.labels ? readLabels(values.labels) : undefined;
  const ruleSet = await loadBacktestRules(values.rules ?? config.rulesDir, config);
  // Without --shards: split where it pays (autoShards) and the recording splits (else the
  // workers would be started for nothing).
  const auto = asked === undefined ? autoShards(recording.samples.length, os.availableParallelism()) : 1;
  const shards = asked ?? (auto > 1 && splitWhy(recording, config, ruleSet) === undefined ? auto : 1);
  const classifier = await loadBacktestClassifier(values.model ?? config.modelDir);
  const onProgress = io.progress
    ? (done: number, total: number) =>
        io.progress?.(`replayed ${done.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} samples`)
    : undefined;
  const opts = { config, classifier, labels, ...(onProgress ? { onProgress } : {}) };
  const pool =
    shards > 1
      ? await BacktestShards.start({
          rulesDir: values.rules ?? config.rulesDir,
          modelDir: values.model ?? config.modelDir,
          config,
          shards,
          classifier,
        })
      : undefined;
  const { run, report } = await backtestReport(recording, { ...opts, ruleSet, shards: pool }).finally(() =>
    pool?.close(),
  );
  io.progress?.('\n');
  if (!values.baseline) {
    io.out(values.json ? JSON.stringify(report, null, 2) : formatReport(report));
    return 0;
  }
  let source;
  try {
    source = resolveBaseline(values.baseline, {
      rulesDir: values.rules ?? config.rulesDir,
      modelDir: values.model ?? config.modelDir,
    });
  } catch (err) {
    if (err instanceof BaselineError) throw new UsageError(`${err.message}\n${BACKTEST_USAGE}`);
    throw err;
  }
  let base;
  try {
    base = await backtestReport(recording, {
      ...opts,
      ruleSet: await loadBacktestRules(source.rulesDir, config),
      classifier: await loadBacktestClassifier(source.modelDir),
    });
  } finally {
    source.cleanup();
  }
  const diff = diffDecisions(base.run.decisions, run.decisions, movedWithinMs);
  if (values.json) {
    const { cleanup: _, ...named } = source;
    io.out(JSON.stringify({ ...report, baseline: { source: named, report: base.report, ...diff } }, null, 2));
    return 0;
  }
  io.out(formatReport(report));
  io.out('');
  io.out(sideBySide(source.label, base.report, report));
  io.out('');
  io.out(changes(diff, movedWithin));
  return 0;
}

/** The baseline's and the current replay's figures in two columns, with the change. */
export function sideBySide(label: string, before: BacktestReport, after: BacktestReport): string {
  const rows: Array<[string, string, string, string]> = [];
  const num = (name: string, a: number, b: number, digits = 0) =>
    rows.push([name, a.toFixed(digits), b.toFixed(digits), signed(b - a, digits)]);
  num('decisions', before.decisions.total, after.decisions.total);
  const rules = [
    ...new Set([...Object.keys(before.decisions.byRule), ...Object.keys(after.decisions.byRule)]),
  ];
  for (const rule of rules.sort())
    num(`  ${rule}`, before.decisions.byRule[rule] ?? 0, after.decisions.byRule[rule] ?? 0);
  num('acted after the guards', before.guards.acted, after.guards.acted);
  const a = before.labels;
  const b = after.labels;
  if (a && b) {
    rows.push([
      'windows caught',
      `${a.caught}/${a.windows}`,
      `${b.caught}/${b.windows}`,
      signed(b.caught - a.caught, 0),
    ]);
    num('decisions outside windows', a.outside, b.outside);
    num('  per entity-day', a.outsidePerEntityDay, b.outsidePerEntityDay, 2);
    const delay = (ms: number | null) => (ms === null ? '—' : formatDuration(ms) || '0s');
    rows.push(['median time to first decision', delay(a.medianDelayMs), delay(b.medianDelayMs), '']);
    num('NAB standard', a.nab.standard, b.nab.standard, 1);
    num('NAB reward_low_FP_rate', a.nab.reward_low_FP_rate, b.nab.reward_low_FP_rate, 1);
    num('NAB reward_low_FN_rate', a.nab.reward_low_FN_rate, b.nab.reward_low_FN_rate, 1);
  }
  const head: [string, string, string, string] = ['', 'baseline', 'current', 'change'];
  const width = [0, 1, 2, 3].map((k) => Math.max(...[head, ...rows].map((r) => r[k]!.length)));
  const line = (r: readonly string[]) =>
    r
      .map((c, k) => (k === 0 ? c.padEnd(width[k]!) : c.padStart(width[k]!)))
      .join('  ')
      .trimEnd();
  return [
    `baseline: ${label}`,
    line(head),
    ...rows.map(line),
    ...(a && b ? [] : ['(pass --labels to score both)']),
  ].join('\n');
}

function signed(x: number, digits: number): string {
  const t = x.toFixed(digits);
  return x > 0 ? `+${t}` : Number(t) === 0 ? '0' : t;
}

/** Decisions gained, lost and moved against the baseline, five examples of each. */
function changes(diff: DecisionDiff, movedWithin: string): string {
  const out = [
    `against the baseline: ${diff.gained.length} decisions gained, ${diff.lost.length} lost, ${diff.moved.length} moved (same entity and rule within ${movedWithin}), ${diff.same} the same`,
  ];
  const time = (ts: number) => new Date(ts).toISOString();
  const example = (sign: string, d: (typeof diff.gained)[number]) =>
    `  ${sign} ${time(d.ts)} ${d.entity} ${d.rule} → ${d.action}`;
  for (const d of diff.gained.slice(0, 5)) out.push(example('+', d));
  for (const d of diff.lost.slice(0, 5)) out.push(example('-', d));
  for (const m of diff.moved.slice(0, 5))
    out.push(
      `  ~ ${time(m.before.ts)} → ${time(m.after.ts)} (${m.byMs < 0 ? 'earlier' : 'later'} by ${formatDuration(Math.abs(m.byMs))}) ${m.after.entity} ${m.after.rule} → ${m.after.action}`,
    );
  return out.join('\n');
}

/** The topics' records of the range as a recording (read into memory, as `autoglm record` would write them). */
async function topicRecording(
  values: { from?: string; to?: string; 'max-messages'?: string; timeout?: string },
  config: Config,
): Promise<Recording> {
  const { range, limits } = rangeOf(values, Date.now());
  const lines: string[] = [];
  const reads = await readTopicsRange(config, range, limits, (line) => lines.push(line));
  const cut = reads.filter((r) => !r.complete).map((r) => r.topic);
  if (cut.length > 0)
    throw new UsageError(`reading ${cut.join(', ')} was cut short: raise --max-messages or --timeout`);
  const span = `${new Date(range.from).toISOString()}..${range.to !== undefined ? new Date(range.to).toISOString() : 'now'}`;
  return recordingFromJsonLines(lines.join('\n'), `topics ${reads.map((r) => r.topic).join(', ')} ${span}`);
}

function describe(r: Recording): string {
  const p = r.problems[0];
  return p ? `${p.file}:${p.line}: ${p.message}` : '';
}

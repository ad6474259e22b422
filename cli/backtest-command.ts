import { parseArgs } from 'node:util';
import { loadConfig, type Config } from '../services/common/config.js';
import { formatDuration } from '../services/common/duration.js';
import { diffDecisions } from '../services/backtest/compare.js';
import { readLabels, type LabeledWindows } from '../services/backtest/labels.js';
import { readRecording, recordingFromJsonLines, type Recording } from '../services/backtest/recording.js';
import { formatReport, type BacktestReport } from '../services/backtest/report.js';
import { backtestReport, loadBacktestClassifier, loadBacktestRules } from '../services/backtest/run.js';
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
                        [--rules folder] [--model folder|off] [--baseline rules-folder] [--json]
       autoglm backtest --from <time> [--to <time>] [same options]

  recording   JSON lines of samples {entity, metric, value, ts} and events {entity, kind, message, ts},
              CSV files (timestamp,value with --entity and --metric, or with entity and metric columns),
              or folders of CSV files (NAB's layout: the entity is each file's name; --metric names the metric)
  --from, --to  instead of a recording, the metrics and events topics' records of that time range
              (as 'autoglm record' writes them: ISO times, epoch ms or durations ago)
  --labels    incident windows per entity, NAB's combined_windows.json shape: scores the decisions
  --rules     the rules folder (default AUTOGLM_RULES_DIR); --model the classifier (default AUTOGLM_MODEL_DIR)
  --baseline  a second rules folder replayed on the same input: decisions gained and lost, score change
  --json      the whole report as JSON (for CI)
Settings (window, baselines, guards' limits) are the services' own AUTOGLM_* variables.`;

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
  const classifier = await loadBacktestClassifier(values.model ?? config.modelDir);
  const onProgress = io.progress
    ? (done: number, total: number) =>
        io.progress?.(`replayed ${done.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} samples`)
    : undefined;
  const opts = { config, classifier, labels, ...(onProgress ? { onProgress } : {}) };
  const { run, report } = await backtestReport(recording, { ...opts, ruleSet });
  io.progress?.('\n');
  if (!values.baseline) {
    io.out(values.json ? JSON.stringify(report, null, 2) : formatReport(report));
    return 0;
  }
  const base = await backtestReport(recording, {
    ...opts,
    ruleSet: await loadBacktestRules(values.baseline, config),
  });
  const diff = diffDecisions(base.run.decisions, run.decisions);
  if (values.json) {
    io.out(JSON.stringify({ ...report, baseline: { report: base.report, ...diff } }, null, 2));
    return 0;
  }
  io.out(formatReport(report));
  io.out('');
  io.out(
    `against the baseline rules ${values.baseline}: ${diff.gained.length} decisions gained, ${diff.lost.length} lost, ${diff.same} the same`,
  );
  const example = (sign: string, d: (typeof diff.gained)[number]) =>
    `  ${sign} ${new Date(d.ts).toISOString()} ${d.entity} ${d.rule} → ${d.action}`;
  for (const d of diff.gained.slice(0, 5)) io.out(example('+', d));
  for (const d of diff.lost.slice(0, 5)) io.out(example('-', d));
  io.out(scoreChange(base.report, report));
  return 0;
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

function scoreChange(before: BacktestReport, after: BacktestReport): string {
  const a = before.labels;
  const b = after.labels;
  if (!a || !b) return 'score change: pass --labels to score both';
  const delta = (x: number, y: number) => `${x.toFixed(1)} → ${y.toFixed(1)}`;
  const delay = (ms: number | null) => (ms === null ? '—' : formatDuration(ms) || '0s');
  return [
    `NAB standard ${delta(a.nab.standard, b.nab.standard)}, reward_low_FP_rate ${delta(a.nab.reward_low_FP_rate, b.nab.reward_low_FP_rate)}`,
    `windows caught ${a.caught} → ${b.caught} of ${b.windows}; outside windows ${a.outside} → ${b.outside}; median time to first decision ${delay(a.medianDelayMs)} → ${delay(b.medianDelayMs)}`,
  ].join('\n');
}

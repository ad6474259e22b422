import { actuatorsFromConfig } from '../actuators/from-config.js';
import { IncidentClassifier } from '../classifier/onnx-session.js';
import type { Config } from '../common/config.js';
import { RuleLoadError } from '../decide/rule-file.js';
import { loadRuleSet, type RuleSet } from '../decide/rule-set.js';
import { runBacktest, type BacktestClassifier, type BacktestRun } from './backtest.js';
import { budgetLimitsOf, replayGuards } from './guards.js';
import type { BacktestShards } from './shards.js';
import type { LabeledWindows } from './labels.js';
import { buildReport, type BacktestReport } from './report.js';
import type { Recording } from './recording.js';

/** Loads a rules folder with every check decide runs at start; throws RuleLoadError listing the problems. */
export async function loadBacktestRules(dir: string, config: Config): Promise<RuleSet> {
  const actuators = actuatorsFromConfig(config);
  const { ruleSet, problems } = await loadRuleSet(dir, { checkActuator: (ref) => actuators.check(ref) });
  if (!ruleSet) throw new RuleLoadError(problems);
  return ruleSet;
}

/** The classifier of a model folder, or none for "off" (rules only), as decide loads it. */
export async function loadBacktestClassifier(dir: string): Promise<BacktestClassifier | undefined> {
  return dir === 'off' ? undefined : IncidentClassifier.load(dir);
}

/** One replay of a recording with one rule set, reported (with the guards and, given labels, the scores). */
export async function backtestReport(
  recording: Recording,
  opts: {
    readonly config: Config;
    readonly ruleSet: RuleSet;
    readonly classifier?: BacktestClassifier | undefined;
    readonly labels?: LabeledWindows | undefined;
    readonly onProgress?: (done: number, total: number) => void;
    /** Replays split by entity on these workers (the same run; whole where splitWhy refuses). */
    readonly shards?: BacktestShards | undefined;
  },
): Promise<{ run: BacktestRun; report: BacktestReport }> {
  const progress = opts.onProgress ? { onProgress: opts.onProgress } : {};
  const run =
    (await opts.shards?.run(recording, { config: opts.config, ruleSet: opts.ruleSet, ...progress })) ??
    (await runBacktest(recording, {
      config: opts.config,
      ruleSet: opts.ruleSet,
      ...(opts.classifier ? { classifier: opts.classifier } : {}),
      ...progress,
    }));
  const guards = replayGuards(run.decisions, budgetLimitsOf(opts.config));
  return { run, report: buildReport(recording, run, guards, opts.labels) };
}

import fs from 'node:fs';
import path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { buildDataset } from '../services/classifier/dataset-from-topics.js';
import {
  DatasetError,
  readDataset,
  readTrainingData,
  writeDataset,
} from '../services/classifier/dataset-file.js';
import { proportionsIn, psiOfProportions, trainingHistograms } from '../services/classifier/drift.js';
import { writeCrossCard } from '../services/classifier/cross-card.js';
import { CROSS_VARIANTS, crossEvaluate } from '../services/classifier/cross-evaluate.js';
import { evaluateModel, formatEvaluation } from '../services/classifier/evaluate.js';
import { inspectModel } from '../services/classifier/inspect.js';
import { modelCard, readTrainingHistograms } from '../services/classifier/model-card.js';
import { ModelConfigError, readModelConfig } from '../services/classifier/model-config.js';
import { ModelLoadError, readModelJson, writeModelFiles } from '../services/classifier/model-files.js';
import type { GlmModel, LabeledRow, ModelConfig } from '../services/classifier/model-types.js';
import { monitorReport, parseMonitorMetrics } from '../services/classifier/monitor.js';
import { modelDraftCommand } from './model-draft-command.js';
import { PMML_FILE, glmToPmml } from '../services/classifier/pmml-export.js';
import { generateScenarios, SCENARIO_CLASSES } from '../services/classifier/scenarios.js';
import { trainGlm } from '../services/classifier/train.js';
import { ConfigError, loadConfig, topicNames } from '../services/common/config.js';
import { parseDuration } from '../services/common/duration.js';
import { createKafka } from '../services/common/kafka.js';
import { createLogger } from '../services/common/logger.js';

/** Where a command writes; tests pass their own. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
}

const DEFAULT_CONFIG = 'models/incident.config.json';
const DEFAULT_MODEL = 'models/incident';

const USAGE = `usage: autoglm model <command>

  generate --out data.jsonl [--rows 20000] [--seed 1] [--shift feature=delta …]
                          synthetic incident scenarios as a labeled JSONL dataset
  train --data data.jsonl [--config ${DEFAULT_CONFIG}] [--out ${DEFAULT_MODEL}] [--synthetic]
                          train the GLM, evaluate it on the held-out split, write model.onnx,
                          model.json and the model card (--synthetic: the data was generated)
  evaluate --data file.jsonl [--model ${DEFAULT_MODEL}]
                          AUC per class, calibration and the confusion matrix on labeled rows
  evaluate --cross [--model ${DEFAULT_MODEL}] [--config ${DEFAULT_CONFIG}] [--seed 1] [--rounds 6] [--card]
                          cross-generator: the model on the fleet simulator's traces (as it runs,
                          with unseen metrics, without history, without events), and the config
                          trained on the fleet's traces scored on the classifier's scenarios
                          (--card: written into the model's card.md and card.json too)
  export --format pmml [--model ${DEFAULT_MODEL}] [--out <model>/model.pmml]
                          the GLM as PMML 4.4 (a RegressionModel over the model's input vector,
                          like model.onnx), for scoring engines that read PMML
  draft "<sentence>" [--explain] [--out models/<name>.config.json] [--force] [--json]
                          a model config from an English or Chinese sentence ("a softmax model over
                          cpu and memory deviations with strong L1, classes cpu, leak"); what is
                          missing is asked back, nothing written until nothing is
  inspect [--model ${DEFAULT_MODEL}] [--top 5]
                          the inputs that push each class up or down
  monitor [--model ${DEFAULT_MODEL}] [--metrics-url http://127.0.0.1:9400/metrics] [--data file.jsonl]
                          feature drift (PSI) and live AUC from a running decide's /metrics,
                          or with --data the PSI (and AUC) of that file against training
  dataset --out rows.jsonl [--max 100000] [--timeout 60s] [--healthy-ratio 1] [--config ${DEFAULT_CONFIG}]
          [--rule-class rule=class …]
                          labeled rows from the recorded observations, decisions and verdicts:
                          a verified remediation labels its window with the class acted on, a
                          failed or compensated one writes it as a negative row, "notClass"
                          in place of "label", which train takes as a soft negative (its target
                          spread evenly over the other classes) and evaluate skips

Dataset files are JSONL, one {"features": {…}, "events": [{"kind", "message"}], "label": "<class>"}
per line, or "notClass": "<class>" in place of "label" for a window known not to be that class.`;

/** A flag is wrong; the command prints the usage and exits 2. */
class UsageError extends Error {
  override readonly name = 'UsageError';
}

/**
 * `autoglm model generate|train|evaluate|inspect|monitor|dataset`: the classifier's life cycle from
 * data to a served, monitored model. Exit 2 on bad flags, 1 on a refused config, dataset or model.
 */
export async function modelCommand(args: readonly string[], io: Io): Promise<number> {
  const [sub, ...rest] = args;
  try {
    switch (sub) {
      case 'generate':
        return generateCommand(rest, io);
      case 'train':
        return trainCommand(rest, io);
      case 'evaluate':
        return evaluateCommand(rest, io);
      case 'inspect':
        return inspectCommand(rest, io);
      case 'export':
        return exportCommand(rest, io);
      case 'draft':
        return modelDraftCommand(rest, io);
      case 'monitor':
        return await monitorCommand(rest, io);
      case 'dataset':
        return await datasetCommand(rest, io);
      case 'help':
      case '--help':
      case '-h':
        io.out(USAGE);
        return 0;
      default:
        io.err(sub === undefined ? USAGE : `unknown model command "${sub}"\n${USAGE}`);
        return 2;
    }
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`${err.message}\n${USAGE}`);
      return 2;
    }
    if (err instanceof ModelConfigError || err instanceof DatasetError || err instanceof ConfigError) {
      io.err(err.message);
      return 1;
    }
    if (err instanceof ModelLoadError) {
      io.err(err.message);
      return 1;
    }
    throw err;
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** Parses `args` against `options` (no positionals); a bad flag is a UsageError. */
function flags<O extends Options>(args: readonly string[], options: O) {
  try {
    return parseArgs({ args: [...args], options, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function required(value: string | undefined, flag: string): string {
  if (value === undefined || value === '') throw new UsageError(`--${flag} is required`);
  return value;
}

function wholeNumber(value: string | undefined, flag: string, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min)
    throw new UsageError(`--${flag} must be a whole number ≥ ${min}, got "${value}"`);
  return n;
}

/** `name=value` pairs of a repeated flag. */
function pairs(values: readonly string[] | undefined, flag: string): Array<[string, string]> {
  return (values ?? []).map((p) => {
    const at = p.indexOf('=');
    if (at <= 0 || at === p.length - 1) throw new UsageError(`--${flag} takes name=value, got "${p}"`);
    return [p.slice(0, at), p.slice(at + 1)];
  });
}

function classCounts(rows: readonly LabeledRow[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of rows) counts[r.label] = (counts[r.label] ?? 0) + 1;
  return counts;
}

const showCounts = (counts: Record<string, number>) =>
  Object.entries(counts)
    .map(([c, n]) => `${c} ${n}`)
    .join(', ');

function generateCommand(args: readonly string[], io: Io): number {
  const v = flags(args, {
    out: { type: 'string' },
    rows: { type: 'string' },
    seed: { type: 'string' },
    shift: { type: 'string', multiple: true },
  });
  const out = required(v.out, 'out');
  const shift: Record<string, number> = {};
  for (const [name, delta] of pairs(v.shift, 'shift')) {
    const d = Number(delta);
    if (!Number.isFinite(d)) throw new UsageError(`--shift ${name}= needs a number, got "${delta}"`);
    shift[name] = d;
  }
  let rows: LabeledRow[];
  try {
    rows = generateScenarios({
      rows: wholeNumber(v.rows, 'rows', 20_000, 1),
      seed: wholeNumber(v.seed, 'seed', 1),
      shift,
    });
  } catch (err) {
    if (err instanceof RangeError) throw new UsageError(err.message);
    throw err;
  }
  fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  writeDataset(out, rows);
  io.out(`wrote ${rows.length} rows to ${out} (${showCounts(classCounts(rows))})`);
  return 0;
}

function trainCommand(args: readonly string[], io: Io): number {
  const v = flags(args, {
    config: { type: 'string' },
    data: { type: 'string' },
    out: { type: 'string' },
    synthetic: { type: 'boolean' },
  });
  const data = required(v.data, 'data');
  const config = readModelConfig(v.config ?? DEFAULT_CONFIG);
  const { rows, negatives } = readTrainingData(data, config);
  const out = v.out ?? path.join('models', config.name);
  const started = Date.now();
  const { model, report, train, test } = trainGlm(config, rows, { negatives });
  const evaluation = evaluateModel(model, test);
  const card = modelCard(model, config, report, evaluation, {
    source: data,
    synthetic: v.synthetic ?? false,
    classCounts: classCounts(rows),
    ...(report.negativeRows ? { negativeCounts: report.negativeRows } : {}),
    histograms: trainingHistograms(train, model),
  });
  writeModelFiles(out, model, card);
  io.out(
    `model ${model.version}: ${train.length} training rows, ${test.length} held out, ${((Date.now() - started) / 1000).toFixed(1)}s`,
  );
  if (report.negativeRows)
    io.out(
      `negative rows (notClass, soft negatives, all in training): ${negatives.length} (${showCounts(report.negativeRows)})`,
    );
  io.out(`iterations ${report.iterations}`);
  io.out(`final loss ${report.finalLoss.toFixed(6)}`);
  io.out(
    `lambda ${report.lambda.toPrecision(4)}${config.regularization.lambda === 'auto' ? ' (cross-validated)' : ''}`,
  );
  for (const w of card.json.warnings) io.out(`warning: ${w}`);
  io.out('held-out evaluation:');
  for (const line of formatEvaluation(evaluation)) io.out(`  ${line}`);
  io.out(`wrote ${out}/ (model.onnx, model.json, card.md, card.json)`);
  return 0;
}

/** The config a model was trained with, as far as reading labeled rows for it needs. */
function datasetConfigOf(model: GlmModel): ModelConfig {
  return {
    name: model.name,
    model_type: 'GLM',
    link_function: model.link,
    regularization: { alpha: 0, lambda: 0 },
    features: model.features,
    classes: model.classes,
  };
}

function evaluateCommand(args: readonly string[], io: Io): number {
  const v = flags(args, {
    model: { type: 'string' },
    data: { type: 'string' },
    cross: { type: 'boolean' },
    config: { type: 'string' },
    seed: { type: 'string' },
    rounds: { type: 'string' },
    card: { type: 'boolean' },
  });
  if (v.cross) {
    if (v.data !== undefined) throw new UsageError('give --data or --cross, not both');
    return crossCommand(v, io);
  }
  for (const flag of ['config', 'seed', 'rounds', 'card'] as const)
    if (v[flag] !== undefined) throw new UsageError(`--${flag} goes with --cross`);
  const data = required(v.data, 'data');
  const model = readModelJson(v.model ?? DEFAULT_MODEL);
  const { rows, negatives } = readTrainingData(data, datasetConfigOf(model));
  io.out(`model ${model.version} on ${data}:`);
  if (negatives.length > 0)
    io.out(`(${negatives.length} notClass rows skipped: the metrics need rows of a known class)`);
  for (const line of formatEvaluation(evaluateModel(model, rows))) io.out(line);
  return 0;
}

function crossCommand(
  v: { model?: string; config?: string; seed?: string; rounds?: string; card?: boolean },
  io: Io,
): number {
  const model = readModelJson(v.model ?? DEFAULT_MODEL);
  const config = readModelConfig(v.config ?? DEFAULT_CONFIG);
  const seed = wholeNumber(v.seed, 'seed', 1);
  const rounds = wholeNumber(v.rounds, 'rounds', 6, 1);
  const started = Date.now();
  const result = crossEvaluate(model, config, { seed, rounds });
  io.out(`model ${model.version}, trained on the classifier's generator, on the fleet simulator's traces:`);
  for (const { variant, evaluation, naming: n } of result.forward) {
    io.out(`[${variant.name}] ${variant.description}`);
    for (const line of formatEvaluation(evaluation)) io.out(`  ${line}`);
    io.out(
      `  incidents at their last observation: ${n.right} of ${n.incidents} named right, ${n.abstained} unknown, ${n.wrong} named wrong; ` +
        `healthy entities named an incident: ${n.healthyNamed} of ${n.healthy}`,
    );
  }
  io.out(
    `reverse: ${config.name} trained on ${result.reverse.trainRows} rows of the fleet's traces, on the classifier's scenarios:`,
  );
  for (const line of formatEvaluation(result.reverse.evaluation)) io.out(`  ${line}`);
  const worst = Math.min(...result.forward.map((f) => f.evaluation.macroAuc));
  const worstEce = Math.max(...result.forward.map((f) => f.evaluation.ece));
  io.out(
    `summary: forward macro AUC ≥ ${worst.toFixed(4)}, ECE ≤ ${worstEce.toFixed(4)} over ${CROSS_VARIANTS.length} variants; ` +
      `reverse macro AUC ${result.reverse.evaluation.macroAuc.toFixed(4)}, ECE ${result.reverse.evaluation.ece.toFixed(4)} ` +
      `(${((Date.now() - started) / 1000).toFixed(1)}s)`,
  );
  if (v.card) {
    const dir = v.model ?? DEFAULT_MODEL;
    const command = `autoglm model evaluate --cross --seed ${seed} --rounds ${rounds}`;
    writeCrossCard(dir, result, command);
    io.out(`wrote the cross-generator evaluation into ${dir}/card.md and card.json`);
  }
  return 0;
}

function exportCommand(args: readonly string[], io: Io): number {
  const v = flags(args, { model: { type: 'string' }, format: { type: 'string' }, out: { type: 'string' } });
  if (v.format !== 'pmml')
    throw new UsageError(
      `--format must be "pmml"${v.format === undefined ? '' : `, got "${v.format}"`} (ONNX is model.onnx already)`,
    );
  const dir = v.model ?? DEFAULT_MODEL;
  const model = readModelJson(dir);
  const out = v.out ?? path.join(dir, PMML_FILE);
  fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  fs.writeFileSync(out, glmToPmml(model));
  io.out(
    `wrote ${out}: PMML 4.4 of ${model.version} (${model.columns.length} inputs, ${model.classes.length} classes)`,
  );
  return 0;
}

function inspectCommand(args: readonly string[], io: Io): number {
  const v = flags(args, { model: { type: 'string' }, top: { type: 'string' } });
  const model = readModelJson(v.model ?? DEFAULT_MODEL);
  for (const line of inspectModel(model, wholeNumber(v.top, 'top', 5, 1))) io.out(line);
  return 0;
}

async function monitorCommand(args: readonly string[], io: Io): Promise<number> {
  const v = flags(args, {
    model: { type: 'string' },
    'metrics-url': { type: 'string' },
    data: { type: 'string' },
  });
  if (v.data !== undefined && v['metrics-url'] !== undefined)
    throw new UsageError('give --data (offline) or --metrics-url (live), not both');
  const dir = v.model ?? DEFAULT_MODEL;
  if (v.data !== undefined) {
    const model = readModelJson(dir);
    const histograms = readTrainingHistograms(dir);
    const rows = readDataset(v.data, datasetConfigOf(model));
    const psi: Record<string, number> = {};
    for (const [name, h] of Object.entries(histograms)) {
      const values = rows.map((r) => r.features[name]).filter((x): x is number => x !== undefined);
      if (values.length > 0) psi[name] = psiOfProportions(h.proportions, proportionsIn(h.edges, values));
    }
    const evaluation = evaluateModel(model, rows);
    const auc = Object.fromEntries(
      Object.entries(evaluation.aucPerClass).filter(([, a]) => !Number.isNaN(a)),
    );
    io.out(`model ${model.version} against ${v.data} (${rows.length} rows):`);
    for (const line of monitorReport({ psi, auc, predictions: {} }, model.classes, 'the labels in the file'))
      io.out(line);
    return 0;
  }
  const url = v['metrics-url'] ?? 'http://127.0.0.1:9400/metrics';
  let text: string;
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    text = await response.text();
  } catch (err) {
    io.err(
      `cannot read ${url}: ${(err as Error).message}; is decide running (autoglm up), or pass --metrics-url`,
    );
    return 1;
  }
  const snapshot = parseMonitorMetrics(text);
  let classes: readonly string[] = [];
  if (v.model !== undefined || fs.existsSync(dir)) classes = readModelJson(dir).classes;
  if (
    Object.keys(snapshot.psi).length +
      Object.keys(snapshot.auc).length +
      Object.keys(snapshot.predictions).length ===
    0
  )
    io.out(`${url} has no autoglm_model_* series yet: no model is loaded, or it has not classified anything`);
  for (const line of monitorReport(snapshot, classes)) io.out(line);
  return 0;
}

async function datasetCommand(args: readonly string[], io: Io): Promise<number> {
  const v = flags(args, {
    out: { type: 'string' },
    max: { type: 'string' },
    timeout: { type: 'string' },
    'healthy-ratio': { type: 'string' },
    config: { type: 'string' },
    'rule-class': { type: 'string', multiple: true },
  });
  const out = required(v.out, 'out');
  const timeoutMs = v.timeout === undefined ? 60_000 : parseDuration(v.timeout);
  if (timeoutMs === undefined)
    throw new UsageError(`--timeout must be a duration such as "60s", got "${v.timeout}"`);
  const healthyRatio = v['healthy-ratio'] === undefined ? 1 : Number(v['healthy-ratio']);
  if (!(healthyRatio >= 0))
    throw new UsageError(`--healthy-ratio must be a number ≥ 0, got "${v['healthy-ratio']}"`);
  const classes =
    v.config !== undefined || fs.existsSync(DEFAULT_CONFIG)
      ? readModelConfig(v.config ?? DEFAULT_CONFIG).classes
      : SCENARIO_CLASSES;
  const ruleClasses = Object.fromEntries(pairs(v['rule-class'], 'rule-class'));
  for (const [rule, cls] of Object.entries(ruleClasses))
    if (!classes.includes(cls))
      throw new UsageError(`--rule-class ${rule}=${cls}: the classes are ${classes.join(', ')}`);

  const config = loadConfig();
  const topics = topicNames(config);
  const kafka = createKafka(config, createLogger('warn'));
  const result = await buildDataset({
    kafka,
    topics,
    maxMessages: wholeNumber(v.max, 'max', 100_000, 1),
    timeoutMs,
    groupPrefix: config.groupPrefix,
    classes,
    ruleClasses,
    healthyRatio,
  });
  fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  writeDataset(out, result.rows, result.negatives);
  const { read, stats } = result;
  io.out(
    `read ${Object.entries(read.read)
      .map(([t, n]) => `${t} ${n}`)
      .join(', ')}${read.timedOut ? ' (timed out before the end)' : ''}`,
  );
  const invalid = Object.entries(read.invalid).filter(([, n]) => n > 0);
  if (invalid.length > 0)
    io.out(`skipped invalid messages: ${invalid.map(([t, n]) => `${t} ${n}`).join(', ')}`);
  io.out(`positives: ${showCounts(stats.positives) || 'none'}`);
  io.out(`healthy: ${stats.healthy} sampled of ${stats.healthyCandidates} quiet windows`);
  io.out(
    `negatives (failed or compensated; written with "notClass"): ${showCounts(stats.negatives) || 'none'}`,
  );
  const dropped = [
    ...Object.entries(stats.uninformative).map(([o, n]) => `${n} ${o}`),
    stats.verdictsWithoutDecision ? `${stats.verdictsWithoutDecision} without their decision` : '',
    stats.decisionsWithoutObservation ? `${stats.decisionsWithoutObservation} without their observation` : '',
    stats.decisionsWithoutClass ? `${stats.decisionsWithoutClass} without a class (pass --rule-class)` : '',
  ].filter(Boolean);
  if (dropped.length > 0) io.out(`verdicts not used: ${dropped.join(', ')}`);
  if (stats.classConflicts > 0)
    io.out(
      `${stats.classConflicts} decisions where the rule's class and the model's class differed (the rule's was used)`,
    );
  io.out(
    `wrote ${result.rows.length + result.negatives.length} rows to ${out} ` +
      `(${result.rows.length} labeled, ${result.negatives.length} negative)`,
  );
  return 0;
}

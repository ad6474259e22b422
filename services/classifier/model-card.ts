/**
 * The model card written beside every trained model: what it was trained on, how, how well it did
 * on held-out rows, what to be careful about, and the training histograms live drift is measured
 * against. `card.md` is for people; `card.json` for tools (`autoglm model monitor`, decide's monitor).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { PSI_ALARM, PSI_WATCH, type TrainingHistograms } from './drift.js';
import type { Evaluation } from './evaluate.js';
import { MODEL_FILES, ModelLoadError } from './model-files.js';
import type { GlmModel, ModelConfig } from './model-types.js';
import type { TrainReport } from './train.js';

/** Held-out macro AUC below this earns a warning on the card. */
export const CARD_MIN_MACRO_AUC = 0.95;
/** Held-out calibration error above this earns a warning on the card. */
export const CARD_MAX_ECE = 0.05;
/** Fewer training rows of a class than this earn a warning. */
const MIN_CLASS_ROWS = 30;

/** Where the training data came from. */
export interface CardDataInfo {
  /** The dataset file, or a description such as "autoglm.verdicts joined to decisions". */
  readonly source: string;
  /** True for generated scenarios: the card then says to retrain on recorded verdicts. */
  readonly synthetic?: boolean;
  /** Rows per class in the whole dataset. */
  readonly classCounts: Readonly<Record<string, number>>;
  /** Negative (`notClass`) rows per class they are not, trained as soft negatives. */
  readonly negativeCounts?: Readonly<Record<string, number>>;
  /** Per numeric feature, its histogram over the training rows (`trainingHistograms`). */
  readonly histograms: TrainingHistograms;
  /** When the card is written (default now). */
  readonly now?: Date;
}

/** The card as JSON (what `card.json` holds). */
export interface ModelCardJson {
  readonly name: string;
  readonly version: string;
  readonly created: string;
  /** sha256 of the config JSON; its first 8 hex digits end the version. */
  readonly configHash: string;
  readonly config: ModelConfig;
  readonly data: {
    readonly source: string;
    readonly synthetic: boolean;
    readonly rows: number;
    readonly classCounts: Readonly<Record<string, number>>;
    /** Negative (`notClass`) rows by the class they are not; absent when there were none. */
    readonly negativeCounts?: Readonly<Record<string, number>>;
    readonly trainRows: number;
    readonly testRows: number;
  };
  readonly training: Omit<TrainReport, 'warnings' | 'trainRows' | 'testRows'> & { readonly alpha: number };
  readonly evaluation: Evaluation;
  readonly warnings: readonly string[];
  readonly drift: {
    readonly thresholds: { readonly watch: number; readonly alarm: number };
    readonly histograms: TrainingHistograms;
  };
}

/** The card of a trained model, as markdown and as JSON. */
export function modelCard(
  model: GlmModel,
  config: ModelConfig,
  report: TrainReport,
  evaluation: Evaluation,
  dataInfo: CardDataInfo,
): { markdown: string; json: ModelCardJson } {
  const { warnings: _trainWarnings, trainRows, testRows, ...training } = report;
  const rows = Object.values(dataInfo.classCounts).reduce((a, b) => a + b, 0);
  const json: ModelCardJson = {
    name: model.name,
    version: model.version,
    created: (dataInfo.now ?? new Date()).toISOString(),
    configHash: createHash('sha256').update(JSON.stringify(config)).digest('hex'),
    config,
    data: {
      source: dataInfo.source,
      synthetic: dataInfo.synthetic ?? false,
      rows,
      classCounts: dataInfo.classCounts,
      ...(dataInfo.negativeCounts && Object.keys(dataInfo.negativeCounts).length > 0
        ? { negativeCounts: dataInfo.negativeCounts }
        : {}),
      trainRows,
      testRows,
    },
    training: { ...training, alpha: config.regularization.alpha },
    evaluation,
    warnings: cardWarnings(model, report, evaluation, dataInfo),
    drift: { thresholds: { watch: PSI_WATCH, alarm: PSI_ALARM }, histograms: dataInfo.histograms },
  };
  return { markdown: cardMarkdown(json, model), json };
}

/** Training warnings plus what the evaluation and the data say a user should know. */
function cardWarnings(
  model: GlmModel,
  report: TrainReport,
  evaluation: Evaluation,
  dataInfo: CardDataInfo,
): string[] {
  const warnings = [...report.warnings];
  if (dataInfo.synthetic)
    warnings.push(
      'trained on generated scenarios, not on this fleet: retrain on recorded verdicts (`autoglm model dataset`) before trusting its confidence',
    );
  if (!(evaluation.macroAuc >= CARD_MIN_MACRO_AUC))
    warnings.push(`held-out macro AUC ${fmt(evaluation.macroAuc)} is below ${CARD_MIN_MACRO_AUC}`);
  if (!(evaluation.ece <= CARD_MAX_ECE))
    warnings.push(
      `held-out calibration error ${fmt(evaluation.ece)} is above ${CARD_MAX_ECE}: confidences are off`,
    );
  for (const [cls, auc] of Object.entries(evaluation.aucPerClass))
    if (Number.isNaN(auc))
      warnings.push(`class "${cls}" has no AUC: the test split lacks its rows or all others`);
  for (const cls of model.classes) {
    const n = dataInfo.classCounts[cls] ?? 0;
    if (n < MIN_CLASS_ROWS)
      warnings.push(`class "${cls}" has ${n} rows: too few to trust what the model says of it`);
  }
  if (report.testRows < 100) warnings.push(`only ${report.testRows} held-out rows: the metrics are rough`);
  return warnings;
}

function cardMarkdown(card: ModelCardJson, model: GlmModel): string {
  const e = card.evaluation;
  const lines = [
    `# Model card: ${card.name}`,
    '',
    `- version: \`${card.version}\``,
    `- created: ${card.created}`,
    `- config hash: \`${card.configHash.slice(0, 16)}…\``,
    `- model: GLM, ${model.link} link, ${model.classes.length} classes, ${model.columns.length} input columns`,
    `- regularization: elastic net, alpha ${card.config.regularization.alpha}, lambda ${fmt(card.training.lambda)}` +
      (card.config.regularization.lambda === 'auto' ? ' (chosen by cross-validation)' : ''),
    '',
    '## Data',
    '',
    `- source: ${card.data.source}${card.data.synthetic ? ' (generated scenarios)' : ''}`,
    `- rows: ${card.data.rows} (${card.data.trainRows} train, ${card.data.testRows} held out)`,
    '',
    '| class | rows |',
    '| --- | ---: |',
    ...Object.entries(card.data.classCounts).map(([c, n]) => `| ${c} | ${n} |`),
    ...Object.entries(card.data.negativeCounts ?? {}).map(([c, n]) => `| not ${c} (negative) | ${n} |`),
    '',
    '## Training',
    '',
    `- iterations: ${card.training.iterations}`,
    `- final loss: ${fmt(card.training.finalLoss)}`,
    `- lambda: ${fmt(card.training.lambda)}`,
    '',
    '## Held-out evaluation',
    '',
    `- macro ROC AUC: ${fmt(e.macroAuc)}`,
    `- macro F1: ${fmt(e.macroF1)}`,
    `- accuracy: ${fmt(e.accuracy)}`,
    `- log loss: ${fmt(e.logLoss)}`,
    `- expected calibration error: ${fmt(e.ece)}`,
    '',
    '| class | ROC AUC |',
    '| --- | ---: |',
    ...Object.entries(e.aucPerClass).map(([c, v]) => `| ${c} | ${fmt(v)} |`),
    '',
    '## Warnings',
    '',
    ...(card.warnings.length === 0 ? ['none'] : card.warnings.map((w) => `- ${w}`)),
    '',
    '## Monitoring',
    '',
    `Live feature drift is the PSI of recent values against the training histograms in \`card.json\`` +
      ` (${Object.keys(card.drift.histograms).length} features): below ${PSI_WATCH} healthy, from ${PSI_ALARM} alarm.` +
      ' Live AUC per class comes from verdicts (above 0.8 ok). `autoglm model monitor` shows both.',
    '',
  ];
  return lines.join('\n');
}

function fmt(v: number): string {
  if (Number.isNaN(v)) return 'n/a';
  return Math.abs(v) >= 0.001 || v === 0 ? v.toFixed(4) : v.toExponential(3);
}

/**
 * The training histograms in `<dir>/card.json`; ModelLoadError when the card is missing or has none
 * (a model trained before cards carried them: retrain it).
 */
export function readTrainingHistograms(dir: string): TrainingHistograms {
  const file = path.join(dir, MODEL_FILES.cardJson);
  let card: unknown;
  try {
    card = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ModelLoadError(file, [`cannot read the model card (${(err as Error).message})`]);
  }
  const histograms = (card as { drift?: { histograms?: unknown } } | null)?.drift?.histograms;
  const problems: string[] = [];
  if (histograms === null || typeof histograms !== 'object') problems.push('drift.histograms: missing');
  else
    for (const [name, h] of Object.entries(histograms as Record<string, unknown>)) {
      const { edges, proportions } = (h ?? {}) as { edges?: unknown; proportions?: unknown };
      const numbers = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === 'number');
      if (!numbers(edges) || !numbers(proportions))
        problems.push(`drift.histograms.${name}: needs number arrays "edges" and "proportions"`);
    }
  if (problems.length > 0) throw new ModelLoadError(file, problems);
  return histograms as TrainingHistograms;
}

/**
 * The classifier's health in production, as Prometheus metrics on the serving process: drift of
 * each numeric feature against training (PSI), live ROC AUC per class from verdict feedback, and
 * predictions per class. Also the report `autoglm model monitor` prints from those metrics.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { VerdictOutcome } from '../common/contracts.js';
import { outcomeEvidence } from './dataset-from-topics.js';
import { DriftMonitor, driftStatus, PSI_ALARM, PSI_WATCH, type TrainingHistograms } from './drift.js';
import { rocAuc } from './evaluate.js';
import type { GlmModel } from './model-types.js';
import { UNKNOWN_CLASS } from './abstain.js';

/** Live AUC above this: the class still ranks well. */
export const AUC_OK = 0.8;

/** The truth a verdict tells about one prediction: its class, or a class it was not. */
export type Feedback = string | { readonly notClass: string };

/**
 * ROC AUC per class over the last `capacity` feedback items (a ring): for class c, the positives
 * are items confirmed as c, the negatives those confirmed as another class or refuted as c; the
 * score is the predicted probability of c.
 */
export class LiveAuc {
  private readonly items: Array<{ probabilities: Readonly<Record<string, number>>; truth: Feedback }> = [];
  private next = 0;

  /** `minEach`: positives and negatives a class needs before it has an AUC. */
  constructor(
    private readonly classes: readonly string[],
    private readonly capacity = 1000,
    private readonly minEach = 10,
  ) {
    if (!(capacity >= 1)) throw new RangeError(`capacity must be ≥ 1, got ${capacity}`);
  }

  /** Adds one feedback item, replacing the oldest when the window is full. */
  record(probabilities: Readonly<Record<string, number>>, truth: Feedback): void {
    const item = { probabilities, truth };
    if (this.items.length < this.capacity) this.items.push(item);
    else this.items[this.next] = item;
    this.next = (this.next + 1) % this.capacity;
  }

  /** AUC per class that has enough positives and negatives in the window. */
  byClass(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const c of this.classes) {
      const scores: number[] = [];
      const positive: number[] = [];
      for (const { probabilities, truth } of this.items) {
        const label = typeof truth === 'string' ? Number(truth === c) : truth.notClass === c ? 0 : undefined;
        if (label === undefined) continue;
        scores.push(probabilities[c] ?? 0);
        positive.push(label);
      }
      const positives = positive.reduce((a, b) => a + b, 0);
      if (positives >= this.minEach && scores.length - positives >= this.minEach)
        out[c] = rocAuc(scores, positive);
    }
    return out;
  }

  /** Feedback items in the window. */
  get size(): number {
    return this.items.length;
  }
}

/** Options of a ModelMonitor. */
export interface ModelMonitorOptions {
  readonly registry: Registry;
  readonly model: Pick<GlmModel, 'classes' | 'columns'>;
  /** The training histograms from the model card; without them there is no PSI. */
  readonly histograms?: TrainingHistograms;
  /** Drift memory: observations after which one weighs half (default 2000). */
  readonly halfLife?: number;
  /** Effective observations before a feature's PSI is published (default 200). */
  readonly minObservations?: number;
  /** Feedback items the live AUC looks at (default 1000). */
  readonly feedbackWindow?: number;
  /** Predictions waiting for their verdict, at most (default 10,000; the oldest are dropped). */
  readonly maxPending?: number;
}

/**
 * Registers `autoglm_model_feature_psi{feature}`, `autoglm_model_live_auc{class}` and
 * `autoglm_model_predictions_total{class}`; the gauges are computed when scraped. The serving code
 * calls `observe` per prediction and `recordFeedback` (or `expectVerdict` + `recordVerdict`) as
 * verdicts arrive.
 */
export class ModelMonitor {
  private readonly drift: DriftMonitor | undefined;
  private readonly auc: LiveAuc;
  private readonly predictions: Counter<'class'>;
  private readonly pending = new Map<
    string,
    { probabilities: Readonly<Record<string, number>>; cls: string }
  >();
  private readonly maxPending: number;

  constructor(opts: ModelMonitorOptions) {
    const registers = [opts.registry];
    this.drift = opts.histograms
      ? new DriftMonitor(opts.histograms, {
          columns: opts.model.columns,
          ...(opts.halfLife !== undefined ? { halfLife: opts.halfLife } : {}),
          ...(opts.minObservations !== undefined ? { minObservations: opts.minObservations } : {}),
        })
      : undefined;
    this.auc = new LiveAuc(opts.model.classes, opts.feedbackWindow ?? 1000);
    this.maxPending = opts.maxPending ?? 10_000;
    this.predictions = new Counter({
      name: 'autoglm_model_predictions_total',
      help: 'Classifier predictions by predicted class',
      labelNames: ['class'],
      registers,
    });
    const psiGauge: Gauge<'feature'> = new Gauge({
      name: 'autoglm_model_feature_psi',
      help: `PSI of each numeric feature's recent values against training (< ${PSI_WATCH} healthy, ≥ ${PSI_ALARM} alarm)`,
      labelNames: ['feature'],
      registers,
      collect: () => {
        psiGauge.reset();
        for (const [feature, v] of Object.entries(this.psiByFeature())) psiGauge.set({ feature }, v);
      },
    });
    const aucGauge: Gauge<'class'> = new Gauge({
      name: 'autoglm_model_live_auc',
      help: `ROC AUC per class over recent verdict feedback (> ${AUC_OK} ok)`,
      labelNames: ['class'],
      registers,
      collect: () => {
        aucGauge.reset();
        for (const [cls, v] of Object.entries(this.liveAuc())) aucGauge.set({ class: cls }, v);
      },
    });
  }

  /** One prediction: its input vector (as vectorize lays it out, from `offset`) and its class. */
  observe(x: ArrayLike<number>, predictedClass: string, offset = 0): void {
    this.predictions.inc({ class: predictedClass });
    this.drift?.observe(x, offset);
  }

  /** One prediction from its raw features (a missing one is not counted as drift). */
  observeFeatures(features: Readonly<Record<string, number>>, predictedClass: string): void {
    this.predictions.inc({ class: predictedClass });
    this.drift?.observeFeatures(features);
  }

  /** What a verdict said about one prediction's probabilities. */
  recordFeedback(probabilities: Readonly<Record<string, number>>, truth: Feedback): void {
    this.auc.record(probabilities, truth);
  }

  /** Keeps a decision's prediction until its verdict arrives (bounded; the oldest go first). */
  expectVerdict(
    decisionId: string,
    probabilities: Readonly<Record<string, number>>,
    predictedClass: string,
  ): void {
    this.pending.delete(decisionId);
    // An abstaining classifier (class unknown) claimed nothing a verdict could confirm or refute.
    if (predictedClass === UNKNOWN_CLASS) return;
    this.pending.set(decisionId, { probabilities, cls: predictedClass });
    if (this.pending.size > this.maxPending) this.pending.delete(this.pending.keys().next().value!);
  }

  /** Turns a verdict of an expected decision into feedback; true when it was one and it told something. */
  recordVerdict(verdict: { decisionId: string; outcome: VerdictOutcome }): boolean {
    const p = this.pending.get(verdict.decisionId);
    const evidence = outcomeEvidence(verdict.outcome);
    if (!p || evidence === undefined) return false;
    this.pending.delete(verdict.decisionId);
    this.recordFeedback(p.probabilities, evidence === 'confirms' ? p.cls : { notClass: p.cls });
    return true;
  }

  /** PSI per feature with enough observations. */
  psiByFeature(): Record<string, number> {
    return this.drift?.psiByFeature() ?? {};
  }

  /** Live AUC per class with enough feedback. */
  liveAuc(): Record<string, number> {
    return this.auc.byClass();
  }
}

/** The monitor's numbers, as the report takes them. */
export interface MonitorSnapshot {
  readonly psi: Readonly<Record<string, number>>;
  readonly auc: Readonly<Record<string, number>>;
  readonly predictions: Readonly<Record<string, number>>;
}

/** Reads the monitor's series out of a Prometheus text exposition (a `/metrics` body). */
export function parseMonitorMetrics(text: string): MonitorSnapshot {
  const psi: Record<string, number> = {};
  const auc: Record<string, number> = {};
  const predictions: Record<string, number> = {};
  const line =
    /^(autoglm_model_feature_psi|autoglm_model_live_auc|autoglm_model_predictions_total)\{(feature|class)="((?:[^"\\]|\\.)*)"\}\s+(\S+)/;
  for (const l of text.split('\n')) {
    const m = line.exec(l);
    if (!m) continue;
    const label = m[3]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    const value = Number(m[4]);
    if (m[1] === 'autoglm_model_feature_psi') psi[label] = value;
    else if (m[1] === 'autoglm_model_live_auc') auc[label] = value;
    else predictions[label] = value;
  }
  return { psi, auc, predictions };
}

/**
 * The lines of `autoglm model monitor`: each feature's PSI and status (worst first), each class's
 * live AUC, the prediction mix, and a one-line summary.
 */
export function monitorReport(
  snapshot: MonitorSnapshot,
  classes: readonly string[] = [],
  /** Where the AUC comes from, for its heading. */
  aucFrom = 'verdicts',
): string[] {
  const lines: string[] = [];
  const features = Object.entries(snapshot.psi).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const width = Math.max(12, ...features.map(([f]) => f.length), ...classes.map((c) => c.length)) + 2;
  lines.push(`feature drift (PSI against training; < ${PSI_WATCH} healthy, ≥ ${PSI_ALARM} alarm):`);
  if (features.length === 0) lines.push('  no feature has enough observations yet');
  for (const [f, v] of features)
    lines.push(`  ${f.padEnd(width)}${v.toFixed(3).padStart(7)}  ${driftStatus(v)}`);

  const aucClasses = [...new Set([...classes, ...Object.keys(snapshot.auc)])];
  lines.push(`AUC per class (from ${aucFrom}; > ${AUC_OK} ok):`);
  if (aucClasses.length === 0) lines.push('  no feedback yet');
  for (const c of aucClasses) {
    const v = snapshot.auc[c];
    lines.push(
      v === undefined
        ? `  ${c.padEnd(width)}      —  not enough feedback`
        : `  ${c.padEnd(width)}${v.toFixed(3).padStart(7)}  ${v > AUC_OK ? 'ok' : 'low'}`,
    );
  }

  const total = Object.values(snapshot.predictions).reduce((a, b) => a + b, 0);
  if (total > 0) {
    lines.push(`predictions (${total}):`);
    for (const [c, n] of Object.entries(snapshot.predictions).sort((a, b) => b[1] - a[1]))
      lines.push(`  ${c.padEnd(width)}${String(n).padStart(7)}  ${((100 * n) / total).toFixed(1)}%`);
  }

  const alarms = features.filter(([, v]) => driftStatus(v) === 'alarm').map(([f]) => f);
  const watch = features.filter(([, v]) => driftStatus(v) === 'watch').length;
  const low = Object.entries(snapshot.auc)
    .filter(([, v]) => !(v > AUC_OK))
    .map(([c]) => c);
  lines.push(
    `summary: ${alarms.length === 0 ? 'no drift alarm' : `drift alarm on ${alarms.join(', ')}`}, ${watch} to watch; ` +
      (low.length === 0 ? 'AUC ok' : `AUC low for ${low.join(', ')}`) +
      ` (${Object.keys(snapshot.auc).length} classes with feedback)`,
  );
  return lines;
}

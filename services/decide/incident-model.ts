import { Counter, Gauge, type Registry } from 'prom-client';
import type { IncidentFact, ModelInput } from '../classifier/model-types.js';
import { readTrainingHistograms } from '../classifier/model-card.js';
import { modelStamp } from '../classifier/model-files.js';
import { ModelMonitor } from '../classifier/monitor.js';
import { IncidentClassifier } from '../classifier/onnx-session.js';
import { FolderPoll } from '../common/folder-poll.js';
import type { Logger } from '../common/logger.js';

/**
 * The classifier decide serves: one onnxruntime session, asked once per Kafka batch. A changed
 * model folder is loaded and checked (files, shapes, versions) before it is swapped in; a bad one is
 * refused with the reason in the log and a metric while the last good model keeps classifying.
 * Rules-only when no model folder is configured.
 */
export class IncidentModel {
  private readonly poll: FolderPoll;
  private readonly reloads: Counter<'result'>;
  private readonly failures: Counter;
  private readonly info: Gauge<'version'>;
  private monitor: ModelMonitor;

  private constructor(
    private current: IncidentClassifier,
    private readonly deps: { dir: string; intervalMs: number; logger: Logger; registry: Registry },
  ) {
    const registers = [deps.registry];
    this.poll = new FolderPoll(
      () => modelStamp(deps.dir),
      () => this.reload(),
    );
    this.reloads = new Counter({
      name: 'autoglm_decide_model_reloads_total',
      help: 'Model folder changes by result (applied, refused)',
      labelNames: ['result'],
      registers,
    });
    this.failures = new Counter({
      name: 'autoglm_decide_classify_failures_total',
      help: 'Batches the classifier failed on; their observations were decided without an incident',
      registers,
    });
    this.info = new Gauge({
      name: 'autoglm_decide_model_info',
      help: 'The model classifying now, by version (value 1)',
      labelNames: ['version'],
      registers,
    });
    this.monitor = this.monitorFor(current);
    this.info.set({ version: current.version }, 1);
  }

  /** Loads the model in `dir`; a missing or corrupt model throws ModelLoadError (start-up refuses). */
  static async load(deps: { dir: string; intervalMs: number; logger: Logger; registry: Registry }) {
    const model = new IncidentModel(await IncidentClassifier.load(deps.dir), deps);
    model.poll.start(deps.intervalMs);
    deps.logger.info({ model: model.version, dir: deps.dir }, 'incident classifier loaded');
    return model;
  }

  get version(): string {
    return this.current.version;
  }

  /** One answer per input, in order; null for all when the model fails (counted and logged). */
  async classify(inputs: readonly ModelInput[]): Promise<Array<IncidentFact | null>> {
    if (inputs.length === 0) return [];
    try {
      const facts = await this.current.classify(inputs);
      for (let i = 0; i < facts.length; i++)
        this.monitor.observeFeatures(inputs[i]!.features, facts[i]!.class);
      return facts;
    } catch (err) {
      this.failures.inc();
      this.deps.logger.error(
        { err, model: this.version },
        'classifier failed; this batch is decided without an incident',
      );
      return inputs.map(() => null);
    }
  }

  /**
   * Drift (PSI of each feature against the training histograms in the model card) and live AUC
   * (from verdict feedback) of one model; its gauges replace the previous model's.
   */
  private monitorFor(classifier: IncidentClassifier): ModelMonitor {
    for (const name of [
      'autoglm_model_predictions_total',
      'autoglm_model_feature_psi',
      'autoglm_model_live_auc',
    ])
      this.deps.registry.removeSingleMetric(name);
    let histograms;
    try {
      histograms = readTrainingHistograms(this.deps.dir);
    } catch (err) {
      this.deps.logger.warn({ err }, 'no training histograms in the model card: no drift metrics');
    }
    return new ModelMonitor({
      registry: this.deps.registry,
      model: classifier.model,
      ...(histograms ? { histograms } : {}),
    });
  }

  /** Keeps a started decision's prediction so its verdict can feed the live AUC. */
  expectVerdict(
    decisionId: string,
    incident: { class: string; probabilities?: Record<string, number> },
  ): void {
    if (incident.probabilities)
      this.monitor.expectVerdict(decisionId, incident.probabilities, incident.class);
  }

  /** A verdict of a decision this model classified: confirms or refutes its class (live AUC). */
  recordVerdict(verdict: Parameters<ModelMonitor['recordVerdict']>[0]): void {
    this.monitor.recordVerdict(verdict);
  }

  /** Looks at the model folder once (the timer calls this). */
  check(): Promise<void> {
    return this.poll.check();
  }

  async stop(): Promise<void> {
    await this.poll.stop();
    await this.current.release().catch(() => undefined);
  }

  private async reload(): Promise<void> {
    try {
      const next = await IncidentClassifier.load(this.deps.dir);
      const previous = this.current;
      const from = previous.version;
      this.current = next;
      this.monitor = this.monitorFor(next);
      // A batch may still be classifying with the old session; release it once that is done.
      setTimeout(() => void previous.release().catch(() => undefined), 5_000).unref();
      this.info.reset();
      this.info.set({ version: next.version }, 1);
      this.reloads.inc({ result: 'applied' });
      this.deps.logger.info({ from, to: next.version }, 'incident classifier swapped');
    } catch (err) {
      this.reloads.inc({ result: 'refused' });
      this.deps.logger.error(
        { err, keeping: this.current.version, dir: this.deps.dir },
        'changed model refused; the last good model keeps classifying',
      );
    }
  }
}

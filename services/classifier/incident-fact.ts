/**
 * The `incident` fact of one classified row as classify() hands it out: class, confidence and
 * model version as fields, and the probabilities read from the batch's output only when asked for.
 * A Kafka batch of observations is classified at once and most observations make no decision, so
 * building a `{class: probability}` record per row (and boxing each probability) cost more than the
 * inference itself; the record is now built the first time a row's probabilities are read.
 */
import type { IncidentFact } from './model-types.js';

/** The output of one classify() call that its facts share: probabilities row after row, in class order. */
export interface ClassifiedBatch {
  readonly classes: readonly string[];
  readonly probabilities: Float32Array;
}

/**
 * One row's fact over the shared batch output. It reads as an IncidentFact (`probabilities` is a
 * getter, built once, then the same object) and serializes as one (toJSON: the four fields, in the
 * order a plain fact has them). What it is not is a plain object: `probabilities` is no own
 * property, so a spread (`{...fact}`) or an own-properties walk (JSONPath in json-rules-engine, rule
 * templates) does not see it. Hand such code plainIncident(fact). A fact keeps its whole batch's
 * output alive; whatever keeps facts for long (a decision, the live-AUC book) keeps a plain copy.
 */
export class ClassifiedIncident implements IncidentFact {
  readonly class: string;
  readonly confidence: number;
  readonly modelVersion: string;
  /** Why the class is `unknown`; undefined when the classifier names a class. */
  readonly reason: string | undefined;
  readonly #batch: ClassifiedBatch;
  /** The row's first value in the batch output. */
  readonly #at: number;
  #probabilities: Readonly<Record<string, number>> | undefined;

  constructor(
    batch: ClassifiedBatch,
    at: number,
    cls: string,
    confidence: number,
    modelVersion: string,
    reason?: string,
  ) {
    this.class = cls;
    this.confidence = confidence;
    this.modelVersion = modelVersion;
    this.reason = reason;
    this.#batch = batch;
    this.#at = at;
    this.#probabilities = undefined;
  }

  /** `{class: probability}` for every class of the model, in class order. */
  get probabilities(): Readonly<Record<string, number>> {
    if (this.#probabilities === undefined) {
      const { classes, probabilities } = this.#batch;
      const record: Record<string, number> = {};
      for (let c = 0; c < classes.length; c++) record[classes[c]!] = probabilities[this.#at + c]!;
      this.#probabilities = record;
    }
    return this.#probabilities;
  }

  /** The plain fact, for JSON.stringify (decisions, logs). */
  toJSON(): IncidentFact {
    return plainIncident(this);
  }

  /** util.inspect (console.log, the REPL) shows the plain fact, probabilities included. */
  [Symbol.for('nodejs.util.inspect.custom')](): IncidentFact {
    return plainIncident(this);
  }
}

/**
 * A plain-object copy of `fact` (its own `probabilities` record too): data that JSONPath, templates,
 * spreads and structuredClone see whole, and that keeps no batch output alive.
 */
export function plainIncident(fact: IncidentFact): IncidentFact {
  return {
    class: fact.class,
    confidence: fact.confidence,
    probabilities: { ...fact.probabilities },
    modelVersion: fact.modelVersion,
    ...(fact.reason !== undefined ? { reason: fact.reason } : {}),
  };
}

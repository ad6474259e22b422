/**
 * The shapes the classifier's parts share: the model config (zero-code definition), a labeled row,
 * the trained model (what the ONNX graph and the TypeScript reference both compute), and its card.
 * Validation of each lives beside its parser; this file holds only types.
 */

/** One input of the model, as the config names it. */
export type FeatureSpec =
  /** A window feature of the observation, e.g. "cpu.avg"; standardized with training statistics. */
  | { readonly kind: 'numeric'; readonly name: string }
  /** Tokens of the entity's recent event text (kind + message), hashed into `buckets` columns. */
  | { readonly kind: 'event_tokens'; readonly name: string; readonly buckets: number };

/** The model config file (`models/<name>.config.json`), after validation. */
export interface ModelConfig {
  readonly name: string;
  readonly model_type: 'GLM';
  readonly link_function: 'logit' | 'softmax';
  readonly regularization: { readonly alpha: number; readonly lambda: number | 'auto' };
  readonly features: readonly FeatureSpec[];
  /** For `logit`: exactly two, the negative class first. */
  readonly classes: readonly string[];
  /** Class weights for imbalance: "balanced" or per class; default none (all 1). */
  readonly class_weight?: 'balanced' | Readonly<Record<string, number>>;
  /** Held-out share and seed of the train/test split. */
  readonly split?: { readonly test: number; readonly seed: number };
  /** When the model says `unknown`: below this top-class probability (default 0.5). */
  readonly abstain?: { readonly min_confidence: number };
  /** Perturbed copies of each training row as other fleets would show it (augment.ts); default none. */
  readonly augment?: { readonly copies: number; readonly seed: number };
}

/** One labeled example: the observation's features and recent events, and its class. */
export interface LabeledRow {
  readonly features: Readonly<Record<string, number>>;
  readonly events: ReadonlyArray<{ readonly kind: string; readonly message: string }>;
  readonly label: string;
}

/** An unlabeled input at serving time (what decide has for one observation). */
export type ModelInput = Omit<LabeledRow, 'label'>;

/**
 * A refuted example: an observation whose class a remediation acted on and failed to fix, so it is
 * not `notClass` (which of the others it is, nobody knows). The trainer takes it as a soft
 * negative: its target spreads evenly over the other classes.
 */
export interface NegativeRow extends ModelInput {
  readonly notClass: string;
}

/**
 * A trained GLM. The input vector has one column per numeric feature (raw value; a missing one is
 * replaced by its training mean) then each event_tokens feature's buckets (token counts, log1p).
 * The graph standardizes: z = (x - mean) / scale; logits = z·W + b; then sigmoid (logit, one weight
 * column: P(classes[1])) or softmax (one column per class).
 */
export interface GlmModel {
  readonly name: string;
  /** `<name>-<yyyymmddhhmmss>-<config hash 8>`. */
  readonly version: string;
  readonly link: 'logit' | 'softmax';
  readonly classes: readonly string[];
  readonly features: readonly FeatureSpec[];
  /** Column names in input order: numeric names, then `<feature>#<bucket>`. */
  readonly columns: readonly string[];
  readonly mean: readonly number[];
  /** Standard deviations (1 where a column is constant). */
  readonly scale: readonly number[];
  /** [column][output]: one output for logit, one per class for softmax. */
  readonly weights: readonly (readonly number[])[];
  readonly intercepts: readonly number[];
  /**
   * The most frequent training tokens of each hashed bucket column (`<feature>#<bucket>`), so an
   * explanation can say "events mention \"oomkilled\"" rather than "bucket 17". Not an input of the graph.
   */
  readonly bucketTokens?: Readonly<Record<string, readonly string[]>>;
  /**
   * When the classifier says `unknown` instead of a class (abstain.ts): below `minConfidence` or
   * beyond `maxDistance` from the training data. A model without it always names a class.
   */
  readonly abstain?: { readonly minConfidence: number; readonly maxDistance: number };
}

/**
 * What a prediction gives a rule: the `incident` fact. IncidentClassifier.classify() gives
 * ClassifiedIncident objects (incident-fact.ts), whose probabilities are read from the batch output
 * on first use; plainIncident() copies one into plain data.
 */
export interface IncidentFact {
  /** The most likely class, or `unknown` when the classifier abstains (then `reason` says why). */
  readonly class: string;
  readonly confidence: number;
  readonly probabilities: Readonly<Record<string, number>>;
  readonly modelVersion: string;
  /** Why the class is `unknown`: what was seen and the nearest class; absent when a class is named. */
  readonly reason?: string;
}

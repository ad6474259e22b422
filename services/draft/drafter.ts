/**
 * `autoglm rules draft`'s core: a sentence → its language, its intent (the ONNX intent model),
 * its slots (the deterministic extractor), the questions for what is missing or ambiguous, and,
 * when nothing is, the rule file and its rule test file.
 */
import { type CatalogInfo, readCatalogInfo } from './entity.js';
import { extractSlots } from './extract.js';
import { IntentModel, type IntentPrediction } from './intent-model.js';
import { INTENTS, type Intent } from './intents.js';
import { detectLanguage, ENGLISH, type Language } from './language.js';
import * as lexicon from './lexicon.js';
import { normalize } from './phrases.js';
import { buildRule, buildRuleTests, missingSlots } from './rule-builder.js';
import type { DraftSlots, Question } from './slots.js';
import { trainingVocabulary } from './training-sentences.js';

/** Below this top-class probability the intent is asked about, not taken (AUTOGLM_DRAFT_MIN_INTENT_CONFIDENCE). */
export const MIN_INTENT_CONFIDENCE = 0.6;
/** The longest sentence drafted: a policy is a sentence or two, not a document (AUTOGLM_DRAFT_MAX_SENTENCE_CHARS). */
export const MAX_SENTENCE_CHARS = 1000;

/** Where the drafter reads its model and catalog, and its limits. */
export interface DrafterOptions {
  readonly rulesDir: string;
  readonly modelDir?: string;
  readonly minIntentConfidence?: number;
  readonly maxSentenceChars?: number;
}

/** The draft of one sentence. */
export interface Draft {
  readonly sentence: string;
  /** The sentence cannot be drafted at all (empty, another language, too long). */
  readonly error?: string;
  readonly language?: Language;
  readonly intent?: IntentPrediction;
  readonly slots?: DraftSlots;
  readonly normalized?: string;
  /** What is missing or ambiguous, asked back; empty when the draft is complete. */
  readonly questions: Question[];
  readonly notes: string[];
  /** The rule file and its tests, when no question is left (or with `force`, whatever could be built). */
  readonly rule?: Record<string, unknown>;
  readonly tests?: Record<string, unknown>;
}

/** The words the language check knows: the training sentences' and the lexicon's. */
function vocabulary(): Set<string> {
  const words = trainingVocabulary();
  for (const w of ENGLISH) words.add(w);
  for (const value of Object.values(lexicon)) {
    const lists: unknown[] = Array.isArray(value) ? value : [];
    for (const item of lists) {
      const phrases =
        typeof item === 'string' ? [item] : ((item as { words?: readonly string[] }).words ?? []);
      for (const p of phrases) for (const w of p.toLowerCase().match(/\p{L}+/gu) ?? []) words.add(w);
    }
  }
  return words;
}

/** Drafts rules from sentences with one loaded intent model and catalog. */
export class Drafter {
  private readonly vocabulary = vocabulary();

  private readonly minIntentConfidence: number;
  private readonly maxSentenceChars: number;

  private constructor(
    private readonly model: IntentModel,
    readonly catalog: CatalogInfo,
    opts: DrafterOptions,
  ) {
    this.minIntentConfidence = opts.minIntentConfidence ?? MIN_INTENT_CONFIDENCE;
    this.maxSentenceChars = opts.maxSentenceChars ?? MAX_SENTENCE_CHARS;
  }

  /** Loads the intent model (`modelDir`, default models/intent) and the catalog of `rulesDir`. */
  static async load(opts: DrafterOptions): Promise<Drafter> {
    return new Drafter(await IntentModel.load(opts.modelDir), readCatalogInfo(opts.rulesDir), opts);
  }

  get modelVersion(): string {
    return this.model.version;
  }

  /** Drafts each sentence (one intent-model call for all of them). */
  async draftMany(sentences: readonly string[]): Promise<Draft[]> {
    const checked = sentences.map((s) => ({ sentence: s, ...this.precheck(s) }));
    const readable = checked.filter((c) => c.language !== undefined);
    const predictions = await this.model.classify(readable.map((c) => c.sentence));
    const byIndex = new Map(readable.map((c, i) => [c, predictions[i]!]));
    return checked.map((c) => {
      const prediction = byIndex.get(c);
      if (c.error !== undefined || !prediction || !c.language)
        return { sentence: c.sentence, error: c.error ?? 'unreadable', questions: [], notes: [] };
      return this.complete(c.sentence, c.language, prediction);
    });
  }

  /** Drafts one sentence. */
  async draft(sentence: string): Promise<Draft> {
    return (await this.draftMany([sentence]))[0]!;
  }

  private precheck(sentence: string): { language?: Language; error?: string } {
    const text = sentence.trim();
    if (text.length === 0)
      return {
        error:
          'empty sentence: describe the rule, for example "restart payments when memory stays above 90% for 5 minutes"',
      };
    if (text.length > this.maxSentenceChars)
      return {
        error: `the sentence is ${text.length} characters long; draft one rule per sentence of at most ${this.maxSentenceChars} (AUTOGLM_DRAFT_MAX_SENTENCE_CHARS)`,
      };
    const language = detectLanguage(text, this.vocabulary);
    return 'problem' in language ? { error: language.problem } : { language: language.language };
  }

  private complete(sentence: string, language: Language, intent: IntentPrediction): Draft {
    const normalized = normalize(sentence);
    const known = (w: string) => this.vocabulary.has(w);
    const { slots, questions, notes } = extractSlots(
      normalized,
      intent.intent,
      this.catalog,
      language === 'zh',
      known,
    );
    if (intent.confidence < this.minIntentConfidence) {
      const [a, b] = (Object.entries(intent.probabilities) as Array<[Intent, number]>).sort(
        (x, y) => y[1] - x[1],
      );
      questions.unshift({
        slot: 'intent',
        question: `Which action: ${INTENTS[a![0]].label} (${(a![1] * 100).toFixed(0)}%) or ${INTENTS[b![0]].label} (${(b![1] * 100).toFixed(0)}%)? Name the action plainly ("restart payments when …").`,
      });
    }
    for (const slot of missingSlots(intent.intent, slots))
      if (
        !questions.some(
          (q) =>
            q.slot === slot ||
            (slot === 'stat' && q.slot === 'metric') ||
            (['operator', 'threshold', 'metric', 'stat', 'verify'].includes(slot) &&
              ['threshold', 'metric'].includes(q.slot)),
        )
      )
        questions.push({ slot, question: missingQuestion(slot) });
    const draft: Draft = { sentence, language, intent, slots, normalized, questions, notes };
    if (missingSlots(intent.intent, slots).length > 0) return draft;
    const rule = buildRule(intent.intent, slots, sentence);
    return { ...draft, rule, tests: buildRuleTests(intent.intent, slots, rule, this.catalog) };
  }

  async release(): Promise<void> {
    await this.model.release();
  }
}

function missingQuestion(slot: string): string {
  switch (slot) {
    case 'escalation':
      return 'Whom should the page go to? Say "the owner" (the catalog owner of the service) or name a team.';
    case 'within':
      return 'Within how long must the action show its effect (for example "if it is not back within 10 minutes")?';
    case 'verify':
      return 'What tells that the action worked (for example "back under 70%")?';
    default:
      return `The sentence does not give the ${slot}.`;
  }
}

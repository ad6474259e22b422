/**
 * `autoglm model draft "<sentence>"`: a model config (models/<name>.config.json) from a sentence,
 * English or Chinese ("a softmax model over cpu, memory and error deviations with strong L1,
 * classes cpu, leak, deploy" / "用 cpu、内存和错误率的偏差训练 softmax 模型,强 L1 正则,类别 cpu、泄漏、发布").
 * A deterministic extractor over the same lexicon as `rules draft`: features (metric × statistic,
 * event text), classes (the scenario classes by their names and synonyms), link function,
 * regularization, class weights, name. What it cannot tell is asked back, never guessed; the
 * config it gives passes the model config validation (services/classifier/model-config.ts).
 */
import { closest } from '../common/facts-reference.js';
import { parseModelConfig } from '../classifier/model-config.js';
import { SCENARIO_CLASSES } from '../classifier/scenarios.js';
import { detectLanguage, type Language } from './language.js';
import { METRICS, STATS } from './lexicon.js';
import { findAll, findFirst, normalize, type Found } from './phrases.js';

/** What the sentence gave, which words gave it, and what is still to be asked. */
export interface ModelDraft {
  readonly language?: Language;
  /** The config (it passes the validation), once the sentence named features and two classes; complete only without questions. */
  readonly config?: Record<string, unknown>;
  /** Which words filled which field (for --explain). */
  readonly filled: ReadonlyArray<{ readonly field: string; readonly words: string; readonly value: unknown }>;
  /** What is missing or ambiguous, as questions to the person. */
  readonly questions: readonly string[];
  /** The sentence cannot be drafted at all (empty, another language). */
  readonly error?: string;
}

/** Class names (the scenario generator's) and the words people use for them. */
const CLASS_WORDS: Record<(typeof SCENARIO_CLASSES)[number], readonly string[]> = {
  healthy: ['healthy', 'normal', 'no incident', 'ok', '健康', '正常'],
  cpu_saturation: [
    'cpu_saturation',
    'cpu saturation',
    'cpu saturated',
    'cpu',
    'cpu 饱和',
    'cpu饱和',
    'cpu 打满',
  ],
  memory_leak: [
    'memory_leak',
    'memory leak',
    'mem leak',
    'leak',
    'leaks',
    '内存泄漏',
    '内存泄露',
    '泄漏',
    '泄露',
  ],
  bad_deploy: [
    'bad_deploy',
    'bad deploy',
    'bad deployment',
    'bad release',
    'deploy',
    'deployment',
    'release',
    '发布',
    '部署',
    '坏发布',
    '发布故障',
  ],
  disk_pressure: ['disk_pressure', 'disk pressure', 'disk full', 'disk', '磁盘', '磁盘压力', '磁盘满'],
  dependency_outage: [
    'dependency_outage',
    'dependency outage',
    'dependency',
    'upstream outage',
    'upstream',
    'outage',
    '依赖故障',
    '依赖',
    '上游故障',
    '上游',
  ],
};

/** Where the class list starts ("classes cpu, leak, deploy"; "类别 cpu、泄漏、发布"). */
const CLASSES_WORDS = [
  'classes',
  'labels',
  'categories',
  'to tell apart',
  'distinguishing',
  '类别',
  '分类为',
  '分成',
  '区分',
];
const DEVIATION_WORDS = [
  'deviations',
  'deviation',
  'far from normal',
  'from normal',
  'from its normal',
  'z-scores',
  'z-score',
  'z scores',
  '偏差',
  '偏离',
  '偏离度',
];
const SLOPE_WORDS = ['slopes', 'slope', 'trends', 'trend', 'rate of change', '斜率', '趋势'];
const EVENT_WORDS = [
  'event text',
  'events text',
  'event messages',
  'log text',
  'logs',
  'log lines',
  'events',
  '事件文本',
  '事件',
  '日志',
];
const LINKS: ReadonlyArray<{ link: 'softmax' | 'logit'; words: readonly string[] }> = [
  { link: 'softmax', words: ['softmax', 'multinomial', 'multi-class', 'multiclass', '多分类'] },
  { link: 'logit', words: ['logistic', 'logit', 'binary', 'two-class', '二分类', '逻辑回归'] },
];
const PENALTIES: ReadonlyArray<{ alpha: number; words: readonly string[] }> = [
  { alpha: 0.5, words: ['elastic net', 'elastic-net', 'elasticnet', '弹性网'] },
  { alpha: 1, words: ['l1', 'lasso', 'sparse', '稀疏'] },
  { alpha: 0, words: ['l2', 'ridge', '岭回归'] },
];
/** Penalty strength words → lambda; none said: "auto" (chosen by cross-validation when training). */
const STRENGTHS: ReadonlyArray<{ lambda: number; words: readonly string[] }> = [
  { lambda: 0.01, words: ['strong', 'strongly', 'heavy', 'heavily', 'high', '强', '较强'] },
  { lambda: 0.001, words: ['moderate', 'medium', '中等', '适中'] },
  { lambda: 0.0001, words: ['weak', 'light', 'lightly', 'mild', 'low', '弱', '轻'] },
];
const BALANCED_WORDS = [
  'balanced',
  'balance the classes',
  'class-balanced',
  'class balanced',
  '均衡',
  '平衡',
];
const NAME_WORDS = ['named', 'called', 'name it', '名为', '名叫', '叫做', '命名为'];
const NAME = /^[a-z0-9][a-z0-9._-]*/;
const ALL_CLASS_WORDS = Object.values(CLASS_WORDS).flat();
/** A class's short word, for a config name made of the classes. */
const SHORT: Record<string, string> = {
  cpu_saturation: 'cpu',
  memory_leak: 'leak',
  bad_deploy: 'deploy',
  disk_pressure: 'disk',
  dependency_outage: 'dependency',
};
/** Words of the sentence's other fields: an item after "classes" holding one ends the class list. */
const CLAUSE_WORDS = [
  ...NAME_WORDS,
  ...METRICS.flatMap((m) => m.words),
  ...DEVIATION_WORDS,
  ...SLOPE_WORDS,
  ...STATS.flatMap((x) => x.words),
  ...EVENT_WORDS,
  ...LINKS.flatMap((l) => l.words),
  ...PENALTIES.flatMap((p) => p.words),
  ...STRENGTHS.flatMap((x) => x.words),
  ...BALANCED_WORDS,
  'regularization',
  'regularisation',
  'penalty',
  '正则',
];
/** Statistics a metric feature may take, the words for them, and how they go in the config. */
const FEATURE_STATS = [
  { stat: 'deviation', words: DEVIATION_WORDS },
  { stat: 'slope', words: SLOPE_WORDS },
  ...STATS.filter((s) => s.stat !== 'min' && s.stat !== 'last'),
];
/** Words of this drafter, so the language check knows an English sentence made of them. */
const VOCABULARY = new Set(
  [
    ...Object.values(CLASS_WORDS).flat(),
    ...CLASSES_WORDS,
    ...FEATURE_STATS.flatMap((s) => s.words),
    ...EVENT_WORDS,
    ...LINKS.flatMap((l) => l.words),
    ...PENALTIES.flatMap((p) => p.words),
    ...STRENGTHS.flatMap((s) => s.words),
    ...METRICS.flatMap((m) => m.words),
    'model',
    'classifier',
    'glm',
    'train',
    'features',
    'regularization',
    'regularisation',
    'penalty',
    'over',
    'using',
    'memory',
    'errors',
    'error',
    'latency',
  ].flatMap((w) => w.split(/\s+/)),
);

/** The config a sentence describes, or the questions it leaves (see the module). */
export function draftModelConfig(sentence: string): ModelDraft {
  const text = normalize(sentence);
  if (!text)
    return {
      filled: [],
      questions: [],
      error:
        'the sentence is empty: describe the model, for example "a softmax model over cpu and memory deviations, classes cpu, leak"',
    };
  const lang = detectLanguage(text, VOCABULARY);
  if ('problem' in lang) return { filled: [], questions: [], error: lang.problem };
  const filled: Array<{ field: string; words: string; value: unknown }> = [];
  const questions: string[] = [];

  // The class list runs from "classes" to the first item that is another field (a name, a metric,
  // a statistic, the penalty); the features are read in the rest of the sentence.
  const classStart = findFirst(text, CLASSES_WORDS);
  let classEnd = classStart?.end ?? 0;
  const items: string[] = [];
  if (classStart) {
    const re = /[^,;]+/g;
    const tail = text.slice(classStart.end);
    for (let m = re.exec(tail); m; m = re.exec(tail)) {
      const chunk = m[0];
      const parts = chunk.split(/ and | or |和|与|以及|及/);
      if (
        parts.some(
          (x) => x.trim() && findFirst(x, ALL_CLASS_WORDS) === undefined && findFirst(x, CLAUSE_WORDS),
        )
      )
        break;
      items.push(...parts.map((x) => x.trim()).filter(Boolean));
      classEnd = classStart.end + m.index + chunk.length;
    }
  }
  const featurePart = classStart ? `${text.slice(0, classStart.start)} ${text.slice(classEnd)}` : text;

  // Features: every metric named before the class list, with the statistics said for them.
  const metrics = dedupe(
    findAll(
      featurePart,
      METRICS.flatMap((m) => m.words),
    ).map((f) => ({ f, metric: metricOf(f) })),
  );
  const stats = FEATURE_STATS.filter((s) => findAll(featurePart, s.words).length > 0);
  const features: unknown[] = [];
  if (metrics.length > 0 && stats.length === 0)
    questions.push(
      `Which statistic of ${metrics.map((m) => m.metric).join(', ')} should the model read: the deviation from the entity's normal (scale-free, recommended), the average, the slope, the max or the p95?`,
    );
  for (const { f, metric } of metrics) {
    for (const s of stats) {
      const name = s.stat === 'deviation' ? `slog(${metric}.deviation)` : `${metric}.${s.stat}`;
      features.push(name);
      filled.push({
        field: 'features',
        words: `${f.text} … ${s.words.find((w) => featurePart.includes(w)) ?? s.stat}`,
        value: name,
      });
    }
  }
  const events = findFirst(featurePart, EVENT_WORDS);
  if (events) {
    const spec = { name: 'event_text', type: 'event_tokens', buckets: 128 };
    features.push(spec);
    filled.push({ field: 'features', words: events.text, value: spec });
  }
  const unknown = unknownMetric(featurePart);
  if (unknown) questions.push(unknown);
  if (features.length === 0 && metrics.length === 0 && !unknown)
    questions.push(
      'Which inputs should the model read? Name metrics and a statistic (for example "cpu and memory deviations") or "event text".',
    );

  // Classes: the list after "classes" (up to a name), each item holding a known class by name or synonym.
  const classes: string[] = [];
  if (!classStart)
    questions.push(
      `Which classes should it tell apart? Say "classes …" with some of: ${SCENARIO_CLASSES.join(', ')}.`,
    );
  for (const item of items) {
    const found = findAll(item, ALL_CLASS_WORDS);
    if (found.length === 0) {
      if (!/[a-z\u4e00-\u9fff]/.test(item)) continue;
      const word = item.replace(/^(the|a|an)\s+/, '').replace(/[.]$/, '');
      const near = closest(word, ALL_CLASS_WORDS);
      questions.push(
        `"${word}" is not a class the training data has${near ? ` (did you mean "${classOf(near)}"?)` : ''}; the classes are ${SCENARIO_CLASSES.join(', ')}.`,
      );
      continue;
    }
    for (const f of found) {
      const cls = classOf(f.phrase)!;
      if (!classes.includes(cls)) classes.push(cls);
      filled.push({ field: 'classes', words: f.text, value: cls });
    }
  }
  if (classStart && classes.length === 1)
    questions.push(`Only one class (${classes[0]}) was named: which others should it tell apart?`);

  // Link function: said, or softmax (the one that takes any number of classes).
  const linkSaid = LINKS.map((l) => ({ l, f: findFirst(text, l.words) })).filter((x) => x.f);
  let link: 'softmax' | 'logit' = 'softmax';
  if (linkSaid.length > 1) questions.push('Both softmax and logistic were named: which link function?');
  else if (linkSaid[0]) {
    link = linkSaid[0].l.link;
    filled.push({ field: 'link_function', words: linkSaid[0].f!.text, value: link });
  } else
    filled.push({
      field: 'link_function',
      words: '(not said: softmax takes any number of classes)',
      value: link,
    });
  if (link === 'logit' && classes.length > 2)
    questions.push(
      `A logistic model takes exactly 2 classes, not ${classes.length}: use softmax, or name two classes?`,
    );

  // Regularization: the penalty's kind (alpha) and strength (lambda); unsaid: elastic net, lambda chosen in training.
  const penalty = PENALTIES.map((p) => ({ p, f: findFirst(text, p.words) })).find((x) => x.f);
  const strength = STRENGTHS.map((s) => ({ s, f: findFirst(text, s.words) })).find((x) => x.f);
  const regularization = { alpha: penalty?.p.alpha ?? 0.5, lambda: strength?.s.lambda ?? ('auto' as const) };
  filled.push({
    field: 'regularization.alpha',
    words: penalty?.f?.text ?? '(not said: elastic net)',
    value: regularization.alpha,
  });
  filled.push({
    field: 'regularization.lambda',
    words: strength?.f?.text ?? '(not said: chosen by cross-validation in training)',
    value: regularization.lambda,
  });

  const balanced = findFirst(text, BALANCED_WORDS);
  if (balanced) filled.push({ field: 'class_weight', words: balanced.text, value: 'balanced' });

  const nameAt = findFirst(sentence.toLowerCase(), NAME_WORDS);
  const said = nameAt
    ? NAME.exec(
        sentence
          .toLowerCase()
          .slice(nameAt.end)
          .trim()
          .replace(/^["'“]/, ''),
      )?.[0]
    : undefined;
  const name = said ?? (classes.length > 0 ? classes.map((c) => SHORT[c] ?? c).join('-') : 'draft');
  filled.push({
    field: 'name',
    words: said ? `${nameAt!.text} ${said}` : '(not said: from the classes)',
    value: name,
  });

  if (features.length === 0 || classes.length < 2) return { language: lang.language, filled, questions };
  const config = {
    name,
    model_type: 'GLM',
    link_function: link,
    regularization,
    classes,
    features,
    ...(balanced ? { class_weight: 'balanced' } : {}),
  };
  const parsed = parseModelConfig(config);
  if ('problems' in parsed)
    return { language: lang.language, filled, questions: [...questions, ...parsed.problems] };
  // With questions left, the config is what the sentence said so far: written only with --force.
  return { language: lang.language, config, filled, questions };
}

function metricOf(f: Found): string {
  return METRICS.find((m) => m.words.includes(f.phrase))!.metric;
}

function dedupe(found: Array<{ f: Found; metric: string }>): Array<{ f: Found; metric: string }> {
  const seen = new Set<string>();
  return found.filter((x) => (seen.has(x.metric) ? false : (seen.add(x.metric), true)));
}

function classOf(word: string): string | undefined {
  for (const [cls, words] of Object.entries(CLASS_WORDS)) if (words.includes(word)) return cls;
  return undefined;
}

/** A word in metric position the lexicon does not know ("over gpu deviations"), with the nearest known metric. */
function unknownMetric(part: string): string | undefined {
  const m =
    /\b(?:over|from|on|using|of)\s+([a-z_]+)\s+(?:deviations?|averages?|slopes?|p95)/.exec(part) ??
    /(?:用|基于|根据|使用)\s*([a-z_]+)\s*的?\s*(?:偏差|偏离|平均|斜率|趋势)/.exec(part);
  if (!m) return undefined;
  const word = m[1]!;
  if (METRICS.some((x) => x.words.includes(word))) return undefined;
  const near = closest(
    word,
    METRICS.map((x) => x.metric),
  );
  return `"${word}" is not a metric the facts reference knows${near ? ` (did you mean "${near}"?)` : ''}; the metrics are ${METRICS.map((x) => x.metric).join(', ')}.`;
}

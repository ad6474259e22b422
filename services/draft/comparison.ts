/**
 * One comparison from a stretch of the sentence: the metric, its statistic, the comparator and
 * the threshold, normalized to the unit rules use (percent, milliseconds, per second,
 * deviations). A threshold whose unit matters and is not given is asked about, not assumed.
 */
import { closest } from '../common/facts-reference.js';
import {
  COMPARATORS,
  FAR_FROM_NORMAL,
  METRICS,
  type MetricWords,
  NORMAL_WORDS,
  STATS,
  UNKNOWN_METRIC_HINTS,
} from './lexicon.js';
import { type Found, findAll, findFirst } from './phrases.js';
import { NUMBER, numberValue, type Span } from './quantities.js';
import type { Operator, Question } from './slots.js';

/** What was found, with the words of each part. */
export interface FoundComparison {
  metric?: { value: string; span: Span };
  stat?: { value: string; span?: Span };
  operator?: { value: Operator; span: Span };
  threshold?: { value: number; span: Span };
  /** Spans the comparison used (a threshold in seconds is not a duration). */
  readonly used: Span[];
  readonly questions: Question[];
}

/** The anomaly default: rules/README.md's "far above this entity's own normal". */
export const FAR_DEVIATION = 4.5;

const METRIC_PHRASES = METRICS.flatMap((m) => m.words);
const metricOf = (phrase: string): MetricWords => METRICS.find((m) => m.words.includes(phrase))!;
const COMPARATOR_PHRASES = COMPARATORS.flatMap((c) => c.words);
const VAGUE = [
  'too high',
  'is high',
  'are high',
  'gets high',
  'goes high',
  'spikes',
  'spiking',
  'high',
  'elevated',
  'explodes',
  'shoots up',
  '过高',
  '太高',
  '很高',
  '偏高',
  '飙升',
  '暴涨',
  '升高',
  '变高',
];
const NUMBER_AFTER = new RegExp(`^\\s*(?:the\\s+)?(每秒钟?|每分钟|百分之)?\\s*(${NUMBER})`, 'iu');
const NUMBER_BEFORE = new RegExp(
  `(每秒钟?|每分钟|百分之)?\\s*(${NUMBER})\\s*(%|percent|ms|s|秒|个|次)?\\s*$`,
  'iu',
);
/** "5 standard deviations above its normal", "4 sigma", "偏离基线 5 个标准差". */
const DEVIATIONS = new RegExp(
  `(${NUMBER})\\s*(?:个|倍)?\\s*(?:standard deviations?|deviations?|sigmas?|σ|stddevs?|标准差)`,
  'iu',
);
const TIME_UNIT_AFTER =
  /^\s*(?:个)?\s*(s|secs?|seconds?|秒钟?|m|mins?|minutes?|分钟|h|hrs?|hours?|小时|个小时|d|days?|天)(?![a-z])/iu;
const COUNTED = '(?:errors?|requests?|failures?|failed requests?|failed calls?|calls?|5xx|restarts?)\\s+';
const UNITS_AFTER: ReadonlyArray<[RegExp, Unit]> = [
  [/^\s*(%|percent\b|per cent\b|pct\b)/iu, 'percent'],
  [/^\s*(ms\b|msecs?\b|milliseconds?\b|毫秒)/iu, 'ms'],
  [/^\s*(standard deviations?|deviations?|sigmas?|σ|stddevs?|std devs?|个标准差|倍标准差|标准差)/iu, 'sd'],
  [
    new RegExp(
      `^\\s*(?:${COUNTED})?(?:/\\s*s\\b|/\\s*sec\\b|per second|per sec\\b|a second|each second|every second|/秒|每秒|个/秒|次/秒|个每秒)`,
      'iu',
    ),
    'per_second',
  ],
  [
    new RegExp(
      `^\\s*(?:${COUNTED})?(?:/\\s*min\\b|per minute|a minute|each minute|every minute|/分钟|每分钟|个/分钟)`,
      'iu',
    ),
    'per_minute',
  ],
  [/^\s*(s\b|secs?\b|seconds?\b|秒钟?)/iu, 's'],
];
type Unit = 'percent' | 'ms' | 's' | 'sd' | 'per_second' | 'per_minute';

/** The metric mentioned last before `at` (within the region), or first after it. */
function nearestMetric(metrics: readonly Found[], at: number): Found | undefined {
  const before = metrics.filter((m) => m.end <= at);
  return before.at(-1) ?? metrics.find((m) => m.start >= at);
}

/** The unit written right after (or, Chinese, before) the number. */
function unitOf(text: string, numberEnd: number, prefix: string | undefined): { unit?: Unit; end: number } {
  if (prefix?.startsWith('每秒')) return { unit: 'per_second', end: numberEnd };
  if (prefix === '每分钟') return { unit: 'per_minute', end: numberEnd };
  if (prefix === '百分之') return { unit: 'percent', end: numberEnd };
  const rest = text.slice(numberEnd);
  for (const [re, unit] of UNITS_AFTER) {
    const m = re.exec(rest);
    if (m) return { unit, end: numberEnd + m[0].length };
  }
  return { end: numberEnd };
}

/**
 * The first comparison in text[from, to). `defaultMetric` fills the metric when none is named
 * (a verify clause: "back under 70%"). `role` names the slot in questions.
 */
export function findComparison(
  text: string,
  from: number,
  to: number,
  opts: { defaultMetric?: string; role: 'trigger' | 'verify' },
): FoundComparison {
  const result: FoundComparison = { used: [], questions: [] };
  const metrics = findAll(text, METRIC_PHRASES, from, to);
  const far = findFirst(text, FAR_FROM_NORMAL, from, to);
  const comparators = findAll(text, COMPARATOR_PHRASES, from, to).filter(
    (c) => !(far && c.start < far.end && c.end > far.start),
  );
  for (const c of comparators) {
    if (far && far.start < c.start) break;
    const spec = COMPARATORS.find((x) => x.words.includes(c.phrase))!;
    let number: { value: number; start: number; end: number; begin: number; prefix?: string } | undefined;
    if (spec.after) {
      const m = NUMBER_BEFORE.exec(text.slice(from, c.start));
      if (m) {
        const start = from + m.index + m[0].indexOf(m[2]!, m[1]?.length ?? 0);
        const begin = from + m.index + (m[0].length - m[0].trimStart().length);
        number = {
          value: numberValue(m[2]!)!,
          start,
          end: start + m[2]!.length,
          begin: Math.min(begin, start),
          ...(m[1] ? { prefix: m[1] } : {}),
        };
      }
    } else {
      const m = NUMBER_AFTER.exec(text.slice(c.end, to));
      if (m) {
        const start = c.end + m.index + m[0].length - m[2]!.length;
        const begin = m[1] ? c.end + m[0].indexOf(m[1]) : start;
        number = {
          value: numberValue(m[2]!)!,
          start,
          end: start + m[2]!.length,
          begin,
          ...(m[1] ? { prefix: m[1] } : {}),
        };
      }
    }
    if (number === undefined || !Number.isFinite(number.value)) continue;
    const metricFound = nearestMetric(metrics, c.start);
    const metric = metricFound ? metricOf(metricFound.phrase) : undefined;
    // "for over 5 minutes", "持续超过5分钟": a duration, not a threshold (latency in seconds is one).
    const timed = TIME_UNIT_AFTER.test(text.slice(number.end, to));
    const lead = text.slice(Math.max(from, c.start - 12), c.start);
    if (timed && (metric?.metric !== 'latency' || /(for|持续|连续|lasting)\s*$/.test(lead))) continue;
    const written = unitOf(text, number.end, number.prefix);
    const end = written.end;
    let unit = written.unit;
    // "每分钟报错超过 300 个": the rate's unit before the comparator.
    if (unit === undefined) {
      const lead = text.slice(
        metricFound ? Math.max(from, metricFound.start - 8) : Math.max(from, c.start - 10),
        c.start,
      );
      if (/每秒/.test(lead)) unit = 'per_second';
      else if (/每分钟/.test(lead)) unit = 'per_minute';
    }
    result.operator = {
      value: spec.operator as Operator,
      span: { start: c.start, end: c.end, text: c.text },
    };
    const begin = number.begin;
    const last = spec.after ? Math.max(end, c.end) : end;
    const thresholdSpan = { start: begin, end: last, text: text.slice(begin, last) };
    result.used.push(thresholdSpan);
    const metricName = metric?.metric ?? opts.defaultMetric;
    if (metricFound && metric) result.metric = { value: metric.metric, span: metricFound };
    else if (metricName)
      result.metric = { value: metricName, span: { start: c.start, end: c.start, text: '' } };
    else result.questions.push(unknownMetric(text, from, c.start, opts.role));
    const stat = statOf(text, metricFound?.start ?? from, end + 24 > to ? to : end + 24, unit === 'sd');
    if (stat) result.stat = stat;
    const value = normalizedThreshold(
      number.value,
      unit,
      metricName,
      stat?.value,
      opts.role,
      thresholdSpan.text,
    );
    if ('question' in value) result.questions.push(value.question);
    else result.threshold = { value: value.value, span: thresholdSpan };
    return result;
  }
  const deviations = DEVIATIONS.exec(text.slice(from, to));
  if (deviations && (!far || from + deviations.index < far.start)) {
    const start = from + deviations.index;
    const span = { start, end: start + deviations[0].length, text: deviations[0] };
    const metricFound = nearestMetric(metrics, start);
    if (metricFound) result.metric = { value: metricOf(metricFound.phrase).metric, span: metricFound };
    else if (opts.defaultMetric)
      result.metric = { value: opts.defaultMetric, span: { start, end: start, text: '' } };
    else result.questions.push(unknownMetric(text, from, start, opts.role));
    const below = /below|under|低于/.test(text.slice(span.end, span.end + 12));
    result.stat = { value: 'deviation', span };
    result.operator = { value: below ? 'lessThanInclusive' : 'greaterThanInclusive', span };
    result.threshold = { value: below ? -numberValue(deviations[1]!)! : numberValue(deviations[1]!)!, span };
    result.used.push(span);
    return result;
  }
  if (far) {
    const metricFound = nearestMetric(metrics, far.start);
    const metricName = metricFound ? metricOf(metricFound.phrase).metric : opts.defaultMetric;
    if (metricFound) result.metric = { value: metricName!, span: metricFound };
    else if (metricName)
      result.metric = { value: metricName, span: { start: far.start, end: far.start, text: '' } };
    else result.questions.push(unknownMetric(text, from, far.start, opts.role));
    result.stat = { value: 'deviation', span: far };
    result.operator = { value: 'greaterThanInclusive', span: far };
    result.threshold = { value: FAR_DEVIATION, span: far };
    result.used.push(far);
    return result;
  }
  const metricFound = metrics[0];
  if (metricFound) result.metric = { value: metricOf(metricFound.phrase).metric, span: metricFound };
  if (opts.role === 'verify') return result;
  const vague = findFirst(text, VAGUE, from, to);
  const what = metricFound ? metricOf(metricFound.phrase).metric : 'the metric';
  if (metricFound || vague)
    result.questions.push({
      slot: 'threshold',
      question: `How ${vague ? `"${vague.text}"` : 'far'}? Give ${what}'s threshold with a comparator, for example "above ${example(metricFound ? metricOf(metricFound.phrase) : undefined)}" or "far above its normal".`,
    });
  else result.questions.push(unknownMetric(text, from, to, opts.role));
  return result;
}

function example(m: MetricWords | undefined): string {
  switch (m?.unit) {
    case 'ms':
      return '800ms';
    case 'per_second':
      return '5 errors per second';
    case 'count':
      return '3';
    default:
      return '90%';
  }
}

/** The statistic named near the metric: deviation when the threshold is relative to its normal. */
function statOf(
  text: string,
  from: number,
  to: number,
  deviations: boolean,
): { value: string; span?: Span } | undefined {
  const normal = findFirst(text, NORMAL_WORDS, from, to);
  if (deviations || normal) return { value: 'deviation', ...(normal ? { span: normal } : {}) };
  for (const s of STATS) {
    const found = findFirst(text, s.words, Math.max(0, from - 16), to);
    if (found) return { value: s.stat, span: found };
  }
  return undefined;
}

/** The known metric names, for suggestions. */
export const METRIC_NAMES = METRICS.map((m) => m.metric);

/** The question for a metric the facts reference does not have, with the nearest known names. */
function unknownMetric(text: string, from: number, to: number, role: string): Question {
  const region = text.slice(from, to);
  const hint = findFirst(region, UNKNOWN_METRIC_HINTS);
  const words = region.match(/[a-z_]{3,}/g) ?? [];
  const near = words.map((w) => closest(w, METRIC_NAMES)).find((c) => c !== undefined);
  const known = METRIC_NAMES.join(', ');
  if (hint)
    return {
      slot: 'metric',
      question: `Unknown metric "${hint.text}": rules read ${known} (rules/README.md, Units); send it as a metric first, or name one of these${near ? ` (nearest: ${near})` : ''}.`,
    };
  return {
    slot: 'metric',
    question: `Which metric should the ${role} condition read? Known metrics: ${known}${near ? `; did you mean "${near}"?` : '.'}`,
  };
}

/** The threshold in the rule's unit, or the question when the unit is missing or wrong. */
function normalizedThreshold(
  n: number,
  unit: Unit | undefined,
  metric: string | undefined,
  stat: string | undefined,
  role: string,
  words: string,
): { value: number } | { question: Question } {
  const slot = role === 'verify' ? 'verify' : 'threshold';
  if (unit === 'sd' || stat === 'deviation') return { value: n };
  if (stat === 'slope') return { value: n };
  const spec = METRICS.find((m) => m.metric === metric);
  const ask = (question: string) => ({ question: { slot, question } });
  switch (spec?.unit) {
    case 'percent':
      if (unit !== undefined && unit !== 'percent')
        return ask(
          `"${words}": ${metric} is in percent (of the limit or volume), not ${unit}; give it as a percentage such as 90%.`,
        );
      if (n > 100)
        return ask(
          `"${words}": ${metric} is a percentage and cannot exceed 100; which threshold did you mean?`,
        );
      return { value: n };
    case 'ms':
      if (unit === 'ms') return { value: n };
      if (unit === 's') return { value: Math.round(n * 1000 * 1000) / 1000 };
      if (unit === undefined)
        return ask(
          `"${words}": is the ${metric} threshold ${n} in milliseconds or seconds? Write "${n}ms" or "${n}s".`,
        );
      return ask(`"${words}": ${metric} is a time (milliseconds), not ${unit}.`);
    case 'per_second':
      if (unit === 'per_second') return { value: n };
      if (unit === 'per_minute') return { value: Math.round((n / 60) * 10_000) / 10_000 };
      if (unit === 'percent')
        return ask(
          `"${words}": ${metric} counts errors per second, not a share of requests; give a rate such as "5 errors per second" (or send an error-ratio metric).`,
        );
      if (unit === undefined)
        return ask(
          `"${words}": ${n} ${metric} per second or per minute? Write "${n} per second" or "${n} per minute".`,
        );
      return ask(`"${words}": ${metric} is a rate per second, not ${unit}.`);
    default:
      return { value: n };
  }
}

/**
 * The deterministic slot extractor: given the normalized sentence and its intent, fills every
 * slot the sentence states (with its words), the template and house defaults rules/README.md
 * documents, and asks about the rest. It never guesses a value the sentence leaves open.
 */
import { findComparison, type FoundComparison } from './comparison.js';
import { roledDurations } from './durations.js';
import { type CatalogInfo, findEntity } from './entity.js';
import { INTENTS, type Intent } from './intents.js';
import {
  APPROVAL_NONE,
  APPROVAL_REQUIRED,
  COMPENSATIONS,
  DEPLOY_WORDS,
  INVERSE,
  OWNER_WORDS,
  PAGE_WORDS,
  RECOVERED_WORDS,
  SHADOW_WORDS,
  UNDO_WORDS,
  UNKNOWN_METRIC_HINTS,
  VAGUE_DURATIONS,
} from './lexicon.js';
import { findAll, findFirst, type Found } from './phrases.js';
import { durationText, NUMBER, numberValue, type Span } from './quantities.js';
import type { Comparison, DraftSlots, FollowUpSlot, Operator, Question, Slot } from './slots.js';

/** Where the sentence turns to what happens after the action. */
const FAILURE_PHRASES = [
  'otherwise',
  'or else',
  'failing that',
  'if that fails',
  'if it fails',
  'if this fails',
  'if that does not',
  "if that doesn't",
  "if that didn't",
  'if that did not',
  'if not',
  'if that is not',
  'if the fix',
  'if nothing improves',
  'if there is no improvement',
  'unless it recovers',
  'unless that helps',
  'verify',
  'verified',
  'verification',
  'should be back',
  'should recover',
  'should drop',
  'should fall',
  'should come back',
  'should go back',
  'should settle',
  'expect it',
  'expect the',
  'check that',
  'make sure',
  'confirm that',
  'consider it fixed',
  'call it fixed',
  'counts as fixed',
  'is fixed',
  'no improvement',
  'does not help',
  "doesn't help",
  'has not helped',
  "hasn't helped",
  '否则',
  '失败则',
  '失败后',
  '失败的话',
  '失败时',
  '如果失败',
  '若失败',
  '若未',
  '如未',
  '如果未',
  '如果没有',
  '如果没',
  '若没有',
  '若仍',
  '如果仍',
  '如果还',
  '如仍',
  '仍未',
  '仍然',
  '还是没',
  '还没',
  '未恢复',
  '没有恢复',
  '没恢复',
  '不见好',
  '无效',
  '没效果',
  '没有效果',
  '不管用',
  '验证',
  '确认',
  '应在',
  '应该在',
  '要在',
  '恢复',
  '仍',
  '依然',
  '还高于',
  '降到',
  '降至',
  '回落到',
  '没降',
  '没有',
];
const FAILURE_IF =
  /\b(?:if|when|and if|should) (?:it|that|this|they|things|the [a-z]+|[a-z]+) (?:is|are|was|were|does|do|did|has|have|stays?|remains?|keeps?)?\s*(?:not|n't|still|never|no longer|back)\b|\bif (?:it|that|this|they|[a-z]+)(?:'s| is| are)? (?:still|not|n't|never)\b|\b(?:isn't|aren't|doesn't|don't|hasn't|haven't|didn't|won't) (?:back|recover|come back|drop|go down|improve|settle|help)/u;

const ACTION_FAMILIES: ReadonlyArray<{ readonly intent: string; readonly words: readonly string[] }> = [
  { intent: 'restart', words: ['restart', 'reboot', 'bounce', 'recycle', '重启'] },
  {
    intent: 'scale_out',
    words: [
      'scale out',
      'scale up',
      'add a replica',
      'add replicas',
      'add capacity',
      '扩容',
      '加副本',
      '增加副本',
    ],
  },
  {
    intent: 'rollback',
    words: [
      'roll back',
      'rollback',
      'roll it back',
      'revert the deploy',
      'revert the release',
      '回滚',
      '回退',
    ],
  },
  { intent: 'clean_disk', words: ['clean up', 'clean', 'free up', 'purge', '清理', '清除'] },
  { intent: 'open_circuit_breaker', words: ['circuit breaker', 'breaker', 'cut off', '熔断'] },
];
const OR_WORDS = /\bor\b|或者|还是|或/u;
const MAINTENANCE_TOO = [
  'even during maintenance',
  'also during maintenance',
  'even in maintenance',
  'including maintenance',
  'regardless of maintenance',
  'ignore maintenance',
  'ignoring maintenance',
  'even when in maintenance',
  '维护期间也',
  '维护时也',
  '包括维护期间',
  '不管是否在维护',
  '无论是否维护',
];
const TARGET = /(team-[a-z0-9-]+|@[a-z0-9_-]+|[a-z0-9-]+-(?:oncall|on-call|primary|team))/u;

/** What the extractor found, and what it asks. */
export interface Extraction {
  readonly slots: DraftSlots;
  readonly questions: Question[];
  /** Notes for the author that are not questions (what a house rule or template added). */
  readonly notes: string[];
}

const spanSlot = <T>(value: T, span: Span | undefined): Slot<T> => ({
  value,
  source: 'sentence',
  ...(span ? { span } : {}),
});

/** The negation of a comparison's operator: the trigger no longer holds. */
export function negate(op: Operator): Operator {
  return (
    {
      greaterThan: 'lessThanInclusive',
      greaterThanInclusive: 'lessThan',
      lessThan: 'greaterThanInclusive',
      lessThanInclusive: 'greaterThan',
    } as const
  )[op];
}
const upward = (op: Operator) => op.startsWith('greater');

/** Where the failure branch starts: the clause holding the first failure phrase after `after`. */
function failureStart(text: string, after: number): number {
  const phrase = findAll(text, FAILURE_PHRASES, after).find((f) => f.start >= after);
  const re = FAILURE_IF.exec(text.slice(after));
  const at = Math.min(phrase?.start ?? text.length, re ? after + re.index : text.length);
  if (at >= text.length) return text.length;
  // Back to the clause's start, but not into the trigger.
  const head = text.slice(after, at);
  const cut = Math.max(
    head.lastIndexOf(','),
    head.lastIndexOf(';'),
    head.lastIndexOf('.'),
    head.lastIndexOf(' and '),
    head.lastIndexOf(' then '),
    head.lastIndexOf('，'),
    head.lastIndexOf('然后'),
    head.lastIndexOf('并'),
  );
  return cut >= 0 ? after + cut : at;
}

/** Fills the slots of `text` (normalized) for `intent`. */
export function extractSlots(
  text: string,
  intent: Intent,
  catalog: CatalogInfo,
  zh: boolean,
  knownWord?: (word: string) => boolean,
): Extraction {
  const questions: Question[] = [];
  const notes: string[] = [];
  const template = INTENTS[intent];
  // A first guess at the failure branch keeps the trigger out of the verify clause.
  const provisional = failureStart(text, 0);
  let trigger: FoundComparison = findComparison(text, 0, provisional, { role: 'trigger' });
  if (!trigger.operator && provisional < text.length) {
    const whole = findComparison(text, 0, text.length, { role: 'trigger' });
    if (whole.operator) trigger = whole;
  }
  const triggerEnd = Math.max(0, ...trigger.used.map((s) => s.end));
  const failure = failureStart(text, triggerEnd);
  questions.push(...trigger.questions);

  const entity = findEntity(text, catalog, zh, knownWord);
  questions.push(...entity.questions);

  const slots: DraftSlots = {
    maintenance: findFirst(text, MAINTENANCE_TOO)
      ? spanSlot(false, findFirst(text, MAINTENANCE_TOO))
      : {
          value: true,
          source: 'house',
          note: 'every rule stays out of maintenance windows (maintenance = false)',
        },
    approval: { value: 'none', source: 'template', note: 'no approval unless the sentence asks for one' },
    mode: { value: 'enforce', source: 'template', note: 'enforce unless the sentence says shadow' },
    cooldown: { value: template.cooldown, source: 'template', note: `the ${intent} template's cooldown` },
  };
  if (entity.selector) slots.entity = spanSlot(entity.selector, entity.spans[0]);
  if (trigger.metric) slots.metric = spanSlot(trigger.metric.value, trigger.metric.span);
  if (trigger.stat) slots.stat = spanSlot(trigger.stat.value, trigger.stat.span);
  else if (trigger.metric)
    slots.stat = { value: 'avg', source: 'template', note: 'the window average unless a statistic is named' };
  if (trigger.operator) slots.operator = spanSlot(trigger.operator.value, trigger.operator.span);
  if (trigger.threshold) slots.threshold = spanSlot(trigger.threshold.value, trigger.threshold.span);

  // "cpu temperature": a known word naming a metric we do not have.
  const beside = slots.metric?.span
    ? findFirst(text, UNKNOWN_METRIC_HINTS, slots.metric.span.end, slots.metric.span.end + 14)
    : undefined;
  if (beside)
    questions.push({
      slot: 'metric',
      question: `"${text.slice(slots.metric!.span!.start, beside.end)}" is not a metric rules read (${slots.metric!.value} is ${slots.metric!.value}'s usage); send it as a metric first, or say which known metric you mean.`,
    });
  for (const vague of findAll(text, VAGUE_DURATIONS))
    questions.push({
      slot: 'duration',
      question: `How long is "${vague.text}"? Give a duration, for example "for 5 minutes".`,
    });
  const deploy = findFirst(text, DEPLOY_WORDS, 0, failure);
  if (deploy) slots.afterDeploy = spanSlot(true, deploy);

  ambiguousAction(text, failure, questions);

  // Verification: an explicit comparison in the failure branch, else "back" = the trigger no longer holds.
  const verify = findComparison(text, failure, text.length, {
    ...(slots.metric ? { defaultMetric: slots.metric.value } : {}),
    role: 'verify',
  });
  const taken = [...trigger.used, ...verify.used];
  if (verify.operator && verify.threshold && verify.metric) {
    const direction = slots.operator && upward(slots.operator.value) === upward(verify.operator.value);
    const comparison: Comparison = {
      metric: verify.metric.value,
      stat:
        verify.stat?.value ??
        (verify.metric.value === slots.metric?.value ? (slots.stat?.value ?? 'avg') : 'avg'),
      // "still above 80%" is the failure: verified when it no longer holds.
      operator: direction ? negate(verify.operator.value) : verify.operator.value,
      threshold: verify.threshold.value,
    };
    slots.verify = spanSlot(comparison, {
      start: verify.operator.span.start,
      end: verify.threshold.span.end,
      text: text.slice(verify.operator.span.start, verify.threshold.span.end),
    });
  } else {
    questions.push(...verify.questions);
    if (slots.metric && slots.stat && slots.operator && slots.threshold) {
      const value = {
        metric: slots.metric.value,
        stat: slots.stat.value,
        operator: negate(slots.operator.value),
        threshold: slots.threshold.value,
      };
      const back = findFirst(text, RECOVERED_WORDS, failure);
      slots.verify = back
        ? spanSlot(value, back)
        : { value, source: 'template', note: 'verified when the trigger no longer holds' };
    }
  }

  for (const d of roledDurations(text, taken, failure)) {
    const value = durationText(d.ms);
    const slot = spanSlot(value, d);
    switch (d.role) {
      case 'for':
        if (d.ms > 86_400_000)
          questions.push({ slot: 'for', question: `"${d.text}": a rule's for is at most 24h.` });
        else slots.for = slot;
        break;
      case 'within':
        if (d.ms > 3_600_000)
          questions.push({
            slot: 'within',
            question: `"${d.text}": the verification deadline is at most 1h; which deadline?`,
          });
        else slots.within = slot;
        break;
      case 'stableFor':
        slots.stableFor = slot;
        break;
      case 'cooldown':
        slots.cooldown = slot;
        break;
      case 'deployWithin':
        slots.deployWithin = slot;
        notes.push(
          `"${d.text}" after a deploy: a rule sees the deploy among the recent events of the sense window (AUTOGLM_WINDOW, 30s by default); set AUTOGLM_WINDOW to ${value} or more for the rule to see a deploy that long ago.`,
        );
        break;
      default:
        questions.push({
          slot: 'duration',
          question: `What is "${d.text}" for: how long the condition must hold first ("for ${d.text}"), the deadline to recover ("if it is not back within ${d.text}"), or a cooldown ("at most once every ${d.text}")?`,
        });
    }
  }
  if (!slots.within)
    slots.within = {
      value: template.within,
      source: 'template',
      note: `the ${intent} template's verification deadline`,
    };
  if (!slots.stableFor)
    slots.stableFor = {
      value: (parseMs(slots.within.value) ?? 0) >= 120_000 ? '1m' : '0s',
      source: 'template',
      note: 'a minute of holding once the deadline allows it',
    };
  else if ((parseMs(slots.stableFor.value) ?? 0) > (parseMs(slots.within.value) ?? 0))
    questions.push({
      slot: 'stableFor',
      question: `It must hold for ${slots.stableFor.value} but be verified within ${slots.within.value}: which is it?`,
    });

  const by = replicas(text, failure);
  if (by) slots.by = spanSlot(by.value, by.span);
  else if (intent === 'scale_out') slots.by = { value: 1, source: 'template', note: 'one replica at a time' };

  compensation(text, failure, intent, slots, questions);
  escalation(text, slots, questions);

  const approvalNone = findFirst(text, APPROVAL_NONE);
  // "doesn't need approval" holds "need approval": the longer phrase wins.
  const approval = findAll(text, APPROVAL_REQUIRED).find(
    (f) => !approvalNone || f.end <= approvalNone.start || f.start >= approvalNone.end,
  );
  if (approval) slots.approval = spanSlot('required', approval);
  else if (approvalNone) slots.approval = spanSlot('none', approvalNone);
  const shadow = findFirst(text, SHADOW_WORDS);
  if (shadow) slots.mode = spanSlot('shadow', shadow);
  return { slots, questions: dedupe(questions), notes };
}

function parseMs(text: string): number | undefined {
  let total = 0;
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
  for (const [, n, u] of text.matchAll(/(\d+)(ms|s|m|h|d)/g)) total += Number(n) * units[u!]!;
  return total;
}

function dedupe(questions: Question[]): Question[] {
  const seen = new Set<string>();
  return questions.filter((q) => !seen.has(q.question) && seen.add(q.question));
}

/** "restart or scale out": two actions offered as alternatives are asked about. */
function ambiguousAction(text: string, to: number, questions: Question[]): void {
  const found: Array<{ intent: string; at: Found }> = [];
  for (const f of ACTION_FAMILIES)
    for (const at of findAll(text, f.words, 0, to)) found.push({ intent: f.intent, at });
  found.sort((a, b) => a.at.start - b.at.start);
  for (let i = 1; i < found.length; i++) {
    const a = found[i - 1]!;
    const b = found[i]!;
    if (a.intent === b.intent) continue;
    const between = text.slice(a.at.end, b.at.start);
    if (
      (between.length <= 24 && OR_WORDS.test(between)) ||
      /(\bor|\bor else|或者|还是|或)\s*(?:just\s+)?$/u.test(between)
    )
      questions.push({
        slot: 'intent',
        question: `"${a.at.text}" or "${b.at.text}"? A rule takes one action; say which (the other can be the compensation: "if it is not back within 10 minutes, …").`,
      });
  }
}

/** "by 2", "add two replicas", "扩容 2 个副本". */
function replicas(text: string, to: number): { value: number; span: Span } | undefined {
  const re = new RegExp(
    `(?:by|add|adding|with|another)\\s+(${NUMBER})\\s*(?:more\\s+|extra\\s+)?(?:replicas?|pods?|instances?|nodes?|copies|containers?)?|(?:扩容|增加|加|扩)\\s*(${NUMBER})\\s*(?:个)?\\s*(?:副本|实例|节点|pod)`,
    'iu',
  );
  const m = re.exec(text.slice(0, to));
  if (!m) return undefined;
  const value = numberValue(m[1] ?? m[2]!);
  if (value === undefined || !Number.isInteger(value) || value < 1 || value > 20) return undefined;
  if (m[1] && !/replica|pod|instance|node|cop|container/.test(m[0]) && !/^by/.test(m[0])) return undefined;
  return { value, span: { start: m.index, end: m.index + m[0].length, text: m[0] } };
}

/** The compensation of the failure branch: a named follow-up, or "undo it" as the template's inverse. */
function compensation(
  text: string,
  failure: number,
  intent: Intent,
  slots: DraftSlots,
  questions: Question[],
): void {
  if (failure >= text.length) return;
  const undo = findFirst(text, UNDO_WORDS, failure);
  const named = COMPENSATIONS.flatMap((c) =>
    findAll(text, c.words, failure).map((f) => ({ action: c.action, f })),
  )
    .filter((c) => c.action !== intent)
    .sort((a, b) => a.f.start - b.f.start || b.f.text.length - a.f.text.length)[0];
  let action: string | undefined;
  let span: Span | undefined;
  if (named) [action, span] = [named.action, named.f];
  else if (undo) {
    action = INVERSE[intent];
    span = undo;
    if (!action) {
      questions.push({
        slot: 'compensation',
        question: `"${undo.text}": a ${intent.replace(/_/g, ' ')} cannot be undone; what should happen instead (for example "add a replica", "expand the volume by 25%")?`,
      });
      return;
    }
  }
  if (!action || !span) return;
  slots.compensation = spanSlot(followUp(action, text, span, slots), span);
}

function followUp(action: string, text: string, span: Span, slots: DraftSlots): FollowUpSlot {
  const entity = '{{entity}}';
  switch (action) {
    case 'scale_in':
    case 'scale_out':
      return { action, args: { entity, by: slots.by?.value ?? 1 } };
    case 'roll_forward':
      return { action, args: { entity, service: '{{service}}' } };
    case 'close_circuit_breaker':
      return { action, args: { entity, dependencies: '{{dependencies}}' } };
    case 'expand_volume': {
      const m = /(?:by|增加|扩容|扩大)\s*(\d+)\s*(?:%|percent)/u.exec(text.slice(span.start, span.end + 30));
      return { action, args: { entity, byPercent: m ? Number(m[1]) : 25 } };
    }
    default:
      return { action, args: { entity } };
  }
}

/** Who is paged: in the failure branch (or anywhere for an action that is not a page). */
function escalation(text: string, slots: DraftSlots, questions: Question[]): void {
  // A page-only rule's recipient and any other rule's escalation are the same slot: who is paged.
  const pages = findAll(text, PAGE_WORDS).filter(
    (p) => !/^alert/.test(p.text) || /^alert (the|team|on|owner|@)/.test(text.slice(p.start)),
  );
  const page = pages[0];
  if (!page) return;
  const after = text.slice(page.end, page.end + 48);
  const owner = findFirst(after, OWNER_WORDS);
  const team = TARGET.exec(after);
  if (team && (!owner || team.index < owner.start))
    slots.escalation = spanSlot(team[1]!, {
      start: page.start,
      end: page.end + team.index + team[0].length,
      text: text.slice(page.start, page.end + team.index + team[0].length),
    });
  else if (owner)
    slots.escalation = spanSlot('{{owner}}', {
      start: page.start,
      end: page.end + owner.end,
      text: text.slice(page.start, page.end + owner.end),
    });
  else
    questions.push({
      slot: 'escalation',
      question: `"${page.text}" whom? Say "the owner" (the catalog's owner of the service) or name a team ("team-payments").`,
    });
}

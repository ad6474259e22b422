/**
 * What each duration of a sentence is for, from the words around it: how long the condition
 * must hold (`for`), the verification deadline (`within`) and streak (`stableFor`), the
 * cooldown, or how soon after a deploy. A duration with no telling words is asked about.
 */
import { durationsIn, type DurationMatch, type Span } from './quantities.js';
import { overlapsAny } from './phrases.js';

export type DurationRole = 'for' | 'within' | 'stableFor' | 'cooldown' | 'deployWithin';

/** A duration and what it is for (undefined: the words do not say). */
export interface RoledDuration extends DurationMatch {
  readonly role?: DurationRole;
}

const COOLDOWN_BEFORE =
  /(cooldown|cool-down|cool down|once every|every|once per|once an?|once in|at most once|no more than once|wait(?: at least)?|between (?:two )?(?:actions|runs|tries|attempts)?|冷却(?:时间)?(?:为|是)?|间隔(?:至少)?|每隔?)\s*(?:of|is|period of|at least|for)?\s*$/u;
const COOLDOWN_AFTER =
  /^\s*(cooldown|cool-down|of cooldown|between (actions|runs|attempts|tries)|before (acting|trying|doing it) again|before it acts again|的冷却|冷却|内最多(?:一次|执行一次|触发一次)|最多(?:一次|执行一次|触发一次)|只(?:执行|触发)一次)/u;
const DEPLOY_AFTER =
  /^\s*(?:of|after|following) (?:a |the )?(?:deploy|deployment|release|rollout|new version)/u;
const DEPLOY_BEFORE_ZH = /(发布|上线|部署|发版)(?:之)?后\s*(?:的)?\s*$/u;
const WITHIN_BEFORE = /(within|in under|in less than|inside|by|in the next|after|no later than)\s*$/u;
const WITHIN_AFTER_ZH = /^\s*(内|之内|以内)/u;
const FOR_BEFORE =
  /(for|for at least|for more than|for over|for longer than|lasting|lasting for|lasts|sustained|sustained for|sustained over|held for|持续|持续了|连续|超过|长达)\s*$/u;
const FOR_AFTER =
  /^\s*(straight|in a row|running|or (?:more|longer)|continuously|nonstop|以上|不止|都|一直|持续)/u;
const STABLE_BEFORE =
  /(for|for at least|stays? (?:there|down|below|under|back|normal) for|持续|保持|稳定)\s*$/u;

/**
 * Every duration outside `taken` (threshold spans) with its role; `failureStart` is where the
 * sentence turns to what happens after the action (verification, compensation).
 */
export function roledDurations(text: string, taken: readonly Span[], failureStart: number): RoledDuration[] {
  return durationsIn(text)
    .filter((d) => !overlapsAny(d, taken))
    .map((d) => ({ ...d, role: roleOf(text, d, failureStart) }));
}

function roleOf(text: string, d: DurationMatch, failureStart: number): DurationRole | undefined {
  const before = text.slice(Math.max(0, d.start - 30), d.start);
  const after = text.slice(d.end, d.end + 40);
  if (COOLDOWN_BEFORE.test(before) || COOLDOWN_AFTER.test(after)) return 'cooldown';
  if (DEPLOY_BEFORE_ZH.test(before) && WITHIN_AFTER_ZH.test(after)) return 'deployWithin';
  if (/(within|in the first|in)\s*$/u.test(before) && DEPLOY_AFTER.test(after)) return 'deployWithin';
  const inFailure = d.start >= failureStart;
  if (inFailure) {
    if (STABLE_BEFORE.test(before) && !WITHIN_AFTER_ZH.test(after)) return 'stableFor';
    return 'within';
  }
  if (WITHIN_BEFORE.test(before) || WITHIN_AFTER_ZH.test(after)) return undefined;
  if (FOR_BEFORE.test(before) || FOR_AFTER.test(after)) return 'for';
  return undefined;
}

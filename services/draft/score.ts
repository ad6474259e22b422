/**
 * Scores the drafter on a held-out set of hand-written sentences: intent accuracy, slot exact
 * match (every scored slot of a sentence right), the share of complete drafts that pass
 * `autoglm rules check` unchanged, and the share of ambiguous sentences answered with a question.
 */
import fs from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import type { Draft } from './drafter.js';
import { negate } from './extract.js';
import { INTENTS, type Intent, isIntent } from './intents.js';
import { type Comparison, plainSlots, SCORED_SLOTS, type ScoredSlot } from './slots.js';

const entitySchema = z.union([
  z.literal('all'),
  z.string(),
  z.array(z.string()),
  z.strictObject({ services: z.array(z.string()).optional(), tiers: z.array(z.number()).optional() }),
]);
const comparisonSchema = z.strictObject({
  metric: z.string(),
  stat: z.string(),
  operator: z.enum(['greaterThan', 'greaterThanInclusive', 'lessThan', 'lessThanInclusive']),
  threshold: z.number(),
});

/** One held-out case: a sentence and the rule it should give, or (ambiguous) the slot it should ask about. */
const caseSchema = z.strictObject({
  sentence: z.string(),
  language: z.enum(['en', 'zh']),
  /** The expected intent; absent when the sentence leaves the action itself open. */
  intent: z.string().refine(isIntent, 'must be an intent of services/draft/intents.ts').optional(),
  /** The sentence is ambiguous or incomplete: the drafter must ask (about `asks`, when given). */
  ambiguous: z.boolean().default(false),
  asks: z.string().optional(),
  entity: entitySchema.optional(),
  metric: z.string().optional(),
  stat: z.string().optional(),
  operator: comparisonSchema.shape.operator.optional(),
  threshold: z.number().optional(),
  afterDeploy: z.boolean().optional(),
  for: z.string().optional(),
  verify: comparisonSchema.optional(),
  within: z.string().optional(),
  compensation: z.string().optional(),
  escalation: z.string().optional(),
  approval: z.enum(['none', 'required']).optional(),
  mode: z.enum(['enforce', 'shadow']).optional(),
  cooldown: z.string().optional(),
});
export type HeldOutCase = z.infer<typeof caseSchema>;
const fileSchema = z.strictObject({ $comment: z.string().optional(), cases: z.array(caseSchema).min(1) });

/** Reads a held-out file; throws naming the case and field of each problem. */
export function readHeldOut(file: string): HeldOutCase[] {
  const parsed = fileSchema.safeParse(JSON.parse(fs.readFileSync(file, 'utf8')));
  if (!parsed.success)
    throw new Error(
      `${file}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  for (const [i, c] of parsed.data.cases.entries())
    if (
      !c.ambiguous &&
      (!c.intent ||
        c.entity === undefined ||
        !c.metric ||
        !c.stat ||
        !c.operator ||
        c.threshold === undefined)
    )
      throw new Error(
        `${file}: cases.${i} ("${c.sentence}"): a complete case gives intent, entity, metric, stat, operator and threshold`,
      );
  return parsed.data.cases;
}

/** The scored slots a complete case expects, with the documented defaults for what it leaves out. */
export function expectedSlots(c: HeldOutCase): Record<ScoredSlot, unknown> {
  const intent = c.intent as Intent;
  const entity =
    c.entity === 'all'
      ? { all: true }
      : typeof c.entity === 'string'
        ? { services: [c.entity] }
        : Array.isArray(c.entity)
          ? { services: c.entity }
          : c.entity;
  const trigger: Comparison = {
    metric: c.metric!,
    stat: c.stat!,
    operator: c.operator!,
    threshold: c.threshold!,
  };
  return {
    entity,
    metric: c.metric,
    stat: c.stat,
    operator: c.operator,
    threshold: c.threshold,
    afterDeploy: c.afterDeploy ?? null,
    for: c.for ?? null,
    verify: c.verify ?? { ...trigger, operator: negate(trigger.operator) },
    within: c.within ?? INTENTS[intent].within,
    compensation: c.compensation ?? null,
    escalation: c.escalation ?? null,
    approval: c.approval ?? 'none',
    mode: c.mode ?? 'enforce',
    cooldown: c.cooldown ?? INTENTS[intent].cooldown,
  };
}

/** The scored slots of a draft, compensation by its action. */
export function draftedSlots(d: Draft): Record<ScoredSlot, unknown> | undefined {
  if (!d.slots) return undefined;
  const plain = plainSlots(d.slots);
  return { ...plain, compensation: d.slots.compensation?.value.action ?? null };
}

/** One case's outcome. */
export interface CaseScore {
  readonly sentence: string;
  readonly language: 'en' | 'zh';
  readonly ambiguous: boolean;
  readonly intentRight?: boolean;
  readonly slotsRight?: boolean;
  readonly wrongSlots: Array<{ slot: string; expected: unknown; got: unknown }>;
  readonly asked: boolean;
  readonly complete: boolean;
  readonly checkProblems?: string[];
  /** What the drafter asked or refused with, and the intent it took. */
  readonly questions: string[];
  readonly gotIntent?: string;
}

/** The held-out set's figures. */
export interface Score {
  readonly cases: CaseScore[];
  readonly intentAccuracy: number;
  readonly intentCases: number;
  readonly slotExactMatch: number;
  readonly slotCases: number;
  /** Per slot, the share right over the complete cases. */
  readonly perSlot: Record<string, number>;
  readonly completeDrafts: number;
  readonly passCheck: number;
  readonly ambiguousCases: number;
  readonly ambiguousAsked: number;
  readonly byLanguage: Record<string, { cases: number; intent: number; slots: number }>;
}

/** Scores drafts against their cases; `check` runs `rules check` on a complete draft's files and returns its problems. */
export async function scoreDrafts(
  cases: readonly HeldOutCase[],
  drafts: readonly Draft[],
  check: (draft: Draft) => Promise<string[]>,
): Promise<Score> {
  const scores: CaseScore[] = [];
  for (const [i, c] of cases.entries()) {
    const d = drafts[i]!;
    const asked = d.error !== undefined || d.questions.length > 0;
    const complete = d.error === undefined && d.questions.length === 0 && d.rule !== undefined;
    const intentRight = c.intent !== undefined && d.intent ? d.intent.intent === c.intent : undefined;
    const wrongSlots: CaseScore['wrongSlots'] = [];
    let slotsRight: boolean | undefined;
    if (!c.ambiguous) {
      const expected = expectedSlots(c);
      const got = draftedSlots(d);
      for (const slot of SCORED_SLOTS)
        if (!got || !isDeepStrictEqual(normalizeValue(got[slot]), normalizeValue(expected[slot])))
          wrongSlots.push({ slot, expected: expected[slot], got: got?.[slot] });
      slotsRight = wrongSlots.length === 0 && !asked;
    }
    const checkProblems = complete ? await check(d) : undefined;
    scores.push({
      sentence: c.sentence,
      language: c.language,
      ambiguous: c.ambiguous,
      ...(intentRight !== undefined ? { intentRight } : {}),
      ...(slotsRight !== undefined ? { slotsRight } : {}),
      wrongSlots,
      asked,
      complete,
      ...(checkProblems ? { checkProblems } : {}),
      questions: d.error !== undefined ? [d.error] : d.questions.map((q) => `${q.slot}: ${q.question}`),
      ...(d.intent ? { gotIntent: `${d.intent.intent} ${d.intent.confidence.toFixed(2)}` } : {}),
    });
  }
  const share = (n: number, of: number) => (of === 0 ? NaN : n / of);
  const withIntent = scores.filter((s) => s.intentRight !== undefined);
  const withSlots = scores.filter((s) => s.slotsRight !== undefined);
  const complete = scores.filter((s) => s.complete);
  const ambiguous = scores.filter((s) => s.ambiguous);
  const perSlot: Record<string, number> = {};
  for (const slot of SCORED_SLOTS)
    perSlot[slot] = share(
      withSlots.filter((s) => !s.wrongSlots.some((w) => w.slot === slot)).length,
      withSlots.length,
    );
  const byLanguage: Score['byLanguage'] = {};
  for (const language of ['en', 'zh']) {
    const of = scores.filter((s) => s.language === language);
    const wi = of.filter((s) => s.intentRight !== undefined);
    const ws = of.filter((s) => s.slotsRight !== undefined);
    byLanguage[language] = {
      cases: of.length,
      intent: share(wi.filter((s) => s.intentRight).length, wi.length),
      slots: share(ws.filter((s) => s.slotsRight).length, ws.length),
    };
  }
  return {
    cases: scores,
    intentAccuracy: share(withIntent.filter((s) => s.intentRight).length, withIntent.length),
    intentCases: withIntent.length,
    slotExactMatch: share(withSlots.filter((s) => s.slotsRight).length, withSlots.length),
    slotCases: withSlots.length,
    perSlot,
    completeDrafts: complete.length,
    passCheck: share(complete.filter((s) => s.checkProblems?.length === 0).length, complete.length),
    ambiguousCases: ambiguous.length,
    ambiguousAsked: share(ambiguous.filter((s) => s.asked).length, ambiguous.length),
    byLanguage,
  };
}

/** Arrays of names compare as sets; everything else as is. */
function normalizeValue(v: unknown): unknown {
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (x !== undefined) o[k] = Array.isArray(x) ? [...x].sort() : x;
    return o;
  }
  return v;
}

/** The score as the lines the CLI prints. */
export function scoreLines(score: Score, verbose = false): string[] {
  const pct = (x: number) => (Number.isNaN(x) ? 'n/a' : `${(x * 100).toFixed(1)}%`);
  const lines: string[] = [];
  if (verbose)
    for (const c of score.cases) {
      const bad =
        c.intentRight === false ||
        c.slotsRight === false ||
        (c.ambiguous && !c.asked) ||
        (c.checkProblems?.length ?? 0) > 0;
      if (!bad) continue;
      lines.push(`✖ ${c.sentence}`);
      if (c.intentRight === false) lines.push(`    intent wrong: ${c.gotIntent}`);
      for (const q of c.questions) lines.push(`    ? ${q}`);
      for (const w of c.wrongSlots)
        lines.push(`    ${w.slot}: expected ${JSON.stringify(w.expected)}, got ${JSON.stringify(w.got)}`);
      if (c.slotsRight === false && c.wrongSlots.length === 0)
        lines.push('    asked a question on a complete sentence');
      if (c.ambiguous && !c.asked) lines.push('    ambiguous, but no question was asked');
      for (const p of c.checkProblems ?? []) lines.push(`    rules check: ${p}`);
    }
  const en = score.byLanguage.en!;
  const zh = score.byLanguage.zh!;
  lines.push(
    `held-out: ${score.cases.length} sentences (${en.cases} English, ${zh.cases} Chinese), ${score.ambiguousCases} ambiguous`,
    `intent accuracy:            ${pct(score.intentAccuracy)} of ${score.intentCases} (en ${pct(en.intent)}, zh ${pct(zh.intent)})`,
    `slot exact match:           ${pct(score.slotExactMatch)} of ${score.slotCases} complete sentences (en ${pct(en.slots)}, zh ${pct(zh.slots)})`,
    `  per slot: ${Object.entries(score.perSlot)
      .map(([k, v]) => `${k} ${pct(v)}`)
      .join(', ')}`,
    `drafts with nothing missing that pass rules check unchanged: ${pct(score.passCheck)} of ${score.completeDrafts}`,
    `ambiguous answered with a question: ${pct(score.ambiguousAsked)} of ${score.ambiguousCases}`,
  );
  return lines;
}

/** The targets of issue #23. */
export const SCORE_TARGETS = { intent: 0.95, slots: 0.9, passCheck: 1, ambiguousAsked: 0.9 } as const;

/**
 * The entity selector of a sentence, over the service catalog (rules/context/catalog.json):
 * service names, globs over them ("pay*"), tiers ("tier 1", "tier 2 to 4", "一级服务") or
 * "every service". A name that is not in the catalog is asked about with the nearest names.
 */
import fs from 'node:fs';
import path from 'node:path';
import { closest } from '../common/facts-reference.js';
import { compileGlob } from '../common/glob.js';
import { ALL_SERVICES_WORDS, METRICS } from './lexicon.js';
import { findFirst } from './phrases.js';
import { numberValue, type Span } from './quantities.js';
import type { EntitySelector, Question } from './slots.js';

/** What the drafter knows of the catalog: service names and their tiers and owners. */
export interface CatalogInfo {
  readonly services: Readonly<Record<string, { readonly tier: number; readonly owner: string }>>;
}

/** Reads the service names of `<rulesDir>/context/catalog.json` (none when it is missing). */
export function readCatalogInfo(rulesDir: string): CatalogInfo {
  const file = path.join(rulesDir, 'context', 'catalog.json');
  if (!fs.existsSync(file)) return { services: {} };
  const json = JSON.parse(fs.readFileSync(file, 'utf8')) as {
    services?: Record<string, { tier?: number; owner?: string }>;
  };
  const services: Record<string, { tier: number; owner: string }> = {};
  for (const [name, s] of Object.entries(json.services ?? {}))
    services[name.toLowerCase()] = { tier: s.tier ?? 4, owner: s.owner ?? '' };
  return { services };
}

/** What the entity part found. */
export interface FoundEntity {
  readonly selector?: EntitySelector;
  readonly spans: Span[];
  readonly questions: Question[];
}

const TIER_NUMBER = '(\\d|one|two|three|four|[一二三四])';
const TIER = new RegExp(
  `tier[ -]?${TIER_NUMBER}(?:\\s*(?:-|–|to|through|and|or|,|至|到|和)\\s*(?:tier[ -]?)?${TIER_NUMBER})?(\\s*(?:and|or) (?:below|lower|less critical|above|higher))?|${TIER_NUMBER}\\s*级(?:服务)?|第${TIER_NUMBER}层`,
  'iu',
);
/** Words next to a name that make it a service ("the inventory service", "pods of inventory"). */
const SERVICE_NOUN =
  /\b([a-z][a-z0-9_-]{2,})(?:'s)? (?:service|svc|app|application|deployment|cluster|backend|api)s?\b/giu;
const SERVICE_AFTER = /\b(?:service|svc|app) ([a-z][a-z0-9_-]{2,})\b/giu;
const OBJECT =
  /\b(?:restart|bounce|reboot|recycle|scale out|scale up|roll back|rollback|revert|clean up|clean|page|notify|on|for|of|in|at)\s+(?:the\s+|all\s+|every\s+)?([a-z][a-z0-9_-]{2,})\b/giu;

/** Levenshtein distance (small words only). */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++)
      current[j] = Math.min(
        previous[j]! + 1,
        current[j - 1]! + 1,
        previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    previous = current;
  }
  return previous[b.length]!;
}

/** Latin words that are not service names in a Chinese sentence. */
const NOT_NAMES = new Set([
  ...METRICS.flatMap((m) => m.words.filter((w) => /^[a-z0-9_ ]+$/.test(w)).flatMap((w) => w.split(' '))),
  'p95',
  'p99',
  'ms',
  's',
  'sec',
  'min',
  'tier',
  'pod',
  'pods',
  'owner',
  'oncall',
  'on-call',
  'sre',
  'qps',
  'rps',
  'slope',
  'deploy',
  'release',
  'shadow',
  'cpu',
  'k8s',
  'max',
  'avg',
  'sigma',
]);
const COMMON = new Set([
  'the',
  'this',
  'that',
  'every',
  'each',
  'any',
  'all',
  'our',
  'my',
  'one',
  'web',
  'main',
  'same',
  'whole',
  'new',
  'old',
  'other',
  'a',
  'an',
  'its',
  'their',
  'backing',
  'downstream',
  'upstream',
  'dependent',
  'critical',
  'tier',
  'production',
  'prod',
  'staging',
  'payment',
]);

const NAME_EXPRESSIONS = new Map<string, RegExp>();

/** A catalog name as a whole word (not inside "team-checkout" or "checkout*"). */
function nameExpression(name: string): RegExp {
  let re = NAME_EXPRESSIONS.get(name);
  if (!re) {
    re = new RegExp(`(?<![a-z0-9_*/-])${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![a-z0-9_*-])`, 'giu');
    NAME_EXPRESSIONS.set(name, re);
  }
  return re;
}

/** The entity selector of `text`. */
export function findEntity(
  text: string,
  catalog: CatalogInfo,
  zh: boolean,
  knownWord: (word: string) => boolean = () => false,
): FoundEntity {
  const names = Object.keys(catalog.services);
  const spans: Span[] = [];
  const questions: Question[] = [];
  const services: string[] = [];
  for (const name of names) {
    if (!text.includes(name)) continue;
    for (const m of text.matchAll(nameExpression(name))) {
      spans.push({ start: m.index, end: m.index + m[0].length, text: m[0] });
      if (!services.includes(name)) services.push(name);
    }
  }
  // Globs over service names: "pay*", "services matching check*".
  for (const m of text.matchAll(/(?<![a-z0-9_-])([a-z0-9_.-]*\*[a-z0-9_.*/-]*)/giu)) {
    const pattern = m[1]!.replace(/\/.*$/, '');
    const glob = compileGlob(pattern);
    const matched = names.filter((n) => glob.test(n));
    spans.push({ start: m.index, end: m.index + m[0].length, text: m[0] });
    if (matched.length === 0)
      questions.push({
        slot: 'entity',
        question: `"${m[1]}" matches no catalog service; the catalog has ${names.join(', ')}.`,
      });
    for (const n of matched) if (!services.includes(n)) services.push(n);
  }
  const tiers = tiersIn(text, spans);
  const all = findFirst(text, ALL_SERVICES_WORDS);
  // Names that look like services but are not in the catalog.
  const candidates = new Set<string>();
  for (const m of text.matchAll(SERVICE_NOUN)) if (!knownWord(m[1]!)) candidates.add(m[1]!);
  for (const m of text.matchAll(SERVICE_AFTER)) if (!knownWord(m[1]!)) candidates.add(m[1]!);
  if (zh) for (const m of text.matchAll(/[a-z][a-z0-9_-]{2,}/giu)) candidates.add(m[0]);
  // The object of the action or of "on/for/of": "restart inventory when …", "on the inventory pods".
  for (const m of text.matchAll(OBJECT)) if (!knownWord(m[1]!)) candidates.add(m[1]!);
  // A near miss of a catalog name: "paymnts", "chekout".
  for (const w of text.match(/[a-z][a-z0-9_-]{3,}/giu) ?? []) {
    if (knownWord(w) || names.includes(w)) continue;
    const near = closest(w, names);
    if (near && editDistance(w, near) <= (w.length >= 7 ? 2 : 1)) candidates.add(w);
  }
  for (const c of candidates) {
    // Team names are page targets, number words are numbers.
    if (
      names.includes(c) ||
      NOT_NAMES.has(c) ||
      COMMON.has(c) ||
      /^\d/.test(c) ||
      /^team-|-oncall$/.test(c) ||
      numberValue(c) !== undefined
    )
      continue;
    const near = closest(c, names);
    questions.push({
      slot: 'entity',
      question: `Unknown service "${c}"${near ? ` (did you mean "${near}"?)` : ''}: the catalog (rules/context/catalog.json) has ${names.join(', ')}; add it there or name one of these.`,
    });
  }
  if (all) spans.push(all);
  const selector: EntitySelector | undefined =
    services.length > 0 || tiers.length > 0
      ? { ...(services.length > 0 ? { services } : {}), ...(tiers.length > 0 ? { tiers } : {}) }
      : all
        ? { all: true }
        : undefined;
  if (!selector && questions.length === 0)
    questions.push({
      slot: 'entity',
      question: `Which entities should the rule act on? Name a catalog service (${names.join(', ')}), a tier ("tier 1 services") or say "every service".`,
    });
  return { ...(selector ? { selector } : {}), spans, questions };
}

function tierValue(word: string | undefined): number | undefined {
  if (word === undefined) return undefined;
  const v = numberValue(word);
  return v !== undefined && v >= 1 && v <= 4 ? v : undefined;
}

/** The tiers named: "tier 1", "tier 2 to 4", "tier 2 and below", "一级服务". */
function tiersIn(text: string, spans: Span[]): number[] {
  const m = TIER.exec(text);
  if (!m) return [];
  spans.push({ start: m.index, end: m.index + m[0].length, text: m[0] });
  const first = tierValue(m[1] ?? m[4] ?? m[5]);
  if (first === undefined) return [];
  const second = tierValue(m[2]);
  if (m[3]) return /below|lower|less/.test(m[3]) ? range(first, 4) : range(1, first);
  if (second === undefined) return [first];
  return /and|和|,/.test(m[0]) && !/to|through|-|–|至|到/.test(m[0])
    ? [first, second]
    : range(Math.min(first, second), Math.max(first, second));
}

const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

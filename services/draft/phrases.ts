/**
 * Finding phrases in a normalized sentence: whole words for Latin phrases ("over" is not in
 * "overall"), plain substrings for Chinese ones (Chinese has no spaces), longest phrase first.
 */
import type { Span } from './quantities.js';

/** The sentence as the extractor reads it: NFKC (full-width to half-width), lower case, one space, Chinese punctuation as ASCII. */
export function normalize(sentence: string): string {
  return sentence
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[。；：、]/g, (c) => ({ '。': '.', '；': ';', '：': ':', '、': ',' })[c] ?? c)
    .replace(/[“”「」『』《》]/g, '"')
    .replace(/[’‘]/g, "'")
    .replace(/\s+/g, ' ')
    .trim();
}

const LATIN = /[a-z0-9]/;

/** A phrase found in the text. */
export interface Found extends Span {
  readonly phrase: string;
}

const SORTED = new WeakMap<readonly string[], readonly string[]>();

/** The phrases, unique and longest first; computed once per list (the lexicon's lists are constants). */
function longestFirst(phrases: readonly string[]): readonly string[] {
  let sorted = SORTED.get(phrases);
  if (!sorted) {
    sorted = [...new Set(phrases)].sort((a, b) => b.length - a.length);
    SORTED.set(phrases, sorted);
  }
  return sorted;
}

/** Every occurrence of any of `phrases` in `text` (from `from` to `to`), longest first at a place, not overlapping, in text order. */
export function findAll(text: string, phrases: readonly string[], from = 0, to = text.length): Found[] {
  const sorted = longestFirst(phrases);
  const taken: Found[] = [];
  for (const phrase of sorted) {
    let at = text.indexOf(phrase, from);
    if (at < 0) continue;
    while (at >= 0 && at + phrase.length <= to) {
      const end = at + phrase.length;
      const boundaryOk =
        (!LATIN.test(phrase[0]!) || at === 0 || !LATIN.test(text[at - 1]!)) &&
        (!LATIN.test(phrase.at(-1)!) || end === text.length || !LATIN.test(text[end]!));
      const overlaps = taken.some((t) => at < t.end && end > t.start);
      if (boundaryOk && !overlaps) taken.push({ start: at, end, text: text.slice(at, end), phrase });
      at = text.indexOf(phrase, at + 1);
    }
  }
  return taken.sort((a, b) => a.start - b.start);
}

/** The first occurrence of any of `phrases`, or undefined. */
export function findFirst(
  text: string,
  phrases: readonly string[],
  from = 0,
  to = text.length,
): Found | undefined {
  return findAll(text, phrases, from, to)[0];
}

/** True when a span overlaps any of `spans`. */
export function overlapsAny(span: Span, spans: readonly Span[]): boolean {
  return spans.some((s) => span.start < s.end && span.end > s.start);
}

/**
 * The terms a runbook section and a query are split into, the same for both. Latin text by words
 * (identifiers such as `cpu.avg` or `memory_leak` also whole); Chinese, Japanese and Korean text,
 * which has no spaces, by overlapping character pairs (the bigram scheme full-text engines use
 * without a dictionary), so "磁盘空间" matches "磁盘" and "空间" alike.
 */

const WORD = /[\p{L}\p{N}]+(?:[._-][\p{L}\p{N}]+)*/gu;
const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]+/gu;
const CJK_ONE = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u;
const STOPWORDS = new Set(
  'a an and are as at be by for from has have in is it its of on or not no that the then this to was when with what which'.split(
    ' ',
  ),
);

/** Whether a term is Latin (a word) rather than a CJK character pair: prefix matching fits only words. */
export function isWordTerm(term: string): boolean {
  return !CJK_ONE.test(term);
}

/** The search terms of a text: lower-case words, identifiers whole and in parts, CJK character pairs. */
export function runbookTerms(text: string): string[] {
  const terms: string[] = [];
  for (const match of text.toLowerCase().matchAll(WORD)) {
    const token = match[0];
    if (CJK_ONE.test(token)) {
      let last = 0;
      for (const run of token.matchAll(CJK)) {
        words(token.slice(last, run.index), terms);
        pairs(run[0], terms);
        last = (run.index ?? 0) + run[0].length;
      }
      words(token.slice(last), terms);
    } else words(token, terms);
  }
  return terms;
}

function words(token: string, terms: string[]): void {
  const parts = token.split(/[._-]+/).filter((p) => p !== '');
  if (parts.length > 1) terms.push(parts.join('_'));
  for (const p of parts) if (!STOPWORDS.has(p) && (p.length > 1 || /\d/.test(p))) terms.push(stem(p));
}

function pairs(run: string, terms: string[]): void {
  const chars = [...run];
  if (chars.length === 1) terms.push(run);
  for (let i = 0; i + 1 < chars.length; i++) terms.push(`${chars[i]}${chars[i + 1]}`);
}

/** A plural's singular ("restarts", "errors"), no more: enough for runbook text, and predictable. */
function stem(word: string): string {
  return word.length > 3 && word.endsWith('s') && !/(ss|us|is)$/.test(word) ? word.slice(0, -1) : word;
}

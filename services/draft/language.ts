/**
 * Which language a sentence is in: Chinese (Han characters, no kana or hangul), English (Latin
 * letters, mostly words the drafter knows), or one the drafter does not read.
 */
export type Language = 'en' | 'zh';

/** The language, or why the sentence cannot be drafted. */
export type LanguageResult = { readonly language: Language } | { readonly problem: string };

const HAN = /\p{Script=Han}/u;
const OTHER_SCRIPTS =
  /[\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\p{Script=Cyrillic}\p{Script=Arabic}\p{Script=Greek}\p{Script=Hebrew}\p{Script=Thai}\p{Script=Devanagari}]/u;
/** English function words: a sentence of Latin words with none of these is not English. */
export const ENGLISH: ReadonlySet<string> = new Set(
  "a an the when if once whenever and or but then else otherwise of for to in on at by with within without is are be been it its it's their them they this that than as after before until unless while up down out back above below over under more less at least most any every all each no not only just should must please also still again only now there here per its some someone nothing else what which who".split(
    ' ',
  ),
);
const ACCENTED = /[àâäáãåçéèêëíìîïñóòôöõúùûüýÿæœßøł]/u;

/** The sentence's language; `vocabulary` is the words the drafter was trained on and knows. */
export function detectLanguage(text: string, vocabulary: ReadonlySet<string>): LanguageResult {
  if (OTHER_SCRIPTS.test(text))
    return {
      problem:
        'this sentence is not in English or Chinese (it uses another script); write it in English or Chinese (中文)',
    };
  if (HAN.test(text)) return { language: 'zh' };
  const words = text.toLowerCase().match(/\p{L}+/gu) ?? [];
  if (words.length === 0)
    return {
      problem:
        'the sentence has no words: describe the rule, for example "restart payments when memory stays above 90% for 5 minutes"',
    };
  const accented = words.filter((w) => ACCENTED.test(w)).length;
  const functionWords = words.filter((w) => ENGLISH.has(w)).length;
  const known = words.filter((w) => ENGLISH.has(w) || vocabulary.has(w)).length;
  if (accented > 0 || (words.length >= 4 && (functionWords === 0 || known / words.length < 0.5)))
    return {
      problem: `this does not read as English or Chinese (${known} of ${words.length} words known${accented ? ', accented letters' : ''}); the drafter reads English and Chinese only`,
    };
  return { language: 'en' };
}

/**
 * A sentence as the intent model's input: word unigrams and bigrams of its Latin words,
 * character 3- and 4-grams inside them (so "restarting" and "restart" share features), and
 * character 1- to 3-grams of its Chinese runs (Chinese works without a dictionary). The
 * features are written as one space-separated text and hashed into buckets by the project's
 * own event_tokens vectorizer, so training, serving and ONNX see the same columns.
 */
import type { ModelInput } from '../classifier/model-types.js';
import { normalize } from './phrases.js';

/** Numbers carry no intent: every digit run is one token. */
const DIGITS = /\d+(?:\.\d+)?/g;

/** The feature tokens of a sentence (before hashing). */
export function intentTokens(sentence: string): string[] {
  const text = normalize(sentence).replace(DIGITS, '0');
  const out: string[] = [];
  const words = text.match(/[a-z0-9]+/g) ?? [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    out.push(`w_${w}`);
    if (i > 0) out.push(`b_${words[i - 1]}_${w}`);
    const padded = `_${w}_`;
    for (const n of [3, 4])
      for (let j = 0; j + n <= padded.length; j++) out.push(`c_${padded.slice(j, j + n)}`);
  }
  for (const run of text.match(/\p{Script=Han}+/gu) ?? []) {
    const chars = [...run];
    for (let j = 0; j < chars.length; j++) {
      out.push(`h_${chars[j]}`);
      if (j + 1 < chars.length) out.push(`h_${chars[j]}${chars[j + 1]}`);
      if (j + 2 < chars.length) out.push(`h_${chars[j]}${chars[j + 1]}${chars[j + 2]}`);
    }
  }
  return out;
}

/** The model input of a sentence: its tokens as the text of one event (the `sentence` event_tokens feature). */
export function intentInput(sentence: string): ModelInput {
  return { features: {}, events: [{ kind: 'sentence', message: intentTokens(sentence).join(' ') }] };
}

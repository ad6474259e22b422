/**
 * Numbers and durations as people write them in English and Chinese: digits, English number words
 * ("five", "half an hour"), Chinese numerals ("五", "十五", "两", "半小时"). Every match keeps its
 * place in the text, so `--explain` can say which words filled which slot.
 */

/** A span of the normalized sentence: where a slot's words are. */
export interface Span {
  readonly start: number;
  readonly end: number;
  readonly text: string;
}

const EN_UNITS: Readonly<Record<string, number>> = {
  zero: 0,
  one: 1,
  two: 2,
  three: 3,
  four: 4,
  five: 5,
  six: 6,
  seven: 7,
  eight: 8,
  nine: 9,
  ten: 10,
  eleven: 11,
  twelve: 12,
  fifteen: 15,
  twenty: 20,
  thirty: 30,
  forty: 40,
  fifty: 50,
  sixty: 60,
  seventy: 70,
  eighty: 80,
  ninety: 90,
  hundred: 100,
};

const ZH_DIGITS: Readonly<Record<string, number>> = {
  零: 0,
  〇: 0,
  一: 1,
  二: 2,
  两: 2,
  三: 3,
  四: 4,
  五: 5,
  六: 6,
  七: 7,
  八: 8,
  九: 9,
};

/** The value of a Chinese numeral up to 9999 ("十五" 15, "三十" 30, "一百二十" 120, "两" 2); undefined if malformed. */
export function zhNumber(text: string): number | undefined {
  if (text.length === 0) return undefined;
  let total = 0;
  let digit: number | undefined;
  for (const ch of text) {
    if (ch in ZH_DIGITS) {
      if (digit !== undefined) return undefined;
      digit = ZH_DIGITS[ch]!;
      continue;
    }
    const unit = ch === '十' ? 10 : ch === '百' ? 100 : ch === '千' ? 1000 : undefined;
    if (unit === undefined) return undefined;
    total += (digit ?? 1) * unit;
    digit = undefined;
  }
  return total + (digit ?? 0);
}

const ZH_NUMERAL = '[零〇一二两三四五六七八九十百千]+';
/** One number as written: digits (with a decimal point), an English number word (or two: "twenty five"), a Chinese numeral. */
export const NUMBER = `(?:\\d+(?:\\.\\d+)?|(?:${Object.keys(EN_UNITS).join('|')})(?:[ -](?:one|two|three|four|five|six|seven|eight|nine))?|${ZH_NUMERAL})`;

/** The value of a NUMBER match. */
export function numberValue(text: string): number | undefined {
  const t = text.trim().toLowerCase();
  if (/^\d+(\.\d+)?$/.test(t)) return Number(t);
  const words = t.split(/[ -]/);
  if (words.every((w) => w in EN_UNITS)) return words.reduce((a, w) => a + EN_UNITS[w]!, 0);
  return zhNumber(t);
}

/** A duration found in the text, in milliseconds. */
export interface DurationMatch extends Span {
  readonly ms: number;
}

const DURATION_UNITS: ReadonlyArray<[RegExp, number]> = [
  [/^(ms|msecs?|milliseconds?|毫秒)$/, 1],
  [/^(s|secs?|seconds?|秒钟?)$/, 1000],
  [/^(m|mins?|minutes?|分钟|分)$/, 60_000],
  [/^(h|hrs?|hours?|小时|个小时|钟头|个钟头)$/, 3_600_000],
  [/^(d|days?|天)$/, 86_400_000],
];

function unitMs(unit: string): number | undefined {
  for (const [re, ms] of DURATION_UNITS) if (re.test(unit)) return ms;
  return undefined;
}

const UNIT_WORDS =
  'ms|msecs?|milliseconds?|毫秒|secs?|seconds?|秒钟?|s|mins?|minutes?|分钟|hrs?|hours?|个小时|小时|个钟头|钟头|days?|天|m|h|d';
const DURATION = new RegExp(
  `(half an hour|half a minute|an hour|a minute|a day|半个?小时|半分钟|(${NUMBER})\\s*(?:个)?\\s*(${UNIT_WORDS})(?![a-z]))`,
  'giu',
);

/** Every duration in `text` ("5 minutes", "five minutes", "5m", "五分钟", "半小时", "an hour"), in order. */
export function durationsIn(text: string): DurationMatch[] {
  const out: DurationMatch[] = [];
  for (const m of text.matchAll(DURATION)) {
    const start = m.index;
    // "5m" must not be read from "5ms" or "per second" from "5 s" of "5 sigma": the lookahead keeps whole words.
    const before = text[start - 1];
    if (before !== undefined && /[a-z0-9.]/i.test(before) && /^[a-z0-9]/i.test(m[0])) continue;
    let ms: number | undefined;
    const whole = m[1]!.toLowerCase();
    if (/^(half an hour|半个?小时)$/.test(whole)) ms = 1_800_000;
    else if (/^(half a minute|半分钟)$/.test(whole)) ms = 30_000;
    else if (whole === 'an hour') ms = 3_600_000;
    else if (whole === 'a minute') ms = 60_000;
    else if (whole === 'a day') ms = 86_400_000;
    else {
      const n = numberValue(m[2]!);
      const unit = unitMs(m[3]!.toLowerCase());
      if (n !== undefined && unit !== undefined) ms = n * unit;
    }
    if (ms === undefined || !(ms > 0)) continue;
    out.push({ start, end: start + m[0].length, text: m[0], ms });
  }
  return out;
}

/** Milliseconds as a rule duration: the largest whole unit ("5m", "90s", "1h", "1h30m"). */
export function durationText(ms: number): string {
  const parts: string[] = [];
  let rest = Math.round(ms);
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  if (rest > 0 || parts.length === 0) parts.push(`${rest}ms`);
  return parts.join('');
}

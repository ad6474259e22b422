/**
 * Turns a model input (window features and recent events) into the model's input vector: one
 * column per numeric feature (the raw value), then each event_tokens feature's hashed buckets
 * (log1p of the token counts). Training, the TypeScript reference and ONNX serving all call this,
 * so the three see the same numbers.
 */
import { generated } from '../common/generated-code.js';
import type { FeatureSpec, ModelInput } from './model-types.js';

/** One character of a token; the ASCII fast path below is built from it. */
const WORD_CHAR = /[\p{L}\p{N}_]/u;
const WORD = new RegExp(`${WORD_CHAR.source}+`, 'gu');

/** Lower-case words and identifiers of `text`: "OOMKilled: connection refused" → oomkilled, connection, refused. */
export function tokenize(text: string): string[] {
  return text.toLowerCase().match(WORD) ?? [];
}

const encoder = new TextEncoder();

/**
 * The bucket of `token` among `buckets`: FNV-1a 32-bit over its UTF-8 bytes, so any other
 * implementation (Python, an ONNX pre-processor) can reproduce it.
 */
export function hashToken(token: string, buckets: number): number {
  let hash = 0x811c9dc5;
  let ascii = true;
  for (let i = 0; i < token.length; i++) {
    const code = token.charCodeAt(i);
    if (code >= 0x80) {
      ascii = false;
      break;
    }
    hash = Math.imul(hash ^ code, 0x01000193);
  }
  if (!ascii) {
    hash = 0x811c9dc5;
    for (const byte of encoder.encode(token)) hash = Math.imul(hash ^ byte, 0x01000193);
  }
  return (hash >>> 0) % buckets;
}

/** The text of one event that its tokens come from: kind, then message. */
export function eventText(event: { readonly kind: string; readonly message: string }): string {
  return `${event.kind} ${event.message}`;
}

/** One value of a numeric input computed from the window features; NaN when an operand is missing. */
type Derived = (values: Readonly<Record<string, unknown>>) => number;

const WINDOW_NAME = '[a-z][a-z0-9_]*\\.[a-z0-9_]+';
const SLOG = new RegExp(`^slog\\((${WINDOW_NAME})\\)$`);
const LOG_RATIO = new RegExp(`^log_ratio\\((${WINDOW_NAME}),(${WINDOW_NAME})\\)$`);

/** A finite number read from `values`, else NaN. */
function finiteOf(values: Readonly<Record<string, unknown>>, name: string): number {
  const v = Object.hasOwn(values, name) ? values[name] : undefined;
  return typeof v === 'number' && Number.isFinite(v) ? v : NaN;
}

/**
 * The operands of a derived numeric input, or undefined when `name` is a plain window feature.
 * - `slog(a)`: sign(a)·ln(1 + |a|), a deviation's size without its heavy tail;
 * - `log_ratio(a,b)`: ln((a + c) / (b + c)) with c = 5% of max(|a|, |b|): scale-free (the same in
 *   ms or s, per second or per minute) and bounded by ±ln 21 even when b is 0.
 * Why inputs and not sense facts: a model's config can ask for them without changing the loop.
 */
export function derivedOperands(name: string): { op: 'slog' | 'log_ratio'; args: string[] } | undefined {
  const slog = SLOG.exec(name);
  if (slog) return { op: 'slog', args: [slog[1]!] };
  const ratio = LOG_RATIO.exec(name);
  if (ratio) return { op: 'log_ratio', args: [ratio[1]!, ratio[2]!] };
  return undefined;
}

/** The function computing derived input `name`, or undefined when it is a plain window feature. */
function derivedOf(name: string): Derived | undefined {
  const d = derivedOperands(name);
  if (d === undefined) return undefined;
  if (d.op === 'slog') {
    const [a] = d.args as [string];
    return (values) => {
      const x = finiteOf(values, a);
      return Math.sign(x) * Math.log1p(Math.abs(x));
    };
  }
  const [a, b] = d.args as [string, string];
  return (values) => {
    const x = finiteOf(values, a);
    const y = finiteOf(values, b);
    const c = 0.05 * Math.max(Math.abs(x), Math.abs(y));
    if (c === 0) return 0;
    return Math.log((Math.abs(x) + c) / (Math.abs(y) + c));
  };
}

/** Column names in input order: numeric feature names, then `<feature>#<bucket>`. */
export function columnsOf(features: readonly FeatureSpec[]): string[] {
  const columns: string[] = [];
  for (const f of features) if (f.kind === 'numeric') columns.push(f.name);
  for (const f of features)
    if (f.kind === 'event_tokens') for (let b = 0; b < f.buckets; b++) columns.push(`${f.name}#${b}`);
  return columns;
}

/** How many columns `features` make. */
export function columnCount(features: readonly FeatureSpec[]): number {
  let count = 0;
  for (const f of features) count += f.kind === 'numeric' ? 1 : f.buckets;
  return count;
}

/** Texts longer than this are not remembered: ids and stack traces rarely repeat. */
const CACHED_TEXT_MAX = 256;
/** Distinct texts remembered per event_tokens feature; events repeat a lot across observations. */
const CACHED_TEXTS = 4096;

/** For each ASCII code: 0 when it ends a token, else its lower-case code. */
const ASCII_WORD = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  if (WORD_CHAR.test(ch)) ASCII_WORD[c] = ch.toLowerCase().charCodeAt(0);
}

/**
 * The bucket of each token of `text` in order: hashToken over tokenize(text), hashed while
 * scanning when `text` is ASCII (no lower-casing, splitting or encoding), else by that path itself.
 */
export function tokenBuckets(text: string, buckets: number): number[] {
  const hits: number[] = [];
  let hash = 0x811c9dc5;
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0x80) return tokenize(text).map((token) => hashToken(token, buckets));
    const lower = ASCII_WORD[code]!;
    if (lower !== 0) {
      hash = Math.imul(hash ^ lower, 0x01000193);
      inWord = true;
    } else if (inWord) {
      hits.push((hash >>> 0) % buckets);
      hash = 0x811c9dc5;
      inWord = false;
    }
  }
  if (inWord) hits.push((hash >>> 0) % buckets);
  return hits;
}

/** One event_tokens feature ready to count: its first column after the numeric ones, its cache and scratch. */
interface TokenColumns {
  readonly start: number;
  readonly buckets: number;
  readonly cache: Map<string, readonly number[]>;
  /** Scratch of write(): token count per bucket of the current row, all 0 between rows. */
  readonly counts: Uint32Array;
  /** Scratch of write(): the buckets the current row touched, in first-touch order. */
  readonly touched: Uint32Array;
  /** The last kind text seen and its buckets: events come in a few kinds, often the previous one's. */
  lastKind: string;
  lastKindHits: readonly number[];
}

/**
 * Writes the numeric features of a row (`values`) at `offset` of `target`, reading each with a
 * plain property read: only for rows where such a read cannot find an inherited value.
 */
type NumericWriter = (
  values: Readonly<Record<string, unknown>>,
  target: Float32Array | Float64Array,
  offset: number,
  mean: readonly number[] | undefined,
) => void;

/** What vectorize() needs of a feature list, worked out once per list. */
interface Plan {
  readonly numeric: readonly string[];
  readonly numericNames: ReadonlySet<string>;
  /** Per numeric input, its function when it is derived (slog, log_ratio). */
  readonly derived: ReadonlyArray<Derived | undefined>;
  readonly writeNumeric: NumericWriter;
  readonly tokens: readonly TokenColumns[];
  readonly width: number;
}

/** log1p(n) for the token counts a row usually has, the same doubles Math.log1p gives. */
const LOG1P = Float64Array.from({ length: 64 }, (_, n) => Math.log1p(n));

const plans = new WeakMap<readonly FeatureSpec[], Plan>();

/** The plan of `features`, kept per list (GlmModel and ModelConfig hold theirs read-only). */
function planOf(features: readonly FeatureSpec[]): Plan {
  let plan = plans.get(features);
  if (plan === undefined) {
    const numeric = features.flatMap((f) => (f.kind === 'numeric' ? [f.name] : []));
    const tokens: TokenColumns[] = [];
    let start = numeric.length;
    for (const f of features)
      if (f.kind === 'event_tokens') {
        tokens.push({
          start,
          buckets: f.buckets,
          cache: new Map(),
          counts: new Uint32Array(f.buckets),
          touched: new Uint32Array(f.buckets),
          lastKind: '',
          lastKindHits: [],
        });
        start += f.buckets;
      }
    plan = {
      numeric,
      numericNames: new Set(numeric),
      derived: numeric.map(derivedOf),
      writeNumeric: numericWriter(numeric),
      tokens,
      width: start,
    };
    plans.set(features, plan);
  }
  return plan;
}

/**
 * The value of a numeric feature read `value`: itself when a finite number, else the mean of
 * column `i` when given (the training mean, so it adds nothing after standardization), else NaN.
 */
function numericValue(value: unknown, mean: readonly number[] | undefined, i: number): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : (mean?.[i] ?? NaN);
}

/**
 * A NumericWriter with each feature name written into its own read (`values["cpu.avg"]`): such a
 * read keeps an inline cache of the row shapes it saw, where a read by a name held in a variable
 * shares one cache across all names, goes megamorphic and costs several times as much (it was the
 * largest cost in a profile of classify()). The names enter the source as JSON string literals, so
 * no name can be anything but a string; where code generation is disallowed the loop reads by name.
 */
function numericWriter(numeric: readonly string[]): NumericWriter {
  const derived = numeric.map(derivedOf);
  const byName: NumericWriter = (values, target, offset, mean) => {
    for (let i = 0; i < numeric.length; i++) {
      const d = derived[i];
      target[offset + i] = numericValue(d ? d(values) : values[numeric[i]!], mean, i);
    }
  };
  // `v - v === 0` is Number.isFinite for a number (NaN and ±Infinity give NaN).
  const body = numeric
    .map(
      (name, i) =>
        `v = ${derived[i] ? `derived[${i}](values)` : `values[${JSON.stringify(name)}]`}; ` +
        `target[offset + ${i}] = typeof v === 'number' && v - v === 0 ? v : (mean?.[${i}] ?? NaN);`,
    )
    .join('\n');
  return (
    generated<NumericWriter>(
      ['derived'],
      `return function (values, target, offset, mean) {\nlet v;\n${body}\n};`,
      derived,
    ) ?? byName
  );
}

/**
 * The buckets of `text` for `columns`. Splitting an event into kind and message is safe: the
 * space between them ends every token and every lower-casing context (final sigma).
 */
function bucketsOf(columns: TokenColumns, text: string): readonly number[] {
  const cached = columns.cache.get(text);
  if (cached !== undefined) return cached;
  const hits = tokenBuckets(text, columns.buckets);
  if (text.length <= CACHED_TEXT_MAX) {
    if (columns.cache.size >= CACHED_TEXTS) columns.cache.clear();
    columns.cache.set(text, hits);
  }
  return hits;
}

/** Whether Object.prototype has a property named like a numeric feature (only if someone put one there). */
function prototypeHasFeature(plan: Plan): boolean {
  for (const key of Object.getOwnPropertyNames(Object.prototype)) if (plan.numericNames.has(key)) return true;
  return false;
}

function write(
  plan: Plan,
  input: ModelInput,
  mean: readonly number[] | undefined,
  target: Float32Array | Float64Array,
  offset: number,
  /** False when Object.prototype has no property named like a numeric feature. */
  inherits: boolean,
  /** True when the row's bucket columns are 0 already. */
  zeroed: boolean,
): void {
  const values = input.features;
  // Where nothing can be inherited, reading a feature finds it only when it is the row's own.
  const proto: unknown = Object.getPrototypeOf(values);
  if (proto === null || (proto === Object.prototype && !inherits))
    plan.writeNumeric(values, target, offset, mean);
  else {
    const numeric = plan.numeric;
    for (let i = 0; i < numeric.length; i++) {
      const name = numeric[i]!;
      const d = plan.derived[i];
      const value = d ? d(values) : Object.hasOwn(values, name) ? values[name] : undefined;
      target[offset + i] = numericValue(value, mean, i);
    }
  }
  const events = input.events;
  for (const columns of plan.tokens) {
    const start = offset + columns.start;
    if (!zeroed) for (let b = start, end = start + columns.buckets; b < end; b++) target[b] = 0;
    if (events.length > 0) writeCounts(columns, events, target, start);
  }
}

/** log1p of the token counts of `events` into the (zeroed) bucket columns of `columns` from `start`. */
function writeCounts(
  columns: TokenColumns,
  events: ModelInput['events'],
  target: Float32Array | Float64Array,
  start: number,
): void {
  const { counts, touched } = columns;
  let distinct = 0;
  try {
    for (let e = 0; e < events.length; e++) {
      const { kind, message } = events[e]!;
      // As eventText() would turn them into text, should a caller pass something else.
      const kindText = typeof kind === 'string' ? kind : `${kind}`;
      let kindHits = columns.lastKindHits;
      if (kindText !== columns.lastKind) {
        kindHits = bucketsOf(columns, kindText);
        columns.lastKind = kindText;
        columns.lastKindHits = kindHits;
      }
      const messageHits = bucketsOf(columns, typeof message === 'string' ? message : `${message}`);
      for (let h = 0; h < kindHits.length; h++) {
        const bucket = kindHits[h]!;
        const n = counts[bucket]!;
        if (n === 0) touched[distinct++] = bucket;
        counts[bucket] = n + 1;
      }
      for (let h = 0; h < messageHits.length; h++) {
        const bucket = messageHits[h]!;
        const n = counts[bucket]!;
        if (n === 0) touched[distinct++] = bucket;
        counts[bucket] = n + 1;
      }
    }
  } catch (err) {
    // An event that cannot be text: the counts are scratch for the next row, so leave them at 0.
    for (let t = 0; t < distinct; t++) counts[touched[t]!] = 0;
    throw err;
  }
  for (let t = 0; t < distinct; t++) {
    const bucket = touched[t]!;
    const n = counts[bucket]!;
    counts[bucket] = 0;
    target[start + bucket] = n < LOG1P.length ? LOG1P[n]! : Math.log1p(n);
  }
}

/**
 * Writes the input vector of `input` into `out` from `offset` (a fresh Float64Array when `out` is
 * not given) and returns `out`. A numeric feature that is missing or not finite becomes `mean[i]`
 * when given (the training mean, so it adds nothing after standardization), else NaN.
 */
export function vectorize(
  input: ModelInput,
  features: readonly FeatureSpec[],
  mean: readonly number[] | undefined,
  out?: Float32Array | Float64Array,
  offset = 0,
): Float32Array | Float64Array {
  const plan = planOf(features);
  const target = out ?? new Float64Array(plan.width);
  write(plan, input, mean, target, offset, true, false);
  return target;
}

/**
 * vectorize() of each input into `out`, row after row from its start: the serving hot loop, which
 * checks Object.prototype once per batch rather than each feature of each row.
 */
export function vectorizeRows(
  inputs: readonly ModelInput[],
  features: readonly FeatureSpec[],
  mean: readonly number[] | undefined,
  out: Float32Array | Float64Array,
): void {
  const plan = planOf(features);
  const inherits = prototypeHasFeature(plan);
  const width = plan.width;
  // One fill of the rows (a memset) costs less than zeroing each row's buckets in the loop.
  if (plan.tokens.length > 0) out.fill(0, 0, inputs.length * width);
  for (let i = 0; i < inputs.length; i++) write(plan, inputs[i]!, mean, out, i * width, inherits, true);
}

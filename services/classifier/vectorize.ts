/**
 * Turns a model input (window features and recent events) into the model's input vector: one
 * column per numeric feature (the raw value), then each event_tokens feature's hashed buckets
 * (log1p of the token counts). Training, the TypeScript reference and ONNX serving all call this,
 * so the three see the same numbers.
 */
import type { FeatureSpec, ModelInput } from './model-types.js';

const WORD = /[\p{L}\p{N}_]+/gu;

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
  const target = out ?? new Float64Array(columnCount(features));
  let column = offset;
  for (const f of features) {
    if (f.kind !== 'numeric') continue;
    const value = Object.hasOwn(input.features, f.name) ? input.features[f.name] : undefined;
    target[column] =
      typeof value === 'number' && Number.isFinite(value) ? value : (mean?.[column - offset] ?? NaN);
    column++;
  }
  for (const f of features) {
    if (f.kind !== 'event_tokens') continue;
    target.fill(0, column, column + f.buckets);
    for (const event of input.events)
      for (const token of tokenize(eventText(event))) target[column + hashToken(token, f.buckets)]! += 1;
    for (let b = column; b < column + f.buckets; b++) if (target[b] !== 0) target[b] = Math.log1p(target[b]!);
    column += f.buckets;
  }
  return target;
}

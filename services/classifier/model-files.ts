/**
 * The model folder on disk: `model.onnx` (what serving runs), `model.json` (the GlmModel: features,
 * training means, classes, the reference weights), `card.md` and `card.json` (the model card).
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { GlmModel } from './model-types.js';
import { glmToOnnx, shapeProblems } from './onnx-export.js';
import { columnsOf } from './vectorize.js';

/** The files of a model folder, by role. */
export const MODEL_FILES = {
  onnx: 'model.onnx',
  json: 'model.json',
  cardMarkdown: 'card.md',
  cardJson: 'card.json',
} as const;

const FIX = 'retrain with `autoglm model train` or set AUTOGLM_MODEL_DIR=off for rules-only';

/** A model folder cannot be served; `file` is the culprit and the message ends with the fix. */
export class ModelLoadError extends Error {
  constructor(
    readonly file: string,
    readonly problems: readonly string[],
  ) {
    super(
      problems.length === 1
        ? `${file}: ${problems[0]}; ${FIX}`
        : `${file}: refused:\n${problems.map((p) => `  - ${p}`).join('\n')}\n${FIX}`,
    );
    this.name = 'ModelLoadError';
  }
}

const finite = z.number().finite();
const featureSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('numeric'), name: z.string().min(1) }).strict(),
  z
    .object({ kind: z.literal('event_tokens'), name: z.string().min(1), buckets: z.number().int().min(1) })
    .strict(),
]);

const glmSchema = z
  .object({
    name: z.string().min(1),
    version: z.string().min(1),
    link: z.enum(['logit', 'softmax']),
    classes: z
      .array(z.string().min(1))
      .min(2)
      .refine((c) => new Set(c).size === c.length, 'class names must be unique'),
    features: z.array(featureSchema).min(1),
    columns: z.array(z.string()).min(1),
    mean: z.array(finite),
    scale: z.array(finite.positive()),
    weights: z.array(z.array(finite)),
    intercepts: z.array(finite),
    bucketTokens: z.record(z.string(), z.array(z.string())).optional(),
    abstain: z
      .object({ minConfidence: finite.min(0).max(1), maxDistance: finite.positive() })
      .strict()
      .optional(),
  })
  .superRefine((model, ctx) => {
    const expected = columnsOf(model.features);
    if (expected.length !== model.columns.length || expected.some((c, i) => model.columns[i] !== c))
      ctx.addIssue({
        code: 'custom',
        path: ['columns'],
        message: `do not match the features (expected ${expected.length} columns starting ${JSON.stringify(expected.slice(0, 3))})`,
      });
    for (const { path: at, message } of shapeProblems(model))
      ctx.addIssue({ code: 'custom', path: at, message });
  }) satisfies z.ZodType<GlmModel>;

/** `path` of a zod issue as `weights.3.1`, or `(root)`. */
function fieldOf(issuePath: readonly PropertyKey[]): string {
  return issuePath.length === 0 ? '(root)' : issuePath.map(String).join('.');
}

/** Every problem with `value` as a GlmModel, each naming its field; empty when it is one. */
export function glmModelProblems(value: unknown): string[] {
  const parsed = glmSchema.safeParse(value);
  return parsed.success ? [] : parsed.error.issues.map((i) => `${fieldOf(i.path)}: ${i.message}`);
}

/** The GlmModel in `<dir>/model.json`, validated; anything wrong throws ModelLoadError naming the field. */
export function readModelJson(dir: string): GlmModel {
  const file = path.join(dir, MODEL_FILES.json);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ModelLoadError(file, [`cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`]);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ModelLoadError(file, [`not JSON (${(err as Error).message})`]);
  }
  const parsed = glmSchema.safeParse(value);
  if (!parsed.success)
    throw new ModelLoadError(
      file,
      parsed.error.issues.map((i) => `${fieldOf(i.path)}: ${i.message}`),
    );
  return parsed.data;
}

/** Replaces `file` in one step, so a reader polling the folder never sees half a file. */
function writeAtomically(file: string, data: string | Uint8Array): void {
  const temporary = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temporary, data);
  fs.renameSync(temporary, file);
}

/**
 * Writes the model folder: the ONNX graph, model.json and the card. model.onnx goes last, so a
 * poller that catches the folder between files sees a version mismatch and keeps its model.
 */
export function writeModelFiles(
  dir: string,
  model: GlmModel,
  card: { markdown: string; json: unknown },
): { dir: string; files: string[] } {
  const problems = glmModelProblems(model);
  if (problems.length > 0) throw new RangeError(`refusing to write an invalid model: ${problems.join('; ')}`);
  const onnxBytes = glmToOnnx(model);
  fs.mkdirSync(dir, { recursive: true });
  const files = [MODEL_FILES.cardMarkdown, MODEL_FILES.cardJson, MODEL_FILES.json, MODEL_FILES.onnx].map(
    (name) => path.join(dir, name),
  );
  const [cardMarkdown, cardJson, json, onnx] = files as [string, string, string, string];
  writeAtomically(cardMarkdown, card.markdown);
  writeAtomically(cardJson, `${JSON.stringify(card.json, null, 2)}\n`);
  writeAtomically(json, `${JSON.stringify(model, null, 2)}\n`);
  writeAtomically(onnx, onnxBytes);
  return { dir, files };
}

/**
 * Size, modification time and inode of each model file (or "missing"), as one string: it changes when
 * any file is replaced, which is what hot-swap polling needs, without reading the files.
 */
export function modelStamp(dir: string): string {
  return Object.values(MODEL_FILES)
    .map((name) => {
      try {
        // The inode too: an atomic replace within the clock's resolution still changes it.
        const s = fs.statSync(path.join(dir, name), { bigint: true });
        return `${name}:${s.size}:${s.mtimeNs}:${s.ino}`;
      } catch {
        return `${name}:missing`;
      }
    })
    .join(' ');
}

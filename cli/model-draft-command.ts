import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { repoRoot } from '../infra/paths.js';
import { draftModelConfig } from '../services/draft/model-draft.js';

/** Where a command writes; tests pass their own. */
export interface DraftIo {
  out(text: string): void;
  err(text: string): void;
}

export const MODEL_DRAFT_USAGE = `usage: autoglm model draft "<sentence>" [--explain] [--out models/<name>.config.json] [--force] [--json]
  e.g. autoglm model draft "a softmax model over cpu, memory and error deviations with strong L1, classes cpu, leak, deploy"
       autoglm model draft "用 cpu、内存和错误率的偏差训练 softmax 模型,强 L1 正则,类别 cpu、泄漏、发布"`;

/**
 * `autoglm model draft "<sentence>"`: a model config from an English or Chinese sentence. Prints it
 * (and with --explain which words filled which field); writes it (models/<name>.config.json, or
 * --out) only when nothing is left to ask and the file is new, or with --force. Exit 0 written or
 * printed complete, 1 with questions left or a sentence that cannot be drafted, 2 on bad flags.
 */
export function modelDraftCommand(args: readonly string[], io: DraftIo): number {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      allowPositionals: true,
      options: {
        explain: { type: 'boolean' },
        out: { type: 'string' },
        force: { type: 'boolean' },
        json: { type: 'boolean' },
      },
    });
  } catch (err) {
    io.err(`${(err as Error).message}\n${MODEL_DRAFT_USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1) {
    io.err(`give one sentence, in quotes\n${MODEL_DRAFT_USAGE}`);
    return 2;
  }
  const draft = draftModelConfig(positionals[0]!);
  if (values.json) io.out(JSON.stringify(draft, null, 2));
  if (draft.error) {
    io.err(`model draft: ${draft.error}`);
    return 1;
  }
  if (values.explain && !values.json) {
    io.out(`language: ${draft.language}`);
    for (const f of draft.filled) io.out(`  ${f.field.padEnd(22)} ← ${f.words}: ${JSON.stringify(f.value)}`);
  }
  for (const q of draft.questions) io.err(`question: ${q}`);
  if (!draft.config) {
    io.err('model draft: nothing written; answer the questions in the sentence and draft again');
    return 1;
  }
  const text = `${JSON.stringify(draft.config, null, 2)}\n`;
  if (!values.json) io.out(text.trimEnd());
  if (draft.questions.length > 0 && !values.force) {
    io.err('model draft: nothing written while questions are left (--force writes what was said)');
    return 1;
  }
  const file = values.out ?? path.join(repoRoot, 'models', `${draft.config.name as string}.config.json`);
  if (fs.existsSync(file) && !values.force) {
    io.err(`model draft: ${file} exists; nothing written (--out another file, or --force to replace it)`);
    return 1;
  }
  fs.writeFileSync(file, text);
  const shown = path.relative(process.cwd(), file).startsWith('..')
    ? file
    : path.relative(process.cwd(), file);
  io.out(`wrote ${file}; train it: autoglm model train --config ${shown} --data <rows.jsonl>`);
  return draft.questions.length > 0 ? 1 : 0;
}

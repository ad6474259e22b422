/**
 * How many sentences `autoglm rules draft` drafts per second: language check, the ONNX intent
 * model (onnxruntime) and the slot extractor, up to the rule file and its test cases (writing and
 * `rules check` excluded: they are file and rule-engine work, timed by the score command).
 *
 *   npx tsx bench/draft.ts [--seconds=3] [--file=test/fixtures/draft/heldout.json]
 *
 * One sentence per call (an author at the prompt) and the whole file per call (`--file`, one
 * intent-model call for every sentence). Target: ≥ 500 sentences per second one at a time.
 */
import path from 'node:path';
import { repoRoot } from '../infra/paths.js';
import { Drafter } from '../services/draft/drafter.js';
import { readHeldOut } from '../services/draft/score.js';

const flags = new Map(
  process.argv
    .slice(2)
    .filter((a) => a.startsWith('--'))
    .map((a) => a.slice(2).split('=') as [string, string]),
);
const seconds = Number(flags.get('seconds') ?? 3);
const file = flags.get('file') ?? path.join(repoRoot, 'test', 'fixtures', 'draft', 'heldout.json');
const sentences = readHeldOut(file).map((c) => c.sentence);
const drafter = await Drafter.load({ rulesDir: path.join(repoRoot, 'rules') });

/** Runs `step` for `seconds` after a short warm-up; sentences per second. */
async function rate(step: () => Promise<number>): Promise<number> {
  const warm = Date.now() + 300;
  while (Date.now() < warm) await step();
  let done = 0;
  const start = process.hrtime.bigint();
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) done += await step();
  return done / (Number(process.hrtime.bigint() - start) / 1e9);
}

let i = 0;
let complete = 0;
const single = await rate(async () => {
  const d = await drafter.draft(sentences[i++ % sentences.length]!);
  if (d.rule) complete++;
  return 1;
});
const batched = await rate(async () => (await drafter.draftMany(sentences)).length);
await drafter.release();
process.stdout.write(
  `rules draft: ${sentences.length} sentences (${path.relative(repoRoot, file)}), intent model ${drafter.modelVersion}\n` +
    `  one sentence per call: ${single.toFixed(0)} sentences/s (${((1000 / single) * 1000).toFixed(0)} µs each; ${complete} of the drafts complete)\n` +
    `  the file per call:     ${batched.toFixed(0)} sentences/s\n` +
    `  target ≥ 500/s one at a time: ${single >= 500 ? 'met' : 'MISSED'}\n`,
);

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
import os from 'node:os';
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

/**
 * Runs `step` for `seconds` after a short warm-up: sentences per wall-clock second, and per second
 * of this process's CPU time (user + system), which a machine shared with other work inflates less.
 */
async function rate(step: () => Promise<number>): Promise<{ wall: number; cpu: number }> {
  const warm = Date.now() + 300;
  while (Date.now() < warm) await step();
  let done = 0;
  const start = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) done += await step();
  const used = process.cpuUsage(cpu);
  return {
    wall: done / (Number(process.hrtime.bigint() - start) / 1e9),
    cpu: done / ((used.user + used.system) / 1e6),
  };
}

let i = 0;
let complete = 0;
const single = await rate(async () => {
  const d = await drafter.draft(sentences[i++ % sentences.length]!);
  if (d.rule && d.questions.length === 0) complete++;
  return 1;
});
const batched = await rate(async () => (await drafter.draftMany(sentences)).length);
await drafter.release();
process.stdout.write(
  `rules draft: ${sentences.length} sentences (${path.relative(repoRoot, file)}), intent model ${drafter.modelVersion}\n` +
    `  one sentence per call: ${single.wall.toFixed(0)} sentences/s wall clock (${(1e6 / single.wall).toFixed(0)} µs each), ${single.cpu.toFixed(0)} per CPU second; ${((100 * complete) / i).toFixed(0)}% of the drafts complete\n` +
    `  the file per call:     ${batched.wall.toFixed(0)} sentences/s wall clock, ${batched.cpu.toFixed(0)} per CPU second\n` +
    `  load average ${os.loadavg()[0]!.toFixed(1)} on ${os.availableParallelism()} CPUs; target ≥ 500/s one at a time: ${single.wall >= 500 ? 'met' : 'MISSED'} (wall clock), ${single.cpu >= 500 ? 'met' : 'MISSED'} (per CPU second)\n`,
);

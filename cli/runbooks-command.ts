import path from 'node:path';
import { parseArgs } from 'node:util';
import { repoRoot } from '../infra/paths.js';
import { readRunbookDir, RunbookLoadError } from '../services/runbooks/runbook-files.js';
import { DEFAULT_RUNBOOK_HITS, RunbookIndex } from '../services/runbooks/runbook-index.js';

/** Where the command writes; tests pass their own. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
}
const processIo: Io = {
  out: (t) => process.stdout.write(`${t}\n`),
  err: (t) => process.stderr.write(`${t}\n`),
};

const USAGE = `usage: autoglm runbooks search "<text>" [--class X] [--rule R] [--feature cpu.avg …] [--limit 3] [--dir runbooks] [--json]
       autoglm runbooks check [--dir runbooks]`;

/**
 * `autoglm runbooks search|check`: what the runbooks say for an incident (the sections retrieval
 * would hand a decision, best first, with score and link), and the front matter check of every
 * runbook, so a bad one fails a pull request rather than a decision.
 */
export function runbooksCommand(args: readonly string[], io: Io = processIo): number {
  const [sub, ...rest] = args;
  let parsed;
  try {
    parsed = parseArgs({
      args: [...rest],
      allowPositionals: true,
      options: {
        class: { type: 'string' },
        rule: { type: 'string' },
        feature: { type: 'string', multiple: true },
        limit: { type: 'string' },
        dir: { type: 'string' },
        json: { type: 'boolean' },
      },
    });
  } catch (err) {
    io.err(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (sub !== 'search' && sub !== 'check') {
    io.err(USAGE);
    return 2;
  }
  const dir = values.dir ?? path.join(repoRoot, 'runbooks');
  let index: RunbookIndex;
  try {
    index = new RunbookIndex(readRunbookDir(dir), path.basename(path.resolve(dir)));
  } catch (err) {
    if (!(err instanceof RunbookLoadError)) throw err;
    for (const p of err.problems) io.err(p);
    return 1;
  }
  if (sub === 'check') {
    io.out(`runbooks: ${index.size} sections, front matter ok`);
    return 0;
  }
  const limit = values.limit === undefined ? DEFAULT_RUNBOOK_HITS : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1) {
    io.err(`--limit "${values.limit}" must be a whole number of sections, 1 or more, e.g. --limit 3`);
    return 2;
  }
  const text = positionals.join(' ');
  if (text.trim() === '' && !values.class && !values.rule && !values.feature?.length) {
    io.err(
      `runbooks search: nothing to search for; give text in quotes or --class, --rule, --feature\n${USAGE}`,
    );
    return 2;
  }
  const hits = index.find(
    { incidentClass: values.class, rule: values.rule, features: values.feature, text },
    limit,
  );
  if (values.json) io.out(JSON.stringify(hits, null, 2));
  else if (hits.length === 0) io.out('no runbook section matches');
  else
    for (const h of hits) io.out(`${h.score.toFixed(1).padStart(9)}  ${h.title} (${h.runbook})  ${h.link}`);
  return 0;
}

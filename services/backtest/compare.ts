import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BacktestDecision } from './backtest.js';

/** A decision the candidate makes at another window than the baseline, same entity and rule. */
export interface MovedDecision {
  readonly before: BacktestDecision;
  readonly after: BacktestDecision;
  /** after.ts - before.ts: negative when the candidate decides earlier. */
  readonly byMs: number;
}

/** What a candidate rule set decides differently from a baseline on the same recording. */
export interface DecisionDiff {
  /** Decisions only the candidate makes. */
  readonly gained: BacktestDecision[];
  /** Decisions only the baseline makes. */
  readonly lost: BacktestDecision[];
  /** Decisions both make at other windows, within `movedWithinMs` of each other (empty when 0). */
  readonly moved: MovedDecision[];
  /** Decisions both make (same entity, rule and window). */
  readonly same: number;
}

const keyOf = (d: BacktestDecision) =>
  `${d.entity}\u0000${d.rule}\u0000${d.window.start}\u0000${d.window.end}`;

/**
 * Compares two replays' decisions by entity, rule and window (what a decision's id is made of, and
 * what stays the same when only the rule's version changes), in time order. With `movedWithinMs`,
 * a lost and a gained decision of the same entity and rule at most that far apart are one decision
 * moved (earlier or later), paired in time order, each lost one with the nearest gained one.
 */
export function diffDecisions(
  baseline: readonly BacktestDecision[],
  candidate: readonly BacktestDecision[],
  movedWithinMs = 0,
): DecisionDiff {
  const before = new Set(baseline.map(keyOf));
  const after = new Set(candidate.map(keyOf));
  let gained = candidate.filter((d) => !before.has(keyOf(d)));
  let lost = baseline.filter((d) => !after.has(keyOf(d)));
  const same = candidate.length - gained.length;
  const moved: MovedDecision[] = [];
  if (movedWithinMs > 0 && gained.length > 0 && lost.length > 0) {
    const taken = new Set<BacktestDecision>();
    const pairedLost = new Set<BacktestDecision>();
    for (const l of [...lost].sort((a, b) => a.ts - b.ts)) {
      let best: BacktestDecision | undefined;
      for (const g of gained) {
        if (taken.has(g) || g.entity !== l.entity || g.rule !== l.rule) continue;
        const gap = Math.abs(g.ts - l.ts);
        if (gap <= movedWithinMs && (best === undefined || gap < Math.abs(best.ts - l.ts))) best = g;
      }
      if (best === undefined) continue;
      taken.add(best);
      pairedLost.add(l);
      moved.push({ before: l, after: best, byMs: best.ts - l.ts });
    }
    gained = gained.filter((d) => !taken.has(d));
    lost = lost.filter((d) => !pairedLost.has(d));
  }
  return { gained, lost, moved, same };
}

/** What `--baseline` names, resolved to the rules and model folders the baseline replay loads. */
export interface BaselineSource {
  readonly kind: 'rules' | 'model' | 'git';
  /** The rules folder the baseline replays (the current one for a model folder). */
  readonly rulesDir: string;
  /** The model folder ("off": none) the baseline replays (the current one for a rules folder). */
  readonly modelDir: string;
  /** How the report names it. */
  readonly label: string;
  /** Removes what was extracted for a git ref (a no-op otherwise). */
  cleanup(): void;
}

/** `--baseline` names nothing usable; the message says what it tried. */
export class BaselineError extends Error {}

/**
 * Resolves `--baseline`: a folder holding model.onnx is a model folder (replayed with the
 * current rules), another folder a rules folder (replayed with the current model); anything else
 * must be a git ref of the repository holding the current rules folder, whose rules folder and
 * model folder as they were at that ref are extracted to a temporary folder (the code replaying
 * them is the current one: a ref compares policy, not code).
 */
export function resolveBaseline(
  arg: string,
  current: { readonly rulesDir: string; readonly modelDir: string },
): BaselineSource {
  const none = () => undefined;
  if (fs.existsSync(arg) && fs.statSync(arg).isDirectory()) {
    const dir = path.resolve(arg);
    if (fs.existsSync(path.join(dir, 'model.onnx')))
      return {
        kind: 'model',
        rulesDir: current.rulesDir,
        modelDir: dir,
        label: `model ${arg}`,
        cleanup: none,
      };
    if (!fs.readdirSync(dir).some((f) => f.endsWith('.json')))
      throw new BaselineError(
        `--baseline ${arg}: a folder with neither rule files (*.json) nor a model (model.onnx)`,
      );
    return { kind: 'rules', rulesDir: dir, modelDir: current.modelDir, label: `rules ${arg}`, cleanup: none };
  }
  const rulesAbs = path.resolve(current.rulesDir);
  const top = git(path.dirname(rulesAbs), ['rev-parse', '--show-toplevel']);
  if (top === undefined)
    throw new BaselineError(
      `--baseline ${arg}: not a folder, and the rules folder ${current.rulesDir} is not in a git repository to read a ref from`,
    );
  const root = fs.realpathSync(top.trim());
  const commit = git(root, ['rev-parse', '--verify', '--quiet', `${arg}^{commit}`])?.trim();
  if (!commit)
    throw new BaselineError(
      `--baseline ${arg}: neither a folder (rules or model) nor a git ref of ${root} (try a branch, tag or commit)`,
    );
  const inRepo = (dir: string) => {
    const rel = path.relative(root, fs.realpathSync(dir));
    return rel.startsWith('..') || path.isAbsolute(rel) ? undefined : rel;
  };
  const rulesRel = inRepo(rulesAbs);
  if (rulesRel === undefined)
    throw new BaselineError(`--baseline ${arg}: the rules folder ${current.rulesDir} is outside ${root}`);
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'autoglm-baseline-'));
  const cleanup = () => fs.rmSync(out, { recursive: true, force: true });
  try {
    const rulesDir = extract(root, commit, rulesRel, path.join(out, 'rules'));
    if (rulesDir === undefined)
      throw new BaselineError(`--baseline ${arg}: ${rulesRel}/ has no files at ${commit.slice(0, 12)}`);
    // The model as it was at the ref when the current one is a folder of the repository; an
    // outside or absent one stays as it is now.
    const modelRel =
      current.modelDir !== 'off' && fs.existsSync(current.modelDir) ? inRepo(current.modelDir) : undefined;
    const modelAt =
      modelRel !== undefined ? extract(root, commit, modelRel, path.join(out, 'model')) : undefined;
    return {
      kind: 'git',
      rulesDir,
      modelDir: modelAt ?? current.modelDir,
      label: `git ${arg} (${commit.slice(0, 12)}: ${rulesRel}/${modelAt ? ` and ${modelRel}/` : ''})`,
      cleanup,
    };
  } catch (err) {
    cleanup();
    throw err;
  }
}

/** Runs git in `cwd`; its output, or undefined when git is missing or fails. */
function git(cwd: string, args: readonly string[]): string | undefined {
  try {
    return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return undefined;
  }
}

/** Writes the files under `rel` at `commit` to `dest` (bytes as committed); undefined when there are none. */
function extract(root: string, commit: string, rel: string, dest: string): string | undefined {
  const listed = git(root, ['ls-tree', '-r', '-z', '--name-only', commit, '--', rel]);
  const files = (listed ?? '').split('\0').filter((f) => f.length > 0);
  if (files.length === 0) return undefined;
  for (const file of files) {
    const target = path.join(dest, path.relative(rel, file));
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(
      target,
      execFileSync('git', ['show', `${commit}:${file}`], {
        cwd: root,
        maxBuffer: 1 << 30,
        stdio: ['ignore', 'pipe', 'ignore'],
      }),
    );
  }
  return dest;
}

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { EMPTY_CONTEXT, loadContextDir, type RuleContext } from '../common/context/context-files.js';
import { fileStamp } from '../common/folder-poll.js';
import { CompiledRules } from './compiled-rules.js';
import { checkRules } from './rule-check.js';
import { readRuleFiles, ruleFilesIn, type ActuatorCheck, type LoadedRule } from './rule-file.js';

/**
 * One checked, immutable set of rules and the context facts they read, known by the hash of
 * every file it came from. decide swaps a whole set at once, so a decision is always made by one
 * set, and records that set's hash.
 */
export interface RuleSet {
  /** sha256 (12 hex) over every rule and context file's name and content. */
  readonly hash: string;
  readonly rules: readonly LoadedRule[];
  readonly byName: ReadonlyMap<string, LoadedRule>;
  readonly compiled: CompiledRules;
  readonly context: RuleContext;
}

/** Builds a set from rules already checked (tests, `rules test`, benches). */
export function ruleSetOf(
  rules: readonly LoadedRule[],
  context: RuleContext = EMPTY_CONTEXT,
  hash?: string,
): RuleSet {
  return {
    hash: hash ?? hashOf(rules.map((r) => `${r.name}@${r.version}`)),
    rules,
    byName: new Map(rules.map((r) => [r.name, r])),
    compiled: new CompiledRules(rules),
    context,
  };
}

/** The files a rules folder's set is made of: its rule files, then its context files. */
export function ruleSetFiles(dir: string): string[] {
  const contextDir = path.join(dir, 'context');
  const context = fs.existsSync(contextDir)
    ? fs
        .readdirSync(contextDir)
        .filter((f) => f.endsWith('.json'))
        .sort()
        .map((f) => path.join(contextDir, f))
    : [];
  return [...ruleFilesIn(dir), ...context];
}

/** A fingerprint of the folder's files (names, sizes, times, inodes): cheap to poll, changes when any file does, also on a ConfigMap's `..data` swap. */
export function ruleSetStamp(dir: string): string {
  return ruleSetFiles(dir)
    .map((f) => `${f}:${fileStamp(f)}`)
    .join('\n');
}

/**
 * Loads and checks a rules folder: every rule file (JSON, schema, json-rules-engine, actuator,
 * unique names, facts, operators, shadowing) and its `context/` folder (catalog, maintenance
 * windows). Returns the set, or every problem with its file, JSON path and fix.
 */
export async function loadRuleSet(
  dir: string,
  opts: { checkActuator?: ActuatorCheck } = {},
): Promise<{ ruleSet: RuleSet; problems: [] } | { ruleSet?: undefined; problems: string[] }> {
  let files: string[];
  try {
    files = ruleFilesIn(dir);
  } catch (err) {
    return { problems: [...((err as { problems?: string[] }).problems ?? [(err as Error).message])] };
  }
  const read = readRuleFiles(files, opts);
  const context = loadContextDir(path.join(dir, 'context'));
  const problems = [...read.problems, ...context.problems, ...(await checkRules(read.rules))];
  if (problems.length > 0) return { problems };
  // Rules by the version of the text that was checked; context files as they are now.
  const hash = hashOf([
    ...read.rules.map((r) => `${path.basename(r.file)}@${r.version}`),
    ...context.files.map((f) => `${path.relative(dir, f)}\n${readOrEmpty(f)}`),
  ]);
  return { ruleSet: ruleSetOf(read.rules, context.context, hash), problems: [] };
}

function readOrEmpty(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function hashOf(parts: readonly string[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\u0000');
  return h.digest('hex').slice(0, 12);
}

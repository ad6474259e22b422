import fs from 'node:fs';
import path from 'node:path';
import { actuatorsFromConfig } from '../services/actuators/from-config.js';
import { approversLine } from '../services/common/approvers.js';
import { loadConfig } from '../services/common/config.js';
import { loadContextDir } from '../services/common/context/context-files.js';
import { observationSchema } from '../services/common/contracts.js';
import { formatDuration, parseDuration } from '../services/common/duration.js';
import { factsFor } from '../services/common/facts.js';
import { Decider } from '../services/decide/decider.js';
import { checkRules } from '../services/decide/rule-check.js';
import { episodeLines, explainRules, renderExplained } from '../services/decide/rule-explain.js';
import { describeUrgency, urgencyFacts, urgencyOf } from '../services/decide/urgency.js';
import { readRuleFiles, RuleLoadError, ruleFilesIn } from '../services/decide/rule-file.js';
import { loadRuleSet } from '../services/decide/rule-set.js';
import { readRuleTestFile, ruleTestFilesIn, runCase } from '../services/decide/rule-tests.js';
import { liveGuardLines } from './guard-lines.js';
import { draftCommand } from './draft-command.js';

/** Where a command writes; tests pass their own. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
}
const processIo: Io = {
  out: (t) => process.stdout.write(`${t}\n`),
  err: (t) => process.stderr.write(`${t}\n`),
};

const USAGE = `usage: autoglm rules check [file.json|folder …]
       autoglm rules test [folder]
       autoglm rules explain <observation.json> [--rules folder] [--live]
       autoglm rules draft "<sentence>" [--explain] [--force] [--file f] [--score f] [--train]`;

/**
 * `autoglm rules check|test|explain`: the policy author's tools. Each reads the rules folder
 * (default AUTOGLM_RULES_DIR) with the same checks decide runs at start; each exits 1 on a
 * problem or a failed case, so it can gate a pull request.
 */
export async function rulesCommand(args: readonly string[], io: Io = processIo): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'check':
      return checkCommand(rest, io);
    case 'test':
      return testCommand(rest, io);
    case 'explain':
      return explainCommand(rest, io);
    case 'draft':
      return draftCommand(rest, io);
    default:
      io.err(USAGE);
      return 2;
  }
}

/**
 * The checks decide runs at start (JSON, schema, facts, operators, actuators against this
 * environment's allowlists, unique names, shadowing, context files), on the given files or folders;
 * folders also get their rule tests' format checked.
 */
async function checkCommand(paths: readonly string[], io: Io): Promise<number> {
  const config = loadConfig();
  const files: string[] = [];
  const folders = new Set<string>();
  const problems: string[] = [];
  for (const p of paths.length > 0 ? paths : [config.rulesDir]) {
    try {
      if (fs.statSync(p, { throwIfNoEntry: false })?.isDirectory()) {
        files.push(...ruleFilesIn(p));
        folders.add(path.resolve(p));
      } else if (fs.existsSync(p)) {
        files.push(path.resolve(p));
        folders.add(path.dirname(path.resolve(p)));
      } else problems.push(`${p}: no such file or folder`);
    } catch (err) {
      if (err instanceof RuleLoadError) problems.push(...err.problems);
      else throw err;
    }
  }
  const actuators = actuatorsFromConfig(config);
  const read = readRuleFiles(files, { checkActuator: (ref) => actuators.check(ref) });
  problems.push(...read.problems);
  for (const folder of folders) problems.push(...loadContextDir(path.join(folder, 'context')).problems);
  problems.push(...(await checkRules(read.rules)));
  // Folders given (not a file's folder) also get their rule tests' format checked.
  for (const p of paths.length > 0 ? paths : [config.rulesDir]) {
    if (!fs.statSync(p, { throwIfNoEntry: false })?.isDirectory()) continue;
    for (const t of ruleTestFilesIn(p)) {
      const r = readRuleTestFile(t);
      if ('problems' in r) problems.push(...r.problems);
    }
  }
  if (problems.length > 0) {
    for (const p of problems) io.out(`✖ ${p}`);
    io.out(`${problems.length} problem(s) in ${files.length} file(s)`);
    return 1;
  }
  io.out(`✔ ${read.rules.length} rule(s) in ${files.length} file(s): no problems`);
  return 0;
}

/** Loads a folder's rule set for test/explain; prints the problems when it is refused. */
async function ruleSetOrProblems(dir: string, io: Io) {
  const config = loadConfig();
  const actuators = actuatorsFromConfig(config);
  const loaded = await loadRuleSet(dir, { checkActuator: (ref) => actuators.check(ref) });
  if (loaded.problems.length > 0) {
    for (const p of loaded.problems) io.out(`✖ ${p}`);
    io.out(
      `the rules in ${dir} are refused (${loaded.problems.length} problem(s)); run: autoglm rules check ${dir}`,
    );
  }
  return loaded.ruleSet;
}

/** `rules test`: every case of every `*.test.json` through the real decide core. */
async function testCommand(paths: readonly string[], io: Io): Promise<number> {
  if (paths.length > 1) {
    io.err(USAGE);
    return 2;
  }
  const dir = paths[0] ?? loadConfig().rulesDir;
  const set = await ruleSetOrProblems(dir, io);
  if (!set) return 1;
  const testFiles = fs.existsSync(dir) ? ruleTestFilesIn(dir) : [];
  let passed = 0;
  let failed = 0;
  for (const file of testFiles) {
    const read = readRuleTestFile(file);
    if ('problems' in read) {
      for (const p of read.problems) io.out(`✖ ${p}`);
      failed++;
      continue;
    }
    for (const c of read.cases) {
      const result = await runCase(set, file, c);
      io.out(`${result.passed ? '✔' : '✖'} ${result.file} › ${result.name}`);
      for (const d of result.details) io.out(`    ${d}`);
      if (result.passed) passed++;
      else failed++;
    }
  }
  if (passed + failed === 0) {
    io.out(`✖ no rule tests in ${dir}: add <rule>.test.json files beside the rules (see rules/README.md)`);
    return 1;
  }
  io.out(`${passed} passed, ${failed} failed (${testFiles.length} file(s), rule set ${set.hash})`);
  return failed > 0 ? 1 : 0;
}

/** `rules explain`: for one observation, every rule, every condition and what would hold it back. */
async function explainCommand(args: readonly string[], io: Io): Promise<number> {
  const live = args.includes('--live');
  const rulesAt = args.indexOf('--rules');
  const dir = rulesAt >= 0 ? args[rulesAt + 1] : loadConfig().rulesDir;
  const file = args.find((a, i) => !a.startsWith('--') && (rulesAt < 0 || i !== rulesAt + 1));
  if (!file || !dir) {
    io.err(USAGE);
    return 2;
  }
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    io.out(`✖ ${file}: cannot read an observation: ${(err as Error).message}`);
    return 1;
  }
  const parsed = observationSchema.safeParse(json);
  if (!parsed.success) {
    for (const i of parsed.error.issues) io.out(`✖ ${file}: ${i.path.join('.') || '(file)'}: ${i.message}`);
    io.out(
      'an observation is {entity, seq, window: {start, end}, features: {"cpu.avg": 92, …}, events: [], ts}',
    );
    return 1;
  }
  const obs = parsed.data;
  const set = await ruleSetOrProblems(dir, io);
  if (!set) return 1;
  const context = set.context.factsFor(obs.entity, obs.window.end);
  const facts = factsFor(obs, context);
  const { decisions, failures, held } = await new Decider(set).decide(obs, obs.window.end);
  io.out(
    `observation of ${obs.entity}, window ${new Date(obs.window.start).toISOString()} – ${new Date(obs.window.end).toISOString()}; rule set ${set.hash}`,
  );
  io.out(
    `context: service ${context.service ?? '(not in the catalog)'}, tier ${context.tier ?? '-'}, owner ${context.owner ?? '-'}, ` +
      `maintenance ${context.maintenance ? `yes (${context.maintenanceWindow})` : 'no'}`,
  );
  const guard = live ? await liveGuardLines(loadConfig(), obs.entity) : undefined;
  for (const { rule, tree } of explainRules(set.rules, facts)) {
    const decision = decisions.find((d) => d.rule === rule.name);
    const failure = failures.find((f) => f.rule === rule.name);
    const head = `${rule.name} (priority ${rule.priority}, ${rule.params.mode})`;
    io.out('');
    if (failure) io.out(`! ${head}: evaluation failed: ${failure.message}`);
    else if (decision) io.out(`✔ ${head} matches → ${decision.action} ${JSON.stringify(decision.args)}`);
    else if (held.some((h) => h.rule === rule.name))
      io.out(
        `✔ ${head} matches, pending: this one observation has not held for its \`for\` ${rule.params.for}`,
      );
    else io.out(`✖ ${head} does not match`);
    for (const line of renderExplained(tree)) io.out(line);
    for (const line of episodeLines(rule)) io.out(line);
    if (!decision && !held.some((h) => h.rule === rule.name)) continue;
    io.out(`  ${describeUrgency(urgencyOf(rule.params.priority, urgencyFacts(facts)))}`);
    const cooldown = formatDuration(parseDuration(rule.params.cooldown) ?? 0);
    if (rule.params.mode === 'shadow') io.out('  shadow mode: the decision is published, nothing is started');
    else if (rule.params.approval === 'required')
      io.out(
        `  approval required: the remediation waits for autoglm approve|reject; ${approversLine(loadConfig().approversFile, context.service)}`,
      );
    io.out(
      `  held back when: another remediation of ${obs.entity} is in flight (entity guard), or one by this rule ended less than ${cooldown} ago (cooldown)` +
        (live ? '' : '; add --live to ask Temporal for the guard now'),
    );
    for (const line of guard?.(rule.name) ?? []) io.out(`  ${line}`);
  }
  return 0;
}

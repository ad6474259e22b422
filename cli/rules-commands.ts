import fs from 'node:fs';
import path from 'node:path';
import { actuatorsFromConfig } from '../services/actuators/from-config.js';
import { loadConfig } from '../services/common/config.js';
import { checkRules } from '../services/decide/rule-check.js';
import { readRuleFiles, RuleLoadError, ruleFilesIn } from '../services/decide/rule-file.js';

/**
 * `autoglm rules check [paths…]`: the same checks decide runs at start (JSON, schema, facts,
 * operators, actuators against this environment's allowlists, unique names), on the given files or
 * folders (default AUTOGLM_RULES_DIR). Prints every problem with its file, JSON path and fix;
 * exits 1 when there is any, so it can gate a pull request.
 */
export async function rulesCommand(args: readonly string[]): Promise<number> {
  const [sub, ...paths] = args;
  if (sub !== 'check') {
    process.stderr.write('usage: autoglm rules check [file.json|folder …]\n');
    return 2;
  }
  const config = loadConfig();
  const files: string[] = [];
  const problems: string[] = [];
  for (const p of paths.length > 0 ? paths : [config.rulesDir]) {
    try {
      if (fs.statSync(p, { throwIfNoEntry: false })?.isDirectory()) files.push(...ruleFilesIn(p));
      else if (fs.existsSync(p)) files.push(path.resolve(p));
      else problems.push(`${p}: no such file or folder`);
    } catch (err) {
      if (err instanceof RuleLoadError) problems.push(...err.problems);
      else throw err;
    }
  }
  const actuators = actuatorsFromConfig(config);
  const read = readRuleFiles(files, { checkActuator: (ref) => actuators.check(ref) });
  problems.push(...read.problems, ...(await checkRules(read.rules)));
  if (problems.length > 0) {
    process.stdout.write(`${problems.map((p) => `✖ ${p}`).join('\n')}\n`);
    process.stdout.write(`${problems.length} problem(s) in ${files.length} file(s)\n`);
    return 1;
  }
  process.stdout.write(`✔ ${read.rules.length} rule(s) in ${files.length} file(s): no problems\n`);
  return 0;
}

import fs from 'node:fs';
import path from 'node:path';
import type { Registry } from 'prom-client';
import { readActuators } from '../actuators/from-config.js';
import { ModelLoadError } from '../classifier/model-files.js';
import { ConfigError, type Config } from '../common/config.js';
import type { Logger } from '../common/logger.js';
import { readRunbookDir, RunbookLoadError, type RunbookSection } from '../runbooks/runbook-files.js';
import { IncidentModel } from './incident-model.js';
import { RuleLoadError, type ActuatorCheck } from './rule-file.js';
import { loadRuleSet, type RuleSet } from './rule-set.js';

/**
 * decide's start was refused: `problems` lists every one (actuator settings and files, rule files,
 * model folder, runbooks), each naming its file or variable and the fix. A ConfigError (its name
 * too, so the CLI and the standalone process print it without a stack); the rule files', model's
 * and runbooks' problems are also kept as their own errors, to tell them apart.
 */
export class DecideStartError extends ConfigError {
  constructor(
    problems: readonly string[],
    readonly parts: {
      readonly rules?: RuleLoadError;
      readonly model?: ModelLoadError;
      readonly runbooks?: RunbookLoadError;
    },
  ) {
    super(problems);
    this.name = 'ConfigError';
  }
}

/** What decide's start needs from its files, all checked. */
export interface DecideStartFiles {
  readonly ruleSet: RuleSet;
  /** Loads and checks the rules folder again (hot reload), with the actuators checked at start. */
  readonly load: () => ReturnType<typeof loadRuleSet>;
  readonly classifier?: IncidentModel;
  readonly runbooks?: readonly RunbookSection[];
}

/**
 * Every check of decide's start before anything connects: the actuators' settings and files, the
 * rules folder (every check `autoglm rules check` runs, actuators against this deployment's
 * allowlists), the model folder and the runbooks. Throws one DecideStartError listing every
 * problem, so a fix does not meet the next round at the next start.
 */
export async function checkDecideStart(
  config: Config,
  deps: { logger: Logger; registry: Registry },
): Promise<DecideStartFiles> {
  const problems: string[] = [];
  const parts: { rules?: RuleLoadError; model?: ModelLoadError; runbooks?: RunbookLoadError } = {};

  // With the actuators' files refused (listed here), the rules' actuators are still checked against
  // what does not depend on those files: http URLs against the allowlist, commands in
  // AUTOGLM_COMMAND_DIR unless that folder is refused (listed once, not again per rule).
  const actuators = readActuators(config);
  problems.push(...actuators.problems);
  const checkActuator: ActuatorCheck = (ref) =>
    ref.type === 'command' && actuators.commandDirRefused ? [] : actuators.registry.check(ref);
  const load = () => loadRuleSet(config.rulesDir, { checkActuator });
  const { ruleSet, problems: ruleProblems } = await load();
  if (!ruleSet) {
    parts.rules = new RuleLoadError(ruleProblems);
    problems.push(...ruleProblems.map((p) => under('AUTOGLM_RULES_DIR', config.rulesDir, p)));
  }

  // A missing or corrupt model stops start-up unless the config says rules-only.
  let classifier: IncidentModel | undefined;
  if (config.modelDir !== 'off') {
    try {
      classifier = await IncidentModel.load({
        dir: config.modelDir,
        intervalMs: config.rulesReloadInterval,
        ...deps,
      });
    } catch (err) {
      if (!(err instanceof ModelLoadError)) throw err;
      parts.model = err;
      // One line each, with the file (in the folder: its name) and the fix: the error's own message.
      const inDir = path.relative(config.modelDir, err.file);
      const file = inDir === '' ? config.modelDir : inDir.startsWith('..') ? err.file : inDir;
      problems.push(
        ...err.problems.map((p) =>
          under('AUTOGLM_MODEL_DIR', config.modelDir, new ModelLoadError(file, [p]).message),
        ),
      );
    }
  }

  // A bad front matter stops start-up like a bad rule; no folder (or AUTOGLM_RUNBOOK_HITS=0) means
  // decisions without runbooks.
  let runbooks: RunbookSection[] | undefined;
  if (config.runbookHits > 0 && fs.existsSync(config.runbooksDir)) {
    if (!fs.statSync(config.runbooksDir).isDirectory()) {
      const problem = `AUTOGLM_RUNBOOKS_DIR=${config.runbooksDir}: not a folder; name the runbooks folder, or set AUTOGLM_RUNBOOK_HITS=0 for decisions without runbooks`;
      parts.runbooks = new RunbookLoadError([problem]);
      problems.push(problem);
    } else {
      try {
        runbooks = readRunbookDir(config.runbooksDir);
      } catch (err) {
        if (!(err instanceof RunbookLoadError)) throw err;
        parts.runbooks = err;
        problems.push(...err.problems.map((p) => under('AUTOGLM_RUNBOOKS_DIR', config.runbooksDir, p)));
      }
    }
  }

  if (problems.length > 0 || !ruleSet) {
    await classifier?.stop();
    throw new DecideStartError(problems, parts);
  }
  return { ruleSet, load, ...(classifier ? { classifier } : {}), ...(runbooks ? { runbooks } : {}) };
}

/**
 * A problem of a file in the folder a variable names ("cpu.json: …"), said with the variable and
 * folder first; one about the folder itself ("<dir>: …") gets the variable's name in front.
 */
function under(variable: string, dir: string, problem: string): string {
  return problem.startsWith(`${dir}:`) ? `${variable}=${problem}` : `${variable}=${dir}: ${problem}`;
}

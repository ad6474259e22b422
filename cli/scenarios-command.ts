import { parseArgs } from 'node:util';
import { localInfra } from '../infra/infra.js';
import { topicNames } from '../services/common/config.js';
import { createKafka } from '../services/common/kafka.js';
import { createLogger } from '../services/common/logger.js';
import { uniqueName } from '../services/common/unique-name.js';
import { formatScorecard } from '../services/fleet/scorecard.js';
import { runOverrides, runScenarioSuite, type SuiteResult } from './scenario-suite.js';

/**
 * `autoglm scenarios [--rules-only-timeout 150s]`: the scenario suite by hand. Brings the infra up,
 * then runs every scenario class against the real loop twice: with the shipped classifier, then
 * rules only, on topics of their own (a running `autoglm up` is not disturbed), and prints both
 * tables. Exits 1 when the run with the classifier has a wrong action, a remediation of a healthy
 * entity, or an incident not settled.
 */
export async function scenariosCommand(args: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: { 'rules-only-timeout': { type: 'string', default: '150' } },
  });
  const infra = localInfra();
  const endpoints = await infra.up((line) => process.stderr.write(`infra: ${line}\n`));
  const logger = createLogger('warn');
  const say = (line: string) => process.stdout.write(`${line}\n`);
  const run = async (rulesOnly: boolean, timeoutMs: number): Promise<SuiteResult> => {
    const id = uniqueName(rulesOnly ? 'suite-rules' : 'suite');
    say(`\n${rulesOnly ? 'rules only' : 'with the classifier'}: topics ${id}.autoglm.*`);
    const result = await runScenarioSuite({
      overrides: runOverrides(id, endpoints),
      logger,
      rulesOnly,
      timeoutMs,
      progress: (line) => say(`  ${line}`),
    });
    const admin = createKafka(result.config, logger).admin();
    await admin.connect();
    await admin.deleteTopics({ topics: Object.values(topicNames(result.config)) }).catch(() => undefined);
    await admin.disconnect();
    return result;
  };
  const withModel = await run(false, 5 * 60_000);
  const rulesOnly = await run(true, Number(values['rules-only-timeout']) * 1000);
  say('');
  for (const line of formatScorecard(withModel.scorecard, 'with the classifier')) say(line);
  say('');
  for (const line of formatScorecard(rulesOnly.scorecard, 'rules only (AUTOGLM_MODEL_DIR=off)')) say(line);
  const t = withModel.scorecard.total;
  const ok =
    t.wrong === 0 &&
    t.falsePositives === 0 &&
    t.actedTwice === 0 &&
    t.accounted === t.right &&
    t.missed === 0;
  say(
    `\n${ok ? 'PASS' : 'FAIL'}: ${t.wrong} wrong, ${t.falsePositives} on healthy entities, ${t.missed} missed, ${t.accounted} settled`,
  );
  return ok ? 0 : 1;
}

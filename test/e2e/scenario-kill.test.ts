/**
 * The scenario suite with the act worker as its own process, killed with -9 in the middle of the
 * run and started again: the simulator's action log shows no incident acted on twice and none
 * lost (every incident's remediation settled), with zero wrong actions.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { runScenarioSuite, type SuiteResult } from '../../cli/scenario-suite.js';
import { createKafka } from '../../services/common/kafka.js';
import { createLogger } from '../../services/common/logger.js';
import { formatScorecard } from '../../services/fleet/scorecard.js';
import { testOverrides } from '../support/config.js';
import { deleteTopicsWithPrefix } from '../support/kafka.js';
import { spawnService } from '../support/service-process.js';

const logger = createLogger('warn');

describe('scenario suite across a kill -9 (real loop, simulated fleet)', () => {
  const results: SuiteResult[] = [];
  const children: ChildProcess[] = [];
  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const r of results)
      await deleteTopicsWithPrefix(createKafka(r.config, logger), r.config.topicPrefix);
  });

  it('kill -9 of the act worker in the middle of the run: no incident acted on twice, none lost', async () => {
    let killedAt = 0;
    const result = await runScenarioSuite({
      overrides: testOverrides(),
      logger,
      timeoutMs: 200_000,
      external: 'act',
      during: async ({ config }) => {
        const env = {
          AUTOGLM_HTTP_ACTUATOR_URL: config.httpActuatorUrl,
          AUTOGLM_ACTUATOR_HMAC_KEY_FILE: config.actuatorHmacKeyFile,
        };
        const first = spawnService('act', config, env);
        children.push(first);
        // Injections come 35s after this; the first remediations act 10-20s after them.
        await sleep(55_000);
        const exited = once(first, 'exit');
        first.kill('SIGKILL');
        await exited;
        killedAt = Date.now();
        await sleep(2000);
        children.push(spawnService('act', config, env));
      },
    });
    results.push(result);
    const card = result.scorecard;
    for (const line of formatScorecard(card, 'scenario suite, act killed with -9 mid-run')) logger.warn(line);
    assert.ok(killedAt > 0, 'the act worker was killed');
    assert.equal(card.total.actedTwice, 0, 'no incident acted on twice');
    assert.equal(card.total.wrong, 0);
    assert.equal(card.total.falsePositives, 0);
    for (const row of card.rows.filter((r) => r.class !== 'noisy_healthy' && r.class !== 'healthy_fleet')) {
      assert.equal(row.right, 1, `${row.class}: acted on, right`);
      assert.equal(row.accounted, 1, `${row.class}: settled, not lost`);
    }
  });
});

/**
 * The scenario suite against the real loop (Kafka, Temporal, the four steps, the shipped
 * classifier) and the fleet simulator: every scenario class is injected once and scored against
 * the simulator's ground truth. Zero wrong actions, zero remediations of the noisy-but-healthy or
 * healthy entities, every incident's remediation settled, none acted on twice.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createLogger } from '../../services/common/logger.js';
import { formatScorecard } from '../../services/fleet/scorecard.js';
import { runScenarioSuite, type SuiteResult } from '../../cli/scenario-suite.js';
import { testOverrides } from '../support/config.js';
import { deleteTopicsWithPrefix } from '../support/kafka.js';
import { createKafka } from '../../services/common/kafka.js';

const logger = createLogger('warn');

describe('scenario suite (real loop, simulated fleet)', () => {
  const results: SuiteResult[] = [];
  after(async () => {
    for (const r of results)
      await deleteTopicsWithPrefix(createKafka(r.config, logger), r.config.topicPrefix);
  });

  it('acts right on every incident class, never on the healthy fleet, and settles every incident', async () => {
    const result = await runScenarioSuite({ overrides: testOverrides(), logger, timeoutMs: 200_000 });
    results.push(result);
    const { scorecard: card } = result;
    for (const line of formatScorecard(card, 'scenario suite, with the classifier')) logger.warn(line);
    const row = (cls: string) => card.rows.find((r) => r.class === cls)!;
    assert.equal(card.total.wrong, 0, 'no wrong action');
    assert.equal(card.total.falsePositives, 0, 'no remediation of a noisy-but-healthy or healthy entity');
    assert.equal(card.total.actedTwice, 0, 'no incident acted on twice');
    for (const cls of ['cpu_saturation', 'memory_leak', 'bad_deploy', 'disk_pressure', 'dependency_outage']) {
      assert.equal(row(cls).incidents, 1, cls);
      assert.equal(row(cls).right, 1, `${cls}: the right action`);
      assert.equal(row(cls).accounted, 1, `${cls}: its remediation settled`);
    }
    assert.equal(row('noisy_healthy').incidents, 1);
  });
});

/**
 * One action per incident when two rules see it and the second starts after the first fixed it, on
 * the real services (real Kafka, the Temporal dev server, the act process with its guard worker,
 * the verify service; only the HTTP target is ours). Rule A acts on the entity; rule B decided on
 * the same incident from a window that ended before A acted, but its remediation starts only after
 * A ended (as after a decide backlog or a queue of starts): its input is fresh enough to act by age
 * alone, and the entity guard absorbs it, naming A. Decide's follower of the verdicts topic takes
 * that verdict as it takes a stale end (the episode decides again on fresh input), and a decision
 * of B from after the fix still acts: a real second problem is not lost.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Verdict } from '../../services/common/contracts.js';
import { decisionIdFor } from '../../services/decide/decision-id.js';
import { followStaleEnds, type StaleEnds } from '../../services/decide/episode-stale-ends.js';
import { RemediationStarter } from '../../services/decide/workflow-starter.js';
import { SafetyHarness } from '../support/safety-harness.js';

const RULE_B = 'second-cpu-rule';

describe('one action per incident when a second rule starts after the fix (real services)', () => {
  let h: SafetyHarness;
  let follower: StaleEnds | undefined;
  before(async () => {
    h = await SafetyHarness.start();
  });
  after(async () => {
    await follower?.stop();
    await h?.stop();
  });

  it('absorbs the second rule’s remediation decided before the fix, and acts on one decided after it', async () => {
    const act = await h.startAct();
    try {
      const e = h.entity('two-rules');
      const starter = new RemediationStarter(h.client, h.config);
      const ruleB = (end: number) => {
        const window = { start: end - 3000, end };
        return h.decision(e, end, {
          rule: RULE_B,
          action: 'restart',
          args: { entity: e },
          decisionId: decisionIdFor(e, RULE_B, window),
        });
      };
      const t0 = Date.now();
      const early = ruleB(t0 - 500);
      const fix = h.decision(e, t0);
      assert.equal((await starter.start(fix)).started, true);
      const fixed = await h.verdicts.waitFor<Verdict>((v) => v.decisionId === fix.decisionId, 60_000);
      assert.ok(fixed.evidence.acted, `rule A acted: ${JSON.stringify(fixed.evidence)}`);
      assert.equal(h.callsFor(e).length, 1);

      assert.equal((await starter.start(early)).started, true);
      const absorbed = await h.verdicts.waitFor<Verdict>((v) => v.decisionId === early.decisionId, 60_000);
      assert.ok(Date.now() - early.window.end < h.config.maxDecisionAge, 'fresh enough to act by age alone');
      assert.equal(absorbed.outcome, 'absorbed', JSON.stringify(absorbed.evidence));
      assert.match(
        String(absorbed.evidence.reason),
        new RegExp(
          `before remediation ${fixed.workflowId} \\(${fix.rule}: scale_out\\) of ${e} acted and ended at`,
        ),
      );
      assert.deepEqual(
        h.callsFor(e).map((c) => c.body.action),
        ['scale_out'],
        'one action for the incident',
      );

      // Decide's follower of the verdicts topic: B's episode may decide again (A's verdict: no).
      const reopened: string[] = [];
      follower = await followStaleEnds({
        kafka: h.kafka,
        topic: h.topics.verdicts,
        groupPrefix: h.config.groupPrefix,
        lookbackMs: 5 * 60_000,
        logger: h.logger,
        onStale: (v) => reopened.push(v.decisionId),
      });
      const deadline = Date.now() + 30_000;
      while (!reopened.includes(early.decisionId) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(reopened, [early.decisionId], 'only the absorbed-before-the-fix verdict re-opens');

      const late = ruleB(Date.now());
      assert.equal((await starter.start(late)).started, true);
      const second = await h.verdicts.waitFor<Verdict>((v) => v.decisionId === late.decisionId, 60_000);
      assert.ok(
        second.evidence.acted,
        `a decision from after the fix acts: ${JSON.stringify(second.evidence)}`,
      );
      assert.deepEqual(
        h.callsFor(e).map((c) => c.body.action),
        ['scale_out', 'restart'],
      );
    } finally {
      await act.stop();
    }
  });
});

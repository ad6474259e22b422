/**
 * The scenario suite with each of the four steps as its own process, each killed with -9 once at
 * a moment it has work in flight and started again: sense while the incidents develop, decide
 * while they are being decided, act while its HTTP call is at the fleet (the fleet has acted, its
 * answer held back) and the remediation holds its entity's lease, verify while a remediation it
 * watches awaits its verdict. Every scenario class is injected once (the noisy-but-healthy one
 * too: this run holds the checks of the plain suite as well). The fleet's action log and the
 * verdicts topic judge: no incident lost, none acted on twice, every verdict published, and
 * every killed step's successor did the work its predecessor left.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { Decision } from '../../services/common/contracts.js';
import { createKafka } from '../../services/common/kafka.js';
import { createLogger } from '../../services/common/logger.js';
import { workflowIdFor } from '../../services/decide/decision-id.js';
import { formatScorecard } from '../../services/fleet/scorecard.js';
import type { LoopStep } from '../../services/loop.js';
import { testConfig, testOverrides } from '../support/config.js';
import { deleteTopicsWithPrefix } from '../support/kafka.js';
import { formatKillFigures, runKillRun, type KillNote } from '../support/kill-run.js';

const logger = createLogger('warn');
const CLASSES = [
  'cpu_saturation',
  'memory_leak',
  'bad_deploy',
  'disk_pressure',
  'dependency_outage',
] as const;

describe('scenario suite across kill -9 of each step (real loop as four processes, simulated fleet)', () => {
  const overrides = testOverrides();
  after(async () => {
    const c = testConfig(overrides);
    await deleteTopicsWithPrefix(createKafka(c, logger), c.topicPrefix);
  });

  it('kills sense, decide, act and verify mid-work: nothing lost, nothing acted on twice, every verdict published', async () => {
    const run = await runKillRun({ overrides, logger, plan: { kind: 'events' }, timeoutMs: 200_000 });
    const { suite, figures: f, kills } = run;
    const card = suite.scorecard;
    for (const line of [
      ...formatScorecard(card, 'scenario suite, each step killed -9 once'),
      ...formatKillFigures(f),
    ])
      logger.warn(line);

    // Each step was killed once, at its moment, and started again.
    const killOf = (step: LoopStep): KillNote => {
      const mine = kills.filter((k) => k.step === step);
      assert.equal(mine.length, 1, `${step} killed once (${kills.map((k) => k.step).join(', ')})`);
      assert.ok(mine[0]!.restartedAt, `${step} started again`);
      return mine[0]!;
    };
    const decisionsAfter = (seen: ReadonlySet<string> | undefined) =>
      suite.decisions.filter((d) => !seen?.has(d.decisionId));

    // act: its call was open at the fleet and its lease held; the new worker retried it with the
    // same key (the fleet logged a duplicate, nothing done again), and the remediation got its verdict.
    const act = killOf('act');
    const cut = act.cutCall!;
    assert.ok(act.openCalls.includes(cut), `${cut} open at the kill (open: ${act.openCalls.join(', ')})`);
    assert.equal(act.leaseHeld, true, `${cut} held its entity's lease when act was killed`);
    const calls = suite.actions.filter((a) => a.idempotencyKey === cut);
    assert.equal(calls.filter((a) => a.effective).length, 1, `${cut} acted on once`);
    assert.ok(
      calls.some((a) => a.verdict === 'duplicate' && a.at > act.at),
      `${cut} was retried by the new act worker after the kill (fleet saw ${calls.map((a) => a.verdict).join(', ')})`,
    );
    assert.ok(
      suite.verdicts.some((v) => v.workflowId === cut && v.ts > act.restartedAt!),
      `${cut} got its verdict`,
    );

    // verify: remediations awaited their verdict at the kill (the first acted 1-5s before, and
    // needs 10s of stable metrics); each got one, at least one through the new worker.
    const verify = killOf('verify');
    assert.ok(verify.inFlight.length > 0, 'a remediation was being verified at the kill');
    const verdictAt = (id: string) => suite.verdicts.find((v) => v.workflowId === id)?.ts ?? 0;
    for (const id of verify.inFlight) assert.ok(verdictAt(id) > verify.at, `${id} got its verdict`);
    assert.ok(
      verify.inFlight.some((id) => verdictAt(id) > verify.restartedAt!),
      'a verdict came after verify was started again',
    );

    // decide: killed after its first decision, with incidents still to decide; the new process decided them.
    const decide = killOf('decide');
    assert.ok(decide.decisionsAtRestart!.size > 0, 'decide had decided when it was killed');
    assert.ok(decisionsAfter(decide.decisionsAtRestart).length > 0, 'the new decide made decisions');

    // sense: the new process computed windows that end after it started (the old one was gone).
    const sense = killOf('sense');
    assert.ok(
      suite.decisions.some((d: Decision) => d.window.end > sense.restartedAt!),
      'decisions on windows the new sense computed',
    );

    // The ground truth: nothing lost, nothing twice, every verdict, nothing wrong.
    assert.deepEqual(f.lost, [], 'no incident lost');
    assert.deepEqual(f.actedTwice, [], 'no incident acted on twice');
    assert.deepEqual(f.verdictsMissing, [], 'every remediation started has its verdict on the topic');
    assert.equal(
      f.verdictsPublished,
      new Set(suite.decisions.filter((d) => d.mode === 'enforce' && !d.stale).map(workflowIdFor)).size,
    );
    assert.equal(card.total.wrong, 0, 'no wrong action');
    assert.equal(card.total.falsePositives, 0, 'no remediation of the noisy-but-healthy or a healthy entity');
    const row = (cls: string) => card.rows.find((r) => r.class === cls);
    for (const cls of CLASSES) {
      assert.equal(row(cls)?.incidents, 1, `${cls} injected`);
      assert.equal(row(cls)?.right, 1, `${cls}: the right action`);
      assert.equal(row(cls)?.accounted, 1, `${cls}: its remediation settled`);
    }
    assert.equal(row('noisy_healthy')?.incidents, 1, 'the noisy-but-healthy entity was injected');
    assert.equal(f.incidents, CLASSES.length);
  });
});

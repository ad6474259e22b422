/**
 * The action budget answers every request a drain grants or defers at once (one workflow task
 * for the lot, not a round trip each), stays exact while doing so (never more in flight than the
 * limit, never more per period), and a budget history recorded when it answered one by one still
 * replays (the change is behind `patched('budget-answers-at-once')`). Time-skipping test server;
 * the "remediations" are open workflows on a task queue no worker polls.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import proto from '@temporalio/proto';
import {
  acquireSignal,
  guardStatusQuery,
  releaseSignal,
  type BudgetLimits,
  type LeaseAnswer,
} from '../../workflows/definitions.js';
import { BudgetEnv, eventually, NARROW_LIMITS } from '../support/budget-env.js';
import { readHistory, recordMissing, replayFailures } from '../support/histories.js';

const historiesDir = fileURLToPath(new URL('../fixtures/histories/guards/', import.meta.url));
/** A budget history with lanes whose answers went one per workflow task (before the patch). */
const ONE_BY_ONE = 'budget-answers-one-by-one';
const EventType = proto.temporal.api.enums.v1.EventType;

const narrow: BudgetLimits = NARROW_LIMITS;

type Events = proto.temporal.api.history.v1.IHistoryEvent[];

/** The most answers (signals to remediations) one workflow task of the budget sent. */
function mostAnswersInOneTask(events: Events): number {
  let most = 0;
  let run = 0;
  for (const e of events) {
    if (e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED) run = 0;
    else if (e.eventType === EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED)
      most = Math.max(most, ++run);
  }
  return most;
}

describe('the action budget answers a drain at once (time-skipping test server)', () => {
  let b: BudgetEnv;

  before(async () => {
    b = await BudgetEnv.start();
  });

  after(async () => {
    await b?.stop();
  });

  const liveHolder = (name: string) => b.liveHolder(name);
  const answers = async (holder: string): Promise<LeaseAnswer['result'][]> =>
    (await b.answers(holder)).map((a) => a.result);

  const request = (holder: string, i: number, limits: BudgetLimits) => ({
    holder,
    entity: holder,
    rule: 'disk',
    action: 'clean_disk',
    cooldownMs: 0,
    lane: 3 + (i % 2),
    fairnessKey: `service:s${i % 3}`,
    limits,
  });

  it('grants what a wider limit lets through in one workflow task, every holder told once', async () => {
    const budget = await b.startBudget(narrow, 'budget-answers');
    const holders = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => liveHolder(`remediate-h${i}`)));
    for (const [i, h] of holders.entries()) await budget.signal(acquireSignal, request(h, i, narrow));
    await eventually(
      () => budget.query(guardStatusQuery),
      (s) => s.holders.length === 1 && s.deferred.length === 5,
      'one granted, five wait',
    );
    // The same holders ask again (as a remediation does every 30 s) with six slots: five grants at once.
    const wide = { ...narrow, maxConcurrentPerAction: 6 };
    await budget.signal(acquireSignal, request(holders[5]!, 5, wide));
    await eventually(
      () => budget.query(guardStatusQuery),
      (s) => s.holders.length === 6 && s.deferred.length === 0,
      'all six hold a slot',
    );
    for (const h of holders)
      assert.equal(
        (
          await eventually(
            () => answers(h),
            (a) => a.at(-1) === 'granted',
            `${h} is told it is granted`,
          )
        ).filter((a) => a === 'granted').length,
        1,
        `${h} is granted once`,
      );
    // Two go, the narrow limit is back: nothing more is granted until the five others are down to one.
    for (const h of holders.slice(0, 2))
      await budget.signal(releaseSignal, { holder: h, endedAt: await b.env.currentTimeMs(), acted: true });
    await eventually(
      () => budget.query(guardStatusQuery),
      (s) => s.holders.length === 4,
      'two released',
    );
    const { events } = await budget.fetchHistory();
    const markers = (events ?? []).filter(
      (e) => e.markerRecordedEventAttributes?.markerName === 'core_patch',
    );
    // Recorded once with the code from before the patch; a committed history is never replaced.
    if (markers.length === 0) recordMissing(historiesDir, new Map([[ONE_BY_ONE, { events: events ?? [] }]]));
    assert.ok(markers.length >= 1, 'the budget runs behind the patch marker');
    assert.ok(
      mostAnswersInOneTask(events ?? []) >= 5,
      `five grants of one drain in one workflow task (most: ${mostAnswersInOneTask(events ?? [])})`,
    );
  });

  it('answers a queue of 130 with at most 100 answers on their way at once, each holder once', async () => {
    const budget = await b.startBudget(narrow, 'budget-rounds');
    const holders = await Promise.all(Array.from({ length: 130 }, (_, i) => liveHolder(`remediate-r${i}`)));
    const deep = { ...narrow, maxDeferred: 1000 };
    await Promise.all(holders.map((h, i) => budget.signal(acquireSignal, request(h, i, deep))));
    const waiting = await eventually(
      () => budget.query(guardStatusQuery),
      (s) => s.deferred.length === 129,
      '129 wait',
    );
    // One that waits asks again with room for all: 129 grants in one drain.
    const asker = waiting.deferred[0]!.holder;
    const wide = { ...deep, maxConcurrentPerAction: 1000, maxConcurrentPerRule: 1000 };
    await budget.signal(acquireSignal, request(asker, holders.indexOf(asker), wide));
    await eventually(
      () => budget.query(guardStatusQuery),
      (s) => s.holders.length === 130,
      'all 130 hold a slot',
    );
    const { events } = await budget.fetchHistory();
    // 129 grants owed at once (and deferred answers to the first requests may still be on their way).
    const most = mostAnswersInOneTask(events ?? []);
    assert.ok(
      most > 1 && most <= 100,
      `at most 100 answers on their way at once (most in one task: ${most})`,
    );
    const granted = await Promise.all(
      holders.map((h) =>
        eventually(
          () => answers(h),
          (a) => a.at(-1) === 'granted',
          `${h} is told`,
        ),
      ),
    );
    assert.deepEqual(
      granted.map((a) => a.filter((x) => x === 'granted').length),
      holders.map(() => 1),
      'each granted once',
    );
  });

  it('stays exact while answering at once: never more in flight, nor per period, than the limits', async () => {
    const limits: BudgetLimits = { ...narrow, maxConcurrentPerAction: 3, maxActionsPerPeriod: 7 };
    const budget = await b.startBudget(limits, 'budget-exact');
    const holders = await Promise.all(Array.from({ length: 12 }, (_, i) => liveHolder(`remediate-x${i}`)));
    // Every request at once, as a storm of remediations sends them.
    await Promise.all(holders.map((h, i) => budget.signal(acquireSignal, request(h, i, limits))));
    const granted = new Set<string>();
    let most = 0;
    for (let round = 0; round < 6; round++) {
      const s = await budget.query(guardStatusQuery);
      most = Math.max(most, s.holders.length);
      for (const h of s.holders) granted.add(h.holder);
      const current = s.holders[0];
      if (current)
        await budget.signal(releaseSignal, {
          holder: current.holder,
          endedAt: await b.env.currentTimeMs(),
          acted: true,
        });
      await sleep(300);
    }
    const s = await budget.query(guardStatusQuery);
    for (const h of s.holders) granted.add(h.holder);
    most = Math.max(most, s.holders.length);
    assert.ok(most <= 3, `at most 3 in flight (saw ${most})`);
    assert.equal(granted.size, 7, 'exactly the 7 of the period granted, though slots freed for more');
    assert.equal(s.grantsInPeriod, 7);
    assert.match(s.deferred[0]?.reason ?? '', /AUTOGLM_MAX_ACTIONS_PER_PERIOD=7/);
    // Each of the seven was told "granted" exactly once; the five others never.
    for (const h of holders) {
      const got = (await answers(h)).filter((a) => a === 'granted').length;
      assert.equal(got, granted.has(h) ? 1 : 0, `${h}: ${got} grants`);
    }
  });

  it('replays a budget history with lanes recorded when it answered one by one', async () => {
    const history = readHistory(historiesDir, `${ONE_BY_ONE}.pb`);
    assert.equal(mostAnswersInOneTask(history.events ?? []), 1, 'the old history answered one per task');
    assert.ok(
      (history.events ?? []).some((e) =>
        e.workflowExecutionSignaledEventAttributes?.input?.payloads?.some((p) =>
          Buffer.from(p.data ?? [])
            .toString()
            .includes('"lane"'),
        ),
      ),
      'its requests carry lanes',
    );
    const failures = await replayFailures(b.bundle, [{ workflowId: `${ONE_BY_ONE}.pb`, history }]);
    assert.deepEqual(failures, []);
  });
});

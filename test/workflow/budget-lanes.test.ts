/**
 * The action budget's lanes on Temporal's time-skipping test server, driven by signals as the
 * remediations drive it: a later urgent request is granted before the routine ones that wait (and
 * they say who overtook them), a quiet service is served between a noisy one's requests, and
 * histories recorded before lanes (the budget's, and remediations' that waited for it) replay.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import proto from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import {
  acquireSignal,
  guardStatusQuery,
  releaseSignal,
  type BudgetLimits,
  type LeaseRequest,
} from '../../workflows/definitions.js';
import { BudgetEnv, eventually, NARROW_LIMITS } from '../support/budget-env.js';

const historiesDir = fileURLToPath(new URL('../fixtures/histories/', import.meta.url));
const History = proto.temporal.api.history.v1.History;
/** One clean_disk at a time: the queue's order is the grant order, driven by releases. */
const limits: BudgetLimits = NARROW_LIMITS;

describe('the action budget’s lanes (time-skipping test server)', () => {
  let b: BudgetEnv;

  before(async () => {
    b = await BudgetEnv.start();
  });

  after(async () => {
    await b?.stop();
  });

  const liveHolder = (name: string) => b.liveHolder(name);
  const lastAnswer = async (holder: string) => (await b.answers(holder)).at(-1)?.result;

  async function startBudget() {
    const budget = await b.startBudget(limits, 'budget-lanes');
    const request = (
      holder: string,
      lane: number,
      fairnessKey: string,
    ): LeaseRequest & { limits: BudgetLimits } => ({
      holder,
      entity: holder,
      rule: 'disk',
      action: 'clean_disk',
      cooldownMs: 0,
      lane,
      fairnessKey,
      limits,
    });
    /** The holder that holds the one slot, once the budget has answered every signal so far. */
    const holder = async () => {
      const s = await budget.query(guardStatusQuery);
      return s.holders.map((h) => h.holder);
    };
    /** Releases the slot's holder and returns the next holder granted. */
    const next = async () => {
      const [current] = await holder();
      await budget.signal(releaseSignal, {
        holder: current!,
        endedAt: await b.env.currentTimeMs(),
        acted: true,
      });
      const [granted] = await eventually(
        holder,
        (h) => h.length === 1 && h[0] !== current,
        'the next request is granted',
      );
      assert.equal(
        await eventually(
          () => lastAnswer(granted!),
          (a) => a === 'granted',
          `${granted} is told`,
        ),
        'granted',
      );
      return granted!;
    };
    return { budget, request, next };
  }

  it('grants a later urgent request before the routine ones waiting, and shows who overtook them', async () => {
    const { budget, request, next } = await startBudget();
    const routine = await Promise.all([0, 1, 2, 3].map((i) => liveHolder(`remediate-routine${i}`)));
    const urgent = await liveHolder('remediate-urgent');
    for (const r of routine) await budget.signal(acquireSignal, request(r, 4, 'service:batch'));
    await eventually(
      () => budget.query(guardStatusQuery),
      (s) => s.deferred.length === 3,
      'three routine requests wait',
    );
    await budget.signal(acquireSignal, request(urgent, 1, 'service:checkout'));
    await eventually(
      () => budget.query(guardStatusQuery),
      (s) => s.deferred.length === 4,
      'the urgent request waits too',
    );
    assert.equal(await next(), urgent, 'the urgent request goes first');
    const waiting = (await budget.query(guardStatusQuery)).deferred;
    assert.deepEqual(
      waiting.map((d) => [d.holder, d.lane, d.overtaken?.by, d.overtaken?.because]),
      routine.slice(1).map((r) => [r, 4, urgent, 'lane 1 before lane 4']),
    );
    assert.deepEqual(
      [await next(), await next(), await next()],
      routine.slice(1),
      'then the routine ones, oldest first',
    );
  });

  it('serves a quiet service between a noisy one’s requests in the same lane', async () => {
    const { budget, request, next } = await startBudget();
    const a = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => liveHolder(`remediate-a${i}`)));
    const b = await Promise.all([0, 1].map((i) => liveHolder(`remediate-b${i}`)));
    for (const h of a) await budget.signal(acquireSignal, request(h, 4, 'service:a'));
    for (const h of b) await budget.signal(acquireSignal, request(h, 4, 'service:b'));
    await eventually(
      () => budget.query(guardStatusQuery),
      (s) => s.deferred.length === 7,
      'a1..a5, b0, b1 wait',
    );
    const order = [];
    for (let i = 0; i < 4; i++) order.push(await next());
    assert.deepEqual(order, [b[0], a[1], b[1], a[2]], 'b is not left for last');
    const status = await budget.query(guardStatusQuery);
    assert.match(status.deferred[0]?.overtaken?.because ?? '', /service:b was served less recently/);
  });

  it('replays a budget history recorded before lanes, and remediations that waited for it', async () => {
    const files = [
      'guards/budget-before-lanes.pb',
      'deferred-by-budget.pb',
      'action-budget.pb',
      'denied-by-budget.pb',
    ];
    const failures: string[] = [];
    const histories = files.map((f) => ({
      workflowId: f,
      history: History.decode(fs.readFileSync(path.join(historiesDir, f))),
    }));
    assert.ok(
      histories[0]!.history.events!.some(
        (e) => e.workflowExecutionSignaledEventAttributes?.signalName === acquireSignal.name,
      ),
      'the old budget history holds requests (without lanes)',
    );
    for await (const result of Worker.runReplayHistories({ workflowBundle: b.bundle }, histories))
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    assert.deepEqual(failures, []);
  });
});

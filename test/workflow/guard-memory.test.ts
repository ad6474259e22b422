/**
 * The entity guard remembers the last remediation that acted on its entity, on Temporal's
 * time-skipping test server with real remediations (act, guard and verify workers; the target is
 * ours): a remediation of another rule whose input window ended before that one acted and ended was
 * decided on the entity as it was before the fix, so it is absorbed with a reason naming the fix
 * and acts nothing (decide re-opens its episode, as after a stale end); one whose input ended after
 * the fix still acts (a real second problem is not lost). The guard keeps the memory for the
 * stale-input limit plus the guard wait after the fix ended, and ends then, not before. The
 * histories of these paths are committed in test/fixtures/histories/act-memory and replay.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import type { Verdict } from '../../services/common/contracts.js';
import { staleVerdictOf } from '../../services/decide/episode-stale-ends.js';
import {
  ACT_MEMORY_PATCH,
  entityGuardId,
  guardStatusQuery,
  type RemediateSettings,
} from '../../workflows/definitions.js';
import { BudgetEnv, eventually, NARROW_LIMITS } from '../support/budget-env.js';
import { unique } from '../support/config.js';
import { replayWithCommitted, type FetchedHistory } from '../support/histories.js';

const historiesDir = fileURLToPath(new URL('../fixtures/histories/act-memory/', import.meta.url));
/** The paths whose histories are committed (`AUTOGLM_RECORD_HISTORIES=1` writes the missing ones). */
const PATHS = ['absorbed-before-act', 'acted-then-remembered', 'guard-forgets-after-memory'];
const MINUTE = 60_000;
/** The stale-input limit (AUTOGLM_MAX_DECISION_AGE's default) and the remediation's guard wait. */
const MAX_AGE_MS = 3 * MINUTE;
const GUARD_WAIT_MS = 2 * MINUTE;

describe('the entity guard remembers the last act on its entity (time-skipping test server)', () => {
  let b: BudgetEnv;
  const histories = new Map<string, FetchedHistory>();
  const record = async (name: string, handle: WorkflowHandle) =>
    histories.set(name, await handle.fetchHistory());

  before(async () => {
    b = await BudgetEnv.start({
      loop: true,
      limits: { ...NARROW_LIMITS, maxConcurrentPerAction: 10 },
    });
  });
  after(async () => {
    await b?.stop();
  });

  const settings = (scope: string, over: Partial<RemediateSettings> = {}) =>
    b.settings(scope, { maxDecisionAgeMs: MAX_AGE_MS, ...over });
  const cpu = { rule: 'cpu-scale-out', action: 'scale_out' };
  const mem = { rule: 'mem-restart', action: 'restart' };
  const actionsOn = (entity: string) =>
    b.target.received.filter((a) => a.body.entity === entity).map((a) => a.body.action);
  const verdictOf = async (handle: WorkflowHandle) => (await handle.result()) as Verdict;

  it('absorbs another rule whose input ended before the fix, naming it; an input from after the fix acts', async () => {
    const scope = unique('mem');
    const entity = unique('host');
    const s = settings(scope, { cooldownMs: 10 * MINUTE });
    // Rule B decides on the incident; then rule A, on the same incident, acts and fixes it.
    const early = await b.decisionFor(entity, mem);
    await b.env.sleep(5_000);
    const fix = await b.remediate('remediate-a', await b.decisionFor(entity, cpu), s);
    const fixed = await verdictOf(fix);
    assert.equal(fixed.outcome, 'verified', JSON.stringify(fixed.evidence));
    await record('acted-then-remembered', fix);

    // B's remediation starts after the fix (its input is 5 s old: fresh enough to act on its own).
    const late = await b.remediate('remediate-b', early, s);
    const absorbed = await verdictOf(late);
    assert.equal(absorbed.outcome, 'absorbed', JSON.stringify(absorbed.evidence));
    assert.match(
      String(absorbed.evidence.reason),
      new RegExp(
        `^its input ended at ${new Date(early.window.end).toISOString()}, before remediation ${fix.workflowId} \\(cpu-scale-out: scale_out\\) of ${entity} acted and ended at .*: decided on the entity as it was before that fix`,
      ),
    );
    const before = absorbed.evidence.inputBeforeAct as { holder: string; endedAt: number; inputEnd: number };
    assert.equal(before.holder, fix.workflowId);
    assert.equal(before.inputEnd, early.window.end);
    assert.ok(before.endedAt > early.window.end, JSON.stringify(before));
    assert.deepEqual(actionsOn(entity), ['scale_out'], 'one action for the incident');
    // Decide reads this verdict as it reads a stale end: the episode decides again on fresh input.
    assert.equal(
      staleVerdictOf({ value: Buffer.from(JSON.stringify(absorbed)) })?.decisionId,
      early.decisionId,
    );
    await record('absorbed-before-act', late);

    // The problem is still there after the fix: B decides again on fresh input, and acts.
    await b.env.sleep(5_000);
    const again = await b.remediate('remediate-b-again', await b.decisionFor(entity, mem), s);
    assert.equal((await verdictOf(again)).outcome, 'verified');
    assert.deepEqual(actionsOn(entity), ['scale_out', 'restart'], 'a second problem is not lost');
  });

  it('keeps the memory for the stale-input limit and the guard wait after the fix, then ends', async () => {
    const scope = unique('mem-end');
    const entity = unique('host');
    // No cooldown: only the memory keeps the guard running.
    const s = settings(scope, { cooldownMs: 0 });
    const early = await b.decisionFor(entity, mem);
    await b.env.sleep(5_000);
    const fix = await b.remediate('remediate-a', await b.decisionFor(entity, cpu), s);
    assert.equal((await verdictOf(fix)).outcome, 'verified');
    const guard = b.client.workflow.getHandle(entityGuardId(scope, entity));
    const { lastAct, cooldowns } = await guard.query(guardStatusQuery);
    assert.deepEqual(cooldowns, []);
    assert.equal(lastAct?.holder, fix.workflowId);
    assert.equal(lastAct.until - lastAct.endedAt, MAX_AGE_MS + GUARD_WAIT_MS);

    // Within the memory, an input from before the fix is still absorbed (its age allows it).
    const late = await b.remediate('remediate-b', early, s);
    assert.equal((await verdictOf(late)).outcome, 'absorbed');

    const status = async () => (await guard.describe()).status.name;
    await b.env.sleep(lastAct.until - (await b.env.currentTimeMs()) - 10_000);
    assert.equal(await status(), 'RUNNING', 'the memory is live 10 s before it ends');
    assert.equal((await guard.query(guardStatusQuery)).lastAct?.holder, fix.workflowId);
    await b.env.sleep(20_000);
    await eventually(status, (st) => st === 'COMPLETED', 'the guard ends once the memory is over');
    assert.deepEqual(actionsOn(entity), ['scale_out']);
    await record('guard-forgets-after-memory', guard);
  });

  it('records these paths with the act memory and replays them and the committed ones', async () => {
    assert.deepEqual([...histories.keys()].sort(), PATHS);
    for (const [name, history] of histories) {
      const markers = (history.events ?? []).filter(
        (e) =>
          e.markerRecordedEventAttributes?.markerName === 'core_patch' &&
          Object.values(e.markerRecordedEventAttributes.details ?? {}).some((d) =>
            d.payloads?.some((p) =>
              Buffer.from(p.data ?? [])
                .toString()
                .includes(`"${ACT_MEMORY_PATCH}"`),
            ),
          ),
      );
      assert.equal(markers.length, 1, `${name} runs with ${ACT_MEMORY_PATCH}`);
    }
    const { committed, failures } = await replayWithCommitted(b.bundle, historiesDir, histories);
    assert.deepEqual(committed, PATHS.map((p) => `${p}.pb`).sort(), `committed histories in ${historiesDir}`);
    assert.deepEqual(failures, [], 'replays without a nondeterminism error');
  });
});

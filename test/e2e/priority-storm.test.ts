/**
 * An incident storm on the real loop (decide, act, verify, Temporal, Kafka; only the target is
 * ours): routine incidents (disk pressure on a tier-3 service, lane 4; AUTOGLM_STORM_ROUTINE, 40
 * by default so the file stays near 2 minutes on a shared machine, 300 in the issue) and, 10 s
 * after the storm has queued at the budget, 5 urgent ones (bad deploys on a tier-1 service, lane 1),
 * with the act worker (4 activities) and the budget (one action per 2 s) deliberately narrow.
 * Every urgent remediation acts before every routine one that was still waiting in the budget's
 * queue when it arrived there, by the target's own log. On a loaded machine the way from a grant
 * to the action (signal, workflow task, activity) is longer than the 2 s between grants: the
 * budget's lane hold (AUTOGLM_LANE_HOLD) keeps routine grants back until the urgent action is in.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { GuardStatus } from '../../workflows/definitions.js';
import { LanesHarness } from '../support/lanes-harness.js';

/** The q-quantile (nearest rank) of `xs`; NaN when empty. */
function quantile(xs: readonly number[], q: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

describe('an incident storm: the urgent fix goes first (real loop)', () => {
  let h: LanesHarness;
  before(async () => {
    h = await LanesHarness.start({ withLanes: true, actionsPerSecond: 0.5, actSlots: 4 });
  });
  after(async () => {
    await h?.stop();
  });

  it('acts on 5 urgent remediations before any of the routine ones waiting when they arrived', async () => {
    const n = Number(process.env.AUTOGLM_STORM_ROUTINE ?? 40);
    // A bigger storm takes longer to reach the budget: three seconds more per incident (a 300
    // storm's guard requests took 10+ minutes on a shared Temporal dev server at load 15-20).
    const slack = Math.max(0, n - 40) * 3000;
    const routine = Array.from({ length: n }, (_, i) => h.entity('batch', i));
    const urgent = Array.from({ length: 5 }, (_, i) => h.entity('checkout', i));
    const routineSent = await h.incidents('routine', routine);
    await h.until(
      async () => {
        const b = await h.budget();
        // Those that ended (acted, or absorbed when the entity guard answered too late) count too.
        const queued = (b?.deferred.length ?? 0) + (b?.holders.length ?? 0);
        return queued + h.actedAt().size >= n || queued + (await h.ended()) >= n;
      },
      150_000 + slack,
      'the whole storm reaches the budget',
    );
    const reached = Date.now() - routineSent;
    const endedEarly = (await h.ended()) - h.actedAt().size;
    await sleep(10_000);
    const sent = await h.incidents('urgent', urgent);

    // Watch the budget. An urgent remediation arrived between two looks at it; the routine ones
    // waiting in both were still waiting when it arrived (a request that leaves the queue never
    // comes back to it).
    const waitingAtArrival = new Map<string, Set<string>>();
    const isUrgent = (holder: string) => urgent.some((e) => holder.startsWith(`remediate-${e}-`));
    const routineWaiting = (b: GuardStatus | undefined) =>
      new Set((b?.deferred ?? []).filter((r) => !isUrgent(r.holder)).map((r) => r.holder));
    let previous = routineWaiting(await h.budget());
    await h.until(
      async () => {
        const b = await h.budget();
        const now = routineWaiting(b);
        for (const u of [...(b?.deferred ?? []), ...(b?.holders ?? [])].map((d) => d.holder))
          if (isUrgent(u) && !waitingAtArrival.has(u))
            waitingAtArrival.set(u, new Set([...previous].filter((r) => now.has(r))));
        previous = now;
        const acted = h.actedAt();
        return urgent.every((e) => acted.has(e));
      },
      120_000 + slack / 2,
      'every urgent remediation acts',
    );
    await sleep(3_000); // a few routine ones act after them

    const acted = h.actedAt();
    const byKey = new Map(h.target.received.map((a) => [a.idempotencyKey, a.at]));
    const urgentActs = urgent.map((e) => acted.get(e)! - sent);
    const routineAfter = routine.filter(
      (e) => (acted.get(e) ?? Infinity) > Math.max(...urgent.map((u) => acted.get(u)!)),
    );
    // The figures first: a failed run says them too.
    const routineActs = routine.flatMap((e) => (acted.has(e) ? [acted.get(e)! - routineSent] : []));
    const s = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
    process.stderr.write(
      `priority-storm (${n} routine): the storm reached the budget in ${s(reached)} (${Math.max(0, endedEarly)} ended before it); urgent time to act ` +
        `${urgentActs.map(s).join(', ')} (p50 ${s(quantile(urgentActs, 0.5))}); ${routineActs.length} routine ` +
        `acted meanwhile, time to act p50 ${s(quantile(routineActs, 0.5))} p95 ${s(quantile(routineActs, 0.95))}, ` +
        `${routineAfter.length} waiting after the last urgent\n`,
    );
    assert.equal(waitingAtArrival.size, 5, 'each urgent remediation was seen at the budget');
    for (const [holder, waiting] of waitingAtArrival) {
      const urgentAt = byKey.get(holder)!;
      assert.ok(waiting.size >= 1, `${holder} arrived behind ${waiting.size} routine requests`);
      const before = [...waiting].filter((r) => (byKey.get(r) ?? Infinity) < urgentAt);
      assert.deepEqual(before, [], `routine actions waiting when ${holder} arrived that acted before it`);
    }
    assert.ok(
      routineAfter.length >= 1,
      `the storm went on after the urgent ones (${routineAfter.length} still to act)`,
    );
  });
});

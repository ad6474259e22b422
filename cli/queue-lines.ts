import type { GuardStatus } from '../workflows/definitions.js';

/** How many waiting remediations of one lane and service, and since when the oldest waits. */
export interface QueueGroup {
  readonly lane: number;
  readonly fairnessKey: string;
  readonly waiting: number;
  readonly oldestSince?: number;
  /** The latest overtaking seen on this group's requests: who went first, and why. */
  readonly overtaken?: { count: number; by: string; because: string };
}

/** The action budget's waiting queue grouped by lane (1 first), then service (most waiting first). */
export function queueGroups(budget: GuardStatus): QueueGroup[] {
  const groups = new Map<string, { -readonly [K in keyof QueueGroup]: QueueGroup[K] }>();
  for (const d of budget.deferred) {
    const lane = d.lane ?? 3;
    const key = d.fairnessKey ?? '';
    const id = `${lane}\u0000${key}`;
    const g = groups.get(id) ?? { lane, fairnessKey: key, waiting: 0 };
    g.waiting++;
    if (d.since !== undefined && (g.oldestSince === undefined || d.since < g.oldestSince))
      g.oldestSince = d.since;
    if (d.overtaken)
      g.overtaken = {
        count: Math.max(g.overtaken?.count ?? 0, d.overtaken.count),
        by: d.overtaken.by,
        because: d.overtaken.because,
      };
    groups.set(id, g);
  }
  return [...groups.values()].sort((a, b) => a.lane - b.lane || b.waiting - a.waiting);
}

/** Lines for `autoglm status`: the budget's load, then the queue by lane and service. */
export function queueLines(budget: GuardStatus | undefined, now: number): string[] {
  if (!budget) return ['action budget: idle (nothing in flight, nothing waiting)'];
  const lines = [
    `action budget: ${budget.holders.length} in flight, ${budget.grantsInPeriod ?? 0}/${budget.limits?.maxActionsPerPeriod ?? '?'} in the period, ${budget.deferred.length} waiting`,
  ];
  let lane: number | undefined;
  for (const g of queueGroups(budget)) {
    if (g.lane !== lane) {
      lane = g.lane;
      lines.push(`  lane ${g.lane}:`);
    }
    const age =
      g.oldestSince === undefined ? '' : `, oldest waiting ${Math.round((now - g.oldestSince) / 1000)}s`;
    lines.push(`    ${g.fairnessKey || '(no service)'}: ${g.waiting} waiting${age}`);
    if (g.overtaken)
      lines.push(
        `      overtaken (up to ${g.overtaken.count}x), latest by ${g.overtaken.by}: ${g.overtaken.because}`,
      );
  }
  const reasons = new Set(budget.deferred.map((d) => d.reason).filter(Boolean));
  for (const r of [...reasons].slice(0, 3)) lines.push(`  held back by: ${r}`);
  return lines;
}

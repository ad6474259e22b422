/**
 * Time to act per lane in an incident storm, with lanes and without, side by side in one run.
 *
 *   npx tsx bench/priority-storm.ts [routine=40] [urgent=5]
 *
 * On the local Kafka and Temporal, the real loop from decide on (test/support/lanes-harness.ts:
 * decide, act with a narrow worker, verify, a budget of one action per 2 s), three runs:
 *   - calm: the urgent incidents alone (bad deploys on a tier-1 service);
 *   - storm with lanes: the routine storm (disk pressure on a tier-3 service, lane 4), then, 10 s
 *     after it has queued at the budget, the urgent ones (lane 1);
 *   - storm without lanes: the same rules without `priority` (first come, first served).
 * Time to act: from producing an incident's observation to the target's log of its action. Prints
 * p50/p95 per lane and run; the goal is the urgent lane's p95 in the storm at most 2x the calm one.
 */
// First: kafkajs must load with our read_committed filter (services/common/kafkajs-aborted-filter.ts).
import '../services/common/kafkajs-aborted-filter.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { localInfra } from '../infra/infra.js';
import { LanesHarness } from '../test/support/lanes-harness.js';

const routineCount = Number(process.argv[2] ?? 40);
const urgentCount = Number(process.argv[3] ?? 5);

/** The q-quantile (nearest rank) of `values`, in seconds. */
function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]! / 1000;
}

interface Run {
  readonly name: string;
  readonly urgent: number[];
  readonly routine: number[];
  readonly missing: number;
}

async function run(name: string, storm: boolean, withLanes: boolean): Promise<Run> {
  const h = await LanesHarness.start({ withLanes, actionsPerSecond: 0.5, actSlots: 4 });
  try {
    const routine = storm ? Array.from({ length: routineCount }, (_, i) => h.entity('batch', i)) : [];
    const urgent = Array.from({ length: urgentCount }, (_, i) => h.entity('checkout', i));
    const sentAt = new Map<string, number>();
    if (storm) {
      const at = await h.incidents('routine', routine);
      for (const e of routine) sentAt.set(e, at);
      await h.until(
        async () => {
          const b = await h.budget();
          // Those that ended (acted, or absorbed on an overloaded machine) count too.
          const queued = (b?.deferred.length ?? 0) + (b?.holders.length ?? 0);
          return queued + h.actedAt().size >= routine.length || queued + (await h.ended()) >= routine.length;
        },
        300_000,
        'the storm reaches the budget',
      );
      await sleep(10_000);
    }
    const at = await h.incidents('urgent', urgent);
    for (const e of urgent) sentAt.set(e, at);
    const all = [...routine, ...urgent];
    await h
      .until(() => all.every((e) => h.actedAt().has(e)), 600_000, 'every incident acted')
      .catch((err: Error) => process.stderr.write(`${name}: ${err.message}\n`));
    const acted = h.actedAt();
    const times = (entities: string[]) =>
      entities.filter((e) => acted.has(e)).map((e) => acted.get(e)! - sentAt.get(e)!);
    return {
      name,
      urgent: times(urgent),
      routine: times(routine),
      missing: all.filter((e) => !acted.has(e)).length,
    };
  } finally {
    await h.stop();
  }
}

await localInfra().up();
const runs = [
  await run('calm (urgent only)', false, true),
  await run('storm, lanes', true, true),
  await run('storm, no lanes', true, false),
];
const cell = (v: number[]) =>
  v.length === 0 ? '-' : `${quantile(v, 0.5).toFixed(1)}s / ${quantile(v, 0.95).toFixed(1)}s`;
process.stdout.write(
  `time to act, p50 / p95 (${routineCount} routine incidents, lane 4; ${urgentCount} urgent, lane 1; budget 1 action per 2 s)\n`,
);
process.stdout.write(
  `${'run'.padEnd(22)}${'urgent (lane 1)'.padEnd(20)}${'routine (lane 4)'.padEnd(20)}not acted\n`,
);
for (const r of runs)
  process.stdout.write(
    `${r.name.padEnd(22)}${cell(r.urgent).padEnd(20)}${cell(r.routine).padEnd(20)}${r.missing}\n`,
  );
const calm = quantile(runs[0]!.urgent, 0.95);
const storm = quantile(runs[1]!.urgent, 0.95);
process.stdout.write(
  `urgent p95 under the storm / calm: ${(storm / calm).toFixed(2)}x (goal ≤ 2x); without lanes: ${(quantile(runs[2]!.urgent, 0.95) / calm).toFixed(2)}x\n`,
);
process.exit(0);

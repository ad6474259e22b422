/**
 * The loop part of `bench/scale-out.ts --step loop`: the whole loop with N processes of each step
 * against the fleet simulator, once per count of incidents, and the figures that judge it (acted
 * on exactly once, every verdict once, time to act p50/p95 and its growth with the count).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runScenarioSuite, type SuiteResult } from '../cli/scenario-suite.js';
import { createLogger } from '../services/common/logger.js';
import { killFigures, STEPS } from '../test/support/kill-run.js';
import { StepProcesses } from '../test/support/step-processes.js';
import {
  deleteRunTopics,
  incidentsOnPods,
  loadNow,
  loopRun,
  upInfra,
  type ClassOfService,
} from './loop-harness.js';

/** Per service of the fleet (in the simulator's order), the class injected on each of its pods. */
const CLASS_OF_SERVICE: ClassOfService = [
  ['checkout', 'cpu_saturation'],
  ['search', 'bad_deploy'],
  ['payments', 'cpu_saturation'],
  ['inventory', 'cpu_saturation'],
  ['batch', 'cpu_saturation'],
];

/** The q-quantile (nearest rank) of `xs`; NaN when empty. */
function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

/** What one run of the loop gave. */
interface LoopFigures {
  readonly incidents: number;
  readonly actedOnce: number;
  readonly lost: number;
  readonly actedTwice: number;
  readonly verdicts: number;
  readonly verdictsMissing: number;
  /** Seconds from the decision to its action at the target, per remediation. */
  readonly fromDecision: number[];
  /** Seconds from the incident's start to the action, per incident. */
  readonly fromIncident: number[];
  /** Seconds from the first injection to the last action. */
  readonly spanS: number;
}

function figuresOf(suite: SuiteResult): LoopFigures {
  const f = killFigures(suite, [], { sense: 0, decide: 0, act: 0, verify: 0 });
  const decidedAt = new Map(suite.decisions.map((d) => [d.decisionId, d.ts]));
  const main = suite.actions.filter(
    (a) => a.effective && a.incidentId !== null && !/\/(compensate|escalate)$/.test(a.idempotencyKey),
  );
  const fromDecision = main.flatMap((a) => {
    const ts = a.decisionId ? decidedAt.get(a.decisionId) : undefined;
    return ts === undefined ? [] : [(a.at - ts) / 1000];
  });
  const firstAct = new Map<string, number>();
  for (const a of main) if (!firstAct.has(a.incidentId!)) firstAct.set(a.incidentId!, a.at);
  const fromIncident = suite.incidents.flatMap((i) => {
    const at = firstAct.get(i.id);
    return at === undefined ? [] : [(at - i.startedAt) / 1000];
  });
  const firstInjected = Math.min(...suite.incidents.map((i) => i.startedAt));
  return {
    incidents: f.incidents,
    actedOnce: f.incidents - f.lost.length - f.actedTwice.length,
    lost: f.lost.length,
    actedTwice: f.actedTwice.length,
    verdicts: f.verdictsPublished,
    verdictsMissing: f.verdictsMissing.length,
    fromDecision,
    fromIncident,
    spanS: (Math.max(...main.map((a) => a.at)) - firstInjected) / 1000,
  };
}

/** Runs the loop once per count; returns the exit code (1 if an incident was lost or acted on twice). */
export async function benchLoopScaleOut(opts: { counts: number[]; processes: number }): Promise<number> {
  const endpoints = await upInfra();
  const logger = createLogger('warn');
  const say = (line: string) => process.stdout.write(`${line}\n`);
  say(
    `scale-out loop: ${opts.processes} process(es) of each step, ${opts.counts.join(' then ')} incidents; ` +
      `${os.cpus().length} CPUs, load ${loadNow()}`,
  );
  const results: LoopFigures[] = [];
  let ok = true;
  for (const count of opts.counts) {
    const { overrides: base } = loopRun(`bench-loop${count}`, endpoints);
    const { injections, fleet } = incidentsOnPods(count, CLASS_OF_SERVICE);
    const overrides = {
      ...base,
      topicPartitions: '4',
      // The blast-radius budget opened wide: what is measured is how fast it answers, not its limits.
      maxConcurrentPerAction: '1000',
      maxConcurrentPerRule: '1000',
      maxActionsPerPeriod: '100000',
      maxDeferred: '1000',
    };
    const sets: StepProcesses[] = [];
    const started = Date.now();
    try {
      const suite = await runScenarioSuite({
        overrides,
        logger,
        injections,
        injectEveryMs: 200,
        fleet,
        timeoutMs: 300_000,
        external: STEPS,
        awaitVerdicts: true,
        during: async (run) => {
          for (let i = 0; i < opts.processes; i++) {
            // AUTOGLM_BENCH_LOGS=<dir>: each process's warnings and errors in <dir>/<count>-<i>/<step>.log.
            const dir =
              process.env.AUTOGLM_BENCH_LOGS && path.join(process.env.AUTOGLM_BENCH_LOGS, `${count}-${i}`);
            if (dir) fs.mkdirSync(dir, { recursive: true });
            sets.push(new StepProcesses(run.config, {}, 1000, dir || undefined));
          }
          for (const set of sets) for (const step of STEPS) set.start(step);
        },
      });
      const f = figuresOf(suite);
      const outcomes = new Map<string, number>();
      for (const v of suite.verdicts) outcomes.set(v.outcome, (outcomes.get(v.outcome) ?? 0) + 1);
      results.push(f);
      if (f.lost > 0 || f.actedTwice > 0) ok = false;
      const s = (xs: number[], q: number) => quantile(xs, q).toFixed(1);
      say(
        `  ${count} incidents (${((Date.now() - started) / 1000).toFixed(0)}s, load ${loadNow()}): ` +
          `${f.actedOnce} acted on exactly once, ${f.lost} lost, ${f.actedTwice} acted twice; ` +
          `${f.verdicts} verdicts (${[...outcomes].map(([o, n]) => `${o} ${n}`).join(', ')}), ${f.verdictsMissing} missing; time to act from the decision ` +
          `p50 ${s(f.fromDecision, 0.5)}s p95 ${s(f.fromDecision, 0.95)}s, from the incident's start ` +
          `p50 ${s(f.fromIncident, 0.5)}s p95 ${s(f.fromIncident, 0.95)}s; last action ${f.spanS.toFixed(0)}s after the first injection`,
      );
    } catch (err) {
      ok = false;
      say(`  ${count} incidents: FAILED: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      await Promise.all(sets.map((set) => set.stopAll()));
      await deleteRunTopics(overrides, logger).catch(() => undefined);
    }
  }
  const [first] = results;
  if (first)
    for (const f of results.slice(1)) {
      const r = (of: (x: LoopFigures) => number[]) =>
        (quantile(of(f), 0.95) / quantile(of(first), 0.95)).toFixed(2);
      say(
        `${f.incidents} vs ${first.incidents} incidents: p95 time to act ×${r((x) => x.fromDecision)} from the decision, ` +
          `×${r((x) => x.fromIncident)} from the incident's start (${(f.incidents / first.incidents).toFixed(0)}× the incidents)`,
      );
    }
  return ok ? 0 : 1;
}

import { startAct } from './act/main.js';
import type { Service, ServiceContext } from './common/service.js';
import { startDecide } from './decide/main.js';
import { startSense } from './sense/main.js';
import { startVerify } from './verify/main.js';

/**
 * All four steps in one process (the local default, the benchmarks and the end-to-end tests):
 * started downstream first so nothing is produced before its consumer runs, stopped upstream
 * first (sense, then decide, …) so the later steps finish the work already in flight.
 */
export type LoopStep = 'sense' | 'decide' | 'act' | 'verify';

export async function startLoop(
  ctx: ServiceContext,
  /** The steps to run here (all four by default); the others run elsewhere, e.g. as their own processes. */
  steps: readonly LoopStep[] = ['sense', 'decide', 'act', 'verify'],
): Promise<Service> {
  const services: Service[] = [];
  const starts = { verify: startVerify, act: startAct, decide: startDecide, sense: startSense };
  try {
    for (const step of ['verify', 'act', 'decide', 'sense'] as const)
      if (steps.includes(step)) services.push(await starts[step](ctx));
  } catch (err) {
    for (const s of services.reverse()) await s.stop().catch(() => undefined);
    throw err;
  }
  return {
    name: 'loop',
    readiness: () => Object.assign({}, ...services.map((s) => s.readiness())) as Record<string, boolean>,
    liveness: () =>
      Object.assign({}, ...services.map((s) => s.liveness?.() ?? {})) as Record<string, boolean>,
    async stop() {
      for (const s of [...services].reverse()) await s.stop();
    },
  };
}

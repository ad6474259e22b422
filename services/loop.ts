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
export async function startLoop(ctx: ServiceContext): Promise<Service> {
  const services: Service[] = [];
  try {
    for (const start of [startVerify, startAct, startDecide, startSense]) services.push(await start(ctx));
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

/**
 * What a verify worker keeps in memory while a fleet streams observations: 100,000 entities, 100
 * pending verifications. The worker's store (ObservationState) against the previous layout, which
 * kept the last 64 observations of every entity it had seen, on the same stream in the same run.
 *
 *   npx tsx --expose-gc bench/verify-memory.ts [entities=100000] [watched=100] [rounds=12]
 *
 * Each round sends one observation per entity (a 5s emission over a minute at 12 rounds), as
 * decoded objects (what the worker holds). Prints the heap growth of each after gc.
 */
// First: kafkajs must load with our read_committed filter (services/common/kafkajs-aborted-filter.ts).
import '../services/common/kafkajs-aborted-filter.js';
import type { Observation } from '../services/common/contracts.js';
import { ObservationState } from '../services/verify/observation-state.js';

const [entities = 100_000, watched = 100, rounds = 12] = process.argv
  .slice(2)
  .filter((a) => !a.startsWith('--'))
  .map(Number);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');

function heap(): number {
  gc!();
  gc!();
  return process.memoryUsage().heapUsed;
}

function observation(e: number, round: number): Observation {
  const end = 1_800_000_000_000 + round * 5000;
  return {
    entity: `svc-${e % 500}/pod-${e}`,
    seq: round,
    window: { start: end - 30_000, end },
    features: { 'cpu.avg': 40 + (e % 30), 'cpu.max': 60, 'cpu.count': 6, 'mem.avg': 50, 'mem.slope': 0.001 },
    events: [],
    ts: end,
  };
}

function stream(add: (o: Observation) => void): void {
  for (let r = 0; r < rounds; r++) for (let e = 0; e < entities; e++) add(observation(e, r));
}

// The previous layout: every entity's last 64 observations, never evicted.
let before = heap();
const everything = new Map<string, Observation[]>();
stream((o) => {
  let list = everything.get(o.entity);
  if (!list) everything.set(o.entity, (list = []));
  list.push(o);
  if (list.length > 64) list.shift();
});
const previousBytes = heap() - before;
everything.clear();

// Now: only entities with a verification in progress.
before = heap();
const state = new ObservationState();
const stops = Array.from({ length: watched }, (_, i) => state.watch(`svc-${i % 500}/pod-${i}`, 0, () => {}));
stream((o) => state.add(o));
const nowBytes = heap() - before;
const kept = state.observations;
for (const stop of stops) stop();
stops.length = 0; // an activity drops its unsubscribe once settled
const afterSettle = heap() - before;

const mib = (b: number) => `${(b / 1024 / 1024).toFixed(1)} MiB`;
console.log(
  `${entities.toLocaleString('en')} entities × ${rounds} observations, ${watched} pending verifications`,
);
console.log(
  `previous layout (every entity kept):      ${mib(previousBytes)} (${Math.round(previousBytes / entities)} B per entity)`,
);
console.log(
  `now (watched entities only):               ${mib(nowBytes)} (${kept} observations of ${watched} entities)`,
);
console.log(`now, after the verifications settled:     ${mib(Math.max(0, afterSettle))}`);
console.log(`ratio previous / now: ${(previousBytes / Math.max(nowBytes, 1)).toFixed(0)}×`);

/**
 * Memory of the sense baselines per tracked entity and metric.
 *
 *   npx tsx --expose-gc bench/baseline-memory.ts [entities=100000] [metrics=4]
 *
 * Fills a BaselineStore with `entities` × `metrics` states (40 samples each, so every state is
 * warm), collects garbage and prints the V8 heap plus typed-array backing stores (`arrayBuffers`)
 * it holds, per state. Then the same for a plain layout kept for comparison (a Map keyed by
 * "entity|metric" of an object with the same numbers and a 31-number array of seasonal offsets).
 * Last, the rate of update() on the warm store. Target: ≤ 256 bytes per entity and metric.
 */
import { BaselineStore } from '../services/sense/baseline.js';

const [entities = 100_000, metrics = 4] = process.argv.slice(2).map(Number);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  process.stderr.write('run with --expose-gc: npx tsx --expose-gc bench/baseline-memory.ts\n');
  process.exit(1);
}
const T0 = Date.UTC(2026, 0, 5);
const SAMPLES = 40;

function used(): number {
  gc!();
  gc!();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

interface Sink {
  update(entity: string, metric: string, ts: number, x: number): unknown;
}

/** Fresh strings per sample, as JSON.parse gives them. */
function feed(s: Sink, rounds: number, from = 0): number {
  let n = 0;
  for (let r = from; r < from + rounds; r++)
    for (let e = 0; e < entities; e++)
      for (let m = 0; m < metrics; m++) {
        s.update(`svc-${e % 1000}/pod-${e}`, `metric_${m}`, T0 + r * 300_000, 50 + ((e + m + r) % 7));
        n++;
      }
  return n;
}

/** The plain layout: one object per state with its own seasonal array. */
class PlainStore implements Sink {
  private readonly states = new Map<
    string,
    {
      level: number;
      absdev: number;
      lastTs: number;
      shiftSince: number;
      candidate: number;
      firstTs: number;
      checkpointTs: number;
      count: number;
      expected: number;
      deviation: number;
      season: number[];
    }
  >();
  update(entity: string, metric: string, ts: number, x: number): void {
    const key = `${entity}|${metric}`;
    let s = this.states.get(key);
    if (!s) {
      s = {
        level: x,
        absdev: 0,
        lastTs: ts,
        shiftSince: Number.NaN,
        candidate: 0,
        firstTs: ts,
        checkpointTs: 0,
        count: 0,
        expected: x,
        deviation: 0,
        season: new Array<number>(31).fill(0),
      };
      this.states.set(key, s);
    }
    s.count++;
    s.level += 0.1 * (x - s.level);
    s.lastTs = ts;
  }
}

const states = entities * metrics;
const before = used();
const store = new BaselineStore({ checkpointEveryMs: 3_600_000, maxStates: states });
for (let r = 0; r < SAMPLES; r++) {
  feed(store, 1, r);
  store.takeCheckpoints(0); // what sense does after each batch: the queue is drained
}
const storeBytes = used() - before;
if (store.size !== states) throw new Error(`expected ${states} states, got ${store.size}`);

const started = performance.now();
const updates = feed(store, 10, SAMPLES);
store.takeCheckpoints(0);
const rate = updates / ((performance.now() - started) / 1000);

const before2 = used();
const plain = new PlainStore();
feed(plain, 3);
const plainBytes = used() - before2;

const per = (b: number) => (b / states).toFixed(0);
console.log(
  `baseline memory: ${entities} entities × ${metrics} metrics = ${states} states (${SAMPLES} samples each)`,
);
console.log(
  `  BaselineStore: ${(storeBytes / 2 ** 20).toFixed(1)} MiB, ${per(storeBytes)} B per entity and metric (typed arrays ${per(store.reservedBytes)} B of it, chunked)`,
);
console.log(
  `  plain objects: ${(plainBytes / 2 ** 20).toFixed(1)} MiB, ${per(plainBytes)} B per entity and metric (ratio ${(plainBytes / storeBytes).toFixed(2)}×)`,
);
console.log(`  update() on warm states: ${(rate / 1e6).toFixed(2)} M samples/s (fresh strings per call)`);
console.log(`target: ≤ 256 B per entity and metric — ${storeBytes / states <= 256 ? 'met' : 'MISSED'}`);
void plain;
void store;

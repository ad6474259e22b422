/**
 * Memory (and speed) of the sense step's windows.
 *
 *   npx tsx --expose-gc bench/sense-memory.ts [entities=100000] [metrics=1] [points=30]
 *
 * Fills EntityWindows with `entities` × `metrics` metrics × `points` points (one sample per metric
 * per second of event time, all inside one window, observations emitted every 5 s and dropped),
 * collects garbage and prints what the windows hold: the V8 heap (`heapUsed`) plus the typed
 * arrays' backing stores, which V8 keeps outside its heap (`arrayBuffers`), per entity and per
 * entity per metric. Then the same for a copy of the previous layout (a Map per entity of arrays
 * of `{ts, value}` objects), for the ratio. Last, the rate of addSample for both on the full
 * windows over 5 more seconds of event time: with samples built beforehand (the core alone), and
 * with a fresh sample object and fresh strings per call (closer to the edge after JSON.parse).
 */
import type { MetricSample } from '../services/common/contracts.js';
import { EntityWindows } from '../services/sense/windows.js';

const [entities = 100_000, metrics = 1, points = 30] = process.argv.slice(2).map(Number);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  process.stderr.write('run with --expose-gc: npx tsx --expose-gc bench/sense-memory.ts\n');
  process.exit(1);
}

const T0 = 1_800_000_000_000;
const WINDOW_MS = points * 1000;
const EMIT_EVERY_MS = 5000;

function makeWindows(): EntityWindows {
  return new EntityWindows({
    windowMs: WINDOW_MS,
    emitEveryMs: EMIT_EVERY_MS,
    maxMetricsPerEntity: metrics,
    maxEntities: entities,
  });
}

interface Sink {
  addSample(sample: MetricSample): unknown;
}

/** Feeds seconds [from, to) of samples; fresh strings per sample, as JSON.parse would give. */
function feed(w: Sink, from: number, to: number): number {
  let n = 0;
  for (let s = from; s < to; s++) {
    for (let e = 0; e < entities; e++) {
      for (let m = 0; m < metrics; m++) {
        w.addSample({
          entity: `svc-${e % 1000}/pod-${e}`,
          metric: `metric_${m}`,
          value: ((e * 31 + s * 7 + m) % 1000) / 10,
          ts: T0 + s * 1000,
        });
        n++;
      }
    }
  }
  return n;
}

function settledMemory(): { heap: number; buffers: number; rss: number } {
  for (let i = 0; i < 3; i++) gc!();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, buffers: m.arrayBuffers, rss: m.rss };
}

/** addSample calls per second over 5 s of event time on full windows, the samples built beforehand. */
function coreRate(w: Sink, from: number): number {
  const round: MetricSample[] = [];
  for (let e = 0; e < entities; e++) {
    for (let m = 0; m < metrics; m++)
      round.push({ entity: `svc-${e % 1000}/pod-${e}`, metric: `metric_${m}`, value: 0, ts: 0 });
  }
  const t0 = performance.now();
  for (let s = from; s < from + 5; s++) {
    for (const sample of round) {
      sample.ts = T0 + s * 1000;
      sample.value = (s * 7) % 100;
      w.addSample(sample);
    }
  }
  return (5 * round.length) / ((performance.now() - t0) / 1000);
}

function measure(name: string, make: () => Sink): { perMetric: number; rate: number } {
  const before = settledMemory();
  const w = make();
  const filled = feed(w, 1, points + 1);
  const after = settledMemory();
  const heap = after.heap - before.heap;
  const buffers = after.buffers - before.buffers;
  const total = heap + buffers;
  const perEntity = total / entities;
  const perMetric = perEntity / metrics;
  const t1 = performance.now();
  const more = feed(w, points + 1, points + 6);
  const parsed = more / ((performance.now() - t1) / 1000);
  const rate = coreRate(w, points + 6);
  const kb = (b: number) => `${(b / 1024).toFixed(0)} KB`;
  const m = (r: number) => `${(r / 1e6).toFixed(2)} M/s`;
  console.log(
    `${name}: heap ${kb(heap)} + typed-array stores ${kb(buffers)} = ${kb(total)} for ${filled} samples: ` +
      `${perEntity.toFixed(0)} B/entity, ${perMetric.toFixed(0)} B/entity/metric (rss +${kb(after.rss - before.rss)})\n` +
      `  addSample: ${m(rate)} (${m(parsed)} with a fresh sample object and strings each, as after JSON.parse)`,
  );
  return { perMetric, rate };
}

/**
 * The previous window layout, kept only as this benchmark's baseline: per entity a Map of
 * metric → array of `{ts, value}` objects, inserted with splice, trimmed and sorted per snapshot.
 */
class OldWindows implements Sink {
  private readonly entities = new Map<
    string,
    {
      metrics: Map<string, Array<{ ts: number; value: number }>>;
      watermark: number;
      lastEmit: number;
      seq: number;
    }
  >();

  constructor(
    private readonly windowMs: number,
    private readonly emitEveryMs: number,
  ) {}

  addSample(s: MetricSample): unknown {
    let w = this.entities.get(s.entity);
    if (!w) {
      w = { metrics: new Map(), watermark: -Infinity, lastEmit: -Infinity, seq: 0 };
      this.entities.set(s.entity, w);
    }
    if (s.ts <= w.watermark - this.windowMs) return 'late';
    let pts = w.metrics.get(s.metric);
    if (!pts) w.metrics.set(s.metric, (pts = []));
    let i = pts.length;
    while (i > 0 && (pts[i - 1]?.ts ?? 0) > s.ts) i--;
    pts.splice(i, 0, { ts: s.ts, value: s.value });
    if (s.ts <= w.watermark) return 'buffered';
    w.watermark = s.ts;
    if (s.ts - w.lastEmit < this.emitEveryMs) return 'buffered';
    w.lastEmit = s.ts;
    const start = s.ts - this.windowMs;
    const features: Record<string, number> = {};
    for (const [metric, p] of w.metrics) {
      const first = p.findIndex((x) => x.ts > start);
      if (first > 0) p.splice(0, first);
      const sorted = p.map((x) => x.value).sort((a, b) => a - b);
      let sum = 0;
      for (const x of p) sum += x.value;
      features[`${metric}.avg`] = sum / p.length;
      features[`${metric}.p95`] = sorted[Math.ceil(0.95 * p.length) - 1] ?? 0;
    }
    return { entity: s.entity, seq: w.seq++, features };
  }
}

console.log(
  `${entities} entities × ${metrics} metrics × ${points} points (window ${WINDOW_MS / 1000}s, emit every ${EMIT_EVERY_MS / 1000}s), node ${process.version}`,
);
// Warm-up: the first fill also grows V8's young generation and compiles the code; do it once
// for both, unmeasured, so the order of the two measurements does not matter.
for (const make of [makeWindows, () => new OldWindows(WINDOW_MS, EMIT_EVERY_MS)]) feed(make(), 1, 3);
const now = measure('EntityWindows (rings)', makeWindows);
const old = measure('previous layout (objects)', () => new OldWindows(WINDOW_MS, EMIT_EVERY_MS));
console.log(
  `ratio: ${(old.perMetric / now.perMetric).toFixed(2)}× less memory per entity per metric, ${(now.rate / old.rate).toFixed(2)}× the addSample rate`,
);

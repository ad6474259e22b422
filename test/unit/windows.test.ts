import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MetricSample, Observation, OpsEvent } from '../../services/common/contracts.js';
import { BaselineStore } from '../../services/sense/baseline.js';
import { p95 } from '../../services/sense/features.js';
import { EntityWindows, type SampleOutcome, type WindowOptions } from '../../services/sense/windows.js';

/** A multiple of every emit interval used below, so buckets start at T0. */
const T0 = 1_800_000_000_000;
const sample = (metric: string, value: number, ts: number, entity = 'e1'): MetricSample => ({
  entity,
  metric,
  value,
  ts,
});
const cpu = (value: number, ts: number, entity = 'e1') => sample('cpu', value, ts, entity);
const windows = (o: Partial<WindowOptions> & Pick<WindowOptions, 'windowMs' | 'emitEveryMs'>) =>
  new EntityWindows({ maxMetricsPerEntity: 64, maxEntities: 1000, ...o });

function feed(w: EntityWindows, samples: MetricSample[]): Observation[] {
  return samples.flatMap((s) => {
    const o = w.addSample(s);
    return o.kind === 'observation' ? [o.observation] : [];
  });
}

/** A deterministic pseudo-random sequence in [0, 1). */
function lcg(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}

type Item = { sample: MetricSample } | { event: OpsEvent };
const tsOf = (i: Item) => ('sample' in i ? i.sample.ts : i.event.ts);
const apply = (w: EntityWindows, i: Item) => ('sample' in i ? w.addSample(i.sample) : w.addEvent(i.event));

/**
 * A stream of samples and events for five entities with their own periods and metric sets, in
 * arrival order; each item's time lags its arrival time by up to `jitterMs` (0: in time order).
 */
function stream(durationMs: number, jitterMs: number): Item[] {
  const rand = lcg(42);
  const periods = [1000, 700, 1300, 2500, 450];
  const metrics = [['cpu'], ['cpu', 'mem'], ['mem', 'disk', 'cpu'], ['net'], ['cpu', 'mem']];
  const arrivals: Array<{ at: number; item: Item }> = [];
  periods.forEach((period, e) => {
    const entity = `svc/pod-${e}`;
    for (let at = T0 + e * 111; at < T0 + durationMs; at += period) {
      // Entity 3 goes quiet for longer than a window in the middle.
      if (e === 3 && at > T0 + 40_000 && at < T0 + 70_000) continue;
      const ts = at - Math.floor(rand() * jitterMs);
      for (const metric of metrics[e]!) {
        if (rand() < 0.15) continue; // not every metric every time
        arrivals.push({ at, item: { sample: sample(metric, Math.round(rand() * 1000) / 10, ts, entity) } });
      }
      if (rand() < 0.05) {
        const event = { entity, kind: 'deploy', message: `v${Math.floor(at / 1000)}`, ts };
        arrivals.push({ at, item: { event } });
      }
    }
  });
  return arrivals.sort((a, b) => a.at - b.at).map((a) => a.item);
}

describe('EntityWindows', () => {
  it('emits on the grid of event time: the first sample of each newer bucket, seq = bucket', () => {
    const w = windows({ windowMs: 10_000, emitEveryMs: 2000 });
    const b0 = T0 / 2000;
    const kinds = [0, 1000, 1999, 2000, 3500, 4100, 7000, 7999, 8000].map((t) => w.addSample(cpu(1, T0 + t)));
    assert.deepEqual(
      kinds.map((o) => o.kind),
      [
        'observation',
        'buffered',
        'buffered',
        'observation',
        'buffered',
        'observation',
        'observation',
        'buffered',
        'observation',
      ],
    );
    const obs = kinds.flatMap((o) => (o.kind === 'observation' ? [o.observation] : []));
    assert.deepEqual(
      obs.map((o) => [o.seq, o.ts, o.window.start, o.window.end]),
      [
        [0, 0],
        [2000, 1],
        [4100, 2],
        [7000, 3],
        [8000, 4],
      ].map(([t, bucket]) => [b0 + bucket!, T0 + t!, T0 + t! - 10_000, T0 + t!]),
    );
  });

  it('emits for the first sample of an entity wherever it falls in its bucket', () => {
    const w = windows({ windowMs: 10_000, emitEveryMs: 5000 });
    const [o] = feed(w, [cpu(1, T0 + 4999)]);
    assert.equal(o?.seq, T0 / 5000);
    assert.equal(w.addSample(cpu(2, T0 + 4999)).kind, 'buffered', 'at the watermark');
    assert.equal(w.addSample(cpu(1, T0 + 5000)).kind, 'observation');
  });

  it('computes window features over (end - windowMs, end]', () => {
    const w = windows({ windowMs: 10_000, emitEveryMs: 2000 });
    const obs = feed(
      w,
      [0, 1000, 2000, 3000, 4000].map((t, i) => cpu(80 + i * 5, T0 + t)),
    );
    assert.deepEqual(
      obs.map((o) => o.window.end),
      [T0, T0 + 2000, T0 + 4000],
    );
    assert.deepEqual(obs.at(-1)!.features, {
      'cpu.avg': 90,
      'cpu.min': 80,
      'cpu.max': 100,
      'cpu.last': 100,
      'cpu.p95': 100,
      'cpu.count': 5,
      'cpu.slope': 5,
    });
  });

  it('drops samples that left the window from the features', () => {
    const w = windows({ windowMs: 3000, emitEveryMs: 1000 });
    const obs = feed(w, [
      cpu(95, T0),
      cpu(95, T0 + 1000),
      cpu(20, T0 + 2000),
      cpu(20, T0 + 3000),
      cpu(20, T0 + 4000),
    ]);
    const last = obs.at(-1)!;
    assert.equal(last.features['cpu.count'], 3);
    assert.equal(last.features['cpu.avg'], 20);
  });

  it("counts a sample sent twice (same metric, time and value: a sender's retry) once; another value at that time is kept", () => {
    const w = windows({ windowMs: 10_000, emitEveryMs: 1000 });
    assert.equal(w.addSample(cpu(10, T0)).kind, 'observation');
    assert.equal(w.addSample(cpu(20, T0 + 100)).kind, 'buffered');
    assert.equal(w.addSample(cpu(10, T0)).kind, 'duplicate');
    assert.equal(w.addSample(cpu(20, T0 + 100)).kind, 'duplicate');
    assert.equal(
      w.addSample(sample('mem', 10, T0)).kind,
      'buffered',
      'another metric at that time and value',
    );
    const [o] = feed(w, [cpu(30, T0 + 1000)]);
    assert.equal(o?.features['cpu.count'], 3);
    assert.equal(o?.features['cpu.avg'], 20);
    assert.equal(w.addSample(cpu(11, T0 + 100)).kind, 'buffered', 'another value at that time is a sample');
  });

  it('keeps an event sent again (same kind, message and time) once', () => {
    const w = windows({ windowMs: 10_000, emitEveryMs: 1000 });
    const deploy = { entity: 'e1', kind: 'deploy', message: 'v2', ts: T0 + 10 };
    w.addSample(cpu(1, T0));
    w.addEvent(deploy);
    w.addEvent({ ...deploy });
    w.addEvent({ ...deploy, message: 'v3' });
    w.addEvent({ ...deploy, ts: T0 + 20 });
    const [o] = feed(w, [cpu(2, T0 + 1000)]);
    assert.deepEqual(
      o?.events.map((e) => `${e.message}@${e.ts - T0}`),
      ['v2@10', 'v3@10', 'v2@20'],
    );
  });

  it('inserts out-of-order samples in time order; they are buffered and never emit', () => {
    const w = windows({ windowMs: 10_000, emitEveryMs: 1000 });
    assert.equal(w.addSample(cpu(50, T0 + 5000)).kind, 'observation');
    assert.equal(w.addSample(cpu(30, T0 + 3000)).kind, 'buffered');
    assert.equal(w.addSample(cpu(45, T0 + 4500)).kind, 'buffered');
    assert.equal(w.addSample(cpu(40, T0 + 4000)).kind, 'buffered');
    assert.equal(w.addSample(cpu(55, T0 + 5000)).kind, 'buffered', 'equal to the watermark');
    const [o] = feed(w, [cpu(60, T0 + 6000)]);
    assert.deepEqual(o?.features, {
      'cpu.avg': 280 / 6,
      'cpu.min': 30,
      'cpu.max': 60,
      'cpu.last': 60,
      'cpu.p95': 60,
      'cpu.count': 6,
      // least squares over (3,30) (4,40) (4.5,45) (5,50) (5,55) (6,60), by hand: 10.4
      'cpu.slope': 10.399999999999999,
    });
  });

  it('calls a sample late at or beyond the window reach, and late samples change nothing', () => {
    const w = windows({ windowMs: 3000, emitEveryMs: 1000 });
    const control = windows({ windowMs: 3000, emitEveryMs: 1000 });
    feed(w, [cpu(50, T0 + 10_000)]);
    feed(control, [cpu(50, T0 + 10_000)]);
    assert.equal(w.addSample(cpu(99, T0)).kind, 'late');
    assert.equal(w.addSample(cpu(99, T0 + 7000)).kind, 'late', 'exactly watermark - windowMs');
    assert.equal(w.addSample(sample('mem', 1, T0 + 7000)).kind, 'late', 'a new metric too');
    assert.equal(w.addSample(cpu(60, T0 + 7001)).kind, 'buffered');
    assert.equal(control.addSample(cpu(60, T0 + 7001)).kind, 'buffered');
    const [o] = feed(w, [cpu(70, T0 + 11_000)]);
    assert.deepEqual(o, feed(control, [cpu(70, T0 + 11_000)])[0]);
    assert.deepEqual(o?.features['cpu.count'], 2, '7001 left the window (8000, 11000]');
  });

  it('gives the same observations after a restart that replays the last window (in order)', () => {
    const windowMs = 10_000;
    const opts = { windowMs, emitEveryMs: 3000, maxEvents: 3 };
    const items = stream(120_000, 0);
    const full = windows(opts);
    const outcomes = items.map((i) => apply(full, i));
    assert.ok(outcomes.filter((o) => o.kind === 'observation').length > 100);
    for (let cut = 1; cut < items.length; cut += 23) {
      const cutTs = tsOf(items[cut]!);
      const rebuilt = windows(opts);
      // Events from further back, as sense replays its events partitions (the last deploy's time).
      for (const i of items.slice(0, cut)) if ('event' in i || tsOf(i) > cutTs - windowMs) apply(rebuilt, i);
      const after = items.slice(cut).map((i) => apply(rebuilt, i));
      assert.equal(JSON.stringify(after), JSON.stringify(outcomes.slice(cut)), `cut at ${cut}`);
    }
  });

  it('gives the same observations after a restart when samples arrive out of order', () => {
    const windowMs = 10_000;
    const jitterMs = 1500;
    const opts = { windowMs, emitEveryMs: 2000 };
    const items = stream(90_000, jitterMs);
    const full = windows(opts);
    const outcomes = items.map((i) => apply(full, i));
    const buffered = outcomes.filter((o) => o.kind === 'buffered').length;
    assert.ok(buffered > 100, `out-of-order samples are buffered (${buffered})`);
    for (let cut = 1; cut < items.length; cut += 17) {
      const seen = Math.max(...items.slice(0, cut).map(tsOf));
      const rebuilt = windows(opts);
      for (const i of items.slice(0, cut))
        if ('event' in i || tsOf(i) > seen - windowMs - jitterMs) apply(rebuilt, i);
      const after = items.slice(cut).map((i) => apply(rebuilt, i));
      assert.equal(JSON.stringify(after), JSON.stringify(outcomes.slice(cut)), `cut at ${cut}`);
    }
  });

  it('refuses a new metric beyond maxMetricsPerEntity and changes nothing', () => {
    const w = windows({ windowMs: 5000, emitEveryMs: 1000, maxMetricsPerEntity: 2 });
    const control = windows({ windowMs: 5000, emitEveryMs: 1000, maxMetricsPerEntity: 2 });
    const accepted = [cpu(1, T0), sample('mem', 2, T0 + 100), cpu(3, T0 + 200)];
    feed(w, accepted);
    feed(control, accepted);
    for (const ts of [T0 + 300, T0 + 150, T0 + 2500]) {
      const o = w.addSample(sample('disk', 9, ts));
      assert.equal(o.kind, 'refused');
      assert.equal(o.kind === 'refused' && o.reason, 'too_many_metrics');
      assert.match(o.kind === 'refused' ? o.message : '', /e1.*2 metrics.*AUTOGLM_MAX_METRICS_PER_ENTITY/);
    }
    const next = [cpu(4, T0 + 3000), sample('mem', 5, T0 + 4000)];
    assert.deepEqual(feed(w, next), feed(control, next));
    // Once mem has left the window, its slot is free again.
    feed(w, [cpu(6, T0 + 9500)]);
    assert.equal(w.addSample(sample('disk', 7, T0 + 9600)).kind, 'buffered');
    const [o] = feed(w, [cpu(8, T0 + 10_000)]);
    assert.deepEqual(
      Object.keys(o!.features).filter((f) => f.endsWith('.count')),
      ['cpu.count', 'disk.count'],
    );
  });

  it('refuses a new entity beyond maxEntities, for samples and events, and changes nothing', () => {
    const w = windows({ windowMs: 5000, emitEveryMs: 1000, maxEntities: 2 });
    feed(w, [cpu(1, T0, 'a'), cpu(1, T0, 'b')]);
    const refused = w.addSample(cpu(1, T0, 'c'));
    assert.equal(refused.kind === 'refused' && refused.reason, 'too_many_entities');
    assert.match(refused.kind === 'refused' ? refused.message : '', /2 entities.*AUTOGLM_MAX_ENTITIES/);
    const ev = w.addEvent({ entity: 'c', kind: 'deploy', message: 'v1', ts: T0 });
    assert.equal(ev.kind === 'refused' && ev.reason, 'too_many_entities');
    assert.equal(w.size, 2);
    assert.equal(w.addEvent({ entity: 'a', kind: 'deploy', message: 'v1', ts: T0 }).kind, 'event');
    assert.equal(w.addSample(cpu(2, T0 + 1000, 'b')).kind, 'observation', 'known entities go on');
    assert.equal(w.evictIdle(T0 + 60_000, 50_000), 2);
    assert.equal(w.addSample(cpu(1, T0 + 60_000, 'c')).kind, 'observation');
  });

  it('keeps at most maxPointsPerMetric points, dropping the oldest', () => {
    const w = windows({ windowMs: 100_000, emitEveryMs: 1000, maxPointsPerMetric: 5 });
    const obs = feed(
      w,
      Array.from({ length: 20 }, (_, i) => cpu(i, T0 + i * 1000)),
    );
    const last = obs.at(-1)!.features;
    assert.equal(last['cpu.count'], 5);
    assert.equal(last['cpu.avg'], 17);
    assert.equal(last['cpu.min'], 15);
  });

  it('gives finite features for values of ±1e12 and leaves out (and counts) what cannot be finite', () => {
    const w = windows({ windowMs: 100_000, emitEveryMs: 1000 });
    const values = [1e12, -1e12, 1e12, 999_999_999_999.5, -1e12, 1e12];
    const obs = feed(
      w,
      values.map((v, i) => cpu(v, T0 + i * 1000)),
    );
    for (const o of obs) {
      assert.equal(Object.keys(o.features).length, 7);
      for (const v of Object.values(o.features)) assert.ok(Number.isFinite(v));
    }
    assert.equal(w.nonFiniteDropped, 0);
    // Beyond the edge's bound the plain sums overflow; the scaled fallbacks give the finite answer.
    const big = windows({ windowMs: 200_000, emitEveryMs: 1000 });
    const [, spread] = feed(big, [cpu(-1.7e308, T0, 'x'), cpu(1.7e308, T0 + 100_000, 'x')]);
    assert.equal(spread?.features['cpu.avg'], 0);
    assert.ok(Math.abs(spread!.features['cpu.slope']! / 3.4e306 - 1) < 1e-12);
    const [, high] = feed(big, [cpu(1.7e308, T0, 'y'), cpu(1.7e308, T0 + 1000, 'y')]);
    assert.equal(high?.features['cpu.avg'], 1.7e308);
    assert.equal(Object.keys(high!.features).length, 7);
    assert.equal(big.nonFiniteDropped, 0);
    // A true slope of 3.4e308 per second is not a finite number: left out, and counted.
    const steep = windows({ windowMs: 5000, emitEveryMs: 1000 });
    const [, o] = feed(steep, [cpu(-1.7e308, T0), cpu(1.7e308, T0 + 1000)]);
    assert.equal(o?.features['cpu.avg'], 0);
    assert.equal('cpu.slope' in o!.features, false);
    assert.equal(Object.keys(o!.features).length, 6);
    assert.equal(steep.nonFiniteDropped, 1);
  });

  it('computes p95 as the nearest rank, ceil(0.95 n)', () => {
    // 21 values: rank ceil(19.95) = 20, the 20th smallest of 1², 2², …, 21² is 400.
    const squares = [17, 3, 21, 9, 1, 20, 14, 5, 11, 19, 2, 8, 16, 6, 12, 4, 18, 10, 7, 13, 15].map(
      (i) => i * i,
    );
    const w = windows({ windowMs: 100_000, emitEveryMs: 100_000 });
    squares.forEach((v, i) => w.addSample(cpu(v, T0 + 1000 + i)));
    const [o] = feed(w, [cpu(1000, T0 + 100_000)]); // 22 values: rank ceil(20.9) = 21 → 21² = 441
    assert.equal(o?.features['cpu.p95'], 441);
    const single = feed(windows({ windowMs: 1000, emitEveryMs: 1000 }), [cpu(7, T0)]);
    assert.equal(single[0]?.features['cpu.p95'], 7);
    assert.equal(p95(Float64Array.from(squares), 21), 400);
    assert.equal(
      p95(Float64Array.from([5, 5, 5, 1, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 2]), 21),
      9,
    );
    assert.equal(p95(Float64Array.from([3, 1, 2, 1000]), 4), 1000);
    // Against a sort, on random arrays with many ties.
    const rand = lcg(3);
    for (let round = 0; round < 500; round++) {
      const n = 1 + Math.floor(rand() * 200);
      const a = Float64Array.from({ length: n }, () => Math.floor(rand() * 20));
      const sorted = [...a].sort((x, y) => x - y);
      assert.equal(p95(a, n), sorted[Math.min(n - 1, Math.ceil(0.95 * n) - 1)]);
    }
  });

  it('computes the slope per metric: 0 for one point, per second otherwise; metrics in name order', () => {
    const w = windows({ windowMs: 10_000, emitEveryMs: 1000 });
    const obs = feed(w, [
      sample('mem', 100, T0),
      cpu(10, T0 + 1000),
      sample('mem', 99.5, T0 + 2000),
      cpu(14, T0 + 3000),
      sample('disk', 3, T0 + 3000),
      cpu(16, T0 + 4000),
    ]);
    const f = obs.at(-1)!.features;
    assert.equal(f['cpu.slope'], 2);
    assert.equal(f['mem.slope'], -0.25);
    assert.equal(f['disk.slope'], 0);
    assert.equal(f['disk.count'], 1);
    assert.deepEqual([...new Set(Object.keys(f).map((k) => k.split('.')[0]))], ['cpu', 'disk', 'mem']);
    assert.equal(obs[0]?.features['mem.slope'], 0);
  });

  it('pins the observations of a small input exactly', () => {
    const w = windows({ windowMs: 3000, emitEveryMs: 1000 });
    const out: SampleOutcome[] = [];
    out.push(w.addSample(cpu(10, T0)));
    out.push(w.addSample(sample('mem', 5, T0 + 200)));
    out.push(w.addSample(cpu(20, T0 + 900)));
    assert.equal(w.addEvent({ entity: 'e1', kind: 'deploy', message: 'v2', ts: T0 + 1000 }).kind, 'event');
    out.push(w.addSample(cpu(40, T0 + 1500)));
    out.push(w.addSample(cpu(30, T0 + 1200)));
    out.push(w.addSample(sample('mem', 7, T0 + 2600)));
    const seq0 = T0 / 1000;
    const one = (m: string, v: number) => ({
      [`${m}.avg`]: v,
      [`${m}.min`]: v,
      [`${m}.max`]: v,
      [`${m}.last`]: v,
      [`${m}.p95`]: v,
      [`${m}.count`]: 1,
      [`${m}.slope`]: 0,
    });
    assert.deepEqual(out, [
      {
        kind: 'observation',
        observation: {
          entity: 'e1',
          seq: seq0,
          window: { start: T0 - 3000, end: T0 },
          features: one('cpu', 10),
          events: [],
          ts: T0,
        },
      },
      { kind: 'buffered' },
      { kind: 'buffered' },
      {
        kind: 'observation',
        observation: {
          entity: 'e1',
          seq: seq0 + 1,
          window: { start: T0 - 1500, end: T0 + 1500 },
          features: {
            'cpu.avg': 23.333333333333332,
            'cpu.min': 10,
            'cpu.max': 40,
            'cpu.last': 40,
            'cpu.p95': 40,
            'cpu.count': 3,
            'cpu.slope': 19.298245614035086,
            ...one('mem', 5),
          },
          events: [{ kind: 'deploy', message: 'v2', ts: T0 + 1000 }],
          ts: T0 + 1500,
          lastDeploy: T0 + 1000,
        },
      },
      { kind: 'buffered' },
      {
        kind: 'observation',
        observation: {
          entity: 'e1',
          seq: seq0 + 2,
          window: { start: T0 - 400, end: T0 + 2600 },
          features: {
            'cpu.avg': 25,
            'cpu.min': 10,
            'cpu.max': 40,
            'cpu.last': 40,
            'cpu.p95': 40,
            'cpu.count': 4,
            'cpu.slope': 19.047619047619047,
            'mem.avg': 6,
            'mem.min': 5,
            'mem.max': 7,
            'mem.last': 7,
            'mem.p95': 7,
            'mem.count': 2,
            'mem.slope': 0.8333333333333334,
          },
          events: [{ kind: 'deploy', message: 'v2', ts: T0 + 1000 }],
          ts: T0 + 2600,
          lastDeploy: T0 + 1000,
        },
      },
    ]);
  });

  it('keeps entities apart and carries recent events, truncated, at most maxEvents', () => {
    const w = windows({ windowMs: 5000, emitEveryMs: 1000, maxEvents: 3 });
    w.addEvent({ entity: 'a', kind: 'deploy', message: 'v2', ts: T0 - 1000 });
    w.addEvent({ entity: 'a', kind: 'alert', message: 'old', ts: T0 - 60_000 });
    w.addEvent({ entity: 'a', kind: 'log', message: 'x'.repeat(1000), ts: T0 - 2000 });
    w.addEvent({ entity: 'a', kind: 'k8s', message: 'later', ts: T0 + 500 });
    const [a] = feed(w, [cpu(90, T0, 'a')]);
    const [b] = feed(w, [cpu(10, T0, 'b')]);
    assert.equal(a?.features['cpu.avg'], 90);
    assert.equal(b?.features['cpu.avg'], 10);
    assert.deepEqual(
      a?.events.map((e) => [e.kind, e.message.length]),
      [
        ['log', 256],
        ['deploy', 2],
      ],
      'the oldest beyond 3 is dropped; one after the window end waits',
    );
    assert.deepEqual(b?.events, []);
    const [a2] = feed(w, [cpu(90, T0 + 4500, 'a')]);
    assert.deepEqual(
      a2?.events.map((e) => e.kind),
      ['k8s'],
    );
  });

  it("addSampleUnbuilt gives addSample's outcomes, and view() shows what build() builds (baselines, events, alerts, deploys)", () => {
    const options = { windowMs: 5000, emitEveryMs: 1000, maxMetricsPerEntity: 8, maxEntities: 100 };
    const live = new EntityWindows({ ...options, baselines: new BaselineStore({ warmupSamples: 5 }) });
    const unbuilt = new EntityWindows({ ...options, baselines: new BaselineStore({ warmupSamples: 5 }) });
    const alert = (status: string, ts: number): OpsEvent => ({
      entity: 'svc/pod-2',
      kind: 'alert',
      message: `HighLatency ${status}`,
      ts,
      attrs: {
        status,
        alertname: 'HighLatency',
        severity: 'warning',
        fingerprint: 'f1',
        startsAt: new Date(T0).toISOString(),
      },
    });
    const items: Item[] = [
      ...stream(60_000, 0),
      { event: alert('firing', T0 + 20_000) },
      { event: alert('resolved', T0 + 40_000) },
    ].sort((a, b) => tsOf(a) - tsOf(b));
    /** The view's fields as the observation holds them: those undefined left out, copied before the next sample. */
    const copy = (o: Observation) => JSON.parse(JSON.stringify(o)) as Observation;
    let viewed = 0;
    const kinds = new Set<string>();
    for (const item of items) {
      if ('event' in item) {
        assert.deepEqual(unbuilt.addEvent(item.event), live.addEvent(item.event));
        continue;
      }
      const expected = live.addSample(item.sample);
      const outcome = unbuilt.addSampleUnbuilt(item.sample);
      kinds.add(outcome.kind);
      if (expected.kind !== 'observation') {
        assert.deepEqual(outcome, expected);
        continue;
      }
      assert.equal(outcome.kind, 'unbuilt');
      const view = unbuilt.view();
      assert.ok(view !== undefined, 'finite features are shown in place');
      const shown = copy(view);
      const built = unbuilt.build();
      assert.deepEqual(built, expected.observation);
      assert.deepEqual(shown, copy(built));
      viewed++;
      if (built.warmingUp) kinds.add('warmingUp');
      if (built.alerts?.length) kinds.add('alerts');
      if (built.lastDeploy !== undefined) kinds.add('lastDeploy');
      if (built.events.length > 0) kinds.add('events');
      if ('cpu.deviation' in built.features) kinds.add('warm');
    }
    assert.ok(viewed > 100, `${viewed} observations`);
    assert.deepEqual([...kinds].sort(), [
      'alerts',
      'buffered',
      'events',
      'lastDeploy',
      'unbuilt',
      'warm',
      'warmingUp',
    ]);
    // A statistic that is not finite: no view, the observation is built one feature at a time as addSample does.
    const steep = windows({ windowMs: 5000, emitEveryMs: 1000 });
    assert.equal(steep.addSampleUnbuilt(cpu(-1.7e308, T0)).kind, 'unbuilt');
    assert.equal(steep.addSampleUnbuilt(cpu(1.7e308, T0 + 1000)).kind, 'unbuilt');
    assert.equal(steep.view(), undefined);
    assert.equal('cpu.slope' in steep.build().features, false);
  });

  it('gives the same observations for the same input (deterministic on event time)', () => {
    const samples = Array.from({ length: 40 }, (_, i) => cpu((i * 37) % 100, T0 + i * 250));
    const a = feed(windows({ windowMs: 3000, emitEveryMs: 500 }), samples);
    const b = feed(windows({ windowMs: 3000, emitEveryMs: 500 }), samples);
    assert.ok(a.length > 10);
    assert.equal(JSON.stringify(a), JSON.stringify(b));
  });

  it('evicts entities idle by event time, not by the wall clock', () => {
    const w = windows({ windowMs: 1000, emitEveryMs: 500 });
    const past = Date.parse('2021-03-01T00:00:00Z'); // a replay of old data
    feed(w, [cpu(1, past, 'old'), cpu(1, past + 100_000, 'new')]);
    w.addEvent({ entity: 'quiet', kind: 'deploy', message: 'v1', ts: past + 95_000 });
    assert.equal(w.evictIdle(past + 100_000, 10_000), 1, 'only "old" is idle');
    assert.equal(w.size, 2);
    assert.equal(w.evictIdle(past + 100_000, 10_000), 0);
    assert.equal(w.addSample(cpu(1, past, 'old')).kind, 'observation', 'a new window');
  });

  it('gives the points of evicted entities back', () => {
    const w = windows({ windowMs: 30_000, emitEveryMs: 5000, maxEntities: 10_000 });
    for (let s = 0; s < 30; s++)
      for (let e = 0; e < 5000; e++) w.addSample(cpu(s, T0 + s * 1000, `pod-${e}`));
    const full = w.pointBytes;
    assert.ok(full >= 5000 * 32 * 16, `${full} bytes for 5000 × 30 points`);
    assert.equal(w.evictIdle(T0 + 100_000, 10_000), 5000);
    assert.equal(w.size, 0);
    assert.ok(w.pointBytes <= full / 10, `${w.pointBytes} bytes kept of ${full}`);
  });

  it('refuses settings that are not positive integers', () => {
    assert.throws(() => windows({ windowMs: 0, emitEveryMs: 1000 }), /windowMs/);
    assert.throws(() => windows({ windowMs: 1000, emitEveryMs: 1000, maxEntities: 0 }), /maxEntities/);
  });
});

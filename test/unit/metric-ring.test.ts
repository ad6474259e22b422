import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MetricRing } from '../../services/sense/metric-ring.js';
import { PointPool } from '../../services/sense/point-pool.js';

const points = (r: MetricRing): Array<[number, number]> =>
  Array.from({ length: r.length }, (_, i) => [r.tsAt(i), r.valueAt(i)]);

/** A deterministic pseudo-random sequence in [0, 1). */
function lcg(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}

describe('MetricRing', () => {
  it('appends in order and doubles its capacity from 4', () => {
    const r = new MetricRing('cpu', new PointPool(), 1024);
    assert.equal(r.capacity, 0, 'no block before the first point');
    assert.equal(r.lastTs, -Infinity);
    const caps: number[] = [];
    for (let i = 0; i < 30; i++) {
      r.add(i * 10, i);
      caps.push(r.capacity);
    }
    assert.deepEqual([...new Set(caps)], [4, 8, 16, 32]);
    assert.equal(r.length, 30);
    assert.deepEqual(
      points(r),
      Array.from({ length: 30 }, (_, i) => [i * 10, i]),
    );
    assert.equal(r.lastTs, 290);
  });

  it('wraps around: dropping the oldest and appending reuses the buffer in order', () => {
    const r = new MetricRing('cpu', new PointPool(), 1024);
    for (let i = 0; i < 6; i++) r.add(i, i);
    assert.equal(r.capacity, 8);
    for (let i = 6; i < 100; i++) {
      r.add(i, i);
      assert.equal(r.dropThrough(i - 6), 1); // keep 6 points
      assert.equal(r.capacity, 8, 'steady state neither grows nor shrinks');
    }
    assert.deepEqual(
      points(r),
      [94, 95, 96, 97, 98, 99].map((t) => [t, t]),
    );
  });

  it('drops every point at or before a bound and shrinks once a quarter is used', () => {
    const r = new MetricRing('cpu', new PointPool(), 1024);
    for (let i = 0; i < 64; i++) r.add(i, -i);
    assert.equal(r.capacity, 64);
    assert.equal(r.dropThrough(-1), 0);
    assert.equal(r.dropThrough(47), 48);
    assert.equal(r.capacity, 32, 'halved once at most a quarter is used');
    assert.deepEqual(points(r)[0], [48, -48]);
    assert.equal(r.dropThrough(59), 12);
    assert.equal(r.capacity, 16);
    assert.deepEqual(
      points(r),
      [60, 61, 62, 63].map((t) => [t, -t]),
    );
    assert.equal(r.dropThrough(1000), 4);
    assert.equal(r.length, 0);
    assert.equal(r.capacity, 0, 'an empty ring gives its block back');
    r.add(5, 5);
    assert.deepEqual(points(r), [[5, 5]]);
  });

  it('inserts out of order in time order, after points of equal time, across the wrap', () => {
    const r = new MetricRing('cpu', new PointPool(), 1024);
    for (let i = 0; i < 8; i++) r.add(i * 10, i);
    r.dropThrough(25); // head is now mid-buffer: inserts shift across the end
    r.add(55, 100);
    r.add(30, 101); // equal time: after the existing 30
    r.add(31, 102);
    r.add(29, 103); // before everything held
    r.add(100, 104);
    assert.deepEqual(points(r), [
      [29, 103],
      [30, 3],
      [30, 101],
      [31, 102],
      [40, 4],
      [50, 5],
      [55, 100],
      [60, 6],
      [70, 7],
      [100, 104],
    ]);
  });

  it('keeps at most maxPoints, dropping the oldest (an incoming oldest point included)', () => {
    const r = new MetricRing('cpu', new PointPool(), 5);
    for (let i = 0; i < 12; i++) assert.equal(r.add(i, i), true);
    assert.equal(r.capacity, 8, 'a power of two holds the 5');
    assert.deepEqual(
      points(r).map(([t]) => t),
      [7, 8, 9, 10, 11],
    );
    assert.equal(r.add(8.5, 0), true);
    assert.deepEqual(
      points(r).map(([t]) => t),
      [8, 8.5, 9, 10, 11],
    );
    assert.equal(r.add(1, 0), false, 'older than every point held at the cap');
    assert.deepEqual(
      points(r).map(([t]) => t),
      [8, 8.5, 9, 10, 11],
    );
  });

  it('matches a sorted array model under random inserts and drops', () => {
    const rand = lcg(7);
    const r = new MetricRing('m', new PointPool(), 50);
    let model: Array<[number, number]> = [];
    let now = 0;
    for (let step = 0; step < 5000; step++) {
      now += Math.floor(rand() * 3);
      const ts = now - Math.floor(rand() * rand() * 20);
      const value = Math.floor(rand() * 1000);
      const added = r.add(ts, value);
      let at = model.length;
      while (at > 0 && model[at - 1]![0] > ts) at--;
      if (model.length === 50 && at === 0) {
        assert.equal(added, false);
      } else {
        model.splice(at, 0, [ts, value]);
        if (model.length > 50) model.shift();
      }
      if (rand() < 0.2) {
        const bound = now - 10 - Math.floor(rand() * 40);
        r.dropThrough(bound);
        model = model.filter(([t]) => t > bound);
      }
      assert.ok(r.capacity >= r.length && r.capacity <= 64);
      assert.deepEqual(points(r), model);
    }
  });

  it('shares one pool between many rings without overlap, and gives slabs back', () => {
    const pool = new PointPool();
    const rand = lcg(11);
    const rings = Array.from({ length: 300 }, (_, i) => new MetricRing(`m${i}`, pool, 200));
    const models: Array<Array<[number, number]>> = rings.map(() => []);
    for (let step = 0; step < 30_000; step++) {
      const k = Math.floor(rand() * rings.length);
      const r = rings[k]!;
      const ts = step - Math.floor(rand() * 5);
      r.add(ts, k * 1e6 + step);
      const model = models[k]!;
      let at = model.length;
      while (at > 0 && model[at - 1]![0] > ts) at--;
      model.splice(at, 0, [ts, k * 1e6 + step]);
      if (model.length > 200) model.shift();
      if (rand() < 0.05) {
        const bound = ts - Math.floor(rand() * 3000);
        r.dropThrough(bound);
        models[k] = model.filter(([t]) => t > bound);
      }
    }
    rings.forEach((r, k) => assert.deepEqual(points(r), models[k], `ring ${k}`));
    const reserved = pool.reservedBytes;
    assert.ok(reserved > 0);
    for (const r of rings) r.release();
    assert.ok(pool.reservedBytes < reserved, `${pool.reservedBytes} of ${reserved} bytes kept`);
    // Sizes 4, 8, …, 256 points: at most one spare 64 KB slab each.
    assert.ok(pool.reservedBytes <= 7 * 64 * 1024, `${pool.reservedBytes} bytes kept`);
    // Freed blocks are taken again.
    const again = new MetricRing('again', pool, 10);
    for (let i = 0; i < 10; i++) again.add(i, i);
    assert.deepEqual(
      points(again).map(([t]) => t),
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    );
  });

  it('refuses a cap that is not a positive integer', () => {
    assert.throws(() => new MetricRing('m', new PointPool(), 0), RangeError);
    assert.throws(() => new MetricRing('m', new PointPool(), 1.5), RangeError);
  });
});

describe('PointPool', () => {
  it('hands out distinct blocks of one size from 64 KB slabs and takes them back', () => {
    const pool = new PointPool();
    const blocks = Array.from({ length: 2000 }, () => pool.alloc(32)); // 512 B each: 128 per slab
    const bySlab = new Map<Float64Array, Set<number>>();
    for (const b of blocks) {
      const bases = bySlab.get(b.slab) ?? new Set<number>();
      assert.equal(bases.has(b.base), false, 'no block handed out twice');
      assert.ok(b.base % 64 === 0 && b.base + 64 <= b.slab.length);
      bases.add(b.base);
      bySlab.set(b.slab, bases);
    }
    assert.equal(bySlab.size, Math.ceil(2000 / 128));
    assert.equal(pool.reservedBytes, bySlab.size * 64 * 1024);
    for (const b of blocks.slice(0, 1000)) pool.free(32, b.id);
    const again = pool.alloc(32);
    assert.equal(again.id, blocks[999]!.id, 'the last freed block is reused first');
    for (const b of [again, ...blocks.slice(1000)]) pool.free(32, b.id);
    assert.equal(pool.reservedBytes, 64 * 1024, 'one spare slab stays');
  });
  it('holds(ts, value) finds a point of that time and value only', () => {
    const r = new MetricRing('cpu', new PointPool(), 16);
    r.add(1000, 5);
    r.add(2000, 7);
    r.add(2000, 8);
    r.add(3000, 9);
    assert.equal(r.holds(2000, 7), true);
    assert.equal(r.holds(2000, 8), true);
    assert.equal(r.holds(2000, 9), false);
    assert.equal(r.holds(1000, 5), true);
    assert.equal(r.holds(1500, 5), false);
    assert.equal(r.holds(4000, 9), false);
  });
});

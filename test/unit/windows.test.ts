import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MetricSample, Observation } from '../../services/common/contracts.js';
import { EntityWindows } from '../../services/sense/windows.js';

const T0 = 1_800_000_000_000;
const cpu = (value: number, ts: number, entity = 'e1'): MetricSample => ({
  entity,
  metric: 'cpu',
  value,
  ts,
});

function feed(w: EntityWindows, samples: MetricSample[]): Observation[] {
  return samples.flatMap((s) => {
    const o = w.addSample(s);
    return o.kind === 'observation' ? [o.observation] : [];
  });
}

describe('EntityWindows', () => {
  it('emits at most one observation per emit interval, with window features', () => {
    const w = new EntityWindows({ windowMs: 10_000, emitEveryMs: 2000 });
    const obs = feed(
      w,
      [0, 1000, 2000, 3000, 4000].map((t, i) => cpu(80 + i * 5, T0 + t)),
    );
    assert.deepEqual(
      obs.map((o) => o.window.end),
      [T0, T0 + 2000, T0 + 4000],
    );
    const last = obs.at(-1)!;
    assert.equal(last.features['cpu.avg'], 90);
    assert.equal(last.features['cpu.max'], 100);
    assert.equal(last.features['cpu.min'], 80);
    assert.equal(last.features['cpu.last'], 100);
    assert.equal(last.features['cpu.count'], 5);
    assert.equal(last.features['cpu.slope'], 5);
    assert.deepEqual(
      obs.map((o) => o.seq),
      [0, 1, 2],
    );
  });

  it('drops samples that left the window from the features', () => {
    const w = new EntityWindows({ windowMs: 3000, emitEveryMs: 1000 });
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

  it('calls a sample late when it is older than the window reaches, and keeps it out', () => {
    const w = new EntityWindows({ windowMs: 3000, emitEveryMs: 1000 });
    feed(w, [cpu(50, T0 + 10_000)]);
    assert.equal(w.addSample(cpu(99, T0)).kind, 'late');
    assert.equal(w.addSample(cpu(60, T0 + 9000)).kind, 'buffered');
    const [o] = feed(w, [cpu(70, T0 + 11_000)]);
    assert.equal(o?.features['cpu.max'], 70);
    assert.equal(o?.features['cpu.count'], 3);
  });

  it('keeps entities apart and carries recent events', () => {
    const w = new EntityWindows({ windowMs: 5000, emitEveryMs: 1000 });
    w.addEvent({ entity: 'a', kind: 'deploy', message: 'v2', ts: T0 - 1000 });
    w.addEvent({ entity: 'a', kind: 'alert', message: 'old', ts: T0 - 60_000 });
    const [a] = feed(w, [cpu(90, T0, 'a')]);
    const [b] = feed(w, [cpu(10, T0, 'b')]);
    assert.equal(a?.features['cpu.avg'], 90);
    assert.equal(b?.features['cpu.avg'], 10);
    assert.deepEqual(
      a?.events.map((e) => e.message),
      ['v2'],
    );
    assert.deepEqual(b?.events, []);
  });

  it('gives the same observations for the same input (deterministic on event time)', () => {
    const samples = Array.from({ length: 40 }, (_, i) => cpu((i * 37) % 100, T0 + i * 250));
    const a = feed(new EntityWindows({ windowMs: 3000, emitEveryMs: 500 }), samples);
    const b = feed(new EntityWindows({ windowMs: 3000, emitEveryMs: 500 }), samples);
    assert.ok(a.length > 10);
    assert.deepEqual(a, b);
  });

  it('forgets idle entities', () => {
    const w = new EntityWindows({ windowMs: 1000, emitEveryMs: 500 });
    feed(w, [cpu(1, T0, 'old'), cpu(1, T0 + 100_000, 'new')]);
    assert.equal(w.evictIdle(T0 + 100_000, 10_000), 1);
    assert.equal(w.size, 1);
  });
});

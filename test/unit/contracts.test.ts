import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decodeMessage,
  eventSchema,
  fastMetricSample,
  fastMetricSampleBytes,
  fastObservation,
  observationSchema,
  MAX_MESSAGE_BYTES,
  metricSampleSchema,
} from '../../services/common/contracts.js';

const NOW = Date.parse('2026-11-29T12:00:00Z');
const SKEW = 300_000;
const bytes = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));

describe('decodeMessage', () => {
  it('accepts a valid sample and turns an ISO time into epoch ms', () => {
    const r = decodeMessage(
      metricSampleSchema,
      bytes({ entity: 'checkout/pod-1', metric: 'cpu', value: 91.5, ts: '2026-11-29T11:59:00Z' }),
      NOW,
      SKEW,
    );
    assert.ok(r.ok);
    assert.equal(r.value.ts, NOW - 60_000);
    assert.equal(r.value.value, 91.5);
  });

  it('names every bad field of a sample', () => {
    const r = decodeMessage(
      metricSampleSchema,
      bytes({ entity: '', metric: 'CPU', value: 'high', ts: 1700 }),
      NOW,
      SKEW,
    );
    assert.ok(!r.ok);
    assert.equal(r.refusal.reason, 'schema');
    const paths = [...new Set(r.refusal.issues.map((i) => i.path))].sort();
    assert.deepEqual(paths, ['entity', 'metric', 'ts', 'value']);
    assert.match(r.refusal.issues.find((i) => i.path === 'ts')?.message ?? '', /milliseconds/);
  });

  it('refuses empty, non-JSON and oversized values with their reason', () => {
    const empty = decodeMessage(metricSampleSchema, null, NOW, SKEW);
    assert.ok(!empty.ok && empty.refusal.reason === 'empty');
    const text = decodeMessage(metricSampleSchema, bytes('{"entity": '), NOW, SKEW);
    assert.ok(!text.ok && text.refusal.reason === 'not_json');
    const big = decodeMessage(metricSampleSchema, Buffer.alloc(MAX_MESSAGE_BYTES + 1, 32), NOW, SKEW);
    assert.ok(!big.ok && big.refusal.reason === 'too_large');
  });

  it('refuses event times too far in the future', () => {
    const r = decodeMessage(
      eventSchema,
      bytes({ entity: 'a', kind: 'deploy', message: 'v2', ts: NOW + SKEW + 1000 }),
      NOW,
      SKEW,
    );
    assert.ok(!r.ok);
    assert.equal(r.refusal.reason, 'clock_skew');
    assert.equal(r.refusal.issues[0]?.path, 'ts');
  });

  it('accepts an event with attributes', () => {
    const r = decodeMessage(
      eventSchema,
      bytes({
        entity: 'a',
        kind: 'deploy',
        message: 'v2 rolled out',
        ts: NOW,
        attrs: { version: 'v2', canary: true },
      }),
      NOW,
      SKEW,
    );
    assert.ok(r.ok);
    assert.equal(r.value.kind, 'deploy');
  });

  it('refuses entity ids with path tricks that targets could misread', () => {
    for (const entity of ['svc/../../etc/passwd', 'a/./b', 'a//b', 'a/']) {
      const r = decodeMessage(
        metricSampleSchema,
        bytes({ entity, metric: 'cpu', value: 1, ts: NOW }),
        NOW,
        SKEW,
      );
      assert.equal(r.ok, false, entity);
    }
    const ok = decodeMessage(
      metricSampleSchema,
      bytes({ entity: 'checkout/pod-1.eu', metric: 'cpu', value: 1, ts: NOW }),
      NOW,
      SKEW,
    );
    assert.equal(ok.ok, true);
  });

  it('has a fast check for samples that accepts only what the schema accepts, with the same result', () => {
    const base = { entity: 'checkout/pod-1', metric: 'cpu', value: 1.5, ts: NOW };
    const variants: unknown[] = [
      base,
      { ...base, extra: 'dropped' },
      { ...base, entity: 'a/../b' },
      { ...base, entity: 'a//b' },
      { ...base, entity: 'a/.b' },
      { ...base, entity: '' },
      { ...base, entity: 'x'.repeat(201) },
      { ...base, metric: 'CPU' },
      { ...base, value: Number.NaN },
      { ...base, value: '1' },
      { ...base, ts: 1.5 },
      { ...base, ts: 1000 },
      { ...base, ts: '2026-11-29T11:59:00Z' },
      { ...base, labels: { az: 'a' } },
      { ...base, metric: 'm'.repeat(128) },
      { ...base, metric: 'm'.repeat(129) },
      { ...base, ts: 1e300 },
      { ...base, value: Infinity },
      null,
      [],
      'text',
    ];
    for (const v of variants) {
      const fast = fastMetricSample(v);
      const slow = metricSampleSchema.safeParse(v);
      if (fast !== undefined) {
        assert.ok(slow.success, `fast accepted what the schema refuses: ${JSON.stringify(v)}`);
        assert.deepEqual(fast, slow.data);
      }
    }
    assert.deepEqual(fastMetricSample(base), base);
  });
  it('checks common observations without zod, accepting only what the schema accepts, with the same value', () => {
    const base = {
      entity: 'checkout/pod-1',
      seq: 3,
      window: { start: NOW - 30_000, end: NOW },
      features: { 'cpu.avg': 91.5, 'cpu.count': 6 },
      events: [{ kind: 'deploy', message: 'v2', ts: NOW - 1000 }],
      ts: NOW,
    };
    const variants: unknown[] = [
      base,
      { ...base, extra: 'dropped' },
      { ...base, events: [{ kind: 'deploy', message: 'v2', ts: NOW, extra: 1 }] },
      { ...base, entity: 'a/../b' },
      { ...base, entity: 'a//b' },
      { ...base, entity: '' },
      { ...base, seq: -1 },
      { ...base, seq: 1.5 },
      { ...base, window: { start: NOW } },
      { ...base, window: null },
      { ...base, features: { 'cpu.avg': '91' } },
      { ...base, features: [] },
      { ...base, features: JSON.parse('{"__proto__": 1}') },
      { ...base, events: [{ kind: 'deploy', ts: NOW }] },
      { ...base, events: {} },
      { ...base, ts: 1.5 },
      { ...base, ts: 1e300 },
      { ...base, seq: 2 ** 53 },
      JSON.parse(JSON.stringify(base).replace('91.5', '1e999')),
      null,
      [],
    ];
    let accepted = 0;
    for (const v of variants) {
      const fast = fastObservation(v);
      const slow = observationSchema.safeParse(v);
      if (fast === undefined) continue;
      accepted++;
      assert.ok(slow.success, `fast accepted what the schema refuses: ${JSON.stringify(v)}`);
      assert.deepEqual(fast, slow.data);
    }
    assert.equal(accepted, 3, 'the base and the two with extra keys');
  });

  it('refuses an Infinity feature (1e999 in the JSON) on the fast path as the schema does', () => {
    const text = `{"entity":"a","seq":1,"window":{"start":1,"end":2},"features":{"cpu.avg":1e999},"events":[],"ts":2}`;
    const json: unknown = JSON.parse(text);
    assert.equal(fastObservation(json), undefined);
    assert.equal(observationSchema.safeParse(json).success, false);
    const decoded = decodeMessage(observationSchema, bytes(text), NOW, SKEW, fastObservation);
    assert.ok(!decoded.ok);
    assert.equal(decoded.refusal.issues[0]?.path, 'features.cpu.avg');
  });
});

describe('sample and event bounds', () => {
  const base = { entity: 'checkout/pod-1', metric: 'cpu', value: 1.5, ts: NOW };
  const refusal = (schema: typeof metricSampleSchema | typeof eventSchema, v: unknown) => {
    const r = decodeMessage(
      schema,
      bytes(v),
      NOW,
      SKEW,
      schema === metricSampleSchema ? fastMetricSample : undefined,
    );
    assert.ok(!r.ok, `accepted ${JSON.stringify(v).slice(0, 80)}`);
    assert.equal(r.refusal.reason, 'schema');
    return r.refusal.issues;
  };

  it('refuses a metric name over 128 characters (the 60 KB name of review N1), naming the field and the limit', () => {
    assert.ok(decodeMessage(metricSampleSchema, bytes({ ...base, metric: 'm'.repeat(128) }), NOW, SKEW).ok);
    for (const metric of ['m'.repeat(129), 'm'.repeat(60_000)]) {
      const issues = refusal(metricSampleSchema, { ...base, metric });
      assert.equal(issues[0]?.path, 'metric');
      assert.match(issues[0]?.message ?? '', /at most 128 characters/);
    }
  });

  it('bounds label keys (length, charset), label values and the number of labels', () => {
    const ok = { ...base, labels: Object.fromEntries(Array.from({ length: 32 }, (_, i) => [`k${i}`, 'v'])) };
    assert.ok(decodeMessage(metricSampleSchema, bytes(ok), NOW, SKEW).ok);
    const longKey = refusal(metricSampleSchema, { ...base, labels: { ['k'.repeat(65)]: 'v' } });
    assert.match(longKey[0]?.message ?? '', /at most 64 characters/);
    const badKey = refusal(metricSampleSchema, { ...base, labels: { 'a b': 'v' } });
    assert.match(badKey[0]?.message ?? '', /letters, digits and _/);
    const longValue = refusal(metricSampleSchema, { ...base, labels: { az: 'v'.repeat(257) } });
    assert.match(longValue[0]?.message ?? '', /at most 256 characters/);
    const many = { ...ok, labels: { ...ok.labels, k32: 'v' } };
    const tooMany = refusal(metricSampleSchema, many);
    assert.equal(tooMany[0]?.path, 'labels');
    assert.match(tooMany[0]?.message ?? '', /at most 32 keys/);
  });

  it('bounds event kinds like metric names, and attribute keys, values and count like labels', () => {
    const event = { entity: 'a', kind: 'deploy', message: 'v2', ts: NOW };
    assert.ok(decodeMessage(eventSchema, bytes({ ...event, attrs: { version: 'v2', n: 1 } }), NOW, SKEW).ok);
    assert.equal(refusal(eventSchema, { ...event, kind: 'k'.repeat(129) })[0]?.path, 'kind');
    assert.match(refusal(eventSchema, { ...event, attrs: { ['a'.repeat(65)]: 1 } })[0]?.message ?? '', /64/);
    assert.match(
      refusal(eventSchema, { ...event, attrs: { a: 'x'.repeat(1025) } })[0]?.message ?? '',
      /1024/,
    );
    const attrs = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, i]));
    assert.match(refusal(eventSchema, { ...event, attrs })[0]?.message ?? '', /at most 32 keys/);
  });
});

describe('fastMetricSampleBytes', () => {
  const base = '{"entity":"checkout/pod-1","metric":"cpu","value":91.5,"ts":1796000000000}';
  const viaJson = (text: string) =>
    decodeMessage(metricSampleSchema, bytes(text), NOW + 1e12, SKEW, fastMetricSample);
  const viaBytes = (text: string) =>
    decodeMessage(metricSampleSchema, bytes(text), NOW + 1e12, SKEW, fastMetricSample, fastMetricSampleBytes);

  it('reads the common sample from its bytes, with the result JSON.parse gives', () => {
    const fast = fastMetricSampleBytes(bytes(base));
    assert.deepEqual(fast, JSON.parse(base));
    const reordered = '{"ts":1796000000000,"value":-0.25e-3,"metric":"http_errors","entity":"a@b:c"}';
    assert.deepEqual(fastMetricSampleBytes(bytes(reordered)), JSON.parse(reordered));
  });

  it('accepts only what the JSON path accepts, with the same result, on edge cases and mutations', () => {
    const cases = [
      base,
      base.replace('91.5', '1e999'),
      base.replace('91.5', '-0'),
      base.replace('91.5', '01'),
      base.replace('91.5', '.5'),
      base.replace('91.5', '+1'),
      base.replace('91.5', '1.'),
      base.replace('91.5', '"91.5"'),
      base.replace('91.5', '1E+2'),
      base.replace('1796000000000', '1796000000000.0'),
      base.replace('1796000000000', '1.796e12'),
      base.replace('1796000000000', '01796000000000'),
      base.replace('1796000000000', '99999999999999999'),
      base.replace('1796000000000', '946684799999'),
      base.replace('"cpu"', '"c\\u0070u"'),
      base.replace('"cpu"', '"CPU"'),
      base.replace('"cpu"', `"${'m'.repeat(129)}"`),
      base.replace('checkout/pod-1', 'a/../b'),
      base.replace('checkout/pod-1', 'a//b'),
      base.replace('checkout/pod-1', 'é'),
      base.replace('checkout/pod-1', 'a,"metric":"x'),
      base.replace('{"entity"', '{ "entity"'),
      base.replace('}', ',"labels":{"a":"b"}}'),
      base.replace('"entity":"checkout/pod-1",', ''),
      base.replace('"ts":', '"entity":"x","ts":'),
      `${base} `,
      `\ufeff${base}`,
      base.slice(0, -1),
      '{}',
      '[]',
    ];
    // Random byte mutations of the base too: nothing the fast path accepts may differ.
    let seed = 11;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 3000; i++) {
      const b = Buffer.from(base);
      for (let m = 0; m < 1 + Math.floor(rand() * 3); m++)
        b[Math.floor(rand() * b.length)] = 32 + Math.floor(rand() * 95);
      cases.push(b.toString('latin1'));
    }
    let fastAccepted = 0;
    for (const text of cases) {
      if (fastMetricSampleBytes(bytes(text)) !== undefined) fastAccepted++;
      assert.deepEqual(viaBytes(text), viaJson(text), text);
    }
    assert.ok(fastAccepted > 3, `${fastAccepted} taken by the fast path`);
  });
});

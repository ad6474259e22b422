/** Prometheus remote-write 1.0 into samples: labels through the mapping, bounds, what is skipped and refused. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Mapping } from '../../services/ingest/mapping.js';
import { encodeWriteRequest } from '../../services/ingest/proto/remote-write.js';
import type { Conversion, IngestRequest } from '../../services/ingest/source.js';
import { remoteWriteSource } from '../../services/ingest/sources/remote-write.js';

const now = 1_800_000_000_000;
const limits = { maxClockSkewMs: 300_000, maxAbsValue: 1e12 };
const series = (labels: Record<string, string>, samples: Array<[number, number]>) => ({
  labels: Object.entries(labels).map(([name, value]) => ({ name, value })),
  samples: samples.map(([value, timestamp]) => ({ value, timestamp })),
});
const request = (body: Uint8Array, headers: Record<string, string> = {}): IngestRequest => ({
  path: '/api/v1/write',
  headers,
  body: Buffer.from(body),
  receivedAt: now,
});
const convert = (body: Uint8Array, mapping = Mapping.of(remoteWriteSource.defaultMapping)) =>
  remoteWriteSource.convert(request(body), { mapping, limits }) as Conversion;

describe('remote-write source', () => {
  it("turns each series' samples into samples, entity from the labels, metric from __name__", () => {
    const out = convert(
      encodeWriteRequest({
        timeseries: [
          series({ __name__: 'container_cpu_percent', namespace: 'shop', pod: 'web-1', container: 'app' }, [
            [41.5, now - 2000],
            [43, now - 1000],
          ]),
          series({ __name__: 'http_requests:rate5m', namespace: 'shop', pod: 'web-2' }, [[7, now]]),
        ],
      }),
    );
    assert.deepEqual(out.samples, [
      { entity: 'shop/web-1', metric: 'container_cpu_percent', value: 41.5, ts: now - 2000 },
      { entity: 'shop/web-1', metric: 'container_cpu_percent', value: 43, ts: now - 1000 },
      { entity: 'shop/web-2', metric: 'http_requests_rate5m', value: 7, ts: now },
    ]);
    assert.deepEqual(out.refused, []);
  });

  it('renames metrics, copies the configured labels, refuses names the mapping does not pass', () => {
    const mapping = Mapping.of({
      entity: '{{namespace}}/{{pod}}',
      metrics: { container_cpu_percent: 'cpu' },
      passThrough: false,
      labels: ['container'],
    });
    const out = convert(
      encodeWriteRequest({
        timeseries: [
          series({ __name__: 'container_cpu_percent', namespace: 'shop', pod: 'web-1', container: 'app' }, [
            [1, now],
          ]),
          series({ __name__: 'other', namespace: 'shop', pod: 'web-1' }, [[1, now]]),
        ],
      }),
      mapping,
    );
    assert.deepEqual(out.samples, [
      { entity: 'shop/web-1', metric: 'cpu', value: 1, ts: now, labels: { container: 'app' } },
    ]);
    assert.equal(out.refused.length, 1);
    assert.equal(out.refused[0]!.reason, 'unmapped_metric');
    assert.match(
      out.refused[0]!.message,
      /"other" is not in the mapping's "metrics" and passThrough is false/,
    );
  });

  it('refuses a series mapping to no entity or to an invalid one, never guessing', () => {
    const out = convert(
      encodeWriteRequest({
        timeseries: [
          series({ __name__: 'cpu', namespace: 'shop' }, [
            [1, now],
            [2, now],
          ]),
          series({ __name__: 'cpu', namespace: 'shop', pod: 'bad pod!' }, [[1, now]]),
          series({ namespace: 'shop', pod: 'x' }, [[1, now]]),
        ],
      }),
    );
    assert.deepEqual(out.samples, []);
    assert.deepEqual(
      out.refused.map((r) => [r.reason, r.points]),
      [
        ['no_entity', 2],
        ['no_entity', 1],
        ['schema', 1],
      ],
    );
    assert.match(out.refused[0]!.message, /no "pod" for the entity template \{\{namespace\}\}\/\{\{pod\}\}/);
    assert.match(
      out.refused[1]!.message,
      /entity "shop\/bad pod!" .* has characters an entity id may not have/,
    );
    assert.match(out.refused[2]!.message, /no __name__ label/);
  });

  it('skips NaN (staleness markers) and dropped names; refuses infinite values and times from the future or in seconds', () => {
    const out = convert(
      encodeWriteRequest({
        timeseries: [
          series({ __name__: 'cpu', namespace: 'a', pod: 'b' }, [
            [Number.NaN, now],
            [Number.POSITIVE_INFINITY, now],
            [1, now + 3_600_000],
            [1, Math.floor(now / 1000)],
            [5, now],
          ]),
          series({ __name__: 'up', job: 'x' }, [[1, now]]),
          series({ __name__: 'scrape_duration_seconds', job: 'x' }, [[1, now]]),
        ],
      }),
    );
    assert.deepEqual(out.samples, [{ entity: 'a/b', metric: 'cpu', value: 5, ts: now }]);
    assert.deepEqual(out.skipped, { nan: 1, dropped: 2 });
    assert.deepEqual(
      out.refused.map((r) => r.reason),
      ['out_of_range', 'clock_skew', 'out_of_range'],
    );
  });

  it('refuses a truncated or non-protobuf body and remote-write 2.0 by name', () => {
    const whole = encodeWriteRequest({
      timeseries: [series({ __name__: 'cpu', namespace: 'a', pod: 'b' }, [[1, now]])],
    });
    const mapping = Mapping.of(remoteWriteSource.defaultMapping);
    assert.throws(
      () => remoteWriteSource.convert(request(whole.subarray(0, whole.length - 3)), { mapping, limits }),
      (err: Error & { status?: number; reason?: string }) =>
        err.status === 400 && err.reason === 'bad_protobuf',
    );
    assert.throws(
      () =>
        remoteWriteSource.convert(
          request(whole, { 'content-type': 'application/x-protobuf;proto=io.prometheus.write.v2.Request' }),
          { mapping, limits },
        ),
      (err: Error & { status?: number }) =>
        err.status === 415 && /remote-write 2\.0 is not supported/.test(err.message),
    );
  });
});

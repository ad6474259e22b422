/** OTLP/HTTP metrics into samples: gauges, sums (cumulative as rates), histograms (mean, p95), the partial-success answer. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bucketQuantile } from '../../services/ingest/cumulative.js';
import { Mapping } from '../../services/ingest/mapping.js';
import {
  encodeRequest,
  type ExportMetricsServiceRequest,
  type Metric,
} from '../../services/ingest/proto/otlp-metrics.js';
import type { Conversion, IngestRequest } from '../../services/ingest/source.js';
import { createOtlpMetricsSource } from '../../services/ingest/sources/otlp-metrics.js';

const now = 1_800_000_000_000;
const ns = (ms: number) => String(BigInt(ms) * 1_000_000n);
const limits = { maxClockSkewMs: 300_000, maxAbsValue: 1e12 };
const kv = (key: string, value: string) => ({ key, value: { stringValue: value } });
const exportOf = (metrics: Metric[], pod = 'pod-1'): ExportMetricsServiceRequest => ({
  resourceMetrics: [
    {
      resource: { attributes: [kv('service.name', 'checkout'), kv('k8s.pod.name', pod)] },
      scopeMetrics: [{ metrics }],
    },
  ],
});
const req = (body: Buffer, type: string): IngestRequest => ({
  path: '/v1/metrics',
  headers: { 'content-type': type },
  body,
  receivedAt: now,
});

describe('otlp metrics source', () => {
  const source = createOtlpMetricsSource();
  const mapping = Mapping.of({
    ...source.defaultMapping,
    metrics: { 'http.server.duration:p95': 'latency' },
  });
  const convert = (r: ExportMetricsServiceRequest, json = false) =>
    source.convert(
      json
        ? req(Buffer.from(JSON.stringify(r)), 'application/json')
        : req(Buffer.from(encodeRequest(r)), 'application/x-protobuf'),
      { mapping, limits },
    ) as Conversion;

  it('gives gauges as they are, entity from resource and point attributes, in protobuf and JSON alike', () => {
    const r = exportOf([
      {
        name: 'process.cpu.utilization',
        gauge: { dataPoints: [{ asDouble: 0.42, timeUnixNano: ns(now) } as never] },
      },
      {
        name: 'queue.depth',
        gauge: {
          dataPoints: [
            { asInt: 7, timeUnixNano: ns(now), attributes: [kv('k8s.pod.name', 'pod-9')] } as never,
          ],
        },
      },
    ]);
    const expected = [
      { entity: 'checkout/pod-1', metric: 'process_cpu_utilization', value: 0.42, ts: now },
      { entity: 'checkout/pod-9', metric: 'queue_depth', value: 7, ts: now },
    ];
    assert.deepEqual(convert(r).samples, expected);
    assert.deepEqual(convert(r, true).samples, expected);
  });

  it('turns monotonic cumulative sums into rates per second, gives delta and up-down sums as they are', () => {
    const start = now - 10_000;
    const cumulative = (value: number, at: number, from = start) =>
      exportOf(
        [
          {
            name: 'http.requests',
            sum: {
              aggregationTemporality: 2,
              isMonotonic: true,
              dataPoints: [{ asInt: value, startTimeUnixNano: ns(from), timeUnixNano: ns(at) } as never],
            },
          },
        ],
        'pod-rate',
      );
    // From the start time: 100 in 10 s; then 60 more in 2 s; then a restart (new start time).
    assert.deepEqual(
      convert(cumulative(100, now)).samples.map((s) => s.value),
      [10],
    );
    assert.deepEqual(
      convert(cumulative(160, now + 2000)).samples.map((s) => s.value),
      [30],
    );
    assert.deepEqual(
      convert(cumulative(5, now + 3000, now + 2500)).samples.map((s) => s.value),
      [10],
    );
    const other = convert(
      exportOf([
        {
          name: 'errors',
          sum: {
            aggregationTemporality: 1,
            isMonotonic: true,
            dataPoints: [{ asDouble: 3, timeUnixNano: ns(now) } as never],
          },
        },
        {
          name: 'inflight',
          sum: {
            aggregationTemporality: 2,
            isMonotonic: false,
            dataPoints: [{ asInt: 4, timeUnixNano: ns(now) } as never],
          },
        },
        {
          name: 'nostart',
          sum: {
            aggregationTemporality: 2,
            isMonotonic: true,
            dataPoints: [{ asInt: 4, timeUnixNano: ns(now) } as never],
          },
        },
      ]),
    );
    assert.deepEqual(
      other.samples.map((s) => [s.metric, s.value]),
      [
        ['errors', 3],
        ['inflight', 4],
      ],
    );
    assert.deepEqual(other.skipped, { nan: 0, dropped: 0, first_cumulative: 1 });
  });

  it('gives a histogram its mean and an estimated p95 from the buckets, renamed by the mapping', () => {
    const out = convert(
      exportOf([
        {
          name: 'http.server.duration',
          histogram: {
            aggregationTemporality: 1,
            dataPoints: [
              {
                timeUnixNano: ns(now),
                count: 100,
                sum: 3000,
                explicitBounds: [10, 50, 100],
                bucketCounts: [50, 40, 10, 0],
              } as never,
            ],
          },
        },
      ]),
    );
    assert.deepEqual(out.samples, [
      { entity: 'checkout/pod-1', metric: 'http_server_duration_mean', value: 30, ts: now },
      { entity: 'checkout/pod-1', metric: 'latency', value: 75, ts: now },
    ]);
  });

  it("takes a cumulative histogram's first point whose start and time fall in one millisecond (the JS SDK stamps in ms)", () => {
    const out = convert(
      exportOf(
        [
          {
            name: 'http.server.duration',
            histogram: {
              aggregationTemporality: 2,
              dataPoints: [
                {
                  startTimeUnixNano: ns(now),
                  timeUnixNano: ns(now),
                  count: 100,
                  sum: 3000,
                  explicitBounds: [10, 50, 100],
                  bucketCounts: [50, 40, 10, 0],
                } as never,
              ],
            },
          },
        ],
        'pod-same-ms',
      ),
    );
    assert.deepEqual(out.samples, [
      { entity: 'checkout/pod-same-ms', metric: 'http_server_duration_mean', value: 30, ts: now },
      { entity: 'checkout/pod-same-ms', metric: 'latency', value: 75, ts: now },
    ]);
  });

  it('estimates quantiles as histogram_quantile does', () => {
    assert.equal(bucketQuantile(0.95, [10, 50, 100], [50, 40, 10, 0]), 75);
    assert.equal(bucketQuantile(0.5, [10], [10, 0]), 5);
    assert.equal(bucketQuantile(0.95, [10], [0, 10]), 10, 'the +Inf bucket ends at the last bound');
    assert.equal(bucketQuantile(0.95, [10], [0, 10], undefined, 40), 38.5, 'or at the max when known');
    assert.equal(bucketQuantile(0.95, [10], [0, 0]), undefined);
  });

  it('answers 200 with partialSuccess naming what was refused, in the request encoding', () => {
    const r = exportOf([
      {
        name: 'cpu',
        gauge: {
          dataPoints: [
            { asDouble: 1, timeUnixNano: ns(now), attributes: [kv('k8s.pod.name', 'p')] } as never,
          ],
        },
      },
    ]);
    r.resourceMetrics![0]!.resource = { attributes: [kv('host.name', 'h1')] };
    const request = req(Buffer.from(JSON.stringify(r)), 'application/json');
    const conversion = source.convert(request, { mapping, limits }) as Conversion;
    const answer = source.answer!(request, conversion);
    assert.equal(answer.status, 200);
    const body = JSON.parse(answer.body.toString()) as {
      partialSuccess: { rejectedDataPoints: number; errorMessage: string };
    };
    assert.equal(body.partialSuccess.rejectedDataPoints, 1);
    assert.match(body.partialSuccess.errorMessage, /no_entity: no "service.name" for the entity template/);
  });

  it('refuses bad JSON, a truncated protobuf and another content type', () => {
    const status = (r: IngestRequest) => {
      try {
        void source.convert(r, { mapping, limits });
        return 'accepted';
      } catch (err) {
        return `${(err as { status: number }).status} ${(err as { reason: string }).reason}`;
      }
    };
    const whole = Buffer.from(
      encodeRequest(exportOf([{ name: 'cpu', gauge: { dataPoints: [{ asDouble: 1 } as never] } }])),
    );
    assert.equal(status(req(Buffer.from('{"resourceMetrics": 5}'), 'application/json')), '400 bad_json');
    assert.equal(status(req(Buffer.from('{'), 'application/json')), '400 bad_json');
    assert.equal(
      status(req(whole.subarray(0, whole.length - 4), 'application/x-protobuf')),
      '400 bad_protobuf',
    );
    assert.equal(status(req(whole, 'text/plain')), '415 unsupported_media_type');
  });
});

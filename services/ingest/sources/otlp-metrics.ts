import { CumulativeState, bucketQuantile } from '../cumulative.js';
import type { LabelLookup } from '../mapping.js';
import {
  CUMULATIVE,
  DELTA,
  decodeRequestJson,
  decodeRequestProto,
  encodeResponse,
  encodeStatus,
  type AnyValue,
  type ExportMetricsServiceRequest,
  type HistogramDataPoint,
  type KeyValue,
  type Metric,
} from '../proto/otlp-metrics.js';
import { RecordBuilder, type SeriesTarget } from '../records.js';
import { describeRefusals, IngestRefusal, type IngestRequest, type IngestSource } from '../source.js';

/** A cumulative histogram's totals, kept to turn the next point into the interval's. */
interface HistogramTotals {
  readonly count: number;
  readonly sum: number | undefined;
  readonly buckets: readonly number[];
}

/**
 * OTLP/HTTP metrics (`POST /v1/metrics`, protobuf or JSON, gzip or not). Gauges become samples as
 * they are; monotonic cumulative sums become rates per second (from the previous point of the
 * series, or from its start time), delta and non-monotonic sums are given as they are; histograms
 * give `<name>_mean` (sum/count of the interval) and `<name>_p95` (estimated from the buckets),
 * summaries `<name>_mean` and their 0.95 quantile. The mapping's `metrics` may name the derived
 * series (`"http.server.duration:p95": "latency"`). The entity comes from resource and data point
 * attributes through the mapping (default `{{service.name}}/{{k8s.pod.name}}`). The answer is 200
 * with `partialSuccess` naming what was refused.
 */
export function createOtlpMetricsSource(): IngestSource {
  const sums = new CumulativeState<number>();
  const histograms = new CumulativeState<HistogramTotals>();
  return {
    name: 'otlp',
    path: '/v1/metrics',
    defaultMapping: { entity: '{{service.name}}/{{k8s.pod.name}}', passThrough: true },
    convert(req, { mapping, limits }) {
      const request = decodeOtlp(req);
      const out = new RecordBuilder(mapping, limits, req.receivedAt);
      const skipped = out.skipped as Record<string, number>;
      const skip = (why: string) => (skipped[why] = (skipped[why] ?? 0) + 1);
      for (const rm of request.resourceMetrics ?? []) {
        const resource = attributeMap(rm.resource?.attributes);
        for (const sm of rm.scopeMetrics ?? []) {
          for (const metric of sm.metrics ?? []) {
            const name = metric.name ?? '';
            for (const { point, attrs } of pointsOf(metric)) {
              const lookup: LabelLookup = (k) => attrs.get(k) ?? resource.get(k);
              const item = () => ({ metric: name, attributes: Object.fromEntries([...resource, ...attrs]) });
              if (!name) {
                out.refuse('schema', 'a metric has no name', 1, item);
                continue;
              }
              const timeNs = point.timeUnixNano ?? 0;
              const ts = timeNs > 0 ? timeNs / 1e6 : req.receivedAt;
              const startNs = point.startTimeUnixNano ?? 0;
              const key = `${name}\u0000${[...resource, ...attrs].sort().join('\u0000')}`;
              if (metric.gauge || metric.sum) {
                const target = out.series(lookup, name, 1, item);
                if (!target) continue;
                const p = point as { asDouble?: number; asInt?: number };
                const value = p.asDouble ?? p.asInt;
                if (value === undefined) {
                  out.refuse('schema', `a data point of ${name} has neither asDouble nor asInt`, 1, item);
                  continue;
                }
                const sum = metric.sum;
                if (!sum || sum.aggregationTemporality === DELTA || !sum.isMonotonic) {
                  if (
                    sum &&
                    sum.aggregationTemporality !== DELTA &&
                    sum.aggregationTemporality !== CUMULATIVE
                  ) {
                    out.refuse(
                      'schema',
                      `sum ${name} has no aggregationTemporality (1 delta or 2 cumulative)`,
                      1,
                      item,
                    );
                    continue;
                  }
                  out.point(target, value, ts);
                  continue;
                }
                const prev = sums.swap(key, startNs, timeNs, value);
                const from =
                  prev ?? (startNs > 0 && startNs < timeNs ? { timeNs: startNs, value: 0 } : undefined);
                if (!from || value < from.value) {
                  skip('first_cumulative');
                  continue;
                }
                out.point(target, (value - from.value) / ((timeNs - from.timeNs) / 1e9), ts);
                continue;
              }
              const hp = point as HistogramDataPoint;
              const interval = intervalOf(metric, hp, key, startNs, timeNs, histograms);
              if (!interval) {
                skip('first_cumulative');
                continue;
              }
              if (interval.count <= 0) {
                skip('empty_histogram');
                continue;
              }
              const mean = out.series(lookup, `${name}:mean`, 1, item);
              if (!mean) continue;
              if (interval.sum !== undefined) out.point(mean, interval.sum / interval.count, ts);
              const q95 = quantile95(metric, hp, interval);
              if (q95 !== undefined) {
                const p95 = sibling(out, mean, `${name}:p95`, mapping.metricOf(`${name}:p95`), item);
                if (p95) out.point(p95, q95, ts);
              }
            }
          }
        }
      }
      return out;
    },
    answer(req, conversion) {
      const json = isJson(req);
      const points = conversion.refused.reduce((n, r) => n + r.points, 0);
      const body = encodeResponse(
        points > 0 ? { rejectedDataPoints: points, errorMessage: describeRefusals(conversion) } : undefined,
        json,
      );
      return {
        status: 200,
        contentType: json ? 'application/json' : 'application/x-protobuf',
        body: Buffer.from(body),
      };
    },
    refusalBody(req, status, message) {
      const json = isJson(req);
      // google.rpc codes: UNAVAILABLE for a 503 or 429 (retry), INVALID_ARGUMENT otherwise.
      const code = status === 503 || status === 429 ? 14 : status === 401 ? 16 : 3;
      const body = encodeStatus(code, message, json);
      return {
        status,
        contentType: json ? 'application/json' : 'application/x-protobuf',
        body: Buffer.from(body),
      };
    },
  };
}

function isJson(req: Pick<IngestRequest, 'headers'>): boolean {
  return /^application\/json\b/i.test(String(req.headers['content-type'] ?? ''));
}

function decodeOtlp(req: IngestRequest): ExportMetricsServiceRequest {
  const type = String(req.headers['content-type'] ?? '');
  if (/^application\/json\b/i.test(type)) {
    try {
      return decodeRequestJson(JSON.parse(req.body.toString('utf8')));
    } catch (err) {
      throw new IngestRefusal(
        400,
        'bad_json',
        `the body is not an OTLP/JSON ExportMetricsServiceRequest: ${(err as Error).message}`,
      );
    }
  }
  if (/^application\/(x-)?protobuf\b/i.test(type)) {
    try {
      return decodeRequestProto(req.body);
    } catch (err) {
      throw new IngestRefusal(
        400,
        'bad_protobuf',
        `the body is not an OTLP ExportMetricsServiceRequest (truncated or not protobuf?): ${(err as Error).message}`,
      );
    }
  }
  throw new IngestRefusal(
    415,
    'unsupported_media_type',
    `Content-Type "${type.slice(0, 60)}" is not OTLP: send application/x-protobuf or application/json`,
  );
}

/** A metric's data points with their attributes as a map. */
function* pointsOf(metric: Metric): Generator<{
  point: HistogramDataPoint & { asDouble?: number; asInt?: number };
  attrs: Map<string, string>;
}> {
  const points =
    metric.gauge?.dataPoints ??
    metric.sum?.dataPoints ??
    metric.histogram?.dataPoints ??
    metric.exponentialHistogram?.dataPoints ??
    metric.summary?.dataPoints ??
    [];
  for (const point of points) yield { point, attrs: attributeMap(point.attributes) };
}

/** Attributes as strings (numbers and booleans written out; arrays and maps are not entity parts). */
function attributeMap(kvs: readonly KeyValue[] | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const kv of kvs ?? []) {
    const v = scalar(kv.value);
    if (kv.key && v !== undefined) out.set(kv.key, v);
  }
  return out;
}

function scalar(v: AnyValue | undefined): string | undefined {
  if (!v) return undefined;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return String(v.intValue);
  if (v.doubleValue !== undefined) return String(v.doubleValue);
  if (v.boolValue !== undefined) return String(v.boolValue);
  return undefined;
}

/** A histogram's or summary's counts over the interval this point closes (delta: the point's own). */
function intervalOf(
  metric: Metric,
  p: HistogramDataPoint,
  key: string,
  startNs: number,
  timeNs: number,
  state: CumulativeState<HistogramTotals>,
): HistogramTotals | undefined {
  const now: HistogramTotals = { count: p.count ?? 0, sum: p.sum, buckets: p.bucketCounts ?? [] };
  const temporality =
    metric.histogram?.aggregationTemporality ?? metric.exponentialHistogram?.aggregationTemporality;
  if (temporality === DELTA) return now;
  // Summaries are cumulative by the spec; an unspecified temporality is read as cumulative too.
  const prev = state.swap(key, startNs, timeNs, now);
  // The totals since the start are an interval even when both fall in one millisecond (the JS SDK
  // stamps in milliseconds): a mean and a p95 need no duration, unlike a rate.
  if (!prev) return startNs > 0 && startNs <= timeNs ? now : undefined;
  const before = prev.value;
  if (now.count < before.count || now.buckets.length !== before.buckets.length) return undefined;
  return {
    count: now.count - before.count,
    sum: now.sum !== undefined && before.sum !== undefined ? now.sum - before.sum : undefined,
    buckets: now.buckets.map((c, i) => c - (before.buckets[i] ?? 0)),
  };
}

function quantile95(metric: Metric, p: HistogramDataPoint, interval: HistogramTotals): number | undefined {
  if (metric.summary) {
    const q = (p as { quantileValues?: Array<{ quantile?: number; value?: number }> }).quantileValues?.find(
      (v) => Math.abs((v.quantile ?? 0) - 0.95) < 1e-9,
    );
    return q?.value;
  }
  if (!metric.histogram || interval.buckets.length === 0) return undefined;
  const delta = metric.histogram.aggregationTemporality === DELTA;
  // min and max of a cumulative point are the whole run's, not the interval's.
  return bucketQuantile(
    0.95,
    p.explicitBounds ?? [],
    interval.buckets,
    delta ? p.min : undefined,
    delta ? p.max : undefined,
  );
}

/** The same series' entity under another metric name, or undefined when that name is not mapped (then refused). */
function sibling(
  out: RecordBuilder,
  target: SeriesTarget,
  sourceName: string,
  metric: string | undefined,
  item: () => unknown,
): SeriesTarget | undefined {
  if (metric === undefined) {
    out.refuse(
      'unmapped_metric',
      `metric "${sourceName}" has no metric name of ours: map it in the mapping's "metrics"`,
      1,
      item,
    );
    return undefined;
  }
  return { ...target, metric };
}

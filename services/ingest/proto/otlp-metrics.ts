/**
 * OTLP's metrics messages (opentelemetry-proto `collector/metrics/v1` and `metrics/v1`, the fields
 * ingest reads, with their numbers), for protobuf bodies and for OTLP/JSON bodies (lowerCamelCase
 * names, 64-bit integers as strings) alike. Exemplars and the scopes' details are left out: unknown
 * fields are skipped.
 */
import protobuf from 'protobufjs';

const PROTO = `
syntax = "proto3";
package otlp;
message ExportMetricsServiceRequest { repeated ResourceMetrics resource_metrics = 1; }
message ExportMetricsServiceResponse { ExportMetricsPartialSuccess partial_success = 1; }
message ExportMetricsPartialSuccess { int64 rejected_data_points = 1; string error_message = 2; }
message Status { int32 code = 1; string message = 2; }
message ResourceMetrics { Resource resource = 1; repeated ScopeMetrics scope_metrics = 2; }
message Resource { repeated KeyValue attributes = 1; }
message ScopeMetrics { repeated Metric metrics = 2; }
message Metric {
  string name = 1;
  string unit = 3;
  oneof data {
    Gauge gauge = 5;
    Sum sum = 7;
    Histogram histogram = 9;
    ExponentialHistogram exponential_histogram = 10;
    Summary summary = 11;
  }
}
message Gauge { repeated NumberDataPoint data_points = 1; }
message Sum { repeated NumberDataPoint data_points = 1; int32 aggregation_temporality = 2; bool is_monotonic = 3; }
message Histogram { repeated HistogramDataPoint data_points = 1; int32 aggregation_temporality = 2; }
message ExponentialHistogram { repeated ExponentialHistogramDataPoint data_points = 1; int32 aggregation_temporality = 2; }
message Summary { repeated SummaryDataPoint data_points = 1; }
message NumberDataPoint {
  repeated KeyValue attributes = 7;
  fixed64 start_time_unix_nano = 2;
  fixed64 time_unix_nano = 3;
  oneof value { double as_double = 4; sfixed64 as_int = 6; }
}
message HistogramDataPoint {
  repeated KeyValue attributes = 9;
  fixed64 start_time_unix_nano = 2;
  fixed64 time_unix_nano = 3;
  fixed64 count = 4;
  optional double sum = 5;
  repeated fixed64 bucket_counts = 6;
  repeated double explicit_bounds = 7;
  optional double min = 11;
  optional double max = 12;
}
message ExponentialHistogramDataPoint {
  repeated KeyValue attributes = 1;
  fixed64 start_time_unix_nano = 2;
  fixed64 time_unix_nano = 3;
  fixed64 count = 4;
  optional double sum = 5;
}
message SummaryDataPoint {
  repeated KeyValue attributes = 7;
  fixed64 start_time_unix_nano = 2;
  fixed64 time_unix_nano = 3;
  fixed64 count = 4;
  double sum = 5;
  repeated ValueAtQuantile quantile_values = 6;
}
message ValueAtQuantile { double quantile = 1; double value = 2; }
message KeyValue { string key = 1; AnyValue value = 2; }
message AnyValue {
  oneof value {
    string string_value = 1;
    bool bool_value = 2;
    int64 int_value = 3;
    double double_value = 4;
    ArrayValue array_value = 5;
    KeyValueList kvlist_value = 6;
    bytes bytes_value = 7;
  }
}
message ArrayValue { repeated AnyValue values = 1; }
message KeyValueList { repeated KeyValue values = 1; }
`;

const root = protobuf.parse(PROTO).root;
const RequestType = root.lookupType('otlp.ExportMetricsServiceRequest');
const ResponseType = root.lookupType('otlp.ExportMetricsServiceResponse');
const StatusType = root.lookupType('otlp.Status');

/** Plain objects: 64-bit numbers as numbers (epoch nanoseconds lose sub-microsecond digits only). */
const PLAIN: protobuf.IConversionOptions = { longs: Number, enums: Number, arrays: true, defaults: false };

export interface KeyValue {
  key?: string;
  value?: AnyValue;
}
export interface AnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: number;
  doubleValue?: number;
  arrayValue?: { values?: AnyValue[] };
  kvlistValue?: { values?: KeyValue[] };
  bytesValue?: Uint8Array;
}
interface Timed {
  attributes?: KeyValue[];
  startTimeUnixNano?: number;
  timeUnixNano?: number;
}
export interface NumberDataPoint extends Timed {
  asDouble?: number;
  asInt?: number;
}
export interface HistogramDataPoint extends Timed {
  count?: number;
  sum?: number;
  bucketCounts?: number[];
  explicitBounds?: number[];
  min?: number;
  max?: number;
}
export interface SummaryDataPoint extends Timed {
  count?: number;
  sum?: number;
  quantileValues?: Array<{ quantile?: number; value?: number }>;
}
export interface Metric {
  name?: string;
  unit?: string;
  gauge?: { dataPoints?: NumberDataPoint[] };
  sum?: { dataPoints?: NumberDataPoint[]; aggregationTemporality?: number; isMonotonic?: boolean };
  histogram?: { dataPoints?: HistogramDataPoint[]; aggregationTemporality?: number };
  exponentialHistogram?: { dataPoints?: HistogramDataPoint[]; aggregationTemporality?: number };
  summary?: { dataPoints?: SummaryDataPoint[] };
}
export interface ExportMetricsServiceRequest {
  resourceMetrics?: Array<{
    resource?: { attributes?: KeyValue[] };
    scopeMetrics?: Array<{ metrics?: Metric[] }>;
  }>;
}

/** AggregationTemporality values. */
export const DELTA = 1;
export const CUMULATIVE = 2;

/** Decodes a protobuf request; throws on a truncated or malformed message. */
export function decodeRequestProto(body: Uint8Array): ExportMetricsServiceRequest {
  return RequestType.toObject(RequestType.decode(body), PLAIN) as ExportMetricsServiceRequest;
}

/** Reads an OTLP/JSON request (already JSON.parse'd); throws naming a field of the wrong type. */
export function decodeRequestJson(json: unknown): ExportMetricsServiceRequest {
  if (json === null || typeof json !== 'object' || Array.isArray(json))
    throw new TypeError('the body must be a JSON object');
  return RequestType.toObject(
    RequestType.fromObject(json as Record<string, unknown>),
    PLAIN,
  ) as ExportMetricsServiceRequest;
}

/** The answer to an export: empty, or the partial success naming what was refused. */
export function encodeResponse(
  partial: { rejectedDataPoints: number; errorMessage: string } | undefined,
  json: boolean,
): string | Uint8Array {
  const message = partial ? { partialSuccess: partial } : {};
  if (json) return JSON.stringify(message);
  return ResponseType.encode(ResponseType.fromObject(message)).finish();
}

/** A refusal's body: google.rpc.Status with the message, in the request's encoding. */
export function encodeStatus(code: number, message: string, json: boolean): string | Uint8Array {
  if (json) return JSON.stringify({ code, message });
  return StatusType.encode(StatusType.fromObject({ code, message })).finish();
}

/** Encodes a request (tests). */
export function encodeRequest(request: ExportMetricsServiceRequest): Uint8Array {
  return RequestType.encode(RequestType.fromObject(request as Record<string, unknown>)).finish();
}

/**
 * Prometheus remote-write 1.0's messages (prompb's WriteRequest, TimeSeries, Label, Sample, with
 * the field numbers of the spec), decoded and encoded by protobufjs. Fields of later versions
 * (metadata, exemplars, native histograms) are skipped as unknown fields.
 */
import protobuf from 'protobufjs';

const PROTO = `
syntax = "proto3";
package prometheus;
message WriteRequest {
  repeated TimeSeries timeseries = 1;
  reserved 2;
}
message TimeSeries {
  repeated Label labels = 1;
  repeated Sample samples = 2;
}
message Label {
  string name = 1;
  string value = 2;
}
message Sample {
  double value = 1;
  int64 timestamp = 2;
}
`;

const root = protobuf.parse(PROTO, { keepCase: true }).root;
const WriteRequestType = root.lookupType('prometheus.WriteRequest');

/** protobufjs gives an int64 as a Long (when the long package is there) or a number. */
type Int64 = number | { toNumber(): number };

/** A decoded remote-write request. */
export interface WriteRequest {
  timeseries: Array<{
    labels: Array<{ name: string; value: string }>;
    samples: Array<{ value: number; timestamp: Int64 }>;
  }>;
}

/** Decodes a (snappy-decoded) WriteRequest; throws on a truncated or malformed message. */
export function decodeWriteRequest(body: Uint8Array): WriteRequest {
  const message = WriteRequestType.decode(body) as unknown as Partial<WriteRequest>;
  return {
    timeseries: (message.timeseries ?? []).map((t) => ({ labels: t.labels ?? [], samples: t.samples ?? [] })),
  };
}

/** Encodes a WriteRequest (tests and the bench send what Prometheus sends). */
export function encodeWriteRequest(request: {
  timeseries: ReadonlyArray<{
    labels: ReadonlyArray<{ name: string; value: string }>;
    samples: ReadonlyArray<{ value: number; timestamp: number }>;
  }>;
}): Uint8Array {
  return WriteRequestType.encode(WriteRequestType.fromObject(request)).finish();
}

/** An int64 as a number (epoch milliseconds fit a double exactly). */
export function int64(v: Int64 | undefined): number {
  if (v === undefined) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}

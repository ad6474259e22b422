/** Prometheus remote-write requests as Prometheus sends them, for ingest's tests. */
import snappy from 'snappy';
import { encodeWriteRequest } from '../../services/ingest/proto/remote-write.js';

/** One series: its labels (with `__name__`) and samples. */
export interface RemoteWriteSeries {
  readonly labels: Readonly<Record<string, string>>;
  readonly samples: ReadonlyArray<{ readonly value: number; readonly timestamp: number }>;
}

/** A WriteRequest of `series`, snappy block-compressed (what Prometheus POSTs). */
export function remoteWriteBody(series: readonly RemoteWriteSeries[]): Buffer {
  const body = encodeWriteRequest({
    timeseries: series.map((s) => ({
      labels: Object.entries(s.labels).map(([name, value]) => ({ name, value })),
      samples: s.samples.map((p) => ({ value: p.value, timestamp: p.timestamp })),
    })),
  });
  return snappy.compressSync(Buffer.from(body));
}

/** POSTs `body` to a remote-write endpoint with Prometheus's headers (`headers` added or overriding). */
export function postRemoteWrite(
  url: string,
  body: Buffer,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    body,
    headers: {
      'content-encoding': 'snappy',
      'content-type': 'application/x-protobuf',
      'x-prometheus-remote-write-version': '0.1.0',
      ...headers,
    },
  });
}

import type { LabelLookup } from '../mapping.js';
import { decodeWriteRequest, int64, type WriteRequest } from '../proto/remote-write.js';
import { RecordBuilder } from '../records.js';
import { IngestRefusal, type IngestSource } from '../source.js';

/**
 * Prometheus remote-write 1.0 (`POST /api/v1/write`, a snappy block of a protobuf WriteRequest):
 * each series' samples become samples; the metric is the `__name__` label, the entity comes from
 * the labels through the mapping (default `{{namespace}}/{{pod}}`).
 */
export const remoteWriteSource: IngestSource = {
  name: 'remote-write',
  path: '/api/v1/write',
  defaultMapping: { entity: '{{namespace}}/{{pod}}', passThrough: true, drop: ['up', 'scrape_*'] },
  convert(req, { mapping, limits }) {
    const type = String(req.headers['content-type'] ?? '');
    if (/proto=io\.prometheus\.write\.v2/i.test(type)) {
      throw new IngestRefusal(
        415,
        'unsupported_media_type',
        'remote-write 2.0 is not supported: set protobuf_message: prometheus.WriteRequest (1.0) in remote_write',
      );
    }
    let request: WriteRequest;
    try {
      request = decodeWriteRequest(req.body);
    } catch (err) {
      throw new IngestRefusal(
        400,
        'bad_protobuf',
        `the body is not a remote-write WriteRequest (truncated or not protobuf?): ${(err as Error).message}`,
      );
    }
    const out = new RecordBuilder(mapping, limits, req.receivedAt);
    // One lookup and one dead-letter item for the series at hand, made once per request, not per
    // series (a closure per series cost ~3% of ingest's CPU): the builder calls them while it is
    // the series at hand only.
    let series: WriteRequest['timeseries'][number] = { labels: [], samples: [] };
    const lookup: LabelLookup = (key) => {
      for (const l of series.labels) if (l.name === key) return l.value;
      return undefined;
    };
    const item = () => ({
      labels: Object.fromEntries(series.labels.map((l) => [l.name, l.value])),
      samples: series.samples.length,
    });
    for (series of request.timeseries) {
      const name = lookup('__name__') ?? '';
      if (!name) {
        out.refuse('schema', 'a series has no __name__ label', series.samples.length, item);
        continue;
      }
      const target = out.series(lookup, name, series.samples.length, item);
      if (!target) continue;
      for (const s of series.samples) out.point(target, s.value, int64(s.timestamp));
    }
    return out;
  },
};

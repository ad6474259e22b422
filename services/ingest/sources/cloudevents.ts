import type { OpsEvent } from '../../common/contracts.js';
import type { LabelLookup } from '../mapping.js';
import { RecordBuilder } from '../records.js';
import { IngestRefusal, type IngestRequest, type IngestSource } from '../source.js';

/** Longest event message: the contract's. */
const MAX_MESSAGE = 4096;
/** Most attributes an event carries (the contract's bound on keys). */
const MAX_ATTRS = 32;
const ATTR_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** One CloudEvent's context attributes and data, whichever mode it came in. */
interface CloudEvent {
  readonly attributes: ReadonlyMap<string, string>;
  readonly data: unknown;
}

/**
 * CloudEvents 1.0 over HTTP (`POST /cloudevents`): binary mode (attributes in `ce-*` headers, the
 * body is the data), structured mode (`application/cloudevents+json`) and batches
 * (`application/cloudevents-batch+json`). Each event becomes an event: the entity from its
 * attributes (and its JSON data's top-level fields as `data.<field>`) through the mapping (default
 * `{{subject}}`), the kind from its `type` through the mapping's `metrics` (or passed through), the
 * message from `data.message` (else the data as text, else the type), the time from `time`.
 */
export const cloudEventsSource: IngestSource = {
  name: 'cloudevents',
  path: '/cloudevents',
  defaultMapping: { entity: '{{subject}}', passThrough: true },
  convert(req, { mapping, limits }) {
    const out = new RecordBuilder(mapping, limits, req.receivedAt);
    for (const ce of readEvents(req)) {
      const item = () => ({ attributes: Object.fromEntries(ce.attributes), data: preview(ce.data) });
      const lookup: LabelLookup = (key) => {
        if (key.startsWith('data.') && ce.data && typeof ce.data === 'object') {
          const v = (ce.data as Record<string, unknown>)[key.slice(5)];
          return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean'
            ? String(v)
            : undefined;
        }
        return ce.attributes.get(key);
      };
      const type = ce.attributes.get('type')!;
      const target = out.series(lookup, type, 1, item);
      if (!target) continue;
      const time = ce.attributes.get('time');
      const ts = time === undefined ? req.receivedAt : Date.parse(time);
      if (Number.isNaN(ts)) {
        out.refuse('schema', `time "${time!.slice(0, 60)}" is not an RFC 3339 timestamp`, 1, item);
        continue;
      }
      const attrs: Record<string, string> = {};
      for (const [k, v] of ce.attributes) {
        if (Object.keys(attrs).length >= MAX_ATTRS) break;
        if (k !== 'specversion' && k !== 'time' && ATTR_KEY.test(k)) attrs[k] = v.slice(0, 1024);
      }
      const event: OpsEvent = {
        entity: target.entity,
        kind: target.metric,
        message: messageOf(ce.data, type),
        ts,
        attrs,
      };
      out.event(event, item);
    }
    return out;
  },
};

/** The events of a request in binary, structured or batch mode; throws IngestRefusal for a malformed one. */
function readEvents(req: IngestRequest): CloudEvent[] {
  const type = String(req.headers['content-type'] ?? '').toLowerCase();
  if (type.startsWith('application/cloudevents-batch+json')) {
    const json = parseJson(req.body);
    if (!Array.isArray(json))
      throw new IngestRefusal(400, 'bad_json', 'a batch of CloudEvents must be a JSON array');
    return json.map((e, i) => structured(e, `event ${i}: `));
  }
  if (type.startsWith('application/cloudevents+json')) return [structured(parseJson(req.body), '')];
  if (req.headers['ce-specversion'] === undefined) {
    throw new IngestRefusal(
      400,
      'not_cloudevent',
      'not a CloudEvent: send ce-specversion, ce-id, ce-source and ce-type headers (binary mode) or Content-Type application/cloudevents+json (structured mode)',
    );
  }
  const attributes = new Map<string, string>();
  for (const [name, value] of Object.entries(req.headers)) {
    if (!name.startsWith('ce-') || value === undefined) continue;
    // Header values are percent-encoded where they are not printable ASCII (the HTTP binding).
    attributes.set(name.slice(3), safeDecode(Array.isArray(value) ? value.join(',') : value));
  }
  let data: unknown = undefined;
  if (req.body.length > 0) data = /json/.test(type) ? parseJson(req.body) : req.body.toString('utf8');
  return [checked({ attributes, data }, '')];
}

function structured(json: unknown, where: string): CloudEvent {
  if (json === null || typeof json !== 'object' || Array.isArray(json))
    throw new IngestRefusal(400, 'bad_json', `${where}a structured CloudEvent must be a JSON object`);
  const attributes = new Map<string, string>();
  let data: unknown;
  for (const [k, v] of Object.entries(json as Record<string, unknown>)) {
    if (k === 'data') data = v;
    else if (k === 'data_base64' && typeof v === 'string') data = Buffer.from(v, 'base64').toString('utf8');
    else if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')
      attributes.set(k, String(v));
  }
  return checked({ attributes, data }, where);
}

/** Refuses an event without the required attributes or of another spec version. */
function checked(ce: CloudEvent, where: string): CloudEvent {
  const version = ce.attributes.get('specversion');
  if (version !== '1.0') {
    throw new IngestRefusal(
      400,
      'bad_cloudevent',
      `${where}specversion is ${JSON.stringify(version ?? null)}; this endpoint reads CloudEvents 1.0`,
    );
  }
  const missing = ['id', 'source', 'type'].filter((k) => !ce.attributes.get(k));
  if (missing.length > 0) {
    throw new IngestRefusal(
      400,
      'bad_cloudevent',
      `${where}the CloudEvent lacks ${missing.join(', ')} (required by the spec)`,
    );
  }
  return ce;
}

function messageOf(data: unknown, type: string): string {
  if (data && typeof data === 'object' && typeof (data as { message?: unknown }).message === 'string')
    return (data as { message: string }).message.slice(0, MAX_MESSAGE);
  if (typeof data === 'string' && data) return data.slice(0, MAX_MESSAGE);
  if (data !== undefined && data !== null) return JSON.stringify(data).slice(0, MAX_MESSAGE);
  return type.slice(0, MAX_MESSAGE);
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new IngestRefusal(400, 'bad_json', `the body is not valid JSON: ${(err as Error).message}`);
  }
}

function safeDecode(v: string): string {
  try {
    return decodeURIComponent(v);
  } catch {
    return v;
  }
}

function preview(data: unknown): unknown {
  const text = typeof data === 'string' ? data : JSON.stringify(data ?? null);
  return text.length > 2000 ? `${text.slice(0, 2000)}…` : data;
}

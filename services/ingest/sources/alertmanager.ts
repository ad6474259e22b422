import type { OpsEvent } from '../../common/contracts.js';
import { RecordBuilder } from '../records.js';
import { IngestRefusal, defaultAnswer, type Conversion, type IngestSource } from '../source.js';

/** The webhook payload version this source reads (Alertmanager 0.x sends "4"). */
export const ALERTMANAGER_PAYLOAD_VERSION = '4';

/** Alerts remembered as delivered, so a re-send is dropped; beyond it the oldest are forgotten. */
export const DEFAULT_SEEN_ALERTS = 10_000;

/** Alertmanager's "no end time" (Go's zero time): a firing alert has no `endsAt`. */
const ZERO_TIME = /^0001-01-01T/;
/** Most attributes of an event (the contracts' bound): the fixed ones first, then labels, then annotations. */
const MAX_ATTRS = 32;
const MAX_ATTR_VALUE = 1024;
const MAX_MESSAGE = 4096;
const ATTR_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** One alert of a webhook, as this source reads it (extra fields ignored). */
export interface WebhookAlert {
  readonly status: 'firing' | 'resolved';
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  /** Epoch ms. */
  readonly startsAt: number;
  /** Epoch ms; undefined while it fires with no end time. */
  readonly endsAt: number | undefined;
  readonly generatorURL: string;
  readonly fingerprint: string;
}

/** What one alert becomes besides its event: the key its delivery is remembered by. */
interface AlertConversion extends Conversion {
  readonly deliveries: readonly string[];
}

/**
 * The deliveries already written, by `fingerprint|startsAt|status`: Alertmanager re-sends every
 * alert of a group each time the group changes (and after repeat_interval), and those re-sends
 * are dropped. The status is in the key: a resolution has the firing alert's fingerprint and
 * startsAt and is news. A key is remembered only once its event is in Kafka (the source's answer),
 * so a webhook refused with 503 and retried is not dropped as a duplicate of itself.
 */
export class SeenAlerts {
  private readonly seen = new Set<string>();

  constructor(private readonly max: number = DEFAULT_SEEN_ALERTS) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`max must be a whole number ≥ 1, got ${max}`);
  }

  has(key: string): boolean {
    return this.seen.has(key);
  }

  /** Remembers `key`, forgetting the oldest key once `max` are held. */
  add(key: string): void {
    this.seen.delete(key);
    this.seen.add(key);
    if (this.seen.size > this.max) this.seen.delete(this.seen.values().next().value as string);
  }

  get size(): number {
    return this.seen.size;
  }
}

/** Reads one alert of the payload, or says which field is wrong. */
export function readAlert(raw: unknown): { ok: true; alert: WebhookAlert } | { ok: false; message: string } {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    return { ok: false, message: 'an alert must be an object' };
  const a = raw as Record<string, unknown>;
  const problems: string[] = [];
  if (a.status !== 'firing' && a.status !== 'resolved')
    problems.push('"status" must be "firing" or "resolved"');
  const labels = stringMap(a.labels);
  if (!labels) problems.push('"labels" must be an object of strings');
  const annotations = a.annotations === undefined ? {} : stringMap(a.annotations);
  if (!annotations) problems.push('"annotations" must be an object of strings');
  const startsAt = typeof a.startsAt === 'string' ? Date.parse(a.startsAt) : NaN;
  if (!Number.isFinite(startsAt)) problems.push('"startsAt" must be an RFC 3339 time');
  let endsAt: number | undefined;
  if (
    a.endsAt !== undefined &&
    a.endsAt !== null &&
    !(typeof a.endsAt === 'string' && ZERO_TIME.test(a.endsAt))
  ) {
    endsAt = typeof a.endsAt === 'string' ? Date.parse(a.endsAt) : NaN;
    if (!Number.isFinite(endsAt)) problems.push('"endsAt" must be an RFC 3339 time');
  }
  if (a.generatorURL !== undefined && typeof a.generatorURL !== 'string')
    problems.push('"generatorURL" must be a string');
  if (typeof a.fingerprint !== 'string' || a.fingerprint === '')
    problems.push('"fingerprint" must be a non-empty string');
  if (problems.length > 0) return { ok: false, message: `alert: ${problems.join('; ')}` };
  return {
    ok: true,
    alert: {
      status: a.status as WebhookAlert['status'],
      labels: labels!,
      annotations: annotations!,
      startsAt,
      endsAt,
      generatorURL: (a.generatorURL as string | undefined) ?? '',
      fingerprint: a.fingerprint as string,
    },
  };
}

function stringMap(v: unknown): Record<string, string> | undefined {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
  for (const x of Object.values(v)) if (typeof x !== 'string') return undefined;
  return v as Record<string, string>;
}

/**
 * The event of one alert for `entity`: kind `alert`, at its start (firing) or end (resolved), the
 * alert's name, status and summary as the message; status, alertname, severity, fingerprint,
 * startsAt/endsAt (RFC 3339), generatorURL, then `label_<name>` and `annotation_<name>` as
 * attributes, as many as the contracts' bound of 32 holds (values cut at 1024 characters).
 */
export function alertEvent(entity: string, alert: WebhookAlert): OpsEvent {
  const name = alert.labels.alertname ?? 'alert';
  const summary = alert.annotations.summary ?? alert.annotations.description ?? '';
  const attrs: Record<string, string> = {};
  const put = (key: string, value: string | undefined) => {
    if (
      value === undefined ||
      Object.keys(attrs).length >= MAX_ATTRS ||
      !ATTR_KEY.test(key) ||
      key.length > 64
    )
      return;
    attrs[key] = value.slice(0, MAX_ATTR_VALUE);
  };
  put('status', alert.status);
  put('alertname', name);
  put('severity', alert.labels.severity);
  put('fingerprint', alert.fingerprint);
  put('startsAt', new Date(alert.startsAt).toISOString());
  put('endsAt', alert.endsAt === undefined ? undefined : new Date(alert.endsAt).toISOString());
  put('generatorURL', alert.generatorURL || undefined);
  for (const [k, v] of Object.entries(alert.labels).sort(([a], [b]) => a.localeCompare(b)))
    if (k !== 'alertname' && k !== 'severity') put(`label_${k}`, v);
  for (const [k, v] of Object.entries(alert.annotations).sort(([a], [b]) => a.localeCompare(b)))
    put(`annotation_${k}`, v);
  const ts = alert.status === 'resolved' ? (alert.endsAt ?? alert.startsAt) : alert.startsAt;
  return {
    entity,
    kind: 'alert',
    message: `${name} ${alert.status}${summary ? `: ${summary}` : ''}`.slice(0, MAX_MESSAGE),
    ts: Math.round(ts),
    attrs,
  };
}

/** The key a delivery of `alert` is remembered by (see SeenAlerts). */
export function deliveryKey(alert: WebhookAlert): string {
  return `${alert.fingerprint}|${alert.startsAt}|${alert.status}`;
}

/**
 * An Alertmanager webhook source (`POST /api/v1/alertmanager`, payload version 4): each alert of a
 * group becomes one `alert` event of the entity its labels map to (default `{{namespace}}/{{pod}}`);
 * re-sends of a delivered alert (same fingerprint, startsAt and status) are dropped; extra fields
 * are ignored; another payload version is refused (400) with the reason.
 */
export function alertmanagerSource(seen: SeenAlerts = new SeenAlerts()): IngestSource {
  return {
    name: 'alertmanager',
    path: '/api/v1/alertmanager',
    defaultMapping: { entity: '{{namespace}}/{{pod}}' },
    convert(req, { mapping, limits }): AlertConversion {
      let payload: unknown;
      try {
        payload = JSON.parse(req.body.toString('utf8'));
      } catch (err) {
        throw new IngestRefusal(400, 'bad_json', `the body is not JSON: ${(err as Error).message}`);
      }
      if (payload === null || typeof payload !== 'object' || Array.isArray(payload))
        throw new IngestRefusal(400, 'bad_json', 'the body must be an Alertmanager webhook: a JSON object');
      const p = payload as Record<string, unknown>;
      if (p.version !== ALERTMANAGER_PAYLOAD_VERSION)
        throw new IngestRefusal(
          400,
          'unsupported_version',
          `webhook payload version ${JSON.stringify(p.version ?? null).slice(0, 40)} is not supported: this source reads "version": "${ALERTMANAGER_PAYLOAD_VERSION}" (Alertmanager's webhook_configs)`,
        );
      if (!Array.isArray(p.alerts))
        throw new IngestRefusal(400, 'schema', '"alerts" must be an array of alerts');
      const out = new RecordBuilder(mapping, limits, req.receivedAt);
      const deliveries: string[] = [];
      let duplicates = 0;
      for (const raw of p.alerts as unknown[]) {
        const read = readAlert(raw);
        if (!read.ok) {
          out.refuse('schema', read.message, 1, () => raw);
          continue;
        }
        const alert = read.alert;
        const key = deliveryKey(alert);
        if (seen.has(key) || deliveries.includes(key)) {
          duplicates++;
          continue;
        }
        const item = () => ({ fingerprint: alert.fingerprint, labels: alert.labels, status: alert.status });
        const entity = mapping.entityOf((k) => alert.labels[k]);
        if (!entity.ok) {
          out.refuse('no_entity', entity.message, 1, item);
          continue;
        }
        const before = out.events.length;
        out.event(alertEvent(entity.entity, alert), item);
        if (out.events.length > before) deliveries.push(key);
      }
      // Re-sends are counted by the server as skipped (`duplicate`), never refused.
      return {
        samples: out.samples,
        events: out.events,
        refused: out.refused,
        skipped: { duplicate: duplicates },
        deliveries,
      };
    },
    answer(_req, conversion) {
      // Everything converted is in Kafka now: only now are these deliveries re-sends to drop.
      for (const key of (conversion as Partial<AlertConversion>).deliveries ?? []) seen.add(key);
      return defaultAnswer(conversion);
    },
  };
}

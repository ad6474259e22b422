import type { KafkaMessage } from 'kafkajs';
import { ConfigError, type Config } from '../common/config.js';
import { MAX_MESSAGE_BYTES, type OpsEvent, type Refusal } from '../common/contracts.js';
import { loadMappings, type Mapping } from '../ingest/mapping.js';
import type { RecordLimits } from '../ingest/records.js';
import { IngestRefusal } from '../ingest/source.js';
import { cloudEventsSource } from '../ingest/sources/cloudevents.js';

/** The header naming a record's content type in CloudEvents' Kafka binding. */
const CONTENT_TYPE = 'content-type';

function header(message: KafkaMessage, name: string): string | undefined {
  const v = message.headers?.[name];
  const one = Array.isArray(v) ? v[0] : v;
  return one === undefined ? undefined : Buffer.isBuffer(one) ? one.toString('utf8') : String(one);
}

/**
 * True when a record on the events topic is a CloudEvent by the Kafka protocol binding: binary mode
 * (`ce_specversion` header) or structured mode (`content-type: application/cloudevents+json`).
 */
export function isCloudEvent(message: KafkaMessage): boolean {
  if (message.headers?.['ce_specversion'] !== undefined) return true;
  return /^application\/cloudevents/i.test(header(message, CONTENT_TYPE) ?? '');
}

/**
 * CloudEvents 1.0 on the events topic (Kafka protocol binding), read by sense as ingest reads them
 * over HTTP: the same converter and the same `cloudevents` mapping (AUTOGLM_INGEST_MAPPINGS_DIR's
 * cloudevents.json, default entity `{{subject}}`), so a producer that emits CloudEvents to Kafka
 * (Knative's KafkaSink, Argo Events, a team's own services) needs no bridge. Binary mode maps
 * `ce_<attr>` headers to attributes and the value to the data; structured mode reads the value as
 * the event. The binding has no batch mode: a batch record is refused.
 */
export class CloudEventsOnKafka {
  constructor(
    private readonly mapping: Mapping,
    private readonly limits: RecordLimits,
  ) {}

  /** The record's event, or why it was refused (naming the attribute and the fix). */
  decode(
    message: KafkaMessage,
    now: number,
  ): { ok: true; value: OpsEvent } | { ok: false; refusal: Refusal } {
    const size = message.value?.length ?? 0;
    // The same bound as our own event records, before any parsing.
    if (size > MAX_MESSAGE_BYTES)
      return refusal('too_large', '', `value is ${size} bytes; the limit is ${MAX_MESSAGE_BYTES}`);
    const contentType = header(message, CONTENT_TYPE) ?? '';
    if (/^application\/cloudevents-batch/i.test(contentType)) {
      return refusal(
        'schema',
        'content-type',
        'CloudEvents on Kafka have no batch mode: send one event per record (structured or binary mode)',
      );
    }
    const headers: Record<string, string> = contentType ? { [CONTENT_TYPE]: contentType } : {};
    for (const name of Object.keys(message.headers ?? {})) {
      // The Kafka binding's `ce_<attr>` is the HTTP binding's `ce-<attr>`.
      if (name.startsWith('ce_')) headers[`ce-${name.slice(3).toLowerCase()}`] = header(message, name) ?? '';
    }
    try {
      const conversion = cloudEventsSource.convert(
        { path: cloudEventsSource.path, headers, body: message.value ?? Buffer.alloc(0), receivedAt: now },
        { mapping: this.mapping, limits: this.limits },
      );
      if (conversion instanceof Promise) throw new Error('the CloudEvents converter must be synchronous');
      const event = conversion.events[0];
      if (event) return { ok: true, value: event };
      const refused = conversion.refused[0];
      return refused
        ? refusal(refused.reason, 'cloudevent', refused.message)
        : refusal('schema', 'cloudevent', 'the CloudEvent was dropped by the cloudevents mapping');
    } catch (err) {
      if (err instanceof IngestRefusal) return refusal('schema', 'cloudevent', err.message);
      throw err;
    }
  }
}

function refusal(reason: Refusal['reason'], path: string, message: string): { ok: false; refusal: Refusal } {
  return { ok: false, refusal: { reason, issues: [{ path, message }] } };
}

/** The decoder with the `cloudevents` mapping of AUTOGLM_INGEST_MAPPINGS_DIR; a bad mapping file stops start-up naming it. */
export function cloudEventsOnKafka(
  config: Pick<Config, 'ingestMappingsDir' | 'maxClockSkew' | 'maxAbsValue'>,
): CloudEventsOnKafka {
  const { mappings, problems } = loadMappings(config.ingestMappingsDir, [cloudEventsSource]);
  const mapping = mappings.get(cloudEventsSource.name);
  if (problems.length > 0 || !mapping)
    throw new ConfigError(problems.map((p) => `sense (CloudEvents on the events topic): ${p}`));
  return new CloudEventsOnKafka(mapping, {
    maxClockSkewMs: config.maxClockSkew,
    maxAbsValue: config.maxAbsValue,
  });
}

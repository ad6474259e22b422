/**
 * What a source of ingest is: a converter from one HTTP protocol (Prometheus remote-write, OTLP,
 * CloudEvents, an Alertmanager webhook, …) to the samples and events of the contracts. A source
 * only translates: the server has already authenticated the request, bounded and decompressed its
 * body and rate-limited it; it writes what the source returns to Kafka and answers.
 *
 * To add one: a file `sources/<name>.ts` exporting an `IngestSource`, and one line in
 * `sources/index.ts`.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { MetricSample, OpsEvent, Refusal } from '../common/contracts.js';
import type { Mapping, MappingSpec } from './mapping.js';
import type { RecordLimits } from './records.js';

/** One request as a source sees it. */
export interface IngestRequest {
  /** The URL path, without the query string (`/api/v1/write`). */
  readonly path: string;
  /** Lower-case header names, as node gives them (`content-type`, `ce-id`, …). */
  readonly headers: IncomingHttpHeaders;
  /** The body: at most AUTOGLM_INGEST_MAX_BODY_BYTES as sent, Content-Encoding (gzip, snappy) undone. */
  readonly body: Buffer;
  /** When the server received it (epoch ms): the time of records that carry none. */
  readonly receivedAt: number;
}

/** Why part of a request was refused; the server counts it, dead-letters `item` and names it in the answer. */
export interface RefusedItem {
  readonly reason: Refusal['reason'];
  /** What is wrong and how to fix it, naming the field (`labels lack "pod" for {{namespace}}/{{pod}}`). */
  readonly message: string;
  /** How many samples or events this refusal stands for (one series of 100 samples: 100). */
  readonly points: number;
  /** What is dead-lettered for it, as JSON (a series' labels, the data point): small, never the whole body. */
  readonly item: unknown;
}

/** What a source made of a request. */
export interface Conversion {
  readonly samples: readonly MetricSample[];
  readonly events: readonly OpsEvent[];
  readonly refused: readonly RefusedItem[];
  /** Records skipped on purpose, by why (`nan`: Prometheus's staleness markers; `dropped`: the mapping's `drop`): counted only. */
  readonly skipped?: Readonly<Record<string, number>>;
}

/** An HTTP answer. */
export interface Answer {
  readonly status: number;
  readonly contentType: string;
  readonly body: string | Buffer;
}

/**
 * The whole request is refused (a body that does not decode, a missing required header): the
 * server answers `status` (a 4xx) with the message and counts `reason`.
 */
export class IngestRefusal extends Error {
  constructor(
    readonly status: number,
    /** A short counter label: `bad_protobuf`, `bad_json`, `unsupported_media_type`, … */
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'IngestRefusal';
  }
}

/** What a source gets besides the request: its mapping, and the bounds records are checked against. */
export interface SourceContext {
  readonly mapping: Mapping;
  readonly limits: RecordLimits;
}

/** A converter of one protocol, registered in `sources/index.ts`. */
export interface IngestSource {
  /** The source's name: its tokens file (`<name>.tokens`), mapping file (`<name>.json`) and metric label. */
  readonly name: string;
  /** The path it answers POSTs on (`/api/v1/write`). */
  readonly path: string;
  /** The mapping used when AUTOGLM_INGEST_MAPPINGS_DIR has no `<name>.json` (undefined: the source maps nothing). */
  readonly defaultMapping?: MappingSpec;
  /**
   * Turns a request into samples and events; refuses what cannot be mapped item by item, and throws
   * IngestRefusal when the request as a whole cannot be read.
   */
  convert(req: IngestRequest, ctx: SourceContext): Conversion | Promise<Conversion>;
  /**
   * The answer once everything converted is in Kafka (acks=all). Default: 204 when nothing was
   * refused, else 400 naming the refusals (the rest was written; a retry would be refused again).
   */
  answer?(req: IngestRequest, conversion: Conversion): Answer;
  /** The body of a refusal in the source's own protocol (OTLP's Status); default: the message as text. */
  refusalBody?(req: Pick<IngestRequest, 'path' | 'headers'>, status: number, message: string): Answer;
}

/** The default answer: 204, or 400 naming the refusals by reason with their first messages. */
export function defaultAnswer(conversion: Conversion): Answer {
  if (conversion.refused.length === 0) return { status: 204, contentType: 'text/plain', body: '' };
  return { status: 400, contentType: 'text/plain; charset=utf-8', body: `${describeRefusals(conversion)}\n` };
}

/** `accepted 10 samples, 0 events; refused 3 (no_entity: labels lack "pod" …)`: one line for answers and logs. */
export function describeRefusals(conversion: Conversion): string {
  const points = conversion.refused.reduce((n, r) => n + r.points, 0);
  const byReason = new Map<string, string[]>();
  for (const r of conversion.refused) {
    const messages = byReason.get(r.reason) ?? [];
    if (messages.length < 3 && !messages.includes(r.message)) messages.push(r.message);
    byReason.set(r.reason, messages);
  }
  const reasons = [...byReason].map(([reason, messages]) => `${reason}: ${messages.join('; ')}`).join(' | ');
  return `accepted ${conversion.samples.length} samples and ${conversion.events.length} events; refused ${points} (${reasons})`;
}

import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Refusal } from '../common/contracts.js';
import type { RefusedSource } from '../common/dead-letters.js';
import type { Logger } from '../common/logger.js';
import type { TokenStore } from './auth.js';
import { decodeBody, readBody } from './body.js';
import { KafkaUnavailable } from './kafka-writer.js';
import type { Mapping } from './mapping.js';
import type { RateLimits } from './rate-limit.js';
import type { RecordLimits } from './records.js';
import {
  defaultAnswer,
  describeRefusals,
  IngestRefusal,
  type Answer,
  type Conversion,
  type IngestRequest,
  type IngestSource,
} from './source.js';

/** Most dead letters written for one request's refusals (the rest are counted and named in the answer). */
const MAX_DEAD_LETTERS_PER_REQUEST = 100;

/** What the server needs: the sources with their mappings, the checks and where records go. */
export interface IngestServerDeps {
  readonly sources: readonly IngestSource[];
  readonly mappings: ReadonlyMap<string, Mapping>;
  /** Undefined: no authentication (AUTOGLM_INGEST_AUTH=none, loopback only). */
  readonly tokens: TokenStore | undefined;
  readonly rateLimits: RateLimits;
  readonly write: (samples: Conversion['samples'], events: Conversion['events']) => Promise<void>;
  /** Writes refused items to the dead-letter topic (DeadLetters.sendAll: retried, counted, never thrown). */
  readonly deadLetter: (letters: ReadonlyArray<{ source: RefusedSource; refusal: Refusal }>) => Promise<void>;
  readonly logger: Logger;
  readonly registry: Registry;
  /** The bounds samples and events are checked against (sense's AUTOGLM_MAX_CLOCK_SKEW, AUTOGLM_MAX_ABS_VALUE). */
  readonly limits: RecordLimits;
  readonly settings: {
    readonly maxBodyBytes: number;
    readonly maxDecodedBytes: number;
    readonly maxPendingBytes: number;
    /** Seconds in Retry-After of a 503 or 429. */
    readonly retryAfterSeconds: number;
  };
}

/** A running ingest HTTP server. */
export interface RunningIngestServer {
  readonly port: number;
  /** Stops taking connections and waits for the requests in flight. */
  close(): Promise<void>;
}

/**
 * The ingest HTTP server: routes each POST to its source by path, then authenticates (bearer token
 * of that source), rate-limits, reads the body within its limits and decodes it, lets the source
 * convert it, writes the records to Kafka and answers only once they are acknowledged. Every
 * refusal is a 4xx (or 503 when Kafka cannot take the records) with the reason, and is counted.
 */
export class IngestServer {
  private readonly byPath: Map<string, IngestSource>;
  private pendingBytes = 0;
  private readonly requests: Counter<'source' | 'status'>;
  private readonly refusals: Counter<'source' | 'reason'>;
  private readonly records: Counter<'source' | 'kind'>;
  private readonly refusedPoints: Counter<'source' | 'reason'>;
  private readonly skipped: Counter<'source' | 'why'>;
  private readonly writeSeconds: Histogram<'source'>;

  constructor(private readonly deps: IngestServerDeps) {
    this.byPath = new Map(deps.sources.map((s) => [s.path, s]));
    const registers = [deps.registry];
    this.requests = new Counter({
      name: 'autoglm_ingest_requests_total',
      help: 'Requests ingest answered, by source and HTTP status',
      labelNames: ['source', 'status'],
      registers,
    });
    this.refusals = new Counter({
      name: 'autoglm_ingest_refusals_total',
      help: 'Requests ingest refused (4xx/503), by source and reason (no_token, too_large, bad_snappy, kafka_unavailable, …)',
      labelNames: ['source', 'reason'],
      registers,
    });
    this.records = new Counter({
      name: 'autoglm_ingest_records_total',
      help: 'Samples and events ingest wrote to Kafka (acknowledged), by source and kind',
      labelNames: ['source', 'kind'],
      registers,
    });
    this.refusedPoints = new Counter({
      name: 'autoglm_ingest_refused_records_total',
      help: 'Samples and events ingest refused inside accepted requests (no_entity, unmapped_metric, …), by source and reason',
      labelNames: ['source', 'reason'],
      registers,
    });
    this.skipped = new Counter({
      name: 'autoglm_ingest_skipped_total',
      help: "Records ingest skipped on purpose, by source and why (nan: Prometheus's staleness markers; dropped: the mapping's drop list)",
      labelNames: ['source', 'why'],
      registers,
    });
    this.writeSeconds = new Histogram({
      name: 'autoglm_ingest_write_seconds',
      help: 'Time from a request read to its records acknowledged by Kafka',
      labelNames: ['source'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    const pending = () => this.pendingBytes;
    new Gauge({
      name: 'autoglm_ingest_pending_bytes',
      help: 'Decoded bytes of requests waiting for Kafka now (AUTOGLM_INGEST_MAX_PENDING_BYTES bounds it)',
      registers,
      collect() {
        this.set(pending());
      },
    });
  }

  /** Listens on `host:port` (port 0: a free one). */
  async listen(port: number, host: string): Promise<RunningIngestServer> {
    const sockets = new Set<Socket>();
    const server = http.createServer((req, res) => void this.handle(req, res));
    server.on('connection', (s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    // A slow sender cannot hold a connection open for ever.
    server.requestTimeout = 60_000;
    server.headersTimeout = 20_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, resolve);
    });
    return {
      port: (server.address() as AddressInfo).port,
      close: () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
          // Connections still busy after a grace period are cut: their senders retry elsewhere.
          setTimeout(() => {
            for (const s of sockets) s.destroy();
          }, 15_000).unref();
        }),
    };
  }

  /** Handles one request end to end (exposed for tests that drive the server without a socket). */
  async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const source = this.byPath.get(path);
    const name = source?.name ?? 'unknown';
    const receivedAt = Date.now();
    let reserved = 0;
    try {
      if (!source) {
        throw new IngestRefusal(
          404,
          'no_route',
          `no source at ${path.slice(0, 100)}: POST to ${[...this.byPath.keys()].join(', ')}`,
        );
      }
      if (req.method !== 'POST')
        throw new IngestRefusal(405, 'method', `${source.name} takes POST on ${path}`);
      const auth = this.deps.tokens?.check(source.name, req.headers.authorization);
      if (auth) throw new IngestRefusal(401, auth.reason, auth.message);
      if (!this.deps.rateLimits.take(source.name)) {
        throw new IngestRefusal(
          429,
          'rate_limited',
          `source ${source.name} is over its rate (AUTOGLM_INGEST_RATE, AUTOGLM_INGEST_BURST): retry after ${this.deps.settings.retryAfterSeconds}s`,
        );
      }
      const { maxBodyBytes, maxDecodedBytes, maxPendingBytes } = this.deps.settings;
      const raw = await readBody(req, maxBodyBytes);
      const body = await decodeBody(raw, req.headers['content-encoding'], maxDecodedBytes);
      if (this.pendingBytes + body.length > maxPendingBytes) {
        throw new IngestRefusal(
          503,
          'overloaded',
          `ingest holds ${this.pendingBytes} bytes waiting for Kafka (AUTOGLM_INGEST_MAX_PENDING_BYTES=${maxPendingBytes}): retry later`,
        );
      }
      // Reserved until answered: the decoded body and the records made of it are held till then.
      this.pendingBytes += reserved = body.length;
      const request: IngestRequest = { path, headers: req.headers, body, receivedAt };
      const mapping = this.deps.mappings.get(source.name);
      if (!mapping)
        throw new IngestRefusal(
          500,
          'no_mapping',
          `source ${source.name} has no mapping: add ${source.name}.json to AUTOGLM_INGEST_MAPPINGS_DIR`,
        );
      const conversion = await source.convert(request, { mapping, limits: this.deps.limits });
      const started = process.hrtime.bigint();
      try {
        await this.deps.write(conversion.samples, conversion.events);
      } catch (err) {
        if (err instanceof KafkaUnavailable)
          throw new IngestRefusal(
            503,
            'kafka_unavailable',
            `${err.message}; nothing of this request was kept: retry later`,
          );
        throw err;
      }
      this.writeSeconds.observe({ source: name }, Number(process.hrtime.bigint() - started) / 1e9);
      this.records.inc({ source: name, kind: 'sample' }, conversion.samples.length);
      this.records.inc({ source: name, kind: 'event' }, conversion.events.length);
      for (const [why, n] of Object.entries(conversion.skipped ?? {}))
        if (n > 0) this.skipped.inc({ source: name, why }, n);
      if (conversion.refused.length > 0) await this.deadLetter(source, conversion);
      const answer = source.answer?.(request, conversion) ?? defaultAnswer(conversion);
      this.send(res, name, answer);
    } catch (err) {
      const refusal =
        err instanceof IngestRefusal
          ? err
          : new IngestRefusal(500, 'internal', `ingest failed on this request: ${(err as Error).message}`);
      if (!(err instanceof IngestRefusal))
        this.deps.logger.error({ err, source: name }, 'ingest: request failed');
      this.refusals.inc({ source: name, reason: refusal.reason });
      const answer = source?.refusalBody
        ? source.refusalBody({ path, headers: req.headers }, refusal.status, refusal.message)
        : {
            status: refusal.status,
            contentType: 'text/plain; charset=utf-8',
            body: `${refusal.message}\n`,
          };
      const headers: Record<string, string> = {};
      if (refusal.status === 503 || refusal.status === 429)
        headers['retry-after'] = String(this.deps.settings.retryAfterSeconds);
      // The rest of a body too large is not read: the connection closes after the answer.
      if (refusal.status === 413) headers.connection = 'close';
      this.send(res, name, answer, headers);
      if (refusal.status === 413) req.resume();
    } finally {
      this.pendingBytes -= reserved;
    }
  }

  private async deadLetter(source: IngestSource, conversion: Conversion): Promise<void> {
    for (const r of conversion.refused)
      this.refusedPoints.inc({ source: source.name, reason: r.reason }, r.points);
    const letters = conversion.refused.slice(0, MAX_DEAD_LETTERS_PER_REQUEST).map((r) => ({
      source: {
        topic: `ingest:${source.path}`,
        partition: -1,
        message: {
          offset: '-1',
          key: Buffer.from(source.name),
          value: Buffer.from(JSON.stringify({ points: r.points, item: r.item })),
        },
      },
      refusal: { reason: r.reason, issues: [{ path: source.name, message: r.message }] },
    }));
    await this.deps.deadLetter(letters);
    this.deps.logger.warn({ source: source.name }, `ingest: ${describeRefusals(conversion).slice(0, 1000)}`);
  }

  private send(
    res: http.ServerResponse,
    source: string,
    answer: Answer,
    headers: Record<string, string> = {},
  ): void {
    this.requests.inc({ source, status: String(answer.status) });
    if (res.headersSent) return;
    res.writeHead(answer.status, { 'content-type': answer.contentType, ...headers });
    res.end(answer.body);
  }
}

/**
 * Ingest's HTTP edge on a real socket, Kafka replaced by an in-memory writer (the e2e tests use the
 * real broker): every refusal is its 4xx (or 503) with the reason and a counter, refused records
 * are dead-lettered, nothing is acknowledged that the writer did not take.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import zlib from 'node:zlib';
import { Registry } from 'prom-client';
import snappy from 'snappy';
import { ConfigError, loadConfig } from '../../services/common/config.js';
import type { MetricSample, OpsEvent } from '../../services/common/contracts.js';
import { createLogger } from '../../services/common/logger.js';
import { TokenStore } from '../../services/ingest/auth.js';
import { KafkaUnavailable } from '../../services/ingest/kafka-writer.js';
import { loadMappings } from '../../services/ingest/mapping.js';
import { encodeWriteRequest } from '../../services/ingest/proto/remote-write.js';
import { RateLimits } from '../../services/ingest/rate-limit.js';
import {
  IngestServer,
  type IngestServerDeps,
  type RunningIngestServer,
} from '../../services/ingest/server.js';
import { SOURCES } from '../../services/ingest/sources/index.js';
import { postRemoteWrite, remoteWriteBody } from '../support/remote-write.js';

const TOKEN = 'rw-token-1';
const now = Date.now();

const good = () =>
  remoteWriteBody([
    {
      labels: { __name__: 'cpu', namespace: 'shop', pod: 'web-1' },
      samples: [10, 20].map((value, i) => ({ value, timestamp: now + i })),
    },
  ]);

describe('ingest HTTP edge', () => {
  let dir: string;
  let server: RunningIngestServer;
  let registry: Registry;
  const written: Array<{ samples: readonly MetricSample[]; events: readonly OpsEvent[] }> = [];
  const letters: unknown[] = [];
  let kafkaDown = false;
  let url: string;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ingest-http-'));
    fs.writeFileSync(path.join(dir, 'remote-write.tokens'), `# rotated weekly\nold-token\n${TOKEN}\n`);
    registry = new Registry();
    const { mappings, problems } = loadMappings('', SOURCES);
    assert.deepEqual(problems, []);
    const deps: IngestServerDeps = {
      sources: SOURCES,
      mappings,
      tokens: new TokenStore(dir),
      rateLimits: new RateLimits(1000, 1000),
      write: async (samples, events) => {
        if (kafkaDown) throw new KafkaUnavailable('the broker is not reachable');
        written.push({ samples, events });
      },
      deadLetter: async (l) => void letters.push(...l),
      logger: createLogger('silent'),
      registry,
      limits: { maxClockSkewMs: 300_000, maxAbsValue: 1e12 },
      settings: {
        maxBodyBytes: 64 * 1024,
        maxDecodedBytes: 256 * 1024,
        maxPendingBytes: 1024 * 1024,
        retryAfterSeconds: 7,
      },
    };
    server = await new IngestServer(deps).listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${server.port}/api/v1/write`;
  });
  after(async () => {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const post = (body: Buffer, headers: Record<string, string> = {}, to = url) =>
    postRemoteWrite(to, body, { authorization: `Bearer ${TOKEN}`, ...headers });
  const counter = async (name: string, labels: Record<string, string>) => {
    const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
    const v = m?.values.find((x) => Object.entries(labels).every(([k, l]) => x.labels[k] === l));
    return Number(v?.value ?? 0);
  };

  it('acknowledges a good request with 204 once the writer took its samples', async () => {
    const before = written.length;
    const res = await post(good());
    assert.equal(res.status, 204);
    assert.equal(written.length, before + 1);
    assert.deepEqual(
      written.at(-1)!.samples.map((s) => [s.entity, s.metric, s.value]),
      [
        ['shop/web-1', 'cpu', 10],
        ['shop/web-1', 'cpu', 20],
      ],
    );
  });

  it('refuses a request without a token, and one with a wrong token, with 401 and the reason', async () => {
    const before = written.length;
    const none = await post(good(), { authorization: '' });
    assert.equal(none.status, 401);
    assert.match(await none.text(), /no bearer token: send "Authorization: Bearer <token>"/);
    const wrong = await post(good(), { authorization: 'Bearer not-it' });
    assert.equal(wrong.status, 401);
    const text = await wrong.text();
    assert.match(text, /not one of remote-write's tokens/);
    assert.ok(!text.includes('not-it'), 'the token given is never echoed');
    assert.equal(written.length, before);
    assert.equal(
      await counter('autoglm_ingest_refusals_total', { source: 'remote-write', reason: 'no_token' }),
      1,
    );
    assert.equal(
      await counter('autoglm_ingest_refusals_total', { source: 'remote-write', reason: 'wrong_token' }),
      1,
    );
  });

  it('refuses every request of a source that has no tokens file', async () => {
    const res = await fetch(`http://127.0.0.1:${server.port}/v1/metrics`, {
      method: 'POST',
      body: '{}',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    });
    assert.equal(res.status, 401);
    assert.match(JSON.stringify(await res.json()), /put its bearer tokens in .*otlp\.tokens/);
  });

  it('refuses a body over the limit with 413, by its length and when sent chunked', async () => {
    const big = Buffer.alloc(70 * 1024, 1);
    const res = await post(big);
    assert.equal(res.status, 413);
    assert.match(
      await res.text(),
      /the body is \d+ bytes; the limit is 65536 \(AUTOGLM_INGEST_MAX_BODY_BYTES\)/,
    );
    const chunked = await fetch(url, {
      method: 'POST',
      // A stream has no Content-Length: the limit is applied as the bytes come.
      body: new ReadableStream({
        start(c) {
          for (let i = 0; i < 10; i++) c.enqueue(new Uint8Array(10 * 1024));
          c.close();
        },
      }),
      duplex: 'half',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-encoding': 'snappy' },
    } as RequestInit);
    assert.equal(chunked.status, 413);
    assert.equal(
      await counter('autoglm_ingest_refusals_total', { source: 'remote-write', reason: 'too_large' }),
      2,
    );
  });

  it('refuses a small body that decodes past the decoded limit (gzip and snappy) with 413', async () => {
    const bomb = zlib.gzipSync(Buffer.alloc(1024 * 1024));
    assert.ok(bomb.length < 64 * 1024);
    const res = await post(bomb, { 'content-encoding': 'gzip' });
    assert.equal(res.status, 413);
    assert.match(await res.text(), /AUTOGLM_INGEST_MAX_DECODED_BYTES/);
    const snappyBomb = snappy.compressSync(Buffer.alloc(1024 * 1024));
    const res2 = await post(snappyBomb);
    assert.equal(res2.status, 413);
  });

  it('refuses wrong snappy framing with 400: the stream format, and bytes that are not snappy', async () => {
    const framed = Buffer.concat([
      Buffer.from([0xff, 0x06, 0x00, 0x00]),
      Buffer.from('sNaPpY'),
      Buffer.alloc(20, 7),
    ]);
    const res = await post(framed);
    assert.equal(res.status, 400);
    assert.match(await res.text(), /framed \(stream\) format; remote-write sends the block format/);
    const garbage = Buffer.from([0x80, 0x80, 0x01, 0xde, 0xad, 0xbe, 0xef]);
    const res2 = await post(garbage);
    assert.equal(res2.status, 400);
    assert.match(await res2.text(), /not snappy block format/);
    assert.equal(
      await counter('autoglm_ingest_refusals_total', { source: 'remote-write', reason: 'bad_snappy' }),
      2,
    );
  });

  it('refuses a truncated protobuf with 400', async () => {
    const whole = Buffer.from(
      encodeWriteRequest({
        timeseries: [
          { labels: [{ name: '__name__', value: 'cpu' }], samples: [{ value: 1, timestamp: now }] },
        ],
      }),
    );
    const res = await post(snappy.compressSync(whole.subarray(0, whole.length - 5)));
    assert.equal(res.status, 400);
    assert.match(await res.text(), /not a remote-write WriteRequest \(truncated or not protobuf\?\)/);
  });

  it('refuses samples whose labels map to no entity: 400 naming the missing label, dead-lettered, counted; the rest written', async () => {
    const before = written.length;
    const res = await post(
      remoteWriteBody([
        {
          labels: { __name__: 'mem', namespace: 'shop', pod: 'web-2' },
          samples: [{ value: 5, timestamp: now }],
        },
        {
          labels: { __name__: 'mem', instance: 'h:9100' },
          samples: [
            { value: 1, timestamp: now },
            { value: 2, timestamp: now + 1 },
          ],
        },
      ]),
    );
    assert.equal(res.status, 400);
    assert.match(
      await res.text(),
      /accepted 1 samples and 0 events; refused 2 \(no_entity: no "namespace", "pod" for the entity template \{\{namespace\}\}\/\{\{pod\}\}/,
    );
    assert.equal(written.length, before + 1);
    assert.deepEqual(
      written.at(-1)!.samples.map((s) => s.entity),
      ['shop/web-2'],
    );
    const letter = letters.at(-1) as {
      source: { topic: string; message: { value: Buffer } };
      refusal: { reason: string };
    };
    assert.equal(letter.refusal.reason, 'no_entity');
    assert.equal(letter.source.topic, 'ingest:/api/v1/write');
    assert.deepEqual(JSON.parse(letter.source.message.value.toString()).item.labels, {
      __name__: 'mem',
      instance: 'h:9100',
    });
    assert.equal(
      await counter('autoglm_ingest_refused_records_total', { source: 'remote-write', reason: 'no_entity' }),
      2,
    );
  });

  it('answers 503 with Retry-After when Kafka does not take the records, and counts it', async () => {
    kafkaDown = true;
    try {
      const res = await post(good());
      assert.equal(res.status, 503);
      assert.equal(res.headers.get('retry-after'), '7');
      assert.match(await res.text(), /nothing of this request was kept: retry later/);
    } finally {
      kafkaDown = false;
    }
    assert.equal(
      await counter('autoglm_ingest_refusals_total', { source: 'remote-write', reason: 'kafka_unavailable' }),
      1,
    );
  });

  it('answers 404 naming the paths, 405 for another method', async () => {
    const res = await post(good(), {}, `http://127.0.0.1:${server.port}/nowhere`);
    assert.equal(res.status, 404);
    assert.match(await res.text(), /POST to \/api\/v1\/write, \/v1\/metrics/);
    const get = await fetch(url);
    assert.equal(get.status, 405);
  });
});

describe('ingest rate limit', () => {
  it('lets a burst through, then refuses until tokens come back at the rate', () => {
    const limits = new RateLimits(2, 3);
    const t = 1_000_000;
    assert.deepEqual(
      [1, 2, 3, 4].map(() => limits.take('a', t)),
      [true, true, true, false],
    );
    assert.equal(limits.take('b', t), true, 'each source has its own bucket');
    assert.equal(limits.take('a', t + 400), false);
    assert.equal(limits.take('a', t + 500), true);
  });
});

describe('ingest settings', () => {
  it('lists every bad ingest setting at once, and refuses auth none off loopback', () => {
    assert.throws(
      () =>
        loadConfig({
          AUTOGLM_INGEST_AUTH: 'none',
          AUTOGLM_INGEST_HOST: '0.0.0.0',
          AUTOGLM_INGEST_MAX_BODY_BYTES: '10',
          AUTOGLM_INGEST_RATE: '-1',
        }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        const text = err.problems.join('\n');
        assert.match(text, /AUTOGLM_INGEST_MAX_BODY_BYTES="10": must be at least 1024/);
        assert.match(text, /AUTOGLM_INGEST_RATE="-1"/);
        return true;
      },
    );
    assert.throws(
      () => loadConfig({ AUTOGLM_INGEST_AUTH: 'none', AUTOGLM_INGEST_HOST: '0.0.0.0' }),
      /AUTOGLM_INGEST_AUTH=none is only allowed on a loopback AUTOGLM_INGEST_HOST/,
    );
    assert.equal(loadConfig({ AUTOGLM_INGEST_AUTH: 'none' }).ingestAuth, 'none');
  });

  it('lists every bad mapping file at start', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ingest-maps-'));
    try {
      fs.writeFileSync(
        path.join(dir, 'remote-write.json'),
        '{"entity": "pods", "metrics": {"a": "Bad Name"}}',
      );
      fs.writeFileSync(path.join(dir, 'otlp.json'), '{not json');
      const { problems } = loadMappings(dir, SOURCES);
      assert.equal(problems.length, 2);
      assert.match(
        problems.join('\n'),
        /remote-write\.json: entity: must name at least one label.*metrics\.a: use lower-case letters/,
      );
      assert.match(problems.join('\n'), /otlp\.json: .*JSON/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

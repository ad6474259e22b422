/**
 * Ingest on the real Kafka with real payloads: OTLP exports (protobuf with gzip, and JSON) from the
 * OpenTelemetry JS SDK's own exporters, CloudEvents in binary and structured mode, a remote-write
 * request (made by our encoder of the spec's WriteRequest; the Prometheus test adds one recorded from
 * the real Prometheus) that sense turns into observations, and an unmapped series dead-lettered.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OTLPMetricExporter as OtlpHttpExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as OtlpProtoExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  MeterProvider,
  PeriodicExportingMetricReader,
  type PushMetricExporter,
} from '@opentelemetry/sdk-metrics';
import type { Kafka } from 'kafkajs';
import { Registry } from 'prom-client';
import { topicNames, type Config } from '../../services/common/config.js';
import type { DeadLetter, MetricSample, Observation, OpsEvent } from '../../services/common/contracts.js';
import { createKafka } from '../../services/common/kafka.js';
import { createLogger } from '../../services/common/logger.js';
import type { Service } from '../../services/common/service.js';
import { startIngest, type IngestService } from '../../services/ingest/main.js';
import { startSense } from '../../services/sense/main.js';
import { testConfig, unique } from '../support/config.js';
import { deleteTopicsWithPrefix, TopicTap } from '../support/kafka.js';
import { postRemoteWrite, remoteWriteBody } from '../support/remote-write.js';

const TOKEN = 'e2e-ingest-token';

describe('ingest: real payloads through real Kafka', () => {
  const logger = createLogger('warn');
  let dir: string;
  let config: Config;
  let kafka: Kafka;
  let ingest: IngestService;
  let sense: Service;
  let metrics: TopicTap;
  let events: TopicTap;
  let observations: TopicTap;
  let dlq: TopicTap;
  let base: string;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ingest-e2e-'));
    for (const s of ['remote-write', 'otlp', 'cloudevents'])
      fs.writeFileSync(path.join(dir, `${s}.tokens`), `${TOKEN}\n`);
    config = testConfig({ ingestPort: '0', ingestTokensDir: dir });
    kafka = createKafka(config, logger);
    ingest = await startIngest({ config, logger, registry: new Registry() });
    sense = await startSense({ config, logger, registry: new Registry() });
    const topics = topicNames(config);
    metrics = await new TopicTap(kafka, topics.metrics, logger).start();
    events = await new TopicTap(kafka, topics.events, logger).start();
    observations = await new TopicTap(kafka, topics.observations, logger).start();
    dlq = await new TopicTap(kafka, topics.dlq, logger).start();
    base = `http://127.0.0.1:${ingest.port}`;
  });

  after(async () => {
    for (const tap of [metrics, events, observations, dlq]) await tap?.stop();
    await sense?.stop();
    await ingest?.stop();
    if (kafka) await deleteTopicsWithPrefix(kafka, config.topicPrefix);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Records through a real MeterProvider and flushes it to ingest with `exporter`. */
  async function exportWith(exporter: PushMetricExporter, pod: string): Promise<void> {
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
    const provider = new MeterProvider({
      resource: resourceFromAttributes({ 'service.name': 'checkout', 'k8s.pod.name': pod }),
      readers: [reader],
    });
    const meter = provider.getMeter('ingest-e2e');
    meter.createGauge('cpu').record(42.5);
    meter.createCounter('http.requests').add(10);
    const duration = meter.createHistogram('http.server.duration');
    for (let i = 0; i < 100; i++) duration.record(20);
    // The SDK stamps points in milliseconds: a counter collected in the millisecond it started has no
    // interval to take a rate over (ingest skips such a first point), so let one pass, as in any app.
    await new Promise((resolve) => setTimeout(resolve, 5));
    // Shutting down exports once more (a flush would export twice).
    await provider.shutdown();
  }

  const samplesOf = async (entity: string, metric: string) => {
    await metrics.waitFor<MetricSample>((s) => s.entity === entity && s.metric === metric, 30_000);
    return metrics.values<MetricSample>((s) => s.entity === entity && s.metric === metric);
  };

  for (const [mode, makeExporter] of [
    [
      'protobuf, gzip',
      (url: string) =>
        new OtlpProtoExporter({
          url,
          headers: { Authorization: `Bearer ${TOKEN}` },
          compression: 'gzip' as never,
        }),
    ],
    ['JSON', (url: string) => new OtlpHttpExporter({ url, headers: { Authorization: `Bearer ${TOKEN}` } })],
  ] as const) {
    it(`takes the OpenTelemetry SDK's OTLP export (${mode}): gauge, counter as a rate, histogram mean and p95`, async () => {
      const pod = unique('pod');
      await exportWith(makeExporter(`${base}/v1/metrics`), pod);
      const entity = `checkout/${pod}`;
      assert.deepEqual(
        (await samplesOf(entity, 'cpu')).map((s) => s.value),
        [42.5],
      );
      const rate = await samplesOf(entity, 'http_requests');
      assert.equal(rate.length, 1);
      assert.ok(rate[0]!.value > 0, `a rate per second since the counter's start, got ${rate[0]!.value}`);
      assert.deepEqual(
        (await samplesOf(entity, 'http_server_duration_mean')).map((s) => s.value),
        [20],
      );
      // 100 values of 20 in the SDK's default (10, 25] bucket: 10 + 15 × 0.95.
      assert.deepEqual(
        (await samplesOf(entity, 'http_server_duration_p95')).map((s) => s.value),
        [24.25],
      );
    });
  }

  it('takes a CloudEvent in binary and in structured mode into the events topic', async () => {
    const entity = `${unique('cart')}/pod-1`;
    const time = new Date().toISOString();
    const binary = await fetch(`${base}/cloudevents`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${TOKEN}`,
        'content-type': 'application/json',
        'ce-specversion': '1.0',
        'ce-id': 'b-1',
        'ce-source': '/ci',
        'ce-type': 'deploy',
        'ce-subject': entity,
        'ce-time': time,
      },
      body: JSON.stringify({ message: 'deployed v7 (binary)' }),
    });
    assert.equal(binary.status, 204, await binary.text());
    const structured = await fetch(`${base}/cloudevents`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/cloudevents+json' },
      body: JSON.stringify({
        specversion: '1.0',
        id: 's-1',
        source: '/k8s',
        type: 'k8s',
        subject: entity,
        time,
        data: { message: 'pod restarted (structured)' },
      }),
    });
    assert.equal(structured.status, 204, await structured.text());
    await events.waitFor<OpsEvent>((e) => e.entity === entity && e.kind === 'k8s', 30_000);
    const got = events.values<OpsEvent>((e) => e.entity === entity).map((e) => [e.kind, e.message, e.ts]);
    assert.deepEqual(got, [
      ['deploy', 'deployed v7 (binary)', Date.parse(time)],
      ['k8s', 'pod restarted (structured)', Date.parse(time)],
    ]);
  });

  it('takes a remote-write request into samples that sense observes, and dead-letters an unmapped series', async () => {
    const ns = unique('shop');
    const t0 = Date.now() - 20_000;
    const body = remoteWriteBody([
      {
        labels: { __name__: 'cpu', namespace: ns, pod: 'web-1' },
        samples: Array.from({ length: 40 }, (_, i) => ({ value: 50 + (i % 5), timestamp: t0 + i * 500 })),
      },
      { labels: { __name__: 'cpu', instance: `${ns}:9100` }, samples: [{ value: 1, timestamp: t0 }] },
    ]);
    const res = await postRemoteWrite(`${base}/api/v1/write`, body, { authorization: `Bearer ${TOKEN}` });
    assert.equal(res.status, 400);
    assert.match(await res.text(), /accepted 40 samples .* refused 1 \(no_entity: no "namespace", "pod"/);
    const entity = `${ns}/web-1`;
    assert.equal((await samplesOf(entity, 'cpu')).length, 40);
    const observation = await observations.waitFor<Observation>(
      (o) => o.entity === entity && o.features['cpu.avg'] !== undefined,
      30_000,
    );
    assert.ok(observation.features['cpu.avg']! >= 50 && observation.features['cpu.avg']! <= 54);
    const letter = await dlq.waitFor<DeadLetter>(
      (d) =>
        d.service === 'ingest' &&
        d.reason === 'no_entity' &&
        Buffer.from(d.value ?? '', 'base64')
          .toString()
          .includes(`${ns}:9100`),
      30_000,
    );
    assert.equal(letter.topic, 'ingest:/api/v1/write');
  });
});

/** CloudEvents 1.0 over HTTP into events: binary, structured and batch modes, and what is refused. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Mapping } from '../../services/ingest/mapping.js';
import type { Conversion, IngestRequest } from '../../services/ingest/source.js';
import { cloudEventsSource } from '../../services/ingest/sources/cloudevents.js';

const now = 1_800_000_000_000;
const limits = { maxClockSkewMs: 300_000, maxAbsValue: 1e12 };
const convert = (
  headers: Record<string, string>,
  body: unknown,
  mapping = Mapping.of(cloudEventsSource.defaultMapping),
) => {
  const req: IngestRequest = {
    path: '/cloudevents',
    headers,
    body: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
    receivedAt: now,
  };
  return cloudEventsSource.convert(req, { mapping, limits }) as Conversion;
};
const deploy = {
  specversion: '1.0',
  id: 'e-1',
  source: '/ci/pipeline',
  type: 'deploy',
  subject: 'checkout/pod-1',
  time: new Date(now - 1000).toISOString(),
  data: { message: 'deployed v42', version: 'v42' },
};

describe('cloudevents source', () => {
  it('reads binary mode: attributes from ce- headers, the body is the data', () => {
    const out = convert(
      {
        'content-type': 'application/json',
        'ce-specversion': '1.0',
        'ce-id': 'e-1',
        'ce-source': '/ci/pipeline',
        'ce-type': 'deploy',
        'ce-subject': 'checkout%2Fpod-1',
        'ce-time': deploy.time,
        'ce-team': 'payments',
      },
      deploy.data,
    );
    assert.deepEqual(out.events, [
      {
        entity: 'checkout/pod-1',
        kind: 'deploy',
        message: 'deployed v42',
        ts: now - 1000,
        attrs: {
          id: 'e-1',
          source: '/ci/pipeline',
          type: 'deploy',
          subject: 'checkout/pod-1',
          team: 'payments',
        },
      },
    ]);
  });

  it('reads structured mode and batches the same; the mapping builds the entity from data fields and renames types', () => {
    const structured = convert({ 'content-type': 'application/cloudevents+json; charset=utf-8' }, deploy);
    assert.equal(structured.events[0]!.entity, 'checkout/pod-1');
    assert.equal(structured.events[0]!.message, 'deployed v42');
    const mapping = Mapping.of({
      entity: '{{data.service}}/{{data.pod}}',
      metrics: { 'com.example.rollout': 'deploy' },
    });
    const batch = convert(
      { 'content-type': 'application/cloudevents-batch+json' },
      [
        {
          ...deploy,
          type: 'com.example.rollout',
          data: { service: 'cart', pod: 'p2', message: 'rolled out' },
        },
        { ...deploy, id: 'e-2', type: 'com.example.Other', time: undefined, data: 'plain text' },
      ],
      mapping,
    );
    assert.deepEqual(
      batch.events.map((e) => [e.entity, e.kind, e.message]),
      [['cart/p2', 'deploy', 'rolled out']],
    );
    assert.equal(batch.refused[0]!.reason, 'no_entity');
  });

  it('refuses a request that is no CloudEvent 1.0, naming what is missing', () => {
    const refusal = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        return `${(err as { status: number }).status} ${(err as Error).message}`;
      }
      return 'accepted';
    };
    assert.match(
      refusal(() => convert({ 'content-type': 'application/json' }, {})),
      /^400 not a CloudEvent: send ce-specversion/,
    );
    assert.match(
      refusal(() =>
        convert({ 'content-type': 'application/cloudevents+json' }, { ...deploy, specversion: '0.3' }),
      ),
      /^400 specversion is "0\.3"; this endpoint reads CloudEvents 1\.0/,
    );
    assert.match(
      refusal(() =>
        convert({ 'content-type': 'application/cloudevents+json' }, { specversion: '1.0', type: 'x' }),
      ),
      /^400 the CloudEvent lacks id, source/,
    );
    assert.match(
      refusal(() => convert({ 'content-type': 'application/cloudevents+json' }, '{"trunc')),
      /^400 the body is not valid JSON/,
    );
  });

  it('refuses an event from the future and one with an unreadable time', () => {
    const out = convert({ 'content-type': 'application/cloudevents-batch+json' }, [
      { ...deploy, time: new Date(now + 3_600_000).toISOString() },
      { ...deploy, time: 'yesterday' },
    ]);
    assert.deepEqual(out.events, []);
    assert.deepEqual(
      out.refused.map((r) => r.reason),
      ['clock_skew', 'schema'],
    );
  });
});

/** remote-write's hand-written decoder reads what protobufjs reads, and refuses what it refuses. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import protobuf from 'protobufjs';
import { decodeWriteRequest, encodeWriteRequest, int64 } from '../../services/ingest/proto/remote-write.js';
import { seededRandom as random } from '../../services/classifier/seeded-random.js';

// prompb's messages with the fields of later versions ingest skips (metadata, exemplars, histograms).
const root = protobuf.parse(
  `syntax = "proto3";
  message WriteRequest { repeated TimeSeries timeseries = 1; repeated Meta metadata = 3; }
  message Meta { int32 type = 1; string family = 2; string help = 4; }
  message TimeSeries { repeated Label labels = 1; repeated Sample samples = 2; repeated Exemplar exemplars = 3; fixed32 extra = 9; }
  message Exemplar { repeated Label labels = 1; double value = 2; int64 timestamp = 3; }
  message Label { string name = 1; string value = 2; }
  message Sample { double value = 1; int64 timestamp = 2; sfixed64 later = 7; }`,
  { keepCase: true },
).root;
const Full = root.lookupType('WriteRequest');

/** protobufjs's reading of the four messages ingest knows, timestamps as numbers. */
function reference(body: Uint8Array) {
  const m = Full.toObject(Full.decode(body), { defaults: true }) as {
    timeseries: Array<{
      labels: Array<{ name: string; value: string }>;
      samples: Array<{ value: number; timestamp: unknown }>;
    }>;
  };
  return {
    timeseries: m.timeseries.map((t) => ({
      labels: t.labels.map((l) => ({ name: l.name, value: l.value })),
      samples: t.samples.map((s) => ({ value: s.value, timestamp: int64(s.timestamp as number) })),
    })),
  };
}

const rand = random(20);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
const text = () =>
  Array.from({ length: pick([0, 1, 3, 12, 130]) }, () => pick(['a', 'Z', '_', 'é', '€', '😀', '/'])).join('');
const label = () => ({ name: pick(['__name__', 'namespace', 'pod', text()]), value: text() });
const timestamp = () =>
  pick([0, 1, 1_800_000_000_000, -1, -1_800_000_000_000, 2 ** 31, 2 ** 32 + 5, 2 ** 53 - 1, -(2 ** 53) + 1]);
const value = () => pick([0, -0, 1.5, -2.25e300, NaN, Infinity, -Infinity, 5e-324, 41]);

function randomRequest() {
  return {
    timeseries: Array.from({ length: pick([0, 1, 2, 7]) }, () => ({
      labels: Array.from({ length: pick([0, 1, 3, 5]) }, label),
      samples: Array.from({ length: pick([0, 1, 2, 4]) }, () => ({
        value: value(),
        timestamp: timestamp(),
        ...(rand() < 0.2 ? { later: 12345 } : {}),
      })),
      ...(rand() < 0.3
        ? { exemplars: [{ labels: [label()], value: value(), timestamp: timestamp() }], extra: 7 }
        : {}),
    })),
    ...(rand() < 0.3 ? { metadata: [{ type: 3, family: text(), help: text() }] } : {}),
  };
}

describe('remote-write decoder', () => {
  it('reads every series, label and sample protobufjs reads, skipping the fields of later versions', () => {
    for (let i = 0; i < 300; i++) {
      const body = Full.encode(Full.fromObject(randomRequest())).finish();
      assert.deepEqual(decodeWriteRequest(body), reference(body), `request ${i}`);
    }
    const body = encodeWriteRequest({
      timeseries: [{ labels: [{ name: '__name__', value: 'cpu' }], samples: [{ value: 2, timestamp: 3 }] }],
    });
    assert.deepEqual(decodeWriteRequest(Buffer.from(body)), {
      timeseries: [{ labels: [{ name: '__name__', value: 'cpu' }], samples: [{ value: 2, timestamp: 3 }] }],
    });
  });

  it('refuses a body cut anywhere protobufjs refuses it, and reads the same where a cut still parses', () => {
    for (let i = 0; i < 30; i++) {
      const body = Full.encode(Full.fromObject(randomRequest())).finish();
      for (let cut = 0; cut < body.length; cut++) {
        const part = body.subarray(0, cut);
        let theirs: unknown;
        try {
          theirs = reference(part);
        } catch {
          theirs = 'refused';
        }
        let ours: unknown;
        try {
          ours = decodeWriteRequest(part);
        } catch {
          ours = 'refused';
        }
        assert.deepEqual(ours, theirs, `request ${i} cut at ${cut} of ${body.length}`);
      }
    }
  });

  it('refuses a string that is not UTF-8, a bad wire type and an over-long varint', () => {
    const label = Buffer.from([0x0a, 0x04, 0xc3, 0x28, 0x41, 0x42]); // name: an invalid 2-byte sequence
    const series = Buffer.concat([Buffer.from([0x0a, label.length]), label]);
    const body = Buffer.concat([Buffer.from([0x0a, series.length]), series]);
    assert.throws(() => reference(body));
    assert.throws(() => decodeWriteRequest(body), /invalid UTF-8/);
    assert.throws(() => decodeWriteRequest(Buffer.from([0x0f, 0x00])), /invalid wire type 7/);
    assert.throws(
      () => decodeWriteRequest(Buffer.from([0x08, ...Array(10).fill(0xff), 0x01])),
      /invalid varint/,
    );
  });
});

/** ingest's snappy block decoder reads what the native snappy writes, and refuses broken blocks. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import snappy from 'snappy';
import { encodeWriteRequest } from '../../services/ingest/proto/remote-write.js';
import { uncompressSnappyBlock } from '../../services/ingest/snappy-block.js';
import { seededRandom as random } from '../../services/classifier/seeded-random.js';

/** Bytes with runs, repeats and noise, so the encoder writes literals of every length and copies of every kind. */
function sample(next: () => number): Buffer {
  const size = Math.floor(next() * 200_000);
  const parts: Buffer[] = [];
  let length = 0;
  while (length < size) {
    const kind = next();
    const n = 1 + Math.floor(next() * (kind < 0.1 ? 70_000 : 300));
    const part =
      kind < 0.4
        ? Buffer.from(Array.from({ length: n }, () => Math.floor(next() * 256)))
        : kind < 0.7 && parts.length > 0
          ? parts[Math.floor(next() * parts.length)]!
          : Buffer.alloc(n, Math.floor(next() * 4));
    parts.push(part);
    length += part.length;
  }
  return Buffer.concat(parts);
}

describe('uncompressSnappyBlock', () => {
  it('decodes what the native snappy compresses: 200 random inputs and a remote-write body', () => {
    const next = random(20);
    for (let i = 0; i < 200; i++) {
      const data = sample(next);
      assert.deepEqual(uncompressSnappyBlock(snappy.compressSync(data), 1 << 30), data, `input ${i}`);
    }
    const body = Buffer.from(
      encodeWriteRequest({
        timeseries: Array.from({ length: 2000 }, (_, e) => ({
          labels: [
            { name: '__name__', value: 'cpu' },
            { name: 'pod', value: `pod-${e}` },
          ],
          samples: [{ value: e / 7, timestamp: 1_700_000_000_000 + e }],
        })),
      }),
    );
    assert.deepEqual(uncompressSnappyBlock(snappy.compressSync(body), 1 << 30), body);
    assert.deepEqual(uncompressSnappyBlock(snappy.compressSync(Buffer.alloc(0)), 10), Buffer.alloc(0));
  });

  it('refuses every truncation of a block', () => {
    const next = random(7);
    for (let i = 0; i < 5; i++) {
      const block = snappy.compressSync(sample(next).subarray(0, 3000));
      for (let cut = 0; cut < block.length; cut++)
        assert.throws(() => uncompressSnappyBlock(block.subarray(0, cut), 1 << 30), Error, `cut at ${cut}`);
    }
  });

  it('refuses a length over the limit before decoding, a copy before the start, and bytes past the length', () => {
    const block = snappy.compressSync(Buffer.alloc(1000, 1));
    assert.throws(() => uncompressSnappyBlock(block, 999), /decodes to 1000 bytes, over 999/);
    // Length 4, then a copy (tag 1) of 4 bytes at offset 1 with nothing written yet.
    assert.throws(() => uncompressSnappyBlock(Buffer.from([4, 0x01, 0x01]), 100), /before the start/);
    // Length 1, then a 2-byte literal.
    assert.throws(
      () => uncompressSnappyBlock(Buffer.from([1, 0x04, 0x61, 0x62]), 100),
      /more than its length/,
    );
    // A length header of six continuation bytes.
    assert.throws(() => uncompressSnappyBlock(Buffer.alloc(6, 0xff), 100), /length header/);
  });
});

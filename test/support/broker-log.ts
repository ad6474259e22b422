/**
 * The local broker's log segments, read and written behind its back: to see which codec a
 * producer's batch was stored with, and to corrupt a stored batch the way a bad disk would (the
 * broker checks batches when they are produced, never when it serves them, so this is the only
 * way such bytes reach a consumer). Works on the broker `autoglm infra up` runs on this machine.
 */
import fs from 'node:fs';
import path from 'node:path';
import { autoglmHome } from '../../infra/paths.js';

/** Where one stored record batch (v2) sits in a segment file, and what its header says. */
export interface StoredBatch {
  readonly file: string;
  /** Byte position of the batch in the file. */
  readonly position: number;
  readonly firstOffset: bigint;
  readonly lastOffset: bigint;
  readonly records: number;
  /** The compression codec id of its attributes (1 gzip, 2 snappy, 3 lz4, 4 zstd). */
  readonly codecId: number;
}

/** Bytes of a batch header before its records: where a compressed payload starts. */
export const BATCH_HEADER_BYTES = 61;

function partitionDir(topic: string, partition: number): string {
  const dir = path.join(autoglmHome(), 'data', 'kafka', 'log', `${topic}-${partition}`);
  if (!fs.existsSync(dir))
    throw new Error(
      `${dir} does not exist: this test reads the local broker's log files (autoglm infra up), ` +
        'not an external or containerised one',
    );
  return dir;
}

/** The batches stored for one partition, in offset order. */
export function storedBatches(topic: string, partition: number): StoredBatch[] {
  const dir = partitionDir(topic, partition);
  const out: StoredBatch[] = [];
  for (const name of fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.log'))
    .sort()) {
    const file = path.join(dir, name);
    const data = fs.readFileSync(file);
    for (let at = 0; at + BATCH_HEADER_BYTES <= data.length;) {
      const length = data.readInt32BE(at + 8);
      if (length <= 0) break;
      const firstOffset = data.readBigInt64BE(at);
      out.push({
        file,
        position: at,
        firstOffset,
        lastOffset: firstOffset + BigInt(data.readInt32BE(at + 23)),
        records: data.readInt32BE(at + 57),
        codecId: data.readInt16BE(at + 21) & 7,
      });
      at += 12 + length;
    }
  }
  return out;
}

/** Overwrites bytes of a stored batch in place, `offset` bytes from its start. */
export function overwriteStored(batch: StoredBatch, offset: number, bytes: Buffer): void {
  const fd = fs.openSync(batch.file, 'r+');
  try {
    fs.writeSync(fd, bytes, 0, bytes.length, batch.position + offset);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The stored batches holding exactly the records `first`..`last` of one produce: one batch as a
 * rule, more when the producer split them (librdkafka sends what has lingered long enough; seen once
 * as 1 + 11 on a loaded machine). Throws, with the partition's layout, when they do not tile the range.
 */
export function batchesOf(stored: readonly StoredBatch[], first: bigint, last: bigint): StoredBatch[] {
  const parts = stored.filter((b) => b.firstOffset >= first && b.lastOffset <= last);
  const tiled = parts.every((b, i) => b.firstOffset === (i === 0 ? first : parts[i - 1]!.lastOffset + 1n));
  if (parts.length === 0 || !tiled || parts.at(-1)!.lastOffset !== last)
    throw new Error(
      `records ${first}-${last} are not stored as whole batches: ${stored.map((b) => `${b.firstOffset}-${b.lastOffset}`).join(' ')}`,
    );
  return parts;
}

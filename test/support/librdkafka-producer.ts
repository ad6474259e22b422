/**
 * A producer that is not kafkajs: librdkafka through Python's confluent-kafka, in a private venv
 * installed on first use (infra/python-tools.ts). Each batch goes with its own `compression.type`,
 * as one compressed record batch, the way Vector, Telegraf or a Go service would send it.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensurePythonTool, LIBRDKAFKA_PRODUCER } from '../../infra/python-tools.js';

const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'librdkafka-produce.py');

/** The codecs `compression.type` names. */
export type Compression = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';

/** Records sent as one batch with one codec; objects are sent as JSON. */
export interface LibrdkafkaBatch {
  readonly compression: Compression;
  /** A fixed partition (default: librdkafka's partitioner on the key). */
  readonly partition?: number;
  readonly records: ReadonlyArray<{ key: string; value: unknown }>;
}

/** Installs the producer's venv if needed; returns its interpreter (slow the first time only). */
export function ensureLibrdkafka(): Promise<string> {
  return ensurePythonTool(LIBRDKAFKA_PRODUCER);
}

/**
 * Produces the batches in order, each acknowledged by all in-sync replicas before the next;
 * returns the first and last offset of each.
 */
export async function produceWithLibrdkafka(
  brokers: readonly string[],
  topic: string,
  batches: readonly LibrdkafkaBatch[],
): Promise<Array<{ first: bigint; last: bigint }>> {
  const python = await ensureLibrdkafka();
  const spec = {
    brokers: brokers.join(','),
    topic,
    batches: batches.map((b) => ({
      compression: b.compression,
      ...(b.partition !== undefined ? { partition: b.partition } : {}),
      records: b.records.map((r) => ({
        key: r.key,
        value: typeof r.value === 'string' ? r.value : JSON.stringify(r.value),
      })),
    })),
  };
  const child = spawn(python, [SCRIPT], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c) => resolve(c ?? 1));
    child.stdin.end(JSON.stringify(spec));
  });
  if (code !== 0) throw new Error(`librdkafka producer exited with ${code}: ${err.trim().slice(-2000)}`);
  return (JSON.parse(out) as Array<[number, number]>).map(([first, last]) => ({
    first: BigInt(first),
    last: BigInt(last),
  }));
}

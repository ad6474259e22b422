import type { Kafka } from 'kafkajs';
import { parseDuration } from '../common/duration.js';
import { readPartitions } from '../common/kafka-read.js';
import { parseTimestamp } from './recording.js';

/** A time range of the topics: records written at or after `from` and before `to` (epoch ms). */
export interface TopicRange {
  readonly from: number;
  /** Absent: up to the end of each partition when the read begins. */
  readonly to?: number;
}

/** Limits of one recording read (the command's --max-messages and --timeout). */
export interface RecordLimits {
  readonly maxMessages: number;
  readonly timeoutMs: number;
}

/** What one topic's read gave. */
export interface TopicRead {
  readonly topic: string;
  /** Records written to the recording. */
  readonly written: number;
  /** Records that were not a JSON object (counted, not written), and empty (tombstone) records. */
  readonly skipped: number;
  /** False when a limit (time, or the most records) stopped the read before the range's end. */
  readonly complete: boolean;
}

/**
 * A point in time given as an ISO-8601 time with a zone, epoch milliseconds, or a duration ago
 * (`2h`, `1d12h`) counted back from `now`; undefined when it is none of these.
 */
export function parseTimePoint(text: string, now: number): number | undefined {
  const ago = parseDuration(text);
  if (ago !== undefined) return now - ago;
  return parseTimestamp(text);
}

/**
 * Reads the records of `topics` written in `range` (by the records' own Kafka timestamps): each
 * partition from the offset the broker gives for `from` (ListOffsets by timestamp) to the one it
 * gives for `to`, or to its end when the read begins, and hands each record's value to `onLine`
 * as one line of JSON (re-serialised, so a pretty-printed record stays one line), in the topic's
 * own shape. Uses a consumer group of its own that commits nothing and is deleted afterwards.
 */
export async function readTopicRange(
  kafka: Kafka,
  topics: readonly string[],
  range: TopicRange,
  onLine: (line: string) => void,
  limits: RecordLimits,
  groupPrefix: string,
): Promise<TopicRead[]> {
  const reads: TopicRead[] = [];
  const started = Date.now();
  let budget = limits.maxMessages;
  for (const topic of topics) {
    const admin = kafka.admin();
    await admin.connect();
    let starts: Map<number, bigint>;
    let ends: Map<number, bigint>;
    try {
      const offsetsAt = async (ms: number) =>
        new Map(
          (await admin.fetchTopicOffsetsByTimestamp(topic, ms)).map((p) => [p.partition, BigInt(p.offset)]),
        );
      starts = await offsetsAt(range.from);
      ends =
        range.to !== undefined
          ? await offsetsAt(range.to)
          : new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, BigInt(p.high)]));
    } finally {
      await admin.disconnect();
    }
    // A partition whose range is empty is not read at all.
    const from = new Map([...starts].filter(([p, start]) => start < (ends.get(p) ?? 0n)));
    let written = 0;
    let skipped = 0;
    let dropped = 0;
    const last = new Map<number, bigint>();
    await readPartitions(
      kafka,
      topic,
      from,
      (partition, message) => {
        const offset = BigInt(message.offset);
        last.set(partition, offset);
        if (offset >= (ends.get(partition) ?? 0n)) return;
        if (written + skipped >= budget) {
          dropped++;
          return;
        }
        let value: unknown;
        try {
          value = message.value ? JSON.parse(message.value.toString('utf8')) : undefined;
        } catch {
          value = undefined;
        }
        if (value === null || typeof value !== 'object' || Array.isArray(value)) skipped++;
        else {
          onLine(JSON.stringify(value));
          written++;
        }
      },
      // The read goes on to each partition's end (records past `to` are passed over), bounded by time.
      {
        maxMessages: Number.MAX_SAFE_INTEGER,
        timeoutMs: Math.max(1, limits.timeoutMs - (Date.now() - started)),
      },
      groupPrefix,
    );
    const reachedEnds = [...from].every(([p]) => (last.get(p) ?? -1n) + 1n >= (ends.get(p) ?? 0n));
    reads.push({ topic, written, skipped, complete: reachedEnds && dropped === 0 });
    budget -= written + skipped;
  }
  return reads;
}

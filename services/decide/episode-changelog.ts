import type { Kafka, Message } from 'kafkajs';
import { parsePairKey, readPartitions, type BoundedReadLimits } from '../common/kafka-read.js';
import {
  episodeStateSchema,
  type EpisodeChange,
  type EpisodeOutput,
  type EpisodeTracker,
} from './episodes.js';

/**
 * Kafka edge of the episodes: a compacted changelog topic partitioned like the observations (an
 * episode's record goes to the partition its entity's observations come from), keyed by
 * `["entity","rule"]`, with the episode's state as JSON (an ended episode keeps its record, with
 * its start, decision window and end, until idle) and a tombstone (null) when it is forgotten.
 * decide writes a batch's records before it commits the batch's offsets, and reads a partition's
 * records back before it decides the partition's first batch after an assignment.
 */

/** The changelog key of an episode. */
export function episodeKey(entity: string, rule: string): string {
  return JSON.stringify([entity, rule]);
}

/** The records of a batch's changes, the newest per key, each to its partition. */
export function episodeMessages(changes: readonly EpisodeChange[]): Message[] {
  const newest = new Map<string, EpisodeChange>();
  for (const c of changes) {
    const key = episodeKey(c.entity, c.rule);
    newest.delete(key);
    newest.set(key, c);
  }
  return [...newest].map(([key, c]) => ({
    key,
    value: c.state === null ? null : JSON.stringify(c.state),
    partition: c.partition,
  }));
}

/** What a restore did: episodes put back, records refused (with the first reasons), completeness. */
export interface EpisodeRestore {
  readonly restored: number;
  readonly refused: number;
  readonly reasons: string[];
  readonly messages: number;
  readonly complete: boolean;
}

/**
 * Reads changelog partition `partition` from its oldest record to its end as of now into
 * `tracker` (later records of a key win; a tombstone forgets it). A record that is not an episode
 * is refused and counted. Keys evicted to stay within the tracker's bound go to `out` (tombstones).
 */
export async function restoreEpisodes(
  kafka: Kafka,
  topic: string,
  partition: number,
  tracker: EpisodeTracker,
  out: EpisodeOutput,
  limits: BoundedReadLimits,
  groupPrefix: string,
): Promise<EpisodeRestore> {
  let refused = 0;
  const reasons: string[] = [];
  const live = new Set<string>();
  const refuse = (why: string) => {
    refused++;
    if (reasons.length < 5) reasons.push(why);
  };
  const read = await readPartitions(
    kafka,
    topic,
    new Map([[partition, 'earliest' as const]]),
    (p, message) => {
      const key = parseKey(message.key);
      if (key === undefined) return refuse(`offset ${message.offset}: key is not ["entity","rule"]`);
      const id = episodeKey(key.entity, key.rule);
      if (message.value === null) {
        tracker.drop(key.entity, key.rule);
        live.delete(id);
        return;
      }
      let json: unknown;
      try {
        json = JSON.parse(message.value.toString('utf8'));
      } catch {
        json = undefined;
      }
      const parsed = episodeStateSchema.safeParse(json);
      if (!parsed.success || parsed.data.entity !== key.entity || parsed.data.rule !== key.rule) {
        tracker.drop(key.entity, key.rule);
        live.delete(id);
        return refuse(`offset ${message.offset} ${id}: not an episode of this key`);
      }
      tracker.restore({ ...parsed.data, partition: p }, out);
      live.add(id);
    },
    limits,
    `${groupPrefix}-decide-restore`,
  );
  return { restored: live.size, refused, reasons, messages: read.messages, complete: read.complete };
}

function parseKey(key: Buffer | null): { entity: string; rule: string } | undefined {
  const pair = parsePairKey(key);
  return pair && { entity: pair[0], rule: pair[1] };
}

import type { Kafka, Message, Producer } from 'kafkajs';
import { parsePairKey, readPartitions, type BoundedReadLimits } from '../common/kafka-read.js';
import type { BaselineCheckpoint, BaselineStore } from './baseline.js';

/**
 * Kafka edge of the baselines: a compacted changelog topic, partitioned like the metrics topic
 * (a state's record goes to the partition its samples come from), keyed by `["entity","metric"]`,
 * with the state's bytes as the value and a tombstone (null) when the state is forgotten. The
 * process that takes a metrics partition over reads that changelog partition back before it
 * handles the partition's samples.
 */

/** Records per produce request: ~330 bytes each, well under the broker's 1 MB. */
const RECORDS_PER_SEND = 2000;

/** The changelog key of a state. */
export function baselineKey(entity: string, metric: string): string {
  return JSON.stringify([entity, metric]);
}

/** The entity and metric of a changelog key; undefined for a key that is not one. */
export function parseBaselineKey(key: Buffer | null): { entity: string; metric: string } | undefined {
  const pair = parsePairKey(key);
  return pair && { entity: pair[0], metric: pair[1] };
}

/** Writes checkpoints and tombstones, each to its partition; resolves once all are acknowledged. */
export async function sendBaselineCheckpoints(
  producer: Producer,
  topic: string,
  checkpoints: readonly BaselineCheckpoint[],
): Promise<void> {
  for (let i = 0; i < checkpoints.length; i += RECORDS_PER_SEND) {
    const messages: Message[] = checkpoints.slice(i, i + RECORDS_PER_SEND).map((c) => ({
      key: baselineKey(c.entity, c.metric),
      value: c.value ?? null,
      partition: c.partition,
    }));
    await producer.send({ topic, messages });
  }
}

/** What a restore did: states put back, records refused (with the first reasons), completeness. */
export interface BaselineRestore {
  readonly restored: number;
  readonly forgotten: number;
  readonly refused: number;
  readonly reasons: string[];
  readonly messages: number;
  readonly complete: boolean;
}

/**
 * Reads changelog partition `partition` from its oldest record to its end as of now into `store`
 * (later records of a key win; a tombstone forgets the state). A record that is not a state is
 * refused and counted: that state is learned again from the samples.
 */
export async function restoreBaselines(
  kafka: Kafka,
  topic: string,
  partition: number,
  store: BaselineStore,
  limits: BoundedReadLimits,
  groupPrefix: string,
): Promise<BaselineRestore> {
  let forgotten = 0;
  let refused = 0;
  const reasons: string[] = [];
  const live = new Set<string>();
  const read = await readPartitions(
    kafka,
    topic,
    new Map([[partition, 'earliest' as const]]),
    (p, message) => {
      const key = parseBaselineKey(message.key);
      if (key === undefined) {
        refused++;
        if (reasons.length < 5) reasons.push(`offset ${message.offset}: key is not ["entity","metric"]`);
        return;
      }
      const id = message.key!.toString('utf8');
      if (message.value === null) {
        if (store.drop(key.entity, key.metric)) forgotten++;
        live.delete(id);
        return;
      }
      const problem = store.restore(key.entity, key.metric, message.value, p);
      if (problem === undefined) live.add(id);
      else {
        live.delete(id);
        store.drop(key.entity, key.metric);
        refused++;
        if (reasons.length < 5) reasons.push(`offset ${message.offset} ${id}: ${problem}`);
      }
    },
    limits,
    `${groupPrefix}-sense-restore`,
  );
  return {
    restored: live.size,
    forgotten,
    refused,
    reasons,
    messages: read.messages,
    complete: read.complete,
  };
}

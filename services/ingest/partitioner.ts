/**
 * kafkajs's default partitioner with each key's hash remembered: a record keyed by entity goes to
 * murmur2(key) mod partitions, as every other writer of the topic puts it (sense reads an entity's
 * samples in order from one partition). kafkajs hashes each record's key anew through 64-bit Long
 * objects, ~9% of ingest's CPU at full rate, for the same few thousand entities over and over.
 */
import { createRequire } from 'node:module';
import { Partitioners, type ICustomPartitioner } from 'kafkajs';

const require = createRequire(import.meta.url);
const murmur2 = require('kafkajs/src/producer/partitioners/default/murmur2.js') as (key: string) => number;

/** Most keys remembered; past it the memory starts over (the hash is only recomputed). */
const MAX_KEYS = 100_000;

/** The DefaultPartitioner (Java's murmur2) remembering the hash of each string key. */
export const CachedDefaultPartitioner: ICustomPartitioner = () => {
  const fallback = Partitioners.DefaultPartitioner();
  const hashes = new Map<string, number>();
  return (args) => {
    const { message, partitionMetadata } = args;
    const key = message.key;
    if ((message.partition !== null && message.partition !== undefined) || typeof key !== 'string')
      return fallback(args);
    let hash = hashes.get(key);
    if (hash === undefined) {
      if (hashes.size >= MAX_KEYS) hashes.clear();
      hash = murmur2(key) & 0x7fffffff;
      hashes.set(key, hash);
    }
    return hash % partitionMetadata.length;
  };
};

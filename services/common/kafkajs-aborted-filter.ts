/**
 * read_committed that holds when transactions abort out of order.
 *
 * A read_committed fetch answers with the records up to the last stable offset plus the list of
 * aborted transactions in that range (producer id, first offset), which the reader must skip up to
 * each one's abort marker. The broker lists them in the order they were aborted, not the order they
 * began; kafkajs 2.2.4 (`consumer/filterAbortedMessages.js`) assumes the order they began and starts
 * at most one per record, so when two producers' transactions overlap on a partition and the later
 * one aborts first (two ingest producers given up in one Kafka outage; any two transactional writers
 * of another client), records of the earlier aborted transaction reach the reader: sense counted
 * samples the writer had answered 503 for, and the sender sent again (test/e2e/ingest-outage).
 *
 * kafkajs takes that function with `require` when it loads, so ours is put in its place in Node's
 * module cache before kafkajs is first loaded: this module is imported first by the CLI, the test
 * runner and `services/common/kafka.ts`, and `checkAbortedFilter` (run by createKafka) refuses to go
 * on if kafkajs was loaded before it.
 */
import Module, { createRequire } from 'node:module';
// Also before kafkajs loads: the cheaper encoder of the records it produces (same bytes).
import './kafkajs-record-encoder.js';

/** A record as kafkajs decodes it (the fields this filter reads). */
export interface FetchedRecord {
  readonly offset: string;
  readonly key?: Buffer | null;
  readonly isControlRecord?: boolean;
  readonly batchContext: { readonly producerId: unknown; readonly inTransaction: boolean };
}

/** One aborted transaction of a read_committed fetch answer. */
export interface AbortedTransaction {
  readonly producerId: unknown;
  readonly firstOffset: unknown;
}

/** A control record's key: version (int16) then type (int16), 0 = abort, 1 = commit. */
function isAbortMarker(record: FetchedRecord): boolean {
  const key = record.key;
  return record.isControlRecord === true && !!key && key.length >= 4 && key.readInt16BE(2) === 0;
}

/**
 * The records of a fetch answer that are not in an aborted transaction (control records are kept:
 * kafkajs drops them after). A producer's transactional records are skipped from the first offset of
 * each of its aborted transactions up to its abort marker, whatever order the transactions are listed in.
 */
export function filterAbortedRecords<R extends FetchedRecord>({
  messages,
  abortedTransactions,
}: {
  messages: R[];
  abortedTransactions?: readonly AbortedTransaction[] | null;
}): R[] {
  // Every fetch passes here: without aborted transactions (the common case) nothing is copied.
  if (!abortedTransactions || abortedTransactions.length === 0) return messages;
  const pending = abortedTransactions
    .map((t) => ({ producerId: String(t.producerId), firstOffset: BigInt(String(t.firstOffset)) }))
    .sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0));
  let next = 0;
  const aborting = new Set<string>();
  return messages.filter((record) => {
    const offset = BigInt(record.offset);
    // Every aborted transaction that has begun by this offset, not only the first in the list.
    while (next < pending.length && pending[next]!.firstOffset <= offset)
      aborting.add(pending[next++]!.producerId);
    const producerId = String(record.batchContext.producerId);
    if (isAbortMarker(record)) {
      aborting.delete(producerId);
      return true;
    }
    return !(record.batchContext.inTransaction && aborting.has(producerId));
  });
}

const require = createRequire(import.meta.url);
const FILTER_PATH = require.resolve('kafkajs/src/consumer/filterAbortedMessages.js');
const BATCH_PATH = require.resolve('kafkajs/src/consumer/batch.js');

/** Puts filterAbortedRecords where kafkajs will `require` its own, unless kafkajs is loaded already. */
function install(): boolean {
  if (require.cache[BATCH_PATH]) return require.cache[FILTER_PATH]?.exports === filterAbortedRecords;
  const replacement = new Module(FILTER_PATH);
  replacement.filename = FILTER_PATH;
  replacement.loaded = true;
  replacement.exports = filterAbortedRecords;
  require.cache[FILTER_PATH] = replacement;
  return true;
}

const installed = install();
/** Set once the check below passed: createKafka runs it for every client it makes. */
let checked = false;

/**
 * Throws if kafkajs reads with its own filter (it was loaded before this module): the fix names
 * what to import first. Checked on kafkajs's real Batch with two transactions aborted out of order.
 */
export function checkAbortedFilter(): void {
  if (checked) return;
  const Batch = require(BATCH_PATH) as new (
    topic: string,
    fetchedOffset: string,
    partitionData: object,
  ) => { messages: Array<{ offset: string }> };
  const record = (offset: number, producerId: string, control?: 'abort') => ({
    offset: String(offset),
    key: control ? Buffer.from([0, 0, 0, 0]) : Buffer.from('k'),
    value: Buffer.from('v'),
    isControlRecord: control !== undefined,
    batchContext: { producerId, inTransaction: true },
  });
  const batch = new Batch('check', '0', {
    partition: 0,
    highWatermark: '5',
    // Transaction of 1 begins at 0, of 2 at 1; 2 aborts first, so the broker lists it first.
    abortedTransactions: [
      { producerId: '2', firstOffset: '1' },
      { producerId: '1', firstOffset: '0' },
    ],
    messages: [record(0, '1'), record(1, '2'), record(2, '2', 'abort'), record(3, '1', 'abort')],
  });
  if (!installed || batch.messages.length !== 0) {
    throw new Error(
      'kafkajs was loaded before services/common/kafkajs-aborted-filter.ts, so read_committed readers ' +
        "would see records of transactions aborted out of order: import that module first (before 'kafkajs' " +
        'and anything that imports it) in this entry point',
    );
  }
  checked = true;
}

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  checkAbortedFilter,
  filterAbortedRecords,
  type FetchedRecord,
} from '../../services/common/kafkajs-aborted-filter.js';

/** A transactional record of `producer` at `offset`, or its abort / commit marker. */
function rec(offset: number, producer: string, control?: 'abort' | 'commit', inTransaction = true) {
  return {
    offset: String(offset),
    key: control ? Buffer.from([0, 0, 0, control === 'abort' ? 0 : 1]) : Buffer.from(`k${offset}`),
    isControlRecord: control !== undefined,
    batchContext: { producerId: producer, inTransaction },
  } satisfies FetchedRecord;
}
const data = (records: FetchedRecord[]) =>
  records.filter((r) => !r.isControlRecord).map((r) => Number(r.offset));

describe('read_committed filter of aborted transactions', () => {
  it('skips both transactions when the later one aborted first (the broker lists them in abort order)', () => {
    const messages = [
      rec(0, 'A'),
      rec(1, 'B'),
      rec(2, 'A'),
      rec(3, 'B', 'abort'),
      rec(4, 'A', 'abort'),
      rec(5, 'C'),
    ];
    const kept = filterAbortedRecords({
      messages: [...messages, rec(6, 'C', 'commit')],
      abortedTransactions: [
        { producerId: 'B', firstOffset: '1' },
        { producerId: 'A', firstOffset: '0' },
      ],
    });
    assert.deepEqual(data(kept), [5]);
  });

  it('starts every aborted transaction begun by a record, not one per record (a fetch from mid-range)', () => {
    // The fetch starts at 5; A's transaction began at 1 and B's at 2, both still open at 5.
    const kept = filterAbortedRecords({
      messages: [rec(5, 'B'), rec(6, 'A'), rec(7, 'A', 'abort'), rec(8, 'B', 'abort'), rec(9, 'A')],
      abortedTransactions: [
        { producerId: 'A', firstOffset: '1' },
        { producerId: 'B', firstOffset: '2' },
      ],
    });
    assert.deepEqual(data(kept), [9]);
  });

  it('keeps committed transactions, records outside transactions and a producer after its abort marker', () => {
    const kept = filterAbortedRecords({
      messages: [
        rec(0, 'A'),
        rec(1, 'A', 'commit'),
        rec(2, 'A'),
        rec(3, 'X', undefined, false),
        rec(4, 'A', 'abort'),
        rec(5, 'A'),
        rec(6, 'A', 'commit'),
      ],
      abortedTransactions: [{ producerId: 'A', firstOffset: '2' }],
    });
    assert.deepEqual(data(kept), [0, 3, 5]);
  });

  it('is what kafkajs reads with in this process (its Batch drops transactions aborted out of order)', () => {
    // checkAbortedFilter builds kafkajs's own Batch over two transactions aborted out of order.
    assert.doesNotThrow(() => checkAbortedFilter());
  });
});

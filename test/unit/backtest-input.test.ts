import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { backtestCommand } from '../../cli/backtest-command.js';
import { LabelsError, parseLabels } from '../../services/backtest/labels.js';
import {
  parseTimestamp,
  readRecording,
  recordingFromCsv,
  recordingFromJsonLines,
  RecordingError,
} from '../../services/backtest/recording.js';
import { formatReport, scoreAgainstLabels } from '../../services/backtest/report.js';

const T = 1_700_000_000_000;
const sample = (entity: string, ts: number, value = 50) =>
  JSON.stringify({ entity, metric: 'cpu', value, ts });

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});
const tmpDir = (prefix: string) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  dirs.push(dir);
  return dir;
};

function tmpFile(name: string, text: string): string {
  const dir = tmpDir('backtest-');
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) }, out, err };
}

describe('backtest input', () => {
  it('counts malformed JSON lines by line number and replays the rest', () => {
    const r = recordingFromJsonLines(
      [
        sample('a', T),
        '{"entity": "a", "metric": "cpu", "ts": 1700000060000}',
        'not json',
        '',
        '{"entity": "a", "kind": "deploy", "message": "v2", "ts": 1700000030000}',
        '{"entity": "a", "hello": 1}',
        sample('a', T + 120_000),
      ].join('\n'),
      'rec.jsonl',
    );
    assert.equal(r.samples.length, 2);
    assert.equal(r.events.length, 1);
    assert.equal(r.lines, 6);
    assert.deepEqual(
      r.problems.map((p) => [p.file, p.line]),
      [
        ['rec.jsonl', 2],
        ['rec.jsonl', 3],
        ['rec.jsonl', 6],
      ],
    );
    assert.match(r.problems[0]!.message, /not a sample: value/);
    assert.match(r.problems[1]!.message, /not valid JSON/);
    assert.match(r.problems[2]!.message, /neither a sample .* nor an event/);
  });

  it('replays unsorted input in time order and says which line came first out of order', () => {
    const r = recordingFromJsonLines(
      [sample('a', T + 60_000), sample('b', T), sample('a', T), sample('a', T + 120_000)].join('\n'),
    );
    assert.deepEqual(r.outOfOrder, { count: 1, first: { file: '<input>', line: 3 } });
    assert.deepEqual(
      r.samples.map((s) => [s.entity, s.ts]),
      [
        ['b', T],
        ['a', T],
        ['a', T + 60_000],
        ['a', T + 120_000],
      ],
    );
  });

  it("reads NAB's CSV (UTC times, CRLF) with --entity and --metric; a bad row is reported by line", () => {
    const r = recordingFromCsv(
      'timestamp,value\r\n2014-04-10 00:04:00,1.5\r\n2014-04-10 00:09:00,x\r\nyesterday,3\r\n2014-04-10 00:14:00,2\r\n',
      { entity: 'host-1', metric: 'cpu' },
      'h.csv',
    );
    assert.deepEqual(
      r.samples.map((s) => [s.entity, s.metric, s.ts, s.value]),
      [
        ['host-1', 'cpu', Date.UTC(2014, 3, 10, 0, 4), 1.5],
        ['host-1', 'cpu', Date.UTC(2014, 3, 10, 0, 14), 2],
      ],
    );
    assert.deepEqual(
      r.problems.map((p) => p.line),
      [3, 4],
    );
    assert.match(r.problems[1]!.message, /timestamp "yesterday": use epoch milliseconds/);
    assert.throws(() => recordingFromCsv('timestamp,value\n', { entity: 'h' }), /pass --metric/);
    assert.throws(() => recordingFromCsv('time,v\n', { entity: 'h', metric: 'cpu' }), RecordingError);
    const cols = recordingFromCsv('timestamp,entity,metric,value\n1700000000000,web-1,mem,40\n', {});
    assert.deepEqual(cols.samples[0], { entity: 'web-1', metric: 'mem', value: 40, ts: T });
  });

  it('reads times without a zone as UTC (NAB), with a zone as given, and refuses other forms', () => {
    assert.equal(parseTimestamp('2014-07-15 04:35:00.000000'), Date.UTC(2014, 6, 15, 4, 35));
    assert.equal(parseTimestamp('2014-07-15T04:35:00+02:00'), Date.UTC(2014, 6, 15, 2, 35));
    assert.equal(parseTimestamp(String(T)), T);
    assert.equal(parseTimestamp('2014-07-15T04:35'), Date.UTC(2014, 6, 15, 4, 35));
    assert.equal(parseTimestamp('07/15/2014 04:35'), undefined);
    assert.equal(parseTimestamp('Tue, 15 Jul 2014 04:35:00'), undefined);
  });

  it('a folder of CSV files: the entity is each file name', () => {
    const dir = tmpDir('backtest-nab-');
    fs.mkdirSync(path.join(dir, 'sub'));
    fs.writeFileSync(path.join(dir, 'sub', 'host_a.csv'), 'timestamp,value\n2014-01-01 00:00:00,1\n');
    fs.writeFileSync(path.join(dir, 'host_b.csv'), 'timestamp,value\n2014-01-01 00:05:00,2\n');
    const r = readRecording([dir], { metric: 'cpu' });
    assert.deepEqual(r.samples.map((s) => s.entity).sort(), ['host_a', 'host_b']);
    assert.throws(() => readRecording([path.join(dir, 'missing.jsonl')]), /no such file or folder/);
  });

  it('an empty recording says so and exits 1', async () => {
    const empty = tmpFile('empty.jsonl', '\n\n');
    const c = capture();
    assert.equal(await backtestCommand([empty], c.io), 1);
    assert.match(c.err.join('\n'), /the recording is empty: no sample or event in .*empty\.jsonl/);
    const bad = tmpFile('bad.jsonl', 'nope\n');
    const d = capture();
    assert.equal(await backtestCommand([bad], d.io), 1);
    assert.match(d.err.join('\n'), /1 malformed lines, the first .*bad\.jsonl:1: not valid JSON/);
  });

  it('labels naming an entity the recording does not have say which (not scored)', () => {
    const labels = parseLabels(
      JSON.stringify({
        'realKnownCause/host_a.csv': [['2014-01-01 00:10:00.000000', '2014-01-01 00:20:00.000000']],
        ghost: [],
      }),
    );
    const rows = new Map([['host_a', [Date.UTC(2014, 0, 1), Date.UTC(2014, 0, 1, 0, 10)]]]);
    const score = scoreAgainstLabels([], rows, labels);
    assert.deepEqual(score.unknownEntities, ['ghost']);
    assert.equal(score.windows, 1);
    const text = formatReport({
      input: {
        files: [],
        lines: 0,
        samples: 0,
        events: 0,
        entities: 1,
        malformed: [],
        outOfOrder: { count: 0 },
      },
      replay: {
        observations: 0,
        seconds: 0,
        samplesPerSecond: 0,
        refused: {},
        late: 0,
        suppressedByCooldownGate: {},
        ruleFailures: {},
        stale: 0,
      },
      decisions: { total: 0, byRule: {}, byAction: {}, byEntity: {}, byDay: {} },
      guards: { shadow: 0, acted: 0, inFlight: 0, coolingDown: 0, deferred: 0, deniedByBudget: 0 },
      labels: score,
    });
    assert.match(text, /labels name entities not in the recording \(not scored\): ghost/);
  });

  it('refuses a labels file with bad windows, naming each', () => {
    assert.throws(
      () =>
        parseLabels(
          JSON.stringify({
            a: [[2, 1]],
            b: [['soon', 3]],
            c: [
              [1, 5],
              [4, 9],
            ],
            d: 'x',
          }),
          'w.json',
        ),
      (err: unknown) => {
        assert.ok(err instanceof LabelsError);
        assert.equal(err.problems.length, 4);
        assert.match(err.message, /^w\.json: "a"\[0\]: ends before it starts; "b"\[0\]: times must be/);
        assert.match(err.message, /"c": windows 0 and 1 overlap; "d": expected an array/);
        return true;
      },
    );
  });
});

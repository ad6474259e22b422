/**
 * `autoglm record` on the real broker: the records of the metrics and events topics written in
 * [--from, --to) (by their Kafka timestamps) become JSON lines in the topics' own shapes, one per
 * record (a pretty-printed record too), records that are not JSON objects are counted and left
 * out, and the file reads back as a recording; without --to it reads to the partitions' ends.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readRecording } from '../../services/backtest/recording.js';
import { topicNames } from '../../services/common/config.js';
import { connectProducer, createKafka, ensureTopics } from '../../services/common/kafka.js';
import { createLogger } from '../../services/common/logger.js';
import { backtestCommand } from '../../cli/backtest-command.js';
import { recordCommand } from '../../cli/record-command.js';
import { testConfig } from '../support/config.js';
import { deleteTopicsWithPrefix } from '../support/kafka.js';

const logger = createLogger('warn');

describe('autoglm record (real Kafka)', () => {
  const config = testConfig({ topicPartitions: '3' });
  const kafka = createKafka(config, logger);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'autoglm-record-'));
  const t0 = Date.now();
  const minute = 60_000;
  const sample = (entity: string, i: number, at: number) => ({ entity, metric: 'cpu', value: i, ts: at });
  // Record timestamps: 10 minutes ago (before), 5 to 2 minutes ago (in range), 1 minute ago (after).
  const before5 = [0, 1, 2, 3].map((i) => ({
    at: t0 - 10 * minute + i,
    value: sample(`web-${i % 3}`, i, t0 - 10 * minute),
  }));
  const inside = Array.from({ length: 12 }, (_, i) => ({
    at: t0 - 5 * minute + i * 10_000,
    value: sample(`web-${i % 3}`, 100 + i, t0 - 5 * minute + i * 10_000),
  }));
  const after1 = [0, 1, 2].map((i) => ({
    at: t0 - minute + i,
    value: sample(`web-${i}`, 200 + i, t0 - minute),
  }));
  const event = { entity: 'web-1', kind: 'deploy', message: 'v2', ts: t0 - 4 * minute };

  before(async () => {
    const topics = topicNames(config);
    await ensureTopics(kafka, Object.values(topics), config.topicPartitions);
    const producer = await connectProducer(kafka);
    try {
      const message = (r: { at: number; value: { entity: string } }, text = JSON.stringify(r.value)) => ({
        key: r.value.entity,
        value: text,
        timestamp: String(r.at),
      });
      await producer.send({
        topic: topics.metrics,
        acks: -1,
        messages: [
          ...before5.map((r) => message(r)),
          // In range: one pretty-printed over lines, and one that is not JSON.
          ...inside.map((r, i) => message(r, i === 3 ? JSON.stringify(r.value, null, 2) : undefined)),
          { key: 'web-0', value: 'not json', timestamp: String(t0 - 3 * minute) },
          ...after1.map((r) => message(r)),
        ],
      });
      await producer.send({
        topic: topics.events,
        acks: -1,
        messages: [
          { key: 'web-1', value: JSON.stringify(event), timestamp: String(event.ts) },
          {
            key: 'web-2',
            value: JSON.stringify({ ...event, entity: 'web-2' }),
            timestamp: String(t0 - 9 * minute),
          },
        ],
      });
    } finally {
      await producer.disconnect();
    }
  });

  after(async () => {
    await deleteTopicsWithPrefix(kafka, config.topicPrefix);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('writes the records of [--from, --to) as JSON lines in the topics’ shapes', async () => {
    const out = path.join(dir, 'range.jsonl');
    const said: string[] = [];
    const io = { out: (t: string) => said.push(t), err: (t: string) => said.push(`err: ${t}`) };
    const from = new Date(t0 - 5 * minute).toISOString();
    const to = new Date(t0 - 2 * minute).toISOString();
    const code = await recordCommand(['--from', from, '--to', to, '--out', out], io, config);
    assert.equal(code, 0, said.join('\n'));
    const lines = fs.readFileSync(out, 'utf8').trim().split('\n');
    assert.deepEqual(
      lines
        .map((l) => JSON.parse(l) as unknown)
        .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
      [...inside.map((r) => r.value), event].sort((a, b) =>
        JSON.stringify(a).localeCompare(JSON.stringify(b)),
      ),
    );
    assert.match(said.join('\n'), /metrics: 12 records, 1 not JSON objects \(left out\)/);
    assert.match(said.join('\n'), /events: 1 records/);
    const recording = readRecording([out]);
    assert.equal(recording.samples.length, 12);
    assert.equal(recording.events.length, 1);
    assert.deepEqual(recording.problems, []);
  });

  it('reads to the partitions’ ends without --to, from a duration ago', async () => {
    const out = path.join(dir, 'recent.jsonl');
    const said: string[] = [];
    const io = { out: (t: string) => said.push(t), err: (t: string) => said.push(`err: ${t}`) };
    // 90 s ago, counted when the command runs: only the records of a minute ago.
    const code = await recordCommand(['--from', '90s', '--out', out], io, config);
    assert.equal(code, 0, said.join('\n'));
    const values = fs
      .readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { value: number });
    assert.deepEqual(values.map((v) => v.value).sort(), [200, 201, 202]);
  });

  it('gives backtest the same range as its input with --from and --to', async () => {
    const said: string[] = [];
    const io = { out: (t: string) => said.push(t), err: (t: string) => said.push(`err: ${t}`) };
    const from = new Date(t0 - 5 * minute).toISOString();
    const to = new Date(t0 - 2 * minute).toISOString();
    const rules = path.resolve(import.meta.dirname, '..', '..', 'rules');
    const args = ['--from', from, '--to', to, '--rules', rules, '--model', 'off', '--json'];
    assert.equal(await backtestCommand(args, io, config), 0, said.join('\n'));
    const report = JSON.parse(said.join('\n')) as {
      input: { samples: number; events: number; entities: number };
    };
    assert.deepEqual(
      { samples: report.input.samples, events: report.input.events, entities: report.input.entities },
      { samples: 12, events: 1, entities: 3 },
    );
  });

  it('refuses a range that is not one, naming the option', async () => {
    const io = { out: () => undefined, err: () => undefined };
    await assert.rejects(
      recordCommand(['--from', '1h', '--to', '2h', '--out', path.join(dir, 'x')], io, config),
      /--to must be after --from/,
    );
    await assert.rejects(
      recordCommand(['--from', 'yesterday', '--out', path.join(dir, 'x')], io, config),
      /--from "yesterday": use an ISO-8601 time/,
    );
  });
});

import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { readTopicRange, parseTimePoint, type TopicRange } from '../services/backtest/topic-recording.js';
import { loadConfig, topicNames, type Config } from '../services/common/config.js';
import { parseDuration } from '../services/common/duration.js';
import { createKafka } from '../services/common/kafka.js';
import { createLogger } from '../services/common/logger.js';
import { UsageError } from './remediation-commands.js';

/** Where the command writes its summary; tests pass their own. */
export interface RecordIo {
  out(text: string): void;
  err(text: string): void;
}

const processIo: RecordIo = {
  out: (t) => process.stdout.write(`${t}\n`),
  err: (t) => process.stderr.write(`${t}\n`),
};

export const RECORD_USAGE = `usage: autoglm record --from <time> [--to <time>] --out <file>
                      [--max-messages 10000000] [--timeout 10m]

  Writes the records of the metrics and events topics written in [--from, --to) as JSON lines in
  the topics' own shapes: the input of 'autoglm backtest'.
  --from, --to   an ISO-8601 time with a zone (2026-12-06T10:00:00Z), epoch milliseconds, or a
                 duration ago (2h, 1d); without --to, up to each partition's end now
  --out          the file to write (replaced)
  --max-messages most records written (default 10000000); --timeout longest the read may take (10m)
Topics and brokers are the services' own (AUTOGLM_TOPIC_PREFIX, KAFKA_BROKERS, …).`;

/** The range, the limits and the options of `record` (and of `backtest --from`), checked; a UsageError names each problem. */
export function rangeOf(
  values: { from?: string; to?: string; 'max-messages'?: string; timeout?: string },
  now: number,
): { range: TopicRange; limits: { maxMessages: number; timeoutMs: number } } {
  const problems: string[] = [];
  const point = (name: 'from' | 'to') => {
    const text = values[name];
    if (text === undefined) return undefined;
    const at = parseTimePoint(text, now);
    if (at === undefined)
      problems.push(
        `--${name} "${text}": use an ISO-8601 time with a zone (2026-12-06T10:00:00Z), epoch milliseconds, or a duration ago (2h)`,
      );
    return at;
  };
  const from = point('from');
  const to = point('to');
  if (values.from === undefined) problems.push('--from: required (where the recording starts)');
  if (from !== undefined && to !== undefined && to <= from)
    problems.push(
      `--to must be after --from (${new Date(to).toISOString()} <= ${new Date(from).toISOString()})`,
    );
  const maxMessages = Number(values['max-messages'] ?? 10_000_000);
  if (!Number.isInteger(maxMessages) || maxMessages < 1)
    problems.push(`--max-messages "${values['max-messages']}": a whole number of at least 1`);
  const timeoutMs = parseDuration(values.timeout ?? '10m');
  if (timeoutMs === undefined || timeoutMs <= 0)
    problems.push(`--timeout "${values.timeout}": a duration such as 30s or 10m`);
  if (problems.length > 0) throw new UsageError(problems.join('\n'));
  return {
    range: { from: from!, ...(to !== undefined ? { to } : {}) },
    limits: { maxMessages, timeoutMs: timeoutMs! },
  };
}

/**
 * Reads the metrics and events topics' records written in a time range (see readTopicRange) as
 * JSON lines; the lines and what each topic gave.
 */
export async function readTopicsRange(
  config: Config,
  range: TopicRange,
  limits: { maxMessages: number; timeoutMs: number },
  onLine: (line: string) => void,
) {
  const topics = topicNames(config);
  const kafka = createKafka(config, createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel));
  return readTopicRange(
    kafka,
    [topics.metrics, topics.events],
    range,
    onLine,
    limits,
    `${config.groupPrefix}-record`,
  );
}

/**
 * `autoglm record`: writes a recording of the metrics and events topics for a time range, for
 * `autoglm backtest`. Exits 1 when a limit cut the read short (what was read is written).
 */
export async function recordCommand(
  args: readonly string[],
  io: RecordIo = processIo,
  config: Config = loadConfig(),
): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      options: {
        from: { type: 'string' },
        to: { type: 'string' },
        out: { type: 'string' },
        'max-messages': { type: 'string' },
        timeout: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n${RECORD_USAGE}`);
  }
  const { values } = parsed;
  if (values.help) {
    io.out(RECORD_USAGE);
    return 0;
  }
  if (!values.out) throw new UsageError(`--out: name the file to write\n${RECORD_USAGE}`);
  const { range, limits } = rangeOf(values, Date.now());
  const file = fs.openSync(values.out, 'w');
  let buffer: string[] = [];
  const flush = () => {
    if (buffer.length > 0) fs.writeSync(file, `${buffer.join('\n')}\n`);
    buffer = [];
  };
  let reads;
  try {
    reads = await readTopicsRange(config, range, limits, (line) => {
      buffer.push(line);
      if (buffer.length >= 10_000) flush();
    });
    flush();
  } finally {
    fs.closeSync(file);
  }
  const span = `${new Date(range.from).toISOString()} to ${range.to !== undefined ? new Date(range.to).toISOString() : 'now'}`;
  for (const r of reads)
    io.out(
      `${r.topic}: ${r.written} records${r.skipped > 0 ? `, ${r.skipped} not JSON objects (left out)` : ''}${r.complete ? '' : ' (cut short by --max-messages or --timeout)'}`,
    );
  io.out(`wrote ${values.out}: ${reads.reduce((n, r) => n + r.written, 0)} records from ${span}`);
  if (reads.every((r) => r.complete)) return 0;
  io.err('the read was cut short: raise --max-messages or --timeout for the whole range');
  return 1;
}

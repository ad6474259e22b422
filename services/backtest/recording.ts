import fs from 'node:fs';
import path from 'node:path';
import {
  eventSchema,
  fastMetricSample,
  metricSampleSchema,
  type MetricSample,
  type OpsEvent,
} from '../common/contracts.js';

/** A line of the recording that was not used, and why. */
export interface RecordingProblem {
  readonly file: string;
  /** 1-based line number in `file`. */
  readonly line: number;
  readonly message: string;
}

/** Samples and events to replay, in time order, and what was wrong with the input. */
export interface Recording {
  readonly samples: MetricSample[];
  readonly events: OpsEvent[];
  /** Malformed lines (not fatal: the rest is replayed). */
  readonly problems: RecordingProblem[];
  /** Samples that came before an earlier line of their entity; replayed in time order. */
  readonly outOfOrder: { count: number; first?: { file: string; line: number } };
  /** Lines read (header and blank lines not counted). */
  readonly lines: number;
  readonly files: readonly string[];
}

/** How CSV `timestamp,value` rows become samples: the entity and metric they belong to. */
export interface CsvNames {
  /** The entity of every row (default for a folder: the file's name without `.csv`). */
  readonly entity?: string;
  /** The metric of every row. */
  readonly metric?: string;
}

/** An input that cannot be read at all (missing file, a CSV without its names). */
export class RecordingError extends Error {
  override readonly name = 'RecordingError';
}

/** Problems kept in full; beyond this they are only counted. */
const MAX_PROBLEMS = 1000;

/** Builds a recording from parsed parts: order checked per entity, then sorted by time (stable). */
class RecordingBuilder {
  readonly samples: MetricSample[] = [];
  readonly events: OpsEvent[] = [];
  readonly problems: RecordingProblem[] = [];
  private problemCount = 0;
  private readonly lastTs = new Map<string, number>();
  private outOfOrder = 0;
  private firstOutOfOrder: { file: string; line: number } | undefined;
  lines = 0;

  sample(s: MetricSample, file: string, line: number): void {
    const last = this.lastTs.get(s.entity);
    if (last !== undefined && s.ts < last) {
      this.outOfOrder++;
      this.firstOutOfOrder ??= { file, line };
    } else this.lastTs.set(s.entity, s.ts);
    this.samples.push(s);
  }

  problem(file: string, line: number, message: string): void {
    this.problemCount++;
    if (this.problems.length < MAX_PROBLEMS) this.problems.push({ file, line, message });
  }

  build(files: readonly string[]): Recording {
    const byTs = (a: { ts: number }, b: { ts: number }) => a.ts - b.ts;
    if (this.problemCount > this.problems.length) {
      this.problems.push({
        file: '',
        line: 0,
        message: `${this.problemCount - this.problems.length} more malformed lines not listed`,
      });
    }
    return {
      samples: this.samples.sort(byTs),
      events: this.events.sort(byTs),
      problems: this.problems,
      outOfOrder: {
        count: this.outOfOrder,
        ...(this.firstOutOfOrder ? { first: this.firstOutOfOrder } : {}),
      },
      lines: this.lines,
      files,
    };
  }
}

/**
 * Reads recordings: JSON lines in the topics' own shapes (a sample `{entity, metric, value, ts,
 * labels?}` or an event `{entity, kind, message, ts, attrs?}` per line), CSV files (`timestamp,value`
 * with `names`, or with `entity` and `metric` columns too), or folders of CSV files (NAB's layout:
 * the entity is each file's name, never `names.entity`). Malformed lines are listed by file and line, not fatal.
 */
export function readRecording(inputs: readonly string[], names: CsvNames = {}): Recording {
  const b = new RecordingBuilder();
  const files: string[] = [];
  for (const input of inputs) {
    const stat = fs.statSync(input, { throwIfNoEntry: false });
    if (!stat) throw new RecordingError(`${input}: no such file or folder`);
    if (stat.isDirectory()) {
      const csvs = csvFilesIn(input);
      if (csvs.length === 0) throw new RecordingError(`${input}: no .csv files in this folder`);
      for (const f of csvs) {
        files.push(f);
        parseCsv(fs.readFileSync(f, 'utf8'), f, { ...names, entity: entityOfFile(f) }, b);
      }
      continue;
    }
    files.push(input);
    const text = fs.readFileSync(input, 'utf8');
    if (input.endsWith('.csv')) parseCsv(text, input, names, b);
    else parseJsonLines(text, input, b);
  }
  return b.build(files);
}

/** Parses JSON-lines text alone (tests, stdin). */
export function recordingFromJsonLines(text: string, file = '<input>'): Recording {
  const b = new RecordingBuilder();
  parseJsonLines(text, file, b);
  return b.build([file]);
}

/** Parses CSV text alone (tests). */
export function recordingFromCsv(text: string, names: CsvNames, file = '<input>.csv'): Recording {
  const b = new RecordingBuilder();
  parseCsv(text, file, names, b);
  return b.build([file]);
}

/** The entity a NAB file stands for: its name without `.csv`. */
export function entityOfFile(file: string): string {
  return path.basename(file).replace(/\.csv$/i, '');
}

function csvFilesIn(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...csvFilesIn(p));
    else if (e.name.toLowerCase().endsWith('.csv')) out.push(p);
  }
  return out;
}

function parseJsonLines(text: string, file: string, b: RecordingBuilder): void {
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = (lines[i] as string).trim();
    if (raw === '') continue;
    b.lines++;
    const line = i + 1;
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch (err) {
      b.problem(file, line, `not valid JSON: ${(err as Error).message}`);
      continue;
    }
    if (json === null || typeof json !== 'object' || Array.isArray(json)) {
      b.problem(file, line, 'not an object: expected a sample or an event');
      continue;
    }
    if ('metric' in json) {
      const fast = fastMetricSample(json);
      if (fast) {
        b.sample(fast, file, line);
        continue;
      }
      const parsed = metricSampleSchema.safeParse(json);
      if (parsed.success) b.sample(parsed.data, file, line);
      else b.problem(file, line, `not a sample: ${issuesOf(parsed.error.issues)}`);
    } else if ('kind' in json) {
      const parsed = eventSchema.safeParse(json);
      if (parsed.success) b.events.push(parsed.data);
      else b.problem(file, line, `not an event: ${issuesOf(parsed.error.issues)}`);
    } else {
      b.problem(
        file,
        line,
        'neither a sample {entity, metric, value, ts} nor an event {entity, kind, message, ts}',
      );
    }
  }
}

function issuesOf(issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>): string {
  return issues.map((i) => `${i.path.map(String).join('.') || '(value)'} ${i.message}`).join('; ');
}

const NAB_TIME = /^(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d(?::\d\d(?:\.\d+)?)?)$/;

/**
 * A CSV timestamp in epoch milliseconds: epoch ms, ISO-8601 with a zone, or NAB's
 * `YYYY-MM-DD HH:MM[:SS[.ffffff]]` (or with a `T`) read as UTC. Undefined when it is none of these.
 */
export function parseTimestamp(text: string): number | undefined {
  const s = text.trim();
  if (/^\d+$/.test(s)) return Number(s);
  const nab = NAB_TIME.exec(s);
  if (nab) {
    const ms = Date.parse(`${nab[1]}T${(nab[2] as string).slice(0, 12)}Z`);
    return Number.isNaN(ms) ? undefined : ms;
  }
  if (!/(Z|[+-]\d\d:?\d\d)$/.test(s)) return undefined; // no zone: ambiguous
  const ms = Date.parse(s);
  return Number.isNaN(ms) ? undefined : ms;
}

function parseCsv(text: string, file: string, names: CsvNames, b: RecordingBuilder): void {
  const lines = text.split('\n');
  const header = (lines[0] ?? '')
    .trim()
    .toLowerCase()
    .split(',')
    .map((c) => c.trim().replace(/^"|"$/g, ''));
  const col = (name: string) => header.indexOf(name);
  const [iTs, iValue, iEntity, iMetric] = [col('timestamp'), col('value'), col('entity'), col('metric')];
  if (iTs < 0 || iValue < 0) {
    throw new RecordingError(
      `${file}:1: the header must name the columns "timestamp" and "value" (NAB's format), got "${lines[0]?.trim() ?? ''}"`,
    );
  }
  if (iEntity < 0 && names.entity === undefined)
    throw new RecordingError(`${file}: no "entity" column: pass --entity <name>`);
  if (iMetric < 0 && names.metric === undefined)
    throw new RecordingError(`${file}: no "metric" column: pass --metric <name> (for example cpu)`);
  for (let i = 1; i < lines.length; i++) {
    const raw = (lines[i] as string).trim();
    if (raw === '') continue;
    b.lines++;
    const line = i + 1;
    const cells = raw.split(',');
    if (cells.length < header.length) {
      b.problem(file, line, `${cells.length} columns, the header has ${header.length}`);
      continue;
    }
    const ts = parseTimestamp(cells[iTs] as string);
    if (ts === undefined) {
      b.problem(
        file,
        line,
        `timestamp "${cells[iTs]}": use epoch milliseconds, ISO-8601 with a zone, or "YYYY-MM-DD HH:MM:SS" (UTC)`,
      );
      continue;
    }
    const candidate = {
      entity: iEntity >= 0 ? (cells[iEntity] as string).trim() : names.entity,
      metric: iMetric >= 0 ? (cells[iMetric] as string).trim() : names.metric,
      value: (cells[iValue] as string).trim() === '' ? NaN : Number(cells[iValue]),
      ts,
    };
    const sample = fastMetricSample(candidate);
    if (sample) {
      b.sample(sample, file, line);
      continue;
    }
    const parsed = metricSampleSchema.safeParse(candidate);
    if (parsed.success) b.sample(parsed.data, file, line);
    else b.problem(file, line, `not a sample: ${issuesOf(parsed.error.issues)}`);
  }
}

/**
 * Each entity's samples as a percentage of its own maximum |value| (0 stays 0): how the benches
 * present NAB's series (not CPU percentages) to the CPU rule, whose 97% ceiling then means "at
 * the series' peak".
 */
export function percentOfMax(recording: Recording): Recording {
  const max = new Map<string, number>();
  for (const s of recording.samples) max.set(s.entity, Math.max(max.get(s.entity) ?? 0, Math.abs(s.value)));
  const samples: MetricSample[] = recording.samples.map((s) => {
    const m = max.get(s.entity) ?? 0;
    return { ...s, value: m > 0 ? (s.value / m) * 100 : 0 };
  });
  return { ...recording, samples };
}

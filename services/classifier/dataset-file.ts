/**
 * The labeled dataset file: JSONL, one `{"features": {...}, "events": [{kind, message}], "label"}`
 * per line, or, for a refuted example, `"notClass": "<class>"` in place of `"label"` (a window the
 * loop acted on as that class and the action did not fix; the trainer takes it as a soft negative).
 * Read with every bad line named (line number, field, fix); written atomically.
 */
import fs from 'node:fs';
import type { LabeledRow, ModelConfig, NegativeRow } from './model-types.js';

/** What a dataset file holds: labeled rows, and refuted (negative) rows. */
export interface Dataset {
  readonly rows: LabeledRow[];
  readonly negatives: NegativeRow[];
}

/** The dataset file was refused; `problems` names each line, field and fix. */
export class DatasetError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`dataset refused:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'DatasetError';
  }
}

/** More problems than this are counted, not listed: a wrong file would otherwise print every line. */
const MAX_LISTED = 50;

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Reads the labeled rows of `file` for `config`; throws DatasetError listing every bad line. A
 * feature the config uses may be missing from a row: training and serving impute it with the
 * training mean, as they do for an observation whose metric did not report in the window. Negative
 * (`notClass`) rows are checked too but not returned: see readTrainingData.
 */
export function readDataset(file: string, config: ModelConfig): LabeledRow[] {
  return readTrainingData(file, config).rows;
}

/** readDataset(), with the negative (`notClass`) rows as well: what training uses. */
export function readTrainingData(file: string, config: ModelConfig): Dataset {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new DatasetError([`${file}: cannot be read (${(err as Error).message})`]);
  }
  const { rows, negatives, problems } = parseDataset(text, config.classes, file);
  if (problems.length > 0) throw new DatasetError(problems);
  return { rows, negatives };
}

/** Parses JSONL text into labeled and negative rows; `problems` names line and field, `where` prefixes them. */
export function parseDataset(
  text: string,
  classes: readonly string[],
  where = 'dataset',
): Dataset & { problems: string[] } {
  const rows: LabeledRow[] = [];
  const negatives: NegativeRow[] = [];
  const problems: string[] = [];
  let refused = 0;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    const lineProblems: string[] = [];
    const row = parseRow(line, classes, (field, message) => lineProblems.push(`${field}: ${message}`));
    if (row && 'label' in row) rows.push(row);
    else if (row) negatives.push(row);
    for (const p of lineProblems) {
      refused++;
      if (problems.length < MAX_LISTED) problems.push(`${where}: line ${i + 1}: ${p}`);
    }
  }
  if (refused > MAX_LISTED) problems.push(`${where}: … and ${refused - MAX_LISTED} more problems`);
  if (refused === 0 && rows.length === 0 && negatives.length === 0)
    problems.push(`${where}: has no rows; write one JSON object per line`);
  return { rows, negatives, problems };
}

function parseRow(
  line: string,
  classes: readonly string[],
  problem: (field: string, message: string) => void,
): LabeledRow | NegativeRow | undefined {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch (err) {
    problem('(line)', `is not valid JSON (${(err as Error).message})`);
    return undefined;
  }
  if (!isObject(json)) {
    problem('(line)', 'must be an object {"features": {...}, "events": [...], "label": "..."}');
    return undefined;
  }
  let ok = true;
  const { features, events = [], label, notClass } = json;
  if (!isObject(features)) {
    problem('features', 'must be an object of numbers such as {"cpu.avg": 0.42}');
    ok = false;
  } else {
    for (const [name, value] of Object.entries(features))
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        problem(
          `features.${name}`,
          `is ${JSON.stringify(value)}: must be a finite number; leave a missing value out`,
        );
        ok = false;
      }
  }
  if (
    !Array.isArray(events) ||
    events.some((e) => !isObject(e) || typeof e.kind !== 'string' || typeof e.message !== 'string')
  ) {
    problem('events', 'must be a list of {"kind": "...", "message": "..."}');
    ok = false;
  }
  const given = (v: unknown) => v !== undefined && v !== null;
  if (given(label) && given(notClass)) {
    problem(
      'notClass',
      'a row has a "label" (what it is) or a "notClass" (what it is not), not both: keep one',
    );
    ok = false;
  } else if (given(notClass)) {
    if (typeof notClass !== 'string' || !classes.includes(notClass)) {
      problem('notClass', `unknown class ${JSON.stringify(notClass)}: the classes are ${classes.join(', ')}`);
      ok = false;
    }
  } else if (!given(label)) {
    problem('label', `is missing: name one of the classes ${classes.join(', ')}`);
    ok = false;
  } else if (typeof label !== 'string' || !classes.includes(label)) {
    problem('label', `unknown class ${JSON.stringify(label)}: the classes are ${classes.join(', ')}`);
    ok = false;
  }
  if (!ok) return undefined;
  const input = {
    features: features as Record<string, number>,
    events: (events as Array<{ kind: string; message: string }>).map((e) => ({
      kind: e.kind,
      message: e.message,
    })),
  };
  return given(notClass) ? { ...input, notClass: notClass as string } : { ...input, label: label as string };
}

/**
 * Writes `rows` as JSONL, then `negatives` (with `"notClass"` where a row has `"label"`), through a
 * temporary file so a reader never sees half a dataset.
 */
export function writeDataset(
  file: string,
  rows: readonly LabeledRow[],
  negatives: readonly NegativeRow[] = [],
): void {
  const eventsOf = (r: { events: LabeledRow['events'] }) =>
    r.events.map((e) => ({ kind: e.kind, message: e.message }));
  const lines = [
    ...rows.map((r) => JSON.stringify({ features: r.features, events: eventsOf(r), label: r.label })),
    ...negatives.map((r) =>
      JSON.stringify({ features: r.features, events: eventsOf(r), notClass: r.notClass }),
    ),
  ];
  const temporary = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temporary, lines.length > 0 ? `${lines.join('\n')}\n` : '');
  fs.renameSync(temporary, file);
}

/**
 * The labeled dataset file: JSONL, one `{"features": {...}, "events": [{kind, message}], "label"}`
 * per line. Read with every bad line named (line number, field, fix); written atomically.
 */
import fs from 'node:fs';
import type { LabeledRow, ModelConfig } from './model-types.js';

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
 * training mean, as they do for an observation whose metric did not report in the window.
 */
export function readDataset(file: string, config: ModelConfig): LabeledRow[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new DatasetError([`${file}: cannot be read (${(err as Error).message})`]);
  }
  const { rows, problems } = parseDataset(text, config.classes, file);
  if (problems.length > 0) throw new DatasetError(problems);
  return rows;
}

/** Parses JSONL text into labeled rows; `problems` names line and field, `where` prefixes them. */
export function parseDataset(
  text: string,
  classes: readonly string[],
  where = 'dataset',
): { rows: LabeledRow[]; problems: string[] } {
  const rows: LabeledRow[] = [];
  const problems: string[] = [];
  let refused = 0;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    const lineProblems: string[] = [];
    const row = parseRow(line, classes, (field, message) => lineProblems.push(`${field}: ${message}`));
    if (row) rows.push(row);
    for (const p of lineProblems) {
      refused++;
      if (problems.length < MAX_LISTED) problems.push(`${where}: line ${i + 1}: ${p}`);
    }
  }
  if (refused > MAX_LISTED) problems.push(`${where}: … and ${refused - MAX_LISTED} more problems`);
  if (refused === 0 && rows.length === 0)
    problems.push(`${where}: has no rows; write one JSON object per line`);
  return { rows, problems };
}

function parseRow(
  line: string,
  classes: readonly string[],
  problem: (field: string, message: string) => void,
): LabeledRow | undefined {
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
  const { features, events = [], label } = json;
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
  if (label === undefined || label === null) {
    problem('label', `is missing: name one of the classes ${classes.join(', ')}`);
    ok = false;
  } else if (typeof label !== 'string' || !classes.includes(label)) {
    problem('label', `unknown class ${JSON.stringify(label)}: the classes are ${classes.join(', ')}`);
    ok = false;
  }
  if (!ok) return undefined;
  return {
    features: features as Record<string, number>,
    events: (events as Array<{ kind: string; message: string }>).map((e) => ({
      kind: e.kind,
      message: e.message,
    })),
    label: label as string,
  };
}

/** Writes `rows` as JSONL, through a temporary file so a reader never sees half a dataset. */
export function writeDataset(file: string, rows: readonly LabeledRow[]): void {
  const lines = rows.map((r) =>
    JSON.stringify({
      features: r.features,
      events: r.events.map((e) => ({ kind: e.kind, message: e.message })),
      label: r.label,
    }),
  );
  const temporary = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temporary, lines.length > 0 ? `${lines.join('\n')}\n` : '');
  fs.renameSync(temporary, file);
}

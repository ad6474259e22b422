import fs from 'node:fs';
import path from 'node:path';
import { parseTimestamp } from './recording.js';

/** Labeled incident windows per entity: `[start, end]` in epoch ms, inclusive, in time order. */
export type LabeledWindows = ReadonlyMap<string, ReadonlyArray<readonly [number, number]>>;

/** A labels file that cannot be used, with every problem named. */
export class LabelsError extends Error {
  override readonly name = 'LabelsError';
  constructor(
    file: string,
    readonly problems: readonly string[],
  ) {
    super(`${file}: ${problems.join('; ')}`);
  }
}

/**
 * Reads incident windows in NAB's `combined_windows.json` shape: `{ "<key>": [[start, end], …] }`.
 * The entity of a key is its file name without `.csv` (`realKnownCause/nyc_taxi.csv` → `nyc_taxi`),
 * so NAB's own labels name the entities of a folder replay; a plain entity name works too. Times:
 * epoch ms or the forms a CSV timestamp takes (NAB's are UTC without a zone).
 */
export function parseLabels(text: string, file = '<labels>'): LabeledWindows {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new LabelsError(file, [`not valid JSON: ${(err as Error).message}`]);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json))
    throw new LabelsError(file, ['expected an object of entity → [[start, end], …]']);
  const problems: string[] = [];
  const out = new Map<string, Array<[number, number]>>();
  for (const [key, value] of Object.entries(json)) {
    const entity = path.basename(key).replace(/\.csv$/i, '');
    if (!Array.isArray(value)) {
      problems.push(`"${key}": expected an array of [start, end] windows`);
      continue;
    }
    const windows: Array<[number, number]> = [];
    value.forEach((w: unknown, i) => {
      const at = `"${key}"[${i}]`;
      if (!Array.isArray(w) || w.length !== 2) return problems.push(`${at}: expected [start, end]`);
      const [start, end] = w.map((t: unknown) =>
        typeof t === 'number' ? t : typeof t === 'string' ? parseTimestamp(t) : undefined,
      );
      if (start === undefined || end === undefined)
        return problems.push(`${at}: times must be epoch ms or "YYYY-MM-DD HH:MM:SS" (UTC)`);
      if (end < start) return problems.push(`${at}: ends before it starts`);
      windows.push([start, end]);
      return undefined;
    });
    windows.sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < windows.length; i++)
      if ((windows[i] as [number, number])[0] <= (windows[i - 1] as [number, number])[1])
        problems.push(`"${key}": windows ${i - 1} and ${i} overlap`);
    if (out.has(entity)) problems.push(`"${key}": entity ${entity} is labeled twice`);
    out.set(entity, windows);
  }
  if (problems.length > 0) throw new LabelsError(file, problems);
  return out;
}

/** Reads a labels file (see parseLabels). */
export function readLabels(file: string): LabeledWindows {
  if (!fs.existsSync(file)) throw new LabelsError(file, ['no such file']);
  return parseLabels(fs.readFileSync(file, 'utf8'), file);
}

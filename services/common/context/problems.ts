import { z } from 'zod';
import { closest } from '../facts-reference.js';

/**
 * The shared half of the context file checks: how a problem is written (file, JSON path, fix,
 * like the rule loader's) and the pieces of schema both files use.
 */

/** A JSON path as the problems print it: `services.checkout.dependencies[0]`. */
export function jsonPath(base: string, path: ReadonlyArray<PropertyKey>): string {
  let out = base;
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out === '' ? '(file)' : out;
}

/**
 * One problem per zod issue, each `<file>: <path>: <message>`. An unknown key is reported at its
 * own path, with the keys the object takes (see `strict`).
 */
export function issueProblems(file: string, base: string, issues: readonly z.core.$ZodIssue[]): string[] {
  const out: string[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      const fixes = issue.message.split('\n');
      issue.keys.forEach((key, i) =>
        out.push(`${file}: ${jsonPath(base, [...issue.path, key])}: ${fixes[i] ?? issue.message}`),
      );
    } else out.push(`${file}: ${jsonPath(base, issue.path)}: ${issue.message}`);
  }
  return out;
}

/**
 * zod's strictObject with our message for each unknown key: the keys the object takes and the
 * nearest one. The messages of several unknown keys travel as lines of one issue message.
 */
export function strict<S extends z.core.$ZodLooseShape>(shape: S, what: string) {
  const keys = Object.keys(shape);
  return z.strictObject(shape, {
    error: (iss) => {
      if (iss.code === 'unrecognized_keys')
        return iss.keys
          .map((k) => `unknown key${didYouMean(k, keys)}; ${what} takes ${list(keys)}`)
          .join('\n');
      return `must be an object: ${what} such as ${example(what)}`;
    },
  });
}

const EXAMPLES: Record<string, string> = {
  'the catalog': '{"services": {"checkout": {"owner": "team-checkout", "tier": 1}}}',
  'the maintenance file': '{"windows": [{"name": "nightly-patching", …}]}',
  'a service': '{"owner": "team-checkout", "tier": 1}',
  'a window': '{"name": "nightly-patching", "services": ["checkout"], "every": {…}, "reason": "…"}',
  'a one-off window': '{"start": "2025-06-01T22:00:00Z", "end": "2025-06-02T02:00:00Z"}',
  'a recurring window': '{"days": ["sat"], "start": "02:00", "duration": "2h", "timeZone": "Europe/Berlin"}',
};
const example = (what: string) => EXAMPLES[what] ?? '{…}';

/** ` (did you mean "x"?)` when a candidate is near enough to be a typo, else nothing. */
export function didYouMean(word: string, candidates: readonly string[]): string {
  const guess = closest(word, candidates);
  return guess === undefined ? '' : ` (did you mean "${guess}"?)`;
}

/** `a, b or c`. */
export function list(words: readonly string[]): string {
  if (words.length <= 1) return words.join('');
  return `${words.slice(0, -1).join(', ')} or ${words.at(-1)}`;
}

/** The problem with an unknown service name, naming the known ones and the nearest. */
export function unknownService(name: string, known: readonly string[]): string {
  const fix =
    known.length === 0
      ? 'catalog.json defines no services; add it there first'
      : `define it in catalog.json or use one of ${list(known)}`;
  return `unknown service "${name}"${didYouMean(name, known)}; ${fix}`;
}

/** Parses JSON text; the problem names the file, as the rule loader's does. */
export function parseJson(file: string, text: string): { json: unknown } | { problem: string } {
  try {
    return { json: JSON.parse(text) as unknown };
  } catch (err) {
    return { problem: `${file}: not valid JSON: ${(err as Error).message}` };
  }
}

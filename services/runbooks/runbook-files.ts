/**
 * Runbooks as files: `runbooks/*.md`, each with a strict front matter (title, the incident classes,
 * rules and actions it covers, its language) and one section per heading, the unit retrieval
 * returns. A bad front matter refuses the file with its line and the fix, like a bad rule file:
 * a runbook silently linked to nothing would never be found.
 */
import fs from 'node:fs';
import path from 'node:path';

/** The languages a runbook may be written in (Chinese is tokenized by character pairs). */
export const RUNBOOK_LANGS = ['en', 'zh'] as const;
export type RunbookLang = (typeof RUNBOOK_LANGS)[number];

/** A runbook's front matter, after validation. */
export interface RunbookMeta {
  readonly title: string;
  /** Incident classes it covers, as the classifier names them (`cpu_saturation`). */
  readonly classes: readonly string[];
  /** Rule names whose incidents it covers. */
  readonly rules: readonly string[];
  /** Actions it explains (`scale_out`, `rollback`). */
  readonly actions: readonly string[];
  readonly lang: RunbookLang;
}

/** One heading and the text under it: what a search returns. */
export interface RunbookSection {
  /** The file's name inside the runbooks folder, e.g. `cpu-saturation.md`. */
  readonly file: string;
  /** The heading's anchor as a Markdown renderer makes it (`what-to-check`). */
  readonly anchor: string;
  readonly title: string;
  /** The heading's level (1 for `#`); 0 for text before the first heading. */
  readonly level: number;
  readonly text: string;
  readonly runbook: RunbookMeta;
}

/** Thrown when runbook files cannot be read: every problem, each with its file, line and fix. */
export class RunbookLoadError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`runbooks refused:\n  ${problems.join('\n  ')}`);
    this.name = 'RunbookLoadError';
  }
}

const LIST_KEYS = ['classes', 'rules', 'actions'] as const;
const KEYS = ['title', ...LIST_KEYS, 'lang'] as const;
const NAME = /^[a-z][a-z0-9_-]*$/;
const HEADING = /^(#{1,6})\s+(.+?)\s*#*\s*$/;
const FENCE = /^\s*(```|~~~)/;

/** The Markdown files of a runbooks folder (README.md excluded: it describes the folder). */
export function runbookFilesIn(dir: string): string[] {
  if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) {
    throw new RunbookLoadError([`${dir}: no such folder; point --dir at the runbooks folder`]);
  }
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.md') && f.toLowerCase() !== 'readme.md')
    .sort()
    .map((f) => path.join(dir, f));
}

/** Every section of every runbook in a folder; throws RunbookLoadError listing all problems. */
export function readRunbookDir(dir: string): RunbookSection[] {
  const sections: RunbookSection[] = [];
  const problems: string[] = [];
  for (const file of runbookFilesIn(dir)) {
    try {
      sections.push(...parseRunbook(path.basename(file), fs.readFileSync(file, 'utf8')));
    } catch (err) {
      if (err instanceof RunbookLoadError) problems.push(...err.problems);
      else throw err;
    }
  }
  if (problems.length > 0) throw new RunbookLoadError(problems);
  return sections;
}

/** One runbook's sections from its text; `file` names it in problems and links. */
export function parseRunbook(file: string, text: string): RunbookSection[] {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const { meta, bodyStart } = parseFrontMatter(file, lines);
  return splitSections(file, meta, lines, bodyStart);
}

function parseFrontMatter(file: string, lines: readonly string[]): { meta: RunbookMeta; bodyStart: number } {
  const problems: string[] = [];
  const at = (line: number, message: string) => problems.push(`${file}:${line}: ${message}`);
  if (lines[0]?.trim() !== '---') {
    throw new RunbookLoadError([
      `${file}:1: no front matter; start the file with a line "---", then "title: …" (and classes, rules, actions, lang), then "---"`,
    ]);
  }
  const end = lines.findIndex((l, i) => i > 0 && l.trim() === '---');
  if (end < 0) {
    throw new RunbookLoadError([
      `${file}:1: the front matter is not closed; add a line "---" after its last key`,
    ]);
  }
  const seen = new Map<string, number>();
  const values: Record<string, string | string[]> = {};
  for (let i = 1; i < end; i++) {
    const line = lines[i] ?? '';
    const n = i + 1;
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    const m = /^([A-Za-z_][\w-]*):(.*)$/.exec(line);
    if (!m) {
      at(n, `"${line.trim()}" is not "key: value"; write one key a line, e.g. "classes: [cpu_saturation]"`);
      continue;
    }
    const key = m[1] ?? '';
    const raw = (m[2] ?? '').trim();
    if (!(KEYS as readonly string[]).includes(key)) {
      at(n, `unknown key "${key}"; use one of ${KEYS.join(', ')}`);
      continue;
    }
    const first = seen.get(key);
    if (first !== undefined) {
      at(n, `"${key}" is given twice (first on line ${first}); keep one`);
      continue;
    }
    seen.set(key, n);
    if ((LIST_KEYS as readonly string[]).includes(key)) {
      const list = /^\[(.*)\]$/.exec(raw);
      if (!list) {
        at(n, `${key} must be a list in brackets, e.g. "${key}: [${example(key)}]"`);
        continue;
      }
      const items = (list[1] ?? '').split(',').map((s) => s.trim());
      if (items.length === 1 && items[0] === '') {
        values[key] = [];
        continue;
      }
      const bad = items.filter((s) => !NAME.test(s));
      if (bad.length > 0) {
        at(
          n,
          `${key} has ${bad.map((b) => `"${b}"`).join(', ')}; each must be a name in lower case such as "${example(key)}"`,
        );
        continue;
      }
      values[key] = items;
    } else if (raw === '') {
      at(n, `${key} is empty; give it a value`);
    } else values[key] = raw;
  }
  if (values.title === undefined && !seen.has('title'))
    at(1, 'the front matter has no title; add "title: <the runbook\'s name>"');
  const lang = values.lang ?? 'en';
  if (typeof lang === 'string' && !(RUNBOOK_LANGS as readonly string[]).includes(lang)) {
    at(seen.get('lang') ?? 1, `lang "${lang}" is not supported; use one of ${RUNBOOK_LANGS.join(', ')}`);
  }
  if (problems.length > 0) throw new RunbookLoadError(problems);
  const list = (k: string) => (values[k] as string[] | undefined) ?? [];
  return {
    meta: Object.freeze({
      title: values.title as string,
      classes: list('classes'),
      rules: list('rules'),
      actions: list('actions'),
      lang: lang as RunbookLang,
    }),
    bodyStart: end + 1,
  };
}

function example(key: string): string {
  return key === 'classes' ? 'cpu_saturation' : key === 'rules' ? 'cpu-saturation-scale-out' : 'scale_out';
}

function splitSections(
  file: string,
  meta: RunbookMeta,
  lines: readonly string[],
  start: number,
): RunbookSection[] {
  const sections: RunbookSection[] = [];
  const used = new Map<string, number>();
  let title = meta.title;
  let level = 0;
  let anchor = '';
  let body: string[] = [];
  let fenced = false;
  const flush = () => {
    const text = body.join('\n').trim();
    if (level > 0 || text !== '') sections.push({ file, anchor, title, level, text, runbook: meta });
  };
  for (let i = start; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (FENCE.test(line)) fenced = !fenced;
    const h = fenced ? null : HEADING.exec(line);
    if (!h) {
      body.push(line);
      continue;
    }
    flush();
    level = h[1]?.length ?? 1;
    title = h[2] ?? '';
    anchor = uniqueAnchor(headingAnchor(title), used);
    body = [];
  }
  flush();
  return sections;
}

/** A heading's anchor as GitHub renders it: lower case, punctuation dropped, spaces to dashes. */
export function headingAnchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

function uniqueAnchor(anchor: string, used: Map<string, number>): string {
  const n = used.get(anchor) ?? 0;
  used.set(anchor, n + 1);
  return n === 0 ? anchor : `${anchor}-${n}`;
}

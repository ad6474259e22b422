import path from 'node:path';
import { z } from 'zod';
import { parseDuration } from '../duration.js';
import type { Glob } from '../glob.js';
import { compileEntityPattern, entityPatternSchema } from './catalog.js';
import { didYouMean, issueProblems, jsonPath, list, parseJson, strict, unknownService } from './problems.js';

const MINUTE = 60_000;
const DAY = 86_400_000;
/** Longest recurring window: a longer one would overlap its own next week. */
const MAX_RECURRING_MS = 7 * DAY;
/** Longest one-off window: a typo in a year must not hold automation back for good. */
const MAX_ONE_OFF_MS = 31 * DAY;

/** Day names in the order of `Date#getUTCDay` (1970-01-01, local day 0, was a Thursday). */
const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
const DAY_NAMES = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;

/** en-US with h23: `1/15/2027, 09:00:00`. */
const WALL = /^(\d+)\/(\d+)\/(\d+), (\d+):(\d+):(\d+)$/;

/** The wall clock of one IANA time zone, read through Intl (which knows its DST rules). */
class Zone {
  private static readonly zones = new Map<string, Zone>();
  private readonly format: Intl.DateTimeFormat;
  private readonly offsets = new Map<number, number>();

  private constructor(name: string) {
    // Throws a RangeError on a name Intl does not know.
    this.format = new Intl.DateTimeFormat('en-US', {
      timeZone: name,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
  }

  /** The zone of this name, built once per process. */
  static of(name: string): Zone {
    let zone = Zone.zones.get(name);
    if (!zone) Zone.zones.set(name, (zone = new Zone(name)));
    return zone;
  }

  /** The wall-clock time at instant `t`, as the epoch ms of the same fields read as UTC. */
  wall(t: number): number {
    // format() and a regex: formatToParts is several times slower.
    const m = WALL.exec(this.format.format(t));
    if (!m) throw new Error(`unexpected Intl date format: ${this.format.format(t)}`);
    const [, month, day, year, hour, minute, second] = m.map(Number) as number[];
    return Date.UTC(year!, month! - 1, day!, hour!, minute!, second!);
  }

  /** How far the wall clock is ahead of UTC at instant `t`, in ms; recent answers are kept. */
  offset(t: number): number {
    let offset = this.offsets.get(t);
    if (offset === undefined) {
      if (this.offsets.size >= 1024) this.offsets.clear();
      offset = this.wall(t) - Math.floor(t / 1000) * 1000;
      this.offsets.set(t, offset);
    }
    return offset;
  }

  /**
   * The instant at which the wall clock reads `wall`. A time the clock skips (spring forward) is
   * moved forward by the gap; a time it shows twice (fall back) is its first occurrence, as
   * java.time and Temporal's "compatible" choice do.
   */
  instant(wall: number): number {
    // A day either side: the same wall time on the neighbouring days asks the same questions.
    const before = this.offset(wall - DAY);
    const after = this.offset(wall + DAY);
    if (before === after) return wall - before;
    const early = wall - before;
    const late = wall - after;
    const earlyOk = this.offset(early) === before;
    const lateOk = this.offset(late) === after;
    if (earlyOk && lateOk) return Math.min(early, late);
    if (lateOk) return late;
    return early;
  }
}

/** When a window is open. */
interface Span {
  covers(atMs: number): boolean;
}

/** A one-off window: open from `start` (included) to `end` (excluded). */
class OneOff implements Span {
  constructor(
    private readonly start: number,
    private readonly end: number,
  ) {}

  covers(atMs: number): boolean {
    return atMs >= this.start && atMs < this.end;
  }
}

/** The open spans of a weekly window over about a week and a half, and the instants they are the whole truth for. */
interface Spans {
  readonly from: number;
  readonly until: number;
  /** Merged and in order, as [start, end, start, end, …]. */
  readonly spans: readonly number[];
}

/** How many stretches of spans a weekly window keeps: live traffic and a replay or two. */
const KEPT_SPANS = 4;

/**
 * A weekly window: open for `durationMs` of elapsed time from `startMinute` (local) on each of
 * `days` in `zone`, so one that starts before midnight stays open into the next day. The open
 * spans around the last instants asked about are kept, so most calls are a few comparisons; a
 * rebuild (tens of Intl calls) happens about once a week of event time.
 */
class Weekly implements Span {
  private kept: Spans[] = [];

  constructor(
    private readonly zone: Zone,
    private readonly days: ReadonlySet<number>,
    private readonly startMinute: number,
    private readonly durationMs: number,
  ) {}

  covers(atMs: number): boolean {
    let found: Spans | undefined;
    for (const k of this.kept) {
      if (atMs >= k.from && atMs < k.until) {
        found = k;
        break;
      }
    }
    if (found === undefined) {
      found = this.build(atMs);
      this.kept = [found, ...this.kept.slice(0, KEPT_SPANS - 1)];
    }
    const spans = found.spans;
    for (let i = 0; i < spans.length && spans[i]! <= atMs; i += 2) if (atMs < spans[i + 1]!) return true;
    return false;
  }

  /** Lists the openings from (duration + 2) local days before `atMs` to 8 days after it. */
  private build(atMs: number): Spans {
    const today = Math.floor(this.zone.wall(atMs) / DAY);
    const back = Math.ceil(this.durationMs / DAY) + 2;
    const spans: number[] = [];
    let firstEnd: number | undefined;
    let lastStart = atMs + 1;
    for (let day = today - back; day <= today + 8; day++) {
      if (!this.days.has((((day + 4) % 7) + 7) % 7)) continue;
      const start = this.zone.instant(day * DAY + this.startMinute * MINUTE);
      const end = start + this.durationMs;
      firstEnd ??= end;
      lastStart = start;
      if (spans.length > 0 && start <= spans[spans.length - 1]!) spans[spans.length - 1] = end;
      else spans.push(start, end);
    }
    // Openings are in order and last the same, so earlier ones end by the first listed one's end
    // and later ones start after the last listed start.
    return { from: Math.min(firstEnd ?? atMs, atMs), until: Math.max(lastStart, atMs + 1), spans };
  }
}

/** One maintenance window: whom it holds (services, entity patterns) and when. */
export class MaintenanceWindow {
  constructor(
    readonly name: string,
    private readonly services: ReadonlySet<string>,
    private readonly patterns: readonly Glob[],
    private readonly span: Span,
  ) {}

  /** Whether the window holds `entity`, which belongs to `service` (undefined: to none). */
  appliesTo(entity: string, service: string | undefined): boolean {
    if (service !== undefined && this.services.has(service)) return true;
    return this.patterns.some((p) => p.test(entity));
  }

  /** Whether the window is open at `atMs`. */
  covers(atMs: number): boolean {
    return this.span.covers(atMs);
  }
}

const ISO =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:Z|([+-])(\d{2}):(\d{2}))$/;

/** Epoch ms of an ISO-8601 time with an offset; undefined when malformed or not a real date. */
export function parseInstant(text: string): number | undefined {
  const m = ISO.exec(text);
  if (!m) return undefined;
  const n = (i: number) => Number(m[i] ?? 0);
  const [year, month, day, hour, minute, second] = [n(1), n(2), n(3), n(4), n(5), n(6)];
  const [offsetHours, offsetMinutes] = [n(9), n(10)];
  if (hour > 23 || minute > 59 || second > 59 || offsetHours > 23 || offsetMinutes > 59) return undefined;
  const ms = Number((m[7] ?? '').padEnd(3, '0').slice(0, 3));
  const wall = Date.UTC(year, month - 1, day, hour, minute, second, ms);
  // Date.UTC rolls 2026-02-30 over into March: a date that does not come back is not a real one.
  const date = new Date(wall);
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day)
    return undefined;
  const offset = (offsetHours * 60 + offsetMinutes) * MINUTE;
  return m[8] === '-' ? wall + offset : wall - offset;
}

const INSTANT =
  'must be an ISO-8601 time with an offset, for example "2025-06-01T22:00:00Z" or "2025-06-01T22:00:00+02:00"';
const instantSchema = z
  .string({ error: INSTANT })
  .refine((s) => parseInstant(s) !== undefined, INSTANT)
  .transform((s) => parseInstant(s)!);

const onceSchema = strict({ start: instantSchema, end: instantSchema }, 'a one-off window').superRefine(
  ({ start, end }, ctx) => {
    if (end <= start) ctx.addIssue({ code: 'custom', path: ['end'], message: 'must be after once.start' });
    else if (end - start > MAX_ONE_OFF_MS)
      ctx.addIssue({
        code: 'custom',
        path: ['end'],
        message: 'must be at most 31 days after once.start; split a longer freeze into several windows',
      });
  },
);

const dayName = z.string({ error: `must be a day: ${list(DAY_NAMES)}` }).superRefine((d, ctx) => {
  if (!(DAY_NAMES as readonly string[]).includes(d))
    ctx.addIssue({
      code: 'custom',
      message: `unknown day ${JSON.stringify(d)}${didYouMean(d, DAY_NAMES)}; use ${list(DAY_NAMES)}`,
    });
});

const TIME = 'must be a local time "HH:MM" from 00:00 to 23:59, for example "02:00"';
const DURATION = 'must be a duration such as "30m", "2h" or "1h30m", at most 7d';

/** Why `name` is not a time zone Intl knows, with the nearest one; undefined when it is one. */
function timeZoneProblem(name: string): string | undefined {
  try {
    Zone.of(name);
    return undefined;
  } catch {
    const known = [...Intl.supportedValuesOf('timeZone'), 'UTC'];
    return `unknown time zone ${JSON.stringify(name)}${didYouMean(name, known)}; use an IANA name such as "Europe/Berlin" or "UTC"`;
  }
}

const everySchema = strict(
  {
    days: z
      .array(dayName, { error: `must be a list of days, for example ["sat", "sun"]` })
      .min(1, 'must list at least one day; leave days out for every day')
      .optional(),
    start: z.string({ error: TIME }).regex(/^([01]\d|2[0-3]):[0-5]\d$/, TIME),
    duration: z.string({ error: DURATION }).superRefine((d, ctx) => {
      const ms = parseDuration(d);
      const message =
        ms === undefined
          ? DURATION
          : ms <= 0
            ? 'must be longer than 0'
            : ms > MAX_RECURRING_MS
              ? 'must be at most 7d'
              : '';
      if (message) ctx.addIssue({ code: 'custom', message });
    }),
    timeZone: z
      .string({ error: 'must be an IANA time zone such as "Europe/Berlin" or "UTC"' })
      .superRefine((tz, ctx) => {
        const message = timeZoneProblem(tz);
        if (message) ctx.addIssue({ code: 'custom', message });
      }),
  },
  'a recurring window',
);

const windowSchema = strict(
  {
    name: z
      .string({ error: 'must name the window, for example "weekly-db-patching"' })
      .trim()
      .min(1, 'must name the window, for example "weekly-db-patching"')
      .max(100, 'must be at most 100 characters'),
    services: z
      .array(z.string({ error: 'must be a service name' }), {
        error: 'must be a list of service names, for example ["checkout"]',
      })
      .optional(),
    entities: z
      .array(entityPatternSchema, {
        error: 'must be a list of entity patterns, for example ["checkout/*"]',
      })
      .optional(),
    once: onceSchema.optional(),
    every: everySchema.optional(),
    reason: z
      .string({ error: 'must say why, for example "database patching"' })
      .trim()
      .min(1, 'must say why, for example "database patching"'),
  },
  'a window',
);

const maintenanceFileSchema = strict(
  {
    windows: z.array(z.unknown(), {
      error: 'must be a list of maintenance windows, for example [{"name": "weekly-db-patching", …}]',
    }),
  },
  'the maintenance file',
);

/**
 * Checks maintenance.json's text: JSON, the file's shape, every window (whom it holds, when,
 * why), services known to the catalog (`services`; undefined skips that check), unique names.
 * Returns the windows that passed, in file order, and every problem.
 */
export function parseMaintenance(
  file: string,
  text: string,
  services: readonly string[] | undefined,
): { windows: MaintenanceWindow[]; problems: string[] } {
  const where = path.basename(file);
  const parsed = parseJson(where, text);
  if ('problem' in parsed) return { windows: [], problems: [parsed.problem] };
  const top = maintenanceFileSchema.safeParse(parsed.json);
  const problems = top.success ? [] : issueProblems(where, '', top.error.issues);
  // The windows are checked beside the file's other problems (an unknown key at the top), so one
  // reading lists them all; only a file without a list of windows stops here.
  const entries = top.success ? top.data.windows : (parsed.json as { windows?: unknown } | null)?.windows;
  if (!Array.isArray(entries)) return { windows: [], problems };

  const windows: MaintenanceWindow[] = [];
  const named = new Map<string, string>();
  entries.forEach((raw: unknown, i) => {
    const at = jsonPath('windows', [i]);
    const own = shapeProblems(raw, services).map((p) => `${where}: ${jsonPath(at, p.path)}: ${p.message}`);
    problems.push(...own);
    const result = windowSchema.safeParse(raw);
    if (!result.success) problems.push(...issueProblems(where, at, result.error.issues));
    // A window refused for another field still claims its name, so a twin is listed now too.
    const name = result.success
      ? result.data.name
      : windowSchema.shape.name.safeParse((raw as { name?: unknown } | null)?.name).data;
    const other = name === undefined ? undefined : named.get(name);
    if (other !== undefined) {
      problems.push(
        `${where}: ${at}.name: "${name}" is already used by ${other}; give each window its own name`,
      );
      return;
    }
    if (name !== undefined) named.set(name, at);
    if (!result.success || own.length > 0) return;
    const w = result.data;
    const span = w.once ? new OneOff(w.once.start, w.once.end) : weekly(w.every!);
    windows.push(
      new MaintenanceWindow(
        w.name,
        new Set(w.services ?? []),
        (w.entities ?? []).map(compileEntityPattern),
        span,
      ),
    );
  });
  return { windows, problems };
}

function weekly(every: z.infer<typeof everySchema>): Weekly {
  const days = new Set(
    (every.days ?? DAY_NAMES).map((d) => WEEKDAYS.indexOf(d as (typeof WEEKDAYS)[number])),
  );
  const [h, m] = every.start.split(':').map(Number) as [number, number];
  return new Weekly(Zone.of(every.timeZone), days, h * 60 + m, parseDuration(every.duration)!);
}

/** The checks across a window's fields: whom (services or entities), when (once or every), known services. */
function shapeProblems(
  raw: unknown,
  services: readonly string[] | undefined,
): Array<{ path: PropertyKey[]; message: string }> {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return []; // the schema names it
  const w = raw as Record<string, unknown>;
  const out: Array<{ path: PropertyKey[]; message: string }> = [];
  const listed = (v: unknown) => Array.isArray(v) && v.length > 0;
  if (!listed(w.services) && !listed(w.entities))
    out.push({
      path: [],
      message: 'must list "services" or "entities" it holds (for every entity: "entities": ["**"])',
    });
  if ((w.once === undefined) === (w.every === undefined))
    out.push({
      path: [],
      message:
        w.once === undefined
          ? 'must say when with "once" ({"start", "end"}) or "every" ({"days", "start", "duration", "timeZone"})'
          : 'must have either "once" or "every", not both',
    });
  if (services !== undefined && Array.isArray(w.services)) {
    w.services.forEach((s, j) => {
      if (typeof s === 'string' && !services.includes(s))
        out.push({ path: ['services', j], message: unknownService(s, services) });
    });
  }
  return out;
}

import path from 'node:path';
import { z } from 'zod';
import { compileGlob, type Glob } from '../glob.js';
import { issueProblems, jsonPath, parseJson, strict, unknownService } from './problems.js';

/** One service of the catalog, as rules see it through the context facts. */
export interface Service {
  readonly name: string;
  readonly owner: string;
  /** 1 is the most critical, 4 the least. */
  readonly tier: number;
  readonly dependencies: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
}

const PATTERN = /^[A-Za-z0-9._:/@*-]+$/;
const PATTERN_FIX =
  'use entity characters (letters, digits and . _ : / @ -) with * for any run but "/" and ** for any run, for example "checkout/*"';

/** Why `pattern` is not an entity pattern; undefined when it is one. */
export function entityPatternProblem(pattern: string): string | undefined {
  const bad =
    pattern.length === 0 ||
    pattern.length > 200 ||
    !PATTERN.test(pattern) ||
    pattern.includes('***') ||
    pattern.includes('//') ||
    pattern.startsWith('/') ||
    pattern.endsWith('/');
  return bad ? `${JSON.stringify(pattern)} is not an entity pattern: ${PATTERN_FIX}` : undefined;
}

/**
 * An entity pattern as a matcher: `*` is any run but `/`, `**` any run at all. Linear in the entity
 * for a given pattern (services/common/glob.ts): entities come from whoever sends metrics.
 */
export function compileEntityPattern(pattern: string): Glob {
  return compileGlob(pattern);
}

/** An entity pattern as a zod string, for both context files. */
export const entityPatternSchema = z
  .string({ error: `must be an entity pattern: ${PATTERN_FIX}` })
  .superRefine((p, ctx) => {
    const problem = entityPatternProblem(p);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

const SERVICE_NAME = /^[A-Za-z][A-Za-z0-9._-]{0,99}$/;
const OWNER = 'must name the owning team, for example "team-checkout"';
const TIER = 'must be an integer from 1 to 4';

const serviceSchema = strict(
  {
    owner: z.string({ error: OWNER }).trim().min(1, OWNER),
    tier: z.number({ error: TIER }).int(TIER).min(1, TIER).max(4, TIER),
    dependencies: z
      .array(z.string({ error: 'must be a service name' }), {
        error: 'must be a list of service names, for example ["payments"]',
      })
      .default([]),
    labels: z
      .record(z.string(), z.string({ error: 'must be a string' }), {
        error: 'must be an object of string values, for example {"domain": "shop"}',
      })
      .default({}),
    entities: z
      .array(entityPatternSchema, { error: 'must be a list of entity patterns, for example ["checkout/*"]' })
      .optional(),
  },
  'a service',
);

const catalogFileSchema = strict(
  {
    services: z.record(z.string(), z.unknown(), {
      error:
        'must be an object of services by name, for example {"checkout": {"owner": "team-checkout", "tier": 1}}',
    }),
  },
  'the catalog',
);

/** The services of catalog.json in file order, each with the entity patterns it owns. */
export class Catalog {
  constructor(private readonly owned: ReadonlyArray<{ service: Service; patterns: readonly Glob[] }>) {}

  /** The first service (in file order) with a pattern matching `entity`; undefined when none does. */
  serviceOf(entity: string): Service | undefined {
    for (const { service, patterns } of this.owned) {
      for (const p of patterns) if (p.test(entity)) return service;
    }
    return undefined;
  }
}

/** A catalog without services: no entity belongs to one. */
export const EMPTY_CATALOG = new Catalog([]);

/** What parseCatalog found: the services that passed, every name the file defines, every problem. */
export interface ParsedCatalog {
  readonly catalog: Catalog;
  /**
   * Every service name in the file, those with problems too, to check maintenance.json against;
   * undefined when the file is unreadable as a catalog (its own problem says so).
   */
  readonly names: readonly string[] | undefined;
  readonly problems: string[];
}

/** `json[key]` when `json` is an object and that is an object too (not a list). */
function objectAt(json: unknown, key: string): Record<string, unknown> | undefined {
  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  return isObject(json) && isObject(json[key]) ? json[key] : undefined;
}

/**
 * Checks catalog.json's text: JSON, the file's shape, every service (owner, tier 1..4, known
 * dependencies, labels, entity patterns). Returns the services that passed and every problem.
 */
export function parseCatalog(file: string, text: string): ParsedCatalog {
  const where = path.basename(file);
  const parsed = parseJson(where, text);
  if ('problem' in parsed) return { catalog: EMPTY_CATALOG, names: undefined, problems: [parsed.problem] };
  const top = catalogFileSchema.safeParse(parsed.json);
  const problems = top.success ? [] : issueProblems(where, '', top.error.issues);
  // The services are checked beside the file's other problems (an unknown key at the top), so one
  // reading lists them all; only a file without an object of services stops here.
  const services = top.success ? top.data.services : objectAt(parsed.json, 'services');
  if (!services) return { catalog: EMPTY_CATALOG, names: undefined, problems };

  const names = Object.keys(services);
  const owned: Array<{ service: Service; patterns: Glob[] }> = [];
  for (const [name, raw] of Object.entries(services)) {
    const at = jsonPath('services', [name]);
    if (!SERVICE_NAME.test(name)) {
      problems.push(
        `${where}: ${at}: a service name starts with a letter and holds letters, digits, . _ or - (at most 100), for example "checkout"`,
      );
      continue;
    }
    problems.push(...dependencyProblems(where, at, name, raw, names));
    const result = serviceSchema.safeParse(raw);
    if (!result.success) {
      problems.push(...issueProblems(where, at, result.error.issues));
      continue;
    }
    const { owner, tier, dependencies, labels, entities } = result.data;
    const service: Service = Object.freeze({
      name,
      owner,
      tier,
      dependencies: Object.freeze([...new Set(dependencies)]),
      labels: Object.freeze({ ...labels }),
    });
    // An entity named like the service belongs to it too: `checkout/**` alone would leave `checkout` out.
    const patterns = (entities ?? [name, `${name}/**`]).map(compileEntityPattern);
    owned.push({ service, patterns });
  }
  return { catalog: new Catalog(owned), names, problems };
}

/** Each dependency must name another service of the catalog. */
function dependencyProblems(
  where: string,
  at: string,
  name: string,
  raw: unknown,
  names: readonly string[],
): string[] {
  const deps =
    raw !== null && typeof raw === 'object' ? (raw as { dependencies?: unknown }).dependencies : undefined;
  if (!Array.isArray(deps)) return [];
  const problems: string[] = [];
  deps.forEach((dep, i) => {
    if (typeof dep !== 'string') return; // the schema names it
    const depAt = jsonPath(at, ['dependencies', i]);
    if (dep === name) problems.push(`${where}: ${depAt}: a service cannot depend on itself; remove "${dep}"`);
    else if (!names.includes(dep)) problems.push(`${where}: ${depAt}: ${unknownService(dep, names)}`);
  });
  return problems;
}

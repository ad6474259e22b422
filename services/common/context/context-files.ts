import fs from 'node:fs';
import path from 'node:path';
import { type Catalog, EMPTY_CATALOG, type Service, parseCatalog } from './catalog.js';
import { type MaintenanceWindow, parseMaintenance } from './maintenance.js';
import { list } from './problems.js';

/** The context facts of one entity at one instant, beside its window features in the rules' facts. */
export interface ContextFacts {
  /** True while a maintenance window holds the entity. */
  maintenance: boolean;
  /** The name of the first open window (file order) that holds the entity; null outside any. */
  maintenanceWindow: string | null;
  /** The catalog service the entity belongs to; null (and owner, tier null) when none. */
  service: string | null;
  owner: string | null;
  /** 1 is the most critical, 4 the least. */
  tier: number | null;
  labels: Record<string, string>;
  dependencies: string[];
}

/** Rules' view of the catalog and maintenance windows. */
export interface RuleContext {
  /** Context facts of one entity at an instant (epoch ms). */
  factsFor(entity: string, atMs: number): ContextFacts;
}

/** The context facts of an entity no service owns and no window holds. */
export const NO_CONTEXT_FACTS: ContextFacts = Object.freeze({
  maintenance: false,
  maintenanceWindow: null,
  service: null,
  owner: null,
  tier: null,
  labels: Object.freeze({}) as Record<string, string>,
  dependencies: Object.freeze([]) as unknown as string[],
});

/** No catalog, no windows. */
export const EMPTY_CONTEXT: RuleContext = Object.freeze({ factsFor: () => NO_CONTEXT_FACTS });

/** The context files, by what they hold. */
const FILES = { catalog: 'catalog.json', maintenance: 'maintenance.json' } as const;

/** Entities whose service and windows are remembered; the memory is emptied when it is full. */
const MAX_CACHED_ENTITIES = 100_000;

/** What one entity's facts depend on besides the time, worked out once. */
interface EntityContext {
  readonly idle: ContextFacts;
  readonly windows: readonly MaintenanceWindow[];
  readonly during: Map<string, ContextFacts>;
}

/** The context of a checked catalog and windows, with each entity's service and windows remembered. */
class CheckedContext implements RuleContext {
  private readonly entities = new Map<string, EntityContext>();

  constructor(
    private readonly catalog: Catalog,
    private readonly windows: readonly MaintenanceWindow[],
  ) {}

  factsFor(entity: string, atMs: number): ContextFacts {
    let known = this.entities.get(entity);
    if (known === undefined) {
      if (this.entities.size >= MAX_CACHED_ENTITIES) this.entities.clear();
      known = this.resolve(entity);
      this.entities.set(entity, known);
    }
    for (const w of known.windows) {
      if (!w.covers(atMs)) continue;
      let facts = known.during.get(w.name);
      if (facts === undefined) {
        facts = Object.freeze({ ...known.idle, maintenance: true, maintenanceWindow: w.name });
        known.during.set(w.name, facts);
      }
      return facts;
    }
    return known.idle;
  }

  private resolve(entity: string): EntityContext {
    const service: Service | undefined = this.catalog.serviceOf(entity);
    const idle: ContextFacts = service
      ? Object.freeze({
          ...NO_CONTEXT_FACTS,
          service: service.name,
          owner: service.owner,
          tier: service.tier,
          labels: service.labels as Record<string, string>,
          dependencies: service.dependencies as string[],
        })
      : NO_CONTEXT_FACTS;
    const windows = this.windows.filter((w) => w.appliesTo(entity, service?.name));
    return { idle, windows, during: new Map() };
  }
}

/**
 * Checks the context files' texts (either may be absent: no services, no windows) and builds the
 * context rules see. `context` is EMPTY_CONTEXT unless `problems` is empty; each problem names
 * the file, the JSON path and the fix, so decide can refuse a bad set and keep the last good one.
 */
export function parseContext(files: {
  catalog?: { file: string; text: string };
  maintenance?: { file: string; text: string };
}): { context: RuleContext; problems: string[] } {
  const catalog = files.catalog
    ? parseCatalog(files.catalog.file, files.catalog.text)
    : { catalog: EMPTY_CATALOG, names: [], problems: [] };
  const maintenance = files.maintenance
    ? parseMaintenance(files.maintenance.file, files.maintenance.text, catalog.names)
    : { windows: [], problems: [] };
  const problems = [...catalog.problems, ...maintenance.problems];
  if (problems.length > 0) return { context: EMPTY_CONTEXT, problems };
  if (catalog.catalog === EMPTY_CATALOG && maintenance.windows.length === 0)
    return { context: EMPTY_CONTEXT, problems };
  return { context: new CheckedContext(catalog.catalog, maintenance.windows), problems };
}

/**
 * Reads and checks the context folder (`<rules dir>/context`): catalog.json and maintenance.json.
 * A missing folder or file means no services or no windows; any other `.json` file there is a
 * problem (a misspelt name would otherwise drop the windows without a word). `files` lists the
 * files read.
 */
export function loadContextDir(dir: string): { context: RuleContext; problems: string[]; files: string[] } {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { context: EMPTY_CONTEXT, problems: [], files: [] };
    return {
      context: EMPTY_CONTEXT,
      problems: [`${dir}: cannot read the context folder (${code ?? 'error'})`],
      files: [],
    };
  }
  const problems: string[] = [];
  const known: readonly string[] = Object.values(FILES);
  for (const name of names.sort()) {
    if (name.endsWith('.json') && !known.includes(name))
      problems.push(`${name}: not a context file; the context folder holds ${list(known)}`);
  }
  const texts: Parameters<typeof parseContext>[0] = {};
  const files: string[] = [];
  for (const [what, name] of Object.entries(FILES) as Array<[keyof typeof FILES, string]>) {
    if (!names.includes(name)) continue;
    const file = path.join(dir, name);
    try {
      texts[what] = { file, text: fs.readFileSync(file, 'utf8') };
      files.push(file);
    } catch (err) {
      problems.push(`${name}: cannot read it (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  const parsed = parseContext(texts);
  problems.push(...parsed.problems);
  return { context: problems.length > 0 ? EMPTY_CONTEXT : parsed.context, problems, files };
}

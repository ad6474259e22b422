/**
 * How a source's labels or attributes become an entity id and its metric names become ours: one
 * mapping per source, from `<source>.json` in AUTOGLM_INGEST_MAPPINGS_DIR or the source's default.
 * A record whose labels lack what the template names maps to no entity and is refused, never guessed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { MAX_LABEL_VALUE, MAX_LABELS, MAX_METRIC_NAME } from '../common/contracts.js';
import { compileGlob, type Glob } from '../common/glob.js';

const TEMPLATE_KEY = /\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}/g;
const ENTITY_ID = /^[A-Za-z0-9][A-Za-z0-9._:/@-]*$/;
const FEATURE_NAME = /^[a-z][a-z0-9_]*$/;
const LABEL_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** An empty, "." or ".." segment of a /-separated id. */
const DOT_SEGMENT = /(?:^|\/)\.{0,2}(?:\/|$)/;

/** The mapping file's shape (also a source's default). */
export const mappingSpecSchema = z.strictObject({
  /** The entity id built from labels/attributes, e.g. `{{namespace}}/{{pod}}` or `{{service.name}}/{{k8s.pod.name}}`. */
  entity: z
    .string()
    .min(1)
    .max(400)
    .refine(
      (t) => [...t.matchAll(TEMPLATE_KEY)].length > 0,
      'must name at least one label, e.g. "{{namespace}}/{{pod}}"',
    ),
  /** Source metric name → our metric name (`container_memory_working_set_percent` → `mem`). */
  metrics: z
    .record(
      z.string().min(1),
      z
        .string()
        .regex(FEATURE_NAME, 'use lower-case letters, digits and _ (e.g. "cpu")')
        .max(MAX_METRIC_NAME),
    )
    .default({}),
  /**
   * Names not in `metrics`: `true` passes them through, lower-cased with every other character than
   * a-z, 0-9 and _ turned into _ (`http.server.duration` → `http_server_duration`); `false` refuses them.
   */
  passThrough: z.boolean().default(true),
  /**
   * Source metric names (globs: `*` any run of characters) whose records are dropped, counted and not
   * refused: what the sender always sends and no entity has (Prometheus's `up`, `scrape_*`).
   */
  drop: z.array(z.string().min(1).max(200)).max(256).default([]),
  /** Labels/attributes copied onto each sample's `labels` (keys with . become _); none by default. */
  labels: z.array(z.string().min(1)).max(MAX_LABELS).default([]),
});
export type MappingSpec = z.input<typeof mappingSpecSchema>;

/** The entity a record maps to, or why it maps to none. */
export type EntityResult = { ok: true; entity: string } | { ok: false; message: string };

/** Looks a label or attribute up by name; undefined (or '') when the record has none. */
export type LabelLookup = (key: string) => string | undefined;

/** Most metric names remembered per mapping (a stream of unique names must not grow memory). */
const NAME_CACHE = 10_000;

/** A parsed mapping: builds entity ids and metric names. */
export class Mapping {
  private readonly parts: ReadonlyArray<{ literal: string } | { key: string }>;
  private readonly keys: readonly string[];
  private readonly metrics: ReadonlyMap<string, string>;
  private readonly passThrough: boolean;
  /** The labels copied onto samples: source key → our label key. */
  readonly labels: ReadonlyArray<readonly [string, string]>;
  private readonly names = new Map<string, string | null>();
  private readonly dropped = new Map<string, boolean>();
  private readonly dropGlobs: readonly Glob[];

  constructor(readonly spec: z.output<typeof mappingSpecSchema>) {
    const parts: Array<{ literal: string } | { key: string }> = [];
    let at = 0;
    for (const m of spec.entity.matchAll(TEMPLATE_KEY)) {
      if (m.index > at) parts.push({ literal: spec.entity.slice(at, m.index) });
      parts.push({ key: m[1]! });
      at = m.index + m[0].length;
    }
    if (at < spec.entity.length) parts.push({ literal: spec.entity.slice(at) });
    this.parts = parts;
    this.keys = parts.flatMap((p) => ('key' in p ? [p.key] : []));
    this.metrics = new Map(Object.entries(spec.metrics));
    this.passThrough = spec.passThrough;
    this.dropGlobs = spec.drop.map(compileGlob);
    this.labels = spec.labels.map((k) => [k, k.replace(/[^A-Za-z0-9_]/g, '_')] as const);
  }

  /** Parses a spec (a file's JSON or a default); throws naming every bad field. */
  static of(spec: unknown, where = 'mapping'): Mapping {
    const parsed = mappingSpecSchema.safeParse(spec);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
      throw new Error(`${where}: ${issues.join('; ')}`);
    }
    return new Mapping(parsed.data);
  }

  /** The entity id the template builds from `lookup`, or which labels are missing or why it is no valid id. */
  entityOf(lookup: LabelLookup): EntityResult {
    let entity = '';
    let missing: string[] | undefined;
    for (const p of this.parts) {
      if ('literal' in p) {
        entity += p.literal;
        continue;
      }
      const v = lookup(p.key);
      if (v === undefined || v === '') (missing ??= []).push(p.key);
      else entity += v;
    }
    if (missing) {
      return {
        ok: false,
        message: `no ${missing.map((k) => `"${k}"`).join(', ')} for the entity template ${this.spec.entity}: add the label/attribute or change the mapping's "entity"`,
      };
    }
    const bad = entityProblem(entity);
    return bad
      ? { ok: false, message: `entity "${entity.slice(0, 200)}" from ${this.spec.entity} ${bad}` }
      : { ok: true, entity };
  }

  /** The labels/attributes the template names (for messages and dead letters). */
  get entityKeys(): readonly string[] {
    return this.keys;
  }

  /** True when the mapping drops records of this source metric name (its `drop` globs). */
  drops(name: string): boolean {
    if (this.dropGlobs.length === 0) return false;
    // Remembered per name: the same few names come in every request (a glob test allocates).
    let dropped = this.dropped.get(name);
    if (dropped === undefined) {
      dropped = this.dropGlobs.some((g) => g.test(name));
      if (this.dropped.size >= NAME_CACHE) this.dropped.clear();
      this.dropped.set(name, dropped);
    }
    return dropped;
  }

  /** Our metric name for a source's name, or undefined when the mapping neither renames nor passes it through. */
  metricOf(name: string): string | undefined {
    const cached = this.names.get(name);
    if (cached !== undefined) return cached ?? undefined;
    let ours: string | null = this.metrics.get(name) ?? null;
    if (ours === null && this.passThrough) {
      const normal = name.toLowerCase().replace(/[^a-z0-9_]/g, '_');
      ours = FEATURE_NAME.test(normal) && normal.length <= MAX_METRIC_NAME ? normal : null;
    }
    if (this.names.size >= NAME_CACHE) this.names.clear();
    this.names.set(name, ours);
    return ours ?? undefined;
  }

  /** Why `name` has no metric name of ours (for the refusal). */
  whyNoMetric(name: string): string {
    return this.passThrough
      ? `metric "${name.slice(0, 200)}" does not make a metric name (lower-case letters, digits and _, starting with a letter, at most ${MAX_METRIC_NAME}): rename it in the mapping's "metrics"`
      : `metric "${name.slice(0, 200)}" is not in the mapping's "metrics" and passThrough is false`;
  }

  /** The labels to copy onto a sample, or undefined when none is configured or present. */
  labelsOf(lookup: LabelLookup): Record<string, string> | undefined {
    if (this.labels.length === 0) return undefined;
    let out: Record<string, string> | undefined;
    for (const [from, to] of this.labels) {
      const v = lookup(from);
      if (v !== undefined && v !== '' && LABEL_KEY.test(to)) (out ??= {})[to] = v.slice(0, MAX_LABEL_VALUE);
    }
    return out;
  }
}

/** Why `id` is no entity id of the contracts, or undefined when it is one. */
function entityProblem(id: string): string | undefined {
  if (id.length > 200) return 'is longer than 200 characters';
  if (!ENTITY_ID.test(id))
    return 'has characters an entity id may not have (letters, digits and . _ : / @ -, starting with a letter or digit)';
  if (DOT_SEGMENT.test(id)) return 'has an empty, "." or ".." segment';
  return undefined;
}

/**
 * Every source's mapping: its `<name>.json` in `dir` when there is one, else its default. Returns
 * the problems of every file (unreadable, not JSON, bad fields) and sources with neither, all at once.
 */
export function loadMappings(
  dir: string,
  sources: ReadonlyArray<{ name: string; defaultMapping?: MappingSpec }>,
): { mappings: Map<string, Mapping>; problems: string[] } {
  const mappings = new Map<string, Mapping>();
  const problems: string[] = [];
  for (const source of sources) {
    const file = dir ? path.join(dir, `${source.name}.json`) : undefined;
    try {
      if (file && fs.existsSync(file)) {
        let json: unknown;
        try {
          json = JSON.parse(fs.readFileSync(file, 'utf8'));
        } catch (err) {
          throw new Error(`${file}: ${(err as Error).message}`);
        }
        mappings.set(source.name, Mapping.of(json, file));
      } else if (source.defaultMapping) {
        mappings.set(source.name, Mapping.of(source.defaultMapping, `${source.name}'s default mapping`));
      }
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  return { mappings, problems };
}

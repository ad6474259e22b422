/**
 * Renders a kustomization folder (deploy/k8s/base or an overlay) to its Kubernetes objects, for the
 * manifest tests and for anyone without kustomize: `npx tsx deploy/k8s/render.ts deploy/k8s/overlays/prod`
 * prints what `kubectl kustomize` prints for these folders. It knows only the kustomization fields
 * these folders use (resources, namespace, images, JSON 6902 patches with a kind and name target)
 * and refuses any other, so the two cannot quietly differ.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { isEntryPoint } from '../../services/common/service.js';

/** One rendered object: apiVersion, kind, metadata and the rest as the YAML says. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [field: string]: unknown;
}

interface Kustomization {
  resources?: string[];
  namespace?: string;
  images?: Array<{ name: string; newName?: string; newTag?: string }>;
  patches?: Array<{ path: string; target: { kind: string; name: string } }>;
}

const KNOWN_FIELDS = new Set(['apiVersion', 'kind', 'resources', 'namespace', 'images', 'patches']);

/** Every YAML document in `file`, as plain objects (empty documents skipped); a YAML error throws naming the file. */
export function readYamlFile(file: string): unknown[] {
  const docs = parseAllDocuments(fs.readFileSync(file, 'utf8'));
  return docs.flatMap((doc) => {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value: unknown = doc.toJS();
    return value === null || value === undefined ? [] : [value];
  });
}

/** The objects the kustomization in `dir` stands for, in order, with its namespace, images and patches applied. */
export function render(dir: string): K8sObject[] {
  const file = path.join(dir, 'kustomization.yaml');
  const [k] = readYamlFile(file) as [Kustomization & Record<string, unknown>];
  const unknown = Object.keys(k).filter((f) => !KNOWN_FIELDS.has(f));
  if (unknown.length > 0)
    throw new Error(
      `${file}: render.ts does not know ${unknown.join(', ')}; use only ${[...KNOWN_FIELDS].join(', ')}`,
    );

  const objects: K8sObject[] = [];
  for (const entry of k.resources ?? []) {
    const target = path.resolve(dir, entry);
    if (fs.statSync(target).isDirectory()) objects.push(...render(target));
    else objects.push(...(readYamlFile(target) as K8sObject[]));
  }
  for (const patch of k.patches ?? []) {
    const ops = readYamlFile(path.resolve(dir, patch.path))[0] as JsonPatchOp[];
    const name = new RegExp(`^(?:${patch.target.name})$`);
    const hits = objects.filter((o) => o.kind === patch.target.kind && name.test(o.metadata.name));
    if (hits.length === 0)
      throw new Error(
        `${file}: patch ${patch.path} matches no ${patch.target.kind} named ${patch.target.name}`,
      );
    for (const hit of hits) applyJsonPatch(hit, ops, `${patch.path} on ${hit.kind}/${hit.metadata.name}`);
  }
  for (const image of k.images ?? []) {
    for (const c of containersOf(objects)) {
      const [repo, tag] = splitImage(c.image);
      if (repo === image.name) c.image = `${image.newName ?? repo}:${image.newTag ?? tag}`;
    }
  }
  if (k.namespace) for (const o of objects) o.metadata.namespace = k.namespace;
  return objects;
}

/** The containers of every Deployment among `objects` (the objects themselves, not copies). */
export function containersOf(
  objects: readonly K8sObject[],
): Array<Record<string, unknown> & { name: string; image: string }> {
  return objects
    .filter((o) => o.kind === 'Deployment')
    .flatMap(
      (o) =>
        (o as unknown as { spec: { template: { spec: { containers: [] } } } }).spec.template.spec.containers,
    );
}

function splitImage(image: string): [string, string] {
  const at = image.lastIndexOf(':');
  return at > image.lastIndexOf('/') ? [image.slice(0, at), image.slice(at + 1)] : [image, 'latest'];
}

/** One RFC 6902 operation, the kinds the overlays use. */
export interface JsonPatchOp {
  op: 'add' | 'replace' | 'remove';
  path: string;
  value?: unknown;
}

/** Applies RFC 6902 add/replace/remove operations to `doc` in place; a path that is not there throws naming `what`. */
export function applyJsonPatch(doc: object, ops: readonly JsonPatchOp[], what: string): void {
  for (const { op, path: pointer, value } of ops) {
    const keys = pointer
      .split('/')
      .slice(1)
      .map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~'));
    const last = keys.pop();
    let parent: unknown = doc;
    for (const key of keys) {
      parent = (parent as Record<string, unknown> | undefined)?.[key];
      if (parent === undefined || parent === null || typeof parent !== 'object')
        throw new Error(`${what}: ${op} ${pointer}: ${key} is not there`);
    }
    if (last === undefined) throw new Error(`${what}: ${op} needs a path below the root`);
    const copy = structuredClone(value);
    if (Array.isArray(parent)) {
      const index = last === '-' ? parent.length : Number(last);
      if (
        !Number.isInteger(index) ||
        index < 0 ||
        index > parent.length ||
        (op !== 'add' && index >= parent.length)
      )
        throw new Error(`${what}: ${op} ${pointer}: no index ${last}`);
      if (op === 'add') parent.splice(index, 0, copy);
      else if (op === 'replace') parent[index] = copy;
      else parent.splice(index, 1);
    } else {
      const record = parent as Record<string, unknown>;
      if (op !== 'add' && !(last in record))
        throw new Error(`${what}: ${op} ${pointer}: ${last} is not there`);
      if (op === 'remove') delete record[last];
      else record[last] = copy;
    }
  }
}

if (isEntryPoint(import.meta.url)) {
  const dir = process.argv[2];
  if (!dir) {
    process.stderr.write('usage: npx tsx deploy/k8s/render.ts <kustomization folder>\n');
    process.exit(2);
  }
  process.stdout.write(
    render(dir)
      .map((o) => stringify(o))
      .join('---\n'),
  );
}

/**
 * Just enough of kustomize to render deploy/ and deploy/daemonset/ without a kustomize binary:
 * `resources` (YAML files and folders holding a kustomization) and `patches` given by `path`, as
 * strategic-merge patches made of maps only, or `$patch: delete`. Anything else (lists in a patch,
 * other kustomization fields, a patch whose target is missing) throws, so a manifest change this
 * cannot follow fails loudly instead of rendering something kustomize would not. Where kubectl is
 * installed the deploy tests also compare this rendering with `kubectl kustomize`.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';

export type Manifest = Record<string, unknown>;

interface Kustomization {
  readonly apiVersion?: unknown;
  readonly kind?: unknown;
  readonly resources?: unknown;
  readonly patches?: unknown;
}

const SUPPORTED_FIELDS = new Set(['apiVersion', 'kind', 'resources', 'patches']);

function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The YAML documents of `file`, empty ones left out; a parse error names the file. */
export function readManifests(file: string): Manifest[] {
  return parseAllDocuments(readFileSync(file, 'utf8')).flatMap((doc) => {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value: unknown = doc.toJS();
    if (value === null) return [];
    if (!isMap(value)) throw new Error(`${file}: a document is not a map`);
    return [value];
  });
}

/** `kind namespace/name`, the identity kustomize matches patches on. */
export function manifestId(m: Manifest): string {
  const meta = isMap(m['metadata']) ? m['metadata'] : {};
  return `${String(m['kind'])} ${String(meta['namespace'] ?? '')}/${String(meta['name'])}`;
}

function mergeMaps(target: Record<string, unknown>, patch: Record<string, unknown>, at: string): void {
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith('$')) throw new Error(`${at}.${key}: directive not supported here`);
    if (Array.isArray(value)) throw new Error(`${at}.${key}: list patches are not supported`);
    const current = target[key];
    if (isMap(value) && isMap(current)) mergeMaps(current, value, `${at}.${key}`);
    else target[key] = structuredClone(value);
  }
}

/** Renders the kustomization in `dir` into its objects, in resource order. */
export function renderKustomization(dir: string): Manifest[] {
  const [k] = readManifests(join(dir, 'kustomization.yaml')) as Kustomization[];
  if (k === undefined) throw new Error(`${dir}: empty kustomization.yaml`);
  if (k.apiVersion !== 'kustomize.config.k8s.io/v1beta1' || k.kind !== 'Kustomization')
    throw new Error(`${dir}: not a kustomize.config.k8s.io/v1beta1 Kustomization`);
  for (const field of Object.keys(k))
    if (!SUPPORTED_FIELDS.has(field)) throw new Error(`${dir}/kustomization.yaml: ${field} is not supported`);
  const resources = k.resources ?? [];
  const patches = k.patches ?? [];
  if (!Array.isArray(resources) || !Array.isArray(patches))
    throw new Error(`${dir}/kustomization.yaml: resources and patches are lists`);

  const objects: Manifest[] = resources.flatMap((entry: unknown) => {
    if (typeof entry !== 'string') throw new Error(`${dir}/kustomization.yaml: resource ${String(entry)}`);
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? renderKustomization(path) : readManifests(path);
  });

  for (const entry of patches) {
    if (!isMap(entry) || typeof entry['path'] !== 'string' || Object.keys(entry).length !== 1)
      throw new Error(`${dir}/kustomization.yaml: only patches given by path are supported`);
    const file = join(dir, entry['path']);
    for (const patch of readManifests(file)) {
      const id = manifestId(patch);
      const index = objects.findIndex((o) => manifestId(o) === id && o['apiVersion'] === patch['apiVersion']);
      if (index === -1) throw new Error(`${file}: no ${id} to patch`);
      const { $patch: directive, ...rest } = patch;
      if (directive === 'delete') objects.splice(index, 1);
      else if (directive === undefined) {
        const { apiVersion: _a, kind: _k, ...body } = rest;
        mergeMaps(objects[index]!, body, `${file}: ${id}`);
      } else throw new Error(`${file}: $patch: ${String(directive)} is not supported`);
    }
  }
  return objects;
}

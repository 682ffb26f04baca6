/**
 * `conflicts` makes every tie deterministic: the oldest Ingress wins (ingress-nginx
 * `sortIngressSlice`), and identical paths are recognised by one key.
 */
import type { Ingress, PathType } from '../objects.js';

function creationMillis(ingress: Ingress): number | undefined {
  const raw = ingress.metadata.creationTimestamp;
  if (raw === undefined) return undefined;
  const ms = Date.parse(raw);
  return Number.isNaN(ms) ? undefined : ms;
}

function namespacedName(ingress: Ingress): string {
  return `${ingress.metadata.namespace ?? ''}/${ingress.metadata.name}`;
}

/**
 * `compareAge` orders Ingresses oldest first: by `creationTimestamp`, then by namespace/name.
 * Objects without a (parseable) timestamp sort after every object with one, because file mode never
 * invents a timestamp and a cluster object should not lose to a hand-written file by accident.
 */
export function compareAge(a: Ingress, b: Ingress): number {
  const ta = creationMillis(a);
  const tb = creationMillis(b);
  if (ta !== undefined && tb !== undefined && ta !== tb) return ta - tb;
  if (ta !== undefined && tb === undefined) return -1;
  if (ta === undefined && tb !== undefined) return 1;
  const na = namespacedName(a);
  const nb = namespacedName(b);
  return na < nb ? -1 : na > nb ? 1 : 0;
}

/**
 * `prefixKey` is the lookup key of a Prefix (or ImplementationSpecific) path: the path without
 * trailing slashes, so `/foo/` and `/foo` are one rule and `/` is `''`. Prefix matching is
 * element-wise, and a trailing slash adds no element, so the two spellings match the same requests.
 */
export function prefixKey(path: string): string {
  let end = path.length;
  while (end > 0 && path.charCodeAt(end - 1) === 47) end--;
  return end === path.length ? path : path.slice(0, end);
}

/**
 * `matchClass` folds path types into the two matching behaviours Portico implements:
 * ImplementationSpecific is matched as Prefix (see src/model/README.md).
 */
export function matchClass(pathType: PathType): 'Exact' | 'Prefix' {
  return pathType === 'Exact' ? 'Exact' : 'Prefix';
}

/**
 * `routeKey` identifies what a path rule matches on a host. Two rules with the same key are a
 * conflict: `Prefix /foo`, `Prefix /foo/` and `ImplementationSpecific /foo` all share one key, while
 * `Exact /foo` and `Exact /foo/` differ (Exact compares the whole string). Regex paths conflict
 * only with the same pattern.
 */
export function routeKey(host: string, path: string, pathType: PathType, regex?: string): string {
  // A regex path (`use-regex`) is its pattern: `/foo/` and `/foo` are different patterns.
  if (regex !== undefined) return `${host} ~${regex}`;
  return matchClass(pathType) === 'Exact' ? `${host} =${path}` : `${host} ^${prefixKey(path)}`;
}

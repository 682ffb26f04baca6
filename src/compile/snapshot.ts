/**
 * `snapshot` compiles a `RoutingModel` into the lookup structure the data plane swaps atomically.
 * All `RouteMatch` objects are built and frozen here, so `match` allocates nothing per request.
 */
import type { BackendRef, DefaultBackendBinding, Route, RoutingModel } from '../model/types.js';
import { HostTable } from './host-match.js';
import { PathTable } from './path-match.js';
import type { RouteMatch, RouteSnapshot } from './types.js';

/** `NOT_FOUND` is the answer when nothing matches and no default backend exists (the built-in 404). */
export const NOT_FOUND: RouteMatch = Object.freeze({ kind: 'not-found' });

function defaultMatch(kind: 'host-default' | 'catch-all', binding: DefaultBackendBinding): RouteMatch {
  const backend: BackendRef = binding.backend;
  return Object.freeze({ kind, backend, ingress: binding.ingress });
}

function compareRoutes(a: Route, b: Route): number {
  // Translation already removed conflicts; this order only makes the table independent of input order.
  const ka = `${a.host}\u0000${a.path}\u0000${a.pathType}\u0000${a.ingress}\u0000${a.field}`;
  const kb = `${b.host}\u0000${b.path}\u0000${b.pathType}\u0000${b.ingress}\u0000${b.field}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/**
 * `compileSnapshot` builds the `RouteSnapshot` for `model`. Matching order, per request:
 * 1. the host rule the request host belongs to — precise host, else wildcard (`*` = one label),
 *    else the rules without host (`''`); host selection is final;
 * 2. within that host, the Exact rule equal to the path, else the longest element-wise Prefix rule;
 * 3. else that host's fallback: its `defaultBackend` binding, else the catch-all, else `not-found`.
 * Cost per lookup: two Map lookups for the host, one for Exact and one per `/` in the path.
 */
export function compileSnapshot(model: RoutingModel, generation: number): RouteSnapshot {
  const catchAll = model.catchAll ? defaultMatch('catch-all', model.catchAll) : NOT_FOUND;
  // One PathTable per rule host; its fallback is the host's default, else the catch-all.
  const building = new Map<string, PathTable<RouteMatch>>();
  const entryFor = (host: string): PathTable<RouteMatch> => {
    let entry = building.get(host);
    if (!entry) {
      const binding = model.hostDefaults.get(host);
      entry = new PathTable<RouteMatch>(binding ? defaultMatch('host-default', binding) : catchAll);
      building.set(host, entry);
    }
    return entry;
  };
  entryFor('');
  for (const host of model.hostDefaults.keys()) entryFor(host);
  for (const host of model.ruleHosts ?? []) entryFor(host);
  for (const route of [...model.routes].sort(compareRoutes)) {
    const match: RouteMatch = Object.freeze({
      kind: 'path',
      backend: route.backend,
      route,
      ingress: route.ingress,
    });
    entryFor(route.host).add(route.path, route.pathType, match);
  }

  const hosts = new HostTable<PathTable<RouteMatch>>();
  for (const [host, entry] of building) hosts.set(host, entry);
  const hostless = building.get('')!;

  const match = (host: string, path: string): RouteMatch => {
    const entry = hosts.lookup(host) ?? hostless;
    return entry.lookup(path) ?? entry.fallback;
  };
  return Object.freeze({ generation, model, match });
}

/**
 * `host-names` adds the names of the host-scoped settings to a compiled host table: a
 * `server-alias` shares its host's `PathTable` (so an alias lookup costs what a host lookup
 * costs, and answers with the same frozen matches), and the other name of a
 * `from-to-www-redirect` host gets a table that answers every path with a redirect to the host.
 */
import { DEFAULT_ROUTE_POLICY, type RoutingModel } from '../model/types.js';
import type { HostTable } from './host-match.js';
import { PathTable } from './path-match.js';
import type { RouteMatch } from './types.js';

/**
 * `addHostNames` registers aliases and www names in `hosts` and returns the redirect answers it
 * created. Names that are rule hosts (`building`) are never overridden; translation already
 * dropped them with a warning.
 */
export function addHostNames(
  model: RoutingModel,
  building: ReadonlyMap<string, PathTable<RouteMatch>>,
  hosts: HostTable<PathTable<RouteMatch>>,
): RouteMatch[] {
  const redirects: RouteMatch[] = [];
  if (model.hostSettings === undefined) return redirects;
  for (const [host, settings] of model.hostSettings) {
    const entry = building.get(host);
    if (entry === undefined) continue;
    for (const alias of settings.aliases ?? []) if (!building.has(alias)) hosts.set(alias, entry);
    const from = settings.redirectFrom;
    if (from === undefined || building.has(from)) continue;
    const ingress = settings.sources['from-to-www-redirect'];
    const answer: RouteMatch = Object.freeze({
      kind: 'host-redirect',
      policy: DEFAULT_ROUTE_POLICY,
      // The www name shares its host's certificate, so its HTTPS answers carry HSTS as the host's do.
      tlsHost: entry.fallback.tlsHost,
      hostRedirect: host,
      ...(ingress !== undefined ? { ingress } : {}),
    });
    hosts.set(from, new PathTable<RouteMatch>(answer));
    redirects.push(answer);
  }
  return redirects;
}

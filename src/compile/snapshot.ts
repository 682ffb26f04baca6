/**
 * `snapshot` compiles a `RoutingModel` into the lookup structure the data plane swaps atomically.
 * All `RouteMatch` objects are built and frozen here, so `match` allocates nothing per request.
 */
import {
  type BackendRef,
  type ClientAuthPolicy,
  DEFAULT_ROUTE_POLICY,
  type DefaultBackendBinding,
  type Route,
  type RoutingModel,
} from '../model/types.js';
import { RegexCache } from '../util/re2.js';
import { HostTable, hostMatches } from './host-match.js';
import { addHostNames } from './host-names.js';
import { PathTable } from './path-match.js';
import { prepareRewrite } from './rewrite.js';
import type { RouteMatch, RouteSnapshot } from './types.js';

/** `NOT_FOUND` is the answer when nothing matches and no default backend exists (the built-in 404). */
export const NOT_FOUND: RouteMatch = Object.freeze({
  kind: 'not-found',
  policy: DEFAULT_ROUTE_POLICY,
  tlsHost: false,
});

/** `HostFacts` are what a rule host adds to every answer given for it. */
interface HostFacts {
  readonly tlsHost: boolean;
  readonly clientAuth?: ClientAuthPolicy;
}

const PLAIN_HOST: HostFacts = Object.freeze({ tlsHost: false });

/** Regex paths compile once per pattern across snapshots, never per request. */
const regexCache = new RegexCache();

function defaultMatch(
  kind: 'host-default' | 'catch-all',
  binding: DefaultBackendBinding,
  facts: HostFacts,
): RouteMatch {
  const backend: BackendRef = binding.backend;
  return Object.freeze({
    kind,
    backend,
    ingress: binding.ingress,
    policy: binding.policy ?? DEFAULT_ROUTE_POLICY,
    ...facts,
  });
}

/**
 * `tlsCovers` says whether a rule host is listed in `spec.tls`: exactly, or by a TLS wildcard one
 * label up. A wildcard rule host counts only when the same wildcard is listed (a precise TLS name
 * under it covers only some of its requests). Rules without host never count.
 */
function tlsCovers(tlsHosts: ReadonlySet<string>, ruleHost: string): boolean {
  if (ruleHost === '') return false;
  if (tlsHosts.has(ruleHost)) return true;
  if (ruleHost.startsWith('*.')) return false;
  for (const tls of tlsHosts) if (tls.startsWith('*.') && hostMatches(tls, ruleHost)) return true;
  return false;
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
 *    on hosts with regex paths (`use-regex`), the first matching regex, longest pattern first, unless
 *    the longest matching Prefix rule is longer than that pattern (`PathTable.lookup`);
 * 3. else that host's fallback: its `defaultBackend` binding, else the catch-all, else `not-found`.
 * Cost per lookup: two Map lookups for the host, one for Exact and one per `/` in the path.
 */
export function compileSnapshot(model: RoutingModel, generation: number): RouteSnapshot {
  const catchAll = model.catchAll ? defaultMatch('catch-all', model.catchAll, PLAIN_HOST) : NOT_FOUND;
  const tlsHosts = new Set(model.tlsHosts ?? []);
  const factsByHost = new Map<string, HostFacts>();
  const factsOf = (host: string): HostFacts => {
    let facts = factsByHost.get(host);
    if (facts === undefined) {
      const clientAuth = model.clientAuth?.get(host);
      const tlsHost = tlsCovers(tlsHosts, host);
      facts =
        !tlsHost && clientAuth === undefined
          ? PLAIN_HOST
          : Object.freeze({ tlsHost, ...(clientAuth !== undefined ? { clientAuth } : {}) });
      factsByHost.set(host, facts);
    }
    return facts;
  };
  // One PathTable per rule host; its fallback is the host's default, else the catch-all. A host
  // with TLS or client authentication gets its own copy of the shared fallback, so that even its
  // 404s and catch-all answers carry the host's redirect and certificate rules.
  const building = new Map<string, PathTable<RouteMatch>>();
  const entryFor = (host: string): PathTable<RouteMatch> => {
    let entry = building.get(host);
    if (!entry) {
      const binding = model.hostDefaults.get(host);
      const facts = factsOf(host);
      let fallback: RouteMatch;
      if (binding) fallback = defaultMatch('host-default', binding, facts);
      else if (facts === PLAIN_HOST) fallback = catchAll;
      else fallback = Object.freeze({ ...catchAll, ...facts });
      entry = new PathTable<RouteMatch>(fallback);
      building.set(host, entry);
    }
    return entry;
  };
  entryFor('');
  for (const host of model.hostDefaults.keys()) entryFor(host);
  for (const host of model.ruleHosts ?? []) entryFor(host);
  const pathMatches: RouteMatch[] = [];
  for (const route of [...model.routes].sort(compareRoutes)) {
    const policy = route.policy ?? DEFAULT_ROUTE_POLICY;
    // Translation compile-checked every regex; one that still fails is left out, never thrown.
    const compiled = route.regex === undefined ? undefined : regexCache.get(route.regex, route.path);
    if (compiled !== undefined && !compiled.ok) continue;
    const regex = compiled?.regex;
    const rewrite = prepareRewrite(route, policy.rewrite, regex);
    const match: RouteMatch = Object.freeze({
      kind: 'path',
      backend: route.backend,
      route,
      ingress: route.ingress,
      policy,
      ...factsOf(route.host),
      ...(rewrite !== undefined ? { rewrite } : {}),
    });
    if (regex !== undefined) entryFor(route.host).addRegex(regex, route.path.length, match);
    else entryFor(route.host).add(route.path, route.pathType, match);
    pathMatches.push(match);
  }
  regexCache.end();

  const hosts = new HostTable<PathTable<RouteMatch>>();
  for (const [host, entry] of building) hosts.set(host, entry);
  const hostRedirects = addHostNames(model, building, hosts);
  const hostless = building.get('')!;

  const match = (host: string, path: string): RouteMatch => {
    const entry = hosts.lookup(host) ?? hostless;
    return entry.lookup(path) ?? entry.fallback;
  };
  const answers = new Set<RouteMatch>(pathMatches);
  for (const entry of building.values()) answers.add(entry.fallback);
  for (const redirect of hostRedirects) answers.add(redirect);
  const matches = Object.freeze([...answers]);
  return Object.freeze({ generation, model, match, matches });
}

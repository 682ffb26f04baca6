/**
 * `canary` attaches canary Ingresses to main routes, as ingress-nginx's
 * `mergeAlternativeBackends`: a canary path joins the main route with the same host, path and
 * pathType; it never becomes a route, a host default or a catch-all of its own. Only the
 * canary's upstream-level settings apply to it (affinity under `affinity-canary-behavior: legacy`,
 * `load-balance`, `upstream-hash-by`); everything else is the main route's.
 */
import type { CanaryAnnotations } from '../annotations/canary.js';
import type { Diagnostic } from '../diagnostics.js';
import type { IngressBackend, IngressSpec, PathType } from '../objects.js';
import {
  type BackendRef,
  type CanaryRule,
  DEFAULT_ROUTE_POLICY,
  type Route,
  type RoutePolicy,
} from '../types.js';
import { routeKey } from './conflicts.js';
import type { DiagnosticFactory } from './locate.js';

/** `CanaryIngress` is one served canary Ingress, as translation hands it over (oldest first). */
export interface CanaryIngress {
  /** `"namespace/name"`. */
  readonly key: string;
  readonly spec: IngressSpec;
  readonly canary: CanaryAnnotations & { readonly affinityBehavior: 'sticky' | 'legacy' };
  /** The canary Ingress's own policy (only its affinity and load balancing are used). */
  readonly policy: RoutePolicy;
  readonly make: DiagnosticFactory;
  /** Resolves a backend of this Ingress, reporting broken references. */
  readonly resolve: (backend: IngressBackend, field: string) => BackendRef;
}

function describeHost(host: string): string {
  return host === '' ? 'rules without host' : `host "${host}"`;
}

/**
 * `canaryPolicy` is the policy a canary's requests run with: the main route's, with the canary's
 * load balancing, and affinity as `affinity-canary-behavior` says (`sticky`: the main's, so the
 * main's cookie keeps a client on whichever backend served it; `legacy`: the canary's own).
 */
export function canaryPolicy(
  main: RoutePolicy,
  own: RoutePolicy,
  behavior: 'sticky' | 'legacy',
): RoutePolicy | undefined {
  const affinity = behavior === 'sticky' ? main.affinity : own.affinity;
  const { affinity: _a, loadBalance: _l, ...rest } = main;
  const policy: RoutePolicy = Object.freeze({
    ...rest,
    ...(affinity !== undefined ? { affinity } : {}),
    ...(own.loadBalance !== undefined ? { loadBalance: own.loadBalance } : {}),
  });
  return main === DEFAULT_ROUTE_POLICY && affinity === undefined && own.loadBalance === undefined
    ? undefined
    : policy;
}

/**
 * `attachCanaries` gives routes their canary (in place: `routes` entries are replaced). The
 * oldest canary of a route wins; a younger one, a canary without a main route and a canary
 * pointing at the main route's own backend are reported and ignored.
 */
export function attachCanaries(
  routes: Route[],
  canaries: readonly CanaryIngress[],
  diagnostics: Diagnostic[],
): void {
  if (canaries.length === 0) return;
  const byKey = new Map<string, number>();
  routes.forEach((route, i) => {
    byKey.set(routeKey(route.host, route.path, route.pathType), i);
  });
  const attach = (
    c: CanaryIngress,
    index: number,
    backend: BackendRef,
    field: string,
    what: string,
  ): void => {
    const route = routes[index] as Route;
    if (route.canary !== undefined) {
      if (route.canary.ingress === c.key) return; // its defaultBackend after its own path
      diagnostics.push(
        c.make(
          'warning',
          'PORTICO_WARN_CANARY',
          field,
          `canary for ${what} is ignored: Ingress ${route.canary.ingress} (older) is already its canary; only one canary per path`,
        ),
      );
      return;
    }
    if (backend.key === route.backend.key) {
      diagnostics.push(
        c.make(
          'warning',
          'PORTICO_WARN_CANARY',
          field,
          `canary for ${what} is ignored: it points at the main route's own backend ${backend.key}`,
        ),
      );
      return;
    }
    const policy = canaryPolicy(route.policy ?? DEFAULT_ROUTE_POLICY, c.policy, c.canary.affinityBehavior);
    const rule: CanaryRule = Object.freeze({
      backend,
      ingress: c.key,
      ...(c.canary.byHeader !== undefined ? { byHeader: c.canary.byHeader } : {}),
      ...(c.canary.byHeaderValue !== undefined ? { byHeaderValue: c.canary.byHeaderValue } : {}),
      ...(c.canary.byHeaderPattern !== undefined ? { byHeaderPattern: c.canary.byHeaderPattern } : {}),
      ...(c.canary.byCookie !== undefined ? { byCookie: c.canary.byCookie } : {}),
      weight: c.canary.weight,
      weightTotal: c.canary.weightTotal,
      ...(policy !== undefined ? { policy } : {}),
    });
    routes[index] = Object.freeze({ ...route, canary: rule });
  };

  for (const c of canaries) {
    const rules = c.spec.rules ?? [];
    rules.forEach((rule, i) => {
      const host = (rule.host ?? '').toLowerCase();
      (rule.http?.paths ?? []).forEach((entry, j) => {
        const field = `spec.rules[${i}].http.paths[${j}]`;
        const path = entry.path === undefined || entry.path === '' ? '/' : entry.path;
        const pathType = entry.pathType as PathType;
        const what = `path "${path}" (${pathType}) on ${describeHost(host)}`;
        const index = byKey.get(routeKey(host, path, pathType));
        if (index === undefined || (routes[index] as Route).pathType !== pathType) {
          diagnostics.push(
            c.make(
              'warning',
              'PORTICO_WARN_CANARY',
              `${field}.path`,
              `canary for ${what} is ignored: no main Ingress serves this host, path and pathType (a canary never serves on its own)`,
            ),
          );
          return;
        }
        attach(c, index, c.resolve(entry.backend, `${field}.backend`), `${field}.backend`, what);
      });
    });
    if (c.spec.defaultBackend !== undefined) {
      // ingress-nginx merges a canary's defaultBackend into every location of its default server:
      // here, the routes of rules without host.
      const targets = routes.flatMap((r, i) => (r.host === '' ? [i] : []));
      if (targets.length === 0) {
        diagnostics.push(
          c.make(
            'warning',
            'PORTICO_WARN_CANARY',
            'spec.defaultBackend',
            'canary spec.defaultBackend is ignored: no main Ingress has rules without host (a canary is never the catch-all)',
          ),
        );
        continue;
      }
      const backend = c.resolve(c.spec.defaultBackend, 'spec.defaultBackend');
      for (const index of targets) {
        const route = routes[index] as Route;
        attach(
          c,
          index,
          backend,
          'spec.defaultBackend',
          `path "${route.path}" (${route.pathType}) on rules without host`,
        );
      }
    }
  }
}

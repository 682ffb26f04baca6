/**
 * `fake-snapshot` builds RouteSnapshots for data-plane tests from a short route list, through
 * the real `compileSnapshot` (so matching semantics are the routing core's), plus endpoint
 * tables pointing at test backends.
 */
import { compileSnapshot } from '../../src/compile/snapshot.js';
import type { RouteSnapshot } from '../../src/compile/types.js';
import type { EndpointTable, UpstreamEndpoint } from '../../src/endpoints/types.js';
import type { PathType } from '../../src/model/objects.js';
import type { BackendRef, Route, RoutePolicy, RoutingModel } from '../../src/model/types.js';
import { backendKey } from '../../src/util/keys.js';

/** `backendRef` returns a resolved backend `ns/service:port`. */
export function backendRef(service: string, port = 80, namespace = 'default'): BackendRef {
  return {
    key: backendKey(namespace, service, port),
    namespace,
    service,
    port,
    target: { kind: 'endpoints', servicePortName: '', servicePort: port },
  };
}

/** `brokenBackend` returns a backend whose reference is broken (answers 503). */
export function brokenBackend(
  service: string,
  problem: string,
  port = 80,
  namespace = 'default',
): BackendRef {
  return { key: backendKey(namespace, service, port), namespace, service, port, problem };
}

export interface RouteSpec {
  readonly host?: string;
  readonly path?: string;
  readonly pathType?: PathType;
  readonly backend: BackendRef;
  readonly ingress?: string;
  readonly policy?: RoutePolicy;
}

export interface SnapshotSpec {
  readonly generation?: number;
  readonly catchAll?: BackendRef;
  readonly hostDefaults?: ReadonlyMap<string, BackendRef>;
}

/** `modelOf` builds a RoutingModel from route specs. */
export function modelOf(routes: readonly RouteSpec[], spec: SnapshotSpec = {}): RoutingModel {
  const built: Route[] = routes.map((r, i) => ({
    host: r.host ?? '',
    path: r.path ?? '/',
    pathType: r.pathType ?? 'Prefix',
    backend: r.backend,
    ingress: r.ingress ?? 'default/test',
    field: `spec.rules[0].http.paths[${i}]`,
    ...(r.policy !== undefined ? { policy: r.policy } : {}),
  }));
  const hostDefaults = new Map(
    [...(spec.hostDefaults ?? new Map<string, BackendRef>())].map(([host, backend]) => [
      host,
      { backend, ingress: 'default/test' },
    ]),
  );
  return {
    routes: built,
    hostDefaults,
    ...(spec.catchAll === undefined
      ? {}
      : { catchAll: { backend: spec.catchAll, ingress: 'default/catch-all' } }),
    ingresses: [{ ingress: 'default/test', state: 'served', reason: '' }],
    diagnostics: [],
  };
}

/** `snapshotOf` compiles route specs into a RouteSnapshot. */
export function snapshotOf(routes: readonly RouteSpec[], spec: SnapshotSpec = {}): RouteSnapshot {
  return compileSnapshot(modelOf(routes, spec), spec.generation ?? 1);
}

/** `endpointsOf` builds an endpoint table: backend → `host:port` strings (IPv4 loopback). */
export function endpointsOf(
  entries: Record<string, readonly { host: string; port: number }[]>,
): EndpointTable {
  const table = new Map<string, readonly UpstreamEndpoint[]>();
  for (const [key, list] of Object.entries(entries)) {
    table.set(
      key,
      list.map((e) => ({ address: e.host, port: e.port, kind: 'ip' as const })),
    );
  }
  return table;
}

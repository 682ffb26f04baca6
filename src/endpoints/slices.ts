/**
 * `slices` turns EndpointSlices into the endpoint table: the ready addresses behind every backend
 * key. It runs on every EndpointSlice change without re-translating routes (DESIGN §1, fast path).
 */
import type { EndpointSlice } from '../model/objects.js';
import { SERVICE_NAME_LABEL } from '../model/objects.js';
import type { BackendRef, RoutePolicy, RoutingModel } from '../model/types.js';
import type { EndpointTable, UpstreamEndpoint } from './types.js';

const DEFAULT_NAMESPACE = 'default';

/**
 * `collectBackends` lists every backend the model can answer with — path routes, per-host defaults
 * and the catch-all — once per key, in first-seen order.
 */
export function collectBackends(model: RoutingModel): BackendRef[] {
  const seen = new Map<string, BackendRef>();
  const add = (ref: BackendRef): void => {
    if (!seen.has(ref.key)) seen.set(ref.key, ref);
  };
  // Error backends (`custom-http-errors` + `default-backend`) need endpoints like any backend.
  const addError = (policy: RoutePolicy | undefined): void => {
    const errors = policy?.customErrors?.backend;
    if (errors !== undefined) add(errors);
  };
  for (const route of model.routes) {
    add(route.backend);
    addError(route.policy);
    if (route.canary !== undefined) add(route.canary.backend);
  }
  for (const binding of model.hostDefaults.values()) {
    add(binding.backend);
    addError(binding.policy);
  }
  if (model.catchAll) {
    add(model.catchAll.backend);
    addError(model.catchAll.policy);
  }
  return [...seen.values()];
}

function compareEndpoints(a: UpstreamEndpoint, b: UpstreamEndpoint): number {
  if (a.address !== b.address) return a.address < b.address ? -1 : 1;
  return a.port - b.port;
}

/**
 * `buildEndpointTable` maps each backend key to its usable endpoints:
 * - `endpoints` targets: EndpointSlices in the backend's namespace labelled
 *   `kubernetes.io/service-name=<service>`, the slice port whose name equals the Service port's
 *   name (`''` and absent are the same unnamed port), endpoints whose `conditions.ready` is not
 *   `false` (absent means ready, per discovery.k8s.io/v1), IPv4 and IPv6 slices only (FQDN slices
 *   are skipped); deduplicated by address and port and sorted, so equal input gives an equal table;
 * - `external-name` targets: one DNS endpoint;
 * - backends with a `problem` (or no target): no entry at all.
 */
export function buildEndpointTable(
  slices: readonly EndpointSlice[],
  backends: Iterable<BackendRef>,
): EndpointTable {
  // Index slices once by "namespace/service" so the cost is linear in slices plus backends.
  const byService = new Map<string, EndpointSlice[]>();
  for (const slice of slices) {
    const service = slice.metadata.labels?.[SERVICE_NAME_LABEL];
    if (service === undefined) continue;
    if (slice.addressType !== 'IPv4' && slice.addressType !== 'IPv6') continue;
    const key = `${slice.metadata.namespace ?? DEFAULT_NAMESPACE}/${service}`;
    const list = byService.get(key);
    if (list) list.push(slice);
    else byService.set(key, [slice]);
  }

  const table = new Map<string, readonly UpstreamEndpoint[]>();
  for (const backend of backends) {
    if (backend.problem !== undefined || backend.target === undefined || table.has(backend.key)) continue;
    const target = backend.target;
    if (target.kind === 'external-name') {
      table.set(
        backend.key,
        Object.freeze([Object.freeze({ address: target.hostname, port: target.port, kind: 'dns' })]),
      );
      continue;
    }
    if (target.kind === 'cluster-ip') {
      // kube-proxy balances the ClusterIP; EndpointSlice changes never touch this backend.
      table.set(
        backend.key,
        Object.freeze([Object.freeze({ address: target.address, port: target.port, kind: 'ip' })]),
      );
      continue;
    }
    const unique = new Map<string, UpstreamEndpoint>();
    for (const slice of byService.get(`${backend.namespace}/${backend.service}`) ?? []) {
      const port = slice.ports?.find((p) => (p.name ?? '') === target.servicePortName)?.port;
      if (port === undefined) continue;
      for (const endpoint of slice.endpoints ?? []) {
        if (endpoint.conditions?.ready === false) continue;
        for (const address of endpoint.addresses ?? []) {
          const id = `${address}|${port}`;
          if (!unique.has(id)) unique.set(id, Object.freeze({ address, port, kind: 'ip' }));
        }
      }
    }
    table.set(backend.key, Object.freeze([...unique.values()].sort(compareEndpoints)));
  }
  return table;
}

/**
 * `readyPods` counts the distinct ready endpoint addresses of one Service across its slices: for
 * `--publish-service`, the number of ready Portico replicas sharing a rate limit.
 */
export function readyPods(slices: readonly EndpointSlice[], namespace: string, service: string): number {
  const addresses = new Set<string>();
  for (const slice of slices) {
    if (slice.metadata.labels?.[SERVICE_NAME_LABEL] !== service) continue;
    if ((slice.metadata.namespace ?? DEFAULT_NAMESPACE) !== namespace) continue;
    for (const endpoint of slice.endpoints ?? []) {
      if (endpoint.conditions?.ready === false) continue;
      const first = endpoint.addresses?.[0];
      if (first !== undefined) addresses.add(first);
    }
  }
  return addresses.size;
}

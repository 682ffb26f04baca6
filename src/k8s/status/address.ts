/**
 * `address` works out what Portico writes into `status.loadBalancer.ingress` of the Ingresses it
 * serves: the `--publish-status-address` list, or the addresses of the `--publish-service` Service
 * (ingress-nginx's `statusAddressFromService`, plus its node-address fallback for NodePort).
 */
import { isIP } from 'node:net';
import type { LoadBalancerIngress, Service } from '../../model/objects.js';
import type { ObjectStore } from '../../store/object-store.js';

/** `PodPlacement` is what address resolution needs to know about one pod behind the publish Service. */
export interface PodPlacement {
  readonly nodeName?: string;
  /** `status.phase`, e.g. `Running`. */
  readonly phase?: string;
  /** True when `metadata.deletionTimestamp` is set: the pod is going away. */
  readonly terminating: boolean;
}

/** `NodeAddress` is one entry of a Node's `status.addresses`. */
export interface NodeAddress {
  /** `ExternalIP`, `InternalIP`, `Hostname`, … */
  readonly type: string;
  readonly address: string;
}

/**
 * `NodeLookup` is the API access a NodePort publish Service needs: the pods its selector picks
 * (pods list) and the addresses of their nodes (nodes get). Both are in `permissions.ts`.
 */
export interface NodeLookup {
  listPods(namespace: string, selector: Readonly<Record<string, string>>): Promise<readonly PodPlacement[]>;
  /** Undefined when the node does not exist (any more). */
  getNodeAddresses(name: string): Promise<readonly NodeAddress[] | undefined>;
}

/** `PublishSource` is the `--publish-service` / `--publish-status-address` part of the configuration. */
export interface PublishSource {
  readonly publishService?: { readonly namespace: string; readonly name: string };
  readonly publishStatusAddresses: readonly string[];
}

/**
 * `PublishAddresses` is the outcome of address resolution: the addresses to publish, or `unknown`
 * when they cannot be known right now (the publish Service is not in the store yet). Unknown must not
 * be written: an empty list would clear every served Ingress' status on a cache miss.
 */
export type PublishAddresses =
  | { readonly kind: 'known'; readonly addresses: readonly LoadBalancerIngress[] }
  | { readonly kind: 'unknown'; readonly reason: string }
  | { readonly kind: 'disabled' };

/**
 * `addressesFromList` turns `--publish-status-address` values into status entries: an IP becomes
 * `{ip}`, anything else `{hostname}` (ingress-nginx `sliceToStatus`). Sorted and deduplicated.
 */
export function addressesFromList(values: readonly string[]): LoadBalancerIngress[] {
  return normalizeAddresses(
    values
      .map((v) => v.trim())
      .filter((v) => v !== '')
      .map((v) => (isIP(v) !== 0 ? { ip: v } : { hostname: v })),
  );
}

/**
 * `addressesFromService` reads a publish Service's addresses without API calls, when its type allows:
 * LoadBalancer → its `status.loadBalancer.ingress` plus `spec.externalIPs`; NodePort with
 * `spec.externalIPs` → those; ExternalName → its DNS name; ClusterIP → its cluster IP. A NodePort
 * Service without external IPs returns `'nodes'`: the caller must look up the nodes running the pods.
 */
export function addressesFromService(service: Service): LoadBalancerIngress[] | 'nodes' {
  const spec = service.spec ?? {};
  const externalIPs = (spec.externalIPs ?? []).map((ip) => ({ ip }));
  switch (spec.type) {
    case 'LoadBalancer': {
      const lb = (service.status?.loadBalancer?.ingress ?? []).map(pickAddress);
      return normalizeAddresses([...lb, ...externalIPs]);
    }
    case 'NodePort':
      return externalIPs.length > 0 ? normalizeAddresses(externalIPs) : 'nodes';
    case 'ExternalName':
      return spec.externalName ? [{ hostname: spec.externalName }] : [];
    default: {
      // ClusterIP (the default type): only reachable inside the cluster, but it is what the Service
      // has; ingress-nginx publishes it too.
      const ip = spec.clusterIP;
      return ip && ip !== 'None'
        ? normalizeAddresses([{ ip }, ...externalIPs])
        : normalizeAddresses(externalIPs);
    }
  }
}

/**
 * `nodeAddress` picks the address to publish for a node: ExternalIP, else InternalIP (ingress-nginx
 * `GetNodeIPOrName` without `--report-node-internal-ip-address`). Undefined when it has neither.
 */
export function nodeAddress(addresses: readonly NodeAddress[]): string | undefined {
  return (
    addresses.find((a) => a.type === 'ExternalIP' && a.address !== '')?.address ??
    addresses.find((a) => a.type === 'InternalIP' && a.address !== '')?.address
  );
}

/**
 * `resolvePublishAddresses` returns the addresses to publish now. `--publish-status-address` wins
 * over `--publish-service` (as in ingress-nginx); with neither, status writing is disabled. A NodePort
 * publish Service without external IPs is resolved through `lookup`: its selector's running pods →
 * their nodes → each node's ExternalIP, else InternalIP. Lookup errors propagate (the caller retries).
 */
export async function resolvePublishAddresses(
  source: PublishSource,
  store: ObjectStore,
  lookup: NodeLookup,
): Promise<PublishAddresses> {
  if (source.publishStatusAddresses.length > 0)
    return { kind: 'known', addresses: addressesFromList(source.publishStatusAddresses) };
  const ref = source.publishService;
  if (ref === undefined) return { kind: 'disabled' };
  const stored = store.get('Service', ref.namespace, ref.name);
  if (stored === undefined)
    return { kind: 'unknown', reason: `publish Service ${ref.namespace}/${ref.name} not found` };
  const fromService = addressesFromService(stored.object);
  if (fromService !== 'nodes') return { kind: 'known', addresses: fromService };
  const selector = stored.object.spec?.selector ?? {};
  // A Service without selector picks no pods; listing with an empty selector would pick them all.
  if (Object.keys(selector).length === 0) return { kind: 'known', addresses: [] };
  const pods = await lookup.listPods(ref.namespace, selector);
  const nodes = new Set<string>();
  for (const pod of pods) {
    // ingress-nginx counts only running pods: a pending or terminating replica does not serve.
    if (pod.phase !== 'Running' || pod.terminating || !pod.nodeName) continue;
    nodes.add(pod.nodeName);
  }
  const addresses: LoadBalancerIngress[] = [];
  for (const node of [...nodes].sort()) {
    const nodeAddresses = await lookup.getNodeAddresses(node);
    const address = nodeAddresses === undefined ? undefined : nodeAddress(nodeAddresses);
    if (address !== undefined) addresses.push(isIP(address) !== 0 ? { ip: address } : { hostname: address });
  }
  return { kind: 'known', addresses: normalizeAddresses(addresses) };
}

/**
 * `normalizeAddresses` keeps only `ip` and `hostname` (the fields Portico manages), drops empty and
 * duplicate entries and sorts by IP, then hostname. ingress-nginx sorts by IP only (stable); the
 * hostname tiebreak makes the order total, so the same set always compares equal.
 */
export function normalizeAddresses(entries: readonly LoadBalancerIngress[]): LoadBalancerIngress[] {
  const seen = new Set<string>();
  const out: LoadBalancerIngress[] = [];
  for (const entry of entries) {
    const address = pickAddress(entry);
    if (address.ip === undefined && address.hostname === undefined) continue;
    const key = `${address.ip ?? ''}\u0000${address.hostname ?? ''}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(address);
  }
  return out.sort((a, b) => compare(a.ip ?? '', b.ip ?? '') || compare(a.hostname ?? '', b.hostname ?? ''));
}

/** `sameAddresses` compares two status lists as sets of `{ip, hostname}` (order, ports ignored). */
export function sameAddresses(
  a: readonly LoadBalancerIngress[] | undefined,
  b: readonly LoadBalancerIngress[] | undefined,
): boolean {
  const x = normalizeAddresses(a ?? []);
  const y = normalizeAddresses(b ?? []);
  return x.length === y.length && x.every((e, i) => e.ip === y[i]?.ip && e.hostname === y[i]?.hostname);
}

function pickAddress(entry: LoadBalancerIngress): LoadBalancerIngress {
  const ip = entry.ip || undefined;
  const hostname = entry.hostname || undefined;
  return { ...(ip !== undefined ? { ip } : {}), ...(hostname !== undefined ? { hostname } : {}) };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

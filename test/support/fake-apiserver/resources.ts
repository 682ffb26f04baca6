/**
 * `resources` is the fake API server's table of served kinds: what the real apiserver's discovery
 * documents say about each (group, version, plural, kind, scope, subresources, verbs), plus which
 * server-side behaviours apply (generation tracking, status reset on create).
 */

/** `ResourceInfo` describes one served resource, as discovery would. */
export interface ResourceInfo {
  readonly group: string;
  readonly version: string;
  /** Plural, lower-case resource name used in URLs (`ingresses`). */
  readonly resource: string;
  readonly kind: string;
  readonly singular: string;
  readonly namespaced: boolean;
  readonly shortNames: readonly string[];
  /** Has a `/status` subresource: the main resource ignores `.status`, the subresource only writes it. */
  readonly statusSubresource: boolean;
  /**
   * Whether the real registry strategy maintains `metadata.generation` (set to 1 on create, bumped
   * when anything outside metadata and status changes). Secrets, ConfigMaps, Services, Leases,
   * Events, Nodes and Namespaces have no generation on a real cluster.
   */
  readonly generation: boolean;
  /** Real strategies for Events allow PUT to create (`AllowCreateOnUpdate`); almost nothing else does. */
  readonly createOnUpdate: boolean;
  /**
   * Storage key shared with another resource: `events.k8s.io/v1` events and core `v1` events are
   * two views of one stored object (the real apiserver converts between them).
   */
  readonly storage: string;
  /** Name rule from the kind's validation. */
  readonly nameRule: 'dns1123-subdomain' | 'dns1123-label' | 'dns1035-label' | 'path-segment';
}

/** `apiVersionOf` is `group/version`, or just `version` for the core group. */
export function apiVersionOf(info: Pick<ResourceInfo, 'group' | 'version'>): string {
  return info.group === '' ? info.version : `${info.group}/${info.version}`;
}

function r(
  group: string,
  version: string,
  resource: string,
  kind: string,
  extra: Partial<Omit<ResourceInfo, 'group' | 'version' | 'resource' | 'kind'>> = {},
): ResourceInfo {
  return {
    group,
    version,
    resource,
    kind,
    singular: kind.toLowerCase(),
    namespaced: true,
    shortNames: [],
    statusSubresource: false,
    generation: false,
    createOnUpdate: false,
    storage: `${group}/${resource}`,
    nameRule: 'dns1123-subdomain',
    ...extra,
  };
}

/** `RESOURCES` lists every resource the fake server serves. */
export const RESOURCES: readonly ResourceInfo[] = [
  r('networking.k8s.io', 'v1', 'ingresses', 'Ingress', {
    shortNames: ['ing'],
    statusSubresource: true,
    generation: true,
  }),
  r('networking.k8s.io', 'v1', 'ingressclasses', 'IngressClass', { namespaced: false, generation: true }),
  r('', 'v1', 'services', 'Service', {
    shortNames: ['svc'],
    statusSubresource: true,
    nameRule: 'dns1035-label',
  }),
  r('', 'v1', 'secrets', 'Secret'),
  r('', 'v1', 'configmaps', 'ConfigMap', { shortNames: ['cm'] }),
  r('', 'v1', 'pods', 'Pod', { shortNames: ['po'], statusSubresource: true }),
  r('', 'v1', 'nodes', 'Node', { namespaced: false, shortNames: ['no'], statusSubresource: true }),
  r('', 'v1', 'namespaces', 'Namespace', {
    namespaced: false,
    shortNames: ['ns'],
    statusSubresource: true,
    nameRule: 'dns1123-label',
  }),
  r('', 'v1', 'events', 'Event', { shortNames: ['ev'], createOnUpdate: true, storage: 'events' }),
  r('discovery.k8s.io', 'v1', 'endpointslices', 'EndpointSlice', { generation: true }),
  r('coordination.k8s.io', 'v1', 'leases', 'Lease'),
  // Portico's CRD (crds/portico.dev_ratelimitpolicies.yaml), served as an installed CRD is: custom
  // resources with a status subresource keep a generation bumped by spec changes.
  r('portico.dev', 'v1alpha1', 'ratelimitpolicies', 'RateLimitPolicy', {
    shortNames: ['rlp'],
    statusSubresource: true,
    generation: true,
  }),
  r('portico.dev', 'v1alpha1', 'l4routes', 'L4Route', {
    shortNames: ['l4r'],
    statusSubresource: true,
    generation: true,
  }),
  r('events.k8s.io', 'v1', 'events', 'Event', {
    shortNames: ['ev'],
    createOnUpdate: true,
    storage: 'events',
  }),
];

/** `findResource` looks a resource up by its URL coordinates. */
export function findResource(group: string, version: string, resource: string): ResourceInfo | undefined {
  return RESOURCES.find((x) => x.group === group && x.version === version && x.resource === resource);
}

/** `findKind` looks a resource up by `apiVersion` and `kind`, as the direct store API is addressed. */
export function findKind(apiVersion: string, kind: string): ResourceInfo | undefined {
  return RESOURCES.find((x) => apiVersionOf(x) === apiVersion && x.kind === kind);
}

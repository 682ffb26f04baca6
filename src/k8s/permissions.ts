/**
 * `permissions` is the one list of Kubernetes API calls Portico makes. `deploy/`'s ClusterRole and
 * Role are tested against it (exactly these, nothing more), and the cluster end-to-end tests check
 * that every request the fake API server saw is covered by it. A new API call in `src/k8s` starts
 * here.
 */

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete';

export interface Permission {
  /** API group; `''` is the core group. */
  readonly group: string;
  /** Resource, with `/subresource` where one is used, e.g. `ingresses/status`. */
  readonly resource: string;
  readonly verbs: readonly Verb[];
  /** `cluster`: a ClusterRole rule; `own-namespace`: a Role in Portico's namespace only. */
  readonly scope: 'cluster' | 'own-namespace';
  /** Why Portico needs it. */
  readonly why: string;
}

export const REQUIRED_PERMISSIONS: readonly Permission[] = [
  {
    group: 'networking.k8s.io',
    resource: 'ingresses',
    verbs: ['get', 'list', 'watch'],
    scope: 'cluster',
    why: 'the routes',
  },
  {
    group: 'networking.k8s.io',
    resource: 'ingresses/status',
    verbs: ['update'],
    scope: 'cluster',
    why: 'status.loadBalancer of served Ingresses (leader only)',
  },
  {
    group: 'networking.k8s.io',
    resource: 'ingressclasses',
    verbs: ['get', 'list', 'watch'],
    scope: 'cluster',
    why: 'which Ingresses are ours',
  },
  {
    group: '',
    resource: 'services',
    verbs: ['get', 'list', 'watch'],
    scope: 'cluster',
    why: 'backend ports',
  },
  {
    group: 'discovery.k8s.io',
    resource: 'endpointslices',
    verbs: ['get', 'list', 'watch'],
    scope: 'cluster',
    why: 'ready pod endpoints',
  },
  {
    group: '',
    resource: 'secrets',
    verbs: ['get', 'list', 'watch'],
    scope: 'cluster',
    why: 'TLS certificates and auth files referenced by served Ingresses',
  },
  {
    group: '',
    resource: 'configmaps',
    verbs: ['get', 'list', 'watch'],
    scope: 'cluster',
    why: '--configmap and (later) TCP/UDP service ConfigMaps',
  },
  {
    group: 'portico.dev',
    resource: 'ratelimitpolicies',
    verbs: ['get', 'list', 'watch'],
    scope: 'cluster',
    why: 'rate limits Ingresses refer to (portico.dev/rate-limit-policy)',
  },
  {
    group: 'portico.dev',
    resource: 'ratelimitpolicies/status',
    verbs: ['update'],
    scope: 'cluster',
    why: 'the Accepted condition of RateLimitPolicies (leader only)',
  },
  {
    group: 'portico.dev',
    resource: 'l4routes',
    verbs: ['get', 'list', 'watch'],
    scope: 'cluster',
    why: 'TCP/UDP services declared as L4Routes',
  },
  {
    group: 'portico.dev',
    resource: 'l4routes/status',
    verbs: ['update'],
    scope: 'cluster',
    why: 'the Accepted condition and the L4 mode of L4Routes (leader only)',
  },
  {
    group: '',
    resource: 'pods',
    verbs: ['get', 'list'],
    scope: 'cluster',
    why: "the nodes running Portico, for a NodePort --publish-service's status addresses",
  },
  {
    group: '',
    resource: 'nodes',
    verbs: ['get', 'list'],
    scope: 'cluster',
    why: "node addresses for a NodePort --publish-service's status addresses",
  },
  {
    group: '',
    resource: 'events',
    verbs: ['create', 'patch'],
    scope: 'cluster',
    why: 'Warning Events on rejected Ingresses and broken references',
  },
  {
    group: 'coordination.k8s.io',
    resource: 'leases',
    verbs: ['get', 'create', 'update'],
    scope: 'own-namespace',
    why: 'leader election (only the leader writes status)',
  },
];

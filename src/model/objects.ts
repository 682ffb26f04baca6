/**
 * `objects` holds Portico's own readonly shapes of the Kubernetes objects it reads.
 *
 * NOTE: these mirror the networking.k8s.io/v1, v1 and discovery.k8s.io/v1 API shapes (a subset of
 * their fields). Sources (`src/k8s`, `src/files`) convert to them at the edge, so nothing past the
 * store depends on `@kubernetes/client-node`. Every field is optional where the API allows it to be,
 * because file mode feeds unvalidated user YAML through the same types.
 */

export interface ObjectMeta {
  readonly name: string;
  readonly namespace?: string;
  readonly uid?: string;
  readonly resourceVersion?: string;
  readonly generation?: number;
  /** RFC 3339, as the API server writes it. File mode never invents one. */
  readonly creationTimestamp?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
}

export type PathType = 'Exact' | 'Prefix' | 'ImplementationSpecific';

export interface ServiceBackendPort {
  readonly number?: number;
  readonly name?: string;
}

export interface IngressServiceBackend {
  readonly name: string;
  readonly port?: ServiceBackendPort;
}

export interface TypedLocalObjectReference {
  readonly apiGroup?: string;
  readonly kind: string;
  readonly name: string;
}

export interface IngressBackend {
  readonly service?: IngressServiceBackend;
  readonly resource?: TypedLocalObjectReference;
}

export interface HTTPIngressPath {
  readonly path?: string;
  readonly pathType?: PathType | string;
  readonly backend: IngressBackend;
}

export interface IngressRule {
  readonly host?: string;
  readonly http?: { readonly paths: readonly HTTPIngressPath[] };
}

export interface IngressTLS {
  readonly hosts?: readonly string[];
  readonly secretName?: string;
}

export interface IngressSpec {
  readonly ingressClassName?: string;
  readonly defaultBackend?: IngressBackend;
  readonly tls?: readonly IngressTLS[];
  readonly rules?: readonly IngressRule[];
}

export interface LoadBalancerIngress {
  readonly ip?: string;
  readonly hostname?: string;
}

export interface Ingress {
  readonly apiVersion?: string;
  readonly kind: 'Ingress';
  readonly metadata: ObjectMeta;
  readonly spec?: IngressSpec;
  readonly status?: { readonly loadBalancer?: { readonly ingress?: readonly LoadBalancerIngress[] } };
}

export interface IngressClass {
  readonly apiVersion?: string;
  readonly kind: 'IngressClass';
  readonly metadata: ObjectMeta;
  readonly spec?: {
    readonly controller?: string;
    readonly parameters?: {
      readonly apiGroup?: string;
      readonly kind: string;
      readonly name: string;
      readonly namespace?: string;
      readonly scope?: string;
    };
  };
}

export interface ServicePort {
  readonly name?: string;
  readonly protocol?: 'TCP' | 'UDP' | 'SCTP' | string;
  readonly appProtocol?: string;
  readonly port: number;
  readonly targetPort?: number | string;
  readonly nodePort?: number;
}

export interface Service {
  readonly apiVersion?: string;
  readonly kind: 'Service';
  readonly metadata: ObjectMeta;
  readonly spec?: {
    readonly type?: 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName' | string;
    readonly clusterIP?: string;
    readonly clusterIPs?: readonly string[];
    readonly externalName?: string;
    readonly externalIPs?: readonly string[];
    readonly ports?: readonly ServicePort[];
    readonly selector?: Readonly<Record<string, string>>;
  };
  readonly status?: { readonly loadBalancer?: { readonly ingress?: readonly LoadBalancerIngress[] } };
}

export interface EndpointConditions {
  readonly ready?: boolean;
  readonly serving?: boolean;
  readonly terminating?: boolean;
}

export interface Endpoint {
  readonly addresses: readonly string[];
  readonly conditions?: EndpointConditions;
  readonly hostname?: string;
  readonly nodeName?: string;
  readonly zone?: string;
}

export interface EndpointPort {
  readonly name?: string;
  readonly protocol?: string;
  readonly port?: number;
  readonly appProtocol?: string;
}

/** The label that ties an EndpointSlice to its Service (discovery.k8s.io/v1). */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

export interface EndpointSlice {
  readonly apiVersion?: string;
  readonly kind: 'EndpointSlice';
  readonly metadata: ObjectMeta;
  readonly addressType: 'IPv4' | 'IPv6' | 'FQDN' | string;
  readonly endpoints?: readonly Endpoint[];
  readonly ports?: readonly EndpointPort[];
}

export interface Secret {
  readonly apiVersion?: string;
  readonly kind: 'Secret';
  readonly metadata: ObjectMeta;
  readonly type?: string;
  /** Base64-encoded values, as the API serves them. */
  readonly data?: Readonly<Record<string, string>>;
  readonly stringData?: Readonly<Record<string, string>>;
}

export interface ConfigMap {
  readonly apiVersion?: string;
  readonly kind: 'ConfigMap';
  readonly metadata: ObjectMeta;
  readonly data?: Readonly<Record<string, string>>;
}

/** `Condition` is metav1.Condition, as written in the status of Portico's own resources. */
export interface Condition {
  readonly type: string;
  readonly status: 'True' | 'False' | 'Unknown';
  readonly observedGeneration?: number;
  readonly lastTransitionTime: string;
  readonly reason: string;
  readonly message: string;
}

/**
 * `RateLimitPolicySpec` is a RateLimitPolicy's `spec` (crds/portico.dev_ratelimitpolicies.yaml):
 * the `portico.dev/limit-*` annotations as fields. Typed loosely (`unknown`) because file mode
 * feeds it unvalidated; `model/rate-limit-policy.ts` validates every field.
 */
export interface RateLimitPolicySpec {
  readonly rps?: unknown;
  readonly rpm?: unknown;
  readonly burst?: unknown;
  readonly connections?: unknown;
  readonly key?: unknown;
  readonly scope?: unknown;
  readonly allowlist?: unknown;
  readonly statusCode?: unknown;
  readonly store?: unknown;
  readonly dryRun?: unknown;
}

/** `RATE_LIMIT_POLICY_API_VERSION` is the group/version of Portico's RateLimitPolicy CRD. */
export const RATE_LIMIT_POLICY_API_VERSION = 'portico.dev/v1alpha1';

export interface RateLimitPolicy {
  readonly apiVersion?: string;
  readonly kind: 'RateLimitPolicy';
  readonly metadata: ObjectMeta;
  readonly spec?: RateLimitPolicySpec;
  /** Kept in cluster mode so the status writer can skip writes that change nothing. */
  readonly status?: { readonly observedGeneration?: number; readonly conditions?: readonly Condition[] };
}

/**
 * `L4RouteSpec` is an L4Route's `spec` (crds/portico.dev_l4routes.yaml): one TCP or UDP port of
 * the node forwarded to one Service port. Typed loosely, as RateLimitPolicy's: file mode feeds it
 * unvalidated and `l4/route.ts` checks every field.
 */
export interface L4RouteSpec {
  readonly listenPort?: unknown;
  readonly protocol?: unknown;
  readonly backend?: unknown;
  readonly scheduler?: unknown;
  readonly proxyProtocol?: unknown;
  readonly idleTimeout?: unknown;
}

/** `L4_ROUTE_API_VERSION` is the group/version of Portico's L4Route CRD. */
export const L4_ROUTE_API_VERSION = 'portico.dev/v1alpha1';

export interface L4Route {
  readonly apiVersion?: string;
  readonly kind: 'L4Route';
  readonly metadata: ObjectMeta;
  readonly spec?: L4RouteSpec;
  /** Kept in cluster mode so the status writer can skip writes that change nothing. */
  readonly status?: {
    readonly observedGeneration?: number;
    /** The `--l4-mode` of the Portico that wrote the status. */
    readonly mode?: string;
    readonly conditions?: readonly Condition[];
  };
}

export type KubeObject =
  | Ingress
  | IngressClass
  | Service
  | EndpointSlice
  | Secret
  | ConfigMap
  | RateLimitPolicy
  | L4Route;
export type KubeKind = KubeObject['kind'];

/** `KNOWN_KINDS` lists the kinds the object store keeps; anything else a source meets is skipped. */
export const KNOWN_KINDS: readonly KubeKind[] = [
  'Ingress',
  'IngressClass',
  'Service',
  'EndpointSlice',
  'Secret',
  'ConfigMap',
  'RateLimitPolicy',
  'L4Route',
];

/** Maps a kind to its object type, for typed store access. */
export interface KindMap {
  Ingress: Ingress;
  IngressClass: IngressClass;
  Service: Service;
  EndpointSlice: EndpointSlice;
  Secret: Secret;
  ConfigMap: ConfigMap;
  RateLimitPolicy: RateLimitPolicy;
  L4Route: L4Route;
}

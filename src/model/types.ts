/**
 * `types` is the routing model: what translation produces from the store, before compilation.
 * Everything here is readonly plain data, so a model can be diffed, logged and served as JSON.
 */
import type { Diagnostic } from './diagnostics.js';
import type { PathType } from './objects.js';

/** How a backend's endpoints are found once the Service and its port resolved. */
export type BackendTarget =
  /** Ready endpoints from EndpointSlices whose port name equals the Service port's name ('' if unnamed). */
  | { readonly kind: 'endpoints'; readonly servicePortName: string; readonly servicePort: number }
  /** An ExternalName Service: connect to this DNS name on the Service port. */
  | { readonly kind: 'external-name'; readonly hostname: string; readonly port: number };

/** `BackendRef` is a Service port an Ingress points at. */
export interface BackendRef {
  /** `"namespace/service:port"` (util/keys `backendKey`), with the port as the Ingress wrote it. */
  readonly key: string;
  readonly namespace: string;
  readonly service: string;
  readonly port: number | string;
  /** Absent when the reference is broken; `problem` then says why and the route answers 503. */
  readonly target?: BackendTarget;
  readonly problem?: string;
}

/** `Route` is one winning host+path+pathType of one Ingress. */
export interface Route {
  /** Lowercased; `''` for a rule without host; may be a wildcard like `*.example.com`. */
  readonly host: string;
  /** As written, `/` when the Ingress left it empty. */
  readonly path: string;
  readonly pathType: PathType;
  readonly backend: BackendRef;
  /** `"namespace/name"` of the Ingress. */
  readonly ingress: string;
  /** Field of the path in that Ingress, e.g. `spec.rules[0].http.paths[1]`. */
  readonly field: string;
}

/** `DefaultBackendBinding` is a `spec.defaultBackend` in force for a host or for everything. */
export interface DefaultBackendBinding {
  readonly backend: BackendRef;
  /** `"namespace/name"` of the Ingress, or `"--default-backend-service"` for the flag. */
  readonly ingress: string;
}

export type IngressState = 'served' | 'ignored' | 'rejected';

/** `IngressReport` says what became of one Ingress, for `/routes`, logs and (later) Events. */
export interface IngressReport {
  readonly ingress: string;
  readonly state: IngressState;
  /** Why it is ignored or rejected; for served ones, empty. */
  readonly reason: string;
  /** True when a rejected Ingress is still served from its last good version. */
  readonly servingLastGood?: boolean;
}

/** `TlsBinding` is the Secret that terminates TLS for one host (`spec.tls` of the oldest Ingress naming it). */
export interface TlsBinding {
  /** Namespace of the Ingress, which is the Secret's namespace too (no cross-namespace references). */
  readonly namespace: string;
  readonly secretName: string;
  /** `"namespace/name"` of the Ingress. */
  readonly ingress: string;
  /** Field of the `secretName`, e.g. `spec.tls[0].secretName`, for diagnostics about the Secret. */
  readonly field: string;
}

export interface RoutingModel {
  /** Conflict winners only, in no particular order (compile sorts). */
  readonly routes: readonly Route[];
  /** Per-host fallback: the `spec.defaultBackend` of the oldest Ingress with rules for that host ('' = rules without host). */
  readonly hostDefaults: ReadonlyMap<string, DefaultBackendBinding>;
  /**
   * Every host named by a served rule, with or without `http` paths. A rule without paths still
   * claims its host (host selection is final), so such a host's requests go to its fallback, never
   * to the rules without host. Absent means: only the hosts of `routes` and `hostDefaults`.
   */
  readonly ruleHosts?: readonly string[];
  /** The `spec.defaultBackend` of the oldest Ingress without rules, else `--default-backend-service`, else absent (built-in 404). */
  readonly catchAll?: DefaultBackendBinding;
  readonly ingresses: readonly IngressReport[];
  /**
   * TLS host (lowercased, may be `*.example.com`) → Secret serving it. Absent when no served
   * Ingress has a usable `spec.tls` entry.
   */
  readonly tls?: ReadonlyMap<string, TlsBinding>;
  readonly diagnostics: readonly Diagnostic[];
}

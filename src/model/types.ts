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
  | { readonly kind: 'external-name'; readonly hostname: string; readonly port: number }
  /** `service-upstream: "true"`: the Service's ClusterIP and port, as kube-proxy balances it. */
  | { readonly kind: 'cluster-ip'; readonly address: string; readonly port: number };

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

/** `BackendProtocol` is how Portico talks to a backend (`backend-protocol` annotation). */
export type BackendProtocol = 'HTTP' | 'HTTPS' | 'GRPC' | 'GRPCS' | 'H2C';

/** `SecretRef` names a Secret an annotation points at (same namespace as the Ingress). */
export interface SecretRef {
  readonly namespace: string;
  readonly name: string;
}

/** `UpstreamTlsPolicy` is how an HTTPS/GRPCS backend's certificate is checked (`proxy-ssl-*`). */
export interface UpstreamTlsPolicy {
  /** `proxy-ssl-verify: "on"`: verify the backend's certificate against `caSecret` (its `ca.crt`). */
  readonly verify: boolean;
  /** `proxy-ssl-secret`: Secret with `ca.crt` (required when `verify`). */
  readonly caSecret?: SecretRef;
  /** `proxy-ssl-name`: the name checked against the backend certificate (and sent as SNI when `sendServerName`). */
  readonly serverName?: string;
  /** `proxy-ssl-server-name: "on"`: send SNI to the backend. */
  readonly sendServerName: boolean;
}

/**
 * `RoutePolicy` is what an Ingress's location-scoped annotations say about its routes. One frozen
 * object per Ingress, shared by all its routes and its `defaultBackend`.
 */
export interface RoutePolicy {
  /** `ssl-redirect`; absent: the ConfigMap's `ssl-redirect` (default true) decides. */
  readonly sslRedirect?: boolean;
  /** `force-ssl-redirect`; absent: the ConfigMap's `force-ssl-redirect` (default false) decides. */
  readonly forceSslRedirect?: boolean;
  readonly backendProtocol: BackendProtocol;
  /** For HTTPS and GRPCS backends; absent: TLS without verification (ingress-nginx's default). */
  readonly upstreamTls?: UpstreamTlsPolicy;
  /**
   * Set when a policy is configured but unusable (e.g. a cross-namespace Secret reference): the
   * route fails closed and answers 503 with this reason, while every other route keeps serving.
   */
  readonly deny?: string;
  /** `enable-access-log: "false"`: no access log lines for these routes. */
  readonly accessLog?: false;
  /** Step (2) of the hook order: deny-list, then allow-list → 403. */
  readonly ipAccess?: IpAccessLists;
  /** Step (3): connection limit, then rate limit. */
  readonly rateLimit?: RateLimitConfig;
  /** Step (4a): Basic authentication. */
  readonly basicAuth?: BasicAuthPolicy;
  /** Step (4b): external authentication. */
  readonly externalAuth?: ExternalAuthPolicy;

  // ---- ingress-nginx compatibility (issue 8). One annotation family module per group. ----

  /** `rewrite` family: `rewrite-target`, `x-forwarded-prefix`, `app-root` (regex paths: `Route.regex`). */
  readonly rewrite?: RewritePolicy;
  /** `redirect` family: the route answers with a redirect and never proxies. */
  readonly redirect?: RouteRedirect;
  /** `preserve-trailing-slash`: `false` drops one trailing `/` from the HTTPS redirect (ingress-nginx's default). */
  readonly preserveTrailingSlash?: boolean;
  /** `cors` family: preflights answered by Portico before auth; headers added to actual responses. */
  readonly cors?: CorsPolicy;
  /** `upstream` family: timeouts, body size, retries, upstream Host, ClusterIP instead of endpoints. */
  readonly upstream?: UpstreamPolicy;
  /** `affinity` family: cookie session affinity. */
  readonly affinity?: AffinityPolicy;
  /** `load-balance` / `upstream-hash-by`: how the first endpoint is chosen (absent: round robin). */
  readonly loadBalance?: LoadBalancePolicy;
  /** `custom-http-errors` (+ `default-backend`): upstream error statuses answered by another backend. */
  readonly customErrors?: CustomErrorsPolicy;
  /** `custom-headers` (a ConfigMap of response headers), resolved at translation: `[name, value]` pairs. */
  readonly responseHeaders?: readonly (readonly [string, string])[];
}

/** `RewritePolicy`: what goes upstream instead of the request path. */
export interface RewritePolicy {
  /** `rewrite-target`: the upstream path; `$1`…`$9` are the capture groups of the route's `regex`. */
  readonly target?: string;
  /** `x-forwarded-prefix`: value of the X-Forwarded-Prefix request header sent upstream. */
  readonly forwardedPrefix?: string;
  /** `app-root`: a request for exactly `/` is redirected (302) to this path. */
  readonly appRoot?: string;
}

/** `RouteRedirectStatus` is a status a route redirect may answer with (one that carries a Location). */
export type RouteRedirectStatus = 301 | 302 | 303 | 307 | 308;

/** `RouteRedirect`: `permanent-redirect` (+`-code`, default 301) or `temporal-redirect` (+`-code`, default 302). */
export interface RouteRedirect {
  readonly location: string;
  readonly status: RouteRedirectStatus;
}

/** `CorsPolicy` is `enable-cors` and its `cors-*` companions, parsed. */
export interface CorsPolicy {
  /** `*`, exact origins (`https://a.example`), or wildcard subdomains (`https://*.example.com`). */
  readonly allowOrigins: readonly string[];
  readonly allowMethods: string;
  readonly allowHeaders: string;
  readonly exposeHeaders?: string;
  readonly allowCredentials: boolean;
  readonly maxAgeSeconds: number;
}

/** `NextUpstreamCondition` is one word of `proxy-next-upstream` (nginx's `proxy_next_upstream`). */
export type NextUpstreamCondition =
  | 'error'
  | 'timeout'
  | 'invalid_header'
  | 'http_500'
  | 'http_502'
  | 'http_503'
  | 'http_504'
  | 'http_403'
  | 'http_404'
  | 'http_429'
  | 'non_idempotent'
  | 'off';

/** `UpstreamPolicy`: per-route upstream behaviour; absent fields follow the ConfigMap / flags. */
export interface UpstreamPolicy {
  readonly connectTimeoutMs?: number;
  readonly readTimeoutMs?: number;
  readonly sendTimeoutMs?: number;
  /** `proxy-body-size` in bytes; 0 = unlimited. Above it: 413, checked while streaming. */
  readonly maxBodyBytes?: number;
  readonly nextUpstream?: readonly NextUpstreamCondition[];
  /** `proxy-next-upstream-tries`: attempts in all (0 = unlimited, as nginx). */
  readonly nextUpstreamTries?: number;
  readonly nextUpstreamTimeoutMs?: number;
  /** `upstream-vhost`: the Host header sent upstream. */
  readonly vhost?: string;
  /** `service-upstream: "true"`: connect to the Service's ClusterIP instead of its endpoints. */
  readonly serviceUpstream?: boolean;
}

/** `AffinityPolicy` is `affinity: cookie` with its `session-cookie-*` settings. */
export interface AffinityPolicy {
  /** `session-cookie-name`, default `INGRESSCOOKIE`. */
  readonly cookieName: string;
  readonly path?: string;
  readonly domain?: string;
  readonly maxAgeSeconds?: number;
  readonly expiresSeconds?: number;
  readonly sameSite?: 'None' | 'Lax' | 'Strict';
  readonly conditionalSameSiteNone: boolean;
  readonly secure?: boolean;
  /** `affinity-mode`: `balanced` (default) may move sessions when endpoints are added; `persistent` never. */
  readonly mode: 'balanced' | 'persistent';
  /** `session-cookie-change-on-failure`. */
  readonly changeOnFailure: boolean;
  /** `affinity-canary-behavior`: `sticky` (default) keeps canary-served clients on the canary. */
  readonly canaryBehavior: 'sticky' | 'legacy';
}

/** `LoadBalancePolicy` is `load-balance` and `upstream-hash-by`. */
export type LoadBalancePolicy =
  | { readonly kind: 'round_robin' }
  | { readonly kind: 'ewma' }
  /** `upstream-hash-by`: consistent hashing of this template (`$request_uri`, `$remote_addr`, …). */
  | { readonly kind: 'hash'; readonly key: string; readonly subset?: { readonly size: number } };

/** `CustomErrorsPolicy`: these upstream statuses are answered by `backend` (else the built-in page). */
export interface CustomErrorsPolicy {
  readonly codes: readonly number[];
  /** `default-backend` annotation (else `--default-backend-service`). */
  readonly backend?: BackendRef;
  /**
   * True when `backend` is the `default-backend` annotation's: it also answers, as the route's
   * backend, while that has no ready endpoints (ingress-nginx's custom default backend).
   */
  readonly fallback?: boolean;
}

/**
 * `CanaryRule` is a canary Ingress attached to the main route of the same host and path
 * (ingress-nginx: at most one canary per rule). Precedence: header, then cookie, then weight;
 * `always` / `never` in the header or cookie decide alone; a header value beats a pattern.
 */
export interface CanaryRule {
  readonly backend: BackendRef;
  /** `"namespace/name"` of the canary Ingress. */
  readonly ingress: string;
  readonly byHeader?: string;
  readonly byHeaderValue?: string;
  /** An RE2 source, compile-checked at translation. */
  readonly byHeaderPattern?: string;
  readonly byCookie?: string;
  /** `canary-weight`, 0…`weightTotal`. */
  readonly weight: number;
  /** `canary-weight-total`, default 100. */
  readonly weightTotal: number;
  /**
   * The canary's own policy: ingress-nginx applies only its affinity, `load-balance` and
   * `upstream-hash-by`; every other annotation is inherited from the main Ingress.
   */
  readonly policy?: RoutePolicy;
}

/** `HostSettings` are host-scoped annotations, taken from the oldest Ingress of the host that sets them. */
export interface HostSettings {
  /** `server-alias`: more host names served exactly like this host. */
  readonly aliases?: readonly string[];
  /** `from-to-www-redirect`: `www.<host>` ⇄ `<host>` redirect (`http-redirect-code`, 308 by default). */
  readonly fromToWwwRedirect?: boolean;
  /**
   * The name that redirects to this host (`www.<host>`, or `<host>` without `www.`), when
   * `fromToWwwRedirect` is set and that name is neither a rule host nor an alias.
   */
  readonly redirectFrom?: string;
  /** `"namespace/name"` of the Ingress each setting came from, by annotation name. */
  readonly sources: Readonly<Record<string, string>>;
}

/**
 * `RateLimitDialect` is the spelling a limit was written in. It decides the semantics: `portico`
 * (`portico.dev/limit-*` and RateLimitPolicy) is a token bucket of capacity rps + burst; `nginx`
 * (`nginx.ingress.kubernetes.io/limit-*`) keeps nginx's `limit_req burst=R×M nodelay` (capacity
 * R×M + 1) and answers with the ConfigMap's `limit-req-status-code` / `limit-conn-status-code`.
 */
export type RateLimitDialect = 'portico' | 'nginx';

/** `RateLimitKey` is what a limit counts by (`limit-key`). */
export type RateLimitKey =
  | { readonly kind: 'remote-ip' }
  | { readonly kind: 'host' }
  | { readonly kind: 'header'; readonly name: string }
  | { readonly kind: 'cookie'; readonly name: string };

/** `RateLimitBucket` is one token bucket (a limit can have two: per second and per minute). */
export interface RateLimitBucket {
  /** Tokens when full: requests admitted back to back from rest. At least 1. */
  readonly capacity: number;
  /** Tokens added per second (rpm / 60 for per-minute limits). Positive. */
  readonly ratePerSecond: number;
  /** What the user wrote, for RateLimit-Policy, explain and docs: `"10 rps + burst 5"`. */
  readonly label: string;
}

/**
 * `RateLimitConfig` is one Ingress's (or RateLimitPolicy's) limit, already turned into buckets.
 * Every bucket is checked; a request must fit all of them.
 */
export interface RateLimitConfig {
  readonly dialect: RateLimitDialect;
  /** Empty when only `limit-connections` is set. */
  readonly buckets: readonly RateLimitBucket[];
  /** Concurrent requests per key (`limit-connections`); absent: no connection limit. */
  readonly connections?: number;
  readonly key: RateLimitKey;
  /** `ingress`: one key space for all routes of the Ingress; `path`: one per route. */
  readonly scope: 'ingress' | 'path';
  /** Normalised CIDRs (`a.b.c.d/n`, `x::/n`) whose clients are never limited. */
  readonly allowlist?: readonly string[];
  /** Status for refused requests; absent: 429 (`portico`) or the ConfigMap's codes (`nginx`). */
  readonly status?: number;
  /** Absent: `redis` when `--redis-url` is set, else `memory`. */
  readonly store?: 'memory' | 'redis';
  /** Count and log would-be rejections, refuse nothing. */
  readonly dryRun: boolean;
  /** `"namespace/name"` of the RateLimitPolicy it came from, if any. */
  readonly policy?: string;
}

/** `IpAccessLists` are the `allowlist-source-range` / `denylist-source-range` CIDRs, normalised. */
export interface IpAccessLists {
  readonly allow?: readonly string[];
  readonly deny?: readonly string[];
}

/** `BasicAuthPolicy` is HTTP Basic authentication against an htpasswd Secret (`auth-type: basic`). */
export interface BasicAuthPolicy {
  /** The Secret with the users, in the Ingress's namespace (absent when `deny` is set). */
  readonly secret?: SecretRef;
  readonly secretType: 'auth-file' | 'auth-map';
  readonly realm: string;
  /** Forward `Authorization` to the backend (`portico.dev/auth-pass-credentials`). */
  readonly passCredentials: boolean;
  /** Field of the `auth-secret` annotation, for diagnostics about the Secret. */
  readonly field: string;
  /** Set when configured but unusable: the routes fail closed (503) with this reason. */
  readonly deny?: string;
}

/** `ExternalAuthPolicy` is ingress-nginx's external authentication (`auth-url` and friends). */
export interface ExternalAuthPolicy {
  /** Absolute http(s) URL of the auth service. */
  readonly url: string;
  /** Method of the auth subrequest (`auth-method`, default GET). */
  readonly method: string;
  /** `auth-signin`: where 401s are redirected (302), with `rd=<original URL>` appended. */
  readonly signin?: string;
  /** `auth-signin-redirect-param` (default `rd`). */
  readonly signinRedirectParam: string;
  /** `auth-response-headers`: headers copied from the auth response to the upstream request. */
  readonly responseHeaders: readonly string[];
  /** `auth-request-redirect`: X-Auth-Request-Redirect value (default: the original URI). */
  readonly requestRedirect?: string;
  /** `auth-cache-key` (a template of `$variables`, validated) and `auth-cache-duration`. */
  readonly cacheKey?: string;
  /**
   * Cache durations by status, first match wins: e.g. `[{ statuses: [200, 202], ms: 60_000 }]`;
   * empty `statuses` means any status (nginx's `any`). Empty list without `cacheKey`.
   */
  readonly cacheDurations: readonly { readonly statuses: readonly number[]; readonly ms: number }[];
  /**
   * `auth-always-set-cookie`: the auth response's Set-Cookie goes onto every backend response,
   * not only those nginx's `add_header` covers (200, 201, 204, 206, 301, 302, 303, 304, 307, 308).
   */
  readonly alwaysSetCookie: boolean;
  /** Timeout of the whole auth subrequest (ms): connect, response headers and body. */
  readonly timeoutMs: number;
  /**
   * `auth-proxy-set-headers`: the ConfigMap's headers (resolved at translation), set on the auth
   * subrequest in place of the client's copies of those names.
   */
  readonly proxySetHeaders?: readonly (readonly [string, string])[];
  /** Set when configured but unusable: the routes fail closed (503) with this reason. */
  readonly deny?: string;
}

/** `DEFAULT_ROUTE_POLICY` applies to routes of Ingresses without any policy annotation. */
export const DEFAULT_ROUTE_POLICY: RoutePolicy = Object.freeze({ backendProtocol: 'HTTP' });

/** `ClientCertVerify` is `auth-tls-verify-client`, as in nginx's `ssl_verify_client`. */
export type ClientCertVerify = 'on' | 'optional' | 'optional_no_ca' | 'off';

/**
 * `ClientAuthPolicy` is client-certificate authentication for one host (`auth-tls-*`), host
 * scoped: the oldest Ingress of the host that sets `auth-tls-secret` supplies it.
 */
export interface ClientAuthPolicy {
  /** `auth-tls-secret`: Secret with `ca.crt`, the CA bundle client certificates must chain to. */
  readonly caSecret: SecretRef;
  readonly verify: ClientCertVerify;
  /** `auth-tls-verify-depth` (default 1): longest chain from the client certificate to a CA. */
  readonly depth: number;
  /** `auth-tls-pass-certificate-to-upstream`: send `ssl-client-cert` (URL-encoded PEM) upstream. */
  readonly passCertificate: boolean;
  /** `"namespace/name"` of the Ingress that supplied it. */
  readonly ingress: string;
  /** Field of the `auth-tls-secret` annotation, for diagnostics about the Secret. */
  readonly field: string;
  /** Set when configured but unusable: the host's requests answer 503 with this reason. */
  readonly deny?: string;
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
  /** The Ingress's location policy; absent means `DEFAULT_ROUTE_POLICY`. */
  readonly policy?: RoutePolicy;
  /**
   * `use-regex` (or `rewrite-target`) on a Prefix or ImplementationSpecific path: the RE2 source
   * the path is matched with, anchored at the start, case-insensitive (compiled once per snapshot).
   */
  readonly regex?: string;
  /** A canary Ingress for this host and path, if one is attached. */
  readonly canary?: CanaryRule;
}

/** `DefaultBackendBinding` is a `spec.defaultBackend` in force for a host or for everything. */
export interface DefaultBackendBinding {
  readonly backend: BackendRef;
  /** `"namespace/name"` of the Ingress, or `"--default-backend-service"` for the flag. */
  readonly ingress: string;
  /** The Ingress's location policy; absent means `DEFAULT_ROUTE_POLICY`. */
  readonly policy?: RoutePolicy;
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
  /**
   * Every host (lowercased, may be a wildcard) listed in `spec.tls[].hosts` of a served Ingress,
   * with or without `secretName`: these hosts redirect HTTP to HTTPS unless told otherwise.
   */
  readonly tlsHosts?: readonly string[];
  /** Host (as in `ruleHosts`) → client-certificate authentication. Absent when no host uses it. */
  readonly clientAuth?: ReadonlyMap<string, ClientAuthPolicy>;
  /** Host (as in `ruleHosts`) → host-scoped annotation settings. Absent when no host has any. */
  readonly hostSettings?: ReadonlyMap<string, HostSettings>;
  /**
   * `"namespace/name"` of every ConfigMap translation looked up (found or not), sorted: a change to
   * any other ConfigMap cannot change this model. Absent when none was.
   */
  readonly configMapsRead?: readonly string[];
  readonly diagnostics: readonly Diagnostic[];
}

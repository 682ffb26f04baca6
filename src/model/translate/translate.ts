/**
 * `translate` turns the store's Ingresses, IngressClasses and Services into the `RoutingModel`:
 * which Ingresses are ours, which path rules win, and what answers when no rule matches.
 * Pure: no I/O, never throws for bad input (DESIGN §5).
 */

import type { StoredObject } from '../../store/object-store.js';
import { type IngressAnnotations, readIngressAnnotations } from '../annotations/registry.js';
import type { Diagnostic } from '../diagnostics.js';
import { objectLabel } from '../diagnostics.js';
import type { ConfigMap, Ingress, IngressBackend, IngressClass, PathType, Service } from '../objects.js';
import type { RateLimitPolicyState } from '../rate-limit-policy.js';
import {
  type BackendRef,
  type ClientAuthPolicy,
  DEFAULT_ROUTE_POLICY,
  type DefaultBackendBinding,
  type ExternalAuthPolicy,
  type IngressReport,
  type LoadBalancePolicy,
  type Route,
  type RoutePolicy,
  type RoutingModel,
} from '../types.js';
import { withAuthProxyHeaders } from './auth-proxy-headers.js';
import { BackendResolver, DEFAULT_NAMESPACE, indexServices } from './backends.js';
import { attachCanaries, type CanaryIngress } from './canary.js';
import { classifyIngress, indexClasses } from './class.js';
import { compareAge, routeKey } from './conflicts.js';
import { HostSettingsBinder } from './host-settings.js';
import { type DiagnosticFactory, diagnosticsFor } from './locate.js';
import { routeRegex } from './regex-paths.js';
import { indexConfigMaps, type ShapingContext, withResponseShaping } from './response-shaping.js';
import { tlsBindings, tlsHostList } from './tls.js';
import { validateIngress } from './validate.js';

/** `TranslateInput` is the part of the store translation reads. */
export interface TranslateInput {
  readonly ingresses: readonly StoredObject<Ingress>[];
  readonly ingressClasses: readonly StoredObject<IngressClass>[];
  readonly services: readonly StoredObject<Service>[];
  /**
   * RateLimitPolicies by `"namespace/name"`, already validated with their last good versions
   * (`resolveRateLimitPolicies`). Absent: every `portico.dev/rate-limit-policy` is missing.
   */
  readonly rateLimitPolicies?: ReadonlyMap<string, RateLimitPolicyState>;
  /** ConfigMaps annotations reference (`custom-headers`). Absent: every such reference is missing. */
  readonly configMaps?: readonly StoredObject<ConfigMap>[];
  /**
   * The ConfigMap key `global-allowed-response-headers`: the only names `custom-headers` may set
   * (lowercased). Absent: not checked (admission, tools without the controller's settings).
   */
  readonly allowedResponseHeaders?: readonly string[];
  /**
   * ConfigMap defaults for routes whose Ingress leaves them unset (`load-balance`,
   * `custom-http-errors`). Absent: round robin and no error pages.
   */
  readonly routeDefaults?: RouteDefaults;
}

/** `RouteDefaults` are the ConfigMap keys that act as defaults of per-Ingress annotations. */
export interface RouteDefaults {
  readonly loadBalance?: 'round_robin' | 'ewma';
  readonly customHttpErrors?: readonly number[];
  /** `whitelist-source-range` / `denylist-source-range`: the annotations' defaults. */
  readonly ipAllow?: readonly string[];
  readonly ipDeny?: readonly string[];
  /** `block-cidrs`: refused on every route, added to whatever deny-list applies. */
  readonly ipBlock?: readonly string[];
  /** `global-auth-*`: external auth of every Ingress without its own and not opted out. */
  readonly globalAuth?: ExternalAuthPolicy;
  /** `no-auth-locations`: route path prefixes `globalAuth` skips. */
  readonly noAuthLocations?: readonly string[];
}

/**
 * `globalAuthFor` is the policy with the ConfigMap's global auth, or undefined when it does not
 * apply: none configured, the Ingress has its own `auth-url`, or it says `enable-global-auth: "false"`.
 */
function globalAuthFor(
  policy: RoutePolicy,
  annotations: IngressAnnotations,
  defaults: RouteDefaults | undefined,
): RoutePolicy | undefined {
  const auth = defaults?.globalAuth;
  if (auth === undefined || policy.externalAuth !== undefined || annotations.globalAuthDisabled === true)
    return undefined;
  return Object.freeze({ ...policy, externalAuth: auth });
}

/** `skipsGlobalAuth`: the route path starts with a `no-auth-locations` prefix (ingress-nginx's test). */
function skipsGlobalAuth(path: string, defaults: RouteDefaults | undefined): boolean {
  return (defaults?.noAuthLocations ?? []).some((prefix) => path.startsWith(prefix));
}

const EWMA: LoadBalancePolicy = Object.freeze({ kind: 'ewma' });

/**
 * `withBalanceDefault` gives a policy the ConfigMap's `load-balance` when its Ingress chose no
 * placement itself (`load-balance`, `upstream-hash-by` or cookie `affinity` win, as in ingress-nginx).
 */
function withBalanceDefault(policy: RoutePolicy, defaults: RouteDefaults | undefined): RoutePolicy {
  if (defaults?.loadBalance !== 'ewma' || policy.loadBalance !== undefined || policy.affinity !== undefined)
    return policy;
  return Object.freeze({ ...policy, loadBalance: EWMA });
}

/**
 * `withIpDefaults` lays the ConfigMap's address lists under an Ingress's own: an annotation replaces
 * the matching default, and `block-cidrs` joins every deny-list (ingress-nginx refuses those
 * clients before any server block).
 */
function withIpDefaults(policy: RoutePolicy, defaults: RouteDefaults | undefined): RoutePolicy {
  if (defaults === undefined) return policy;
  const own = policy.ipAccess;
  const allow = own?.allow ?? defaults.ipAllow;
  const baseDeny = own?.deny ?? defaults.ipDeny;
  const deny =
    defaults.ipBlock === undefined ? baseDeny : [...new Set([...defaults.ipBlock, ...(baseDeny ?? [])])];
  if (allow === own?.allow && deny === own?.deny) return policy;
  return Object.freeze({
    ...policy,
    ipAccess: Object.freeze({
      ...(allow !== undefined ? { allow } : {}),
      ...(deny !== undefined ? { deny } : {}),
    }),
  });
}

/** `DefaultBackendService` is the `--default-backend-service` flag: the catch-all of last resort. */
export interface DefaultBackendService {
  readonly namespace: string;
  readonly name: string;
  readonly port: number | string;
}

/** `TranslateOptions` are the controller settings translation depends on. */
export interface TranslateOptions {
  /** `spec.controller` of the IngressClasses this controller serves, e.g. `portico.dev/ingress-controller`. */
  readonly controllerClass: string;
  /** Value of the legacy `kubernetes.io/ingress.class` annotation this controller serves. */
  readonly ingressClass: string;
  /** Serve Ingresses that name no class at all. */
  readonly watchIngressWithoutClass: boolean;
  /** Catch-all backend when no Ingress without rules supplies one. */
  readonly defaultBackendService?: DefaultBackendService;
}

/** `DEFAULT_BACKEND_FLAG` is the `ingress` of a binding that came from `--default-backend-service`. */
export const DEFAULT_BACKEND_FLAG = '--default-backend-service';

interface Candidate {
  readonly stored: StoredObject<Ingress>;
  readonly ingress: Ingress;
  readonly key: string;
  readonly namespace: string;
  readonly annotations: IngressAnnotations;
}

interface Claim {
  readonly ingress: string;
  readonly field: string;
}

function normalisedPath(path: string | undefined): string {
  return path === undefined || path === '' ? '/' : path;
}

/**
 * `translate` builds the `RoutingModel`. Steps: pick our Ingresses (class rules), reject invalid
 * ones (`validateIngress`), then walk the rest oldest first so that every conflict — duplicate
 * path, competing `defaultBackend` — is won by the oldest Ingress, and within one Ingress by YAML
 * order. Losers, broken references and rejected objects are reported as diagnostics.
 */
export function translate(input: TranslateInput, options: TranslateOptions): RoutingModel {
  const classes = indexClasses(
    input.ingressClasses.map((s) => s.object),
    options,
  );
  const services = indexServices(input.services.map((s) => s.object));
  const resolver = new BackendResolver(services);
  const configMaps = indexConfigMaps((input.configMaps ?? []).map((s) => s.object));
  // Recorded so the controller can skip ConfigMap changes no Ingress reads.
  const configMapsRead = new Set<string>();
  const shaping: ShapingContext = {
    resolver,
    services,
    configMaps: {
      get: (key) => {
        configMapsRead.add(key);
        return configMaps.get(key);
      },
    },
    ...(input.allowedResponseHeaders !== undefined
      ? { allowedHeaders: new Set(input.allowedResponseHeaders.map((h) => h.toLowerCase())) }
      : {}),
    ...(input.routeDefaults?.customHttpErrors !== undefined && input.routeDefaults.customHttpErrors.length > 0
      ? { defaultErrorCodes: input.routeDefaults.customHttpErrors }
      : {}),
    defaultBackend: () => {
      const flag = options.defaultBackendService;
      if (flag === undefined) return undefined;
      const port = typeof flag.port === 'number' ? { number: flag.port } : { name: flag.port };
      return resolver.resolve(flag.namespace, { service: { name: flag.name, port } }).ref;
    },
  };
  const diagnostics: Diagnostic[] = [];
  const reports: IngressReport[] = [];
  const candidates: Candidate[] = [];

  for (const stored of input.ingresses) {
    const ingress = stored.object;
    const meta = (ingress as Partial<Ingress> | null)?.metadata;
    const namespace = meta?.namespace ?? DEFAULT_NAMESPACE;
    const key = `${namespace}/${String(meta?.name ?? '')}`;
    let decision: ReturnType<typeof classifyIngress>;
    try {
      decision = classifyIngress(ingress, classes, options);
    } catch {
      // Only a malformed object can make the class check fail; validation says what is wrong.
      decision = { served: true };
    }
    if (!decision.served) {
      reports.push({ ingress: key, state: 'ignored', reason: decision.reason });
      continue;
    }
    const errors = validateIngress(stored);
    if (errors.length > 0) {
      diagnostics.push(...errors);
      const first = errors[0]!;
      const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
      reports.push({ ingress: key, state: 'rejected', reason: `${first.field}: ${first.message}${more}` });
      continue;
    }
    reports.push({ ingress: key, state: 'served', reason: '' });
    candidates.push({ stored, ingress, key, namespace, annotations: readIngressAnnotations(ingress) });
  }

  candidates.sort((a, b) => compareAge(a.ingress, b.ingress));

  const routes: Route[] = [];
  const claims = new Map<string, Claim>();
  const hostOwners = new Map<string, string>();
  const hostDefaults = new Map<string, DefaultBackendBinding>();
  let catchAll: DefaultBackendBinding | undefined;
  const clientAuth = new Map<string, ClientAuthPolicy>();
  const canaries: CanaryIngress[] = [];
  const hostScoped = new HostSettingsBinder();

  for (const c of candidates) {
    const make = diagnosticsFor(c.stored);
    const spec = c.ingress.spec ?? {};
    const canary = c.annotations.canary;
    if (canary !== undefined) {
      // A canary never claims a path, host or default: it joins main routes once they are known.
      reportAnnotations(c.annotations, make, diagnostics);
      canaries.push({
        key: c.key,
        spec,
        canary,
        policy: withBalanceDefault(c.annotations.policy, input.routeDefaults),
        make,
        resolve: (backend, field) => resolveReporting(resolver, c, backend, field, make, diagnostics),
      });
      continue;
    }
    const rules = spec.rules ?? [];
    const shaped = withResponseShaping(
      withRateLimitPolicy(c.annotations, input.rateLimitPolicies, make, diagnostics),
      c.annotations,
      c.namespace,
      shaping,
      make,
      diagnostics,
    );
    const policy = withIpDefaults(
      withBalanceDefault(
        withAuthProxyHeaders(shaped, c.annotations, c.namespace, shaping.configMaps, make, diagnostics),
        input.routeDefaults,
      ),
      input.routeDefaults,
    );
    // Only set when not the default, so the models (and /routes) of plain Ingresses are unchanged.
    const policyField = (p: RoutePolicy): { policy?: RoutePolicy } =>
      p === DEFAULT_ROUTE_POLICY ? {} : { policy: p };
    const globalAuth = globalAuthFor(policy, c.annotations, input.routeDefaults);
    const withPolicy = policyField(globalAuth ?? policy);
    // `no-auth-locations`: paths under these prefixes keep the policy without the global auth.
    const withPolicyAt = (path: string): { policy?: RoutePolicy } =>
      globalAuth !== undefined && skipsGlobalAuth(path, input.routeDefaults)
        ? policyField(policy)
        : withPolicy;
    reportAnnotations(c.annotations, make, diagnostics);
    let defaultBinding: DefaultBackendBinding | undefined;
    const bindDefault = (backend: IngressBackend): DefaultBackendBinding => {
      if (!defaultBinding) {
        const ref = resolveReporting(resolver, c, backend, 'spec.defaultBackend', make, diagnostics);
        defaultBinding = Object.freeze({ backend: ref, ingress: c.key, ...withPolicy });
      }
      return defaultBinding;
    };

    if (rules.length === 0) {
      // Validation guarantees a defaultBackend when there are no rules.
      if (spec.defaultBackend) {
        if (!catchAll) {
          catchAll = bindDefault(spec.defaultBackend);
        } else {
          diagnostics.push(
            make(
              'warning',
              'PORTICO_WARN_DEFAULT_BACKEND_CONFLICT',
              'spec.defaultBackend',
              `spec.defaultBackend is not used as the catch-all: Ingress ${catchAll.ingress} is older and supplies it`,
            ),
          );
        }
      }
      continue;
    }

    const warnedHosts = new Set<string>();
    rules.forEach((rule, i) => {
      const host = (rule.host ?? '').toLowerCase();
      bindClientAuth(clientAuth, host, c, make, diagnostics);
      hostScoped.bind(host, c.key, c.annotations.hostSettings, make, diagnostics);
      const owner = hostOwners.get(host);
      if (owner === undefined) {
        hostOwners.set(host, c.key);
        if (spec.defaultBackend) hostDefaults.set(host, bindDefault(spec.defaultBackend));
      } else if (owner !== c.key && spec.defaultBackend && !warnedHosts.has(host)) {
        warnedHosts.add(host);
        diagnostics.push(
          make(
            'warning',
            'PORTICO_WARN_DEFAULT_BACKEND_CONFLICT',
            'spec.defaultBackend',
            `spec.defaultBackend is not the fallback for ${host === '' ? 'rules without host' : `host "${host}"`}: Ingress ${owner} is older and supplies it`,
          ),
        );
      }
      const paths = rule.http?.paths ?? [];
      paths.forEach((entry, j) => {
        const field = `spec.rules[${i}].http.paths[${j}]`;
        const pathType = entry.pathType as PathType;
        const path = normalisedPath(entry.path);
        const regex = routeRegex(c.annotations.useRegex, path, pathType);
        const key = routeKey(host, path, pathType, regex);
        const claim = claims.get(key);
        if (claim) {
          const winner =
            claim.ingress === c.key
              ? `${claim.field} of the same Ingress, which comes first`
              : `Ingress ${claim.ingress} (older)`;
          diagnostics.push(
            make(
              'warning',
              'PORTICO_WARN_PATH_CONFLICT',
              `${field}.path`,
              `path "${path}" (${pathType}) on ${host === '' ? 'rules without host' : `host "${host}"`} is ignored: already defined by ${winner}`,
            ),
          );
          return;
        }
        claims.set(key, { ingress: c.key, field });
        const backend = resolveReporting(resolver, c, entry.backend, `${field}.backend`, make, diagnostics);
        routes.push(
          Object.freeze({
            host,
            path,
            pathType,
            backend,
            ingress: c.key,
            field,
            ...withPolicyAt(path),
            ...(regex !== undefined ? { regex } : {}),
          }),
        );
      });
    });
  }

  attachCanaries(routes, canaries, diagnostics);

  if (!catchAll && options.defaultBackendService) {
    const flag = options.defaultBackendService;
    const port = typeof flag.port === 'number' ? { number: flag.port } : { name: flag.port };
    const resolution = resolver.resolve(flag.namespace, { service: { name: flag.name, port } });
    if (resolution.warning) {
      diagnostics.push({
        severity: 'warning',
        code: resolution.warning.code,
        object: objectLabel('Service', flag.namespace, flag.name),
        field: '',
        message: `${DEFAULT_BACKEND_FLAG}: ${resolution.warning.message}`,
      });
    }
    catchAll = Object.freeze({ backend: resolution.ref, ingress: DEFAULT_BACKEND_FLAG });
  }

  // A canary Ingress configures no server, so neither its spec.tls (ingress-nginx's createServers).
  const served = candidates.filter((c) => c.annotations.canary === undefined).map((c) => c.stored);
  const ruleHosts = [...hostOwners.keys()];
  // server-alias and www names get their host's certificate (extra entries of the TLS map).
  const { hostSettings, tls } = hostScoped.finish(ruleHosts, tlsBindings(served, diagnostics), diagnostics);
  const tlsHosts = tlsHostList(served);

  const model: RoutingModel = {
    routes,
    hostDefaults,
    ruleHosts,
    ingresses: reports,
    diagnostics,
    ...(catchAll ? { catchAll } : {}),
    // Only when used, so models (and their JSON on /routes) of plain-HTTP setups are unchanged.
    ...(tls.size > 0 ? { tls } : {}),
    ...(tlsHosts.length > 0 ? { tlsHosts } : {}),
    ...(clientAuth.size > 0 ? { clientAuth } : {}),
    ...(hostSettings.size > 0 ? { hostSettings } : {}),
    ...(configMapsRead.size > 0 ? { configMapsRead: [...configMapsRead].sort() } : {}),
  };
  return model;
}

function resolveReporting(
  resolver: BackendResolver,
  c: Candidate,
  backend: IngressBackend,
  field: string,
  make: DiagnosticFactory,
  diagnostics: Diagnostic[],
): BackendRef {
  const resolution = resolver.resolve(c.namespace, backend, c.annotations.policy.upstream?.serviceUpstream);
  if (resolution.warning) {
    const sub = backend.resource ? `${field}.resource` : `${field}.service`;
    diagnostics.push(make('warning', resolution.warning.code, sub, resolution.warning.message));
  }
  return resolution.ref;
}

/**
 * `withRateLimitPolicy` resolves `portico.dev/rate-limit-policy`: the policy's config in force
 * becomes `rateLimit`. A rejected policy keeps its last good config (none if it never had one) and a
 * missing one sets no limit; both are warnings on the Ingress (Events in cluster mode), which keeps
 * serving: a limit is protection, and failing routes closed over a typo would turn it into an outage.
 */
function withRateLimitPolicy(
  annotations: IngressAnnotations,
  policies: ReadonlyMap<string, RateLimitPolicyState> | undefined,
  make: DiagnosticFactory,
  diagnostics: Diagnostic[],
): RoutePolicy {
  const ref = annotations.rateLimitPolicy;
  if (ref === undefined) return annotations.policy;
  const key = `${ref.namespace}/${ref.name}`;
  const state = policies?.get(key);
  if (state === undefined) {
    diagnostics.push(
      make(
        'warning',
        'PORTICO_WARN_RATE_LIMIT_POLICY',
        ref.field,
        `RateLimitPolicy ${key} not found; these routes are not rate limited until it exists`,
      ),
    );
    return annotations.policy;
  }
  if (state.rejected !== undefined) {
    diagnostics.push(
      make(
        'warning',
        'PORTICO_WARN_RATE_LIMIT_POLICY',
        ref.field,
        `RateLimitPolicy ${key} is rejected (${state.rejected}); ${state.config !== undefined ? 'keeping its last good version' : 'it never had a good version, so these routes are not rate limited'}`,
      ),
    );
  }
  if (state.config === undefined) return annotations.policy;
  return Object.freeze({ ...annotations.policy, rateLimit: state.config });
}

/** `reportAnnotations` turns an Ingress's fail-closed policies and unknown keys into warnings. */
function reportAnnotations(
  annotations: IngressAnnotations,
  make: DiagnosticFactory,
  diagnostics: Diagnostic[],
): void {
  for (const denial of annotations.denials) {
    diagnostics.push(
      make(
        'warning',
        'PORTICO_WARN_ANNOTATION_DENIED',
        denial.field,
        `${denial.message}; the routes it covers answer 503`,
      ),
    );
  }
  for (const ignored of annotations.warnings) {
    diagnostics.push(make('warning', 'PORTICO_WARN_ANNOTATION_IGNORED', ignored.field, ignored.message));
  }
  for (const unknown of annotations.unknown) {
    diagnostics.push(
      make(
        'warning',
        'PORTICO_WARN_ANNOTATION_UNKNOWN',
        unknown.field,
        `annotation ${unknown.key} is ignored: Portico does not implement it (docs/ingress-nginx-migration.md lists every ingress-nginx annotation and its status)`,
      ),
    );
  }
}

/**
 * `bindClientAuth` applies host scope to `auth-tls-*`: the first (oldest) Ingress of a host that
 * sets it supplies the host's policy; a younger one setting different values is told they are
 * ignored (the same `PORTICO_WARN_HOST_ANNOTATION_IGNORED` as `server-alias` and
 * `from-to-www-redirect`).
 */
function bindClientAuth(
  bindings: Map<string, ClientAuthPolicy>,
  host: string,
  c: Candidate,
  make: DiagnosticFactory,
  diagnostics: Diagnostic[],
): void {
  const settings = c.annotations.clientAuth;
  if (settings === undefined) return;
  const current = bindings.get(host);
  if (current !== undefined) {
    // Like every host-scoped setting, only a different value is a conflict worth a warning.
    const same =
      current.caSecret.namespace === (settings.caSecret.value.namespace ?? c.namespace) &&
      current.caSecret.name === settings.caSecret.value.name &&
      current.verify === settings.verify &&
      current.depth === settings.depth &&
      current.passCertificate === settings.passCertificate &&
      current.deny === settings.deny;
    if (current.ingress !== c.key && !same) {
      diagnostics.push(
        make(
          'warning',
          'PORTICO_WARN_HOST_ANNOTATION_IGNORED',
          settings.caSecret.field,
          `client-certificate settings for ${host === '' ? 'rules without host' : `host "${host}"`} are ignored: Ingress ${current.ingress} (older) sets them for the host`,
        ),
      );
    }
    return;
  }
  bindings.set(
    host,
    Object.freeze({
      caSecret: Object.freeze({
        namespace: settings.caSecret.value.namespace ?? c.namespace,
        name: settings.caSecret.value.name,
      }),
      verify: settings.verify,
      depth: settings.depth,
      passCertificate: settings.passCertificate,
      ingress: c.key,
      field: settings.caSecret.field,
      ...(settings.deny !== undefined ? { deny: settings.deny } : {}),
    }),
  );
}

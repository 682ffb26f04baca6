/**
 * `registry` is the single list of annotation families (ingress-nginx's `NewAnnotationFactory`)
 * and the one entry point translation uses: `readIngressAnnotations` parses every family of one
 * Ingress into a typed result with its problems, unknown keys and fail-closed reasons.
 */
import type { Ingress } from '../objects.js';
import { DEFAULT_ROUTE_POLICY, type RoutePolicy } from '../types.js';
import { accessLogAnnotations, parseAccessLog } from './access-log.js';
import { affinityAnnotations, parseAffinity, parseCanaryBehavior } from './affinity.js';
import { authTlsAnnotations, type ClientAuthSettings, parseAuthTls } from './auth-tls.js';
import { backendProtocolAnnotations, parseBackendProtocol } from './backend-protocol.js';
import { basicAuthAnnotations, parseBasicAuth } from './basic-auth.js';
import { type CanaryAnnotations, canaryAnnotations, parseCanary } from './canary.js';
import { corsAnnotations, parseCors } from './cors.js';
import { type CustomErrorsSettings, customErrorsAnnotations, parseCustomErrors } from './custom-errors.js';
import { type ConfigMapName, customHeadersAnnotations, parseCustomHeaders } from './custom-headers.js';
import { externalAuthAnnotations, readExternalAuth } from './external-auth.js';
import { ipFilterAnnotations, parseIpFilter } from './ip-filter.js';
import { loadBalanceAnnotations, parseLoadBalance } from './load-balance.js';
import {
  nginxRateLimitAnnotations,
  type RateLimitPolicyRef,
  rateLimitAnnotations,
  readRateLimit,
} from './rate-limit.js';
import { parseRedirect, redirectAnnotations } from './redirect.js';
import { refusedAnnotations } from './refused.js';
import { parseRewrite, rewriteAnnotations } from './rewrite.js';
import { parseServerAlias, serverAliasAnnotations } from './server-alias.js';
import {
  type AnnotationFamily,
  type AnnotationProblem,
  AnnotationReader,
  type AnnotationTable,
  annotationField,
  type FieldValue,
} from './spec.js';
import { parseSslRedirect, sslRedirectAnnotations } from './ssl-redirect.js';
import { parseUpstream, upstreamAnnotations } from './upstream.js';

/** `FAMILIES` lists every family, in the order the docs show them. */
export const FAMILIES: readonly AnnotationFamily<AnnotationTable>[] = [
  sslRedirectAnnotations,
  backendProtocolAnnotations,
  authTlsAnnotations,
  accessLogAnnotations,
  ipFilterAnnotations,
  basicAuthAnnotations,
  externalAuthAnnotations,
  rateLimitAnnotations,
  nginxRateLimitAnnotations,
  rewriteAnnotations,
  canaryAnnotations,
  affinityAnnotations,
  loadBalanceAnnotations,
  redirectAnnotations,
  serverAliasAnnotations,
  upstreamAnnotations,
  corsAnnotations,
  customErrorsAnnotations,
  customHeadersAnnotations,
];

/** `IngressAnnotations` is everything Portico reads from one Ingress's annotations. */
export interface IngressAnnotations {
  /** Location policy for the Ingress's routes (`DEFAULT_ROUTE_POLICY` itself when nothing is set). */
  readonly policy: RoutePolicy;
  /** Host-scoped client-certificate settings, when `auth-tls-secret` is set. */
  readonly clientAuth?: ClientAuthSettings & { readonly deny?: string };
  /** Host-scoped `server-alias` and `from-to-www-redirect`, bound per host by translation. */
  readonly hostSettings?: IngressHostSettings;
  /** Invalid values: the Ingress is rejected (its last good version keeps serving). */
  readonly problems: readonly AnnotationProblem[];
  /** Values that are read but not used (e.g. overridden by another spelling): reported, ignored. */
  readonly warnings: readonly AnnotationProblem[];
  /** `portico.dev/rate-limit-policy`: translation looks the policy up and sets `policy.rateLimit`. */
  readonly rateLimitPolicy?: RateLimitPolicyRef;
  /** Well-formed values that fail closed (the `deny` of `policy` or `clientAuth`), with their fields. */
  readonly denials: readonly AnnotationProblem[];
  /** `canary: "true"`: the Ingress is a canary (translation attaches it to main routes). */
  readonly canary?: CanaryAnnotations & { readonly affinityBehavior: 'sticky' | 'legacy' };
  /** `custom-http-errors`/`default-backend` and `custom-headers`: resolved by translation (`response-shaping.ts`). */
  readonly responseShaping?: {
    readonly customErrors?: CustomErrorsSettings;
    readonly customHeaders?: FieldValue<ConfigMapName>;
  };
  /** `auth-proxy-set-headers` of the `externalAuth` policy: resolved by translation (`auth-proxy-headers.ts`). */
  readonly authProxySetHeaders?: FieldValue<ConfigMapName>;
  /** `enable-global-auth: "false"`: the ConfigMap's `global-auth-url` does not cover this Ingress. */
  readonly globalAuthDisabled?: true;
  /** Keys under Portico's prefixes that no family reads: reported, ignored. */
  readonly unknown: readonly { readonly key: string; readonly field: string }[];
  /** `use-regex` or `rewrite-target`: this Ingress's Prefix and ImplementationSpecific paths are regexes. */
  readonly useRegex?: boolean;
}

/** `IngressHostSettings` are one Ingress's host-scoped redirect and alias values, before host precedence. */
export interface IngressHostSettings {
  readonly aliases?: FieldValue<readonly string[]>;
  readonly fromToWww?: FieldValue<boolean>;
}

/** `readIngressAnnotations` parses all families; pure, never throws for bad input. */
export function readIngressAnnotations(ingress: Ingress): IngressAnnotations {
  const meta: Partial<Ingress['metadata']> | undefined = ingress?.metadata;
  const namespace = meta?.namespace ?? 'default';
  const raw: unknown = meta?.annotations;
  const annotations =
    typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
  const reader = new AnnotationReader(annotations, namespace);
  const redirect = parseSslRedirect(reader);
  const protocol = parseBackendProtocol(reader);
  const clientAuth = parseAuthTls(reader);
  const accessLog = parseAccessLog(reader);
  const ipAccess = parseIpFilter(reader);
  const basicAuth = parseBasicAuth(reader);
  const {
    policy: externalAuth,
    proxySetHeaders: authProxySetHeaders,
    globalAuthDisabled,
  } = readExternalAuth(reader);
  // Rate limits (issue 6): a config from the annotations, or a RateLimitPolicy to look up.
  const rateLimit = readRateLimit(reader);
  const routeRedirect = parseRedirect(reader);
  const aliases = parseServerAlias(reader);
  const upstream = parseUpstream(reader);
  // Response shaping (issue 8): CORS is complete here; the rest needs Services and ConfigMaps.
  const cors = parseCors(reader);
  const customErrors = parseCustomErrors(reader);
  const customHeaders = parseCustomHeaders(reader);
  // Snippets and the rest of the refusal table reject the whole Ingress, like an invalid value.
  const refused = refusedAnnotations(annotations);
  for (const r of refused) reader.problem(r.field, r.message);
  const rewrite = parseRewrite(reader);
  // Backend selection (issue 8): canary, session affinity, load balancing.
  const canary = parseCanary(reader);
  const canaryBehavior = parseCanaryBehavior(reader);
  const affinity = parseAffinity(reader);
  const loadBalance = parseLoadBalance(reader, affinity !== undefined);
  const unknown = reader
    .ownKeys()
    .filter((key) => !reader.consumed(key) && !refused.some((r) => r.key === key))
    .sort()
    .map((key) => ({ key, field: annotationField(key) }));

  const hasPolicy =
    redirect.sslRedirect !== undefined ||
    redirect.forceSslRedirect !== undefined ||
    protocol.backendProtocol !== 'HTTP' ||
    protocol.upstreamTls !== undefined ||
    protocol.deny !== undefined ||
    accessLog !== undefined ||
    ipAccess.allow !== undefined ||
    ipAccess.deny !== undefined ||
    basicAuth !== undefined ||
    externalAuth !== undefined ||
    rateLimit.config !== undefined ||
    rewrite.policy !== undefined ||
    affinity !== undefined ||
    loadBalance !== undefined ||
    routeRedirect.redirect !== undefined ||
    routeRedirect.preserveTrailingSlash !== undefined ||
    upstream !== undefined ||
    cors !== undefined;
  // One shared default object keeps the models of annotation-free Ingresses (and /routes) unchanged.
  const policy: RoutePolicy = hasPolicy
    ? Object.freeze({
        backendProtocol: protocol.backendProtocol,
        ...redirect,
        ...(protocol.upstreamTls !== undefined ? { upstreamTls: Object.freeze(protocol.upstreamTls) } : {}),
        ...(protocol.deny !== undefined ? { deny: protocol.deny } : {}),
        ...(accessLog !== undefined ? { accessLog } : {}),
        ...(ipAccess.allow !== undefined || ipAccess.deny !== undefined
          ? { ipAccess: Object.freeze(ipAccess) }
          : {}),
        ...(basicAuth !== undefined ? { basicAuth: Object.freeze(basicAuth) } : {}),
        ...(externalAuth !== undefined ? { externalAuth: Object.freeze(externalAuth) } : {}),
        ...(rateLimit.config !== undefined ? { rateLimit: rateLimit.config } : {}),
        ...(rewrite.policy !== undefined ? { rewrite: rewrite.policy } : {}),
        ...(affinity !== undefined ? { affinity: Object.freeze(affinity) } : {}),
        ...(loadBalance !== undefined ? { loadBalance: Object.freeze(loadBalance) } : {}),
        ...(routeRedirect.redirect !== undefined ? { redirect: routeRedirect.redirect } : {}),
        ...(routeRedirect.preserveTrailingSlash !== undefined
          ? { preserveTrailingSlash: routeRedirect.preserveTrailingSlash }
          : {}),
        ...(upstream !== undefined ? { upstream } : {}),
        ...(cors !== undefined ? { cors } : {}),
      })
    : DEFAULT_ROUTE_POLICY;

  const denials: AnnotationProblem[] = [];
  if (protocol.deny !== undefined) {
    const secret = reader.read(backendProtocolAnnotations, 'proxy-ssl-secret');
    denials.push({ field: secret?.field ?? 'metadata.annotations', message: protocol.deny });
  }
  if (basicAuth?.deny !== undefined) denials.push({ field: basicAuth.field, message: basicAuth.deny });
  let auth: IngressAnnotations['clientAuth'];
  if (clientAuth !== undefined) {
    const ns = clientAuth.caSecret.value.namespace ?? namespace;
    if (ns === namespace) auth = clientAuth;
    else {
      const deny = `${clientAuth.caSecret.key}: Secret ${ns}/${clientAuth.caSecret.value.name} is in another namespace; only Secrets in ${namespace} may be used`;
      denials.push({ field: clientAuth.caSecret.field, message: deny });
      auth = { ...clientAuth, deny };
    }
  }
  return {
    policy,
    ...(auth !== undefined ? { clientAuth: auth } : {}),
    ...(aliases !== undefined || routeRedirect.fromToWww !== undefined
      ? {
          hostSettings: {
            ...(aliases !== undefined ? { aliases } : {}),
            ...(routeRedirect.fromToWww !== undefined ? { fromToWww: routeRedirect.fromToWww } : {}),
          },
        }
      : {}),
    problems: reader.problems,
    warnings: reader.warnings,
    ...(rateLimit.policy !== undefined ? { rateLimitPolicy: rateLimit.policy } : {}),
    ...(customErrors.codes !== undefined || customErrors.backend !== undefined || customHeaders !== undefined
      ? {
          responseShaping: {
            ...(customErrors.codes !== undefined || customErrors.backend !== undefined
              ? { customErrors }
              : {}),
            ...(customHeaders !== undefined ? { customHeaders } : {}),
          },
        }
      : {}),
    denials,
    ...(canary !== undefined
      ? { canary: Object.freeze({ ...canary, affinityBehavior: canaryBehavior }) }
      : {}),
    unknown,
    ...(authProxySetHeaders !== undefined ? { authProxySetHeaders } : {}),
    ...(globalAuthDisabled === true ? { globalAuthDisabled } : {}),
    ...(rewrite.useRegex ? { useRegex: true } : {}),
  };
}

/**
 * `annotationSecretRefs` returns the `"namespace/name"` keys of the Secrets an Ingress's
 * annotations reference and Portico may read (same namespace only), for the cluster's Secret
 * keeper and the CA bundle table.
 */
export function annotationSecretRefs(ingress: Ingress): string[] {
  const parsed = readIngressAnnotations(ingress);
  const out = new Set<string>();
  const ca = parsed.policy.upstreamTls?.caSecret;
  if (ca !== undefined && parsed.policy.deny === undefined) out.add(`${ca.namespace}/${ca.name}`);
  const users = parsed.policy.basicAuth?.secret;
  if (users !== undefined) out.add(`${users.namespace}/${users.name}`);
  const auth = parsed.clientAuth;
  if (auth !== undefined && auth.deny === undefined) {
    out.add(
      `${auth.caSecret.value.namespace ?? ingress.metadata.namespace ?? 'default'}/${auth.caSecret.value.name}`,
    );
  }
  return [...out].sort();
}

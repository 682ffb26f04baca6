/**
 * `auth-proxy-headers` resolves `auth-proxy-set-headers`: the ConfigMap whose data are headers of
 * the external auth subrequest. Like `custom-headers`, a reference that cannot be honoured fails
 * the routes closed (the policy's `deny`, 503): the auth service was meant to see these headers.
 * Pure: never throws for bad input.
 */
import { AUTH_HEADERS_SET_BY_PORTICO } from '../annotations/external-auth.js';
import type { IngressAnnotations } from '../annotations/registry.js';
import type { Diagnostic } from '../diagnostics.js';
import type { RoutePolicy } from '../types.js';
import type { DiagnosticFactory } from './locate.js';
import { type ConfigMapLookup, headerList } from './response-shaping.js';

/** `withAuthProxyHeaders` adds the ConfigMap's headers to `policy.externalAuth` (or its `deny`). */
export function withAuthProxyHeaders(
  policy: RoutePolicy,
  annotations: IngressAnnotations,
  namespace: string,
  configMaps: ConfigMapLookup,
  make: DiagnosticFactory,
  diagnostics: Diagnostic[],
): RoutePolicy {
  const ref = annotations.authProxySetHeaders;
  const auth = policy.externalAuth;
  if (ref === undefined || auth === undefined) return policy;
  const ns = ref.value.namespace ?? namespace;
  const key = `${ns}/${ref.value.name}`;
  let deny: string | undefined;
  let headers: readonly (readonly [string, string])[] = [];
  if (ns !== namespace) {
    deny = `${ref.key}: ConfigMap ${key} is in another namespace; only ConfigMaps in ${namespace} may be used`;
  } else {
    const found = configMaps.get(key);
    const list = found === undefined ? undefined : headerList(found.data, `${ref.key}: ConfigMap ${key}`);
    const own =
      list?.ok === true
        ? list.headers.find(([name]) => AUTH_HEADERS_SET_BY_PORTICO.has(name.toLowerCase()))
        : undefined;
    if (list === undefined) deny = `${ref.key}: ConfigMap ${key} not found`;
    else if (!list.ok) deny = list.reason;
    else if (own !== undefined) {
      deny = `${ref.key}: ConfigMap ${key}: header ${own[0]} cannot be set (Portico sets it on every auth request)`;
    } else headers = list.headers;
  }
  if (deny !== undefined) {
    diagnostics.push(
      make(
        'warning',
        'PORTICO_WARN_ANNOTATION_DENIED',
        ref.field,
        `${deny}; the routes it covers answer 503`,
      ),
    );
    return Object.freeze({ ...policy, externalAuth: Object.freeze({ ...auth, deny: auth.deny ?? deny }) });
  }
  if (headers.length === 0) return policy;
  return Object.freeze({ ...policy, externalAuth: Object.freeze({ ...auth, proxySetHeaders: headers }) });
}

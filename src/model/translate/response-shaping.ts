/**
 * `response-shaping` resolves what the response-shaping annotations point at: the `default-backend`
 * Service of `custom-http-errors` (else `--default-backend-service`) and the `custom-headers`
 * ConfigMap. It runs at translation, so the data plane only reads `RoutePolicy.customErrors` and
 * `RoutePolicy.responseHeaders`. Pure: never throws for bad input.
 */
import type { IngressAnnotations } from '../annotations/registry.js';
import type { Diagnostic } from '../diagnostics.js';
import type { ConfigMap, Service } from '../objects.js';
import type { BackendRef, CustomErrorsPolicy, RoutePolicy } from '../types.js';
import type { BackendResolver } from './backends.js';
import type { DiagnosticFactory } from './locate.js';

/** `HeaderList` is `[name, value]` pairs, as `RoutePolicy.responseHeaders` holds them. */
export type HeaderList = readonly (readonly [string, string])[];

// RFC 9110 token characters ingress-nginx allows in a header name (`^[a-zA-Z\d\-_]+$`).
const HEADER_NAME = /^[A-Za-z0-9_-]+$/;
// Visible ASCII, space and tab; no CR/LF, no other control characters.
const HEADER_VALUE = /^[\t\x20-\x7e]+$/;

/** `CONNECTION_HEADERS` frame or route one exchange: neither set nor dropped by configuration. */
export const CONNECTION_HEADERS: readonly string[] = [
  'connection',
  'content-length',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
];

// Headers whose meaning belongs to the exchange itself: set from a ConfigMap they would corrupt it.
const RESERVED: ReadonlySet<string> = new Set([...CONNECTION_HEADERS, 'host']);

/**
 * `headerList` validates a ConfigMap's `data` as headers: names are tokens, values printable
 * ASCII without CR/LF and without `$` (nginx would expand it as a variable; Portico's values are
 * data). Sorted by name so equal data gives an equal list. `what` words the errors.
 */
export function headerList(
  data: Readonly<Record<string, unknown>> | undefined,
  what: string,
): { readonly ok: true; readonly headers: HeaderList } | { readonly ok: false; readonly reason: string } {
  const out: [string, string][] = [];
  for (const name of Object.keys(data ?? {}).sort()) {
    const value = data?.[name];
    if (!HEADER_NAME.test(name)) {
      return { ok: false, reason: `${what}: ${JSON.stringify(name)} is not a valid header name` };
    }
    if (RESERVED.has(name.toLowerCase())) {
      return { ok: false, reason: `${what}: header ${name} cannot be set (it belongs to the connection)` };
    }
    if (typeof value !== 'string' || !HEADER_VALUE.test(value)) {
      return {
        ok: false,
        reason: `${what}: the value of ${name} must be printable ASCII without CR or LF, and not empty`,
      };
    }
    if (value.includes('$')) {
      return {
        ok: false,
        reason: `${what}: the value of ${name} contains "$"; Portico does not expand nginx variables (values are data)`,
      };
    }
    out.push([name, value]);
  }
  return { ok: true, headers: Object.freeze(out.map((h) => Object.freeze(h) as readonly [string, string])) };
}

/** `ShapingContext` is what resolution needs from one translation pass. */
export interface ShapingContext {
  readonly resolver: BackendResolver;
  /** `"namespace/name"` → ConfigMap. */
  readonly configMaps: ConfigMapLookup;
  /** `"namespace/name"` → Service (the `default-backend` Service's first port). */
  readonly services: ReadonlyMap<string, Service>;
  /** `global-allowed-response-headers`, lowercased; absent: every valid name may be set. */
  readonly allowedHeaders?: ReadonlySet<string>;
  /** ConfigMap `custom-http-errors`: the statuses of Ingresses without the annotation (non-empty). */
  readonly defaultErrorCodes?: readonly number[];
  /** `--default-backend-service`, resolved (the error backend when the annotation names none). */
  readonly defaultBackend?: () => BackendRef | undefined;
}

/** `ConfigMapLookup` finds a ConfigMap by `"namespace/name"`. */
export interface ConfigMapLookup {
  get(key: string): ConfigMap | undefined;
}

/** `indexConfigMaps` keys ConfigMaps by `"namespace/name"`. */
export function indexConfigMaps(configMaps: readonly ConfigMap[]): Map<string, ConfigMap> {
  const out = new Map<string, ConfigMap>();
  for (const cm of configMaps) {
    const name = cm?.metadata?.name;
    if (typeof name === 'string') out.set(`${cm.metadata.namespace ?? 'default'}/${name}`, cm);
  }
  return out;
}

/**
 * `withResponseShaping` adds `customErrors` and `responseHeaders` to an Ingress's policy. Problems
 * with what the annotations reference fail the routes closed (`deny`, 503), as ingress-nginx
 * denies the location; a missing error backend Service is a warning like any broken backend.
 */
export function withResponseShaping(
  policy: RoutePolicy,
  annotations: IngressAnnotations,
  namespace: string,
  ctx: ShapingContext,
  make: DiagnosticFactory,
  diagnostics: Diagnostic[],
): RoutePolicy {
  const refs = annotations.responseShaping;
  const globalCodes = ctx.defaultErrorCodes;
  if (refs === undefined && globalCodes === undefined) return policy;
  let customErrors: CustomErrorsPolicy | undefined;
  // The annotation's list replaces the ConfigMap's; a `default-backend` alone serves the ConfigMap's.
  const errors = refs?.customErrors ?? (globalCodes !== undefined ? { codes: globalCodes } : undefined);
  if (errors !== undefined) {
    let backend: BackendRef | undefined;
    if (errors.backend !== undefined) {
      const name = errors.backend.value;
      const svc = ctx.services.get(`${namespace}/${name}`);
      const first = svc?.spec?.ports?.[0];
      const resolution = ctx.resolver.resolve(namespace, {
        service: { name, port: first?.port !== undefined ? { number: first.port } : { name: '' } },
      });
      backend = resolution.ref;
      if (resolution.warning !== undefined) {
        const message =
          svc !== undefined && first === undefined
            ? `service "${namespace}/${name}" has no ports`
            : resolution.warning.message;
        diagnostics.push(
          make('warning', resolution.warning.code, errors.backend.field, `${errors.backend.key}: ${message}`),
        );
      }
    } else {
      backend = ctx.defaultBackend?.();
    }
    customErrors = Object.freeze({
      codes: errors.codes ?? globalCodes ?? [],
      ...(backend !== undefined ? { backend } : {}),
      ...(errors.backend !== undefined ? { fallback: true } : {}),
    });
  }
  let responseHeaders: HeaderList | undefined;
  let deny: string | undefined;
  const cm = refs?.customHeaders;
  if (cm !== undefined) {
    const ns = cm.value.namespace ?? namespace;
    const key = `${ns}/${cm.value.name}`;
    if (ns !== namespace) {
      deny = `${cm.key}: ConfigMap ${key} is in another namespace; only ConfigMaps in ${namespace} may be used`;
    } else {
      const found = ctx.configMaps.get(key);
      if (found === undefined) deny = `${cm.key}: ConfigMap ${key} not found`;
      else {
        const list = headerList(found.data, `${cm.key}: ConfigMap ${key}`);
        const allowed = ctx.allowedHeaders;
        const refused = list.ok
          ? list.headers.find(([name]) => allowed?.has(name.toLowerCase()) === false)
          : undefined;
        if (!list.ok) deny = list.reason;
        else if (refused !== undefined) {
          deny = `${cm.key}: ConfigMap ${key}: header ${refused[0]} is not allowed; an administrator lists the names custom-headers may set in the ConfigMap key global-allowed-response-headers`;
        } else responseHeaders = list.headers;
      }
    }
    if (deny !== undefined) {
      diagnostics.push(
        make(
          'warning',
          'PORTICO_WARN_ANNOTATION_DENIED',
          cm.field,
          `${deny}; the routes it covers answer 503`,
        ),
      );
    }
  }
  if (customErrors === undefined && responseHeaders === undefined && deny === undefined) return policy;
  return Object.freeze({
    ...policy,
    ...(customErrors !== undefined ? { customErrors } : {}),
    ...(responseHeaders !== undefined && responseHeaders.length > 0 ? { responseHeaders } : {}),
    ...(deny !== undefined && policy.deny === undefined ? { deny } : {}),
  });
}

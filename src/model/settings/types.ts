/**
 * `types` holds the global settings Portico takes from the `--configmap` ConfigMap (under
 * ingress-nginx's key names) on top of the flag defaults. The data plane applies them live.
 */
import {
  DEFAULT_HTTPS_OPTIONS,
  DEFAULT_PROXY_PROTOCOL_OPTIONS,
  type HttpsOptions,
  type ProxyOptions,
  type ProxyProtocolOptions,
} from '../../config/types.js';
import type { NextUpstreamCondition } from '../types.js';
import type { GlobalAuthSettings } from './global-auth.js';
import type { GlobalHeaderSettings } from './global-headers.js';
import { DEFAULT_TLS_SETTINGS, type TlsSettings } from './tls.js';

/** `UpstreamSettings` governs every exchange with an upstream. Same shape as `UpstreamOptions`. */
export interface UpstreamSettings {
  readonly connectTimeoutMs: number;
  /** Idle time between bytes read from the upstream before 504. */
  readonly readTimeoutMs: number;
  /** Idle time between bytes written to the upstream before 504. */
  readonly sendTimeoutMs: number;
  /** Total attempts for one request (first try included). */
  readonly maxTries: number;
  /** `proxy-body-size`: largest request body in bytes; absent or 0: no limit. */
  readonly maxBodyBytes?: number;
  /** `proxy-next-upstream` words; absent: Portico's default rule. */
  readonly nextUpstream?: readonly NextUpstreamCondition[];
  /** `proxy-next-upstream-timeout` in ms; absent or 0: no limit. */
  readonly nextUpstreamTimeoutMs?: number;
}

/** `ClientSettings` governs client connections. */
export interface ClientSettings {
  readonly headerTimeoutMs: number;
  readonly bodyIdleTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  /** `keep-alive-requests`: requests served on one HTTP/1.1 connection; absent or 0: no limit. */
  readonly maxRequestsPerConnection?: number;
}

/**
 * `ForwardedSettings` is ingress-nginx's `use-forwarded-headers` + `proxy-real-ip-cidr`: when
 * `useForwardedHeaders` is true, peers inside `realIpCidrs` are trusted proxies whose
 * X-Forwarded-* headers are kept; otherwise nobody is.
 */
export interface ForwardedSettings {
  readonly useForwardedHeaders: boolean;
  readonly realIpCidrs: readonly string[];
}

/** `GzipConfig` is the gzip keys; only `enabled` turns compression on (the rest are kept when off). */
export interface GzipConfig {
  readonly enabled: boolean;
  readonly level: number;
  readonly minLength: number;
  readonly types: readonly string[];
}

/** ingress-nginx's `gzip-types` default. */
export const DEFAULT_GZIP_TYPES: readonly string[] = [
  'application/atom+xml',
  'application/javascript',
  'application/x-javascript',
  'application/json',
  'application/rss+xml',
  'application/vnd.ms-fontobject',
  'application/x-font-ttf',
  'application/x-web-app-manifest+json',
  'application/xhtml+xml',
  'application/xml',
  'font/opentype',
  'image/svg+xml',
  'image/x-icon',
  'text/css',
  'text/javascript',
  'text/plain',
  'text/x-component',
];

/** `DEFAULT_GZIP` is the gzip keys' defaults (ingress-nginx's): off, level 1, 256 bytes. */
export const DEFAULT_GZIP: GzipConfig = {
  enabled: false,
  level: 1,
  minLength: 256,
  types: DEFAULT_GZIP_TYPES,
};

/** `GlobalSettings` is the effective global configuration of the data plane. */
export interface GlobalSettings {
  readonly upstream: UpstreamSettings;
  readonly client: ClientSettings;
  readonly forwarded: ForwardedSettings;
  readonly tls: TlsSettings;
  /** HTTP → HTTPS redirects and HSTS (`ssl-redirect`, `force-ssl-redirect`, `http-redirect-code`, `hsts*`). */
  readonly https: HttpsOptions;
  /** Access log lines are written (ConfigMap `disable-access-log` inverted); needs `--access-log` not `off`. */
  readonly accessLog: boolean;
  /** Status of refusals by limits written with ingress-nginx's spellings (`limit-req/conn-status-code`). */
  readonly limits: { readonly request: number; readonly connection: number };
  /** `use-proxy-protocol` and `proxy-protocol-header-timeout`: read at each accepted connection. */
  readonly proxyProtocol: ProxyProtocolOptions;
  /** `add-headers` / `proxy-set-headers` (issue 8); absent when neither is set. */
  readonly globalHeaders?: GlobalHeaderSettings;
  /** `global-allowed-response-headers`: the names `custom-headers` may set; absent: none. */
  readonly allowedResponseHeaders?: readonly string[];
  /** `global-auth-*`: external authentication for every Ingress without its own (validated text). */
  readonly globalAuth?: GlobalAuthSettings;
  /** `no-auth-locations`: path prefixes global auth skips; absent: `/.well-known/acme-challenge`. */
  readonly noAuthLocations?: readonly string[];
  /** `use-gzip`, `gzip-level`, `gzip-min-length`, `gzip-types`; absent: no compression. */
  readonly gzip?: GzipConfig;
  /** `hide-headers`: upstream response headers never passed to the client (lowercased). */
  readonly hideHeaders?: readonly string[];
  /** `load-balance`: the algorithm of routes without a `load-balance` annotation; absent: round_robin. */
  readonly loadBalance?: 'round_robin' | 'ewma';
  /** `custom-http-errors`: statuses answered by the error backend on routes without the annotation. */
  readonly customHttpErrors?: readonly number[];
  /**
   * `whitelist-source-range` / `denylist-source-range` (defaults of the annotations) and
   * `block-cidrs` (refused on every route, whatever the annotations say); normalised CIDRs.
   */
  readonly ipAccess?: {
    readonly allow?: readonly string[];
    readonly deny?: readonly string[];
    readonly block?: readonly string[];
  };
}

/** `TRUST_ALL` is ingress-nginx's `proxy-real-ip-cidr` default (0.0.0.0/0), plus its IPv6 twin. */
export const TRUST_ALL: readonly string[] = ['0.0.0.0/0', '::/0'];

/**
 * `baseSettings` derives the settings the flags give, i.e. what applies where the ConfigMap is
 * silent. `--trusted-proxies` maps onto the ingress-nginx pair: a non-empty list means
 * `use-forwarded-headers: "true"` with `proxy-real-ip-cidr` = that list; an empty one means
 * `"false"`, with ingress-nginx's trust-everyone CIDR default waiting for a ConfigMap to turn it on.
 */
export function baseSettings(options: ProxyOptions): GlobalSettings {
  const trusted = options.trustedProxies;
  return {
    upstream: {
      connectTimeoutMs: options.upstream.connectTimeoutMs,
      readTimeoutMs: options.upstream.readTimeoutMs,
      sendTimeoutMs: options.upstream.sendTimeoutMs,
      maxTries: options.upstream.maxTries,
      ...(options.upstream.maxBodyBytes !== undefined ? { maxBodyBytes: options.upstream.maxBodyBytes } : {}),
      ...(options.upstream.nextUpstream !== undefined ? { nextUpstream: options.upstream.nextUpstream } : {}),
      ...(options.upstream.nextUpstreamTimeoutMs !== undefined
        ? { nextUpstreamTimeoutMs: options.upstream.nextUpstreamTimeoutMs }
        : {}),
    },
    client: {
      headerTimeoutMs: options.client.headerTimeoutMs,
      bodyIdleTimeoutMs: options.client.bodyIdleTimeoutMs,
      keepAliveTimeoutMs: options.client.keepAliveTimeoutMs,
    },
    forwarded: {
      useForwardedHeaders: trusted.length > 0,
      realIpCidrs: trusted.length > 0 ? [...trusted] : [...TRUST_ALL],
    },
    tls: options.tls ?? DEFAULT_TLS_SETTINGS,
    https: options.https ?? DEFAULT_HTTPS_OPTIONS,
    accessLog: options.accessLog !== undefined && options.accessLog !== 'off',
    limits: options.policies?.limitStatus ?? { request: 503, connection: 503 },
    proxyProtocol: options.proxyProtocol ?? DEFAULT_PROXY_PROTOCOL_OPTIONS,
  };
}

/** `trustedProxiesOf` is the CIDR list whose X-Forwarded-* headers are believed (empty = nobody). */
export function trustedProxiesOf(forwarded: ForwardedSettings): readonly string[] {
  return forwarded.useForwardedHeaders ? forwarded.realIpCidrs : [];
}

/**
 * `resolveUpstreamSettings` applies precedence annotation > ConfigMap > flag: `global` already is
 * ConfigMap over flags; `route` holds the per-route overrides (annotations, when they arrive).
 * Returns `global` itself when nothing is overridden, so the common case allocates nothing.
 */
export function resolveUpstreamSettings(
  global: UpstreamSettings,
  route?: Partial<UpstreamSettings>,
): UpstreamSettings {
  if (route === undefined) return global;
  let out: { -readonly [K in keyof UpstreamSettings]: UpstreamSettings[K] } | undefined;
  for (const key of ['connectTimeoutMs', 'readTimeoutMs', 'sendTimeoutMs', 'maxTries'] as const) {
    const v = route[key];
    if (v === undefined || v === global[key]) continue;
    out ??= { ...global };
    out[key] = v;
  }
  return out ?? global;
}

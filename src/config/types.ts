/**
 * `types` holds the static (process) configuration the CLI builds and the data plane consumes.
 */
import type { NextUpstreamCondition } from '../model/types.js';

export interface UpstreamOptions {
  readonly connectTimeoutMs: number;
  /** Idle time between bytes read from the upstream before 504. */
  readonly readTimeoutMs: number;
  /** Idle time between bytes written to the upstream before 504. */
  readonly sendTimeoutMs: number;
  /** Total attempts for one request (first try included). */
  readonly maxTries: number;
  /** `proxy-body-size`: largest request body in bytes (413 above it); absent or 0: no limit. */
  readonly maxBodyBytes?: number;
  /** `proxy-next-upstream` words; absent: `error timeout invalid_header` (Portico's rule, made safe). */
  readonly nextUpstream?: readonly NextUpstreamCondition[];
  /** `proxy-next-upstream-timeout` in ms; absent or 0: no limit. */
  readonly nextUpstreamTimeoutMs?: number;
}

export interface ClientOptions {
  readonly headerTimeoutMs: number;
  readonly bodyIdleTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly maxHeaderBytes: number;
}

/** `TlsProtocol` is a TLS version the HTTPS listener can offer. */
export type TlsProtocol = 'TLSv1.2' | 'TLSv1.3';

/** `TlsListenerOptions` govern the HTTPS listener's handshakes (ingress-nginx's ssl-* keys, use-http2). */
export interface TlsListenerOptions {
  /** Ascending, at least one. */
  readonly protocols: readonly TlsProtocol[];
  /** OpenSSL cipher string for TLS 1.2; TLS 1.3 keeps its default suites. */
  readonly ciphers: string;
  /** Session-ID resumption through Portico's in-memory cache. */
  readonly sessionCache: boolean;
  readonly sessionCacheBytes: number;
  readonly sessionTimeoutMs: number;
  readonly sessionTickets: boolean;
  /** Offer h2 in ALPN. */
  readonly http2: boolean;
}

export interface ProxyOptions {
  readonly bindAddress: string;
  readonly httpPort: number;
  readonly httpsPort: number;
  readonly adminPort: number;
  /** CIDRs (or addresses) whose X-Forwarded-* headers are believed. */
  readonly trustedProxies: readonly string[];
  readonly upstream: UpstreamOptions;
  readonly client: ClientOptions;
  /** The HTTPS listener's TLS settings; absent means ingress-nginx's defaults. */
  readonly tls?: TlsListenerOptions;
  readonly shutdownDelayMs: number;
  readonly drainTimeoutMs: number;
  /** HTTP → HTTPS redirect and HSTS flag defaults; absent means `DEFAULT_HTTPS_OPTIONS`. */
  readonly https?: HttpsOptions;
  /** `--access-log`: `stdout`, `off` or a file path. Absent: off (in-process tests, tools). */
  readonly accessLog?: string;
  /** Rate-limit stores and refusal codes; absent: memory only, ingress-nginx's 503s. */
  readonly policies?: PolicyOptions;
  /** PROXY protocol on the HTTP and HTTPS listeners; absent means off. */
  readonly proxyProtocol?: ProxyProtocolOptions;
}

/** `PolicyOptions` are the process-wide policy settings (`--redis-url` and friends). */
export interface PolicyOptions {
  readonly redisUrl?: string;
  readonly redisTimeoutMs: number;
  /** Replicas assumed when no better count is known (`--replicas-hint`). */
  readonly replicasHint: number;
  /** `--limit-req-status-code` / `--limit-conn-status-code` (ConfigMap keys of the same names override). */
  readonly limitStatus: { readonly request: number; readonly connection: number };
}

/** `ProxyProtocolOptions` is `--use-proxy-protocol` and `--proxy-protocol-header-timeout`. */
export interface ProxyProtocolOptions {
  /** Every accepted connection must start with a PROXY header (v1 or v2). */
  readonly enabled: boolean;
  /** Time from accept to a complete header before the connection is closed. */
  readonly headerTimeoutMs: number;
}

/** `DEFAULT_PROXY_PROTOCOL_OPTIONS` are ingress-nginx's defaults: off, 5 s. */
export const DEFAULT_PROXY_PROTOCOL_OPTIONS: ProxyProtocolOptions = {
  enabled: false,
  headerTimeoutMs: 5_000,
};

/** `RedirectCode` is a status ingress-nginx accepts for its HTTP → HTTPS redirects. */
export type RedirectCode = 301 | 302 | 307 | 308;

export const REDIRECT_CODES: readonly RedirectCode[] = [301, 302, 307, 308];

/** `HstsOptions` is the Strict-Transport-Security header sent on HTTPS responses of TLS hosts. */
export interface HstsOptions {
  readonly enabled: boolean;
  readonly maxAgeSeconds: number;
  readonly includeSubdomains: boolean;
  readonly preload: boolean;
}

/** `HttpsOptions` are the global HTTP → HTTPS redirect and HSTS settings (ingress-nginx ConfigMap keys of the same names). */
export interface HttpsOptions {
  /** `ssl-redirect`: redirect plain HTTP for hosts listed in `spec.tls`. */
  readonly sslRedirect: boolean;
  /** `force-ssl-redirect`: redirect plain HTTP for every host. */
  readonly forceSslRedirect: boolean;
  /** `http-redirect-code`. */
  readonly redirectCode: RedirectCode;
  /** Port written into `Location` (`--https-redirect-port`, no ConfigMap key); 443 writes none. */
  readonly redirectPort: number;
  readonly hsts: HstsOptions;
}

export const DEFAULT_UPSTREAM_OPTIONS: UpstreamOptions = {
  connectTimeoutMs: 5_000,
  readTimeoutMs: 60_000,
  sendTimeoutMs: 60_000,
  maxTries: 3,
};

export const DEFAULT_CLIENT_OPTIONS: ClientOptions = {
  headerTimeoutMs: 60_000,
  bodyIdleTimeoutMs: 60_000,
  keepAliveTimeoutMs: 75_000,
  maxHeaderBytes: 32 * 1024,
};

/** `DEFAULT_HTTPS_OPTIONS` are ingress-nginx's defaults, with a one-year HSTS max-age. */
export const DEFAULT_HTTPS_OPTIONS: HttpsOptions = {
  sslRedirect: true,
  forceSslRedirect: false,
  redirectCode: 308,
  redirectPort: 443,
  hsts: { enabled: true, maxAgeSeconds: 31_536_000, includeSubdomains: true, preload: false },
};

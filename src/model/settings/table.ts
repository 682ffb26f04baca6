/**
 * `table` is the single list of ConfigMap keys Portico knows, under ingress-nginx's names: how each
 * parses, what it does, its default and how it differs from ingress-nginx. The parser reads values
 * only through this table, and `npm run gen:docs` renders docs/configmap.md from it (DESIGN §3's
 * "one table, parser, validator, doc", applied to the ConfigMap).
 */
import type { GlobalSettings } from './types.js';
import { boolean, cidrList, integer, nginxDuration, type Parsed, type Validator } from './validators.js';

/** `SettingsPatch` sets one key's value over the lower layers. */
export type SettingsPatch = (settings: GlobalSettings) => GlobalSettings;

interface RowBase {
  /** ingress-nginx's type, as its ConfigMap documentation names it. */
  readonly type: string;
  /** ingress-nginx's default, as its documentation writes it. */
  readonly ingressNginxDefault: string;
  /** What the key does (one or two sentences). */
  readonly doc: string;
}

/** `SupportedSetting` is a key that takes effect. */
export interface SupportedSetting extends RowBase {
  readonly status: 'supported';
  /** Portico's default, which is the flag default (a unit test holds them together). */
  readonly default: string;
  /** The command-line flag giving the default, without `--`. */
  readonly flag: string;
  /** How Portico's behaviour differs from ingress-nginx's, if it does. */
  readonly differs?: string;
  /** Parses a raw value into the patch that applies it. */
  readonly parse: (raw: string) => Parsed<SettingsPatch>;
  /** Renders the value in force, as `default` is written (for messages and the default check). */
  readonly show: (settings: GlobalSettings) => string;
}

/** `PlannedSetting` is an ingress-nginx key of a feature Portico does not have yet: accepted, reported, ignored. */
export interface PlannedSetting extends RowBase {
  readonly status: 'planned';
}

export type SettingRow = SupportedSetting | PlannedSetting;

/** `showDuration` renders milliseconds as the flags write them (`60s`, `500ms`). */
export function showDuration(ms: number): string {
  return ms % 1_000 === 0 ? `${ms / 1_000}s` : `${ms}ms`;
}

interface SupportedSpec<T> extends Omit<SupportedSetting, 'status' | 'parse' | 'show'> {
  readonly validate: Validator<T>;
  readonly apply: (settings: GlobalSettings, value: T) => GlobalSettings;
  readonly read: (settings: GlobalSettings) => T;
  readonly render: (value: T) => string;
}

// Erases T: the row keeps closures over the typed validator and setter, so no cast is needed.
function supported<T>(spec: SupportedSpec<T>): SupportedSetting {
  const { validate, apply, read, render, ...row } = spec;
  return {
    ...row,
    status: 'supported',
    parse: (raw) => {
      const parsed = validate(raw);
      return parsed.ok ? { ok: true, value: (s) => apply(s, parsed.value) } : parsed;
    },
    show: (s) => render(read(s)),
  };
}

const planned = (type: string, ingressNginxDefault: string, doc: string): PlannedSetting => ({
  status: 'planned',
  type,
  ingressNginxDefault,
  doc,
});

const SECONDS = 'int (seconds)';
const SECONDS_NOTE =
  'Values are seconds as in ingress-nginx (`"60"`); nginx time syntax (`"60s"`, `"1m"`, `"500ms"`) is accepted too.';

const keepAlive: Validator<number> = (raw) =>
  raw.trim() === '0' || /^0+(ms|s|m|h|d)?$/.test(raw.trim())
    ? { ok: false, reason: '0 (keep-alive off) is not supported; Portico always allows keep-alive' }
    : nginxDuration()(raw);

// Tries: 0 is nginx's "no limit"; the balancer never tries an endpoint twice in one request, so the
// endpoint count is the real ceiling.
const NO_TRY_LIMIT = Number.MAX_SAFE_INTEGER;

/** `SETTINGS` is the table; keys are ingress-nginx ConfigMap keys, sorted within each status. */
export const SETTINGS = {
  'client-body-timeout': supported({
    type: SECONDS,
    ingressNginxDefault: '60',
    default: '60s',
    flag: 'client-body-timeout',
    doc: 'Idle time between two reads of a client request body; past it Portico answers 408 (or cuts the connection if the response has begun). Applies to requests that start after the change.',
    validate: nginxDuration(),
    read: (s) => s.client.bodyIdleTimeoutMs,
    apply: (s, v) => ({ ...s, client: { ...s.client, bodyIdleTimeoutMs: v } }),
    render: showDuration,
    differs: SECONDS_NOTE,
  }),
  'client-header-timeout': supported({
    type: SECONDS,
    ingressNginxDefault: '60',
    default: '60s',
    flag: 'client-header-timeout',
    doc: 'Time a client has to send the complete request headers; past it Portico answers 408 and closes the connection. A change applies to the listener at once.',
    validate: nginxDuration(),
    read: (s) => s.client.headerTimeoutMs,
    apply: (s, v) => ({ ...s, client: { ...s.client, headerTimeoutMs: v } }),
    render: showDuration,
    differs: `${SECONDS_NOTE} Expiry is checked about once a second (Node's connection check), so the 408 may come up to a second late.`,
  }),
  'keep-alive': supported({
    type: SECONDS,
    ingressNginxDefault: '75',
    default: '75s',
    flag: 'keepalive-timeout',
    doc: 'How long an idle client keep-alive connection stays open. A change applies to connections from their next idle period.',
    validate: keepAlive,
    read: (s) => s.client.keepAliveTimeoutMs,
    apply: (s, v) => ({ ...s, client: { ...s.client, keepAliveTimeoutMs: v } }),
    render: showDuration,
    differs: `${SECONDS_NOTE} \`"0"\` (keep-alive off in nginx) is refused.`,
  }),
  'proxy-connect-timeout': supported({
    type: SECONDS,
    ingressNginxDefault: '5',
    default: '5s',
    flag: 'proxy-connect-timeout',
    doc: 'Time allowed to open a connection to an upstream endpoint; a failed attempt is retried on the next endpoint (see `proxy-next-upstream-tries`), else answered 504. A change re-creates the upstream connection pools; requests in flight finish on the old ones.',
    validate: nginxDuration(),
    read: (s) => s.upstream.connectTimeoutMs,
    apply: (s, v) => ({ ...s, upstream: { ...s.upstream, connectTimeoutMs: v } }),
    render: showDuration,
    differs: `${SECONDS_NOTE} nginx caps this at about 75 seconds; Portico does not.`,
  }),
  'proxy-next-upstream-tries': supported({
    type: 'int',
    ingressNginxDefault: '3',
    default: '3',
    flag: 'proxy-next-upstream-tries',
    doc: 'Attempts per request, the first included, and never more than the backend has endpoints. `0` means no limit (every endpoint once). Applies to requests that start after the change.',
    validate: integer(0, 100),
    read: (s) => s.upstream.maxTries,
    apply: (s, v) => ({ ...s, upstream: { ...s.upstream, maxTries: v === 0 ? NO_TRY_LIMIT : v } }),
    render: (v) => (v === NO_TRY_LIMIT ? '0' : String(v)),
    differs:
      'Portico retries only what is safe: a failed connection for any request; other failures only for idempotent methods whose body was not consumed and before any response byte (ingress-nginx retries `error timeout` per `proxy-next-upstream`, which is not configurable yet). At most 100.',
  }),
  'proxy-read-timeout': supported({
    type: SECONDS,
    ingressNginxDefault: '60',
    default: '60s',
    flag: 'proxy-read-timeout',
    doc: 'Idle time between two reads from an upstream (waiting for the response headers, then between body chunks) before the request fails with 504. Applies to requests that start after the change.',
    validate: nginxDuration(),
    read: (s) => s.upstream.readTimeoutMs,
    apply: (s, v) => ({ ...s, upstream: { ...s.upstream, readTimeoutMs: v } }),
    render: showDuration,
    differs: SECONDS_NOTE,
  }),
  'proxy-real-ip-cidr': supported({
    type: '[]string',
    ingressNginxDefault: '"0.0.0.0/0"',
    default: '0.0.0.0/0,::/0',
    flag: 'trusted-proxies',
    doc: 'Comma-separated CIDRs or addresses of the proxies in front of Portico whose forwarding headers are trusted while `use-forwarded-headers` is `"true"`. Applies to requests that start after the change.',
    validate: cidrList,
    read: (s) => s.forwarded.realIpCidrs,
    apply: (s, v) => ({ ...s, forwarded: { ...s.forwarded, realIpCidrs: v } }),
    render: (v) => v.join(','),
    differs:
      "The default also covers IPv6 (`::/0`). When `--trusted-proxies` is set, its list is the default. Portico does not rewrite the client address from X-Forwarded-For (nginx's real_ip module): logs and balancing use the TCP peer, and PROXY protocol is not supported.",
  }),
  'proxy-send-timeout': supported({
    type: SECONDS,
    ingressNginxDefault: '60',
    default: '60s',
    flag: 'proxy-send-timeout',
    doc: 'Idle time between two writes of a request body to an upstream (the upstream stopped reading) before the request fails with 504. Applies to requests that start after the change.',
    validate: nginxDuration(),
    read: (s) => s.upstream.sendTimeoutMs,
    apply: (s, v) => ({ ...s, upstream: { ...s.upstream, sendTimeoutMs: v } }),
    render: showDuration,
    differs: SECONDS_NOTE,
  }),
  'use-forwarded-headers': supported({
    type: 'bool',
    ingressNginxDefault: '"false"',
    default: 'false',
    flag: 'trusted-proxies',
    doc: '`"true"`: X-Forwarded-For, -Proto, -Host, -Port, X-Real-IP and Forwarded from peers inside `proxy-real-ip-cidr` are kept (the peer is appended to X-Forwarded-For); `"false"`: they are overwritten with what Portico saw, and Forwarded is removed. ssl-client-* (client-certificate headers) are removed from every peer either way: only the client-certificate check of Portico sets them. Applies to requests that start after the change.',
    validate: boolean,
    read: (s) => s.forwarded.useForwardedHeaders,
    apply: (s, v) => ({ ...s, forwarded: { ...s.forwarded, useForwardedHeaders: v } }),
    render: String,
    differs:
      'Defaults to `"true"` when `--trusted-proxies` is set. From a trusted peer Portico keeps an incoming X-Real-IP (ingress-nginx sets it to the address its real_ip module derives from X-Forwarded-For).',
  }),

  'add-headers': planned('string', '""', 'Headers added to every response, from another ConfigMap.'),
  'block-cidrs': planned('[]string', '""', 'Client CIDRs refused for every Ingress.'),
  'compute-full-forwarded-for': planned(
    'bool',
    '"false"',
    'Append the peer to X-Forwarded-For instead of replacing it.',
  ),
  'custom-http-errors': planned('[]int', '[]', 'Status codes served by the default backend instead.'),
  'enable-real-ip': planned('bool', '"false"', 'Take the client address from the forwarded-for header.'),
  'force-ssl-redirect': planned('bool', '"false"', 'Redirect to HTTPS even for hosts without TLS.'),
  'forwarded-for-header': planned('string', '"X-Forwarded-For"', 'Header that carries the client address.'),
  'generate-request-id': planned('bool', '"true"', 'Generate X-Request-ID when the client sent none.'),
  'global-auth-url': planned('string', '""', 'External authentication for every Ingress.'),
  'hide-headers': planned('[]string', 'empty', 'Upstream response headers not passed to the client.'),
  hsts: planned('bool', '"true"', 'Send Strict-Transport-Security on HTTPS responses.'),
  'hsts-include-subdomains': planned('bool', '"true"', 'Add includeSubDomains to the HSTS header.'),
  'hsts-max-age': planned('string', '"15724800"', 'max-age of the HSTS header, in seconds.'),
  'hsts-preload': planned('bool', '"false"', 'Add preload to the HSTS header.'),
  'http-redirect-code': planned('int', '308', 'Status code of HTTP to HTTPS redirects.'),
  'keep-alive-requests': planned('int', '100', 'Requests served on one client keep-alive connection.'),
  'limit-conn-status-code': planned('int', '503', 'Status code when a connection limit is exceeded.'),
  'limit-req-status-code': planned('int', '503', 'Status code when a request rate limit is exceeded.'),
  'load-balance': planned('string', '"round_robin"', 'Load-balancing algorithm (round_robin, ewma).'),
  'proxy-body-size': planned('string', '"1m"', 'Largest request body accepted; larger ones get 413.'),
  'proxy-next-upstream': planned(
    'string',
    '"error timeout"',
    'Which failures are retried on the next endpoint.',
  ),
  'proxy-next-upstream-timeout': planned('int', '0', 'Time limit for all retries of one request.'),
  'proxy-set-headers': planned('string', '""', 'Headers sent to upstreams, from another ConfigMap.'),
  'ssl-ciphers': planned('string', '(nginx list)', 'TLS cipher suites.'),
  'ssl-protocols': planned('string', '"TLSv1.2 TLSv1.3"', 'TLS protocol versions.'),
  'ssl-redirect': planned('bool', '"true"', 'Redirect HTTP to HTTPS for hosts with TLS.'),
  'upstream-keepalive-connections': planned('int', '320', 'Idle upstream connections kept per worker.'),
  'upstream-keepalive-requests': planned('int', '10000', 'Requests served on one upstream connection.'),
  'upstream-keepalive-timeout': planned('int', '60', 'How long an idle upstream connection stays open.'),
  'use-gzip': planned('bool', '"false"', 'Compress responses with gzip.'),
  'use-http2': planned('bool', '"true"', 'Serve HTTP/2 on the HTTPS listener.'),
  'use-proxy-protocol': planned('bool', '"false"', 'Expect the PROXY protocol from the load balancer.'),
  'whitelist-source-range': planned('[]string', '[]', 'Client CIDRs allowed for every Ingress.'),
} as const satisfies Record<string, SettingRow>;

/** `SettingKey` is a key the table knows. */
export type SettingKey = keyof typeof SETTINGS;

/** `settingRow` looks a key up; undefined for a key the table does not know. */
export function settingRow(key: string): SettingRow | undefined {
  return Object.hasOwn(SETTINGS, key) ? (SETTINGS as Record<string, SettingRow>)[key] : undefined;
}

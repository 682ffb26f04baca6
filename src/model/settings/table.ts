/**
 * `table` is the single list of ConfigMap keys Portico knows, under ingress-nginx's names: how each
 * parses, what it does, its default and how it differs from ingress-nginx. The parser reads values
 * only through this table, and `npm run gen:docs` renders docs/configmap.md from it (DESIGN §3's
 * "one table, parser, validator, doc", applied to the ConfigMap).
 */

import { isDeepStrictEqual } from 'node:util';
import { REDIRECT_CODES, type RedirectCode } from '../../config/types.js';
import { statusList } from '../annotations/custom-errors.js';
import { cidrSet } from '../annotations/ip-filter.js';
import { bodySize, nextUpstream, retryBudget } from '../annotations/upstream.js';
import { CONNECTION_HEADERS } from '../translate/response-shaping.js';
import type { NextUpstreamCondition } from '../types.js';
import {
  DEFAULT_NO_AUTH_LOCATIONS,
  type GlobalAuthKey,
  globalAuthValidator,
  noAuthLocations,
  withGlobalAuthKey,
} from './global-auth.js';
import { configMapRef, headerNames, withAllowedResponseHeaders, withHeaderRef } from './global-headers.js';
import { cipherList, nginxSize, showMinutes, showSize, type TlsSettings, tlsProtocols } from './tls.js';
import { DEFAULT_GZIP, DEFAULT_GZIP_TYPES, type GlobalSettings, type GzipConfig } from './types.js';
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
  /** The command-line flag giving the default, without `--`; absent for keys only the ConfigMap sets. */
  readonly flag?: string;
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

// Headers that frame or route the response: hiding them would corrupt it.
const FRAMING_HEADERS: ReadonlySet<string> = new Set(CONNECTION_HEADERS);

/** `hiddenHeaderNames` reads `hide-headers`: header names, lowercased, none that frames the response. */
const hiddenHeaderNames: Validator<readonly string[]> = (raw) => {
  const parsed = headerNames(raw);
  if (!parsed.ok) return parsed;
  const names = [...new Set(parsed.value.map((n) => n.toLowerCase()))];
  const framing = names.filter((n) => FRAMING_HEADERS.has(n));
  if (framing.length > 0)
    return { ok: false, reason: `${framing.join(', ')} cannot be hidden (it frames the response)` };
  return { ok: true, value: names };
};

/** `withGzip` changes gzip keys; the defaults leave the settings as the flags gave them. */
function withGzip(s: GlobalSettings, patch: Partial<GzipConfig>): GlobalSettings {
  const next = { ...(s.gzip ?? DEFAULT_GZIP), ...patch };
  const { gzip: _dropped, ...rest } = s;
  return isDeepStrictEqual(next, DEFAULT_GZIP) ? rest : { ...rest, gzip: next };
}

// A MIME type as nginx's gzip_types takes it: type/subtype, lowercase letters, digits, + . -.
const MIME_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]*\/[a-z0-9][a-z0-9!#$&^_.+-]*$/;

/** `gzipTypes` reads `gzip-types`: space-separated MIME types, or `*`. */
const gzipTypes: Validator<readonly string[]> = (raw) => {
  const items = raw
    .split(/[\s,]+/)
    .map((t) => t.toLowerCase())
    .filter((t) => t !== '');
  if (items.length === 0) return { ok: false, reason: 'must list at least one MIME type (or *)' };
  const bad = items.filter((t) => t !== '*' && !MIME_TYPE.test(t));
  if (bad.length > 0)
    return { ok: false, reason: `${bad.map((b) => JSON.stringify(b)).join(', ')} is not a MIME type` };
  return { ok: true, value: [...new Set(items)] };
};

/** A CIDR list where empty means "none" (the ConfigMap default), not an error. */
const cidrDefault: Validator<readonly string[]> = (raw) =>
  raw.trim() === '' ? { ok: true, value: [] } : cidrSet(raw);

/** `globalAuthSetting` is a row of a `global-auth-*` key (`GlobalSettings.globalAuth`). */
function globalAuthSetting(
  key: GlobalAuthKey,
  type: string,
  ingressNginxDefault: string,
  doc: string,
): SupportedSetting {
  return supported({
    type,
    ingressNginxDefault,
    default: '',
    doc: key === 'global-auth-url' ? doc : `${doc} Empty (the default): as the annotation's default.`,
    validate: globalAuthValidator(key),
    read: (s) => s.globalAuth?.[key] ?? '',
    apply: (s, v) => withGlobalAuthKey(s, key, v),
    render: String,
    differs:
      'Values are checked like the matching `auth-*` annotation (nginx variables limited to the listed ones). No command-line flag.',
  });
}

/** `ipListSetting` is a row of the ConfigMap's address lists (`GlobalSettings.ipAccess[list]`). */
function ipListSetting(
  list: 'allow' | 'deny' | 'block',
  doc: string,
  differs = 'No command-line flag. Addresses are matched as the annotations match them (IPv4-mapped IPv6 peers as IPv4).',
): SupportedSetting {
  return supported({
    type: '[]string',
    ingressNginxDefault: '""',
    default: '',
    doc,
    validate: cidrDefault,
    read: (s) => s.ipAccess?.[list] ?? [],
    apply: (s, v) => withIpList(s, list, v),
    render: (v) => v.join(','),
    differs,
  });
}

function withIpList(
  s: GlobalSettings,
  list: 'allow' | 'deny' | 'block',
  v: readonly string[],
): GlobalSettings {
  const { [list]: _dropped, ...lists } = s.ipAccess ?? {};
  const next = v.length > 0 ? { ...lists, [list]: v } : lists;
  const { ipAccess: _old, ...rest } = s;
  return Object.keys(next).length > 0 ? { ...rest, ipAccess: next } : rest;
}

const redirectCode: Validator<RedirectCode> = (raw) => {
  const code = REDIRECT_CODES.find((c) => String(c) === raw.trim());
  return code === undefined
    ? { ok: false, reason: `must be one of ${REDIRECT_CODES.join(', ')}` }
    : { ok: true, value: code };
};

const HSTS_LIVE = 'Applies to responses of requests that start after the change.';
const HSTS_FLAG = 'The flag `--hsts` gives the four `hsts*` defaults in one header-like value.';

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

const withTls = (s: GlobalSettings, patch: Partial<TlsSettings>): GlobalSettings => ({
  ...s,
  tls: { ...s.tls, ...patch },
});
const TLS_LIVE = 'A change applies to TLS handshakes that start afterwards; open connections keep theirs.';

// Tries: 0 is nginx's "no limit"; the balancer never tries an endpoint twice in one request, so the
// endpoint count is the real ceiling.
const NO_TRY_LIMIT = Number.MAX_SAFE_INTEGER;

// Portico's rule without any setting: ingress-nginx's `error timeout`, plus malformed responses.
const DEFAULT_NEXT_UPSTREAM: readonly NextUpstreamCondition[] = ['error', 'timeout', 'invalid_header'];

/** `SETTINGS` is the table; keys are ingress-nginx ConfigMap keys, sorted within each status. */
export const SETTINGS = {
  'add-headers': supported({
    type: 'string',
    ingressNginxDefault: '""',
    default: '',
    doc: "`namespace/name` of a ConfigMap whose data are headers added to every response (the backend's header of the same name is replaced; an Ingress's `custom-headers` wins over it). The ConfigMap is re-read on every change. A missing ConfigMap or an invalid header is a warning and sets no headers.",
    validate: configMapRef,
    read: (s) => s.globalHeaders?.addHeaders ?? '',
    apply: (s, v) => withHeaderRef(s, 'addHeaders', v),
    render: String,
    differs:
      'Values are literal: one containing `$` is refused (nginx expands variables there). Names must be tokens (`A-Z a-z 0-9 - _`); connection headers (Content-Length, Transfer-Encoding, …) cannot be set. No command-line flag.',
  }),
  'block-cidrs': ipListSetting(
    'block',
    "Comma-separated client addresses and CIDRs (IPv4, IPv6) refused with 403 on every route, whatever its Ingress's `allowlist-source-range`/`denylist-source-range` say. Empty (the default): none. Applies when the routing snapshot is rebuilt, within the same update.",
    'Checked where the `ip-filter` annotations are, with the same client address: on the routes of every Ingress (its rules and its `defaultBackend`). A request no Ingress serves (a 404, or the `--default-backend-service` catch-all) is not refused, where nginx refuses it in the http block. No command-line flag.',
  ),
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
  'custom-http-errors': supported({
    type: '[]int',
    ingressNginxDefault: '""',
    default: '',
    doc: "Comma-separated upstream statuses (300–599) answered by the error backend on every route whose Ingress has no `custom-http-errors` annotation: the Ingress's `default-backend` annotation Service, else `--default-backend-service`, else Portico's built-in page for that status (the `custom-http-errors` annotation describes the exchange). An Ingress's annotation replaces the list for its routes. Empty (the default): none. Applies when the routing snapshot is rebuilt, within the same update.",
    validate: (raw) => (raw.trim() === '' ? { ok: true, value: [] } : statusList(raw)),
    read: (s) => s.customHttpErrors ?? [],
    apply: (s, v) => {
      const { customHttpErrors: _dropped, ...rest } = s;
      return v.length > 0 ? { ...rest, customHttpErrors: v } : rest;
    },
    render: (v) => v.join(','),
    differs:
      'Without any default backend Portico answers its own short text page for the status (ingress-nginx needs its default backend). No command-line flag.',
  }),
  'denylist-source-range': ipListSetting(
    'deny',
    'Comma-separated client addresses and CIDRs refused with 403 on the routes of every Ingress without a `denylist-source-range` annotation (the annotation replaces the list). Empty (the default): none. Applies when the routing snapshot is rebuilt, within the same update.',
  ),
  'disable-access-log': supported({
    type: 'bool',
    ingressNginxDefault: '"false"',
    default: 'false',
    flag: 'access-log',
    doc: '`"true"`: no access log lines (requests that start after the change). The destination is the `--access-log` flag; with `--access-log off` there is no access log whatever this says. An Ingress turns its own lines off with the `enable-access-log: "false"` annotation.',
    validate: boolean,
    read: (s) => !s.accessLog,
    apply: (s, v) => ({ ...s, accessLog: !v }),
    render: String,
    differs: "Lines are JSON (pino), not nginx's `log-format-upstream`; the query string is never logged.",
  }),
  'force-ssl-redirect': supported({
    type: 'bool',
    ingressNginxDefault: '"false"',
    default: 'false',
    flag: 'force-ssl-redirect',
    doc: 'Redirect plain-HTTP requests to HTTPS for every host, with or without `spec.tls` (e.g. TLS terminated by a load balancer in front). An Ingress overrides it with the `force-ssl-redirect` annotation. Applies to requests that start after the change.',
    validate: boolean,
    read: (s) => s.https.forceSslRedirect,
    apply: (s, v) => ({ ...s, https: { ...s.https, forceSslRedirect: v } }),
    render: String,
    differs:
      'As in ingress-nginx, a request from a trusted proxy (`use-forwarded-headers`) with `X-Forwarded-Proto: https` is not redirected.',
  }),
  'global-allowed-response-headers': supported({
    type: 'string',
    ingressNginxDefault: '""',
    default: '',
    doc: 'Comma-separated header names the `custom-headers` annotation may set. A `custom-headers` ConfigMap with any other name makes its routes answer 503 (fail closed) with a diagnostic naming the header, as ingress-nginx denies the location. Empty (the default): `custom-headers` can set nothing.',
    validate: headerNames,
    read: (s) => s.allowedResponseHeaders ?? [],
    apply: withAllowedResponseHeaders,
    render: (v) => v.join(','),
    differs: 'Names match case-insensitively (ingress-nginx compares them exactly). No command-line flag.',
  }),
  'global-auth-always-set-cookie': globalAuthSetting(
    'global-auth-always-set-cookie',
    'bool',
    '"false"',
    '`"true"`: the global auth service\'s Set-Cookie goes onto every backend response (`auth-always-set-cookie`).',
  ),
  'global-auth-cache-duration': globalAuthSetting(
    'global-auth-cache-duration',
    'string',
    '"200 202 401 5m"',
    'How long global auth answers are cached, by status (`auth-cache-duration`); needs `global-auth-cache-key`.',
  ),
  'global-auth-cache-key': globalAuthSetting(
    'global-auth-cache-key',
    'string',
    '""',
    'Cache key template of global auth answers (`auth-cache-key`).',
  ),
  'global-auth-method': globalAuthSetting(
    'global-auth-method',
    'string',
    '""',
    'Method of the global auth request (`auth-method`; default GET).',
  ),
  'global-auth-request-redirect': globalAuthSetting(
    'global-auth-request-redirect',
    'string',
    '""',
    'X-Auth-Request-Redirect sent to the global auth service (`auth-request-redirect`).',
  ),
  'global-auth-response-headers': globalAuthSetting(
    'global-auth-response-headers',
    'string',
    '""',
    'Headers copied from the global auth answer to the upstream request (`auth-response-headers`).',
  ),
  'global-auth-signin': globalAuthSetting(
    'global-auth-signin',
    'string',
    '""',
    'Where global auth 401s are redirected (`auth-signin`).',
  ),
  'global-auth-signin-redirect-param': globalAuthSetting(
    'global-auth-signin-redirect-param',
    'string',
    '"rd"',
    'Query parameter of the original URL on the sign-in redirect (`auth-signin-redirect-param`).',
  ),
  'global-auth-url': globalAuthSetting(
    'global-auth-url',
    'string',
    '""',
    'External authentication (as the `auth-url` annotation) for the routes of every Ingress without its own `auth-url`, unless it sets `enable-global-auth: "false"`; paths under `no-auth-locations` are skipped. The other `global-auth-*` keys are the matching `auth-*` annotations. Empty (the default): none. Applies when the routing snapshot is rebuilt, within the same update.',
  ),
  'gzip-level': supported({
    type: 'int',
    ingressNginxDefault: '1',
    default: '1',
    doc: 'Compression level of `use-gzip`, 1 (fastest) to 9 (smallest). Applies to responses that start after the change.',
    validate: integer(1, 9),
    read: (s) => (s.gzip ?? DEFAULT_GZIP).level,
    apply: (s, v) => withGzip(s, { level: v }),
    render: String,
  }),
  'gzip-min-length': supported({
    type: 'int',
    ingressNginxDefault: '256',
    default: '256',
    doc: 'With `use-gzip`: a response whose Content-Length is below this many bytes is sent uncompressed (one without Content-Length is compressed). Applies to responses that start after the change.',
    validate: integer(0, 2_147_483_647),
    read: (s) => (s.gzip ?? DEFAULT_GZIP).minLength,
    apply: (s, v) => withGzip(s, { minLength: v }),
    render: String,
  }),
  'gzip-types': supported({
    type: 'string',
    ingressNginxDefault: `"${DEFAULT_GZIP_TYPES.join(' ')}"`,
    default: DEFAULT_GZIP_TYPES.join(' '),
    doc: 'With `use-gzip`: the MIME types compressed, space-separated (`*`: every type). Applies to responses that start after the change.',
    validate: gzipTypes,
    read: (s) => (s.gzip ?? DEFAULT_GZIP).types,
    apply: (s, v) => withGzip(s, { types: v }),
    render: (v) => v.join(' '),
  }),
  'hide-headers': supported({
    type: '[]string',
    ingressNginxDefault: '""',
    default: '',
    doc: 'Comma-separated upstream response headers that never reach the client (nginx `proxy_hide_header`), e.g. `X-Powered-By,Server`, on every route. A `custom-headers` or `add-headers` header of the same name is still set. Applies to requests that start after the change.',
    validate: hiddenHeaderNames,
    read: (s) => s.hideHeaders ?? [],
    apply: (s, v) => {
      const { hideHeaders: _dropped, ...rest } = s;
      return v.length > 0 ? { ...rest, hideHeaders: v } : rest;
    },
    render: (v) => v.join(','),
    differs:
      'Names match case-insensitively and are written lowercase. Headers that frame the response (Content-Length, Transfer-Encoding, Connection, …) cannot be hidden. No command-line flag.',
  }),
  hsts: supported({
    type: 'bool',
    ingressNginxDefault: '"true"',
    default: 'true',
    flag: 'hsts',
    doc: `Send \`Strict-Transport-Security\` on every response of the HTTPS listener for hosts listed in \`spec.tls\` (proxied and Portico's own), replacing one the upstream sent. Never on plain HTTP. ${HSTS_LIVE}`,
    validate: boolean,
    read: (s) => s.https.hsts.enabled,
    apply: (s, v) => ({ ...s, https: { ...s.https, hsts: { ...s.https.hsts, enabled: v } } }),
    render: String,
    differs: HSTS_FLAG,
  }),
  'hsts-include-subdomains': supported({
    type: 'bool',
    ingressNginxDefault: '"true"',
    default: 'true',
    flag: 'hsts',
    doc: `Add \`includeSubDomains\` to the HSTS header. ${HSTS_LIVE}`,
    validate: boolean,
    read: (s) => s.https.hsts.includeSubdomains,
    apply: (s, v) => ({ ...s, https: { ...s.https, hsts: { ...s.https.hsts, includeSubdomains: v } } }),
    render: String,
    differs: HSTS_FLAG,
  }),
  'hsts-max-age': supported({
    type: 'string',
    ingressNginxDefault: '"15724800"',
    default: '31536000',
    flag: 'hsts',
    doc: `\`max-age\` of the HSTS header, in seconds. ${HSTS_LIVE}`,
    validate: integer(0, 2_147_483_647),
    read: (s) => s.https.hsts.maxAgeSeconds,
    apply: (s, v) => ({ ...s, https: { ...s.https, hsts: { ...s.https.hsts, maxAgeSeconds: v } } }),
    render: String,
    differs: `Portico's default is one year (31536000), the least the HSTS preload list accepts; ingress-nginx's documentation gives 15724800 (182 days). ${HSTS_FLAG}`,
  }),
  'hsts-preload': supported({
    type: 'bool',
    ingressNginxDefault: '"false"',
    default: 'false',
    flag: 'hsts',
    doc: `Add \`preload\` to the HSTS header. ${HSTS_LIVE}`,
    validate: boolean,
    read: (s) => s.https.hsts.preload,
    apply: (s, v) => ({ ...s, https: { ...s.https, hsts: { ...s.https.hsts, preload: v } } }),
    render: String,
    differs: HSTS_FLAG,
  }),
  'http-redirect-code': supported({
    type: 'int',
    ingressNginxDefault: '308',
    default: '308',
    flag: 'http-redirect-code',
    doc: 'Status of HTTP to HTTPS redirects: 301, 302, 307 or 308. Applies to requests that start after the change.',
    validate: redirectCode,
    read: (s) => s.https.redirectCode,
    apply: (s, v) => ({ ...s, https: { ...s.https, redirectCode: v } }),
    render: String,
    differs:
      'Another code is an error that keeps the previous value (ingress-nginx logs a warning and uses 308). The `Location` carries no port unless `--https-redirect-port` is set (ingress-nginx adds its HTTPS listen port when it is not 443).',
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
  'keep-alive-requests': supported({
    type: 'int',
    ingressNginxDefault: '1000',
    default: '0',
    doc: 'Requests served on one HTTP/1.1 client connection: the last one is answered with `Connection: close`. `"0"` (the default): no limit. HTTP/2 connections are not counted. Applies to connections from their next request.',
    validate: integer(0, 10_000_000),
    read: (s) => s.client.maxRequestsPerConnection ?? 0,
    apply: (s, v) => {
      const { maxRequestsPerConnection: _dropped, ...client } = s.client;
      return { ...s, client: v === 0 ? client : { ...client, maxRequestsPerConnection: v } };
    },
    render: String,
    differs:
      'Without this key Portico sets no limit, as before the key existed (ingress-nginx: 1000). No command-line flag.',
  }),
  'limit-conn-status-code': supported({
    type: 'int',
    ingressNginxDefault: '503',
    default: '503',
    flag: 'limit-conn-status-code',
    doc: 'Status of requests refused by a `limit-connections` set with the `nginx.ingress.kubernetes.io/` spelling. Applies to requests that start after the change.',
    validate: integer(400, 599),
    read: (s) => s.limits.connection,
    apply: (s, v) => ({ ...s, limits: { ...s.limits, connection: v } }),
    render: String,
    differs: '`portico.dev/` limits answer 429 (or their `limit-status-code`) whatever this says.',
  }),
  'limit-req-status-code': supported({
    type: 'int',
    ingressNginxDefault: '503',
    default: '503',
    flag: 'limit-req-status-code',
    doc: 'Status of requests refused by a `limit-rps`/`limit-rpm` set with the `nginx.ingress.kubernetes.io/` spelling. Applies to requests that start after the change.',
    validate: integer(400, 599),
    read: (s) => s.limits.request,
    apply: (s, v) => ({ ...s, limits: { ...s.limits, request: v } }),
    render: String,
    differs: '`portico.dev/` limits answer 429 (or their `limit-status-code`) whatever this says.',
  }),
  'load-balance': supported({
    type: 'string',
    ingressNginxDefault: '"round_robin"',
    default: 'round_robin',
    doc: '`round_robin` or `ewma`: how the first endpoint is chosen on every route whose Ingress sets no `load-balance`, `upstream-hash-by` or cookie `affinity` annotation (they win, as in ingress-nginx). Applies when the routing snapshot is rebuilt, within the same update.',
    validate: (raw): Parsed<'round_robin' | 'ewma'> => {
      const v = raw.trim();
      return v === 'round_robin' || v === 'ewma'
        ? { ok: true, value: v }
        : { ok: false, reason: 'must be one of round_robin, ewma' };
    },
    read: (s) => s.loadBalance ?? 'round_robin',
    apply: (s, v) => {
      // Absent means round_robin: the default leaves the settings as the flags gave them.
      const { loadBalance: _dropped, ...rest } = s;
      return v === 'round_robin' ? rest : { ...rest, loadBalance: v };
    },
    render: String,
    differs:
      "No command-line flag. ingress-nginx's `chash`/`sticky` values are spelled with the `upstream-hash-by` and `affinity` annotations.",
  }),
  'no-auth-locations': supported({
    type: 'string',
    ingressNginxDefault: '"/.well-known/acme-challenge"',
    default: DEFAULT_NO_AUTH_LOCATIONS.join(','),
    doc: 'Comma-separated path prefixes whose routes `global-auth-url` does not cover (a route path starting with one), e.g. ACME HTTP-01 challenges. Empty: every path. Applies when the routing snapshot is rebuilt, within the same update.',
    validate: noAuthLocations,
    read: (s) => s.noAuthLocations ?? DEFAULT_NO_AUTH_LOCATIONS,
    apply: (s, v) => {
      const { noAuthLocations: _dropped, ...rest } = s;
      return v.join(',') === DEFAULT_NO_AUTH_LOCATIONS.join(',') ? rest : { ...rest, noAuthLocations: v };
    },
    render: (v) => v.join(','),
    differs: 'Only `global-auth-url` reads it, as in ingress-nginx. No command-line flag.',
  }),
  'proxy-body-size': supported({
    type: 'string',
    ingressNginxDefault: '"1m"',
    default: '1m',
    flag: 'proxy-body-size',
    doc: 'Largest request body accepted (nginx size: `"8m"`, `"512k"`, bytes; `"0"` = no limit); above it Portico answers 413. A Content-Length above the limit is refused before the upstream is contacted; a chunked body is counted as it streams and cut with 413 when it crosses the limit (nothing is buffered). The `proxy-body-size` annotation overrides it per Ingress. Applies to requests that start after the change.',
    validate: bodySize,
    read: (s) => s.upstream.maxBodyBytes ?? 0,
    apply: (s, v) => ({ ...s, upstream: { ...s.upstream, maxBodyBytes: v } }),
    render: (v) => (v === 0 ? '0' : showSize(v)),
    differs:
      'nginx buffers the body and refuses it before proxying; Portico streams, so an upstream may have received the first bytes of a chunked body that turns out too large (never the whole of it). Portico before this key existed had no limit: the 1m default now refuses larger uploads unless the flag, this key or the annotation raises it.',
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
  'proxy-next-upstream': supported({
    type: 'string',
    ingressNginxDefault: '"error timeout"',
    default: 'error timeout invalid_header',
    flag: 'proxy-next-upstream',
    doc: "Which failures send a request to the next endpoint, as nginx's `proxy_next_upstream`: `error`, `timeout`, `invalid_header`, `http_500`, `http_502`, `http_503`, `http_504`, `http_403`, `http_404`, `http_429`, `non_idempotent`, `off`. A status (`http_NNN`) is decided on the status line, before anything reaches the client. The `proxy-next-upstream` annotation replaces the whole list for its Ingress. Applies to requests that start after the change.",
    validate: nextUpstream,
    read: (s) => s.upstream.nextUpstream ?? DEFAULT_NEXT_UPSTREAM,
    apply: (s, v) => ({ ...s, upstream: { ...s.upstream, nextUpstream: v } }),
    render: (v) => v.join(' '),
    differs:
      'Portico never buffers request bodies: a request whose body was (partly) sent is never retried, and status retries apply to requests without a body only. The default also retries malformed responses (`invalid_header`), as Portico always did. WebSocket upgrades keep retrying failed connections only.',
  }),
  'proxy-next-upstream-timeout': supported({
    type: 'int',
    ingressNginxDefault: '0',
    default: '0',
    flag: 'proxy-next-upstream-timeout',
    doc: 'Time from the first attempt after which no further endpoint is tried (`"0"`: no limit). Applies to requests that start after the change.',
    validate: retryBudget,
    read: (s) => s.upstream.nextUpstreamTimeoutMs ?? 0,
    apply: (s, v) => ({ ...s, upstream: { ...s.upstream, nextUpstreamTimeoutMs: v } }),
    render: (v) => (v === 0 ? '0' : showDuration(v)),
    differs: SECONDS_NOTE,
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
      'Portico retries only what is safe: a failed connection for any request; other failures only for idempotent methods whose body was not consumed and before any response byte (see `proxy-next-upstream`). At most 100.',
  }),
  'proxy-protocol-header-timeout': supported({
    type: 'string',
    ingressNginxDefault: '"5s"',
    default: '5s',
    flag: 'proxy-protocol-header-timeout',
    doc: 'Time a connection has, from accept, to send its complete PROXY protocol header while `use-proxy-protocol` is on; past it the connection is closed. Applies to connections accepted after the change.',
    validate: nginxDuration(),
    read: (s) => s.proxyProtocol.headerTimeoutMs,
    apply: (s, v) => ({ ...s, proxyProtocol: { ...s.proxyProtocol, headerTimeoutMs: v } }),
    render: showDuration,
    differs: `In ingress-nginx it bounds only the SSL-passthrough handler (nginx itself waits up to client-header-timeout); Portico applies it on both listeners. ${SECONDS_NOTE}`,
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
      "The default also covers IPv6 (`::/0`). When `--trusted-proxies` is set, its list is the default. Portico does not rewrite the client address from X-Forwarded-For (nginx's real_ip module): logs and balancing use the TCP peer, or the source address of the PROXY protocol header with `use-proxy-protocol`. The list is matched against that address, the client's, never against the load balancer that sent the header.",
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
  'proxy-set-headers': supported({
    type: 'string',
    ingressNginxDefault: '""',
    default: '',
    doc: "`namespace/name` of a ConfigMap whose data are headers set on every request sent upstream (replacing the client's header of the same name). The ConfigMap is re-read on every change. A missing ConfigMap or an invalid header is a warning and sets no headers.",
    validate: configMapRef,
    read: (s) => s.globalHeaders?.proxySetHeaders ?? '',
    apply: (s, v) => withHeaderRef(s, 'proxySetHeaders', v),
    render: String,
    differs:
      'Values are literal: one containing `$` is refused (ingress-nginx lets nginx expand `$variables` there; Portico sends X-Forwarded-*, X-Real-IP and X-Request-ID itself). `Host` and connection headers cannot be set. No command-line flag.',
  }),
  'ssl-ciphers': supported({
    type: 'string',
    ingressNginxDefault: '"ECDHE-ECDSA-AES128-GCM-SHA256:…:DHE-RSA-AES256-GCM-SHA384" (8 suites)',
    default:
      'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384',
    flag: 'ssl-ciphers',
    doc: `OpenSSL cipher string of the TLS 1.2 suites the HTTPS listener accepts, in the server's order of preference. DHE suites work (Diffie-Hellman parameters are chosen automatically). ${TLS_LIVE}`,
    validate: cipherList,
    read: (s) => s.tls.ciphers,
    apply: (s, v) => withTls(s, { ciphers: v }),
    render: String,
    differs:
      "TLS 1.3 always uses OpenSSL's default TLS 1.3 suites, as in ingress-nginx; a `TLS_…` name in the list is refused instead of ignored. A string OpenSSL refuses is an error and the previous list stays.",
  }),
  'ssl-protocols': supported({
    type: 'string',
    ingressNginxDefault: '"TLSv1.2 TLSv1.3"',
    default: 'TLSv1.2 TLSv1.3',
    flag: 'ssl-protocols',
    doc: `TLS versions the HTTPS listener accepts: \`TLSv1.2\`, \`TLSv1.3\` or both, blank-separated. ${TLS_LIVE}`,
    validate: tlsProtocols,
    read: (s) => s.tls.protocols,
    apply: (s, v) => withTls(s, { protocols: v }),
    render: (v) => v.join(' '),
    differs:
      '`TLSv1`, `TLSv1.1`, `SSLv2` and `SSLv3` are refused (RFC 8996) and the previous value stays; ingress-nginx passes them to OpenSSL.',
  }),
  'ssl-redirect': supported({
    type: 'bool',
    ingressNginxDefault: '"true"',
    default: 'true',
    flag: 'ssl-redirect',
    doc: 'Redirect plain-HTTP requests to HTTPS for hosts listed in `spec.tls` of a served Ingress (`http-redirect-code`, `Location: https://<host><request URI>`). Paths under `/.well-known/acme-challenge/` are never redirected, so HTTP-01 challenges reach their backend. An Ingress overrides it with the `ssl-redirect` annotation. Applies to requests that start after the change.',
    validate: boolean,
    read: (s) => s.https.sslRedirect,
    apply: (s, v) => ({ ...s, https: { ...s.https, sslRedirect: v } }),
    render: String,
    differs:
      "The redirect host is the request's Host (its port dropped); a trusted proxy's X-Forwarded-Host is not used. As in ingress-nginx, a request from a trusted proxy (`use-forwarded-headers`) with `X-Forwarded-Proto: https` is not redirected.",
  }),
  'ssl-session-cache': supported({
    type: 'bool',
    ingressNginxDefault: '"true"',
    default: 'true',
    flag: 'ssl-session-cache',
    doc: `Session-ID resumption (TLS 1.2): sessions are kept in memory, up to \`ssl-session-cache-size\` bytes for \`ssl-session-timeout\`, so a returning client skips the full handshake. ${TLS_LIVE} Turning it off empties the cache.`,
    validate: boolean,
    read: (s) => s.tls.sessionCache,
    apply: (s, v) => withTls(s, { sessionCache: v }),
    render: String,
    differs:
      'The cache is per Portico process (nginx shares it between its workers; Portico has one). TLS 1.3 resumes only with `ssl-session-tickets: "true"`: Node hands stateful TLS 1.3 tickets to no cache.',
  }),
  'ssl-session-cache-size': supported({
    type: 'string',
    ingressNginxDefault: '"10m"',
    default: '10m',
    flag: 'ssl-session-cache-size',
    doc: `Largest amount of session data the cache holds; past it the least recently used sessions go first. ${TLS_LIVE}`,
    validate: nginxSize,
    read: (s) => s.tls.sessionCacheBytes,
    apply: (s, v) => withTls(s, { sessionCacheBytes: v }),
    render: showSize,
    differs:
      'Counted in bytes of serialized session (about 1–2 KB each with a certificate chain), where nginx counts about 4,000 sessions per megabyte. At most `1024m`.',
  }),
  'ssl-session-tickets': supported({
    type: 'bool',
    ingressNginxDefault: '"false"',
    default: 'false',
    flag: 'ssl-session-tickets',
    doc: `TLS session tickets (RFC 5077, and TLS 1.3 resumption). Off by default, as in ingress-nginx: ticket keys never rotate, so a stolen key would decrypt every recorded session. ${TLS_LIVE}`,
    validate: boolean,
    read: (s) => s.tls.sessionTickets,
    apply: (s, v) => withTls(s, { sessionTickets: v }),
    render: String,
    differs:
      'The ticket key is random per Portico process (ingress-nginx: per nginx process unless `ssl-session-ticket-key` is set, which Portico does not support), so tickets do not resume across replicas or restarts.',
  }),
  'ssl-session-timeout': supported({
    type: 'string',
    ingressNginxDefault: '"10m"',
    default: '10m',
    flag: 'ssl-session-timeout',
    doc: `How long a session stays resumable, from the cache or from a ticket. ${TLS_LIVE}`,
    validate: nginxDuration(1_000),
    read: (s) => s.tls.sessionTimeoutMs,
    apply: (s, v) => withTls(s, { sessionTimeoutMs: v }),
    render: showMinutes,
    differs: 'OpenSSL counts whole seconds: a value below a second is refused.',
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
  'use-gzip': supported({
    type: 'bool',
    ingressNginxDefault: '"false"',
    default: 'false',
    doc: '`"true"`: proxied responses are compressed with gzip when the client accepts it (`Accept-Encoding`), their type is in `gzip-types`, they are not encoded already and not shorter than `gzip-min-length`; `Vary: Accept-Encoding` is added and a strong ETag made weak, as nginx does. HEAD, 204, 206 and 304 answers are left alone. Applies to responses that start after the change.',
    validate: boolean,
    read: (s) => (s.gzip ?? DEFAULT_GZIP).enabled,
    apply: (s, v) => withGzip(s, { enabled: v }),
    render: String,
    differs:
      "Each upstream chunk is flushed through the compressor, so streamed responses are not held back (slightly larger output than nginx's buffered gzip). `gzip-disable` (user agents) is not read. No command-line flag.",
  }),
  'use-http2': supported({
    type: 'bool',
    ingressNginxDefault: '"true"',
    default: 'true',
    flag: 'use-http2',
    doc: '`"true"`: the HTTPS listener offers HTTP/2 (`h2`) and HTTP/1.1 in ALPN; `"false"`: HTTP/1.1 only. A change applies to TLS handshakes that start afterwards; open HTTP/2 connections keep HTTP/2.',
    validate: boolean,
    read: (s) => s.tls.http2,
    apply: (s, v) => withTls(s, { http2: v }),
    render: String,
    differs:
      'Live (ingress-nginx reloads nginx). HTTP/2 is never offered on the plain HTTP listener (no h2c), as in ingress-nginx. WebSocket over HTTP/2 (RFC 8441) is not supported: WebSocket clients use HTTP/1.1 on the same port.',
  }),
  'use-proxy-protocol': supported({
    type: 'bool',
    ingressNginxDefault: '"false"',
    default: 'false',
    flag: 'use-proxy-protocol',
    doc: '`"true"`: every connection to the HTTP and HTTPS listeners must start with a PROXY protocol header, v1 (text) or v2 (binary), as a load balancer in front sends it (on HTTPS, before the TLS handshake). Its source address becomes the client address: X-Forwarded-For, X-Real-IP, the access log, balancing by client and the trusted-proxy check use it. A connection without a valid header within `proxy-protocol-header-timeout` is closed without an answer; `UNKNOWN` (v1) and `LOCAL` (v2, health checks) headers keep the TCP peer. Applies to connections accepted after the change; open connections go on as they started.',
    validate: boolean,
    read: (s) => s.proxyProtocol.enabled,
    apply: (s, v) => ({ ...s, proxyProtocol: { ...s.proxyProtocol, enabled: v } }),
    render: String,
    differs:
      'Live (ingress-nginx reloads nginx): turning it on refuses every new connection that lacks a header, so switch the load balancer and Portico together. Refused connections are logged at debug level and counted in `portico_proxy_protocol_rejected_total` by reason. v2 headers longer than 4096 bytes (TLVs included) are refused, as nginx does; TLVs are ignored.',
  }),
  'whitelist-source-range': ipListSetting(
    'allow',
    'Comma-separated client addresses and CIDRs: the only clients allowed on the routes of every Ingress without an `allowlist-source-range` (or `whitelist-source-range`) annotation (the annotation replaces the list); others get 403. Empty (the default): every client. Applies when the routing snapshot is rebuilt, within the same update.',
  ),

  'compute-full-forwarded-for': planned(
    'bool',
    '"false"',
    'Append the peer to X-Forwarded-For instead of replacing it.',
  ),
  'enable-real-ip': planned('bool', '"false"', 'Take the client address from the forwarded-for header.'),
  'forwarded-for-header': planned('string', '"X-Forwarded-For"', 'Header that carries the client address.'),
  'generate-request-id': planned('bool', '"true"', 'Generate X-Request-ID when the client sent none.'),
  'upstream-keepalive-connections': planned('int', '320', 'Idle upstream connections kept per worker.'),
  'upstream-keepalive-requests': planned('int', '10000', 'Requests served on one upstream connection.'),
  'upstream-keepalive-timeout': planned('int', '60', 'How long an idle upstream connection stays open.'),
} as const satisfies Record<string, SettingRow>;

/** `SettingKey` is a key the table knows. */
export type SettingKey = keyof typeof SETTINGS;

/** `settingRow` looks a key up; undefined for a key the table does not know. */
export function settingRow(key: string): SettingRow | undefined {
  return Object.hasOwn(SETTINGS, key) ? (SETTINGS as Record<string, SettingRow>)[key] : undefined;
}

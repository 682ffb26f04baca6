/**
 * `external-auth` is ingress-nginx's external authentication (its `authreq` package: `auth-url`
 * and friends, nginx's `auth_request`). Location scoped. The request-time half is
 * `policy/auth/external.ts`; here values are validated and normalised once.
 *
 * Annotations are data, never code: ingress-nginx pastes these values into nginx.conf, where any
 * `$variable` expands. Portico expands only a small fixed set of variables, in the values where
 * ingress-nginx users rely on them (the sign-in URL, `X-Auth-Request-Redirect`, the cache key),
 * and refuses every other `$name` with the list of those it knows. `auth-url` takes none: it is
 * the address Portico connects to, and letting the request choose it (`https://$host/…`) would
 * let a client on a catch-all route make Portico send its headers, cookies included, anywhere.
 */

import { nginxDuration } from '../settings/validators.js';
import type { ExternalAuthPolicy } from '../types.js';
import { type ConfigMapName, configMapName } from './custom-headers.js';
import { type AnnotationReader, defineAnnotations, type FieldValue } from './spec.js';
import { boolean, type Described, described } from './validators.js';

type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };
const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = (reason: string): Parsed<never> => ({ ok: false, reason });

/** `DEFAULT_AUTH_TIMEOUT_MS` bounds one auth subrequest (connect, headers and body) when `auth-timeout` is absent. */
export const DEFAULT_AUTH_TIMEOUT_MS = 5_000;
const MAX_AUTH_TIMEOUT_MS = 60_000;

/** ingress-nginx's `DefaultCacheDuration`, used when `auth-cache-key` is set without a duration. */
export const DEFAULT_CACHE_DURATION = '200 202 401 5m';

// nginx's proxy_cache_valid without status codes caches only these.
const NGINX_DEFAULT_CACHE_STATUSES: readonly number[] = [200, 301, 302];

const MAX_TEMPLATE = 1024;

/** `TemplatePart` is one piece of a value with variables: literal text or a variable name. */
export type TemplatePart =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'var'; readonly name: string };

/** Variables a URL-like value may use (`auth-signin`, `auth-request-redirect`). */
export const URL_VARIABLES: readonly string[] = [
  'scheme',
  'pass_access_scheme',
  'host',
  'http_host',
  'best_http_host',
  'request_uri',
  'escaped_request_uri',
];

/** Variables `auth-cache-key` may use, besides `$http_<header>` and `$cookie_<name>`. */
export const CACHE_KEY_VARIABLES: readonly string[] = [
  ...URL_VARIABLES,
  'remote_addr',
  'remote_user',
  'request_method',
];

const VARIABLE_NAME = /^[A-Za-z0-9_]+$/;

/**
 * `parseTemplate` splits a value into text and `$name` / `${name}` variables, as nginx reads
 * them (a name is letters, digits and `_`). `allowed` decides which names are known; the reason
 * names the first unknown one and lists the known ones.
 */
export function parseTemplate(
  raw: string,
  allowed: (name: string) => boolean,
  known: string,
): Parsed<readonly TemplatePart[]> {
  const parts: TemplatePart[] = [];
  let text = '';
  let i = 0;
  while (i < raw.length) {
    const ch = raw[i];
    if (ch !== '$') {
      text += ch;
      i++;
      continue;
    }
    let name: string;
    if (raw[i + 1] === '{') {
      const end = raw.indexOf('}', i + 2);
      if (end === -1) return fail(`"$\{" is not closed by "}"`);
      name = raw.slice(i + 2, end);
      i = end + 1;
    } else {
      const match = /^[A-Za-z0-9_]+/.exec(raw.slice(i + 1));
      name = match?.[0] ?? '';
      i += 1 + name.length;
    }
    if (!VARIABLE_NAME.test(name)) return fail(`"$" must start a variable name ($host, $\{host})`);
    if (!allowed(name)) return fail(`variable $${name} is not supported; use ${known}`);
    if (text !== '') parts.push({ kind: 'text', text });
    text = '';
    parts.push({ kind: 'var', name });
  }
  if (text !== '') parts.push({ kind: 'text', text });
  return ok(parts);
}

const isUrlVariable = (name: string): boolean => URL_VARIABLES.includes(name);

/** `isCacheKeyVariable` says whether `auth-cache-key` may use `$name`. */
export function isCacheKeyVariable(name: string): boolean {
  return (
    CACHE_KEY_VARIABLES.includes(name) ||
    /^http_[A-Za-z0-9_]+$/.test(name) ||
    /^cookie_[A-Za-z0-9_]+$/.test(name)
  );
}

const urlVariablesText = URL_VARIABLES.map((v) => `$${v}`).join(', ');
const cacheKeyVariablesText = `${CACHE_KEY_VARIABLES.map((v) => `$${v}`).join(', ')}, $http_<header>, $cookie_<name>`;
// The same lists as Markdown code, for docs/annotations.md (a bare <header> would read as HTML).
const urlVariablesDoc = URL_VARIABLES.map((v) => `\`$${v}\``).join(', ');
const cacheKeyVariablesDoc = `${CACHE_KEY_VARIABLES.map((v) => `\`$${v}\``).join(', ')}, \`$http_<header>\`, \`$cookie_<name>\``;

// biome-ignore lint/suspicious/noControlCharactersInRegex: CR/LF and other controls would split or corrupt headers.
const CONTROL = /[\x00-\x1f\x7f]/;

function checkText(raw: string): string | undefined {
  if (raw.trim() === '') return 'must not be empty';
  if (raw.length > MAX_TEMPLATE) return `must be at most ${MAX_TEMPLATE} characters`;
  if (CONTROL.test(raw)) return 'must not contain control characters (CR, LF, tab…)';
  // Node refuses header values outside Latin-1; Location and X-Auth-Request-Redirect are headers.
  if (/[^\x20-\x7e]/.test(raw)) return 'must be printable ASCII (percent-encode anything else)';
  return undefined;
}

/** `absoluteHttpUrl` checks `value` is an absolute http(s) URL with a host, no credentials, no fragment. */
function absoluteHttpUrl(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'must be an absolute http:// or https:// URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must be an http:// or https:// URL';
  if (url.hostname === '') return 'must name a host';
  if (url.username !== '' || url.password !== '') return 'must not contain credentials (user:password@)';
  if (value.includes('#')) return 'must not contain a fragment (#…)';
  return undefined;
}

/** `authUrl` reads `auth-url`: an absolute http(s) URL, written literally. */
export const authUrl: Described<string> = described((raw) => {
  const v = raw.trim();
  const bad = checkText(v);
  if (bad !== undefined) return fail(bad);
  if (v.includes('$')) {
    return fail(
      'must not contain variables ($host…): Portico connects to this URL and does not let the request choose it; write the auth service\'s address, e.g. "http://oauth2-proxy.auth.svc.cluster.local/oauth2/auth"',
    );
  }
  const badUrl = absoluteHttpUrl(v);
  return badUrl === undefined ? ok(new URL(v).href) : fail(badUrl);
}, 'absolute `http://` or `https://` URL, no `$variables`');

// Sample values that make a template a URL the checks can parse.
const SAMPLE: Readonly<Record<string, string>> = {
  scheme: 'https',
  pass_access_scheme: 'https',
  host: 'example.com',
  http_host: 'example.com',
  best_http_host: 'example.com',
  request_uri: '/path',
  escaped_request_uri: '%2Fpath',
};

/** `authSignin` reads `auth-signin`: an absolute http(s) URL that may use the URL variables. */
export const authSignin: Described<string> = described((raw) => {
  const v = raw.trim();
  const bad = checkText(v);
  if (bad !== undefined) return fail(bad);
  const parts = parseTemplate(v, isUrlVariable, urlVariablesText);
  if (!parts.ok) return parts;
  const sample = parts.value.map((p) => (p.kind === 'text' ? p.text : (SAMPLE[p.name] ?? ''))).join('');
  const badUrl = absoluteHttpUrl(sample);
  return badUrl === undefined ? ok(v) : fail(badUrl);
}, `absolute \`http://\` or \`https://\` URL; may use ${urlVariablesDoc}`);

/** `authRequestRedirect` reads `auth-request-redirect`: header text that may use the URL variables. */
export const authRequestRedirect: Described<string> = described((raw) => {
  const v = raw.trim();
  const bad = checkText(v);
  if (bad !== undefined) return fail(bad);
  const parts = parseTemplate(v, isUrlVariable, urlVariablesText);
  return parts.ok ? ok(v) : parts;
}, `printable ASCII; may use ${urlVariablesDoc}`);

/** `authCacheKey` reads `auth-cache-key`: text and variables rendered per request. */
export const authCacheKey: Described<string> = described((raw) => {
  const v = raw.trim();
  const bad = checkText(v);
  if (bad !== undefined) return fail(bad);
  const parts = parseTemplate(v, isCacheKeyVariable, cacheKeyVariablesText);
  if (!parts.ok) return parts;
  if (!parts.value.some((p) => p.kind === 'var')) {
    return fail(
      'must use at least one variable (e.g. $http_authorization, $cookie__oauth2_proxy): a constant key would share one verdict between every client',
    );
  }
  return ok(v);
}, `text with ${cacheKeyVariablesDoc}`);

// ingress-nginx's list; nginx's proxy_method takes any token, ingress-nginx only these (case-sensitive).
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE'] as const;

/** `authMethod` reads `auth-method`. */
export const authMethod: Described<string> = described(
  (raw) => {
    const v = raw.trim();
    if ((METHODS as readonly string[]).includes(v)) return ok(v);
    if (v === 'CONNECT') return fail('opens a tunnel and cannot carry an auth check');
    return fail(`must be one of ${METHODS.map((m) => `"${m}"`).join(', ')} (upper case)`);
  },
  METHODS.map((m) => `\`${m}\``).join(', '),
);

// A query parameter name that needs no encoding.
const PARAM_NAME = /^[A-Za-z0-9._~-]{1,64}$/;

/** `redirectParam` reads `auth-signin-redirect-param`. */
export const redirectParam: Described<string> = described((raw) => {
  const v = raw.trim();
  return PARAM_NAME.test(v)
    ? ok(v)
    : fail('must be a query parameter name: 1 to 64 letters, digits, ".", "_", "~" or "-"');
}, 'query parameter name (letters, digits, `._~-`)');

// ingress-nginx's headerRegexp.
const HEADER_NAME = /^[a-zA-Z\d\-_]+$/;

// Copying these from the auth response onto the request would change its framing, its routing
// or its connection rather than add information; ingress-nginx lets nginx do it anyway.
const UNCOPYABLE: ReadonlySet<string> = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'upgrade',
  'expect',
]);

/** `responseHeaderList` reads `auth-response-headers`: comma-separated header names, at least one. */
export const responseHeaderList: Described<readonly string[]> = described((raw) => {
  const items = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (items.length === 0) return fail('must list at least one header name');
  const bad = items.filter((h) => !HEADER_NAME.test(h));
  if (bad.length > 0) {
    return fail(
      `${bad.map((h) => JSON.stringify(h)).join(', ')} ${bad.length === 1 ? 'is' : 'are'} not a header name (letters, digits, "-", "_")`,
    );
  }
  const refused = items.filter((h) => UNCOPYABLE.has(h.toLowerCase()));
  if (refused.length > 0) {
    return fail(
      `${refused.map((h) => JSON.stringify(h)).join(', ')} cannot be copied to the upstream request (${refused.length === 1 ? 'it describes' : 'they describe'} the message or the connection, not the user)`,
    );
  }
  const seen = new Set<string>();
  const out: string[] = [];
  for (const h of items) {
    if (seen.has(h.toLowerCase())) continue;
    seen.add(h.toLowerCase());
    out.push(h);
  }
  return ok(out);
}, 'comma-separated header names');

/** `CacheDuration` is one `auth-cache-duration` entry: statuses (empty: any) cached for `ms`. */
export interface CacheDuration {
  readonly statuses: readonly number[];
  readonly ms: number;
}

// nginx's time units as ingress-nginx's durationRegex lists them (ngx_parse_time: M = 30 days, y = 365).
const CACHE_UNITS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
  M: 30 * 86_400_000,
  y: 365 * 86_400_000,
};

/**
 * `parseCacheDurations` reads `auth-cache-duration` as ingress-nginx does: comma-separated
 * entries of nginx's `proxy_cache_valid [code ...] time` — status codes, or `any`, then one time
 * (`200 202 10m, 401 5m`). Without codes an entry means nginx's 200 301 302. Empty entries are
 * skipped. Stricter than ingress-nginx on purpose: it passes words it does not recognise through
 * to nginx, which then fails to load the configuration.
 */
export function parseCacheDurations(raw: string): Parsed<readonly CacheDuration[]> {
  const entries = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (entries.length === 0)
    return fail('must list at least one "[status ...] time" entry, e.g. "200 202 10m"');
  const out: CacheDuration[] = [];
  for (const entry of entries) {
    const words = entry.split(/\s+/);
    const time = words.pop() ?? '';
    const unit = /^(\d+)(ms|s|m|h|d|w|M|y)$/.exec(time);
    if (unit === null) {
      return fail(`${JSON.stringify(entry)} must end with a time such as "5m", "30s" or "1h"`);
    }
    const ms = Number(unit[1]) * (CACHE_UNITS[unit[2] ?? ''] ?? 0);
    if (!Number.isSafeInteger(ms) || ms <= 0)
      return fail(`${JSON.stringify(entry)}: the time must be positive`);
    let any = false;
    const statuses: number[] = [];
    for (const w of words) {
      if (w === 'any') any = true;
      else if (/^\d{3}$/.test(w) && Number(w) >= 100 && Number(w) <= 599) statuses.push(Number(w));
      else
        return fail(`${JSON.stringify(entry)}: ${JSON.stringify(w)} is not a status code (100-599) or "any"`);
    }
    if (any && statuses.length > 0) {
      return fail(`${JSON.stringify(entry)}: "any" already covers every status; list codes or "any"`);
    }
    out.push({ statuses: any ? [] : statuses.length > 0 ? statuses : NGINX_DEFAULT_CACHE_STATUSES, ms });
  }
  return ok(out);
}

/** `cacheDuration` is `parseCacheDurations` as an annotation validator. */
export const cacheDuration: Described<readonly CacheDuration[]> = described(
  parseCacheDurations,
  'comma-separated `[status ...|any] time` entries (nginx `proxy_cache_valid`), e.g. `200 202 10m, 401 30s`',
);

/**
 * `AUTH_HEADERS_SET_BY_PORTICO` are the (lowercased) headers Portico writes on every auth
 * subrequest (src/policy/auth/external.ts), so `auth-proxy-set-headers` may not set them.
 */
export const AUTH_HEADERS_SET_BY_PORTICO: ReadonlySet<string> = new Set([
  'x-original-url',
  'x-original-uri',
  'x-original-method',
  'x-auth-request-redirect',
  'x-request-id',
  'x-real-ip',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-scheme',
  'x-sent-from',
]);

// ingress-nginx reads these and tunes nginx's keepalive to the auth upstream; Portico's auth
// client always keeps connections alive, so they are accepted (known, documented) and ignored.
const ignored: Described<string> = described((raw) => ok(raw), 'any (ignored)');

const parseTimeout = nginxDuration(1);
/** `timeout` reads `auth-timeout`: nginx time syntax, at most 60 s. */
export const timeout: Described<number> = described((raw) => {
  const parsed = parseTimeout(raw);
  if (parsed.ok && parsed.value > MAX_AUTH_TIMEOUT_MS) return fail('must be at most 60s');
  return parsed;
}, 'nginx time (`"5s"`, `"500ms"`, bare seconds), at most 60s');

export const externalAuthAnnotations = defineAnnotations(
  'external-auth',
  'Authentication by an external service, as nginx `auth_request` (oauth2-proxy, Authelia, …): every request is first sent, without its body, to `auth-url`; 2xx lets it through, 401/403 are returned to the client, anything else answers 500.',
  {
    'auth-url': {
      validate: authUrl,
      scope: 'location',
      risk: 'high',
      default: '(none)',
      doc: "The auth service. Each request is checked by a subrequest to it carrying the original headers (not the body) plus `X-Original-URL`, `X-Original-URI`, `X-Original-Method`, `X-Auth-Request-Redirect`, `X-Request-ID`, `X-Real-IP`, `X-Forwarded-For`, `X-Forwarded-Host` and `X-Sent-From: portico`; `Host` is the auth service's. 2xx allows the request; 401 and 403 are answered to the client (with the service's `WWW-Authenticate` on 401, not its body, as nginx); any other status, a refused connection or a timeout answers 500.",
      differs:
        "`$variables` are refused (ingress-nginx expands them, e.g. `https://$host/oauth2/auth`). `X-Forwarded-Host` is set from the request instead of passing the client's own header; `X-Forwarded-Proto` and `X-Scheme` are removed, as ingress-nginx removes `X-Forwarded-Proto`. `Host` keeps a non-default port. HTTPS auth services are verified against the system CAs (nginx does not verify by default).",
    },
    'auth-method': {
      validate: authMethod,
      scope: 'location',
      risk: 'low',
      default: 'GET',
      doc: 'Method of the auth subrequest. The body is never sent, whatever the method.',
      differs: '`CONNECT` is refused (the Ingress is rejected); ingress-nginx denies the location.',
    },
    'auth-signin': {
      validate: authSignin,
      scope: 'location',
      risk: 'high',
      default: '(none)',
      doc: "Where a 401 from the auth service sends the client instead: a 302 to this URL with `<redirect-param>=<scheme>://<host><escaped request URI>` appended (`?` or `&`), unless the URL already has that parameter. The auth response's `Set-Cookie` headers go with the 302.",
    },
    'auth-signin-redirect-param': {
      validate: redirectParam,
      scope: 'location',
      risk: 'low',
      default: 'rd',
      doc: 'Name of the query parameter carrying the original URL in the `auth-signin` redirect.',
    },
    'auth-response-headers': {
      validate: responseHeaderList,
      scope: 'location',
      risk: 'medium',
      default: '(none)',
      doc: "Headers copied from a 2xx auth response onto the request sent to the backend (e.g. `X-Auth-Request-User, X-Auth-Request-Email`). A listed header the auth service did not send is removed from the client's request, so clients cannot forge it.",
      differs:
        'Headers that frame or route the message (`Host`, `Content-Length`, `Transfer-Encoding`, `Connection`, …) are refused.',
    },
    'auth-request-redirect': {
      validate: authRequestRedirect,
      scope: 'location',
      risk: 'medium',
      default: '(the original request URI)',
      doc: 'Value of the `X-Auth-Request-Redirect` header sent to the auth service (oauth2-proxy redirects there after sign-in).',
    },
    'auth-cache-key': {
      validate: authCacheKey,
      scope: 'location',
      risk: 'medium',
      default: '(no cache)',
      doc: "Turns on a cache of the auth service's answers: the key is rendered per request (e.g. `$http_authorization` or `$cookie__oauth2_proxy`) and kept per auth URL, method and host, for the times of `auth-cache-duration`. As nginx's `proxy_cache`: only GET and HEAD checks are cached, answers with `Set-Cookie` or `Cache-Control: no-store|no-cache|private` are not, and `Cache-Control: max-age` takes precedence. At most 10,000 entries per Portico process; keys are kept as SHA-256 digests.",
      differs:
        'Only the listed variables are expanded (others reject the Ingress); a key without any variable is refused. Entries are shared by the routes of one host (nginx keeps one key space per location). The cache is in memory, per Portico process.',
    },
    'auth-cache-duration': {
      validate: cacheDuration,
      scope: 'location',
      risk: 'medium',
      default: DEFAULT_CACHE_DURATION,
      doc: 'How long answers are cached, by status (nginx `proxy_cache_valid` syntax, comma-separated). Used only with `auth-cache-key`.',
      differs:
        'Words that are neither status codes, `any` nor a time are refused (ingress-nginx accepts them and nginx then fails to load).',
    },
    'auth-always-set-cookie': {
      validate: boolean,
      scope: 'location',
      risk: 'low',
      default: 'false',
      doc: '`"true"`: add the auth response\'s `Set-Cookie` to every backend response. By default only to 200, 201, 204, 206, 301, 302, 303, 304, 307 and 308 (nginx\'s `add_header`).',
    },
    'auth-timeout': {
      validate: timeout,
      scope: 'location',
      risk: 'low',
      default: '5s',
      doc: 'Time allowed for the whole auth subrequest (connect, headers, body); past it the request answers 500.',
      differs:
        'Portico only. ingress-nginx uses the nginx proxy timeouts of the auth location (60 s each for connect and read).',
      prefixes: ['portico.dev'],
    },
    'auth-proxy-set-headers': {
      validate: configMapName,
      scope: 'location',
      risk: 'medium',
      default: '(none)',
      doc: "A ConfigMap (`name`, or `namespace/name` with the Ingress's own namespace) whose data are headers set on the auth subrequest, replacing the client's copies of those names. Names must be tokens, values printable without CR/LF. A missing ConfigMap, a bad name or value, a ConfigMap in another namespace, or a name Portico sets itself (`Host`, `X-Original-*`, `X-Forwarded-*`, `X-Real-IP`, `X-Request-ID`, `X-Auth-Request-Redirect`, `X-Sent-From`) makes the routes answer 503 (fail closed).",
      differs:
        "Values are data: a `$` is refused (nginx would expand it as a variable). ingress-nginx reads a ConfigMap in any namespace; Portico only in the Ingress's own.",
      prefixes: ['nginx.ingress.kubernetes.io'],
    },
    'enable-global-auth': {
      validate: boolean,
      scope: 'location',
      risk: 'low',
      default: 'true',
      doc: '`"false"`: the ConfigMap key `global-auth-url` does not cover this Ingress\'s routes. An Ingress with its own `auth-url` uses that instead either way.',
      prefixes: ['nginx.ingress.kubernetes.io'],
    },
    'auth-keepalive': {
      validate: ignored,
      scope: 'location',
      risk: 'low',
      default: '(ignored)',
      doc: 'Accepted and ignored: Portico always keeps connections to auth services alive.',
      prefixes: ['nginx.ingress.kubernetes.io'],
    },
    'auth-keepalive-requests': {
      validate: ignored,
      scope: 'location',
      risk: 'low',
      default: '(ignored)',
      doc: 'Accepted and ignored (see `auth-keepalive`).',
      prefixes: ['nginx.ingress.kubernetes.io'],
    },
    'auth-keepalive-timeout': {
      validate: ignored,
      scope: 'location',
      risk: 'low',
      default: '(ignored)',
      doc: 'Accepted and ignored (see `auth-keepalive`).',
      prefixes: ['nginx.ingress.kubernetes.io'],
    },
    'auth-keepalive-share-vars': {
      validate: ignored,
      scope: 'location',
      risk: 'low',
      default: '(ignored)',
      doc: 'Accepted and ignored (see `auth-keepalive`).',
      prefixes: ['nginx.ingress.kubernetes.io'],
    },
  },
);

type Family = typeof externalAuthAnnotations.specs;

/**
 * `parseExternalAuth` returns the Ingress's external authentication, undefined when `auth-url` is
 * absent or invalid. Other settings of the family without `auth-url` are invalid: their author
 * meant these routes to be protected, and they would be served without authentication.
 */
export function parseExternalAuth(reader: AnnotationReader): ExternalAuthPolicy | undefined {
  return readExternalAuth(reader).policy;
}

/** `ExternalAuthAnnotations` is the family's outcome: the policy and the ConfigMap translation resolves. */
export interface ExternalAuthAnnotations {
  readonly policy?: ExternalAuthPolicy;
  /** `auth-proxy-set-headers` (set only with a policy); the headers are read at translation. */
  readonly proxySetHeaders?: FieldValue<ConfigMapName>;
  /** `enable-global-auth: "false"`: the ConfigMap's `global-auth-url` skips this Ingress. */
  readonly globalAuthDisabled?: true;
}

/** `readExternalAuth` is `parseExternalAuth` with the `auth-proxy-set-headers` reference. */
export function readExternalAuth(reader: AnnotationReader): ExternalAuthAnnotations {
  const read = <K extends keyof Family & string>(name: K) => reader.read(externalAuthAnnotations, name);
  const url = read('auth-url');
  const method = read('auth-method');
  const signin = read('auth-signin');
  const param = read('auth-signin-redirect-param');
  const headers = read('auth-response-headers');
  const redirect = read('auth-request-redirect');
  const key = read('auth-cache-key');
  const durations = read('auth-cache-duration');
  const always = read('auth-always-set-cookie');
  const time = read('auth-timeout');
  const proxySetHeaders = read('auth-proxy-set-headers');
  const globalAuthDisabled =
    read('enable-global-auth')?.value === false ? ({ globalAuthDisabled: true } as const) : {};
  for (const name of [
    'auth-keepalive',
    'auth-keepalive-requests',
    'auth-keepalive-timeout',
    'auth-keepalive-share-vars',
  ] as const) {
    read(name);
  }
  if (url === undefined) {
    const orphan: FieldValue<unknown> | undefined = [
      method,
      signin,
      param,
      headers,
      redirect,
      key,
      durations,
      always,
      time,
      proxySetHeaders,
    ].find((v) => v !== undefined);
    // An invalid auth-url has its own problem already; one message is enough.
    const urlInvalid = reader.problems.some((p) => p.field.endsWith('/auth-url"]'));
    if (orphan !== undefined && !urlInvalid) {
      reader.problem(
        orphan.field,
        'needs auth-url (without it these routes would be served without authentication)',
      );
    }
    return globalAuthDisabled;
  }
  if (durations !== undefined && key === undefined) {
    reader.problem(durations.field, 'needs auth-cache-key: without a key nothing is cached');
  }
  const cacheDurations = key === undefined ? [] : (durations?.value ?? defaultDurations());
  const policy: ExternalAuthPolicy = {
    url: url.value,
    method: method?.value ?? 'GET',
    ...(signin !== undefined ? { signin: signin.value } : {}),
    signinRedirectParam: param?.value ?? 'rd',
    responseHeaders: headers?.value ?? [],
    ...(redirect !== undefined ? { requestRedirect: redirect.value } : {}),
    ...(key !== undefined ? { cacheKey: key.value } : {}),
    cacheDurations,
    alwaysSetCookie: always?.value ?? false,
    timeoutMs: time?.value ?? DEFAULT_AUTH_TIMEOUT_MS,
  };
  return {
    policy,
    ...(proxySetHeaders !== undefined ? { proxySetHeaders } : {}),
    ...globalAuthDisabled,
  };
}

function defaultDurations(): readonly CacheDuration[] {
  const parsed = parseCacheDurations(DEFAULT_CACHE_DURATION);
  return parsed.ok ? parsed.value : [];
}

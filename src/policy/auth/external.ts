/**
 * `external` checks a request with an external auth service, as nginx's `auth_request` does in
 * ingress-nginx's auth location (`auth-url` and friends; the annotations are parsed by
 * `model/annotations/external-auth.ts`).
 *
 * The subrequest: `auth-method` (GET by default) without a body, carrying the client's headers
 * minus the hop-by-hop and body headers, plus `X-Original-URL`, `X-Original-URI`,
 * `X-Original-Method`, `X-Auth-Request-Redirect`, `X-Request-ID`, `X-Real-IP`,
 * `X-Forwarded-For`, `X-Forwarded-Host` and `X-Sent-From`, each replacing any the client sent;
 * `X-Forwarded-Proto` and `X-Scheme` are removed (ingress-nginx #3405: an auth service behind an
 * HTTPS redirect answered 308 to every check). `Host` is the auth service's. The headers of
 * `auth-proxy-set-headers` replace the client's copies of their names.
 *
 * The answer, as `ngx_http_auth_request_module`: 2xx allows, and the `auth-response-headers` are
 * copied onto the upstream request; 401 is answered with the service's `WWW-Authenticate`
 * (or, with `auth-signin`, becomes a 302 to it); 403 is answered; anything else, a refused
 * connection or the timeout answers 500. The service's body is never relayed: it is read and
 * dropped (at most `MAX_AUTH_BODY` bytes, so the connection can be reused) and Portico writes its
 * own short body, as nginx writes its own error page.
 *
 * `Set-Cookie` from the auth response goes to the client where nginx's `add_header` would put it:
 * on the 302 to the sign-in page, and on the backend's response when its status is one
 * `add_header` covers (`responseHeadersFor`); everywhere with `auth-always-set-cookie`. Each
 * cookie is relayed as its own header (nginx joins them into one, which browsers misread).
 *
 * The client owns its undici Agent (DESIGN §6: no global dispatcher on the proxy path).
 */
import { createHash } from 'node:crypto';
import { Agent, type Dispatcher } from 'undici';
import type { Logger } from '../../log/logger.js';
import {
  AUTH_HEADERS_SET_BY_PORTICO,
  CACHE_KEY_VARIABLES,
  isCacheKeyVariable,
  parseTemplate,
  type TemplatePart,
  URL_VARIABLES,
} from '../../model/annotations/external-auth.js';
import type { ExternalAuthPolicy } from '../../model/types.js';
import { connectionTokens, HOP_BY_HOP } from '../../proxy/hop-by-hop.js';

/** `ExternalAuthInput` is the request being checked, as the proxy handler sees it. */
export interface ExternalAuthInput {
  readonly policy: ExternalAuthPolicy;
  /** The client's headers as `IncomingMessage.rawHeaders` (flat name, value list). */
  readonly rawHeaders: readonly string[];
  readonly method: string;
  /** The original request target (path and query), nginx's `$request_uri`. */
  readonly url: string;
  /** The request's Host (or `:authority`) as the client sent it, port included if any. */
  readonly host: string;
  readonly proto: 'http' | 'https';
  /** The client address (after `--trusted-proxies`), for X-Real-IP and X-Forwarded-For. */
  readonly clientAddress: string;
  readonly requestId: string;
  /**
   * Separates cache key spaces, e.g. `"namespace/ingress"` or a route id; absent: one key space
   * per auth URL, method and host.
   */
  readonly cacheScope?: string;
}

/** `ExternalAuthVerdict` is what the proxy does next. */
export type ExternalAuthVerdict =
  | {
      readonly kind: 'allow';
      /**
       * Lowercased names to remove from the client's request before adding `upstreamHeaders`:
       * every `auth-response-headers` name, so a client cannot forge one the service did not send.
       */
      readonly removeUpstream: readonly string[];
      /** Flat `[name, value, …]` to add to the upstream request (after `removeUpstream`). */
      readonly upstreamHeaders: readonly string[];
      /** Flat `[name, value, …]` (`set-cookie`) for the client's response: see `responseHeadersFor`. */
      readonly responseHeaders: readonly string[];
      /** `auth-always-set-cookie`: add `responseHeaders` whatever the backend's status. */
      readonly always: boolean;
      /** Answered from the cache, without a subrequest. */
      readonly cached: boolean;
    }
  | {
      readonly kind: 'respond';
      readonly status: number;
      /** Flat `[name, value, …]` besides content-type/length (`www-authenticate`, `location`, `set-cookie`). */
      readonly headers: readonly string[];
      /** Short text/plain body written by Portico (never the auth service's). */
      readonly body: string;
      /** `denied`: 401/403 relayed; `signin`: 302 to `auth-signin`; `error`: 500 (503 for a `deny` policy). */
      readonly reason: 'denied' | 'signin' | 'error';
      readonly cached: boolean;
    };

/** Statuses nginx's `add_header` (without `always`) applies to. */
export const ADD_HEADER_STATUSES: ReadonlySet<number> = new Set([
  200, 201, 204, 206, 301, 302, 303, 304, 307, 308,
]);

/** `responseHeadersFor` returns the headers an allow verdict adds to a backend response of `status`. */
export function responseHeadersFor(
  verdict: Extract<ExternalAuthVerdict, { kind: 'allow' }>,
  status: number,
): readonly string[] {
  return verdict.always || ADD_HEADER_STATUSES.has(status) ? verdict.responseHeaders : [];
}

/** The auth service's body is drained up to this many bytes; past it the connection is closed. */
export const MAX_AUTH_BODY = 64 * 1024;
/** Cache entries per client (one Portico process); the oldest go first. */
export const MAX_CACHE_ENTRIES = 10_000;

// Set by Portico on the subrequest (the client's own copies are dropped), or dropped outright.
const REPLACED: ReadonlySet<string> = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'expect',
  ...AUTH_HEADERS_SET_BY_PORTICO,
]);

/** `AuthAnswer` is what is remembered of one auth response: enough to rebuild a verdict for another request. */
export interface AuthAnswer {
  readonly status: number;
  /** Lowercased name → values, for the names a verdict uses. */
  readonly headers: ReadonlyMap<string, readonly string[]>;
}

interface CompiledPolicy {
  readonly signin?: readonly TemplatePart[];
  readonly requestRedirect?: readonly TemplatePart[];
  readonly cacheKey?: readonly TemplatePart[];
  readonly origin: string;
  readonly path: string;
  readonly hostHeader: string;
  readonly removeUpstream: readonly string[];
  /** `auth-proxy-set-headers`, as raw header pairs, and their lowercased names. */
  readonly setHeaders: readonly string[];
  readonly setNames: ReadonlySet<string>;
}

/** `RequestView` indexes the client's headers once per check. */
class RequestView {
  readonly #headers = new Map<string, string[]>();
  constructor(readonly input: ExternalAuthInput) {
    const raw = input.rawHeaders;
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const name = (raw[i] ?? '').toLowerCase();
      const list = this.#headers.get(name);
      if (list === undefined) this.#headers.set(name, [raw[i + 1] ?? '']);
      else list.push(raw[i + 1] ?? '');
    }
  }

  header(name: string): string {
    const values = this.#headers.get(name);
    if (values === undefined) return '';
    return values.join(name === 'cookie' ? '; ' : ', ');
  }

  cookie(name: string): string {
    for (const line of this.#headers.get('cookie') ?? []) {
      for (const pair of line.split(';')) {
        const eq = pair.indexOf('=');
        if (eq !== -1 && pair.slice(0, eq).trim() === name) return pair.slice(eq + 1).trim();
      }
    }
    return '';
  }

  /** nginx's `$remote_user`: the user of `Authorization: Basic`, empty otherwise. */
  remoteUser(): string {
    const value = this.header('authorization').trim();
    if (!/^basic /i.test(value)) return '';
    const decoded = Buffer.from(value.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon === -1 ? '' : decoded.slice(0, colon);
  }

  /** The request's variables, as nginx names them. */
  variable(name: string): string {
    const { input } = this;
    switch (name) {
      case 'scheme':
      case 'pass_access_scheme':
        return input.proto;
      case 'host':
        return hostWithoutPort(input.host).toLowerCase();
      case 'http_host':
      case 'best_http_host':
        return input.host;
      case 'request_uri':
        return input.url;
      case 'escaped_request_uri':
        return escapeUriComponent(input.url);
      case 'remote_addr':
        return input.clientAddress;
      case 'remote_user':
        return this.remoteUser();
      case 'request_method':
        return input.method;
    }
    if (name.startsWith('http_')) return this.header(name.slice(5).replaceAll('_', '-').toLowerCase());
    if (name.startsWith('cookie_')) return this.cookie(name.slice(7));
    return '';
  }

  render(parts: readonly TemplatePart[]): string {
    return parts.map((p) => (p.kind === 'text' ? p.text : this.variable(p.name))).join('');
  }
}

function hostWithoutPort(host: string): string {
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end === -1 ? host : host.slice(0, end + 1);
  }
  const colon = host.indexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}

/** nginx's `set_escape_uri`: everything but letters, digits and `-._~` is percent-encoded. */
export function escapeUriComponent(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/**
 * `signinLocation` is ingress-nginx's `buildAuthSignURL`: the sign-in URL with
 * `<param>=<scheme>://<host><escaped URI>` appended, unless it already carries that parameter.
 */
export function signinLocation(
  signin: string,
  param: string,
  proto: string,
  host: string,
  url: string,
): string {
  const original = `${proto}://${host}${escapeUriComponent(url)}`;
  const query = new URL(signin).searchParams;
  if (query.size === 0) return `${signin}?${param}=${original}`;
  if ((query.get(param) ?? '') !== '') return signin;
  return `${signin}&${param}=${original}`;
}

const BODIES = {
  401: '401 Unauthorized — the authentication service refused this request\n',
  403: '403 Forbidden — the authentication service refused this request\n',
  302: '302 Found — sign in first\n',
  500: '500 Internal Server Error — the authentication service could not check this request\n',
} as const;

const DENIED_BODY = '503 Service Unavailable — external authentication of this route is not usable\n';

/** Cache lifetime an answer's own Cache-Control imposes: 0 = do not cache, undefined = say nothing. */
function cacheControlMs(values: readonly string[] | undefined): number | undefined {
  if (values === undefined) return undefined;
  const directives = values.join(',').toLowerCase();
  if (/(^|[\s,])(no-store|no-cache|private)([\s,=]|$)/.test(directives)) return 0;
  const age = /(?:^|[\s,])(?:s-maxage|max-age)\s*=\s*"?(\d+)/.exec(directives);
  return age === null ? undefined : Number(age[1]) * 1000;
}

/** `cacheLifetimeMs` is how long an answer may be reused under `policy` (0: not at all). */
export function cacheLifetimeMs(policy: ExternalAuthPolicy, answer: AuthAnswer): number {
  if (policy.cacheKey === undefined) return 0;
  if (policy.method !== 'GET' && policy.method !== 'HEAD') return 0;
  if (answer.headers.has('set-cookie')) return 0;
  const own = cacheControlMs(answer.headers.get('cache-control'));
  if (own !== undefined) return own;
  for (const d of policy.cacheDurations) {
    if (d.statuses.length === 0 || d.statuses.includes(answer.status)) return d.ms;
  }
  return 0;
}

/** `AuthCache` is a bounded map of answers with expiry times, oldest evicted first. */
class AuthCache {
  readonly #entries = new Map<string, { readonly expires: number; readonly answer: AuthAnswer }>();
  constructor(
    readonly max: number,
    readonly now: () => number,
  ) {}

  get(key: string): AuthAnswer | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expires <= this.now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry.answer;
  }

  set(key: string, answer: AuthAnswer, ms: number): void {
    this.#entries.delete(key);
    while (this.#entries.size >= this.max) {
      const oldest = this.#entries.keys().next();
      if (oldest.done === true) break;
      this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, { expires: this.now() + ms, answer });
  }

  get size(): number {
    return this.#entries.size;
  }
}

const urlVariable = (name: string): boolean => URL_VARIABLES.includes(name);
const known = (list: readonly string[]): string => list.map((v) => `$${v}`).join(', ');

/** `ExternalAuthClientOptions` configure the client; tests inject the clock. */
export interface ExternalAuthClientOptions {
  readonly logger: Logger;
  readonly now?: () => number;
  readonly maxCacheEntries?: number;
  /** Connections kept per auth service origin (default 64). */
  readonly connections?: number;
}

/** `ExternalAuthClient` checks requests against auth services; one per data plane. */
export class ExternalAuthClient {
  readonly #logger: Logger;
  readonly #agent: Agent;
  readonly #cache: AuthCache;
  readonly #compiled = new WeakMap<ExternalAuthPolicy, CompiledPolicy>();

  constructor(options: ExternalAuthClientOptions) {
    this.#logger = options.logger;
    this.#cache = new AuthCache(options.maxCacheEntries ?? MAX_CACHE_ENTRIES, options.now ?? Date.now);
    this.#agent = new Agent({
      connections: options.connections ?? 64,
      keepAliveTimeout: 4_000,
      // The per-check abort bounds everything; these only stop a pool from waiting longer.
      headersTimeout: 60_000,
      bodyTimeout: 60_000,
    });
  }

  /** Number of cached answers (for tests and metrics). */
  get cacheSize(): number {
    return this.#cache.size;
  }

  /** `check` asks the auth service about one request. Never throws; bounded by the policy's timeout. */
  async check(input: ExternalAuthInput): Promise<ExternalAuthVerdict> {
    try {
      const policy = input.policy;
      // A well-formed but unusable configuration fails closed, never open.
      if (policy.deny !== undefined) return { ...errorVerdict(), status: 503, body: DENIED_BODY };
      const compiled = this.#compile(policy);
      const view = new RequestView(input);
      let cacheKey: string | undefined;
      if (compiled.cacheKey !== undefined) {
        cacheKey = createHash('sha256')
          .update(
            JSON.stringify([
              policy.url,
              policy.method,
              input.host.toLowerCase(),
              input.cacheScope ?? '',
              ...compiled.cacheKey.map((p) => (p.kind === 'text' ? p.text : view.variable(p.name))),
            ]),
          )
          .digest('base64');
        const hit = this.#cache.get(cacheKey);
        if (hit !== undefined) return this.#verdict(policy, compiled, view, hit, true);
      }
      const answer = await this.#ask(policy, compiled, view);
      if (answer === undefined) return errorVerdict();
      if (cacheKey !== undefined) {
        const ms = cacheLifetimeMs(policy, answer);
        if (ms > 0) this.#cache.set(cacheKey, answer, ms);
      }
      return this.#verdict(policy, compiled, view, answer, false);
    } catch (err) {
      this.#logger.error(
        { err, requestId: input.requestId, authUrl: safeUrl(input.policy?.url) },
        'external auth check failed',
      );
      return errorVerdict();
    }
  }

  /** `close` ends the connections to auth services. */
  async close(): Promise<void> {
    try {
      await this.#agent.close();
    } catch {
      await this.#agent.destroy();
    }
  }

  #compile(policy: ExternalAuthPolicy): CompiledPolicy {
    const cached = this.#compiled.get(policy);
    if (cached !== undefined) return cached;
    // The annotation validators accepted these; a failure here means a policy built elsewhere.
    const template = (raw: string | undefined, allowed: (n: string) => boolean, list: string) => {
      if (raw === undefined) return undefined;
      const parsed = parseTemplate(raw, allowed, list);
      if (!parsed.ok)
        throw new Error(`invalid external auth template ${JSON.stringify(raw)}: ${parsed.reason}`);
      return parsed.value;
    };
    const url = new URL(policy.url);
    const signin = template(policy.signin, urlVariable, known(URL_VARIABLES));
    const requestRedirect = template(policy.requestRedirect, urlVariable, known(URL_VARIABLES));
    const cacheKey = template(policy.cacheKey, isCacheKeyVariable, known(CACHE_KEY_VARIABLES));
    const compiled: CompiledPolicy = {
      ...(signin !== undefined ? { signin } : {}),
      ...(requestRedirect !== undefined ? { requestRedirect } : {}),
      ...(cacheKey !== undefined ? { cacheKey } : {}),
      origin: url.origin,
      path: `${url.pathname}${url.search}`,
      hostHeader: url.host,
      removeUpstream: policy.responseHeaders.map((h) => h.toLowerCase()),
      setHeaders: (policy.proxySetHeaders ?? []).flat(),
      setNames: new Set((policy.proxySetHeaders ?? []).map(([name]) => name.toLowerCase())),
    };
    this.#compiled.set(policy, compiled);
    return compiled;
  }

  #headers(compiled: CompiledPolicy, view: RequestView): string[] {
    const { input } = view;
    const raw = input.rawHeaders;
    const listed = connectionTokens(view.header('connection') || undefined);
    const out: string[] = [];
    const cookies: string[] = [];
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const name = raw[i] ?? '';
      const lower = name.toLowerCase();
      // HTTP/2 pseudo-headers (`:path`…) are not headers of the subrequest.
      if (
        lower.startsWith(':') ||
        HOP_BY_HOP.has(lower) ||
        REPLACED.has(lower) ||
        listed?.has(lower) ||
        compiled.setNames.has(lower)
      )
        continue;
      // HTTP/2 clients may split Cookie; HTTP/1.1 wants one line (RFC 9113 §8.2.3).
      if (lower === 'cookie') cookies.push(raw[i + 1] ?? '');
      else out.push(name, raw[i + 1] ?? '');
    }
    if (cookies.length > 0) out.push('cookie', cookies.join('; '));
    const redirect =
      compiled.requestRedirect === undefined ? input.url : view.render(compiled.requestRedirect);
    out.push(
      'host',
      compiled.hostHeader,
      'x-original-url',
      `${input.proto}://${input.host}${input.url}`,
      'x-original-uri',
      input.url,
      'x-original-method',
      input.method,
      'x-auth-request-redirect',
      redirect,
      'x-request-id',
      input.requestId,
      'x-real-ip',
      input.clientAddress,
      'x-forwarded-for',
      input.clientAddress,
      'x-forwarded-host',
      input.host,
      'x-sent-from',
      'portico',
      ...compiled.setHeaders,
    );
    return out;
  }

  /** `#ask` runs the subrequest; undefined when it failed (logged). */
  async #ask(
    policy: ExternalAuthPolicy,
    compiled: CompiledPolicy,
    view: RequestView,
  ): Promise<AuthAnswer | undefined> {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(new AuthTimeout(policy.timeoutMs)), policy.timeoutMs);
    timer.unref();
    try {
      const response = await this.#agent.request({
        origin: compiled.origin,
        path: compiled.path,
        method: policy.method as Dispatcher.HttpMethod,
        headers: this.#headers(compiled, view),
        signal: abort.signal,
        headersTimeout: policy.timeoutMs,
        bodyTimeout: policy.timeoutMs,
      });
      const headers = new Map<string, readonly string[]>();
      for (const [name, value] of Object.entries(response.headers)) {
        if (value === undefined) continue;
        headers.set(name.toLowerCase(), Array.isArray(value) ? value : [value]);
      }
      await response.body.dump({ limit: MAX_AUTH_BODY, signal: abort.signal });
      return { status: response.statusCode, headers };
    } catch (err) {
      const reason = abort.signal.aborted ? 'timed out' : 'failed';
      this.#logger.warn(
        {
          err: abort.signal.aborted ? undefined : err,
          code: (err as { code?: unknown } | null)?.code,
          requestId: view.input.requestId,
          authUrl: safeUrl(policy.url),
          timeoutMs: policy.timeoutMs,
        },
        `external auth subrequest ${reason}`,
      );
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  #verdict(
    policy: ExternalAuthPolicy,
    compiled: CompiledPolicy,
    view: RequestView,
    answer: AuthAnswer,
    cached: boolean,
  ): ExternalAuthVerdict {
    const cookies = (answer.headers.get('set-cookie') ?? []).flatMap((c) => ['set-cookie', c]);
    const { status } = answer;
    if (status >= 200 && status < 300) {
      const upstreamHeaders: string[] = [];
      for (const name of policy.responseHeaders) {
        const values = answer.headers.get(name.toLowerCase());
        // nginx's $upstream_http_<name> joins repeated headers with ", ".
        if (values !== undefined && values.length > 0) upstreamHeaders.push(name, values.join(', '));
      }
      return {
        kind: 'allow',
        removeUpstream: compiled.removeUpstream,
        upstreamHeaders,
        responseHeaders: cookies,
        always: policy.alwaysSetCookie,
        cached,
      };
    }
    const alwaysCookies = policy.alwaysSetCookie ? cookies : [];
    if (status === 401 && compiled.signin !== undefined) {
      const { input } = view;
      const location = headerSafe(
        signinLocation(
          view.render(compiled.signin),
          policy.signinRedirectParam,
          input.proto,
          input.host,
          input.url,
        ),
      );
      // The sign-in location is `add_header Set-Cookie` + `return 302`: 302 is covered.
      return {
        kind: 'respond',
        status: 302,
        headers: ['location', location, ...cookies],
        body: BODIES[302],
        reason: 'signin',
        cached,
      };
    }
    if (status === 401) {
      const challenge = (answer.headers.get('www-authenticate') ?? []).flatMap((v) => [
        'www-authenticate',
        v,
      ]);
      return {
        kind: 'respond',
        status,
        headers: [...challenge, ...alwaysCookies],
        body: BODIES[401],
        reason: 'denied',
        cached,
      };
    }
    if (status === 403) {
      return { kind: 'respond', status, headers: alwaysCookies, body: BODIES[403], reason: 'denied', cached };
    }
    this.#logger.warn(
      { status, requestId: view.input.requestId, authUrl: safeUrl(policy.url) },
      'external auth service answered a status other than 2xx, 401 or 403',
    );
    return { ...errorVerdict(), headers: alwaysCookies, cached };
  }
}

/** `headerSafe` percent-encodes what a header value cannot carry (a raw `$request_uri` may hold it). */
function headerSafe(value: string): string {
  return value.replace(/[^\x21-\x7e]/gu, (c) => encodeURIComponent(c));
}

class AuthTimeout extends Error {
  constructor(ms: number) {
    super(`external auth subrequest timed out after ${ms} ms`);
    this.name = 'AuthTimeout';
  }
}

function errorVerdict(): Extract<ExternalAuthVerdict, { kind: 'respond' }> {
  return { kind: 'respond', status: 500, headers: [], body: BODIES[500], reason: 'error', cached: false };
}

/** The auth URL without its query, for logs (a query may carry a token). */
function safeUrl(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/**
 * `chain` runs a route's policies between routing and the upstream exchange, in the fixed order of
 * issue 6 (src/policy/README.md): (2) deny-list then allow-list → 403; (3) connection limit, then
 * rate limit; (4) Basic auth, then external auth. Step (1), the answers that need no backend nor
 * credentials, ran before (the HTTPS redirect is decided while routing); endpoint choice and the
 * proxy come after.
 *
 * A chain is compiled once per `RouteMatch` (compile prebuilds one per route, so a WeakMap keyed by
 * it lives exactly as long as the snapshot) and holds only the steps its policy needs: a route
 * without policies has no chain, and the request path pays one WeakMap lookup. Steps run
 * synchronously until one needs I/O (Redis, bcrypt on a cache miss, the auth service); only then
 * does the rest continue as a promise, so an in-memory rate limit costs no microtask.
 */
import type { IncomingMessage } from 'node:http';
import type { RouteMatch } from '../compile/types.js';
import type { Logger } from '../log/logger.js';
import type { ExternalAuthPolicy, RateLimitConfig, RoutePolicy } from '../model/types.js';
import { type AuthSecretCheck, authSecretKey } from './auth/auth-secrets.js';
import {
  BasicAuthenticator,
  type BasicAuthOptions,
  type BasicAuthResult,
  challenge,
  UNAUTHORIZED_BODY,
} from './auth/basic.js';
import { type ExternalAuthInput, type ExternalAuthVerdict, responseHeadersFor } from './auth/external.js';
import { compileIpFilter, type IpFilter } from './ip-filter.js';
import { rateLimitHeaders } from './rate-limit/headers.js';
import type { LimitOutcome, ZoneLimiter } from './rate-limit/types.js';

/** `PolicyKind` names a step, for metrics and logs. */
export type PolicyKind = 'ip' | 'connections' | 'rate' | 'basic' | 'external';

/** `PolicyObserver` is told about refusals (metrics); every method is optional. */
export interface PolicyObserver {
  denied?(kind: PolicyKind, match: RouteMatch): void;
  /** A dry-run limit would have refused this request. */
  dryRun?(kind: 'connections' | 'rate', match: RouteMatch): void;
}

/** `RateLimits` is the part of the rate-limit engine the chain uses. */
export interface RateLimits {
  limiterFor(zone: string, config: RateLimitConfig): ZoneLimiter;
  retain(live: Iterable<ZoneLimiter>): void;
}

/** `PolicyExplanation` is one step of `PolicyEngine.explain`, as JSON. */
export type PolicyExplanation = { readonly step: string; readonly verdict: string } & Readonly<
  Record<string, string | number | boolean | null | readonly string[]>
>;

/** `ExternalAuthChecker` asks the auth service (`ExternalAuthClient` in `auth/external.ts`). Never rejects. */
export interface ExternalAuthChecker {
  check(input: ExternalAuthInput): Promise<ExternalAuthVerdict>;
}

/** `PolicyServices` are the stateful parts the chain calls. */
export interface PolicyServices {
  readonly logger: Logger;
  readonly limits?: RateLimits;
  readonly externalAuth?: ExternalAuthChecker;
  readonly observer?: PolicyObserver;
  readonly basicAuth?: BasicAuthOptions;
}

/** `LimitStatusCodes` are the ConfigMap's `limit-req-status-code` / `limit-conn-status-code` (nginx spellings). */
export interface LimitStatusCodes {
  readonly request: number;
  readonly connection: number;
}

/** `DEFAULT_LIMIT_STATUS` is ingress-nginx's default for both (503). */
export const DEFAULT_LIMIT_STATUS: LimitStatusCodes = Object.freeze({ request: 503, connection: 503 });

/** `PolicyRequest` is one routed request, as the chain sees it. */
export interface PolicyRequest {
  readonly req: IncomingMessage;
  readonly match: RouteMatch;
  /** The connection's peer (`clientAddress` form, or the PROXY protocol source). */
  readonly peer: string;
  /** Whether an address is a trusted proxy (`--trusted-proxies` / `use-forwarded-headers`). */
  readonly trust: (address: string) => boolean;
  readonly limitStatus: LimitStatusCodes;
  readonly proto: 'http' | 'https';
  /** Normalised host. */
  readonly host: string;
  readonly requestId: string;
}

/** `PolicyPass` lets the request through, with what the policies add to it. */
export interface PolicyPass {
  readonly pass: true;
  /** Headers for the client's response (RateLimit-*, the auth service's Set-Cookie). */
  readonly responseHeaders: readonly string[] | undefined;
  /** Headers to set on the upstream request (external auth's `auth-response-headers`). */
  readonly upstreamHeaders: readonly string[] | undefined;
  /** Lowercased names removed from the client's request first, so none can be forged. */
  readonly removeUpstream: readonly string[] | undefined;
  /** Headers that depend on the backend's status (the auth service's Set-Cookie, nginx `add_header` rules). */
  readonly headersForStatus: ((status: number) => readonly string[]) | undefined;
  /** Remove `Authorization` before proxying (Basic auth without `auth-pass-credentials`). */
  readonly stripAuthorization: boolean;
  /** Call once when the response is over (a connection-limit slot is held until then). */
  readonly release: (() => void) | undefined;
}

/** `PolicyRefusal` answers the request without a backend. */
export interface PolicyRefusal {
  readonly pass: false;
  readonly status: number;
  readonly code:
    | 'PORTICO_ERR_IP_DENIED'
    | 'PORTICO_ERR_CONNECTION_LIMITED'
    | 'PORTICO_ERR_RATE_LIMITED'
    | 'PORTICO_ERR_UNAUTHORIZED'
    | 'PORTICO_ERR_AUTH_CONFIG'
    | 'PORTICO_ERR_EXTERNAL_AUTH';
  readonly body: string;
  /** Flat `[name, value, …]` for the response. */
  readonly headers: readonly string[];
  readonly release: (() => void) | undefined;
}

export type PolicyResult = PolicyPass | PolicyRefusal;

/** The pass of every request whose chain added nothing. */
const PLAIN_PASS: PolicyPass = Object.freeze({
  pass: true,
  responseHeaders: undefined,
  upstreamHeaders: undefined,
  removeUpstream: undefined,
  headersForStatus: undefined,
  stripAuthorization: false,
  release: undefined,
});

/** Per-request state the steps fill in. */
class RunState {
  responseHeaders: string[] | undefined;
  upstreamHeaders: string[] | undefined;
  removeUpstream: readonly string[] | undefined;
  headersForStatus: ((status: number) => readonly string[]) | undefined;
  stripAuthorization = false;
  release: (() => void) | undefined;
  #client: string | undefined;

  constructor(readonly r: PolicyRequest) {}

  /** The client address the policies use: the peer, or what trusted proxies say (X-Forwarded-For). */
  get client(): string {
    if (this.#client === undefined) this.#client = forwardedClient(this.r.req, this.r.peer, this.r.trust);
    return this.#client;
  }

  addResponseHeaders(headers: readonly string[]): void {
    if (this.responseHeaders === undefined) this.responseHeaders = [...headers];
    else this.responseHeaders.push(...headers);
  }
}

/** A step's refusal (status, body, headers); undefined lets the request go on. */
type Refusal = Omit<PolicyRefusal, 'pass' | 'release'>;
type Step = (state: RunState) => Refusal | undefined | Promise<Refusal | undefined>;

/**
 * `forwardedClient` walks X-Forwarded-For right to left from a trusted peer and returns the first
 * address that is not a trusted proxy (proxy-addr's rule). It starts from `peer` rather than the
 * request's socket (what proxy-addr reads), because with PROXY protocol the peer is the address the
 * load balancer reported, not the socket's.
 */
export function forwardedClient(
  req: IncomingMessage,
  peer: string,
  trust: (address: string) => boolean,
): string {
  if (!trust(peer)) return peer;
  const header = req.headers['x-forwarded-for'];
  if (header === undefined) return peer;
  const list = (Array.isArray(header) ? header.join(',') : header).split(',');
  let client = peer;
  for (let i = list.length - 1; i >= 0; i--) {
    const raw = (list[i] as string).trim();
    if (raw === '') continue;
    client = raw.startsWith('::ffff:') && raw.includes('.') ? raw.slice(7) : raw;
    if (!trust(client)) return client;
  }
  return client;
}

function cookieValue(header: string | undefined, name: string): string {
  if (header === undefined) return '';
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return '';
}

function headerValue(req: IncomingMessage, name: string): string {
  const v = req.headers[name];
  return v === undefined ? '' : Array.isArray(v) ? v.join(', ') : v;
}

/** `limitKey` reads what a limit counts by. A missing header or cookie counts as one shared key "". */
function limitKey(config: RateLimitConfig, state: RunState): string {
  const key = config.key;
  switch (key.kind) {
    case 'remote-ip':
      return state.client;
    case 'host':
      return state.r.host;
    case 'header':
      return headerValue(state.r.req, key.name);
    case 'cookie':
      return cookieValue(headerValue(state.r.req, 'cookie') || undefined, key.name);
  }
}

function text(status: number, detail: string): string {
  return `${status} ${status === 429 ? 'Too Many Requests' : status === 503 ? 'Service Unavailable' : 'Error'} — ${detail}\n`;
}

/**
 * `PolicyEngine` compiles and runs route chains. The data plane owns one; it is told about new
 * snapshots (to drop limiter state nobody uses) and new auth Secrets.
 */
export class PolicyEngine {
  readonly #services: PolicyServices;
  #chains = new WeakMap<RouteMatch, readonly Step[] | null>();
  /** The limiter each compiled route uses, for explain. */
  #limiterOf = new WeakMap<RouteMatch, ZoneLimiter>();
  /** Compiled IP filters per list object (shared by every route of one Ingress). */
  #ipFilters = new WeakMap<object, IpFilter>();
  #authSecrets: ReadonlyMap<string, AuthSecretCheck> = new Map();
  /** Authenticators (and their verified-credential caches) per Secret content. */
  #authenticators = new Map<string, BasicAuthenticator>();
  /** Limiters the current chains use; handed to `limits.retain` on each snapshot. */
  #liveLimiters = new Set<ZoneLimiter>();

  constructor(services: PolicyServices) {
    this.#services = services;
  }

  /** `publishAuthSecrets` installs the users of every auth Secret (from the TLS table). */
  publishAuthSecrets(secrets: ReadonlyMap<string, AuthSecretCheck> | undefined): void {
    const next = secrets ?? new Map<string, AuthSecretCheck>();
    if (next === this.#authSecrets) return;
    this.#authSecrets = next;
    const kept = new Map<string, BasicAuthenticator>();
    for (const check of next.values()) {
      if (!check.ok) continue;
      const existing = this.#authenticators.get(check.fingerprint);
      kept.set(check.fingerprint, existing ?? new BasicAuthenticator(check.users, this.#services.basicAuth));
    }
    this.#authenticators = kept;
  }

  /**
   * `snapshotPublished` starts a new generation of chains: they are compiled again on first use,
   * and limiter state no current route uses is dropped. A limiter keeps its counts across the swap
   * when its zone and configuration did not change.
   */
  snapshotPublished(routes: Iterable<RouteMatch>): void {
    this.#chains = new WeakMap();
    this.#limiterOf = new WeakMap();
    this.#liveLimiters = new Set();
    for (const match of routes) this.#chainOf(match);
    this.#services.limits?.retain(this.#liveLimiters);
  }

  /** `hasChain` tells whether a route has any policy step (cheap: cached per route). */
  hasChain(match: RouteMatch): boolean {
    return this.#chainOf(match) !== null;
  }

  /** `run` applies the route's policies. Synchronous unless a step needs I/O. */
  run(r: PolicyRequest): PolicyResult | Promise<PolicyResult> {
    const steps = this.#chainOf(r.match);
    if (steps === null) return PLAIN_PASS;
    return runFrom(steps, 0, new RunState(r));
  }

  /**
   * `explain` describes every policy a request from `client` to `match` would meet, in hook order,
   * with the verdict each would give now. It consumes nothing: limits are peeked.
   */
  async explain(
    match: RouteMatch,
    client: string,
    host: string,
    headers: Readonly<Record<string, string>> = {},
  ): Promise<PolicyExplanation[]> {
    this.#chainOf(match);
    const policy = match.policy;
    const out: PolicyExplanation[] = [];
    const state = new RunState({
      req: { headers } as unknown as IncomingMessage,
      match,
      peer: client,
      trust: () => false,
      limitStatus: DEFAULT_LIMIT_STATUS,
      proto: 'http',
      host,
      requestId: 'explain',
    });
    if (policy.ipAccess !== undefined) {
      const verdict = compileIpFilter(policy.ipAccess).check(client);
      out.push({
        step: 'ip-filter',
        allow: policy.ipAccess.allow ?? null,
        deny: policy.ipAccess.deny ?? null,
        verdict: verdict === 'allow' ? 'pass' : 'refuse (403)',
      });
    }
    const limit = policy.rateLimit;
    if (limit !== undefined) {
      const limiter = this.#limiterOf.get(match);
      const exempt =
        limit.allowlist !== undefined &&
        compileIpFilter({ allow: limit.allowlist }).check(client) === 'allow';
      const key = limitKey(limit, state);
      const outcome =
        limiter === undefined || limit.buckets.length === 0 ? undefined : await limiter.peek(key);
      out.push({
        step: 'rate-limit',
        dialect: limit.dialect,
        ...(limit.policy !== undefined ? { policy: limit.policy } : {}),
        buckets: limit.buckets.map((b) => b.label),
        connections: limit.connections ?? null,
        key:
          limit.key.kind === 'header' || limit.key.kind === 'cookie'
            ? `${limit.key.kind}:${limit.key.name}`
            : limit.key.kind,
        keyValue: key,
        scope: limit.scope,
        store: outcome?.store ?? limit.store ?? 'default',
        dryRun: limit.dryRun,
        allowlisted: exempt,
        remaining: outcome?.remaining ?? null,
        verdict: exempt
          ? 'pass (allow-listed)'
          : outcome === undefined || outcome.allowed
            ? 'pass'
            : limit.dryRun
              ? 'pass (dry run: would refuse)'
              : `refuse (${limit.status ?? (limit.dialect === 'nginx' ? 'limit-req-status-code' : 429)})`,
      });
    }
    const basic = policy.basicAuth;
    if (basic !== undefined) {
      const key = authSecretKey(basic);
      const check = key === undefined ? undefined : this.#authSecrets.get(key);
      out.push({
        step: 'basic-auth',
        secret: basic.secret === undefined ? null : `${basic.secret.namespace}/${basic.secret.name}`,
        secretType: basic.secretType,
        realm: basic.realm,
        users: check?.ok === true ? check.users.users.size : 0,
        verdict:
          basic.deny !== undefined
            ? `refuse (503): ${basic.deny}`
            : check === undefined
              ? 'refuse (503): Secret not loaded'
              : check.ok
                ? 'credentials required (401 without them)'
                : `refuse (503): ${check.reason}`,
      });
    }
    const external = policy.externalAuth;
    if (external !== undefined) {
      out.push({
        step: 'external-auth',
        url: external.url,
        method: external.method,
        signin: external.signin ?? null,
        verdict: external.deny !== undefined ? `refuse (503): ${external.deny}` : 'asks the auth service',
      });
    }
    return out;
  }

  #chainOf(match: RouteMatch): readonly Step[] | null {
    let steps = this.#chains.get(match);
    if (steps === undefined) {
      steps = this.#compile(match);
      this.#chains.set(match, steps);
    }
    return steps;
  }

  #compile(match: RouteMatch): readonly Step[] | null {
    const policy: RoutePolicy = match.policy;
    if (match.kind === 'not-found') return null;
    const steps: Step[] = [];
    const ip = policy.ipAccess;
    if (ip !== undefined) steps.push(this.#ipStep(ip, match));
    const limit = policy.rateLimit;
    if (limit !== undefined && this.#services.limits !== undefined) {
      const zone =
        limit.scope === 'path' && match.route !== undefined
          ? `${match.ingress ?? ''}\u0000${match.route.host}\u0000${match.route.path}\u0000${match.route.pathType}`
          : `${match.ingress ?? ''}`;
      const limiter = this.#services.limits.limiterFor(zone, limit);
      this.#liveLimiters.add(limiter);
      this.#limiterOf.set(match, limiter);
      steps.push(...this.#limitSteps(limit, limiter, match));
    }
    if (policy.basicAuth !== undefined) steps.push(this.#basicStep(policy.basicAuth, match));
    if (policy.externalAuth !== undefined) steps.push(this.#externalStep(policy.externalAuth, match));
    return steps.length === 0 ? null : steps;
  }

  #ipStep(lists: NonNullable<RoutePolicy['ipAccess']>, match: RouteMatch): Step {
    let filter = this.#ipFilters.get(lists);
    if (filter === undefined) {
      filter = compileIpFilter(lists);
      this.#ipFilters.set(lists, filter);
    }
    const compiled = filter;
    const observer = this.#services.observer;
    return (state) => {
      if (compiled.check(state.client) === 'allow') return undefined;
      observer?.denied?.('ip', match);
      return {
        status: 403,
        code: 'PORTICO_ERR_IP_DENIED',
        body: `403 Forbidden — client address ${state.client} is not allowed on this route\n`,
        headers: [],
      };
    };
  }

  #limitSteps(config: RateLimitConfig, limiter: ZoneLimiter, match: RouteMatch): Step[] {
    const observer = this.#services.observer;
    const logger = this.#services.logger;
    const exempt =
      config.allowlist !== undefined && config.allowlist.length > 0
        ? compileIpFilter({ allow: config.allowlist })
        : undefined;
    const isExempt = (state: RunState): boolean =>
      exempt !== undefined && exempt.check(state.client) === 'allow';
    const steps: Step[] = [];
    const connections = config.connections;
    if (connections !== undefined) {
      steps.push((state) => {
        if (isExempt(state)) return undefined;
        const key = limitKey(config, state);
        if (limiter.acquire(key)) {
          let released = false;
          state.release = () => {
            if (released) return;
            released = true;
            limiter.release(key);
          };
          return undefined;
        }
        if (config.dryRun) {
          observer?.dryRun?.('connections', match);
          logger.info(
            { ingress: match.ingress, requestId: state.r.requestId, limit: connections },
            'dry run: connection limit would refuse this request',
          );
          return undefined;
        }
        observer?.denied?.('connections', match);
        const status = config.status ?? (config.dialect === 'nginx' ? state.r.limitStatus.connection : 429);
        return {
          status,
          code: 'PORTICO_ERR_CONNECTION_LIMITED',
          body: text(status, `more than ${connections} concurrent requests for this client on this route`),
          headers: [],
        };
      });
    }
    if (config.buckets.length > 0) {
      const decide = (state: RunState, outcome: LimitOutcome): Refusal | undefined => {
        if (outcome.allowed) {
          if (!config.dryRun) state.addResponseHeaders(rateLimitHeaders(outcome, config));
          return undefined;
        }
        if (config.dryRun) {
          observer?.dryRun?.('rate', match);
          logger.info(
            { ingress: match.ingress, requestId: state.r.requestId, store: outcome.store },
            'dry run: rate limit would refuse this request',
          );
          return undefined;
        }
        observer?.denied?.('rate', match);
        const status = config.status ?? (config.dialect === 'nginx' ? state.r.limitStatus.request : 429);
        return {
          status,
          code: 'PORTICO_ERR_RATE_LIMITED',
          body: text(status, 'rate limit exceeded; retry later'),
          headers: rateLimitHeaders(outcome, config),
        };
      };
      steps.push((state) => {
        if (isExempt(state)) return undefined;
        const outcome = limiter.consume(limitKey(config, state));
        return outcome instanceof Promise ? outcome.then((o) => decide(state, o)) : decide(state, outcome);
      });
    }
    return steps;
  }

  #basicStep(auth: NonNullable<RoutePolicy['basicAuth']>, match: RouteMatch): Step {
    const observer = this.#services.observer;
    const key = authSecretKey(auth);
    const unauthorized: Refusal = {
      status: 401,
      code: 'PORTICO_ERR_UNAUTHORIZED',
      body: UNAUTHORIZED_BODY,
      headers: ['www-authenticate', challenge(auth.realm)],
    };
    return (state) => {
      const check = key === undefined ? undefined : this.#authSecrets.get(key);
      if (auth.deny !== undefined || check === undefined || !check.ok) {
        const why =
          auth.deny ??
          (check === undefined
            ? `Secret ${auth.secret?.namespace}/${auth.secret?.name} is not loaded`
            : check.ok
              ? ''
              : `Secret ${auth.secret?.namespace}/${auth.secret?.name}: ${check.reason}`);
        return {
          status: 503,
          code: 'PORTICO_ERR_AUTH_CONFIG',
          body: `503 Service Unavailable — Basic authentication is configured but unusable: ${why}\n`,
          headers: [],
        };
      }
      const authenticator = this.#authenticators.get(check.fingerprint);
      if (authenticator === undefined) {
        return {
          status: 503,
          code: 'PORTICO_ERR_AUTH_CONFIG',
          body: text(503, 'users not loaded'),
          headers: [],
        };
      }
      const decide = (result: BasicAuthResult): Refusal | undefined => {
        if (!result.ok) {
          observer?.denied?.('basic', match);
          return unauthorized;
        }
        if (!auth.passCredentials) state.stripAuthorization = true;
        return undefined;
      };
      const header = headerValue(state.r.req, 'authorization') || undefined;
      // Verified credentials are answered synchronously; only a hash check (bcrypt) is awaited.
      const cached = authenticator.verifyCached(header);
      return cached !== undefined ? decide(cached) : authenticator.verify(header).then(decide);
    };
  }

  #externalStep(policy: ExternalAuthPolicy, match: RouteMatch): Step {
    const observer = this.#services.observer;
    const client = this.#services.externalAuth;
    return (state) => {
      if (policy.deny !== undefined || client === undefined) {
        return {
          status: 503,
          code: 'PORTICO_ERR_AUTH_CONFIG',
          body: `503 Service Unavailable — external authentication is configured but unusable: ${policy.deny ?? 'no auth client'}\n`,
          headers: [],
        };
      }
      const req = state.r.req;
      // nginx's $http_host: the Host as the client sent it, port included (h2: :authority).
      const rawHost = headerValue(req, 'host') || headerValue(req, ':authority') || state.r.host;
      return client
        .check({
          policy,
          rawHeaders: req.rawHeaders,
          method: req.method ?? 'GET',
          url: req.url ?? '/',
          host: rawHost,
          proto: state.r.proto,
          clientAddress: state.client,
          requestId: state.r.requestId,
          // One cache key space per Ingress, as nginx has one per location.
          cacheScope: match.ingress ?? '',
        })
        .then((verdict): Refusal | undefined => {
          if (verdict.kind === 'allow') {
            state.removeUpstream = verdict.removeUpstream;
            if (verdict.upstreamHeaders.length > 0) {
              state.upstreamHeaders = [...(state.upstreamHeaders ?? []), ...verdict.upstreamHeaders];
            }
            if (verdict.responseHeaders.length > 0) {
              state.headersForStatus = (status) => responseHeadersFor(verdict, status);
            }
            return undefined;
          }
          observer?.denied?.('external', match);
          return {
            status: verdict.status,
            code: 'PORTICO_ERR_EXTERNAL_AUTH',
            body: verdict.body,
            headers: verdict.headers,
          };
        });
    };
  }
}

function finish(state: RunState, refusal: Refusal | undefined): PolicyResult {
  if (refusal !== undefined) return { pass: false, ...refusal, release: state.release };
  if (
    state.responseHeaders === undefined &&
    state.upstreamHeaders === undefined &&
    state.removeUpstream === undefined &&
    state.headersForStatus === undefined &&
    !state.stripAuthorization &&
    state.release === undefined
  ) {
    return PLAIN_PASS;
  }
  return {
    pass: true,
    responseHeaders: state.responseHeaders,
    upstreamHeaders: state.upstreamHeaders,
    removeUpstream: state.removeUpstream,
    headersForStatus: state.headersForStatus,
    stripAuthorization: state.stripAuthorization,
    release: state.release,
  };
}

function runFrom(
  steps: readonly Step[],
  from: number,
  state: RunState,
): PolicyResult | Promise<PolicyResult> {
  for (let i = from; i < steps.length; i++) {
    const out = (steps[i] as Step)(state);
    if (out instanceof Promise) {
      return out.then(
        (refusal) => (refusal !== undefined ? finish(state, refusal) : runFrom(steps, i + 1, state)),
        (err: unknown) => {
          // A step must never reject; if one does, the route fails closed, never open.
          state.release?.();
          throw err;
        },
      );
    }
    if (out !== undefined) return finish(state, out);
  }
  return finish(state, undefined);
}

/**
 * `applyToUpstream` edits the upstream header list (flat `[name, value, …]`) as the policies said:
 * `Authorization` removed, and the external auth's headers set (replacing any the client sent).
 */
export function applyToUpstream(headers: string[], pass: PolicyPass): string[] {
  if (!pass.stripAuthorization && pass.upstreamHeaders === undefined && pass.removeUpstream === undefined) {
    return headers;
  }
  const replaced = new Set<string>(pass.removeUpstream);
  if (pass.stripAuthorization) replaced.add('authorization');
  const extra = pass.upstreamHeaders ?? [];
  for (let i = 0; i < extra.length; i += 2) replaced.add((extra[i] as string).toLowerCase());
  const out: string[] = [];
  for (let i = 0; i + 1 < headers.length; i += 2) {
    const name = headers[i] as string;
    if (replaced.has(name.toLowerCase())) continue;
    out.push(name, headers[i + 1] as string);
  }
  out.push(...extra);
  return out;
}

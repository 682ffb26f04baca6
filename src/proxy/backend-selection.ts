/**
 * `backend-selection` is the step between routing and endpoint choice for routes with a canary,
 * session affinity or a load-balancing annotation: it picks the backend (main or canary,
 * `canary.ts`) and returns how its first endpoint is chosen (`Balancing`). Routes with none of
 * these never reach it (`needsSelection` is three field reads), so plain routes allocate nothing.
 */
import type { IncomingMessage } from 'node:http';
import type { RouteMatch } from '../compile/types.js';
import type { TemplatePart } from '../model/annotations/external-auth.js';
import { parseHashTemplate } from '../model/annotations/load-balance.js';
import type { BackendRef, CanaryRule, LoadBalancePolicy, RoutePolicy } from '../model/types.js';
import { AffinitySession, cookieValue } from './affinity.js';
import { type BalancerStrategy, consistentHash, ewma, fnv1a32, hashSubset, observeEwma } from './balancer.js';
import { type CanaryAffinity, routeToCanary } from './canary.js';
import { peerAddress } from './forwarded-headers.js';
import type { BackendUpstreams, Upstream, UpstreamRegistry } from './upstreams.js';

/**
 * `Balancing` chooses the first endpoint of one request and hears how it went. Retries still take
 * the next endpoint in order (`attemptIndex`).
 */
export interface Balancing {
  first(set: BackendUpstreams): number;
  /** Response headers for the answer `upstream` gave (the affinity cookie), if any. */
  responseHeaders?(set: BackendUpstreams, upstream: Upstream): readonly string[] | undefined;
  /** The upstream answered completely after `ms` (EWMA feedback). */
  observe?(set: BackendUpstreams, upstream: Upstream, ms: number): void;
}

/** `needsSelection` says whether a match goes through `selectBackend`. */
export function needsSelection(match: RouteMatch): boolean {
  const policy = match.policy;
  return (
    match.route?.canary !== undefined || policy.affinity !== undefined || policy.loadBalance !== undefined
  );
}

/** `SelectionContext` is what selection needs from resolution. */
export interface SelectionContext {
  readonly upstreams: UpstreamRegistry;
  readonly proto: 'http' | 'https';
  /** The normalised request host and path (`$host`, `$uri`). */
  readonly host: string;
  readonly path: string;
  readonly random?: () => number;
}

/** `Selection` is the backend a request goes to and how its endpoint is chosen. */
export interface Selection {
  readonly backend: BackendUpstreams;
  /** The backend reference chosen (the canary's when the canary serves). */
  readonly ref: BackendRef;
  readonly canary: boolean;
  readonly balancing?: Balancing;
}

// backendVia caches the transport per route object with a `policy`; a canary needs its own key.
const canaryRoutes = new WeakMap<CanaryRule, { readonly policy: RoutePolicy }>();

function canaryUpstreams(
  rule: CanaryRule,
  match: RouteMatch,
  upstreams: UpstreamRegistry,
): BackendUpstreams | undefined {
  const ref = rule.backend;
  if (ref.problem !== undefined || ref.target === undefined) return undefined;
  const policy = rule.policy ?? match.policy;
  let set: BackendUpstreams | string | undefined;
  if (policy.backendProtocol === 'HTTP') set = upstreams.backend(ref.key);
  else {
    let key = canaryRoutes.get(rule);
    if (key === undefined) {
      key = { policy };
      canaryRoutes.set(rule, key);
    }
    set = upstreams.backendVia(key, ref);
  }
  return typeof set === 'object' && set.upstreams.length > 0 ? set : undefined;
}

/**
 * `selectBackend` picks main or canary for a routed request whose main backend has endpoints
 * (`main`), as ingress-nginx: a canary without usable endpoints leaves every request on main.
 */
export function selectBackend(
  req: IncomingMessage,
  match: RouteMatch,
  main: BackendUpstreams,
  ctx: SelectionContext,
): Selection {
  const mainRef = match.backend as BackendRef;
  let policy = match.policy;
  let set = main;
  let ref = mainRef;
  let canary = false;
  const rule = match.route?.canary;
  if (rule !== undefined) {
    const canarySet = canaryUpstreams(rule, match, ctx.upstreams);
    if (canarySet !== undefined && routeToCanary(req, rule, affinityOf(match, rule), ctx.random)) {
      policy = rule.policy ?? policy;
      set = canarySet;
      ref = rule.backend;
      canary = true;
    }
  }
  const balancing = balancingFor(req, match, policy, set, ctx);
  return balancing === undefined ? { backend: set, ref, canary } : { backend: set, ref, canary, balancing };
}

function balancingFor(
  req: IncomingMessage,
  match: RouteMatch,
  policy: RoutePolicy,
  set: BackendUpstreams,
  ctx: SelectionContext,
): Balancing | undefined {
  const affinity = policy.affinity;
  if (affinity !== undefined) {
    const route = match.route;
    return new AffinitySession(
      affinity,
      set.backendKey,
      cookieValue(req.headers.cookie, affinity.cookieName),
      {
        https: ctx.proto === 'https',
        userAgent: req.headers['user-agent'] ?? '',
        // Regex locations have no literal path to scope a cookie to (ingress-nginx asks for -path).
        routePath: route === undefined || route.regex !== undefined ? '/' : route.path,
        now: Date.now(),
      },
      ctx.random,
    );
  }
  const lb = policy.loadBalance;
  if (lb === undefined || lb.kind === 'round_robin') return undefined;
  if (lb.kind === 'ewma') return EWMA_BALANCING;
  return new HashBalancing(
    fnv1a32(expandHashKey(lb, req, ctx)),
    lb.subset === undefined ? consistentHash : subsetStrategy(lb.subset.size),
  );
}

/** `HashBalancing` places one request by its `upstream-hash-by` key. */
class HashBalancing implements Balancing {
  readonly #keyHash: number;
  readonly #strategy: BalancerStrategy;

  constructor(keyHash: number, strategy: BalancerStrategy) {
    this.#keyHash = keyHash;
    this.#strategy = strategy;
  }

  first(s: BackendUpstreams): number {
    return this.#strategy.first(s.balancer, s.upstreams.length, {
      clientAddress: '',
      path: '',
      endpoints: s.upstreams,
      keyHash: this.#keyHash,
    });
  }
}

const ewmaStrategy = ewma();

/** One object for every EWMA request: the state lives in the backend's `BalancerState`. */
const EWMA_BALANCING: Balancing = {
  first: (s) =>
    ewmaStrategy.first(s.balancer, s.upstreams.length, {
      clientAddress: '',
      path: '',
      endpoints: s.upstreams,
    }),
  observe: (s, upstream, ms) => observeEwma(s.balancer, upstream.key, ms, s.upstreams.length),
};

const subsets = new Map<number, BalancerStrategy>();

function subsetStrategy(size: number): BalancerStrategy {
  let s = subsets.get(size);
  if (s === undefined) {
    s = hashSubset(size);
    subsets.set(size, s);
  }
  return s;
}

const templates = new WeakMap<LoadBalancePolicy, readonly TemplatePart[]>();

function templateOf(lb: LoadBalancePolicy & { kind: 'hash' }): readonly TemplatePart[] {
  let parts = templates.get(lb);
  if (parts === undefined) {
    const parsed = parseHashTemplate(lb.key);
    // Translation validated the template; a hand-built model with a bad one hashes its text.
    parts = parsed.ok ? parsed.value : [{ kind: 'text', text: lb.key }];
    templates.set(lb, parts);
  }
  return parts;
}

/** `expandHashKey` expands an `upstream-hash-by` template for one request (data only, no code). */
export function expandHashKey(
  lb: LoadBalancePolicy & { kind: 'hash' },
  req: IncomingMessage,
  ctx: Pick<SelectionContext, 'proto' | 'host' | 'path'>,
): string {
  let out = '';
  for (const part of templateOf(lb)) out += part.kind === 'text' ? part.text : variable(part.name, req, ctx);
  return out;
}

function variable(
  name: string,
  req: IncomingMessage,
  ctx: Pick<SelectionContext, 'proto' | 'host' | 'path'>,
): string {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  switch (name) {
    case 'request_uri':
      return url;
    case 'uri':
      return ctx.path;
    case 'args':
    case 'query_string':
      return q === -1 ? '' : url.slice(q + 1);
    case 'remote_addr':
    case 'binary_remote_addr':
      return peerAddress(req.socket);
    case 'host':
      return ctx.host;
    case 'scheme':
      return ctx.proto;
    case 'request_method':
      return req.method ?? '';
  }
  if (name.startsWith('http_')) {
    const v = req.headers[name.slice(5).replaceAll('_', '-').toLowerCase()];
    return v === undefined ? '' : typeof v === 'string' ? v : v.join(', ');
  }
  if (name.startsWith('cookie_')) return cookieValue(req.headers.cookie, name.slice(7)) ?? '';
  if (name.startsWith('arg_')) return q === -1 ? '' : argValue(url.slice(q + 1), name.slice(4));
  return '';
}

/** nginx's `$arg_<name>`: the first `name=value` of the query, raw (not percent-decoded). */
function argValue(query: string, name: string): string {
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=');
    const key = eq === -1 ? pair : pair.slice(0, eq);
    if (key.toLowerCase() === name.toLowerCase()) return eq === -1 ? '' : pair.slice(eq + 1);
  }
  return '';
}

/** `SelectionStep` is one `/explain` step about backend selection (a `PolicyExplanation`). */
export type SelectionStep = { readonly step: string; readonly verdict: string } & Readonly<
  Record<string, string>
>;

/**
 * `explainSelection` says, for `/explain`, how a route picks its backend and endpoint for a
 * request with these headers (names lowercase). The canary verdict is exact when a header or
 * cookie decides; when the weight decides it gives the share.
 */
export function explainSelection(
  match: RouteMatch,
  headers: Readonly<Record<string, string>>,
): SelectionStep[] {
  const steps: SelectionStep[] = [];
  const rule = match.route?.canary;
  if (rule !== undefined) {
    const req = { headers, url: '/', method: 'GET', socket: {} } as unknown as IncomingMessage;
    const target = `canary ${rule.backend.key} (Ingress ${rule.ingress})`;
    const main = `main backend ${match.backend?.key ?? '?'}`;
    const always = routeToCanary(req, rule, affinityOf(match, rule), () => 0);
    const never = routeToCanary(req, rule, affinityOf(match, rule), () => 0.999_999_999);
    const verdict =
      always === never
        ? always
          ? target
          : main
        : `${target} for ${((100 * rule.weight) / rule.weightTotal).toFixed(1)} % of such requests (weight ${rule.weight} of ${rule.weightTotal}), else ${main}`;
    steps.push({ step: 'canary', verdict });
  }
  const policy = match.policy;
  if (policy.affinity !== undefined) {
    const a = policy.affinity;
    steps.push({
      step: 'affinity',
      verdict: `cookie ${a.cookieName} (${a.mode})${cookieValue(headers['cookie'], a.cookieName) === undefined ? ': a new session is pinned and the cookie set' : ': the cookie picks the endpoint while it is ready'}`,
    });
  } else if (policy.loadBalance !== undefined) {
    const lb = policy.loadBalance;
    steps.push({
      step: 'load-balance',
      verdict:
        lb.kind === 'hash'
          ? `consistent hash of ${lb.key}${lb.subset !== undefined ? ` over groups of ${lb.subset.size}` : ''}`
          : lb.kind,
    });
  }
  return steps;
}

const canaryAffinities = new WeakMap<CanaryRule, CanaryAffinity>();

/** `affinityOf` is the affinity cookies a canary decision checks, once per rule (rules are per snapshot). */
function affinityOf(match: RouteMatch, rule: CanaryRule): CanaryAffinity {
  let affinity = canaryAffinities.get(rule);
  if (affinity === undefined) {
    const mainCookie = match.policy.affinity?.cookieName;
    const canaryCookie = rule.policy?.affinity?.cookieName;
    affinity = {
      mainBackendKey: match.backend?.key ?? '',
      ...(mainCookie !== undefined ? { mainCookie } : {}),
      ...(canaryCookie !== undefined ? { canaryCookie } : {}),
    };
    canaryAffinities.set(rule, affinity);
  }
  return affinity;
}

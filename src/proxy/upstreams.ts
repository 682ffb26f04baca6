/**
 * `upstreams` owns every upstream connection pool of the data plane (DESIGN §6: no global
 * dispatcher, no `fetch`): one pool per endpoint `address:port` and transport, reconciled whenever
 * the endpoint table, the ExternalName targets, the routes' `backend-protocol` policies or the CA
 * bundles change. Plain HTTP/1.1 pools are keyed by the endpoint alone and exist for every backend
 * key (the hot path: one Map lookup); pools for HTTPS (undici over TLS) and GRPC/GRPCS/H2C
 * (`H2Upstream`) exist for the (backend key, transport) pairs routes use. A removed endpoint's pool is closed gracefully (in-flight
 * requests finish, then its sockets close); a request that picked it just before removal gets
 * UND_ERR_CLOSED, which the error table classes as "nothing sent", so it is retried elsewhere.
 */
import { checkServerIdentity } from 'node:tls';
import { buildConnector, type Dispatcher, Pool } from 'undici';
import type { UpstreamOptions } from '../config/types.js';
import type { EndpointTable, UpstreamEndpoint } from '../endpoints/types.js';
import type { Logger } from '../log/logger.js';
import type { BackendRef, RoutePolicy, RoutingModel } from '../model/types.js';
import type { CaBundleCheck } from '../tls/ca-bundles.js';
import { type BalancerState, newBalancerState } from './balancer.js';
import { H2Upstream, type UpstreamHandler } from './h2-upstream.js';
import {
  chooseTransport,
  type TransportChoice,
  type UpstreamTls,
  type UpstreamTransport,
} from './upstream-transport.js';

/**
 * `UpstreamDispatcher` is what `forward.ts` needs from an endpoint's client: an undici `Pool`
 * (HTTP/1.1, cleartext or TLS) or an `H2Upstream` (HTTP/2: GRPC, GRPCS, H2C).
 */
export interface UpstreamDispatcher {
  dispatch(
    options: Dispatcher.DispatchOptions,
    handler: Dispatcher.DispatchHandler & UpstreamHandler,
  ): boolean;
  close(): Promise<void>;
  destroy(): Promise<void>;
  readonly closed: boolean;
}

/** `Upstream` is one endpoint with its connection pool. */
export interface Upstream {
  /** `address:port`, IPv6 bracketed (`[fd00::1]:8080`). */
  readonly key: string;
  /** `http://address:port` (`https://` over TLS), for logs. */
  readonly origin: string;
  readonly endpoint: UpstreamEndpoint;
  readonly pool: UpstreamDispatcher;
  /** Absent for plain HTTP/1.1. */
  readonly transport?: UpstreamTransport;
  /** The connect timeout the pool was created with; shorter route timeouts are timers (forward.ts). */
  readonly connectTimeoutMs?: number;
  /**
   * For HTTPS pools: a constant per pool, passed as undici's per-request `servername`. undici
   * would otherwise derive it from each request's Host header and reconnect whenever it changes;
   * the connector below ignores it and sends the transport's SNI (or none).
   */
  readonly servername?: string;
}

/** `BackendUpstreams` is the resolved endpoint set of one backend key, immutable once built. */
export interface BackendUpstreams {
  readonly backendKey: string;
  /** The transport's key; absent for plain HTTP/1.1. */
  readonly transportKey?: string;
  readonly upstreams: readonly Upstream[];
  readonly balancer: BalancerState;
}

/** `TransportUse` is one (backend key, transport) pair the routing model needs pools for. */
export interface TransportUse {
  readonly backendKey: string;
  readonly transport: UpstreamTransport;
}

/**
 * `transportUses` lists the non-HTTP transports the routes of a model need, per backend key.
 * Routes whose policy is denied, or whose CA bundle is unusable, need none (they answer 503).
 */
export function transportUses(
  model: RoutingModel,
  caBundles: ReadonlyMap<string, CaBundleCheck> | undefined,
): Map<string, TransportUse> {
  const out = new Map<string, TransportUse>();
  const visit = (backend: BackendRef, policy: RoutePolicy | undefined): void => {
    if (policy === undefined || policy.backendProtocol === 'HTTP' || policy.deny !== undefined) return;
    const choice = chooseTransport(policy, backend, caBundles);
    if (choice === undefined || !choice.ok) return;
    out.set(`${choice.transport.key}\u0000${backend.key}`, {
      backendKey: backend.key,
      transport: choice.transport,
    });
  };
  for (const route of model.routes) {
    visit(route.backend, route.policy);
    if (route.canary !== undefined) visit(route.canary.backend, route.canary.policy ?? route.policy);
  }
  for (const binding of model.hostDefaults.values()) visit(binding.backend, binding.policy);
  if (model.catchAll !== undefined) visit(model.catchAll.backend, model.catchAll.policy);
  return out;
}

/** `longestRouteConnectTimeout` is the longest `proxy-connect-timeout` of a model's routes (0: none). */
export function longestRouteConnectTimeout(model: RoutingModel): number {
  let longest = 0;
  const visit = (policy: RoutePolicy | undefined): void => {
    const ms = policy?.upstream?.connectTimeoutMs;
    if (ms !== undefined && ms > longest) longest = ms;
  };
  for (const route of model.routes) visit(route.policy);
  for (const binding of model.hostDefaults.values()) visit(binding.policy);
  if (model.catchAll !== undefined) visit(model.catchAll.policy);
  return longest;
}

/** `endpointKey` renders an endpoint as `address:port`, bracketing IPv6 addresses. */
export function endpointKey(endpoint: UpstreamEndpoint): string {
  const address =
    endpoint.kind === 'ip' && endpoint.address.includes(':') ? `[${endpoint.address}]` : endpoint.address;
  return `${address}:${endpoint.port}`;
}

/**
 * `externalTargets` collects the ExternalName backends of a model, keyed by backend key, so
 * they get pools even when the endpoint table (built from EndpointSlices) has no entry for them.
 */
export function externalTargets(model: RoutingModel): Map<string, UpstreamEndpoint> {
  const out = new Map<string, UpstreamEndpoint>();
  const visit = (backend: RoutingModel['routes'][number]['backend']): void => {
    const target = backend.target;
    if (target?.kind === 'external-name' && backend.problem === undefined) {
      out.set(backend.key, { address: target.hostname, port: target.port, kind: 'dns' });
    }
  };
  for (const route of model.routes) {
    visit(route.backend);
    if (route.canary !== undefined) visit(route.canary.backend);
    if (route.policy?.customErrors?.backend !== undefined) visit(route.policy.customErrors.backend);
  }
  for (const binding of model.hostDefaults.values()) visit(binding.backend);
  if (model.catchAll !== undefined) visit(model.catchAll.backend);
  return out;
}

/** `UpstreamStats` is for `/routes`, tests and leak checks. */
export interface UpstreamStats {
  readonly pools: number;
  readonly closing: number;
  readonly backends: number;
}

/** `poolKey` keys the pool of one endpoint for one transport (plain HTTP: the endpoint key alone). */
export function poolKey(transport: UpstreamTransport | undefined, endpoint: string): string {
  return transport === undefined ? endpoint : `${transport.key}\u0000${endpoint}`;
}

/**
 * `tlsConnector` is an undici connector with exactly the transport's TLS settings. undici's own
 * would send the origin host (or each request's Host header) as SNI when the transport says none,
 * and verify the certificate against the address instead of `proxy-ssl-name`.
 */
function tlsConnector(tls: UpstreamTls, timeoutMs: number): buildConnector.connector {
  const inner = buildConnector({
    timeout: timeoutMs,
    rejectUnauthorized: tls.verify,
    ...(tls.ca !== undefined ? { ca: tls.ca.pem } : {}),
    ...(tls.sni !== undefined ? { servername: tls.sni } : {}),
    checkServerIdentity: (_host, cert) => checkServerIdentity(tls.checkName, cert),
  });
  // An empty servername and host make undici fall back to the options' servername (SNI) or none.
  return (options, callback) => inner({ ...options, servername: '', host: '' }, callback);
}

/** `UpstreamRegistry` keeps the pools in line with the published endpoints and routes. */
export class UpstreamRegistry {
  #options: UpstreamOptions;
  readonly #logger: Logger;
  /** Pool key (`poolKey`) → upstream. */
  readonly #pools = new Map<string, Upstream>();
  readonly #closing = new Set<UpstreamDispatcher>();
  #table: EndpointTable = new Map();
  #external: ReadonlyMap<string, UpstreamEndpoint> = new Map();
  #externalSignature = '';
  /**
   * Backend key → endpoint set (plain HTTP). Replaced whole by a full reconcile, updated entry by
   * entry by an incremental one; either way each entry is immutable, and a request keeps the
   * entry it read.
   */
  #backends = new Map<string, BackendUpstreams>();
  /** Transport key → backend key → endpoint set, for the transports the routes use. */
  #viaTransport = new Map<string, Map<string, BackendUpstreams>>();
  #model: RoutingModel | undefined;
  #caBundles: ReadonlyMap<string, CaBundleCheck> | undefined;
  /** Backend key → the non-HTTP transports routes use it with. */
  #uses = new Map<string, UpstreamTransport[]>();
  #usesSignature = '';
  /**
   * Route answer (`RouteMatch`, prebuilt by compile) → its transport under the current CA table:
   * computed on a route's first request, then one WeakMap lookup. Reset when CA bundles change.
   */
  #choices = new WeakMap<object, TransportChoice>();
  /** How many endpoint sets use each pool (pool key): a pool closes when nobody does. */
  #refs = new Map<string, number>();
  #closed = false;
  /** The longest `proxy-connect-timeout` a route asks for (0: none); pools use at least this. */
  #routeConnectMs = 0;

  constructor(options: UpstreamOptions, logger: Logger) {
    this.#options = options;
    this.#logger = logger;
  }

  /** `backend` returns the plain-HTTP endpoint set of a backend key; read once per request (hot path). */
  backend(backendKey: string): BackendUpstreams | undefined {
    return this.#backends.get(backendKey);
  }

  /**
   * `backendVia` is `backend` for a route whose policy is not plain HTTP: the endpoint set of the
   * route's transport, or a string saying why the route must answer 503 (unusable CA bundle).
   * `route` is the route's prebuilt answer, the cache key of its transport.
   */
  backendVia(
    route: { readonly policy: RoutePolicy },
    backend: BackendRef,
  ): BackendUpstreams | string | undefined {
    let choice = this.#choices.get(route);
    if (choice === undefined) {
      choice = chooseTransport(route.policy, backend, this.#caBundles);
      if (choice === undefined) return this.#backends.get(backend.key);
      this.#choices.set(route, choice);
    }
    if (!choice.ok) return choice.reason;
    return this.#viaTransport.get(choice.transport.key)?.get(backend.key);
  }

  /** `current` returns the live endpoint set of a backend key over a transport (absent: plain HTTP). */
  current(backendKey: string, transportKey: string | undefined): BackendUpstreams | undefined {
    return transportKey === undefined
      ? this.#backends.get(backendKey)
      : this.#viaTransport.get(transportKey)?.get(backendKey);
  }

  /** `endpointTable` is the table last published (for `/routes`). */
  get endpointTable(): EndpointTable {
    return this.#table;
  }

  /** `setEndpoints` replaces the endpoint table and reconciles pools. */
  setEndpoints(table: EndpointTable): void {
    const previous = this.#table;
    this.#table = table;
    // ExternalName targets merge into the table's sets; that rare case keeps the full pass.
    if (this.#external.size > 0 || !this.#applyChangedKeys(previous, table)) this.#reconcile();
  }

  /**
   * `setRoutes` takes a new routing model: ExternalName targets get pools, and so does every
   * (backend, transport) pair its routes' `backend-protocol` policies need.
   */
  setRoutes(model: RoutingModel): void {
    this.#model = model;
    const before = this.#poolConnectMs();
    this.#routeConnectMs = longestRouteConnectTimeout(model);
    if (this.#poolConnectMs() !== before) this.#recreatePools();
    const external = this.#setExternal(externalTargets(model));
    const uses = this.#setUses();
    if (external || uses) this.#reconcile();
  }

  /** The connect timeout pools are created with: the global one, or a longer one a route asks for. */
  #poolConnectMs(): number {
    return Math.max(this.#options.connectTimeoutMs, this.#routeConnectMs);
  }

  /** `setCaBundles` takes the CA bundles of the TLS table (`proxy-ssl-secret`). */
  setCaBundles(caBundles: ReadonlyMap<string, CaBundleCheck> | undefined): void {
    if (caBundles === this.#caBundles) return;
    this.#caBundles = caBundles;
    this.#choices = new WeakMap();
    if (this.#setUses()) this.#reconcile();
  }

  /** `setExternalTargets` replaces the ExternalName targets; a no-op when they did not change. */
  setExternalTargets(targets: ReadonlyMap<string, UpstreamEndpoint>): void {
    if (this.#setExternal(targets)) this.#reconcile();
  }

  #setExternal(targets: ReadonlyMap<string, UpstreamEndpoint>): boolean {
    const signature = [...targets].map(([k, e]) => `${k}=${endpointKey(e)}`).join('\n');
    if (signature === this.#externalSignature) return false;
    this.#external = targets;
    this.#externalSignature = signature;
    return true;
  }

  #setUses(): boolean {
    const uses = this.#model === undefined ? new Map() : transportUses(this.#model, this.#caBundles);
    const signature = [...uses.keys()].sort().join('\n');
    if (signature === this.#usesSignature) return false;
    this.#usesSignature = signature;
    const byBackend = new Map<string, UpstreamTransport[]>();
    for (const use of uses.values()) {
      const list = byBackend.get(use.backendKey);
      if (list === undefined) byBackend.set(use.backendKey, [use.transport]);
      else list.push(use.transport);
    }
    this.#uses = byBackend;
    return true;
  }

  /**
   * `#applyChangedKeys` updates only the backend keys whose endpoint array changed (by identity:
   * the controller reuses the arrays of untouched keys). One EndpointSlice change at 10,000
   * Ingresses then costs a few pointer comparisons per key instead of rebuilding every set: the
   * full pass took 14 % of CPU and a good part of the 18 % GC during 100 sequential changes
   * (bench/endpoint-latency.ts). Returns false when a full pass is the better deal.
   */
  #applyChangedKeys(previous: EndpointTable, table: EndpointTable): boolean {
    if (this.#closed) return true;
    const changed: string[] = [];
    for (const [key, endpoints] of table) if (previous.get(key) !== endpoints) changed.push(key);
    for (const key of previous.keys()) if (!table.has(key)) changed.push(key);
    if (changed.length > 64 && changed.length * 4 > table.size) return false;
    for (const backendKey of changed) {
      const before = previous.get(backendKey) ?? [];
      const after = table.get(backendKey) ?? [];
      this.#updateSet(backendKey, undefined, before, after);
      const transports = this.#uses.get(backendKey);
      if (transports !== undefined) {
        for (const transport of transports) this.#updateSet(backendKey, transport, before, after);
      }
    }
    return true;
  }

  #updateSet(
    backendKey: string,
    transport: UpstreamTransport | undefined,
    before: readonly UpstreamEndpoint[],
    after: readonly UpstreamEndpoint[],
  ): void {
    // Reference the new endpoints before releasing the old, so a shared pool is never churned.
    for (const endpoint of after) this.#ref(endpoint, transport);
    for (const endpoint of before) this.#unref(poolKey(transport, endpointKey(endpoint)));
    const sets = transport === undefined ? this.#backends : this.#transportSets(transport.key);
    if (after.length === 0) {
      sets.delete(backendKey);
      return;
    }
    sets.set(backendKey, this.#endpointSet(backendKey, transport, after, sets.get(backendKey)));
  }

  #transportSets(transportKey: string): Map<string, BackendUpstreams> {
    let sets = this.#viaTransport.get(transportKey);
    if (sets === undefined) {
      sets = new Map();
      this.#viaTransport.set(transportKey, sets);
    }
    return sets;
  }

  #endpointSet(
    backendKey: string,
    transport: UpstreamTransport | undefined,
    endpoints: readonly UpstreamEndpoint[],
    previous: BackendUpstreams | undefined,
  ): BackendUpstreams {
    const upstreams: Upstream[] = [];
    for (const endpoint of endpoints) {
      const upstream = this.#pools.get(poolKey(transport, endpointKey(endpoint)));
      if (upstream !== undefined) upstreams.push(upstream);
    }
    const balancer = previous?.balancer ?? newBalancerState();
    return transport === undefined
      ? { backendKey, upstreams, balancer }
      : { backendKey, transportKey: transport.key, upstreams, balancer };
  }

  #ref(endpoint: UpstreamEndpoint, transport: UpstreamTransport | undefined): void {
    const key = poolKey(transport, endpointKey(endpoint));
    const count = this.#refs.get(key) ?? 0;
    if (count === 0 && !this.#pools.has(key)) this.#pools.set(key, this.#createUpstream(endpoint, transport));
    this.#refs.set(key, count + 1);
  }

  #unref(key: string): void {
    const count = (this.#refs.get(key) ?? 0) - 1;
    if (count > 0) {
      this.#refs.set(key, count);
      return;
    }
    this.#refs.delete(key);
    const upstream = this.#pools.get(key);
    if (upstream === undefined) return;
    this.#pools.delete(key);
    this.#retire(upstream.pool);
  }

  /**
   * `setOptions` takes new upstream settings. Only the connect timeout lives in the pools (undici
   * has no per-request connect timeout), so a change of it re-creates every pool and drains the
   * old ones exactly as endpoint removal does: requests in flight finish on them, and a request
   * that read the old endpoint set just before the swap gets UND_ERR_CLOSED and re-reads the live
   * one. Read/send timeouts and tries are per request and need nothing here.
   */
  setOptions(options: UpstreamOptions): void {
    const before = this.#poolConnectMs();
    this.#options = options;
    if (this.#poolConnectMs() !== before) this.#recreatePools();
  }

  #recreatePools(): void {
    if (this.#closed) return;
    for (const [key, upstream] of this.#pools) {
      this.#pools.set(key, this.#createUpstream(upstream.endpoint, upstream.transport));
      this.#retire(upstream.pool);
    }
    this.#reconcile();
  }

  /** `connectTimeoutMs` is the connect timeout new pools get (tests). */
  get connectTimeoutMs(): number {
    return this.#poolConnectMs();
  }

  stats(): UpstreamStats {
    let backends = this.#backends.size;
    for (const sets of this.#viaTransport.values()) backends += sets.size;
    return { pools: this.#pools.size, closing: this.#closing.size, backends };
  }

  /** `closeAll` destroys every pool (open and closing) at the end of shutdown. */
  async closeAll(): Promise<void> {
    this.#closed = true;
    const all = [...this.#pools.values()].map((u) => u.pool);
    all.push(...this.#closing);
    this.#pools.clear();
    this.#closing.clear();
    this.#refs.clear();
    this.#backends = new Map();
    this.#viaTransport = new Map();
    await Promise.all(all.map((pool) => pool.destroy().catch(() => undefined)));
  }

  #reconcile(): void {
    if (this.#closed) return;
    const wanted = new Map<
      string,
      { endpoint: UpstreamEndpoint; transport: UpstreamTransport | undefined }
    >();
    const sets = new Map<string, readonly UpstreamEndpoint[]>();
    for (const [backendKey, endpoints] of this.#table) sets.set(backendKey, endpoints);
    for (const [backendKey, endpoint] of this.#external) {
      if (!sets.has(backendKey) || sets.get(backendKey)?.length === 0) sets.set(backendKey, [endpoint]);
    }
    const refs = new Map<string, number>();
    const want = (endpoint: UpstreamEndpoint, transport: UpstreamTransport | undefined): void => {
      const key = poolKey(transport, endpointKey(endpoint));
      wanted.set(key, { endpoint, transport });
      refs.set(key, (refs.get(key) ?? 0) + 1);
    };
    for (const [backendKey, endpoints] of sets) {
      const transports = this.#uses.get(backendKey) ?? [];
      for (const endpoint of endpoints) {
        want(endpoint, undefined);
        for (const transport of transports) want(endpoint, transport);
      }
    }
    this.#refs = refs;

    for (const [key, w] of wanted) {
      if (!this.#pools.has(key)) this.#pools.set(key, this.#createUpstream(w.endpoint, w.transport));
    }
    for (const [key, upstream] of this.#pools) {
      if (wanted.has(key)) continue;
      this.#pools.delete(key);
      this.#retire(upstream.pool);
    }

    const previous = this.#backends;
    const previousVia = this.#viaTransport;
    const backends = new Map<string, BackendUpstreams>();
    const via = new Map<string, Map<string, BackendUpstreams>>();
    for (const [backendKey, endpoints] of sets) {
      if (endpoints.length === 0) continue;
      backends.set(backendKey, this.#endpointSet(backendKey, undefined, endpoints, previous.get(backendKey)));
      for (const transport of this.#uses.get(backendKey) ?? []) {
        let forTransport = via.get(transport.key);
        if (forTransport === undefined) {
          forTransport = new Map();
          via.set(transport.key, forTransport);
        }
        const before = previousVia.get(transport.key)?.get(backendKey);
        forTransport.set(backendKey, this.#endpointSet(backendKey, transport, endpoints, before));
      }
    }
    // NOTE: one reference swap each; a request holds on to the BackendUpstreams it read.
    this.#backends = backends;
    this.#viaTransport = via;
  }

  #createUpstream(endpoint: UpstreamEndpoint, transport: UpstreamTransport | undefined): Upstream {
    const key = endpointKey(endpoint);
    const o = { ...this.#options, connectTimeoutMs: this.#poolConnectMs() };
    const tls = transport?.tls;
    const origin = `${tls === undefined ? 'http' : 'https'}://${key}`;
    if (transport?.h2 === true) {
      const pool = new H2Upstream({
        address: endpoint.address,
        port: endpoint.port,
        ...(tls !== undefined ? { tls } : {}),
        connectTimeoutMs: o.connectTimeoutMs,
        headersTimeoutMs: o.readTimeoutMs,
        bodyTimeoutMs: o.readTimeoutMs,
      });
      return { key, origin, endpoint, pool, transport, connectTimeoutMs: o.connectTimeoutMs };
    }
    const pool = new Pool(origin, {
      connect: tls === undefined ? { timeout: o.connectTimeoutMs } : tlsConnector(tls, o.connectTimeoutMs),
      // Defaults only: every dispatch sets its own (live) read timeout.
      headersTimeout: o.readTimeoutMs,
      bodyTimeout: o.readTimeoutMs,
      // Backends with large cookies: allow more than Node's 16 KiB default.
      maxHeaderSize: 64 * 1024,
    });
    // A pool emits 'connectionError' per failed connect; the request path logs those once per
    // request, so swallow the event here instead of letting it become noise.
    pool.on('connectionError', () => undefined);
    const connectTimeoutMs = o.connectTimeoutMs;
    if (transport === undefined) return { key, origin, endpoint, pool, connectTimeoutMs };
    return { key, origin, endpoint, pool, transport, servername: transport.key, connectTimeoutMs };
  }

  #retire(pool: UpstreamDispatcher): void {
    this.#closing.add(pool);
    pool
      .close()
      .catch((err: unknown) => this.#logger.warn({ err }, 'closing a removed upstream pool failed'))
      .finally(() => this.#closing.delete(pool));
  }
}

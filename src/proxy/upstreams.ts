/**
 * `upstreams` owns every undici `Pool` of the data plane (DESIGN §6: no global dispatcher, no
 * `fetch`): one pool per endpoint `address:port`, reconciled whenever the endpoint table or the
 * set of ExternalName targets changes. A removed endpoint's pool is closed gracefully (in-flight
 * requests finish, then its sockets close); a request that picked it just before removal gets
 * UND_ERR_CLOSED, which the error table classes as "nothing sent", so it is retried elsewhere.
 */
import { Pool } from 'undici';
import type { UpstreamOptions } from '../config/types.js';
import type { EndpointTable, UpstreamEndpoint } from '../endpoints/types.js';
import type { Logger } from '../log/logger.js';
import type { RoutingModel } from '../model/types.js';
import { type BalancerState, newBalancerState } from './balancer.js';

/** `Upstream` is one endpoint with its connection pool. */
export interface Upstream {
  /** `address:port`, IPv6 bracketed (`[fd00::1]:8080`). */
  readonly key: string;
  /** `http://address:port`, for logs. */
  readonly origin: string;
  readonly endpoint: UpstreamEndpoint;
  readonly pool: Pool;
}

/** `BackendUpstreams` is the resolved endpoint set of one backend key, immutable once built. */
export interface BackendUpstreams {
  readonly backendKey: string;
  readonly upstreams: readonly Upstream[];
  readonly balancer: BalancerState;
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
  for (const route of model.routes) visit(route.backend);
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

/** `UpstreamRegistry` keeps the pools in line with the published endpoints. */
export class UpstreamRegistry {
  #options: UpstreamOptions;
  readonly #logger: Logger;
  readonly #pools = new Map<string, Upstream>();
  readonly #closing = new Set<Pool>();
  #table: EndpointTable = new Map();
  #external: ReadonlyMap<string, UpstreamEndpoint> = new Map();
  #externalSignature = '';
  /**
   * Backend key → endpoint set. Replaced whole by a full reconcile, updated entry by entry by an
   * incremental one; either way each entry is immutable, and a request keeps the entry it read.
   */
  #backends = new Map<string, BackendUpstreams>();
  /** How many backend keys use each pool (`address:port`): a pool closes when nobody does. */
  #refs = new Map<string, number>();
  #closed = false;

  constructor(options: UpstreamOptions, logger: Logger) {
    this.#options = options;
    this.#logger = logger;
  }

  /** `backend` returns the endpoint set of a backend key; read once per request (hot path). */
  backend(backendKey: string): BackendUpstreams | undefined {
    return this.#backends.get(backendKey);
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
      // Reference the new endpoints before releasing the old, so a shared pool is never churned.
      for (const endpoint of after) this.#ref(endpoint);
      for (const endpoint of before) this.#unref(endpointKey(endpoint));
      if (after.length === 0) {
        this.#backends.delete(backendKey);
        continue;
      }
      const upstreams: Upstream[] = [];
      for (const endpoint of after) {
        const upstream = this.#pools.get(endpointKey(endpoint));
        if (upstream !== undefined) upstreams.push(upstream);
      }
      this.#backends.set(backendKey, {
        backendKey,
        upstreams,
        balancer: this.#backends.get(backendKey)?.balancer ?? newBalancerState(),
      });
    }
    return true;
  }

  #ref(endpoint: UpstreamEndpoint): void {
    const key = endpointKey(endpoint);
    const count = this.#refs.get(key) ?? 0;
    if (count === 0 && !this.#pools.has(key)) this.#pools.set(key, this.#createUpstream(key, endpoint));
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

  /** `setExternalTargets` replaces the ExternalName targets; a no-op when they did not change. */
  setExternalTargets(targets: ReadonlyMap<string, UpstreamEndpoint>): void {
    const signature = [...targets].map(([k, e]) => `${k}=${endpointKey(e)}`).join('\n');
    if (signature === this.#externalSignature) return;
    this.#external = targets;
    this.#externalSignature = signature;
    this.#reconcile();
  }

  /**
   * `setOptions` takes new upstream settings. Only the connect timeout lives in the pools (undici
   * has no per-request connect timeout), so a change of it re-creates every pool and drains the
   * old ones exactly as endpoint removal does: requests in flight finish on them, and a request
   * that read the old endpoint set just before the swap gets UND_ERR_CLOSED and re-reads the live
   * one. Read/send timeouts and tries are per request and need nothing here.
   */
  setOptions(options: UpstreamOptions): void {
    const reconnect = options.connectTimeoutMs !== this.#options.connectTimeoutMs;
    this.#options = options;
    if (!reconnect || this.#closed) return;
    for (const [key, upstream] of this.#pools) {
      this.#pools.set(key, this.#createUpstream(key, upstream.endpoint));
      this.#retire(upstream.pool);
    }
    this.#reconcile();
  }

  /** `connectTimeoutMs` is the connect timeout new pools get (tests). */
  get connectTimeoutMs(): number {
    return this.#options.connectTimeoutMs;
  }

  stats(): UpstreamStats {
    return { pools: this.#pools.size, closing: this.#closing.size, backends: this.#backends.size };
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
    await Promise.all(all.map((pool) => pool.destroy().catch(() => undefined)));
  }

  #reconcile(): void {
    if (this.#closed) return;
    const wanted = new Map<string, UpstreamEndpoint>();
    const sets = new Map<string, readonly UpstreamEndpoint[]>();
    for (const [backendKey, endpoints] of this.#table) sets.set(backendKey, endpoints);
    for (const [backendKey, endpoint] of this.#external) {
      if (!sets.has(backendKey) || sets.get(backendKey)?.length === 0) sets.set(backendKey, [endpoint]);
    }
    const refs = new Map<string, number>();
    for (const endpoints of sets.values()) {
      for (const endpoint of endpoints) {
        const key = endpointKey(endpoint);
        wanted.set(key, endpoint);
        refs.set(key, (refs.get(key) ?? 0) + 1);
      }
    }
    this.#refs = refs;

    for (const [key, endpoint] of wanted) {
      if (!this.#pools.has(key)) this.#pools.set(key, this.#createUpstream(key, endpoint));
    }
    for (const [key, upstream] of this.#pools) {
      if (wanted.has(key)) continue;
      this.#pools.delete(key);
      this.#retire(upstream.pool);
    }

    const previous = this.#backends;
    const backends = new Map<string, BackendUpstreams>();
    for (const [backendKey, endpoints] of sets) {
      if (endpoints.length === 0) continue;
      const upstreams: Upstream[] = [];
      for (const endpoint of endpoints) {
        const upstream = this.#pools.get(endpointKey(endpoint));
        if (upstream !== undefined) upstreams.push(upstream);
      }
      backends.set(backendKey, {
        backendKey,
        upstreams,
        balancer: previous.get(backendKey)?.balancer ?? newBalancerState(),
      });
    }
    // NOTE: one reference swap; a request holds on to the BackendUpstreams it read.
    this.#backends = backends;
  }

  #createUpstream(key: string, endpoint: UpstreamEndpoint): Upstream {
    const origin = `http://${key}`;
    const o = this.#options;
    const pool = new Pool(origin, {
      connect: { timeout: o.connectTimeoutMs },
      // Defaults only: every dispatch sets its own (live) read timeout.
      headersTimeout: o.readTimeoutMs,
      bodyTimeout: o.readTimeoutMs,
      // Backends with large cookies: allow more than Node's 16 KiB default.
      maxHeaderSize: 64 * 1024,
    });
    // A pool emits 'connectionError' per failed connect; the request path logs those once per
    // request, so swallow the event here instead of letting it become noise.
    pool.on('connectionError', () => undefined);
    return { key, origin, endpoint, pool };
  }

  #retire(pool: Pool): void {
    this.#closing.add(pool);
    pool
      .close()
      .catch((err: unknown) => this.#logger.warn({ err }, 'closing a removed upstream pool failed'))
      .finally(() => this.#closing.delete(pool));
  }
}

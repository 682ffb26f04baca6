/**
 * `data-plane` is the public face of the HTTP data plane: the CLI creates one, publishes
 * snapshots and endpoint tables into it, binds it, and shuts it down on SIGTERM.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isDeepStrictEqual } from 'node:util';
import type { RouteSnapshot } from '../compile/types.js';
import type { ProxyOptions } from '../config/types.js';
import type { EndpointTable } from '../endpoints/types.js';
import type { Logger } from '../log/logger.js';
import type { PorticoMetrics } from '../metrics/registry.js';
import { baseSettings, type GlobalSettings, trustedProxiesOf } from '../model/settings/types.js';
import { createAdminServer } from './admin.js';
import { drainServer } from './drain.js';
import type { ForwardSettings } from './forward.js';
import { compileTrust, type TrustFunction } from './forwarded-headers.js';
import { type LiveSettings, LiveSettingsHolder } from './live-settings.js';
import type { ResolveContext } from './resolve.js';
import { createProxyServer, type ProxyServer } from './server.js';
import { SnapshotHolder } from './snapshot-holder.js';
import { externalTargets, UpstreamRegistry, type UpstreamStats } from './upstreams.js';

/** `ListeningPorts` are the real ports after `listen()` (useful with port 0). */
export interface ListeningPorts {
  readonly http: number;
  readonly admin: number;
}

/** `DataPlane` is the API the CLI drives. */
export interface DataPlane {
  /** Atomic swap; a request that already started keeps the snapshot it began with. */
  publishRoutes(snapshot: RouteSnapshot): void;
  /** Reconciles upstream pools: create for new endpoints, drain then close removed ones. */
  publishEndpoints(table: EndpointTable): void;
  /**
   * Applies global settings (ConfigMap over flags) live: read/send timeouts, tries, client body
   * timeout and trust take effect for requests that start afterwards; a connect timeout change
   * re-creates the pools (old ones drain); the listener's header and keep-alive timeouts change
   * in place. Requests in flight keep the settings they started with.
   */
  applySettings(settings: GlobalSettings): void;
  /** /readyz answers 200 only after setReady(true) (the CLI calls it once the first config is live). */
  setReady(ready: boolean): void;
  /** Binds options.httpPort and options.adminPort on options.bindAddress (0 = ephemeral) and returns the real ports. The HTTPS port is NOT bound yet (TLS is a later issue). */
  listen(): Promise<ListeningPorts>;
  /** The SIGTERM sequence: readyz 503, wait shutdownDelayMs, stop accepting, drain up to drainTimeoutMs, force-close, close pools. */
  shutdown(): Promise<void>;
}

function listenOn(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen({ port, host }, () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * `PorticoDataPlane` implements `DataPlane`. Tests construct it directly for `stats()`; other
 * callers use `createDataPlane`.
 */
export class PorticoDataPlane implements DataPlane {
  readonly #options: ProxyOptions;
  readonly #logger: Logger;
  readonly #holder = new SnapshotHolder();
  readonly #upstreams: UpstreamRegistry;
  readonly #admin: Server;
  readonly #resolve: ResolveContext;
  readonly #forward: ForwardSettings;
  readonly #live: LiveSettingsHolder;
  #settings: GlobalSettings;
  #proxy: ProxyServer | undefined;
  #ready = false;
  #shuttingDown = false;
  #draining = false;
  #shutdown: Promise<void> | undefined;

  constructor(options: ProxyOptions, logger: Logger, metrics?: PorticoMetrics) {
    this.#options = options;
    this.#logger = logger;
    this.#upstreams = new UpstreamRegistry(options.upstream, logger);
    this.#settings = baseSettings(options);
    // An invalid --trusted-proxies CIDR is a startup error, thrown here.
    const live = new LiveSettingsHolder(liveSettings(this.#settings, compileTrust(options.trustedProxies)));
    this.#live = live;
    const holder = this.#holder;
    this.#resolve = {
      snapshot: () => holder.current,
      upstreams: this.#upstreams,
      settings: () => live.current,
      proto: 'http',
    };
    this.#forward = {
      logger,
      draining: () => this.#draining,
      currentEndpoints: (backendKey) => this.#upstreams.backend(backendKey),
    };
    this.#admin = createAdminServer({
      ready: () => this.#ready && !this.#shuttingDown,
      snapshot: () => holder.current,
      upstreams: this.#upstreams,
      settings: () => this.#settings,
      ...(metrics !== undefined ? { metrics } : {}),
    });
  }

  publishRoutes(snapshot: RouteSnapshot): void {
    this.#holder.publish(snapshot);
    this.#upstreams.setExternalTargets(externalTargets(snapshot.model));
  }

  publishEndpoints(table: EndpointTable): void {
    this.#upstreams.setEndpoints(table);
  }

  setReady(ready: boolean): void {
    this.#ready = ready;
  }

  /** `settings` are the global settings in force (flags, then whatever `applySettings` gave). */
  get settings(): GlobalSettings {
    return this.#settings;
  }

  applySettings(next: GlobalSettings): void {
    const previous = this.#settings;
    if (isDeepStrictEqual(previous, next)) return;
    let settings = next;
    let trust: TrustFunction = this.#live.current.trust;
    const trusted = trustedProxiesOf(next.forwarded);
    if (!isDeepStrictEqual(trustedProxiesOf(previous.forwarded), trusted)) {
      try {
        trust = compileTrust(trusted);
      } catch (err) {
        // The ConfigMap validator accepts only what compileTrust takes; if they ever disagree,
        // keep trusting whom we trusted rather than fail open or closed.
        this.#logger.error({ err, trusted }, 'cannot compile trusted proxies; keeping the previous ones');
        settings = { ...next, forwarded: previous.forwarded };
      }
    }
    this.#upstreams.setOptions(settings.upstream);
    this.#live.publish(liveSettings(settings, trust));
    const server = this.#proxy?.server;
    if (server !== undefined) {
      // node:http reads both on use: headersTimeout at each connection check, keepAliveTimeout
      // when a response ends and the socket goes idle.
      server.headersTimeout = settings.client.headerTimeoutMs;
      server.keepAliveTimeout = settings.client.keepAliveTimeoutMs;
    }
    this.#settings = settings;
  }

  /** `stats` reports pool counts and open client connections (tests, leak checks). */
  stats(): UpstreamStats & { readonly connections: number } {
    return { ...this.#upstreams.stats(), connections: this.#proxy?.sockets.size ?? 0 };
  }

  async listen(): Promise<ListeningPorts> {
    if (this.#proxy !== undefined) throw new Error('listen() called twice');
    const proxy = await createProxyServer({
      client: { ...this.#options.client, ...this.#settings.client },
      resolve: this.#resolve,
      forward: this.#forward,
      logger: this.#logger,
    });
    this.#proxy = proxy;
    const host = this.#options.bindAddress;
    const http = await listenOn(proxy.server, this.#options.httpPort, host);
    const admin = await listenOn(this.#admin, this.#options.adminPort, host);
    this.#logger.info({ host, http, admin }, 'data plane listening');
    return { http, admin };
  }

  shutdown(): Promise<void> {
    this.#shutdown ??= this.#runShutdown();
    return this.#shutdown;
  }

  async #runShutdown(): Promise<void> {
    const o = this.#options;
    // 1. Readiness fails at once, so load balancers stop sending new connections.
    this.#shuttingDown = true;
    this.#logger.info(
      { shutdownDelayMs: o.shutdownDelayMs, drainTimeoutMs: o.drainTimeoutMs },
      'shutdown started',
    );
    // 2. Keep accepting while endpoints propagate out of the load balancers.
    if (o.shutdownDelayMs > 0) await sleep(o.shutdownDelayMs);
    // 3. Stop accepting; every response from now on carries Connection: close.
    this.#draining = true;
    const proxy = this.#proxy;
    if (proxy !== undefined) {
      const { forced } = await drainServer(proxy.server, proxy.sockets, proxy.tunnels, o.drainTimeoutMs);
      if (forced > 0) this.#logger.warn({ forced }, 'drain timeout: force-closed connections');
      await proxy.app.close();
    }
    // 4. All client connections are gone: nothing can use a pool any more.
    await this.#upstreams.closeAll();
    if (this.#admin.listening) {
      const closed = new Promise<void>((resolve) => this.#admin.close(() => resolve()));
      this.#admin.closeAllConnections();
      await closed;
    }
    this.#logger.info('shutdown complete');
  }
}

function liveSettings(settings: GlobalSettings, trust: TrustFunction): LiveSettings {
  return { upstream: settings.upstream, clientBodyIdleMs: settings.client.bodyIdleTimeoutMs, trust };
}

/** `createDataPlane` creates the data plane; nothing listens until `listen()`. */
export function createDataPlane(options: ProxyOptions, logger: Logger, metrics?: PorticoMetrics): DataPlane {
  return new PorticoDataPlane(options, logger, metrics);
}

/**
 * `data-plane` is the public face of the HTTP data plane: the CLI creates one, publishes
 * snapshots and endpoint tables into it, binds it, and shuts it down on SIGTERM.
 */
import type { Server } from 'node:http';
import type { AddressInfo, Server as NetServer } from 'node:net';
import type { SecureContextOptions, Server as TlsServer } from 'node:tls';
import { isDeepStrictEqual } from 'node:util';
import type { RouteSnapshot } from '../compile/types.js';
import type { ProxyOptions } from '../config/types.js';
import type { EndpointTable } from '../endpoints/types.js';
import type { L4Report } from '../l4/runtime.js';
import type { Logger } from '../log/logger.js';
import type { PolicyDenial, PorticoMetrics } from '../metrics/registry.js';
import type { RequestMetrics } from '../metrics/requests.js';
import type { TlsSettings } from '../model/settings/tls.js';
import { baseSettings, type GlobalSettings, trustedProxiesOf } from '../model/settings/types.js';
import { ExternalAuthClient } from '../policy/auth/external.js';
import { PolicyEngine, type PolicyKind, type PolicyObserver } from '../policy/chain.js';
import { RateLimitEngine } from '../policy/rate-limit/engine.js';
import { generateDefaultCertificate } from '../tls/default-certificate.js';
import { AccessLog } from './access-log.js';
import { createAdminServer } from './admin.js';
import { ClientCertChecker, wantsClientCertificates } from './client-certs.js';
import { drainServer } from './drain.js';
import { type ExplainQuery, type ExplainReport, explainRequest } from './explain.js';
import type { ForwardSettings } from './forward.js';
import { compileTrust, type TrustFunction } from './forwarded-headers.js';
import { type LiveSettings, LiveSettingsHolder } from './live-settings.js';
import type { ProxyProtocolGate } from './proxy-protocol-listener.js';
import { hstsHeader } from './redirect.js';
import type { ResolveContext } from './resolve.js';
import { createProxyServer, type ProxyServer } from './server.js';
import { SnapshotHolder } from './snapshot-holder.js';
import { contextOptions, SNI_SIGALGS, SniContexts, type TlsTable } from './tls.js';
import {
  handshakeOptions,
  opensslCipherCheck,
  SessionCache,
  type SessionCacheSettings,
  selectAlpn,
} from './tls-settings.js';
import { UpstreamRegistry, type UpstreamStats } from './upstreams.js';

/** `ListeningPorts` are the real ports after `listen()` (useful with port 0). */
export interface ListeningPorts {
  readonly http: number;
  readonly https: number;
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
  /**
   * Installs the TLS certificates by SNI name (checked by the controller). New handshakes use them
   * at once; open connections keep theirs. Can be called before `listen()`.
   */
  publishTls(table: TlsTable): void;
  /** /readyz answers 200 only after setReady(true) (the CLI calls it once the first config is live). */
  setReady(ready: boolean): void;
  /** Binds options.httpPort, options.httpsPort and options.adminPort on options.bindAddress (0 = ephemeral) and returns the real ports. */
  listen(): Promise<ListeningPorts>;
  /** The SIGTERM sequence: readyz 503, wait shutdownDelayMs, stop accepting, drain up to drainTimeoutMs, force-close, close pools. */
  shutdown(): Promise<void>;
}

function listenOn(server: NetServer, port: number, host: string): Promise<number> {
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
  #httpsProxy: ProxyServer | undefined;
  readonly #sni: SniContexts;
  readonly #accessLog: AccessLog;
  readonly #requests: RequestMetrics | undefined;
  readonly #sessionCache: SessionCache;
  readonly #clientCerts = new ClientCertChecker();
  readonly #policies: PolicyEngine;
  readonly #rateLimits: RateLimitEngine;
  readonly #externalAuth: ExternalAuthClient;
  /** Ready Portico replicas, for the in-memory share of a shared limit while Redis is away. */
  #replicas: () => number;
  #l4Report: (() => L4Report) | undefined;
  readonly #proxyProtocol: ProxyProtocolGate;
  /** Some host checks client certificates: the HTTPS listener asks every client for one. */
  #requestCert = false;
  #ready = false;
  #shuttingDown = false;
  #draining = false;
  #shutdown: Promise<void> | undefined;

  constructor(options: ProxyOptions, logger: Logger, metrics?: PorticoMetrics) {
    this.#options = options;
    this.#logger = logger;
    this.#requests = metrics?.requests;
    this.#accessLog = new AccessLog(options.accessLog ?? 'off', this.#requests);
    metrics?.countConnections(() => this.#connections());
    this.#upstreams = new UpstreamRegistry(options.upstream, logger);
    this.#settings = baseSettings(options);
    // Generated even with --default-ssl-certificate: that Secret may be missing or broken, and the
    // listener must present something. A P-256 key keeps this to about a millisecond
    // (bench/tls-default-cert.ts), so it is done here, synchronously, before anything listens.
    const started = performance.now();
    this.#sni = new SniContexts(generateDefaultCertificate(), handshakeOptions(this.#settings.tls));
    this.#sessionCache = new SessionCache(sessionCacheSettings(this.#settings.tls));
    logger.debug(
      { ms: Math.round((performance.now() - started) * 10) / 10 },
      'default TLS certificate generated',
    );
    // An invalid --trusted-proxies CIDR is a startup error, thrown here.
    const live = new LiveSettingsHolder(liveSettings(this.#settings, compileTrust(options.trustedProxies)));
    this.#live = live;
    const holder = this.#holder;
    const hint = options.policies?.replicasHint ?? 1;
    this.#replicas = () => hint;
    this.#rateLimits = new RateLimitEngine({
      ...(options.policies?.redisUrl !== undefined ? { redisUrl: options.policies.redisUrl } : {}),
      redisTimeoutMs: options.policies?.redisTimeoutMs ?? 50,
      replicas: () => this.#replicas(),
      logger: logger.child({ component: 'rate-limit' }),
      ...(metrics !== undefined ? { onStoreState: (state) => metrics.rateLimitStore(state) } : {}),
    });
    if (metrics !== undefined) metrics.rateLimitStore(this.#rateLimits.state);
    this.#externalAuth = new ExternalAuthClient({ logger: logger.child({ component: 'external-auth' }) });
    this.#policies = new PolicyEngine({
      logger,
      limits: this.#rateLimits,
      externalAuth: this.#externalAuth,
      ...(metrics !== undefined ? { observer: policyMetrics(metrics) } : {}),
    });
    this.#resolve = {
      policies: this.#policies,
      snapshot: () => holder.current,
      upstreams: this.#upstreams,
      settings: () => live.current,
      proto: 'http',
      clientCerts: this.#clientCerts,
    };
    // Read at each accepted connection: use-proxy-protocol applies live, to connections accepted afterwards.
    this.#proxyProtocol = {
      enabled: () => this.#settings.proxyProtocol.enabled,
      headerTimeoutMs: () => this.#settings.proxyProtocol.headerTimeoutMs,
      logger,
      ...(metrics !== undefined
        ? { onRejected: (reason) => metrics.proxyProtocolRejected.inc({ reason }) }
        : {}),
    };
    this.#forward = {
      logger,
      draining: () => this.#draining,
      currentEndpoints: (backendKey, transportKey) => this.#upstreams.current(backendKey, transportKey),
    };
    this.#admin = createAdminServer({
      ready: () => this.#ready && !this.#shuttingDown,
      snapshot: () => holder.current,
      upstreams: this.#upstreams,
      settings: () => this.#settings,
      ...(metrics !== undefined ? { metrics } : {}),
      explain: (query) => this.explain(query),
      l4: () => this.#l4Report?.(),
    });
  }

  /** `setL4Report` shows the L4 path (TCP/UDP services and their rejections) under `l4` in `/routes`. */
  setL4Report(report: () => L4Report): void {
    this.#l4Report = report;
  }

  /**
   * `setReplicaCounter` replaces `--replicas-hint` with a live count (cluster mode: the ready
   * endpoints of `--publish-service`); undefined or 0 from the counter falls back to the hint. The
   * counter is called on every request answered from the fallback share, so it must be cheap.
   */
  setReplicaCounter(count: () => number | undefined): void {
    const hint = this.#options.policies?.replicasHint ?? 1;
    this.#replicas = () => {
      const n = count();
      return n === undefined || n < 1 ? hint : n;
    };
  }

  /** `explain` tells what a request would meet (`GET /explain`, `portico explain`). */
  explain(query: ExplainQuery): Promise<ExplainReport> {
    return explainRequest(query, {
      snapshot: () => this.#holder.current,
      endpoints: (key) => this.#upstreams.backend(key)?.upstreams.map((u) => u.key) ?? [],
      policies: this.#policies,
      https: () => this.#live.current.https,
    });
  }

  publishRoutes(snapshot: RouteSnapshot): void {
    this.#holder.publish(snapshot);
    this.#policies.snapshotPublished(snapshot.matches ?? []);
    this.#upstreams.setRoutes(snapshot.model);
    this.#requests?.retain(new Set(snapshot.model.ingresses.map((r) => r.ingress)));
    const requestCert = wantsClientCertificates(snapshot.model);
    if (requestCert !== this.#requestCert) {
      this.#requestCert = requestCert;
      this.#applyRequestCert();
    }
  }

  /**
   * `#applyRequestCert` switches certificate requests on the live listener: node:tls reads
   * `server.requestCert` for each new connection (`tlsConnectionListener`), so handshakes from now
   * on follow it and open connections keep what they negotiated. `rejectUnauthorized` is false
   * from the start: a handshake never fails over a certificate, each request is checked for its
   * host's CA instead (client-certs.ts).
   */
  #applyRequestCert(): void {
    const server = this.#httpsProxy?.tlsServer as (TlsServer & { requestCert: boolean }) | undefined;
    if (server !== undefined) server.requestCert = this.#requestCert;
  }

  publishEndpoints(table: EndpointTable): void {
    this.#upstreams.setEndpoints(table);
  }

  publishTls(table: TlsTable): void {
    this.#upstreams.setCaBundles(table.caBundles);
    this.#clientCerts.publish(table.caBundles);
    this.#policies.publishAuthSecrets(table.authSecrets);
    const defaultChanged = this.#sni.publish(table);
    // Clients without SNI never reach the SNICallback: they get the server's own context.
    if (defaultChanged) this.#httpsProxy?.tlsServer?.setSecureContext(this.#listenerContext());
  }

  /**
   * `#listenerContext` is the HTTPS server's own context: the default certificate, plus the
   * handshake settings `setSecureContext` would otherwise reset.
   */
  #listenerContext(): SecureContextOptions {
    // A new context would get new random ticket keys and void every ticket issued so far.
    const ticketKeys = this.#httpsProxy?.tlsServer?.getTicketKeys();
    return {
      ...contextOptions(this.#sni.defaultPair, this.#sni.handshake),
      // Node keeps the listener's own (default, ECDSA) certificate loaded beside every SNI
      // certificate; the server's order (RSA, EdDSA, ECDSA) makes the SNI one win (SNI_SIGALGS).
      sigalgs: SNI_SIGALGS,
      honorCipherOrder: true,
      // OpenSSL takes the session lifetime from the listener's context, whatever SNI chose.
      sessionTimeout: Math.ceil(this.#settings.tls.sessionTimeoutMs / 1_000),
      ...(ticketKeys !== undefined ? { ticketKeys } : {}),
    };
  }

  /**
   * `#applyTls` makes new TLS settings live: every SecureContext is rebuilt (SNI ones and the
   * listener's own), the session cache takes its new bounds; `use-http2` needs nothing, the
   * ALPNCallback reads it on each handshake. A cipher string OpenSSL refuses (the ConfigMap parser
   * checks it already; this guards the data plane on its own) keeps the previous one.
   */
  #applyTls(previous: TlsSettings, next: TlsSettings): TlsSettings {
    let tls = next;
    if (next.ciphers !== previous.ciphers) {
      const refused = opensslCipherCheck(next.ciphers);
      if (refused !== undefined) {
        this.#logger.error(
          { ciphers: next.ciphers, reason: refused },
          'ssl-ciphers refused; keeping the previous list',
        );
        tls = { ...next, ciphers: previous.ciphers };
      }
    }
    this.#sessionCache.configure(sessionCacheSettings(tls));
    const handshake = handshakeOptions(tls);
    if (!isDeepStrictEqual(handshake, handshakeOptions(previous))) this.#sni.configure(handshake);
    return tls;
  }

  /** `tlsContexts` is the number of cached TLS contexts (tests: one per certificate, not per handshake). */
  get tlsContexts(): number {
    return this.#sni.size;
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
    if (!isDeepStrictEqual(previous.tls, settings.tls)) {
      settings = { ...settings, tls: this.#applyTls(previous.tls, settings.tls) };
    }
    this.#upstreams.setOptions(settings.upstream);
    this.#live.publish(liveSettings(settings, trust));
    for (const proxy of [this.#proxy, this.#httpsProxy]) {
      if (proxy !== undefined) tuneListener(proxy, settings);
    }
    const tlsChanged = !isDeepStrictEqual(previous.tls, settings.tls);
    this.#settings = settings;
    // After #settings: the listener context reads the session timeout from it.
    if (tlsChanged) this.#httpsProxy?.tlsServer?.setSecureContext(this.#listenerContext());
  }

  /** `stats` reports pool counts and open client connections (tests, leak checks). */
  stats(): UpstreamStats & { readonly connections: number } {
    return { ...this.#upstreams.stats(), connections: this.#connections() };
  }

  /** Open client connections: every HTTP/1.1 socket, and the socket under each HTTP/2 session. */
  #connections(): number {
    return (this.#proxy?.sockets.size ?? 0) + (this.#httpsProxy?.sockets.size ?? 0);
  }

  async listen(): Promise<ListeningPorts> {
    if (this.#proxy !== undefined) throw new Error('listen() called twice');
    const client = { ...this.#options.client, ...this.#settings.client };
    const proxy = await createProxyServer({
      client,
      resolve: this.#resolve,
      forward: this.#forward,
      logger: this.#logger,
      accessLog: this.#accessLog,
      proxyProtocol: this.#proxyProtocol,
    });
    this.#proxy = proxy;
    const sni = this.#sni;
    // Same handler, own ResolveContext: X-Forwarded-Proto says https for requests that came in here.
    const httpsProxy = await createProxyServer({
      client,
      resolve: { ...this.#resolve, proto: 'https' },
      forward: this.#forward,
      logger: this.#logger,
      accessLog: this.#accessLog,
      proxyProtocol: this.#proxyProtocol,
      tls: {
        ...this.#listenerContext(),
        SNICallback: sni.sniCallback,
        ALPNCallback: selectAlpn(() => this.#settings.tls.http2),
        requestCert: this.#requestCert,
        rejectUnauthorized: false,
      },
    });
    this.#httpsProxy = httpsProxy;
    // Settings a ConfigMap gave before the listeners existed (the first full run comes first).
    tuneListener(proxy, this.#settings);
    tuneListener(httpsProxy, this.#settings);
    httpsProxy.tlsServer?.on('newSession', this.#sessionCache.onNewSession);
    httpsProxy.tlsServer?.on('resumeSession', this.#sessionCache.onResumeSession);
    const host = this.#options.bindAddress;
    const http = await listenOn(proxy.server, this.#options.httpPort, host);
    const https = await listenOn(httpsProxy.server, this.#options.httpsPort, host);
    const admin = await listenOn(this.#admin, this.#options.adminPort, host);
    this.#logger.info({ host, http, https, admin }, 'data plane listening');
    return { http, https, admin };
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
    const proxies = [this.#proxy, this.#httpsProxy].filter((p): p is ProxyServer => p !== undefined);
    await Promise.all(
      proxies.map(async (proxy) => {
        const { forced } = await drainServer(
          proxy.server,
          proxy.sockets,
          proxy.tunnels,
          o.drainTimeoutMs,
          proxy.sessions,
        );
        if (forced > 0) this.#logger.warn({ forced }, 'drain timeout: force-closed connections');
        await proxy.app.close();
      }),
    );
    // 4. All client connections are gone: nothing can use a pool any more.
    await this.#upstreams.closeAll();
    await Promise.all([this.#rateLimits.close(), this.#externalAuth.close()]);
    if (this.#admin.listening) {
      const closed = new Promise<void>((resolve) => this.#admin.close(() => resolve()));
      this.#admin.closeAllConnections();
      await closed;
    }
    this.#accessLog.flush();
    this.#logger.info('shutdown complete');
  }
}

function sessionCacheSettings(tls: TlsSettings): SessionCacheSettings {
  return { enabled: tls.sessionCache, maxBytes: tls.sessionCacheBytes, timeoutMs: tls.sessionTimeoutMs };
}

/** `tuneListener` sets the connection settings node:http reads on use, so they apply live. */
function tuneListener(proxy: ProxyServer, settings: GlobalSettings): void {
  // headersTimeout is read at each connection check, keepAliveTimeout when a response ends and
  // the socket goes idle, maxRequestsPerSocket at each request (0: no limit).
  proxy.server.headersTimeout = settings.client.headerTimeoutMs;
  proxy.server.keepAliveTimeout = settings.client.keepAliveTimeoutMs;
  proxy.server.maxRequestsPerSocket = settings.client.maxRequestsPerConnection ?? 0;
}

function liveSettings(settings: GlobalSettings, trust: TrustFunction): LiveSettings {
  return {
    upstream: settings.upstream,
    clientBodyIdleMs: settings.client.bodyIdleTimeoutMs,
    trust,
    https: settings.https,
    hsts: hstsHeader(settings.https.hsts),
    accessLog: settings.accessLog,
    limitStatus: settings.limits,
    ...(settings.globalHeaders?.response !== undefined
      ? { responseHeaders: settings.globalHeaders.response }
      : {}),
    ...(settings.globalHeaders?.request !== undefined
      ? { requestHeaders: settings.globalHeaders.request }
      : {}),
    ...(settings.hideHeaders !== undefined ? { hideHeaders: settings.hideHeaders } : {}),
    ...(settings.gzip?.enabled === true
      ? {
          gzip: {
            level: settings.gzip.level,
            minLength: settings.gzip.minLength,
            types: new Set(settings.gzip.types),
          },
        }
      : {}),
  };
}

const DENIAL_OF: Readonly<Record<PolicyKind, PolicyDenial>> = {
  ip: 'ip-filter',
  connections: 'rate-limit',
  rate: 'rate-limit',
  basic: 'basic-auth',
  external: 'external-auth',
};

/** `policyMetrics` counts policy refusals (and dry-run would-be refusals) per Ingress. */
function policyMetrics(metrics: PorticoMetrics): PolicyObserver {
  return {
    denied: (kind, match) => metrics.policyDenied(match.ingress ?? '', DENIAL_OF[kind]),
    dryRun: (_kind, match) => metrics.policyDenied(match.ingress ?? '', 'rate-limit-dry-run'),
  };
}

/** `createDataPlane` creates the data plane; nothing listens until `listen()`. */
export function createDataPlane(options: ProxyOptions, logger: Logger, metrics?: PorticoMetrics): DataPlane {
  return new PorticoDataPlane(options, logger, metrics);
}

/**
 * `registry` defines every Prometheus metric Portico exports, in one place, so names stay
 * consistent (`portico_<subsystem>_<name>_<unit>`) and label sets stay bounded: no label ever holds
 * a client address or a raw request path.
 */
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { namespaceOf, RequestMetrics } from './requests.js';

/** `PolicyDenial` names what stopped a request, for `PorticoMetrics.policyDenied`. */
export type PolicyDenial = 'rate-limit' | 'rate-limit-dry-run' | 'ip-filter' | 'basic-auth' | 'external-auth';

/** `RateLimitStoreState` is the rate-limit store's Redis state (rate-limit/types.ts `StoreState`). */
export type RateLimitStoreState = 'memory-only' | 'shared' | 'fallback';

/** `CertificateExpiry` is a served TLS Secret and its certificate's notAfter (ms since the epoch). */
export interface CertificateExpiry {
  readonly namespace: string;
  readonly name: string;
  readonly notAfter: number;
}

/**
 * `PorticoMetrics` is one process's metrics. It is an instance, not a module singleton, so tests
 * can run several Portico instances in one process without sharing counters.
 */
export class PorticoMetrics {
  readonly registry = new Registry();

  /** Controller runs by outcome: `published` (routes changed), `unchanged`, `endpoints`, `failed`. */
  readonly configRebuilds = new Counter({
    name: 'portico_config_rebuilds_total',
    help: 'Controller runs, by outcome.',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly configRebuildDuration = new Gauge({
    name: 'portico_config_last_rebuild_duration_seconds',
    help: 'Duration of the last translate + compile run.',
    registers: [this.registry],
  });

  readonly configLastSuccess = new Gauge({
    name: 'portico_config_last_success_timestamp_seconds',
    help: 'Unix time of the last successful controller run.',
    registers: [this.registry],
  });

  readonly rejectedObjects = new Gauge({
    name: 'portico_config_rejected_objects',
    help: 'Objects currently rejected for errors in their own content, by kind.',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  readonly brokenReferences = new Gauge({
    name: 'portico_config_broken_references',
    help: 'Backend references that currently resolve to no Service or port (routes answering 503).',
    registers: [this.registry],
  });

  readonly watchRestarts = new Counter({
    name: 'portico_k8s_watch_restarts_total',
    help: 'Informer restarts after a watch or list error, by kind.',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  readonly watchDisconnected = new Gauge({
    name: 'portico_k8s_watch_disconnected_seconds',
    help: 'Seconds since the informer of this kind lost its watch; 0 while connected.',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  readonly informerSynced = new Gauge({
    name: 'portico_k8s_informer_synced',
    help: '1 once the informer of this kind has listed at least once.',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  readonly statusUpdates = new Counter({
    name: 'portico_k8s_status_updates_total',
    help: 'Ingress status writes, by outcome (updated, unchanged, conflict, error).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly leader = new Gauge({
    name: 'portico_leader',
    help: '1 while this replica holds the leader-election Lease.',
    registers: [this.registry],
  });

  readonly events = new Counter({
    name: 'portico_k8s_events_total',
    help: 'Kubernetes Events emitted, by type and reason.',
    labelNames: ['type', 'reason'] as const,
    registers: [this.registry],
  });

  readonly admissionReviews = new Counter({
    name: 'portico_admission_reviews_total',
    help: 'Admission reviews answered, by result (allowed, denied, error).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  /**
   * The per-request series, recorded at the end of each response. requests.ts keeps the numbers
   * and writes their exposition (`render` appends it); the names and help texts are here.
   */
  readonly requests = new RequestMetrics({
    requests: {
      name: 'portico_requests_total',
      help:
        'Requests answered, proxied or built-in (404, 503, redirects, denials), by ingress ("namespace/name", "" when none answered), ' +
        'namespace, service, method (the standard methods, else OTHER) and status class (1xx..5xx; a client gone before the response is 499: 4xx).',
    },
    duration: {
      name: 'portico_request_duration_seconds',
      help: 'Time from the request reaching Portico to the end of its response, by ingress, namespace, service and status class.',
    },
    upstreamDuration: {
      name: 'portico_upstream_response_duration_seconds',
      help: 'Time from dispatching the last attempt to the upstream to its response headers, by ingress, namespace and service.',
    },
    requestBytes: {
      name: 'portico_request_bytes_total',
      help: 'Request body bytes read from clients, by ingress, namespace and service.',
    },
    responseBytes: {
      name: 'portico_response_bytes_total',
      help: 'Response body bytes written to clients, by ingress, namespace and service.',
    },
  });

  #connections: () => number = () => 0;
  #storeState: RateLimitStoreState | undefined;
  #certificates = new Map<string, CertificateExpiry>();

  readonly activeConnections: Gauge = new Gauge({
    name: 'portico_active_connections',
    help: 'Open client connections on the proxy listeners (HTTP/1.1 keep-alive, busy or upgraded, and HTTP/2 sessions).',
    registers: [this.registry],
    collect: (): void => this.activeConnections.set(this.#connections()),
  });

  readonly rateLimitRejected = new Counter({
    name: 'portico_ratelimit_rejected_total',
    help: 'Requests rejected by a rate or connection limit (answered with its status code), by Ingress and namespace.',
    labelNames: ['ingress', 'namespace'] as const,
    registers: [this.registry],
  });

  readonly rateLimitDryRunRejections = new Counter({
    name: 'portico_ratelimit_dry_run_rejections_total',
    help: 'Requests a limit in dry run would have rejected (they were served), by Ingress and namespace.',
    labelNames: ['ingress', 'namespace'] as const,
    registers: [this.registry],
  });

  readonly authDenied = new Counter({
    name: 'portico_auth_denied_total',
    help: 'Requests denied by authentication (401/403, or 500/503 when the check itself failed), by Ingress, namespace and kind (basic, external).',
    labelNames: ['ingress', 'namespace', 'kind'] as const,
    registers: [this.registry],
  });

  readonly ipFilterDenied = new Counter({
    name: 'portico_ip_filter_denied_total',
    help: 'Requests answered 403 by an allow-list or deny-list of client addresses, by Ingress and namespace.',
    labelNames: ['ingress', 'namespace'] as const,
    registers: [this.registry],
  });

  readonly rateLimitStoreFallback = new Gauge({
    name: 'portico_ratelimit_store_fallback',
    help: "1 while Redis is unreachable and shared limits run on this replica's in-memory share; 0 otherwise.",
    registers: [this.registry],
  });

  readonly rateLimitStoreTransitions = new Counter({
    name: 'portico_ratelimit_store_transitions_total',
    help: 'Changes of the rate-limit store state, by the state entered (shared: Redis in use; fallback: in-memory share).',
    labelNames: ['state'] as const,
    registers: [this.registry],
  });

  readonly certificateExpiry = new Gauge({
    name: 'portico_ssl_certificate_expiry_timestamp_seconds',
    help: 'Unix time at which the certificate (first of tls.crt) of a TLS Secret in use expires, by namespace and Secret.',
    labelNames: ['namespace', 'secret'] as const,
    registers: [this.registry],
  });

  readonly proxyProtocolRejected = new Counter({
    name: 'portico_proxy_protocol_rejected_total',
    help: 'Connections closed for their PROXY protocol header, by reason (invalid, timeout, closed).',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  constructor(options: { readonly processMetrics?: boolean } = {}) {
    if (options.processMetrics ?? true)
      collectDefaultMetrics({ register: this.registry, prefix: 'portico_' });
  }

  /**
   * `policyDenied` counts one request a policy stopped (or, for `rate-limit-dry-run`, would have
   * stopped). `ingress` is `"namespace/name"`. Called on the denial path only, so building the
   * label object here costs the served requests nothing.
   */
  policyDenied(ingress: string, denial: PolicyDenial): void {
    const labels = { ingress, namespace: namespaceOf(ingress) };
    switch (denial) {
      case 'rate-limit':
        this.rateLimitRejected.inc(labels);
        return;
      case 'rate-limit-dry-run':
        this.rateLimitDryRunRejections.inc(labels);
        return;
      case 'ip-filter':
        this.ipFilterDenied.inc(labels);
        return;
      case 'basic-auth':
        this.authDenied.inc({ ...labels, kind: 'basic' });
        return;
      case 'external-auth':
        this.authDenied.inc({ ...labels, kind: 'external' });
        return;
    }
  }

  /**
   * `rateLimitStore` records the rate-limit store's state: the fallback gauge follows it and each
   * change of state counts one transition (call it on every change, or on every check: a repeated
   * state is not counted twice).
   */
  rateLimitStore(state: RateLimitStoreState): void {
    if (state === this.#storeState) return;
    this.#storeState = state;
    this.rateLimitStoreFallback.set(state === 'fallback' ? 1 : 0);
    this.rateLimitStoreTransitions.inc({ state });
  }

  /**
   * `certificatesInUse` sets the expiry gauge of every TLS Secret served now and removes the series
   * of Secrets no longer served (deleted, unreferenced, or failing their check).
   */
  certificatesInUse(certificates: Iterable<CertificateExpiry>): void {
    const next = new Map<string, CertificateExpiry>();
    for (const c of certificates) {
      if (!Number.isFinite(c.notAfter)) continue;
      next.set(`${c.namespace}/${c.name}`, c);
      this.certificateExpiry.set({ namespace: c.namespace, secret: c.name }, c.notAfter / 1_000);
    }
    for (const [key, c] of this.#certificates) {
      if (!next.has(key)) this.certificateExpiry.remove({ namespace: c.namespace, secret: c.name });
    }
    this.#certificates = next;
  }

  /** `countConnections` makes `portico_active_connections` read `source` at each scrape. */
  countConnections(source: () => number): void {
    this.#connections = source;
  }

  /** `render` returns the exposition text for `/metrics`: the registry's, then the request series. */
  async render(): Promise<string> {
    const registered = await this.registry.metrics();
    return `${registered}\n${await this.requests.exposition()}`;
  }

  /** `contentType` is the exposition format's content type. */
  get contentType(): string {
    return this.registry.contentType;
  }
}

/**
 * `registry` defines every Prometheus metric Portico exports, in one place, so names stay
 * consistent (`portico_<subsystem>_<name>_<unit>`) and label sets stay bounded: no label ever holds
 * a client address or a raw request path.
 */
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';

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

  constructor(options: { readonly processMetrics?: boolean } = {}) {
    if (options.processMetrics ?? true)
      collectDefaultMetrics({ register: this.registry, prefix: 'portico_' });
  }

  /** `render` returns the exposition text for `/metrics`. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  /** `contentType` is the exposition format's content type. */
  get contentType(): string {
    return this.registry.contentType;
  }
}

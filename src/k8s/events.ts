/**
 * `events` turns the model's diagnostics into core v1 Warning Events on the Ingresses they concern,
 * so `kubectl describe ingress` says why an Ingress is rejected or half broken. Repeats are folded
 * like client-go's `EventCorrelator` does: the same (object, reason, message) seen again patches the
 * existing Event's `count` and `lastTimestamp`, at most once per minute, instead of creating a new
 * one. Only the leader emits, so N replicas do not repeat every Event N times. Emitting never blocks
 * or fails the controller: work is queued, one API call runs at a time, errors are logged.
 */
import {
  CoreV1Api,
  type CoreV1Event,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import type { Logger } from '../log/logger.js';
import type { PorticoMetrics } from '../metrics/registry.js';
import type { Diagnostic, DiagnosticCode } from '../model/diagnostics.js';
import type { RoutingModel } from '../model/types.js';
import type { ObjectStore } from '../store/object-store.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import { realClock } from '../util/clock.js';
import { describeError, httpStatusOf } from './status/api.js';

/** `EVENT_REASONS` maps each diagnostic code to its Event reason; `undefined` emits no Event. */
export const EVENT_REASONS: Readonly<Record<DiagnosticCode, string | undefined>> = {
  // File mode only: there is no Ingress object to attach it to.
  PORTICO_ERR_MANIFEST_PARSE: undefined,
  PORTICO_ERR_OBJECT_INVALID: 'InvalidIngress',
  PORTICO_ERR_PATH_INVALID: 'InvalidPath',
  PORTICO_ERR_HOST_INVALID: 'InvalidHost',
  PORTICO_ERR_BACKEND_INVALID: 'InvalidBackend',
  PORTICO_WARN_PATH_CONFLICT: 'PathConflict',
  PORTICO_WARN_SERVICE_MISSING: 'ServiceNotFound',
  PORTICO_WARN_SERVICE_PORT_MISSING: 'ServicePortNotFound',
  PORTICO_WARN_DEFAULT_BACKEND_CONFLICT: 'DefaultBackendConflict',
  PORTICO_WARN_KEEPING_LAST_GOOD: 'KeepingLastGood',
  PORTICO_WARN_UNSUPPORTED: 'Unsupported',
  PORTICO_WARN_TLS_CONFLICT: 'TLSConflict',
  PORTICO_WARN_TLS_SECRET_INVALID: 'InvalidTLSSecret',
  PORTICO_WARN_TLS_CERTIFICATE: 'TLSCertificateWarning',
  PORTICO_ERR_ANNOTATION_INVALID: 'InvalidAnnotation',
  PORTICO_WARN_ANNOTATION_UNKNOWN: 'UnknownAnnotation',
  PORTICO_WARN_ANNOTATION_DENIED: 'AnnotationDenied',
  PORTICO_WARN_HOST_ANNOTATION_IGNORED: 'HostAnnotationIgnored',
  PORTICO_WARN_CA_SECRET_INVALID: 'InvalidCASecret',
  PORTICO_WARN_AUTH_SECRET_INVALID: 'InvalidAuthSecret',
  PORTICO_WARN_ANNOTATION_IGNORED: 'AnnotationIgnored',
  // About the policy, not an Ingress: its status condition says it (the Ingresses get the warning below).
  PORTICO_ERR_RATE_LIMIT_POLICY_INVALID: undefined,
  PORTICO_WARN_RATE_LIMIT_POLICY: 'RateLimitPolicyProblem',
  PORTICO_WARN_CANARY: 'CanaryNotAttached',
  // About ConfigMaps and L4Routes, not Ingresses: logs, `l4-rules` and the L4Route status say it.
  PORTICO_ERR_L4_ENTRY_INVALID: undefined,
  PORTICO_ERR_L4_ROUTE_INVALID: undefined,
  PORTICO_WARN_L4: undefined,
};

/** `EVENT_SOURCE_COMPONENT` is `source.component` of every Event Portico writes. */
export const EVENT_SOURCE_COMPONENT = 'portico';
/** `EVENT_REPORTING_COMPONENT` is `reportingComponent` of every Event Portico writes. */
export const EVENT_REPORTING_COMPONENT = 'portico.dev/ingress-controller';
/** client-go's spam window: an Event is patched at most once per this many milliseconds. */
export const EVENT_PATCH_INTERVAL_MS = 60_000;
/** Longer messages are cut: Events are for people, and the API server caps their size. */
const MAX_MESSAGE = 1_024;

/** `EventSubject` is the object an Event is about, as the store has it. */
export interface EventSubject {
  readonly kind: 'Ingress';
  readonly apiVersion: string;
  readonly namespace: string;
  readonly name: string;
  readonly uid?: string;
  readonly resourceVersion?: string;
}

/** `Occurrence` is one diagnostic, ready to become an Event. */
export interface Occurrence {
  /** Correlation key: object (uid included), reason and message. */
  readonly key: string;
  readonly subject: EventSubject;
  readonly reason: string;
  readonly message: string;
}

/**
 * `occurrencesOf` picks the diagnostics that become Events: those with a reason, about an Ingress
 * the store holds (its uid and resourceVersion go into `involvedObject`). Duplicates fold into one.
 */
export function occurrencesOf(diagnostics: readonly Diagnostic[], store: ObjectStore): Occurrence[] {
  const out = new Map<string, Occurrence>();
  for (const d of diagnostics) {
    const reason = EVENT_REASONS[d.code];
    if (reason === undefined) continue;
    const match = /^Ingress ([^/\s]+)\/(\S+)$/.exec(d.object);
    if (!match) continue;
    const [, namespace = '', name = ''] = match;
    const stored = store.get('Ingress', namespace, name);
    if (stored === undefined) continue;
    const meta = stored.object.metadata;
    const subject: EventSubject = {
      kind: 'Ingress',
      apiVersion: stored.object.apiVersion ?? 'networking.k8s.io/v1',
      namespace,
      name,
      ...(meta.uid !== undefined ? { uid: meta.uid } : {}),
      ...(meta.resourceVersion !== undefined ? { resourceVersion: meta.resourceVersion } : {}),
    };
    const full = d.field ? `${d.field}: ${d.message}` : d.message;
    const message = full.length > MAX_MESSAGE ? `${full.slice(0, MAX_MESSAGE - 1)}…` : full;
    const key = `${namespace}/${name}\u0000${meta.uid ?? ''}\u0000${reason}\u0000${message}`;
    if (!out.has(key)) out.set(key, { key, subject, reason, message });
  }
  return [...out.values()];
}

/** `EventAction` is one API call the correlator asks for. */
export type EventAction =
  | {
      readonly kind: 'create';
      readonly occurrence: Occurrence;
      readonly name: string;
      readonly count: number;
      readonly firstTimestampMs: number;
      readonly lastTimestampMs: number;
    }
  | {
      readonly kind: 'patch';
      readonly occurrence: Occurrence;
      readonly name: string;
      readonly count: number;
      readonly lastTimestampMs: number;
    };

interface Correlation {
  readonly occurrence: Occurrence;
  readonly name: string;
  readonly firstTimestampMs: number;
  count: number;
  /** The count the API server has (or has been asked for). */
  emittedCount: number;
  lastSeenMs: number;
  /** Monotonic time of the last create/patch. */
  emittedAt: number;
}

/**
 * `EventCorrelator` decides, per observation round, which Events to create and which to patch. It is
 * pure bookkeeping (no I/O, times passed in), so tests drive it directly.
 */
export class EventCorrelator {
  readonly #byKey = new Map<string, Correlation>();
  readonly #intervalMs: number;
  readonly #newName: (subject: EventSubject, wallMs: number) => string;

  constructor(
    options: {
      readonly intervalMs?: number;
      readonly newName?: (subject: EventSubject, wallMs: number) => string;
    } = {},
  ) {
    this.#intervalMs = options.intervalMs ?? EVENT_PATCH_INTERVAL_MS;
    this.#newName = options.newName ?? eventNamer();
  }

  /** `size` is the number of occurrences currently tracked. */
  get size(): number {
    return this.#byKey.size;
  }

  /**
   * `observe` records one round of occurrences (one controller run). New ones are created; ones seen
   * before count up and are patched if the last write is at least the interval old; ones missing
   * from this round are forgotten, so their return is a new occurrence with a new Event.
   */
  observe(occurrences: readonly Occurrence[], now: number, wallMs: number): EventAction[] {
    const actions: EventAction[] = [];
    const present = new Set<string>();
    for (const occurrence of occurrences) {
      present.add(occurrence.key);
      const c = this.#byKey.get(occurrence.key);
      if (c === undefined) {
        const name = this.#newName(occurrence.subject, wallMs);
        this.#byKey.set(occurrence.key, {
          occurrence,
          name,
          firstTimestampMs: wallMs,
          count: 1,
          emittedCount: 1,
          lastSeenMs: wallMs,
          emittedAt: now,
        });
        actions.push({
          kind: 'create',
          occurrence,
          name,
          count: 1,
          firstTimestampMs: wallMs,
          lastTimestampMs: wallMs,
        });
        continue;
      }
      c.count++;
      c.lastSeenMs = wallMs;
      const patch = this.#patchIfDue(c, now);
      if (patch) actions.push(patch);
    }
    for (const key of [...this.#byKey.keys()]) if (!present.has(key)) this.#byKey.delete(key);
    return actions;
  }

  /** `flush` patches occurrences with unreported repeats whose interval has passed. */
  flush(now: number): EventAction[] {
    const actions: EventAction[] = [];
    for (const c of this.#byKey.values()) {
      const patch = this.#patchIfDue(c, now);
      if (patch) actions.push(patch);
    }
    return actions;
  }

  /** `nextFlushAt` is when `flush` has something to do, or undefined when nothing is pending. */
  nextFlushAt(): number | undefined {
    let next: number | undefined;
    for (const c of this.#byKey.values()) {
      if (c.count === c.emittedCount) continue;
      const due = c.emittedAt + this.#intervalMs;
      if (next === undefined || due < next) next = due;
    }
    return next;
  }

  /** `forget` drops one occurrence (its create failed), so the next round creates it afresh. */
  forget(key: string): void {
    this.#byKey.delete(key);
  }

  /** `clear` forgets everything (leadership lost: the next leader starts its own Events). */
  clear(): void {
    this.#byKey.clear();
  }

  #patchIfDue(c: Correlation, now: number): EventAction | undefined {
    if (c.count === c.emittedCount || now - c.emittedAt < this.#intervalMs) return undefined;
    c.emittedCount = c.count;
    c.emittedAt = now;
    return {
      kind: 'patch',
      occurrence: c.occurrence,
      name: c.name,
      count: c.count,
      lastTimestampMs: c.lastSeenMs,
    };
  }
}

/**
 * `eventNamer` names Events as client-go does, `<object name>.<hex Unix nanoseconds>`; a counter in
 * the low digits keeps two Events of one millisecond apart.
 */
export function eventNamer(): (subject: EventSubject, wallMs: number) => string {
  let seq = 0n;
  return (subject, wallMs) => {
    seq = (seq + 1n) % 1_000_000n;
    const nanos = BigInt(Math.floor(wallMs)) * 1_000_000n + seq;
    // Names are DNS subdomains (at most 253 characters): leave room for the suffix.
    return `${subject.name.slice(0, 230)}.${nanos.toString(16)}`;
  };
}

/** `PorticoEvent` is the Event Portico creates, in its own terms. */
export interface PorticoEvent {
  readonly name: string;
  readonly subject: EventSubject;
  readonly reason: string;
  readonly message: string;
  readonly count: number;
  readonly firstTimestampMs: number;
  readonly lastTimestampMs: number;
  readonly reportingInstance: string;
}

/** `EventApi` is the Event access Portico needs: create and patch (both in `permissions.ts`). */
export interface EventApi {
  create(event: PorticoEvent): Promise<void>;
  /** Rejects with `code` 404 when the Event is gone (Events expire, one hour by default). */
  patch(namespace: string, name: string, count: number, lastTimestampMs: number): Promise<void>;
}

/** `createEventApi` backs `EventApi` with client-node's CoreV1Api (core v1 Events). */
export function createEventApi(kubeConfig: KubeConfig): EventApi {
  const api = kubeConfig.makeApiClient(CoreV1Api);
  // client-node 1.x sends PATCH as JSON Patch unless told otherwise; Events need a merge patch.
  const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  return {
    async create(e) {
      const body: CoreV1Event = {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name: e.name, namespace: e.subject.namespace },
        involvedObject: {
          kind: e.subject.kind,
          apiVersion: e.subject.apiVersion,
          namespace: e.subject.namespace,
          name: e.subject.name,
          ...(e.subject.uid !== undefined ? { uid: e.subject.uid } : {}),
          ...(e.subject.resourceVersion !== undefined ? { resourceVersion: e.subject.resourceVersion } : {}),
        },
        reason: e.reason,
        message: e.message,
        type: 'Warning',
        count: e.count,
        firstTimestamp: new Date(e.firstTimestampMs),
        lastTimestamp: new Date(e.lastTimestampMs),
        source: { component: EVENT_SOURCE_COMPONENT },
        reportingComponent: EVENT_REPORTING_COMPONENT,
        reportingInstance: e.reportingInstance,
      };
      await api.createNamespacedEvent({ namespace: e.subject.namespace, body });
    },
    async patch(namespace, name, count, lastTimestampMs) {
      await api.patchNamespacedEvent(
        { name, namespace, body: { count, lastTimestamp: new Date(lastTimestampMs).toISOString() } },
        mergePatch,
      );
    },
  };
}

export interface EventRecorderOptions {
  readonly api: EventApi;
  readonly store: ObjectStore;
  /** `reportingInstance`: this replica's identity. */
  readonly identity: string;
  /** Events are written by the leader only. */
  readonly isLeader: () => boolean;
  readonly logger: Logger;
  readonly metrics?: PorticoMetrics;
  readonly clock?: Clock;
  readonly wallClock?: () => number;
  readonly intervalMs?: number;
}

/**
 * `EventRecorder` feeds model diagnostics through the correlator and performs the resulting calls
 * one at a time. Pending calls are kept per occurrence (latest wins), so an API server outage queues
 * at most one call per distinct diagnostic.
 */
export class EventRecorder {
  readonly #o: EventRecorderOptions;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #wall: () => number;
  readonly #correlator: EventCorrelator;
  readonly #queue = new Map<string, EventAction>();
  #running: Promise<void> | undefined;
  #flushTimer: TimerHandle | undefined;
  #stopped = false;

  constructor(options: EventRecorderOptions) {
    this.#o = options;
    this.#log = options.logger.child({ component: 'events' });
    this.#clock = options.clock ?? realClock;
    this.#wall = options.wallClock ?? Date.now;
    this.#correlator = new EventCorrelator(
      options.intervalMs !== undefined ? { intervalMs: options.intervalMs } : {},
    );
  }

  /** `observe` takes one controller run's model. Not leader: forget everything, emit nothing. */
  observe(model: RoutingModel): void {
    if (this.#stopped) return;
    if (!this.#o.isLeader()) {
      this.reset();
      return;
    }
    const occurrences = occurrencesOf(model.diagnostics, this.#o.store);
    this.#enqueue(this.#correlator.observe(occurrences, this.#clock.now(), this.#wall()));
  }

  /** `reset` drops all correlation state and queued calls (leadership lost). */
  reset(): void {
    this.#correlator.clear();
    this.#queue.clear();
    this.#clearFlush();
  }

  /** `idle` resolves once the queue is empty (tests). */
  async idle(): Promise<void> {
    for (let i = 0; i < 1_000 && this.#running !== undefined; i++) await this.#running;
  }

  /** `stop` emits nothing more; the call in flight finishes. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#queue.clear();
    this.#clearFlush();
    await this.idle();
  }

  #enqueue(actions: readonly EventAction[]): void {
    for (const action of actions) {
      const queued = this.#queue.get(action.occurrence.key);
      // A create still waiting absorbs later patches: it is created with the newest count.
      if (queued?.kind === 'create' && action.kind === 'patch')
        this.#queue.set(action.occurrence.key, {
          ...queued,
          count: action.count,
          lastTimestampMs: action.lastTimestampMs,
        });
      else this.#queue.set(action.occurrence.key, action);
    }
    this.#armFlush();
    if (this.#queue.size > 0 && this.#running === undefined) this.#running = this.#drain();
  }

  #armFlush(): void {
    this.#clearFlush();
    const at = this.#correlator.nextFlushAt();
    if (at === undefined || this.#stopped) return;
    this.#flushTimer = this.#clock.setTimeout(
      () => {
        this.#flushTimer = undefined;
        if (!this.#stopped && this.#o.isLeader()) this.#enqueue(this.#correlator.flush(this.#clock.now()));
      },
      Math.max(0, at - this.#clock.now()),
    );
  }

  #clearFlush(): void {
    if (this.#flushTimer !== undefined) this.#clock.clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
  }

  async #drain(): Promise<void> {
    try {
      // Bounded: each round removes one entry; entries are bounded by distinct diagnostics.
      for (let i = 0; i < 100_000 && !this.#stopped; i++) {
        const next = this.#queue.entries().next();
        if (next.done) break;
        const [key, action] = next.value;
        this.#queue.delete(key);
        if (!this.#o.isLeader()) continue;
        await this.#perform(action);
      }
    } finally {
      this.#running = undefined;
    }
  }

  async #perform(action: EventAction): Promise<void> {
    const { occurrence } = action;
    const labels = { type: 'Warning', reason: occurrence.reason };
    const object = `${occurrence.subject.namespace}/${occurrence.subject.name}`;
    try {
      if (action.kind === 'create') {
        await this.#create(
          action.name,
          occurrence,
          action.count,
          action.firstTimestampMs,
          action.lastTimestampMs,
        );
      } else {
        try {
          await this.#o.api.patch(
            occurrence.subject.namespace,
            action.name,
            action.count,
            action.lastTimestampMs,
          );
        } catch (err) {
          if (httpStatusOf(err) !== 404) throw err;
          // The Event expired meanwhile (TTL): record the occurrence again under the same name.
          await this.#create(
            action.name,
            occurrence,
            action.count,
            action.lastTimestampMs,
            action.lastTimestampMs,
          );
        }
      }
      this.#o.metrics?.events.inc(labels);
    } catch (err) {
      // A failed create is forgotten, so the next controller run retries it as a new occurrence.
      if (action.kind === 'create') this.#correlator.forget(occurrence.key);
      this.#log.warn(
        { object, reason: occurrence.reason, err: describeError(err) },
        `could not ${action.kind} an Event`,
      );
    }
  }

  #create(
    name: string,
    occurrence: Occurrence,
    count: number,
    firstMs: number,
    lastMs: number,
  ): Promise<void> {
    return this.#o.api.create({
      name,
      subject: occurrence.subject,
      reason: occurrence.reason,
      message: occurrence.message,
      count,
      firstTimestampMs: firstMs,
      lastTimestampMs: lastMs,
      reportingInstance: this.#o.identity,
    });
  }
}

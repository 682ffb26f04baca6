/**
 * `leader` is Lease-based leader election with client-go's semantics (`leaderelection.go`): one
 * `coordination.k8s.io/v1` Lease, acquired when free or expired, renewed every retry period, given up
 * when renewal has failed for the renew deadline, released on stop. Only the leader writes Ingress
 * status and Events; every replica serves traffic regardless.
 *
 * Expiry is judged by the LOCAL clock, as client-go does: a candidate remembers when it last saw the
 * Lease change (its resourceVersion) and considers it expired once it has not changed for
 * `leaseDurationSeconds`. The `renewTime` written into the Lease is informational, so clock skew
 * between replicas cannot make two of them leaders.
 */
import {
  CoordinationV1Api,
  type KubeConfig,
  type V1Lease,
  type V1LeaseSpec,
  V1MicroTime,
} from '@kubernetes/client-node';
import type { Logger } from '../log/logger.js';
import type { PorticoMetrics } from '../metrics/registry.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import { realClock } from '../util/clock.js';
import { describeError, httpStatusOf } from './status/api.js';

/** `LeaseRecord` is the election part of a Lease's spec, in Portico's terms. */
export interface LeaseRecord {
  /** `''` when nobody holds the Lease (released). */
  readonly holderIdentity: string;
  readonly leaseDurationSeconds: number;
  /** Wall-clock milliseconds (Unix epoch); informational only, see the module comment. */
  readonly acquireTimeMs?: number;
  readonly renewTimeMs?: number;
  readonly leaseTransitions: number;
}

/** `LeaseState` is a Lease as read from the API server. */
export interface LeaseState {
  readonly resourceVersion: string;
  readonly record: LeaseRecord;
}

/**
 * `LeaseApi` is the Lease access election needs: get, create, update (all in `permissions.ts`). A
 * lost race must reject with an error whose `code` is 409 (client-node's `ApiException` does).
 */
export interface LeaseApi {
  /** Undefined when the Lease does not exist. */
  get(): Promise<LeaseState | undefined>;
  create(record: LeaseRecord): Promise<LeaseState>;
  /** Optimistic update: `previous.resourceVersion` must still be current, else 409. */
  update(previous: LeaseState, record: LeaseRecord): Promise<LeaseState>;
}

export interface LeaderElectorOptions {
  readonly api: LeaseApi;
  /** This replica's identity, written as `holderIdentity`. */
  readonly identity: string;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
  readonly logger: Logger;
  readonly metrics?: PorticoMetrics;
  /** Scheduling and expiry; monotonic. */
  readonly clock?: Clock;
  /** Wall-clock milliseconds for `acquireTime`/`renewTime`; default `Date.now`. */
  readonly wallClock?: () => number;
  /** Called when this replica becomes leader. Must not throw. */
  readonly onStartedLeading?: () => void;
  /** Called when this replica stops being leader (lost, deadline passed, or stopped). Must not throw. */
  readonly onStoppedLeading?: () => void;
  /** Release the Lease on `stop()` (client-go `ReleaseOnCancel`); default true. */
  readonly releaseOnStop?: boolean;
}

/**
 * `LeaderElector` runs the election loop. One attempt (GET, then create or update) runs at a time,
 * every `retryPeriodMs`; a separate deadline timer ends leadership when no attempt succeeded for
 * `renewDeadlineMs`, even if an API call hangs.
 */
export class LeaderElector {
  readonly #o: LeaderElectorOptions;
  readonly #clock: Clock;
  readonly #wall: () => number;
  readonly #log: Logger;
  #leading = false;
  /** Monotonic start time of the last successful acquire/renew. */
  #renewedAt = Number.NEGATIVE_INFINITY;
  #observed: LeaseState | undefined;
  /** Monotonic time the observed Lease was first seen with its current resourceVersion. */
  #observedAt = 0;
  #tickTimer: TimerHandle | undefined;
  #deadlineTimer: TimerHandle | undefined;
  #attempt: Promise<void> | undefined;
  /** Identifies the current attempt; bumped when an attempt times out, so its late result is ignored. */
  #attemptId = 0;
  #started = false;
  #stopped = false;

  constructor(options: LeaderElectorOptions) {
    if (
      !(options.leaseDurationMs > options.renewDeadlineMs && options.renewDeadlineMs > options.retryPeriodMs)
    )
      throw new Error('leader election needs leaseDuration > renewDeadline > retryPeriod');
    this.#o = options;
    this.#clock = options.clock ?? realClock;
    this.#wall = options.wallClock ?? Date.now;
    this.#log = options.logger.child({ component: 'leader-election', identity: options.identity });
  }

  /** `start` begins campaigning at once. */
  start(): void {
    if (this.#started || this.#stopped) return;
    this.#started = true;
    this.#o.metrics?.leader.set(0);
    this.#log.info(
      { leaseDurationMs: this.#o.leaseDurationMs, renewDeadlineMs: this.#o.renewDeadlineMs },
      'leader election started',
    );
    this.#schedule(0);
  }

  /**
   * `isLeader` is true while this replica holds the Lease and renewed it within the renew deadline.
   * The time check makes it false at the deadline even before the deadline timer has run.
   */
  isLeader(): boolean {
    return this.#leading && this.#clock.now() - this.#renewedAt < this.#o.renewDeadlineMs;
  }

  /**
   * `stop` ends campaigning: clears the timers, waits for the attempt in flight, stops leading and,
   * if it was leader, releases the Lease so another replica can take it at once.
   */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#clearTimers();
    await this.#attempt;
    const wasHolder = this.#leading || this.#observed?.record.holderIdentity === this.#o.identity;
    this.#setLeading(false, 'stopped');
    if (wasHolder && (this.#o.releaseOnStop ?? true)) await this.#release();
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#tickTimer = this.#clock.setTimeout(() => {
      this.#tickTimer = undefined;
      this.#tick();
    }, ms);
  }

  #tick(): void {
    if (this.#stopped || this.#attempt !== undefined) return;
    const id = ++this.#attemptId;
    // An API call can hang (client-node sets no request timeout). Give up on the attempt after the
    // renew deadline, so the loop keeps going; a late answer is ignored (its id is stale).
    let timer: TimerHandle | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = this.#clock.setTimeout(() => {
        if (this.#attemptId === id) {
          this.#attemptId++;
          this.#log.warn('leader election attempt timed out');
        }
        resolve();
      }, this.#o.renewDeadlineMs);
    });
    const attempt = this.#tryAcquireOrRenew(id).catch((err: unknown) => {
      // tryAcquireOrRenew handles API errors itself; this is a programming error. Keep campaigning.
      this.#log.error({ err }, 'leader election attempt failed unexpectedly');
    });
    this.#attempt = Promise.race([attempt, timeout]).finally(() => {
      if (timer !== undefined) this.#clock.clearTimeout(timer);
      this.#attempt = undefined;
      this.#schedule(this.#o.retryPeriodMs);
    });
  }

  /** One client-go `tryAcquireOrRenew`. */
  async #tryAcquireOrRenew(id: number): Promise<void> {
    const startedAt = this.#clock.now();
    const { api, identity } = this.#o;
    let current: LeaseState | undefined;
    try {
      current = await api.get();
    } catch (err) {
      this.#log.warn({ err: describeError(err) }, 'reading the leader Lease failed');
      return;
    }
    // Timed out meanwhile, or stopping: a new acquisition now would only have to be released.
    if (this.#attemptId !== id || this.#stopped) return;
    const wall = this.#wall();
    // The API counts whole seconds; rounding up never shortens the promise made to other replicas.
    const durationSeconds = Math.ceil(this.#o.leaseDurationMs / 1_000);
    if (current === undefined) {
      const record: LeaseRecord = {
        holderIdentity: identity,
        leaseDurationSeconds: durationSeconds,
        acquireTimeMs: wall,
        renewTimeMs: wall,
        leaseTransitions: 0,
      };
      await this.#write(id, () => api.create(record), startedAt, 'create');
      return;
    }
    if (current.resourceVersion !== this.#observed?.resourceVersion) {
      this.#observed = current;
      this.#observedAt = this.#clock.now();
    }
    const held = current.record;
    const heldByOther = held.holderIdentity !== '' && held.holderIdentity !== identity;
    if (heldByOther && this.#observedAt + held.leaseDurationSeconds * 1_000 > startedAt) {
      // Someone else holds a valid Lease. If we thought we led, we lost it: step down now rather
      // than at the renew deadline.
      if (this.#leading) this.#setLeading(false, `lease taken by ${held.holderIdentity}`);
      return;
    }
    const mine = held.holderIdentity === identity;
    const record: LeaseRecord = {
      holderIdentity: identity,
      leaseDurationSeconds: durationSeconds,
      acquireTimeMs: mine && held.acquireTimeMs !== undefined ? held.acquireTimeMs : wall,
      renewTimeMs: wall,
      leaseTransitions: mine ? held.leaseTransitions : held.leaseTransitions + 1,
    };
    await this.#write(id, () => api.update(current, record), startedAt, mine ? 'renew' : 'take over');
  }

  async #write(id: number, call: () => Promise<LeaseState>, startedAt: number, what: string): Promise<void> {
    let written: LeaseState;
    try {
      written = await call();
    } catch (err) {
      if (httpStatusOf(err) === 409) this.#log.debug({ what }, 'leader Lease changed underneath us (409)');
      else this.#log.warn({ what, err: describeError(err) }, 'writing the leader Lease failed');
      return;
    }
    // Even a timed-out write landed: remember the version, so the next update (or the release in
    // stop()) starts from it.
    this.#observed = written;
    this.#observedAt = this.#clock.now();
    if (this.#attemptId !== id || this.#stopped) return;
    // Count validity from when the attempt began: other replicas saw the old version at least that
    // long ago, so this is the conservative end of the window.
    this.#renewedAt = startedAt;
    this.#setLeading(true, what);
    this.#armDeadline();
  }

  #armDeadline(): void {
    if (this.#deadlineTimer !== undefined) this.#clock.clearTimeout(this.#deadlineTimer);
    const due = this.#renewedAt + this.#o.renewDeadlineMs - this.#clock.now();
    this.#deadlineTimer = this.#clock.setTimeout(
      () => {
        this.#deadlineTimer = undefined;
        if (this.#leading && !this.isLeader())
          this.#setLeading(false, 'failed to renew within the renew deadline');
      },
      Math.max(0, due),
    );
  }

  #setLeading(leading: boolean, why: string): void {
    if (this.#leading === leading) return;
    this.#leading = leading;
    this.#o.metrics?.leader.set(leading ? 1 : 0);
    if (leading) {
      this.#log.info({ why }, 'became leader: writing Ingress status and Events');
      this.#o.onStartedLeading?.();
    } else {
      if (this.#deadlineTimer !== undefined) this.#clock.clearTimeout(this.#deadlineTimer);
      this.#deadlineTimer = undefined;
      this.#log.warn({ why }, 'stopped leading: no more Ingress status or Event writes');
      this.#o.onStoppedLeading?.();
    }
  }

  /** client-go `release`: empty holder and a 1 s duration, so a candidate may take over at once. */
  async #release(): Promise<void> {
    const observed = this.#observed;
    if (observed === undefined || observed.record.holderIdentity !== this.#o.identity) return;
    const wall = this.#wall();
    try {
      await this.#o.api.update(observed, {
        holderIdentity: '',
        leaseDurationSeconds: 1,
        acquireTimeMs: wall,
        renewTimeMs: wall,
        leaseTransitions: observed.record.leaseTransitions,
      });
      this.#log.info('released the leader Lease');
    } catch (err) {
      this.#log.warn({ err: describeError(err) }, 'releasing the leader Lease failed; it expires on its own');
    }
  }

  #clearTimers(): void {
    if (this.#tickTimer !== undefined) this.#clock.clearTimeout(this.#tickTimer);
    if (this.#deadlineTimer !== undefined) this.#clock.clearTimeout(this.#deadlineTimer);
    this.#tickTimer = undefined;
    this.#deadlineTimer = undefined;
  }
}

/** `createLeaseApi` backs `LeaseApi` with client-node's CoordinationV1Api. */
export function createLeaseApi(kubeConfig: KubeConfig, namespace: string, name: string): LeaseApi {
  const api = kubeConfig.makeApiClient(CoordinationV1Api);
  const toState = (lease: V1Lease): LeaseState => {
    const spec = lease.spec ?? {};
    return {
      resourceVersion: lease.metadata?.resourceVersion ?? '',
      record: {
        holderIdentity: spec.holderIdentity ?? '',
        leaseDurationSeconds: spec.leaseDurationSeconds ?? 0,
        ...(spec.acquireTime ? { acquireTimeMs: new Date(spec.acquireTime).getTime() } : {}),
        ...(spec.renewTime ? { renewTimeMs: new Date(spec.renewTime).getTime() } : {}),
        leaseTransitions: spec.leaseTransitions ?? 0,
      },
    };
  };
  // MicroTime must be serialised with six fractional digits; client-node's V1MicroTime does that.
  const toSpec = (record: LeaseRecord): V1LeaseSpec => ({
    holderIdentity: record.holderIdentity,
    leaseDurationSeconds: record.leaseDurationSeconds,
    leaseTransitions: record.leaseTransitions,
    ...(record.acquireTimeMs !== undefined ? { acquireTime: new V1MicroTime(record.acquireTimeMs) } : {}),
    ...(record.renewTimeMs !== undefined ? { renewTime: new V1MicroTime(record.renewTimeMs) } : {}),
  });
  // The last Lease read, so an update keeps labels and annotations someone else may have set.
  let last: V1Lease | undefined;
  return {
    async get() {
      try {
        last = await api.readNamespacedLease({ name, namespace });
        return toState(last);
      } catch (err) {
        if (httpStatusOf(err) === 404) return undefined;
        throw err;
      }
    },
    async create(record) {
      last = await api.createNamespacedLease({
        namespace,
        body: {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name, namespace },
          spec: toSpec(record),
        },
      });
      return toState(last);
    },
    async update(previous, record) {
      const base = last?.metadata?.resourceVersion === previous.resourceVersion ? last : undefined;
      last = await api.replaceNamespacedLease({
        name,
        namespace,
        body: {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { ...base?.metadata, name, namespace, resourceVersion: previous.resourceVersion },
          spec: { ...base?.spec, ...toSpec(record) },
        },
      });
      return toState(last);
    },
  };
}

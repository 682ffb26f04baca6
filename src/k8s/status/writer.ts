/**
 * `writer` keeps `status.loadBalancer.ingress` of Portico's Ingresses right: the publish addresses on
 * every served Ingress, nothing on Ingresses of our class that are no longer served. It works like
 * Contour's `StatusUpdateHandler`: plan against the store, then get → mutate → compare → update per
 * Ingress, skipping no-ops and retrying on 409 Conflict. One pass runs at a time; requests arriving
 * meanwhile coalesce into one more pass (latest model wins).
 */
import type { Logger } from '../../log/logger.js';
import type { PorticoMetrics } from '../../metrics/registry.js';
import type { Ingress, IngressClass, LoadBalancerIngress } from '../../model/objects.js';
import { classifyIngress, indexClasses } from '../../model/translate/class.js';
import type { TranslateOptions } from '../../model/translate/translate.js';
import type { RoutingModel } from '../../model/types.js';
import type { ObjectStore } from '../../store/object-store.js';
import type { Clock } from '../../util/clock.js';
import { objectKey } from '../../util/keys.js';
import { normalizeAddresses, type PublishAddresses, sameAddresses } from './address.js';
import { describeError, httpStatusOf, type IngressStatusApi } from './api.js';
import { PassRunner } from './pass-runner.js';

/** `StatusChange` is one Ingress whose stored status differs from what it should be. */
export interface StatusChange {
  readonly namespace: string;
  readonly name: string;
  /** The addresses to write; empty clears the status. */
  readonly addresses: readonly LoadBalancerIngress[];
}

/** `OwnershipTest` says whether an Ingress belongs to our class right now. */
export type OwnershipTest = (ingress: Ingress) => boolean;

/** `ownershipTest` builds the class check from the IngressClasses in the store. */
export function ownershipTest(classes: readonly IngressClass[], options: TranslateOptions): OwnershipTest {
  const index = indexClasses(classes, options);
  return (ingress) => classifyIngress(ingress, index, options).served;
}

/** `servedIngresses` lists the `"namespace/name"` keys the model serves, last-good versions included. */
export function servedIngresses(model: RoutingModel): Set<string> {
  const served = new Set<string>();
  for (const r of model.ingresses) {
    if (r.state === 'served' || (r.state === 'rejected' && r.servingLastGood === true)) served.add(r.ingress);
  }
  return served;
}

/**
 * `planStatus` compares every stored Ingress with what its status should be and returns the ones to
 * write. Served → `addresses`; ours by class but reported as not served → empty; not ours by class →
 * never touched (when an Ingress moves to another controller, that controller overwrites the status,
 * and clearing it here would race with it); not in the model yet → left for the next run. The
 * store may lag a write by a moment; `StatusWriter.write` compares again after its GET, and the
 * periodic resync catches anything else.
 */
export function planStatus(
  ingresses: readonly Ingress[],
  model: RoutingModel,
  isOurs: OwnershipTest,
  addresses: readonly LoadBalancerIngress[],
): StatusChange[] {
  const served = servedIngresses(model);
  const reported = new Set(model.ingresses.map((r) => r.ingress));
  const want = normalizeAddresses(addresses);
  const changes: StatusChange[] = [];
  for (const ingress of ingresses) {
    const namespace = ingress.metadata.namespace ?? 'default';
    const key = objectKey(namespace, ingress.metadata.name);
    if (!isOurs(ingress) || !reported.has(key)) continue;
    const desired = served.has(key) ? want : [];
    const current = ingress.status?.loadBalancer?.ingress ?? [];
    if (sameAddresses(current, desired)) continue;
    changes.push({ namespace, name: ingress.metadata.name, addresses: desired });
  }
  return changes.sort((a, b) => (objectKey(a.namespace, a.name) < objectKey(b.namespace, b.name) ? -1 : 1));
}

/** `WriteOutcome` is how one Ingress' status write ended. */
export type WriteOutcome = 'updated' | 'unchanged' | 'gone' | 'foreign' | 'not-leader' | 'conflict' | 'error';

export interface StatusWriterOptions<Raw> {
  readonly api: IngressStatusApi<Raw>;
  readonly store: ObjectStore;
  readonly translate: TranslateOptions;
  /** Resolves the publish addresses for one pass (API calls for a NodePort Service). */
  readonly addresses: () => Promise<PublishAddresses>;
  /** Checked before every write: status is written by the leader only. */
  readonly isLeader: () => boolean;
  readonly logger: Logger;
  readonly metrics?: PorticoMetrics;
  readonly clock: Clock;
  /** Attempts per Ingress when the update hits 409 Conflict (each re-GETs). Default 5. */
  readonly maxAttempts?: number;
  /** Delay before a pass that had errors is retried. Default 5 s. */
  readonly retryDelayMs?: number;
}

/**
 * `StatusWriter` runs status passes, one at a time. `request` never blocks: it records that a pass
 * is wanted and starts one if none is running.
 */
export class StatusWriter<Raw = unknown> {
  readonly #o: StatusWriterOptions<Raw>;
  readonly #log: Logger;
  readonly #maxAttempts: number;
  #model: RoutingModel | undefined;
  readonly #runner: PassRunner;
  #reportedDisabled = false;
  #lastUnknown = '';

  constructor(options: StatusWriterOptions<Raw>) {
    this.#o = options;
    this.#log = options.logger.child({ component: 'ingress-status' });
    this.#maxAttempts = Math.max(1, options.maxAttempts ?? 5);
    this.#runner = new PassRunner(() => this.#pass(), options.clock, options.retryDelayMs);
  }

  /** `setModel` records the model in force and requests a pass. */
  setModel(model: RoutingModel): void {
    this.#model = model;
    this.request();
  }

  /** `request` asks for a pass (model or policy change, resync, leadership gained). */
  request(): void {
    this.#runner.request();
  }

  /** `idle` resolves once no pass is running or pending (tests). */
  idle(): Promise<void> {
    return this.#runner.idle();
  }

  /** `stop` ends status writing: no new pass starts, and the running one finishes its current write. */
  stop(): Promise<void> {
    return this.#runner.stop();
  }

  /** One pass; false when something failed and a retry is due. */
  async #pass(): Promise<boolean> {
    const model = this.#model;
    if (model === undefined || !this.#o.isLeader()) return true;
    let publish: PublishAddresses;
    try {
      publish = await this.#o.addresses();
    } catch (err) {
      this.#log.warn({ err: describeError(err) }, 'could not resolve the publish addresses; will retry');
      return false;
    }
    if (publish.kind === 'disabled') {
      if (!this.#reportedDisabled)
        this.#log.info('no --publish-service or --publish-status-address: Ingress status is not written');
      this.#reportedDisabled = true;
      return true;
    }
    if (publish.kind === 'unknown') {
      if (this.#lastUnknown !== publish.reason)
        this.#log.warn({ reason: publish.reason }, 'publish addresses unknown; Ingress status left as is');
      this.#lastUnknown = publish.reason;
      return true;
    }
    this.#lastUnknown = '';
    const { store, translate } = this.#o;
    const isOurs = ownershipTest(
      store.list('IngressClass').map((s) => s.object),
      translate,
    );
    const ingresses = store.list('Ingress').map((s) => s.object);
    const changes = planStatus(ingresses, model, isOurs, publish.addresses);
    let ok = true;
    for (const change of changes) {
      if (this.#runner.stopped || !this.#o.isLeader()) break;
      const outcome = await this.write(change, isOurs);
      if (outcome === 'error' || outcome === 'conflict') ok = false;
    }
    return ok;
  }

  /**
   * `write` brings one Ingress' status to `change.addresses`: GET, check it is still ours, compare,
   * update with the fetched resourceVersion; on 409 Conflict start again, up to `maxAttempts` times.
   */
  async write(change: StatusChange, isOurs: OwnershipTest): Promise<WriteOutcome> {
    const { api, metrics } = this.#o;
    const key = objectKey(change.namespace, change.name);
    for (let attempt = 1; attempt <= this.#maxAttempts; attempt++) {
      let fetched: Awaited<ReturnType<IngressStatusApi<Raw>['getIngress']>>;
      try {
        fetched = await api.getIngress(change.namespace, change.name);
      } catch (err) {
        metrics?.statusUpdates.inc({ outcome: 'error' });
        this.#log.warn(
          { ingress: key, err: describeError(err) },
          'reading Ingress for a status update failed',
        );
        return 'error';
      }
      if (fetched === undefined) return 'gone';
      // The store may lag: the Ingress may have moved to another class since. Never write then.
      if (!isOurs(fetched.ingress)) return 'foreign';
      if (sameAddresses(fetched.ingress.status?.loadBalancer?.ingress, change.addresses)) {
        metrics?.statusUpdates.inc({ outcome: 'unchanged' });
        return 'unchanged';
      }
      // Leadership may have ended during the GET; the renew deadline bounds how stale this check is.
      if (this.#runner.stopped || !this.#o.isLeader()) return 'not-leader';
      try {
        await api.updateIngressStatus(fetched, change.addresses);
        metrics?.statusUpdates.inc({ outcome: 'updated' });
        this.#log.info(
          { ingress: key, addresses: change.addresses.map((a) => a.ip ?? a.hostname) },
          change.addresses.length > 0 ? 'Ingress status updated' : 'Ingress status cleared',
        );
        return 'updated';
      } catch (err) {
        const status = httpStatusOf(err);
        if (status === 409) {
          metrics?.statusUpdates.inc({ outcome: 'conflict' });
          continue;
        }
        if (status === 404) return 'gone';
        metrics?.statusUpdates.inc({ outcome: 'error' });
        this.#log.warn({ ingress: key, err: describeError(err) }, 'Ingress status update failed');
        return 'error';
      }
    }
    this.#log.warn(
      { ingress: key, attempts: this.#maxAttempts },
      'Ingress status update kept conflicting; will retry',
    );
    return 'conflict';
  }
}

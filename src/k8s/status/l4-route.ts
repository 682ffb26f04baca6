/**
 * `l4-route` writes the status of L4Routes: `status.mode` (the `--l4-mode` in force) and the
 * `Accepted` condition the L4 translation gave the route (src/l4/translate.ts), so `kubectl get
 * l4r` says whether Portico serves a route, in which mode, and `kubectl describe` why not. Same
 * rules as the RateLimitPolicy writer: leader only, GET then PUT of the status subresource with
 * the fetched resourceVersion (409 → again, bounded), no write when the status already says it.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { L4Mode, L4RouteVerdict } from '../../l4/translate.js';
import type { Logger } from '../../log/logger.js';
import type { Condition, L4Route } from '../../model/objects.js';
import type { ObjectStore } from '../../store/object-store.js';
import type { Clock } from '../../util/clock.js';
import { objectKey } from '../../util/keys.js';
import {
  ACCEPTED,
  customStatusClient,
  type StatusWriteOutcome,
  sameCondition,
  withCondition,
  writeStatus,
} from './conditions.js';
import { PassRunner } from './pass-runner.js';

export interface L4RouteStatus {
  readonly observedGeneration?: number;
  readonly mode: L4Mode;
  readonly conditions: readonly Condition[];
}

/**
 * `desiredL4RouteStatus` is the status to write, or undefined when the current one already says
 * it (pure). A route the translation did not see (stored after it ran) gets no write yet.
 */
export function desiredL4RouteStatus(
  route: L4Route,
  verdict: L4RouteVerdict | undefined,
  mode: L4Mode,
  now: string,
): L4RouteStatus | undefined {
  if (verdict === undefined) return undefined;
  const generation = route.metadata.generation;
  const want: Condition = {
    type: ACCEPTED,
    status: verdict.accepted ? 'True' : 'False',
    reason: verdict.reason,
    message: `${verdict.message} (--l4-mode ${mode})`,
    lastTransitionTime: now,
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
  };
  const conditions = route.status?.conditions ?? [];
  if (
    sameCondition(
      conditions.find((c) => c.type === ACCEPTED),
      want,
    ) &&
    route.status?.observedGeneration === generation &&
    route.status?.mode === mode
  )
    return undefined;
  return {
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
    mode,
    conditions: withCondition(conditions, want),
  };
}

export interface FetchedL4Route {
  readonly route: L4Route;
  readonly raw: Readonly<Record<string, unknown>>;
}

export interface L4RouteStatusApi {
  getRoute(namespace: string, name: string): Promise<FetchedL4Route | undefined>;
  updateRouteStatus(fetched: FetchedL4Route, status: L4RouteStatus): Promise<void>;
}

export function createL4RouteStatusApi(kubeConfig: KubeConfig): L4RouteStatusApi {
  const client = customStatusClient(kubeConfig, 'L4Route');
  return {
    async getRoute(namespace, name) {
      const fetched = await client.get(namespace, name);
      return fetched === undefined ? undefined : { route: fetched.object, raw: fetched.raw };
    },
    updateRouteStatus: (fetched, status) =>
      client.replaceStatus({ object: fetched.route, raw: fetched.raw }, status),
  };
}

export interface L4RouteStatusWriterOptions {
  readonly api: L4RouteStatusApi;
  readonly store: ObjectStore;
  readonly mode: L4Mode;
  /** The verdicts of the current L4 translation, keyed `"namespace/name"` (computed on each pass). */
  readonly verdicts: () => ReadonlyMap<string, L4RouteVerdict>;
  readonly isLeader: () => boolean;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly maxAttempts?: number;
  readonly retryDelayMs?: number;
}

export type L4RouteWriteOutcome = StatusWriteOutcome;

/** `L4RouteStatusWriter` runs passes over every stored L4Route, one pass at a time. */
export class L4RouteStatusWriter {
  readonly #o: L4RouteStatusWriterOptions;
  readonly #log: Logger;
  readonly #maxAttempts: number;
  readonly #runner: PassRunner;

  constructor(options: L4RouteStatusWriterOptions) {
    this.#o = options;
    this.#log = options.logger.child({ component: 'l4route-status' });
    this.#maxAttempts = Math.max(1, options.maxAttempts ?? 5);
    this.#runner = new PassRunner(() => this.#pass(), options.clock, options.retryDelayMs);
  }

  request(): void {
    this.#runner.request();
  }

  idle(): Promise<void> {
    return this.#runner.idle();
  }

  stop(): Promise<void> {
    return this.#runner.stop();
  }

  async #pass(): Promise<boolean> {
    if (!this.#o.isLeader()) return true;
    const verdicts = this.#o.verdicts();
    let ok = true;
    for (const { object } of this.#o.store.list('L4Route')) {
      if (this.#runner.stopped || !this.#o.isLeader()) break;
      const key = objectKey(object.metadata.namespace ?? 'default', object.metadata.name);
      if (desiredL4RouteStatus(object, verdicts.get(key), this.#o.mode, this.#now()) === undefined) continue;
      const outcome = await this.#write(
        object.metadata.namespace ?? 'default',
        object.metadata.name,
        verdicts,
      );
      if (outcome === 'error' || outcome === 'conflict') ok = false;
    }
    return ok;
  }

  #now(): string {
    return new Date(this.#o.clock.now()).toISOString().replace(/\.\d{3}Z$/, 'Z');
  }

  #write(
    namespace: string,
    name: string,
    verdicts: ReadonlyMap<string, L4RouteVerdict>,
  ): Promise<L4RouteWriteOutcome> {
    const key = objectKey(namespace, name);
    return writeStatus({
      kind: 'L4Route',
      field: 'route',
      key,
      maxAttempts: this.#maxAttempts,
      logger: this.#log,
      get: () => this.#o.api.getRoute(namespace, name),
      desired: (fetched) => desiredL4RouteStatus(fetched.route, verdicts.get(key), this.#o.mode, this.#now()),
      put: (fetched, status) => this.#o.api.updateRouteStatus(fetched, status),
      mayWrite: () => !this.#runner.stopped && this.#o.isLeader(),
    });
  }
}

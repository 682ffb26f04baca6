/**
 * `reporting` is cluster mode's write side towards the API server: Lease-based leader election, and,
 * while leader, Ingress `status.loadBalancer` and Warning Events for diagnostics. The controller
 * calls `onModel` after every run; everything it starts runs in the background, one writer at a
 * time, so a slow or failing API server never holds up routing.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { ClusterConfig } from '../cli/flags.js';
import { type L4TranslateOptions, translateL4 } from '../l4/translate.js';
import type { Logger } from '../log/logger.js';
import type { PorticoMetrics } from '../metrics/registry.js';
import type { TranslateOptions } from '../model/translate/translate.js';
import type { RoutingModel } from '../model/types.js';
import type { ObjectStore } from '../store/object-store.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import { realClock } from '../util/clock.js';
import { createEventApi, type EventApi, EventRecorder } from './events.js';
import { createLeaseApi, LeaderElector, type LeaseApi } from './leader.js';
import { type NodeLookup, resolvePublishAddresses } from './status/address.js';
import { createIngressStatusApi, createNodeLookup, type IngressStatusApi } from './status/api.js';
import { createL4RouteStatusApi, type L4RouteStatusApi, L4RouteStatusWriter } from './status/l4-route.js';
import { createPolicyStatusApi, type PolicyStatusApi, PolicyStatusWriter } from './status/policy.js';
import { StatusWriter } from './status/writer.js';

/** `ClusterReportingOptions` is what `createClusterReporting` needs; `run-cluster.ts` supplies it. */
export interface ClusterReportingOptions {
  readonly kubeConfig: KubeConfig;
  readonly store: ObjectStore;
  readonly cluster: ClusterConfig;
  readonly translate: TranslateOptions;
  readonly logger: Logger;
  readonly metrics: PorticoMetrics;
  readonly clock?: Clock;
  /** The L4 translation's options (mode, ConfigMaps, reserved ports): L4Route status says what it gives. */
  readonly l4?: L4TranslateOptions;
}

/** `ClusterReporting` is the handle cluster mode holds. */
export interface ClusterReporting {
  /** Starts leader election (and, once leader, status and Events). */
  start(): void;
  /** Takes the model in force after a controller run. Never blocks, never throws. */
  onModel(model: RoutingModel, generation: number): void;
  /** True while this replica is the leader. */
  isLeader(): boolean;
  /** Stops writing status and Events, waits for the write in flight, releases the Lease. */
  stop(): Promise<void>;
}

/**
 * `ReportingApis` are the API edges reporting uses; `createClusterReporting` builds them from the
 * kubeconfig, tests may pass fakes to `createClusterReportingWith`.
 */
export interface ReportingApis {
  readonly leases: LeaseApi;
  readonly ingresses: IngressStatusApi;
  readonly nodes: NodeLookup;
  readonly events: EventApi;
  /** RateLimitPolicy status; absent: not written (tests that do not care). */
  readonly policies?: PolicyStatusApi;
  /** L4Route status; absent (or no `l4` options): not written. */
  readonly l4Routes?: L4RouteStatusApi;
}

/** How often the leader re-checks every Ingress' status even without a model change (ingress-nginx: 60 s). */
export const STATUS_RESYNC_MS = 60_000;

/** `createClusterReporting` wires leader election, the status writer and the Event recorder. */
export function createClusterReporting(options: ClusterReportingOptions): ClusterReporting {
  return createClusterReportingWith(options, createReportingApis(options.kubeConfig, options.cluster));
}

/** `createReportingApis` builds the client-node backed API edges for one kubeconfig. */
export function createReportingApis(kubeConfig: KubeConfig, cluster: ClusterConfig): ReportingApis {
  return {
    leases: createLeaseApi(kubeConfig, cluster.election.namespace, cluster.election.leaseName),
    ingresses: createIngressStatusApi(kubeConfig),
    nodes: createNodeLookup(kubeConfig),
    events: createEventApi(kubeConfig),
    policies: createPolicyStatusApi(kubeConfig),
    l4Routes: createL4RouteStatusApi(kubeConfig),
  };
}

/** `ReportingTuning` overrides intervals that are fixed in production, for tests. */
export interface ReportingTuning {
  /** Periodic status pass while leader; default {@link STATUS_RESYNC_MS}. */
  readonly statusResyncMs?: number;
  /** Minimum time between two patches of one Event; default one minute (client-go). */
  readonly eventPatchIntervalMs?: number;
}

/** `createClusterReportingWith` is `createClusterReporting` with the API edges supplied. */
export function createClusterReportingWith(
  options: Omit<ClusterReportingOptions, 'kubeConfig'> & ReportingTuning,
  apis: ReportingApis,
): ClusterReporting {
  const { store, cluster, translate, metrics } = options;
  const clock = options.clock ?? realClock;
  const logger = options.logger.child({ component: 'cluster-reporting' });
  const resyncMs = options.statusResyncMs ?? STATUS_RESYNC_MS;
  let model: RoutingModel | undefined;
  let started = false;
  let stopped = false;
  let resyncTimer: TimerHandle | undefined;

  // Late-bound: the elector's callbacks need the writer and recorder, which need `isLeader`.
  const isLeader = (): boolean => elector.isLeader();
  const status = new StatusWriter({
    api: apis.ingresses,
    store,
    translate,
    addresses: () => resolvePublishAddresses(cluster, store, apis.nodes),
    isLeader,
    logger,
    metrics,
    clock,
  });
  const events = new EventRecorder({
    api: apis.events,
    store,
    identity: cluster.election.identity,
    isLeader,
    logger,
    metrics,
    clock,
    ...(options.eventPatchIntervalMs !== undefined ? { intervalMs: options.eventPatchIntervalMs } : {}),
  });
  const policyStatus =
    apis.policies === undefined
      ? undefined
      : new PolicyStatusWriter({ api: apis.policies, store, isLeader, logger, clock });
  const l4 = options.l4;
  const l4RouteStatus =
    apis.l4Routes === undefined || l4 === undefined
      ? undefined
      : new L4RouteStatusWriter({
          api: apis.l4Routes,
          store,
          mode: l4.mode,
          // Pure and cheap (one pass over routes and their Services): recomputed per status pass.
          verdicts: () =>
            translateL4(
              {
                configMaps: store.list('ConfigMap'),
                routes: store.list('L4Route'),
                services: store.list('Service'),
                endpointSlices: store.list('EndpointSlice'),
              },
              l4,
            ).routeStatus,
          isLeader,
          logger,
          clock,
        });
  const resync = (): void => {
    resyncTimer = undefined;
    if (stopped) return;
    // The NodePort address source (pods → nodes) changes without any model change; so can the store
    // miss a write of ours. A periodic pass catches both; unchanged Ingresses cost nothing.
    if (elector.isLeader()) {
      status.request();
      policyStatus?.request();
      l4RouteStatus?.request();
    }
    resyncTimer = clock.setTimeout(resync, resyncMs);
  };
  const elector = new LeaderElector({
    api: apis.leases,
    identity: cluster.election.identity,
    leaseDurationMs: cluster.election.leaseDurationMs,
    renewDeadlineMs: cluster.election.renewDeadlineMs,
    retryPeriodMs: cluster.election.retryPeriodMs,
    logger,
    metrics,
    clock,
    onStartedLeading: () => {
      // The new leader writes everything once: the old one may have died mid-pass.
      status.request();
      policyStatus?.request();
      l4RouteStatus?.request();
      if (model !== undefined) events.observe(model);
    },
    onStoppedLeading: () => events.reset(),
  });

  return {
    start() {
      if (started || stopped) return;
      started = true;
      elector.start();
      resyncTimer = clock.setTimeout(resync, resyncMs);
    },
    onModel(next) {
      if (stopped) return;
      try {
        model = next;
        status.setModel(next);
        // Every full run follows a store change, RateLimitPolicy edits included.
        policyStatus?.request();
        l4RouteStatus?.request();
        events.observe(next);
      } catch (err) {
        // Reporting must never fail the controller.
        logger.error({ err }, 'cluster reporting failed to take a model');
      }
    },
    isLeader,
    async stop() {
      if (stopped) return;
      stopped = true;
      if (resyncTimer !== undefined) clock.clearTimeout(resyncTimer);
      resyncTimer = undefined;
      // Writers first, so nothing is written after the Lease is released.
      await Promise.all([status.stop(), events.stop(), policyStatus?.stop(), l4RouteStatus?.stop()]);
      await elector.stop();
    },
  };
}

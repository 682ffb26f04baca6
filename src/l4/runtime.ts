/**
 * `runtime` runs the L4 path inside the Portico process: on every store change (debounced like the
 * HTTP controller) it translates the services ConfigMaps and L4Routes into an `L4State` (pure,
 * `translate.ts`) and hands it to the mode in force: the user-space proxies, or the kernel sync
 * loop (`sync.ts`, which applies only when the rendered rules change). One mode per process, as
 * kube-proxy's `--proxy-mode`.
 */
import type { Logger } from '../log/logger.js';
import type { PorticoMetrics } from '../metrics/registry.js';
import { type Diagnostic, describeDiagnostic } from '../model/diagnostics.js';
import type { ObjectStore } from '../store/object-store.js';
import type { Exec } from './apply/restore.js';
import { hostPort, type L4Rejection, type L4State } from './model.js';
import {
  createKernelL4,
  type KernelL4,
  type KernelL4Loop,
  type KernelMode,
  type SyncOutcome,
  startKernelL4Loop,
} from './sync.js';
import {
  isKernelMode,
  type L4Mode,
  type L4RouteVerdict,
  type L4TranslateOptions,
  translateL4,
} from './translate.js';
import { UserspaceL4 } from './userspace/manager.js';

export interface L4RuntimeOptions {
  readonly store: ObjectStore;
  readonly translate: L4TranslateOptions;
  readonly logger: Logger;
  /** Address the user-space listeners bind. */
  readonly bindAddress: string;
  /** Kernel modes: remove everything Portico owns when the process stops (`--cleanup-on-exit`). */
  readonly cleanupOnExit?: boolean;
  /** Kernel modes: a full sync at least this often (`--l4-full-sync-period`, default 1 h). */
  readonly fullSyncPeriodMs?: number;
  /** Store changes are gathered this long before a translation (default 100 ms). */
  readonly holdoffMs?: number;
  /** Rejected L4Routes and services ConfigMap entries are counted in `portico_config_rejected_objects`. */
  readonly metrics?: Pick<PorticoMetrics, 'rejectedObjects'>;
  /** Kernel modes: how the tools are run (default: spawned in this namespace); injectable for tests. */
  readonly exec?: Exec;
}

/**
 * `portico_config_rejected_objects` kinds of the L4 path: L4Routes whose Accepted condition is
 * False, and entries of the --tcp/--udp-services-configmap ConfigMaps that were rejected (an entry
 * is the unit rejected there, not its ConfigMap: the other entries keep working).
 */
export const L4_REJECTED_KINDS = { route: 'L4Route', entry: 'ServicesConfigMapEntry' } as const;

/** What the L4 path serves and why some of it is not served: the `l4` part of the admin `/routes`. */
export interface L4Report {
  readonly mode: L4Mode;
  readonly services: readonly {
    readonly name: string;
    readonly listenPort: number;
    readonly protocol: string;
    readonly endpoints: readonly string[];
  }[];
  readonly portRedirects: NonNullable<L4State['portRedirects']>;
  /** Per L4Route (`"namespace/name"`): what its Accepted condition says. */
  readonly routes: Readonly<Record<string, L4RouteVerdict>>;
  /** Translation problems: rejected entries and routes (errors), services without endpoints (warnings). */
  readonly diagnostics: readonly Diagnostic[];
  /** Services the mode could not serve (renderer or listener), with the field at fault. */
  readonly notServed: readonly L4Rejection[];
  /** Kernel modes: the last sync, and its error when it failed (the next one is then full). */
  readonly lastSync?: { readonly kind: SyncOutcome['kind']; readonly error?: string };
}

const EMPTY: L4State = { services: [] };

/** `L4Runtime` owns the L4 data path of one process. */
export class L4Runtime {
  readonly #o: L4RuntimeOptions;
  readonly #log: Logger;
  #state: L4State = EMPTY;
  #reported = new Set<string>();
  #diagnostics: readonly Diagnostic[] = [];
  #routeStatus: ReadonlyMap<string, L4RouteVerdict> = new Map();
  #notServed: readonly L4Rejection[] = [];
  #lastSync: L4Report['lastSync'];
  #timer: NodeJS.Timeout | undefined;
  #userspace: UserspaceL4 | undefined;
  /** Kernel modes: starts the sync loop, at the first translation (see `#sync`). */
  #startKernel: (() => KernelL4Loop) | undefined;
  #kernelL4: KernelL4 | undefined;
  #kernel: KernelL4Loop | undefined;
  #applying: Promise<void> = Promise.resolve();
  #stopped = false;
  /**
   * Set by the first `syncNow` (the caller's complete first picture: file mode after the first
   * load, cluster mode once every informer has listed). Changes before it are not translated: a
   * partial store would become the state a kernel mode adopts, deleting the services not yet seen.
   */
  #primed = false;

  constructor(options: L4RuntimeOptions) {
    this.#o = options;
    this.#log = options.logger.child({ component: 'l4', mode: options.translate.mode });
    const mode = options.translate.mode;
    if (isKernelMode(mode)) {
      const kernel = createKernelL4(mode as KernelMode, {
        ...(options.fullSyncPeriodMs !== undefined ? { fullSyncPeriodMs: options.fullSyncPeriodMs } : {}),
        ...(options.translate.ipFamily !== undefined ? { ipFamily: options.translate.ipFamily } : {}),
        ...(options.exec !== undefined ? { exec: options.exec } : {}),
      });
      this.#kernelL4 = kernel;
      this.#startKernel = () =>
        startKernelL4Loop({
          kernel,
          state: () => this.#state,
          ...(options.cleanupOnExit !== undefined ? { cleanupOnExit: options.cleanupOnExit } : {}),
          onSync: (outcome) => {
            this.#notServed = outcome.rejected;
            this.#lastSync = {
              kind: outcome.kind,
              ...(outcome.error !== undefined ? { error: outcome.error.message } : {}),
            };
            if (outcome.error !== undefined) {
              this.#log.error(
                { err: outcome.error.message },
                'L4 rules could not be applied; the next sync is full',
              );
            } else if (outcome.kind !== 'skipped') {
              this.#log.info(
                { sync: outcome.kind, bytes: outcome.payloadBytes, rejected: outcome.rejected.length },
                'L4 rules applied',
              );
            }
            for (const r of outcome.rejected) this.#log.warn(r, 'L4 service not rendered');
          },
        });
    } else {
      this.#userspace = new UserspaceL4({
        bindAddress: options.bindAddress,
        onError: (message) => this.#log.debug({ message }, 'L4 proxy error'),
      });
    }
  }

  /** The services in force (for tests and explain). */
  get state(): L4State {
    return this.#state;
  }

  /** `notify` is called on every store change; a translation follows after the holdoff (once primed by `syncNow`). */
  notify(): void {
    if (this.#stopped || !this.#primed || this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.syncNow();
    }, this.#o.holdoffMs ?? 100);
    this.#timer.unref();
  }

  /** `syncNow` translates the store and applies the result; resolves when the mode took it. */
  syncNow(): Promise<void> {
    this.#primed = true;
    this.#applying = this.#applying.then(() => this.#sync());
    return this.#applying;
  }

  async #sync(): Promise<void> {
    if (this.#stopped) return;
    const store = this.#o.store;
    const translation = translateL4(
      {
        configMaps: store.list('ConfigMap'),
        routes: store.list('L4Route'),
        services: store.list('Service'),
        endpointSlices: store.list('EndpointSlice'),
      },
      this.#o.translate,
    );
    this.#report(translation.diagnostics);
    this.#observe(translation.diagnostics);
    this.#diagnostics = translation.diagnostics;
    this.#routeStatus = translation.routeStatus;
    this.#state = translation.state;
    if (this.#startKernel !== undefined) {
      // The loop starts with the first translated state, not before: its first run is the full
      // sync that adopts the rules a previous process left, and adopting an empty state would
      // delete every service until the next run (a black hole across each restart).
      if (this.#kernel === undefined) this.#kernel = this.#startKernel();
      else this.#kernel.request();
      return;
    }
    const result = await this.#userspace?.apply(translation.state);
    this.#notServed = result?.rejected ?? [];
    for (const r of result?.rejected ?? []) this.#log.warn(r, 'L4 service not served');
  }

  /** Both kinds are set on every translation, so a fixed object brings its count back to 0. */
  #observe(diagnostics: readonly Diagnostic[]): void {
    const m = this.#o.metrics;
    if (m === undefined) return;
    const routes = new Set<string>();
    const entries = new Set<string>();
    for (const d of diagnostics) {
      if (d.code === 'PORTICO_ERR_L4_ROUTE_INVALID') routes.add(d.object);
      else if (d.code === 'PORTICO_ERR_L4_ENTRY_INVALID') entries.add(`${d.object}\u0000${d.field}`);
    }
    m.rejectedObjects.set({ kind: L4_REJECTED_KINDS.route }, routes.size);
    m.rejectedObjects.set({ kind: L4_REJECTED_KINDS.entry }, entries.size);
  }

  /** `report` is what the admin `/routes` shows of the L4 path. */
  report(): L4Report {
    return {
      mode: this.#o.translate.mode,
      services: this.#state.services.map((s) => ({
        name: s.name,
        listenPort: s.listenPort,
        protocol: s.protocol,
        endpoints: s.endpoints.map((e) => hostPort(e.address, e.port)),
      })),
      portRedirects: this.#state.portRedirects ?? [],
      routes: Object.fromEntries(this.#routeStatus),
      diagnostics: this.#diagnostics,
      notServed: this.#notServed,
      ...(this.#lastSync !== undefined ? { lastSync: this.#lastSync } : {}),
    };
  }

  #report(diagnostics: readonly Diagnostic[]): void {
    const seen = new Set<string>();
    for (const d of diagnostics) {
      const id = `${d.field}\u0000${d.message}`;
      seen.add(id);
      if (!this.#reported.has(id)) this.#log.warn(describeDiagnostic(d), 'L4 configuration problem');
    }
    this.#reported = seen;
  }

  /** `stop` closes the user-space listeners, or stops the kernel loop (rules stay unless told). */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    await this.#applying.catch(() => undefined);
    await this.#userspace?.close();
    if (this.#kernel !== undefined) await this.#kernel.stop();
    else if (this.#o.cleanupOnExit === true) await this.#kernelL4?.cleanup();
  }
}

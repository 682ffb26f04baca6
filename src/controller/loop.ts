/**
 * `loop` is the controller: source changes → debounce → (not before synced) → last-good selection →
 * translate → compile → diff against the running model → publish with one atomic swap. EndpointSlice
 * changes take a fast path that rebuilds only the endpoint table (DESIGN §1, §4).
 */
import { isDeepStrictEqual } from 'node:util';
import type { RouteSnapshot } from '../compile/types.js';
import type { EndpointTable, UpstreamEndpoint } from '../endpoints/types.js';
import type { Logger } from '../log/logger.js';
import type { PorticoMetrics } from '../metrics/registry.js';
import { type Diagnostic, describeDiagnostic, formatLocation, objectLabel } from '../model/diagnostics.js';
import {
  type EndpointSlice,
  type Ingress,
  type IngressClass,
  type KubeKind,
  SERVICE_NAME_LABEL,
} from '../model/objects.js';
import { type LastGoodPolicies, resolveRateLimitPolicies } from '../model/rate-limit-policy.js';
import { DEFAULT_NO_AUTH_LOCATIONS, globalAuthPolicy } from '../model/settings/global-auth.js';
import { resolveGlobalHeaders } from '../model/settings/global-headers.js';
import { type GoodValues, parseConfigMapSettings } from '../model/settings/parse.js';
import type { GlobalSettings } from '../model/settings/types.js';
import type { RouteDefaults, TranslateInput, TranslateOptions } from '../model/translate/translate.js';
import type { BackendRef, ExternalAuthPolicy, IngressReport, Route, RoutingModel } from '../model/types.js';
import { authSecretUses } from '../policy/auth/auth-secrets.js';
import type { StoredObject } from '../store/object-store.js';
import { caSecretReferences } from '../tls/ca-bundles.js';
import type { TlsTable } from '../tls/certificates.js';
import { type DefaultCertificateRef, sameTable, TlsTableBuilder } from '../tls/table.js';
import type { Clock } from '../util/clock.js';
import { DEFAULT_HOLDOFF_MS, DEFAULT_MAX_DELAY_MS, Debouncer } from './debounce.js';
import { LastGoodIngresses, type OwnershipCheck, type Rejection } from './last-good.js';
import type { ConfigSource, SourceChange } from './source.js';

/**
 * `Pipeline` is the pure half of the controller, injected so the loop can be tested with fakes.
 * `pipeline.ts` wires the real implementations.
 */
export interface Pipeline {
  translate(input: TranslateInput, options: TranslateOptions): RoutingModel;
  validateIngress(stored: StoredObject<Ingress>): readonly Diagnostic[];
  compileSnapshot(model: RoutingModel, generation: number): RouteSnapshot;
  buildEndpointTable(slices: readonly EndpointSlice[], backends: Iterable<BackendRef>): EndpointTable;
  collectBackends(model: RoutingModel): BackendRef[];
  /** Decides class membership, so only our Ingresses are validated; absent = validate all. */
  ownership?(classes: readonly IngressClass[], options: TranslateOptions): OwnershipCheck;
}

/** `RouteSink` is the part of the data plane the controller drives. */
export interface RouteSink {
  publishRoutes(snapshot: RouteSnapshot): void;
  publishEndpoints(table: EndpointTable): void;
  setReady(ready: boolean): void;
  /**
   * Applies new global settings (ConfigMap over flag defaults) live. Called on the first full run
   * and then only when the effective settings changed. Optional so that sinks without live
   * settings (test fakes) need not implement it.
   */
  applySettings?(settings: GlobalSettings): void;
  /**
   * Installs the checked TLS certificates by SNI name. Called on the first full run and then when
   * a certificate changed (a Secret rotated, a host moved). Optional like `applySettings`.
   */
  publishTls?(table: TlsTable): void;
}

/** `SettingsConfigMapRef` names the ConfigMap holding global settings (`--configmap NS/NAME`). */
export interface SettingsConfigMapRef {
  readonly namespace: string;
  readonly name: string;
}

export interface ControllerOptions {
  readonly source: ConfigSource;
  readonly sink: RouteSink;
  readonly pipeline: Pipeline;
  readonly translateOptions: TranslateOptions;
  readonly logger: Logger;
  readonly clock?: Clock;
  readonly holdoffMs?: number;
  readonly maxDelayMs?: number;
  /**
   * Called after every full run with the model in force (the running one when nothing changed).
   * Cluster mode hangs Ingress status and Kubernetes Events off it; it must not throw (a throw is
   * logged and the loop carries on).
   */
  readonly onModel?: (model: RoutingModel, generation: number) => void;
  readonly metrics?: PorticoMetrics;
  /** Extra fields for the per-load log line, e.g. documents of kinds the source skipped. */
  readonly describeSource?: () => Record<string, unknown>;
  /**
   * The flag defaults of the global settings (`baseSettings(config.proxy)`). Given, every full run
   * computes the effective settings and hands them to `sink.applySettings` when they changed.
   */
  readonly settingsBase?: GlobalSettings;
  /**
   * The ConfigMap whose `data` overrides `settingsBase` (`config.cluster.configMap`); read from the
   * source's store on every full run. Needs `settingsBase`.
   */
  readonly settingsConfigMap?: SettingsConfigMapRef;
  /** `--default-ssl-certificate`: read from the store on every full run, like the TLS Secrets. */
  readonly defaultCertificate?: DefaultCertificateRef;
}

/** `LoadOutcome` describes one controller run, for tests and the load log line. */
export interface LoadOutcome {
  /** `skipped`: only ConfigMaps changed, none of them one the last full run read. */
  readonly kind: 'full' | 'endpoints' | 'not-synced' | 'failed' | 'skipped';
  readonly routesPublished: boolean;
  readonly endpointsPublished: boolean;
  readonly generation: number;
}

/** Lists in the log line are capped, so one broken folder cannot produce a megabyte line. */
const MAX_LISTED = 50;

/**
 * `Controller` turns source changes into published snapshots. Everything runs on the event loop
 * in one `#run` at a time, so there is no locking: the debouncer carries no payload and `#run`
 * reads the store as it is at that moment (latest wins).
 */
export class Controller {
  readonly #o: ControllerOptions;
  readonly #log: Logger;
  readonly #debouncer: Debouncer;
  /** Zero holdoff: coalesces the EndpointSlice events of one tick (one relist, one scale step). */
  readonly #endpointsDebouncer: Debouncer;
  readonly #lastGood: LastGoodIngresses;
  #dirtyKinds = new Set<KubeKind>();
  #dirtyDiagnostics = false;
  #model: RoutingModel | undefined;
  #endpoints: EndpointTable | undefined;
  /** EndpointSlices as last seen, by `namespace/name`: tells which Services an event touched. */
  #slices = new Map<string, EndpointSlice>();
  /** Backends of the running model by Service (`namespace/name`). */
  #backendsByService = new Map<string, BackendRef[]>();
  #generation = 0;
  #ready = false;
  #stopped = false;
  readonly #runs: LoadOutcome[] = [];
  #settings: GlobalSettings | undefined;
  /** ConfigMaps the last full run read → the stored object it saw (undefined: missing). */
  #configMapsSeen: Map<string, unknown> | undefined;
  #settingsGood: GoodValues = new Map();
  /** RateLimitPolicy → config of its last valid version (a rejected edit keeps it in force). */
  #policiesGood: LastGoodPolicies = new Map();
  /** Settings problems already logged, so each is logged once per appearance. */
  #settingsReported: ReadonlySet<string> = new Set();
  /** Ignored (unknown) annotations already logged, so each is logged once per appearance. */
  #ignoredReported: ReadonlySet<string> = new Set();
  readonly #tlsBuilder = new TlsTableBuilder();
  #tls: TlsTable | undefined;
  #defaultCertificateProblem: string | undefined;

  constructor(options: ControllerOptions) {
    if (options.settingsConfigMap !== undefined && options.settingsBase === undefined) {
      // A programmer error: without the flag defaults there is nothing to apply the ConfigMap over.
      throw new Error('ControllerOptions.settingsConfigMap needs settingsBase (the flag defaults)');
    }
    this.#o = options;
    this.#log = options.logger.child({ component: 'controller' });
    this.#lastGood = new LastGoodIngresses((s) => options.pipeline.validateIngress(s));
    this.#debouncer = new Debouncer(() => this.#run(), {
      holdoffMs: options.holdoffMs ?? DEFAULT_HOLDOFF_MS,
      maxDelayMs: options.maxDelayMs ?? DEFAULT_MAX_DELAY_MS,
      ...(options.clock ? { clock: options.clock } : {}),
    });
    this.#endpointsDebouncer = new Debouncer(() => this.#runEndpointsFastPath(), {
      holdoffMs: 0,
      maxDelayMs: 0,
      ...(options.clock ? { clock: options.clock } : {}),
    });
  }

  /** `generation` is the generation of the last published route snapshot (0 = none yet). */
  get generation(): number {
    return this.#generation;
  }

  /** `model` is the running routing model, as last published. */
  get model(): RoutingModel | undefined {
    return this.#model;
  }

  /** `settings` are the global settings last handed to the sink (undefined without `settingsBase`). */
  get settings(): GlobalSettings | undefined {
    return this.#settings;
  }

  /** `outcomes` lists what every run did, oldest first (tests and debugging). */
  get outcomes(): readonly LoadOutcome[] {
    return this.#runs;
  }

  /** `notify` records a source change and schedules a debounced run. */
  notify(change: SourceChange): void {
    if (this.#stopped) return;
    const endpointsOnly =
      change.kinds.size > 0 &&
      !change.diagnosticsChanged &&
      [...change.kinds].every((k) => k === 'EndpointSlice');
    // Pod churn skips the route holdoff (ingress-nginx's dynamic endpoint updates, Contour's
    // EndpointSliceCache): a rolling update must not wait 100 ms per step for traffic to move.
    // A pending full run reads the store too, so the change simply joins it.
    if (endpointsOnly && this.#model !== undefined && !this.#debouncer.pending) {
      this.#endpointsDebouncer.trigger();
      return;
    }
    for (const kind of change.kinds) this.#dirtyKinds.add(kind);
    if (change.diagnosticsChanged) this.#dirtyDiagnostics = true;
    this.#debouncer.trigger();
  }

  /**
   * `runNow` runs at once instead of waiting for the debounce: used right after the source's first
   * full load, so startup does not pay the holdoff.
   */
  runNow(): LoadOutcome {
    if (this.#debouncer.pending) this.#debouncer.flush();
    else this.#run();
    return this.#runs[this.#runs.length - 1] ?? this.#record('not-synced', false, false);
  }

  /** `stop` cancels pending runs; published snapshots stay as they are. */
  stop(): void {
    this.#stopped = true;
    this.#debouncer.stop();
    this.#endpointsDebouncer.stop();
  }

  #run(): void {
    if (this.#stopped) return;
    const source = this.#o.source;
    // kube-proxy's isInitialized gate: a partial picture would publish a partial routing table.
    if (!source.hasSynced()) {
      this.#record('not-synced', false, false);
      return;
    }
    const kinds = this.#dirtyKinds;
    const diagnosticsChanged = this.#dirtyDiagnostics;
    this.#dirtyKinds = new Set();
    this.#dirtyDiagnostics = false;
    const endpointsOnly =
      this.#model !== undefined &&
      !diagnosticsChanged &&
      kinds.size > 0 &&
      [...kinds].every((k) => k === 'EndpointSlice');
    const configMapsOnly =
      this.#model !== undefined &&
      !diagnosticsChanged &&
      kinds.size > 0 &&
      [...kinds].every((k) => k === 'ConfigMap');
    // Clusters hold many ConfigMaps (kube-root-ca.crt, other controllers' locks renewed every few
    // seconds); only those the last full run read can change the configuration.
    if (configMapsOnly && this.#configMapsUnchanged()) {
      this.#record('skipped', false, false);
      return;
    }
    try {
      if (endpointsOnly) this.#runEndpoints();
      else this.#runFull();
    } catch (err) {
      // Pure layers only throw on programmer errors; keep serving what runs and say so loudly.
      this.#log.error({ err }, 'config load failed; keeping the running configuration');
      // The next change of any kind runs in full again.
      this.#configMapsSeen = undefined;
      this.#record('failed', false, false);
    }
  }

  #runEndpointsFastPath(): void {
    if (this.#stopped || !this.#o.source.hasSynced()) return;
    try {
      this.#runEndpoints();
    } catch (err) {
      this.#log.error({ err }, 'endpoint update failed; keeping the running endpoints');
      this.#record('failed', false, false);
    }
  }

  /**
   * `#runEndpoints` is the EndpointSlice fast path. It rebuilds the entries of the Services whose
   * slices changed (the store keeps an object's identity across no-op updates, so identity tells)
   * and reuses every other entry, so the cost follows the change, not the cluster: rebuilding the
   * whole table from 10,000 slices per event was 26 % of CPU and pushed p99 past 100 ms in
   * bench/endpoint-latency.ts.
   */
  #runEndpoints(): void {
    const model = this.#model;
    if (!model) return;
    const { pipeline, source, sink } = this.#o;
    const slices = source.store.list('EndpointSlice').map((s) => s.object);
    const seen = new Map<string, EndpointSlice>();
    const touched = new Set<string>();
    for (const slice of slices) {
      const key = sliceKey(slice);
      seen.set(key, slice);
      if (this.#slices.get(key) !== slice) addService(touched, slice);
    }
    for (const [key, slice] of this.#slices) if (!seen.has(key)) addService(touched, slice);
    this.#slices = seen;
    const backends = [...touched].flatMap((service) => this.#backendsByService.get(service) ?? []);
    let published = false;
    if (backends.length > 0) {
      const partial = pipeline.buildEndpointTable(
        slices.filter((slice) => touched.has(serviceOf(slice) ?? '')),
        backends,
      );
      const table = new Map(this.#endpoints);
      for (const backend of backends) {
        const next = partial.get(backend.key);
        const current = table.get(backend.key);
        if (next === undefined) {
          if (current !== undefined) {
            table.delete(backend.key);
            published = true;
          }
        } else if (current === undefined || !isDeepStrictEqual(current, next)) {
          table.set(backend.key, next);
          published = true;
        }
      }
      if (published) {
        sink.publishEndpoints(table);
        this.#endpoints = table;
      }
    }
    this.#log.info(
      {
        generation: this.#generation,
        endpointsChanged: published,
        services: touched.size,
        backends: this.#endpoints?.size ?? 0,
      },
      'endpoints loaded',
    );
    this.#record('endpoints', false, published);
  }

  #runFull(): void {
    const started = performance.now();
    const { source, pipeline, translateOptions } = this.#o;
    const store = source.store;
    const classes = store.list('IngressClass');
    const isOurs = pipeline.ownership?.(
      classes.map((c) => c.object),
      translateOptions,
    );
    const selection = this.#lastGood.select(store.list('Ingress'), isOurs);
    const policies = resolveRateLimitPolicies(store.list('RateLimitPolicy'), this.#policiesGood);
    this.#policiesGood = policies.good;
    // Settings first: `global-allowed-response-headers` governs what `custom-headers` may set.
    const settingsConfigMapsRead: string[] = [];
    const settings = this.#withGlobalAuth(
      this.#withGlobalHeaders(this.#effectiveSettings(), settingsConfigMapsRead),
    );
    const translated = pipeline.translate(
      {
        ingresses: selection.ingresses,
        ingressClasses: classes,
        services: store.list('Service'),
        rateLimitPolicies: policies.policies,
        configMaps: store.list('ConfigMap'),
        ...(settings.settings !== undefined
          ? {
              allowedResponseHeaders: settings.settings.allowedResponseHeaders ?? [],
              routeDefaults: routeDefaultsOf(settings.settings, settings.globalAuth),
            }
          : {}),
      },
      translateOptions,
    );
    // Secrets are read on every full run; a Secret change is a full run (only EndpointSlices are not).
    const tls = this.#tlsBuilder.build(
      translated.tls,
      (namespace, name) => store.get('Secret', namespace, name)?.object,
      this.#o.defaultCertificate,
      caSecretReferences(translated),
      authSecretUses(translated),
    );
    const model = withRejections(translated, selection.rejected, [
      ...source.diagnostics(),
      ...selection.warnings,
      ...policies.diagnostics,
      ...settings.diagnostics,
      ...tls.diagnostics,
    ]);
    this.#publishTls(tls.table, tls.defaultProblem);
    this.#o.metrics?.certificatesInUse(tls.certificates.values());
    // Settings go first: pools created for the endpoints below then get the new connect timeout.
    this.#applySettings(settings.settings);
    const previous = this.#model;
    const changed = previous === undefined || !isDeepStrictEqual(previous, model);
    if (changed) {
      const generation = this.#generation + 1;
      const snapshot = pipeline.compileSnapshot(model, generation);
      this.#o.sink.publishRoutes(snapshot);
      this.#generation = generation;
      this.#model = model;
    }
    const endpointsPublished = this.#publishEndpoints(this.#model ?? model);
    const ignored = this.#reportIgnoredAnnotations(model.diagnostics);
    this.#logLoad(
      previous,
      model,
      changed,
      endpointsPublished,
      new Set([...settings.diagnostics, ...ignored]),
    );
    this.#watchConfigMaps(model, settingsConfigMapsRead);
    this.#record('full', changed, endpointsPublished);
    this.#observe(model, (performance.now() - started) / 1_000);
    try {
      this.#o.onModel?.(this.#model ?? model, this.#generation);
    } catch (err) {
      this.#log.error({ err }, 'model observer failed');
    }
  }

  /**
   * `#watchConfigMaps` remembers the stored version of every ConfigMap this full run read (the
   * settings ConfigMap, the ones its keys name, those the Ingresses name), missing ones included.
   */
  #watchConfigMaps(model: RoutingModel, settingsRead: readonly string[]): void {
    const keys = new Set([...(model.configMapsRead ?? []), ...settingsRead]);
    const ref = this.#o.settingsConfigMap;
    if (ref !== undefined) keys.add(`${ref.namespace}/${ref.name}`);
    const seen = new Map<string, unknown>();
    for (const key of keys) seen.set(key, this.#storedConfigMap(key));
    this.#configMapsSeen = seen;
  }

  /** `#configMapsUnchanged`: every ConfigMap the last full run read is the version it read. */
  #configMapsUnchanged(): boolean {
    const seen = this.#configMapsSeen;
    if (seen === undefined) return false;
    for (const [key, object] of seen) if (this.#storedConfigMap(key) !== object) return false;
    return true;
  }

  #storedConfigMap(key: string): unknown {
    const slash = key.indexOf('/');
    // The store keeps an object's identity across no-op updates, so identity tells a change.
    return this.#o.source.store.get('ConfigMap', key.slice(0, slash), key.slice(slash + 1))?.object;
  }

  /**
   * `#effectiveSettings` reads the settings ConfigMap from the store and applies it over the flag
   * defaults. Its problems join the model's diagnostics (so `/routes` shows them) and are logged
   * once each, not on every run.
   */
  #effectiveSettings(): { settings: GlobalSettings | undefined; diagnostics: readonly Diagnostic[] } {
    const base = this.#o.settingsBase;
    const ref = this.#o.settingsConfigMap;
    if (base === undefined) return { settings: undefined, diagnostics: [] };
    if (ref === undefined) return { settings: base, diagnostics: [] };
    const stored = this.#o.source.store.get('ConfigMap', ref.namespace, ref.name);
    if (stored === undefined) {
      // Deleted or never created: flag defaults, and nothing to keep for a later invalid edit.
      this.#settingsGood = new Map();
      this.#reportSettings([], ref);
      return { settings: base, diagnostics: [] };
    }
    const locate = stored.locate;
    const result = parseConfigMapSettings(stored.object.data, base, {
      configMap: ref,
      previous: this.#settingsGood,
      ...(locate !== undefined
        ? {
            locate: (field: string) => {
              const at = locate(field);
              return at === undefined ? undefined : formatLocation(at);
            },
          }
        : {}),
    });
    this.#settingsGood = result.good;
    this.#reportSettings(result.diagnostics, undefined);
    return result;
  }

  /**
   * `#withGlobalHeaders` reads the ConfigMaps `add-headers` / `proxy-set-headers` name (issue 8);
   * their problems join the settings diagnostics.
   */
  #withGlobalHeaders(
    result: { settings: GlobalSettings | undefined; diagnostics: readonly Diagnostic[] },
    read: string[],
  ): {
    settings: GlobalSettings | undefined;
    diagnostics: readonly Diagnostic[];
  } {
    const ref = this.#o.settingsConfigMap;
    if (result.settings?.globalHeaders === undefined || ref === undefined) return result;
    const store = this.#o.source.store;
    const resolved = resolveGlobalHeaders(
      result.settings,
      (namespace, name) => {
        read.push(`${namespace}/${name}`);
        return store.get('ConfigMap', namespace, name)?.object;
      },
      objectLabel('ConfigMap', ref.namespace, ref.name),
    );
    return { settings: resolved.settings, diagnostics: [...result.diagnostics, ...resolved.diagnostics] };
  }

  /**
   * `#withGlobalAuth` builds the `global-auth-*` policy; problems across its keys (a cache duration
   * without a cache key) join the settings diagnostics.
   */
  #withGlobalAuth(result: { settings: GlobalSettings | undefined; diagnostics: readonly Diagnostic[] }): {
    settings: GlobalSettings | undefined;
    diagnostics: readonly Diagnostic[];
    globalAuth?: ExternalAuthPolicy;
  } {
    const ref = this.#o.settingsConfigMap;
    const outcome = globalAuthPolicy(result.settings?.globalAuth);
    if (ref === undefined || (outcome.policy === undefined && outcome.problems.length === 0)) return result;
    const object = objectLabel('ConfigMap', ref.namespace, ref.name);
    const diagnostics: Diagnostic[] = outcome.problems.map((p) => ({
      severity: 'warning',
      code: 'PORTICO_WARN_UNSUPPORTED',
      object,
      field: `data.${p.key}`,
      message: p.message,
    }));
    return {
      ...result,
      diagnostics: [...result.diagnostics, ...diagnostics],
      ...(outcome.policy !== undefined ? { globalAuth: outcome.policy } : {}),
    };
  }

  #reportSettings(diagnostics: readonly Diagnostic[], missing: SettingsConfigMapRef | undefined): void {
    const seen = new Set<string>();
    if (missing !== undefined) {
      const id = `missing\u0000${missing.namespace}/${missing.name}`;
      seen.add(id);
      if (!this.#settingsReported.has(id))
        this.#log.warn(
          { configMap: `${missing.namespace}/${missing.name}` },
          'settings ConfigMap not found; using flag defaults',
        );
    }
    for (const d of diagnostics) {
      const id = `${d.field}\u0000${d.message}`;
      seen.add(id);
      if (this.#settingsReported.has(id)) continue;
      this.#log.warn(describeDiagnostic(d), d.severity === 'error' ? 'setting invalid' : 'setting ignored');
    }
    this.#settingsReported = seen;
  }

  /**
   * `#reportIgnoredAnnotations` logs each unknown annotation once per appearance (an Ingress that
   * carries it from creation to deletion is logged once, not on every reload; removing and adding
   * it back logs it again) and returns those diagnostics, so the load line does not repeat them.
   * `/routes` and Events always have them.
   */
  #reportIgnoredAnnotations(diagnostics: readonly Diagnostic[]): readonly Diagnostic[] {
    const ignored = diagnostics.filter((d) => d.code === 'PORTICO_WARN_ANNOTATION_UNKNOWN');
    const seen = new Set<string>();
    for (const d of ignored) {
      const id = `${d.object}\u0000${d.field}\u0000${d.message}`;
      seen.add(id);
      if (!this.#ignoredReported.has(id)) this.#log.warn(describeDiagnostic(d), 'annotation ignored');
    }
    this.#ignoredReported = seen;
    return ignored;
  }

  #publishTls(table: TlsTable, defaultProblem: string | undefined): void {
    if (defaultProblem !== this.#defaultCertificateProblem) {
      // Logged once per appearance: the flag names no Ingress, so there is no diagnostic to carry it.
      if (defaultProblem !== undefined) {
        this.#log.warn(
          { reason: defaultProblem },
          '--default-ssl-certificate not usable; serving the generated certificate',
        );
      }
      this.#defaultCertificateProblem = defaultProblem;
    }
    const sink = this.#o.sink;
    if (sink.publishTls === undefined || sameTable(this.#tls, table)) return;
    sink.publishTls(table);
    this.#tls = table;
    this.#log.info(
      {
        hosts: table.hosts.size,
        certificates: new Set([...table.hosts.values()].map((p) => p.fingerprint)).size,
        defaultCertificate: table.defaultCertificate !== undefined ? 'secret' : 'generated',
      },
      'TLS certificates published',
    );
  }

  #applySettings(settings: GlobalSettings | undefined): void {
    if (settings === undefined) return;
    if (this.#settings !== undefined && isDeepStrictEqual(this.#settings, settings)) return;
    this.#o.sink.applySettings?.(settings);
    this.#settings = settings;
    this.#log.info(
      {
        ...(this.#o.settingsConfigMap !== undefined
          ? { configMap: `${this.#o.settingsConfigMap.namespace}/${this.#o.settingsConfigMap.name}` }
          : {}),
        settings,
      },
      'global settings applied',
    );
  }

  #publishEndpoints(model: RoutingModel): boolean {
    const { pipeline, source, sink } = this.#o;
    const slices = source.store.list('EndpointSlice').map((s) => s.object);
    const backends = pipeline.collectBackends(model);
    const { table, changed } = reuseUnchanged(pipeline.buildEndpointTable(slices, backends), this.#endpoints);
    this.#slices = new Map(slices.map((slice) => [sliceKey(slice), slice]));
    const byService = new Map<string, BackendRef[]>();
    for (const backend of backends) {
      const service = `${backend.namespace}/${backend.service}`;
      const list = byService.get(service);
      if (list === undefined) byService.set(service, [backend]);
      else list.push(backend);
    }
    this.#backendsByService = byService;
    if (changed) {
      sink.publishEndpoints(table);
      this.#endpoints = table;
    }
    if (!this.#ready) {
      this.#ready = true;
      sink.setReady(true);
    }
    return changed;
  }

  #logLoad(
    previous: RoutingModel | undefined,
    model: RoutingModel,
    changed: boolean,
    endpointsChanged: boolean,
    loggedElsewhere: ReadonlySet<Diagnostic>,
  ): void {
    const before = new Set((previous?.routes ?? []).map(routeId));
    const after = new Set(model.routes.map(routeId));
    let added = 0;
    for (const id of after) if (!before.has(id)) added++;
    let removed = 0;
    for (const id of before) if (!after.has(id)) removed++;
    // Settings problems have their own once-per-appearance lines; repeating them here every load
    // would turn "reported once" into "reported on every reload".
    const listed = model.diagnostics.filter((d) => !loggedElsewhere.has(d));
    const errors = listed.filter((d) => d.severity === 'error');
    const warnings = listed.filter((d) => d.severity === 'warning');
    const ignored = model.ingresses.filter((r) => r.state === 'ignored');
    const line: Record<string, unknown> = {
      generation: this.#generation,
      changed,
      routes: model.routes.length,
      routesAdded: added,
      routesRemoved: removed,
      endpointsChanged,
      rejected: capped(errors.map(describeDiagnostic)),
      warnings: capped(warnings.map(describeDiagnostic)),
      ignored: capped(ignored.map((r) => ({ ingress: r.ingress, reason: r.reason }))),
      servingLastGood: model.ingresses.filter((r) => r.servingLastGood === true).map((r) => r.ingress),
      ...this.#o.describeSource?.(),
    };
    const level = errors.length > 0 ? 'warn' : 'info';
    this.#log[level](line, changed ? 'config loaded' : 'config loaded (no route changes)');
  }

  #observe(model: RoutingModel, seconds: number): void {
    const m = this.#o.metrics;
    if (m === undefined) return;
    m.configRebuildDuration.set(seconds);
    m.rejectedObjects.set({ kind: 'Ingress' }, model.ingresses.filter((r) => r.state === 'rejected').length);
    const rejectedPolicies = new Set(
      model.diagnostics
        .filter((d) => d.code === 'PORTICO_ERR_RATE_LIMIT_POLICY_INVALID')
        .map((d) => d.object),
    );
    m.rejectedObjects.set({ kind: 'RateLimitPolicy' }, rejectedPolicies.size);
    m.brokenReferences.set(
      model.diagnostics.filter(
        (d) => d.code === 'PORTICO_WARN_SERVICE_MISSING' || d.code === 'PORTICO_WARN_SERVICE_PORT_MISSING',
      ).length,
    );
  }

  #record(kind: LoadOutcome['kind'], routesPublished: boolean, endpointsPublished: boolean): LoadOutcome {
    const outcome = { kind, routesPublished, endpointsPublished, generation: this.#generation };
    const m = this.#o.metrics;
    if (m !== undefined && kind !== 'not-synced' && kind !== 'skipped') {
      const label = kind === 'full' ? (routesPublished ? 'published' : 'unchanged') : kind;
      m.configRebuilds.inc({ outcome: label });
      if (kind !== 'failed') m.configLastSuccess.set(Date.now() / 1_000);
    }
    this.#runs.push(outcome);
    // Bounded history: tests look at the last few, nothing needs more.
    if (this.#runs.length > 100) this.#runs.shift();
    return outcome;
  }
}

/**
 * `withRejections` folds last-good outcomes into the model: a rejected Ingress is reported as
 * rejected (serving its last good version or not) and its errors join the diagnostics, so `/routes`
 * and the log line say why.
 */
export function withRejections(
  model: RoutingModel,
  rejected: readonly Rejection[],
  extraDiagnostics: readonly Diagnostic[],
): RoutingModel {
  if (rejected.length === 0 && extraDiagnostics.length === 0) return model;
  const byKey = new Map(rejected.map((r) => [r.ingress, r]));
  const reports: IngressReport[] = [];
  for (const report of model.ingresses) {
    const r = byKey.get(report.ingress);
    if (r === undefined) reports.push(report);
  }
  const diagnostics: Diagnostic[] = [...extraDiagnostics];
  for (const r of rejected) {
    const first = r.diagnostics[0];
    const reason = first ? `${first.field ? `${first.field}: ` : ''}${first.message}` : 'invalid';
    reports.push({ ingress: r.ingress, state: 'rejected', reason, servingLastGood: r.servingLastGood });
    diagnostics.push(...r.diagnostics);
    if (r.servingLastGood) {
      const [namespace, name] = r.ingress.split('/');
      diagnostics.push({
        severity: 'warning',
        code: 'PORTICO_WARN_KEEPING_LAST_GOOD',
        object: `Ingress ${namespace}/${name}`,
        field: '',
        message: 'current version rejected; serving its last good version',
        ...(first?.source !== undefined ? { source: first.source } : {}),
      });
    }
  }
  reports.sort((a, b) => (a.ingress < b.ingress ? -1 : a.ingress > b.ingress ? 1 : 0));
  return { ...model, ingresses: reports, diagnostics: [...diagnostics, ...model.diagnostics] };
}

function routeId(r: Route): string {
  return `${r.host}\u0000${r.path}\u0000${r.pathType}\u0000${r.backend.key}`;
}

function capped<T>(items: readonly T[]): readonly (T | string)[] {
  if (items.length <= MAX_LISTED) return items;
  return [...items.slice(0, MAX_LISTED), `… and ${items.length - MAX_LISTED} more`];
}

function sliceKey(slice: EndpointSlice): string {
  return `${slice.metadata.namespace ?? 'default'}/${slice.metadata.name}`;
}

/** `serviceOf` is the `namespace/name` of the Service a slice belongs to, if it names one. */
function serviceOf(slice: EndpointSlice): string | undefined {
  const name = slice.metadata.labels?.[SERVICE_NAME_LABEL];
  return name === undefined ? undefined : `${slice.metadata.namespace ?? 'default'}/${name}`;
}

function addService(into: Set<string>, slice: EndpointSlice): void {
  const service = serviceOf(slice);
  if (service !== undefined) into.add(service);
}

/**
 * `reuseUnchanged` keeps the previous array of every backend whose endpoints did not change, so
 * the data plane can find the changed keys by identity (UpstreamRegistry.setEndpoints).
 */
function reuseUnchanged(
  table: EndpointTable,
  previous: EndpointTable | undefined,
): { table: EndpointTable; changed: boolean } {
  if (previous === undefined) return { table, changed: true };
  let changed = table.size !== previous.size;
  const out = new Map<string, readonly UpstreamEndpoint[]>();
  for (const [key, endpoints] of table) {
    const before = previous.get(key);
    if (before !== undefined && isDeepStrictEqual(before, endpoints)) out.set(key, before);
    else {
      out.set(key, endpoints);
      changed = true;
    }
  }
  return { table: out, changed };
}

/** `routeDefaultsOf` is what translation takes from the global settings as annotation defaults. */
function routeDefaultsOf(
  settings: GlobalSettings,
  globalAuth: ExternalAuthPolicy | undefined,
): RouteDefaults {
  return {
    ...(globalAuth !== undefined
      ? { globalAuth, noAuthLocations: settings.noAuthLocations ?? DEFAULT_NO_AUTH_LOCATIONS }
      : {}),
    ...(settings.loadBalance !== undefined ? { loadBalance: settings.loadBalance } : {}),
    ...(settings.customHttpErrors !== undefined ? { customHttpErrors: settings.customHttpErrors } : {}),
    ...(settings.ipAccess?.allow !== undefined ? { ipAllow: settings.ipAccess.allow } : {}),
    ...(settings.ipAccess?.deny !== undefined ? { ipDeny: settings.ipAccess.deny } : {}),
    ...(settings.ipAccess?.block !== undefined ? { ipBlock: settings.ipAccess.block } : {}),
  };
}

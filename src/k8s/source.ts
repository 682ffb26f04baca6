/**
 * `source` is cluster mode's `ConfigSource`: informers on the API server feeding the same
 * `ObjectStore` file mode feeds, so the controller, the routing core and the data plane cannot tell
 * the two apart.
 *
 * What it watches: Ingress, Service, EndpointSlice, Secret, RateLimitPolicy and L4Route in each
 * `--watch-namespace` (or all namespaces; RateLimitPolicy and L4Route only when their CRDs are installed), IngressClass (cluster-scoped), and the one `--configmap`. Secrets are filtered twice:
 * Helm releases never come over the wire (field selector) and only referenced ones stay in memory
 * (`secrets.ts`).
 *
 * No-ops are dropped at the door (DESIGN §4): an unchanged resourceVersion never reaches the store;
 * an Ingress whose only change is its status (our own status writes) is stored without waking the
 * controller; a Secret whose type and data did not change is stored silently.
 */
import { isDeepStrictEqual } from 'node:util';
import type { ClusterConfig, ObjectName } from '../cli/flags.js';
import type { ConfigSource, SourceChange } from '../controller/source.js';
import type { Logger } from '../log/logger.js';
import type { PorticoMetrics } from '../metrics/registry.js';
import type { Diagnostic } from '../model/diagnostics.js';
import {
  type Ingress,
  KNOWN_KINDS,
  type KubeKind,
  type L4Route,
  type RateLimitPolicy,
} from '../model/objects.js';
import { type ClassOptions, classifyIngress, indexClasses } from '../model/translate/class.js';
import { validateIngress } from '../model/translate/validate.js';
import { ObjectStore } from '../store/object-store.js';
import { type Clock, realClock, type TimerHandle } from '../util/clock.js';
import { objectKey } from '../util/keys.js';
import type { BackoffOptions } from './backoff.js';
import type { Collection, TransportFactory } from './client.js';
import { fromApiObject, type ObjectRef } from './convert.js';
import { Informer, type InformerHandler } from './informers.js';
import type { ReferenceIndex } from './refs.js';
import {
  DEFAULT_CERTIFICATE_REFERRER,
  ingressSecretRefs,
  SECRET_FIELD_SELECTOR,
  SecretKeeper,
} from './secrets.js';

export interface ClusterSourceOptions {
  readonly transports: TransportFactory;
  readonly cluster: Pick<ClusterConfig, 'watchNamespaces' | 'configMap' | 'defaultSslCertificate'>;
  /** Class settings: only Secrets of Ingresses this controller serves are kept. */
  readonly classes: ClassOptions;
  /** `--tcp-services-configmap` / `--udp-services-configmap`: watched one by one, as `--configmap`. */
  readonly l4ConfigMaps?: readonly ObjectName[];
  readonly logger: Logger;
  readonly metrics?: PorticoMetrics;
  /** Called (batched per tick) after the store changed, once synced. */
  readonly onChange?: (change: SourceChange) => void;
  /** Called once, when every informer has listed. */
  readonly onSynced?: () => void;
  readonly clock?: Clock;
  readonly backoff?: BackoffOptions;
  /** A watch lost for longer than this is logged as an error (default 10 s). */
  readonly disconnectedWarnMs?: number;
}

/** How often `portico_k8s_watch_disconnected_seconds` is refreshed. */
const GAUGE_INTERVAL_MS = 1_000;

/** `ClusterSource` runs the informers and keeps the store in step with the API server. */
export class ClusterSource implements ConfigSource {
  readonly store = new ObjectStore();
  readonly #o: ClusterSourceOptions;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #informers: Informer[] = [];
  /** Started once the Ingress informers have listed, so the first Secret list keeps what it needs. */
  readonly #secretInformers: Informer[] = [];
  /** Informers restricted to one object by a metadata.name field selector. */
  readonly #nameScoped = new Set<Informer>();
  readonly #secrets: SecretKeeper;
  /** Ingress key → Secret refs of its last valid version (see `#updateRefs`). */
  readonly #validRefs = new Map<string, readonly string[]>();
  #pending = new Set<KubeKind>();
  #flushQueued = false;
  #synced = false;
  #started = false;
  #stopped = false;
  #gaugeTimer: TimerHandle | undefined;
  readonly #syncWaiters: (() => void)[] = [];

  constructor(options: ClusterSourceOptions) {
    this.#o = options;
    this.#clock = options.clock ?? realClock;
    this.#log = options.logger.child({ component: 'cluster-source' });
    this.#secrets = new SecretKeeper({
      store: this.store,
      getSecret: options.transports.getSecret,
      presence: (namespace) => this.#secretInformerFor(namespace),
      onChange: () => this.#changed('Secret'),
      logger: options.logger,
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.backoff ? { backoff: options.backoff } : {}),
    });
    const namespaces: (string | undefined)[] =
      options.cluster.watchNamespaces.length > 0 ? [...options.cluster.watchNamespaces] : [undefined];
    for (const ns of namespaces) {
      this.#add({ kind: 'Ingress', ...nsOf(ns) }, this.#ingressHandler());
      this.#add({ kind: 'Service', ...nsOf(ns) }, this.#plainHandler('Service'));
      this.#add({ kind: 'EndpointSlice', ...nsOf(ns) }, this.#plainHandler('EndpointSlice'));
      this.#add(
        { kind: 'RateLimitPolicy', ...nsOf(ns) },
        this.#policyHandler('RateLimitPolicy'),
        false,
        true,
      );
      this.#add({ kind: 'L4Route', ...nsOf(ns) }, this.#policyHandler('L4Route'), false, true);
      // `custom-headers` annotations name ConfigMaps of the Ingress's namespace (issue 8).
      this.#add({ kind: 'ConfigMap', ...nsOf(ns) }, this.#plainHandler('ConfigMap'));
      this.#add(
        { kind: 'Secret', ...nsOf(ns), fieldSelector: SECRET_FIELD_SELECTOR },
        this.#secrets.handler,
        true,
      );
    }
    this.#add({ kind: 'IngressClass' }, this.#classHandler());
    // Named ConfigMaps outside the watched namespaces get their own informer; a field selector
    // keeps the others off the wire.
    const configMaps = new Map<string, ObjectName>();
    const watched = (namespace: string): boolean =>
      namespaces.includes(undefined) || namespaces.includes(namespace);
    for (const cm of [options.cluster.configMap, ...(options.l4ConfigMaps ?? [])]) {
      if (cm !== undefined && !watched(cm.namespace)) configMaps.set(objectKey(cm.namespace, cm.name), cm);
    }
    for (const cm of configMaps.values()) {
      this.#add(
        { kind: 'ConfigMap', namespace: cm.namespace, fieldSelector: `metadata.name=${cm.name}` },
        this.#plainHandler('ConfigMap'),
      );
    }
    const cert = options.cluster.defaultSslCertificate;
    if (cert !== undefined) {
      this.#secrets.setReferences(DEFAULT_CERTIFICATE_REFERRER, [objectKey(cert.namespace, cert.name)]);
      if (this.#secretInformerFor(cert.namespace) === undefined) {
        this.#add(
          {
            kind: 'Secret',
            namespace: cert.namespace,
            fieldSelector: `metadata.name=${cert.name},${SECRET_FIELD_SELECTOR}`,
          },
          this.#secrets.handler,
          true,
        );
      }
    }
    for (const kind of KNOWN_KINDS) options.metrics?.informerSynced.set({ kind }, 0);
  }

  hasSynced(): boolean {
    return this.#synced;
  }

  diagnostics(): readonly Diagnostic[] {
    return [];
  }

  /** `secretReferences` is the reverse index Secret → referrers (Ingress keys). */
  get secretReferences(): ReferenceIndex {
    return this.#secrets.refs;
  }

  /** `secretFetches` counts GETs of Secrets that became referenced after they were listed. */
  get secretFetches(): number {
    return this.#secrets.fetches;
  }

  /**
   * `secretExists` says whether a Secret exists, from the Secret informers' key index (the store
   * holds only referenced Secrets): undefined when its namespace is not watched or not listed yet.
   */
  secretExists(namespace: string, name: string): boolean | undefined {
    const informer = this.#secretInformerFor(namespace);
    if (informer === undefined || !informer.synced) return undefined;
    // The default-certificate informer sees one name only; it cannot vouch for the others.
    if (informer.namespace === namespace && this.#isNameScoped(informer)) {
      const cert = this.#o.cluster.defaultSslCertificate;
      if (cert?.name !== name) return undefined;
    }
    return informer.has(namespace, name);
  }

  /** `informers` lists every informer (tests, diagnostics). */
  get informers(): readonly Informer[] {
    return this.#informers;
  }

  /** `whenSynced` resolves once every informer has listed. */
  whenSynced(): Promise<void> {
    if (this.#synced) return Promise.resolve();
    return new Promise((resolve) => this.#syncWaiters.push(resolve));
  }

  /**
   * `start` starts the informers and returns at once: the data plane listens meanwhile and
   * `/readyz` says 503 until the first snapshot (the controller's synced gate).
   */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    for (const informer of this.#informers) if (!this.#secretInformers.includes(informer)) informer.start();
    const ingressLists = this.#informers
      .filter((i) => i.kind === 'Ingress' || i.kind === 'IngressClass')
      .map((i) => i.whenSynced());
    void Promise.all(ingressLists).then(() => {
      if (this.#stopped) return;
      for (const informer of this.#secretInformers) informer.start();
    });
    this.#tickGauges();
  }

  /** `stop` stops every informer and timer; the store keeps its content. */
  stop(): void {
    this.#stopped = true;
    for (const informer of this.#informers) informer.stop();
    this.#secrets.stop();
    if (this.#gaugeTimer) this.#clock.clearTimeout(this.#gaugeTimer);
    this.#gaugeTimer = undefined;
  }

  #add(collection: Collection, handler: InformerHandler, secret = false, optional = false): void {
    const kind = collection.kind;
    const informer = new Informer({
      kind,
      ...(collection.namespace !== undefined ? { namespace: collection.namespace } : {}),
      transport: this.#o.transports.collection(collection),
      handler: { ...handler, listed: () => this.#listed(kind) },
      logger: this.#o.logger,
      onRestart: () => this.#o.metrics?.watchRestarts.inc({ kind }),
      ...(this.#o.clock ? { clock: this.#o.clock } : {}),
      ...(this.#o.backoff ? { backoff: this.#o.backoff } : {}),
      ...(this.#o.disconnectedWarnMs !== undefined ? { disconnectedWarnMs: this.#o.disconnectedWarnMs } : {}),
      ...(optional ? { optional } : {}),
    });
    this.#informers.push(informer);
    if (secret) this.#secretInformers.push(informer);
    if (collection.fieldSelector?.startsWith('metadata.name=') === true) this.#nameScoped.add(informer);
  }

  #isNameScoped(informer: Informer): boolean {
    return this.#nameScoped.has(informer);
  }

  #secretInformerFor(namespace: string): Informer | undefined {
    return this.#secretInformers.find((i) => i.namespace === undefined || i.namespace === namespace);
  }

  #listed(kind: KubeKind): void {
    const ofKind = this.#informers.filter((i) => i.kind === kind);
    if (ofKind.every((i) => i.synced)) this.#o.metrics?.informerSynced.set({ kind }, 1);
    if (this.#synced || !this.#informers.every((i) => i.synced)) return;
    this.#synced = true;
    this.#log.info(
      {
        informers: this.#informers.length,
        objects: Object.fromEntries(KNOWN_KINDS.map((k) => [k, this.store.keys(k).length])),
        secretsKept: this.store.keys('Secret').length,
      },
      'informers synced',
    );
    this.#pending = new Set();
    this.#o.onChange?.({ kinds: new Set(KNOWN_KINDS), diagnosticsChanged: true });
    for (const resolve of this.#syncWaiters.splice(0)) resolve();
    this.#o.onSynced?.();
  }

  /** `#changed` records a changed kind; changes of one tick reach the controller as one call. */
  #changed(kind: KubeKind): void {
    // Before the first sync the controller publishes nothing anyway; the sync itself notifies.
    if (!this.#synced || this.#stopped) return;
    this.#pending.add(kind);
    if (this.#flushQueued) return;
    this.#flushQueued = true;
    queueMicrotask(() => {
      this.#flushQueued = false;
      const kinds = this.#pending;
      this.#pending = new Set();
      if (kinds.size > 0 && !this.#stopped) this.#o.onChange?.({ kinds, diagnosticsChanged: false });
    });
  }

  #convert(kind: KubeKind, value: unknown, ref: ObjectRef) {
    const converted = fromApiObject(kind, value);
    if (!converted.ok) {
      // The API server validated it: this is a client-node or API change, not a user's mistake.
      this.#log.warn(
        { kind, namespace: ref.namespace, name: ref.name, field: converted.field, reason: converted.message },
        'cannot read an object from the API server; keeping its previous version',
      );
      return undefined;
    }
    return converted.object;
  }

  #plainHandler(kind: KubeKind): InformerHandler {
    return {
      upsert: (ref, value) => {
        const object = this.#convert(kind, value, ref);
        if (object !== undefined && this.store.upsert(object)) this.#changed(kind);
      },
      remove: (namespace, name) => {
        if (this.store.remove(kind, namespace, name)) this.#changed(kind);
      },
    };
  }

  /**
   * `#policyHandler` stores RateLimitPolicies or L4Routes (Portico's CRDs); a change of status alone (our own condition writes)
   * is stored without waking the controller, like Ingress status.
   */
  #policyHandler(kind: 'RateLimitPolicy' | 'L4Route'): InformerHandler {
    return {
      upsert: (ref, value) => {
        const policy = this.#convert(kind, value, ref) as RateLimitPolicy | L4Route | undefined;
        if (policy === undefined) return;
        const { namespace, name } = policy.metadata;
        const previous = this.store.get(kind, namespace, name)?.object;
        if (!this.store.upsert(policy)) return;
        const statusOnly =
          previous !== undefined &&
          previous.metadata.generation === policy.metadata.generation &&
          isDeepStrictEqual(previous.spec, policy.spec);
        if (!statusOnly) this.#changed(kind);
      },
      remove: (namespace, name) => {
        if (this.store.remove(kind, namespace, name)) this.#changed(kind);
      },
    };
  }

  #ingressHandler(): InformerHandler {
    return {
      upsert: (ref, value) => {
        const ingress = this.#convert('Ingress', value, ref) as Ingress | undefined;
        if (ingress === undefined) return;
        const previous = this.store.get('Ingress', ingress.metadata.namespace, ingress.metadata.name)?.object;
        if (!this.store.upsert(ingress)) return;
        this.#updateRefs(ingress);
        if (previous === undefined || !sameRouting(previous, ingress)) this.#changed('Ingress');
      },
      remove: (namespace, name) => {
        this.#validRefs.delete(objectKey(namespace, name));
        this.#secrets.setReferences(objectKey(namespace, name), []);
        if (this.store.remove('Ingress', namespace, name)) this.#changed('Ingress');
      },
    };
  }

  #classHandler(): InformerHandler {
    const plain = this.#plainHandler('IngressClass');
    // Which Ingresses are ours can flip with any IngressClass, and with it which Secrets matter.
    return {
      upsert: (ref, value) => {
        plain.upsert(ref, value);
        this.#refreshAllRefs();
      },
      remove: (namespace, name) => {
        plain.remove(namespace, name);
        this.#refreshAllRefs();
      },
    };
  }

  #updateRefs(ingress: Ingress, served = this.#isServed()): void {
    const key = objectKey(ingress.metadata.namespace, ingress.metadata.name);
    if (!served(ingress)) {
      this.#validRefs.delete(key);
      this.#secrets.setReferences(key, []);
      return;
    }
    const refs = ingressSecretRefs(ingress);
    // An invalid edit is not served: the controller keeps serving the last valid version, so the
    // Secrets that version uses must stay held (else its hosts would drop to the default certificate).
    const invalid = validateIngress({ object: ingress }).some((d) => d.severity === 'error');
    if (!invalid) this.#validRefs.set(key, refs);
    const kept = invalid ? (this.#validRefs.get(key) ?? []) : [];
    this.#secrets.setReferences(key, kept.length === 0 ? refs : new Set([...refs, ...kept]));
  }

  #refreshAllRefs(): void {
    const served = this.#isServed();
    for (const { object } of this.store.list('Ingress')) this.#updateRefs(object, served);
  }

  #isServed(): (ingress: Ingress) => boolean {
    const options = this.#o.classes;
    const index = indexClasses(
      this.store.list('IngressClass').map((s) => s.object),
      options,
    );
    return (ingress) => {
      try {
        return classifyIngress(ingress, index, options).served;
      } catch {
        // Same stance as the controller: a malformed object is treated as ours, so it gets reported.
        return true;
      }
    };
  }

  #tickGauges(): void {
    const metrics = this.#o.metrics;
    if (metrics === undefined || this.#stopped) return;
    const now = this.#clock.now();
    const worst = new Map<KubeKind, number>();
    for (const informer of this.#informers) {
      const since = informer.disconnectedSince;
      const seconds = since === undefined ? 0 : (now - since) / 1_000;
      worst.set(informer.kind, Math.max(worst.get(informer.kind) ?? 0, seconds));
    }
    for (const [kind, seconds] of worst) metrics.watchDisconnected.set({ kind }, seconds);
    this.#gaugeTimer = this.#clock.setTimeout(() => this.#tickGauges(), GAUGE_INTERVAL_MS);
  }
}

function nsOf(namespace: string | undefined): { namespace?: string } {
  return namespace === undefined ? {} : { namespace };
}

/**
 * `sameRouting` says whether two versions of an Ingress route the same: everything but the
 * resourceVersion and status equal (Contour compares generation and annotations; comparing the
 * whole rest is as cheap and also catches label edits).
 */
function sameRouting(a: Ingress, b: Ingress): boolean {
  const strip = (i: Ingress) => {
    const { resourceVersion: _rv, ...metadata } = i.metadata;
    return { metadata, spec: i.spec };
  };
  return isDeepStrictEqual(strip(a), strip(b));
}

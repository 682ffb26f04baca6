/**
 * `informers` keeps one collection (a kind in a namespace, or in all) mirrored from the API server:
 * list, then watch from the list's resourceVersion, and on any failure list again and reconcile.
 *
 * Why not client-node's `ListWatch`/`makeInformer`: its cache holds every object it ever saw, which
 * for Secrets means every Helm release and token in the cluster, and `ObjectStore` already is our
 * cache. It also leaves restarts after 'error' to the caller and gives no "listed" signal for
 * the synced gate. So this is a small reflector on client-node's own `Watch` and typed list calls
 * (see `client.ts`) that remembers only key → resourceVersion per object and hands objects to a
 * handler that decides what to keep (everything, or for Secrets only the referenced ones).
 *
 * Failure handling, after client-go's reflector:
 * - a watch the server ends normally (its timeout) is reopened from the last resourceVersion;
 * - 410 Gone (compaction, an API server restart) relists at once, the first time in a row;
 * - any other error (refused connection, 5xx, a list that fails) waits a capped exponential
 *   backoff with jitter, then relists: after an outage nothing else says what was missed.
 * Across a relist the store keeps its objects (the data plane keeps serving them); once the new
 * list is complete, objects it no longer holds are removed and the rest updated (reconcile).
 */
import type { Logger } from '../log/logger.js';
import type { KubeKind } from '../model/objects.js';
import { type Clock, realClock, type TimerHandle } from '../util/clock.js';
import { objectKey } from '../util/keys.js';
import { Backoff, type BackoffOptions } from './backoff.js';
import { type ResourceTransport, statusOf, type WatchEvent, type WatchHandle } from './client.js';
import { type ObjectRef, refOf } from './convert.js';

/** `InformerHandler` receives a collection's objects, as the API server delivers them. */
export interface InformerHandler {
  /** An object was listed, added or modified. `value` is the raw API object. */
  upsert(ref: ObjectRef, value: unknown): void;
  /** An object was deleted, or is missing from a relist. */
  remove(namespace: string | undefined, name: string): void;
  /** A list completed and was reconciled (every time, not just the first). */
  listed?(): void;
}

export interface InformerOptions {
  readonly kind: KubeKind;
  /** Undefined: all namespaces, or a cluster-scoped kind. */
  readonly namespace?: string;
  readonly transport: ResourceTransport;
  readonly handler: InformerHandler;
  readonly logger: Logger;
  readonly clock?: Clock;
  readonly backoff?: BackoffOptions;
  /** Page size for lists; large collections come in pages so no single response is huge. */
  readonly pageSize?: number;
  /** Called after every failure that leads to a restart (for `portico_k8s_watch_restarts_total`). */
  readonly onRestart?: (reason: string) => void;
  /** A disconnection longer than this is logged as an error once. */
  readonly disconnectedWarnMs?: number;
  /**
   * For a CustomResourceDefinition Portico ships (crds/): a list answered 404 means the CRD is not
   * installed. The collection then counts as listed and empty (Portico serves Ingresses without it,
   * instead of never becoming ready), and lists are retried with the backoff to pick it up once
   * installed.
   */
  readonly optional?: boolean;
}

/** A watch that lived at least this long was healthy: the next failure starts the backoff over. */
const HEALTHY_WATCH_MS = 1_000;
const DEFAULT_PAGE_SIZE = 500;
const DEFAULT_DISCONNECTED_WARN_MS = 10_000;

type Phase = 'idle' | 'listing' | 'connecting' | 'watching' | 'waiting' | 'stopped';

/**
 * `Informer` mirrors one collection into its handler. `start` begins; `synced` turns true after the
 * first complete list and stays true (the store holds a full, if possibly stale, picture).
 */
export class Informer {
  readonly #o: InformerOptions;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #backoff: Backoff;
  /** key → resourceVersion of every object in the collection, kept or not. */
  #known = new Map<string, string>();
  #resourceVersion = '';
  #phase: Phase = 'idle';
  #synced = false;
  /** Bumped on every (re)connection attempt; callbacks from an older attempt are ignored. */
  #attempt = 0;
  #watch: WatchHandle | undefined;
  #timer: TimerHandle | undefined;
  #warnTimer: TimerHandle | undefined;
  #connectedAt = 0;
  #disconnectedSince: number | undefined;
  #failuresInRow = 0;
  #reportedAbsent = false;
  readonly #syncWaiters: (() => void)[] = [];

  constructor(options: InformerOptions) {
    this.#o = options;
    this.#clock = options.clock ?? realClock;
    this.#backoff = new Backoff(options.backoff);
    this.#log = options.logger.child({
      component: 'informer',
      kind: options.kind,
      ...(options.namespace !== undefined ? { namespace: options.namespace } : {}),
    });
  }

  /** `kind` is the kind this informer mirrors. */
  get kind(): KubeKind {
    return this.#o.kind;
  }

  /** `namespace` is the namespace it watches; undefined for all (or cluster-scoped). */
  get namespace(): string | undefined {
    return this.#o.namespace;
  }

  /** `synced` is true once a list completed. */
  get synced(): boolean {
    return this.#synced;
  }

  /** `disconnectedSince` is when the watch was lost (clock ms), undefined while watching. */
  get disconnectedSince(): number | undefined {
    return this.#disconnectedSince;
  }

  /** `whenSynced` resolves after the first complete list. */
  whenSynced(): Promise<void> {
    if (this.#synced) return Promise.resolve();
    return new Promise((resolve) => this.#syncWaiters.push(resolve));
  }

  /** `has` says whether the collection holds the object (kept by the handler or not). */
  has(namespace: string | undefined, name: string): boolean {
    return this.#known.has(objectKey(namespace, name));
  }

  /** `resourceVersionOf` is the last resourceVersion seen for the object. */
  resourceVersionOf(namespace: string | undefined, name: string): string | undefined {
    return this.#known.get(objectKey(namespace, name));
  }

  /** `start` lists and begins watching. */
  start(): void {
    if (this.#phase !== 'idle') return;
    this.#disconnect();
    this.#relist();
  }

  /** `stop` ends the watch and every retry; the handler's objects stay where they are. */
  stop(): void {
    this.#phase = 'stopped';
    this.#attempt++;
    this.#watch?.abort();
    this.#watch = undefined;
    if (this.#timer) this.#clock.clearTimeout(this.#timer);
    if (this.#warnTimer) this.#clock.clearTimeout(this.#warnTimer);
    this.#timer = undefined;
    this.#warnTimer = undefined;
  }

  #relist(): void {
    const attempt = ++this.#attempt;
    this.#phase = 'listing';
    this.#list(attempt).then(
      (ok) => {
        if (ok && attempt === this.#attempt) this.#openWatch();
      },
      (err: unknown) => {
        if (attempt !== this.#attempt) return;
        if (this.#o.optional === true && statusOf(err) === 404) {
          this.#absent(err);
          return;
        }
        this.#fail(err, 'list failed');
      },
    );
  }

  /** `#absent` handles an optional resource the API server does not serve: empty, synced, retried. */
  #absent(err: unknown): void {
    if (!this.#reportedAbsent) {
      this.#log.warn(
        { err: describe(err) },
        'resource not served by the API server (is its CRD installed? see crds/); treating it as empty',
      );
      this.#reportedAbsent = true;
    }
    // Not an outage: nothing is missed while the resource does not exist, so no disconnection alarm.
    if (this.#warnTimer) this.#clock.clearTimeout(this.#warnTimer);
    this.#warnTimer = undefined;
    this.#disconnectedSince = undefined;
    this.#reconcile([]);
    if (!this.#synced) {
      this.#synced = true;
      for (const resolve of this.#syncWaiters.splice(0)) resolve();
    }
    this.#o.handler.listed?.();
    this.#attempt++;
    this.#phase = 'waiting';
    const delay = this.#backoff.next();
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      if (this.#phase === 'waiting') this.#relist();
    }, delay);
  }

  async #list(attempt: number): Promise<boolean> {
    const items: unknown[] = [];
    let token: string | undefined;
    let resourceVersion = '';
    do {
      const page = await this.#o.transport.list({
        limit: this.#o.pageSize ?? DEFAULT_PAGE_SIZE,
        ...(token !== undefined ? { continue: token } : {}),
      });
      if (attempt !== this.#attempt) return false;
      items.push(...page.items);
      // The first page's resourceVersion is the snapshot the whole paged list is consistent with.
      if (resourceVersion === '') resourceVersion = page.resourceVersion;
      token = page.continue;
    } while (token !== undefined);
    this.#reconcile(items);
    if (this.#reportedAbsent) {
      this.#log.info('resource is served now; watching it');
      this.#reportedAbsent = false;
    }
    this.#resourceVersion = resourceVersion;
    if (!this.#synced) {
      this.#synced = true;
      for (const resolve of this.#syncWaiters.splice(0)) resolve();
    }
    this.#o.handler.listed?.();
    return true;
  }

  /** `#reconcile` applies a complete list: upsert everything in it, remove what it lacks. */
  #reconcile(items: readonly unknown[]): void {
    const next = new Map<string, string>();
    const refs: [ObjectRef, unknown][] = [];
    for (const item of items) {
      const ref = refOf(item);
      if (ref === undefined) continue;
      next.set(objectKey(ref.namespace, ref.name), ref.resourceVersion);
      refs.push([ref, item]);
    }
    const previous = this.#known;
    this.#known = next;
    for (const key of previous.keys()) {
      if (next.has(key)) continue;
      const slash = key.indexOf('/');
      this.#o.handler.remove(slash < 0 ? undefined : key.slice(0, slash), key.slice(slash + 1));
    }
    for (const [ref, item] of refs) {
      // Unchanged objects are dropped here, before any conversion: a relist of a big, quiet
      // cluster costs a map lookup per object.
      if (
        previous.get(objectKey(ref.namespace, ref.name)) === ref.resourceVersion &&
        ref.resourceVersion !== ''
      )
        continue;
      this.#o.handler.upsert(ref, item);
    }
  }

  #openWatch(): void {
    const attempt = ++this.#attempt;
    this.#phase = 'connecting';
    const startedAt = this.#clock.now();
    let events = 0;
    const onEvent = (event: WatchEvent): void => {
      if (attempt !== this.#attempt) return;
      events++;
      this.#onEvent(attempt, event);
    };
    const done = (err: unknown): void => {
      if (attempt !== this.#attempt) return;
      this.#watch = undefined;
      if (err !== null && err !== undefined) {
        this.#fail(err, 'watch failed');
        return;
      }
      // The server ended the watch (its timeout). Reopen from where we are; but a watch that ends
      // as soon as it starts, with nothing in it, is a server in trouble: back off.
      const lived = this.#clock.now() - startedAt;
      if (lived < HEALTHY_WATCH_MS && events === 0) {
        this.#fail(new Error('watch closed right after opening'), 'watch closed');
        return;
      }
      this.#backoff.reset();
      this.#failuresInRow = 0;
      this.#disconnect();
      this.#openWatch();
    };
    this.#o.transport.watch(this.#resourceVersion, onEvent, done).then(
      (handle) => {
        if (attempt !== this.#attempt) {
          handle.abort();
          return;
        }
        this.#watch = handle;
        if (this.#phase === 'connecting') this.#connected();
      },
      (err: unknown) => done(err ?? new Error('watch failed')),
    );
  }

  #connected(): void {
    this.#phase = 'watching';
    this.#connectedAt = this.#clock.now();
    if (this.#warnTimer) this.#clock.clearTimeout(this.#warnTimer);
    this.#warnTimer = undefined;
    const since = this.#disconnectedSince;
    this.#disconnectedSince = undefined;
    if (since !== undefined && this.#failuresInRow > 0) {
      this.#log.info({ disconnectedSeconds: (this.#clock.now() - since) / 1_000 }, 'watch reconnected');
    }
  }

  #onEvent(attempt: number, event: WatchEvent): void {
    // Events can arrive before the watch promise resolved (the body streams as soon as headers do).
    if (this.#phase === 'connecting') this.#connected();
    const { type, object } = event;
    if (type === 'ERROR') {
      const code = statusOf(object);
      const message = readMessage(object);
      const err = Object.assign(
        new Error(message ?? 'watch ERROR event'),
        code !== undefined ? { statusCode: code } : {},
      );
      this.#watch?.abort();
      this.#watch = undefined;
      this.#fail(err, 'watch failed');
      return;
    }
    if (type === 'BOOKMARK') {
      // A bookmark is an object with only a resourceVersion: where to resume after a reconnect.
      const rv = readResourceVersion(object);
      if (rv !== undefined) this.#resourceVersion = rv;
      return;
    }
    const ref = refOf(object);
    if (ref === undefined) return;
    const key = objectKey(ref.namespace, ref.name);
    if (type === 'ADDED' || type === 'MODIFIED') {
      const known = this.#known.get(key);
      this.#known.set(key, ref.resourceVersion);
      if (known !== ref.resourceVersion || ref.resourceVersion === '') this.#o.handler.upsert(ref, object);
    } else if (type === 'DELETED') {
      if (this.#known.delete(key)) this.#o.handler.remove(ref.namespace, ref.name);
    } else {
      return;
    }
    if (attempt === this.#attempt && ref.resourceVersion !== '') this.#resourceVersion = ref.resourceVersion;
  }

  /** `#fail` schedules the next list after a failure: at once for a first 410, else after a backoff. */
  #fail(err: unknown, what: string): void {
    if (this.#phase === 'stopped') return;
    this.#attempt++;
    this.#watch?.abort();
    this.#watch = undefined;
    const now = this.#clock.now();
    if (this.#phase === 'watching' && now - this.#connectedAt >= HEALTHY_WATCH_MS) {
      this.#backoff.reset();
      this.#failuresInRow = 0;
    }
    this.#disconnect();
    const status = statusOf(err);
    const gone = status === 410;
    const delay = gone && this.#failuresInRow === 0 ? 0 : this.#backoff.next();
    this.#failuresInRow++;
    this.#phase = 'waiting';
    const reason = gone ? 'gone' : status !== undefined ? `http-${status}` : 'error';
    this.#o.onRestart?.(reason);
    const fields = { err: describe(err), status, retryInMs: delay, failuresInRow: this.#failuresInRow };
    if (gone) this.#log.info(fields, `${what}: resourceVersion expired (410 Gone); relisting`);
    else this.#log.warn(fields, `${what}; relisting after a backoff`);
    // A 410 means our resourceVersion is useless; anything else also relists (see file comment).
    this.#resourceVersion = '';
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      if (this.#phase === 'waiting') this.#relist();
    }, delay);
  }

  /** `#disconnect` starts the disconnection clock (once per outage) and its warning timer. */
  #disconnect(): void {
    if (this.#disconnectedSince !== undefined) return;
    this.#disconnectedSince = this.#clock.now();
    const warnMs = this.#o.disconnectedWarnMs ?? DEFAULT_DISCONNECTED_WARN_MS;
    this.#warnTimer = this.#clock.setTimeout(() => {
      this.#warnTimer = undefined;
      if (this.#disconnectedSince === undefined || this.#phase === 'stopped') return;
      this.#log.error(
        { disconnectedSeconds: (this.#clock.now() - this.#disconnectedSince) / 1_000, synced: this.#synced },
        `watch disconnected for more than ${warnMs / 1_000}s; serving the last known objects`,
      );
    }, warnMs);
  }
}

function readResourceVersion(object: unknown): string | undefined {
  if (typeof object !== 'object' || object === null) return undefined;
  const metadata = (object as { metadata?: unknown }).metadata;
  if (typeof metadata !== 'object' || metadata === null) return undefined;
  const rv = (metadata as { resourceVersion?: unknown }).resourceVersion;
  return typeof rv === 'string' && rv !== '' ? rv : undefined;
}

function readMessage(object: unknown): string | undefined {
  if (typeof object !== 'object' || object === null) return undefined;
  const m = (object as { message?: unknown }).message;
  return typeof m === 'string' ? m : undefined;
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

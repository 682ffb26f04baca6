/**
 * `fake-transport` is an in-memory stand-in for the API server behind `ResourceTransport`, for unit
 * tests of informers and the cluster source: objects, a resourceVersion counter, live watches the
 * test can feed, end or break, and failures to inject.
 */
import type {
  Collection,
  ListPage,
  ObjectGetter,
  ResourceTransport,
  TransportFactory,
  WatchEvent,
  WatchHandle,
} from '../../../src/k8s/client.js';
import type { KubeKind } from '../../../src/model/objects.js';

export type RawObject = {
  metadata: { name: string; namespace?: string; resourceVersion?: string } & Record<string, unknown>;
} & Record<string, unknown>;

interface Watcher {
  readonly onEvent: (event: WatchEvent) => void;
  readonly done: (err: unknown) => void;
}

/** `apiError` builds an error shaped like client-node's (HTTP status in `statusCode`). */
export function apiError(status: number, message = `HTTP ${status}`): Error {
  return Object.assign(new Error(message), { statusCode: status });
}

let globalRv = 100;

/** `FakeCollection` is one list/watch endpoint. */
export class FakeCollection implements ResourceTransport {
  readonly objects = new Map<string, RawObject>();
  readonly watchers = new Set<Watcher>();
  readonly listCalls: { continue?: string }[] = [];
  readonly watchCalls: string[] = [];
  /** Errors thrown by the next list calls, in order. */
  listFailures: unknown[] = [];
  /** Errors the next watch calls fail with (via `done`), in order. */
  watchFailures: unknown[] = [];
  /** Page size the fake honours (splits lists into pages). */
  pageSize = Number.POSITIVE_INFINITY;

  constructor(readonly collection: Collection) {}

  async list(options: { readonly limit: number; readonly continue?: string }): Promise<ListPage> {
    this.listCalls.push(options.continue !== undefined ? { continue: options.continue } : {});
    await Promise.resolve();
    const failure = this.listFailures.shift();
    if (failure !== undefined) throw failure;
    const all = [...this.objects.values()].sort((a, b) => keyOf(a).localeCompare(keyOf(b)));
    const start = options.continue !== undefined ? Number(options.continue) : 0;
    const size = Math.min(this.pageSize, options.limit);
    const page = all.slice(start, start + size);
    const next = start + size < all.length ? String(start + size) : undefined;
    return {
      items: page.map((o) => structuredClone(o)),
      resourceVersion: String(globalRv),
      ...(next !== undefined ? { continue: next } : {}),
    };
  }

  async watch(
    resourceVersion: string,
    onEvent: (event: WatchEvent) => void,
    done: (err: unknown) => void,
  ): Promise<WatchHandle> {
    this.watchCalls.push(resourceVersion);
    await Promise.resolve();
    const failure = this.watchFailures.shift();
    if (failure !== undefined) {
      done(failure);
      return { abort: () => undefined };
    }
    const watcher: Watcher = { onEvent, done };
    this.watchers.add(watcher);
    return { abort: () => this.watchers.delete(watcher) };
  }

  /** `put` creates or updates an object and tells watchers. */
  put(object: RawObject): RawObject {
    const stored = structuredClone(object);
    stored.metadata.resourceVersion = String(++globalRv);
    const existed = this.objects.has(keyOf(stored));
    this.objects.set(keyOf(stored), stored);
    this.#emit({ type: existed ? 'MODIFIED' : 'ADDED', object: structuredClone(stored) });
    return stored;
  }

  /** `delete` removes an object and tells watchers. */
  delete(namespace: string | undefined, name: string): void {
    const key = namespace ? `${namespace}/${name}` : name;
    const existing = this.objects.get(key);
    if (!existing) return;
    this.objects.delete(key);
    const object = structuredClone(existing);
    object.metadata.resourceVersion = String(++globalRv);
    this.#emit({ type: 'DELETED', object });
  }

  /** `silently` changes the stored objects without telling watchers (what a missed event looks like). */
  silently(change: (objects: Map<string, RawObject>) => void): void {
    change(this.objects);
    globalRv++;
  }

  /** `emitRaw` sends any event to the watchers (ERROR, BOOKMARK). */
  emitRaw(event: WatchEvent): void {
    this.#emit(event);
  }

  /** `endWatches` ends every watch: normally (`err` undefined) or with an error. */
  endWatches(err?: unknown): void {
    const watchers = [...this.watchers];
    this.watchers.clear();
    for (const w of watchers) w.done(err ?? null);
  }

  #emit(event: WatchEvent): void {
    for (const w of this.watchers) w.onEvent(event);
  }
}

function keyOf(o: RawObject): string {
  return o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name;
}

/** `FakeApi` hands out one `FakeCollection` per kind (and namespace/selector) and serves Secret GETs. */
export class FakeApi implements TransportFactory {
  readonly collections: FakeCollection[] = [];
  readonly gets: string[] = [];
  getFailures: unknown[] = [];

  collection(collection: Collection): FakeCollection {
    const c = new FakeCollection(collection);
    this.collections.push(c);
    return c;
  }

  /** `of` finds the collection of a kind (and namespace, when several). */
  of(kind: KubeKind, namespace?: string): FakeCollection {
    const c = this.collections.find(
      (x) => x.collection.kind === kind && (namespace === undefined || x.collection.namespace === namespace),
    );
    if (!c) throw new Error(`no collection for ${kind} ${namespace ?? ''}`);
    return c;
  }

  readonly getSecret: ObjectGetter = async (namespace, name) => {
    this.gets.push(`${namespace}/${name}`);
    await Promise.resolve();
    const failure = this.getFailures.shift();
    if (failure !== undefined) throw failure;
    for (const c of this.collections) {
      if (c.collection.kind !== 'Secret') continue;
      const o = c.objects.get(`${namespace}/${name}`);
      if (o) return structuredClone(o);
    }
    throw apiError(404, 'not found');
  };
}

/** `settle` lets promise chains and microtasks run (transport calls are async). */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}

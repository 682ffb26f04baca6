/**
 * `Store` is the fake apiserver's etcd plus registry: one global, monotonically increasing
 * resourceVersion (every write bumps it and stamps the written object with it), an event history
 * that watches replay from and `compact()` forgets, and the registry rules of the real server
 * (server-set metadata, defaulting, validation, optimistic concurrency, status subresource
 * semantics, generation, finalizers, namespace lifecycle).
 */
import { randomUUID } from 'node:crypto';
import { fromStorage, toStorage } from './convert.js';
import {
  Allocator,
  applyDefaults,
  decodeChecks,
  formatTime,
  normaliseStoredTimes,
  statusOnCreate,
} from './defaults.js';
import { isRecord } from './patch.js';
import { apiVersionOf, findResource, type ResourceInfo } from './resources.js';
import { ApiError, alreadyExists, badRequest, conflict, failure, gone, invalid, notFound } from './status.js';
import { validateObject, validateUpdate } from './validation.js';

/** A JSON object as stored. */
export type Obj = Record<string, unknown>;

/** `WatchEventType` is the type of a change in the history. */
export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** `StoreEvent` is one committed write, as etcd's watch would report it. */
export interface StoreEvent {
  readonly rv: number;
  readonly storage: string;
  readonly type: WatchEventType;
  /** The object after the write (for DELETED: its last state, stamped with the deletion's RV). */
  readonly object: Obj;
  /** The object before the write, if any. */
  readonly prev: Obj | undefined;
}

/** `WriteOptions` tune one write. */
export interface WriteOptions {
  /** `dryRun=All`: run every check but store nothing. */
  readonly dryRun?: boolean;
  /** Write to the `/status` subresource. */
  readonly subresource?: 'status';
  /**
   * Take `.status` from the body even on the main resource: the direct store API models the whole
   * cluster (kubelet and other controllers write status too), so tests can seed status in one write.
   */
  readonly includeStatus?: boolean;
}

/** `DeletePreconditions` are `DeleteOptions.preconditions`. */
export interface DeletePreconditions {
  readonly uid?: string;
  readonly resourceVersion?: string;
}

/** History entries kept before the oldest are compacted automatically (etcd compacts periodically too). */
const maxHistory = 100_000;

const generateNameChars = 'bcdfghjklmnpqrstvwxz2456789';

function meta(obj: Obj): Obj {
  const m = obj['metadata'];
  if (isRecord(m)) return m;
  const fresh: Obj = {};
  obj['metadata'] = fresh;
  return fresh;
}

function keyOf(namespace: string | undefined, name: string): string {
  return namespace === undefined ? name : `${namespace}/${name}`;
}

function sameJson(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

/** JSON with sorted keys, so equality does not depend on property order. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    isRecord(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

/** Everything but metadata and status: what a change of bumps `generation`. */
function specPart(obj: Obj): string {
  const { metadata: _m, status: _s, apiVersion: _a, kind: _k, ...rest } = obj;
  return canonical(rest);
}

/** `ListResult` is a consistent list at one resourceVersion. */
export interface ListResult {
  readonly rv: number;
  /** Stored-form objects sorted by key (namespace/name), as etcd returns them. */
  readonly items: readonly { readonly key: string; readonly object: Obj }[];
}

/** `Store` holds every object and the change history. See the file comment. */
export class Store {
  private rv = 0;
  private compactedRv = 0;
  private readonly objects = new Map<string, Map<string, Obj>>();
  private history: StoreEvent[] = [];
  private readonly listeners = new Set<(ev: StoreEvent) => void>();
  private readonly alloc = new Allocator();
  private readonly timers = new Set<NodeJS.Immediate>();

  constructor() {
    const namespaces = findResource('', 'v1', 'namespaces');
    if (!namespaces) throw new Error('namespaces resource missing');
    // A real cluster always has these four.
    for (const name of ['default', 'kube-node-lease', 'kube-public', 'kube-system']) {
      this.create(namespaces, undefined, { metadata: { name } });
    }
  }

  /** The current (latest committed) resourceVersion. */
  get resourceVersion(): number {
    return this.rv;
  }

  /** The oldest resourceVersion a watch or exact list may still start from. */
  get oldestResourceVersion(): number {
    return this.compactedRv;
  }

  /** `subscribe` registers a listener for every committed write; returns the unsubscribe function. */
  subscribe(listener: (ev: StoreEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** `eventsSince` is the history after `rv` for one storage key; `rv` must not be compacted. */
  eventsSince(storage: string, rv: number): StoreEvent[] {
    if (rv < this.compactedRv) throw this.tooOld(rv);
    return this.history.filter((ev) => ev.rv > rv && ev.storage === storage);
  }

  /** `tooOld` is the 410 the real server answers for a compacted resourceVersion. */
  tooOld(rv: number): ApiError {
    return gone(`too old resource version: ${rv} (${this.compactedRv})`);
  }

  /** `compact` forgets the history up to now, as an etcd compaction at the current revision does. */
  compact(): void {
    this.compactedRv = this.rv;
    this.history = [];
  }

  /** `close` cancels deferred work (namespace finalisation). */
  close(): void {
    for (const t of this.timers) clearImmediate(t);
    this.timers.clear();
    this.listeners.clear();
  }

  private bucket(storage: string): Map<string, Obj> {
    let b = this.objects.get(storage);
    if (!b) {
      b = new Map();
      this.objects.set(storage, b);
    }
    return b;
  }

  /** `get` returns a copy of one object in `info`'s form, or undefined. */
  get(info: ResourceInfo, namespace: string | undefined, name: string): Obj | undefined {
    const stored = this.bucket(info.storage).get(keyOf(info.namespaced ? namespace : undefined, name));
    return stored ? fromStorage(info, structuredClone(stored)) : undefined;
  }

  /**
   * `list` returns the objects of one resource (optionally one namespace) at `atRv`, or at the
   * current resourceVersion. Older states are rebuilt by undoing history, as long as it is kept.
   */
  list(info: ResourceInfo, namespace: string | undefined, atRv?: number): ListResult {
    const bucket = this.bucket(info.storage);
    const state = new Map(bucket);
    const rv = atRv ?? this.rv;
    if (atRv !== undefined && atRv < this.rv) {
      if (atRv < this.compactedRv) throw gone('The resourceVersion for the provided list is too old.');
      for (let i = this.history.length - 1; i >= 0; i--) {
        const ev = this.history[i];
        if (!ev || ev.rv <= atRv) break;
        if (ev.storage !== info.storage) continue;
        const m = meta(ev.object);
        const key = keyOf(typeof m['namespace'] === 'string' ? m['namespace'] : undefined, String(m['name']));
        if (ev.prev === undefined) state.delete(key);
        else state.set(key, ev.prev);
      }
    }
    const items = [...state.entries()]
      .filter(
        ([, obj]) => !info.namespaced || namespace === undefined || meta(obj)['namespace'] === namespace,
      )
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, object]) => ({ key, object: fromStorage(info, structuredClone(object)) }));
    return { rv, items };
  }

  private commit(
    info: ResourceInfo,
    type: WatchEventType,
    key: string,
    next: Obj,
    prev: Obj | undefined,
  ): Obj {
    this.rv++;
    const stamped = structuredClone(next);
    meta(stamped)['resourceVersion'] = String(this.rv);
    const bucket = this.bucket(info.storage);
    if (type === 'DELETED') bucket.delete(key);
    else bucket.set(key, stamped);
    const ev: StoreEvent = { rv: this.rv, storage: info.storage, type, object: stamped, prev };
    this.history.push(ev);
    if (this.history.length > maxHistory) {
      const dropped = this.history.splice(0, this.history.length - maxHistory);
      this.compactedRv = dropped[dropped.length - 1]?.rv ?? this.compactedRv;
    }
    for (const listener of [...this.listeners]) listener(ev);
    return stamped;
  }

  /** Common body checks: kind/apiVersion agree with the endpoint (filled if absent), metadata is an object. */
  private accept(info: ResourceInfo, body: unknown): Obj {
    if (!isRecord(body))
      throw badRequest(
        `the body of the request was in an unknown format - accepted media types include: application/json`,
      );
    const obj = structuredClone(body);
    const apiVersion = apiVersionOf(info);
    if (obj['apiVersion'] !== undefined && obj['apiVersion'] !== '' && obj['apiVersion'] !== apiVersion) {
      throw badRequest(
        `the API version in the data (${String(obj['apiVersion'])}) does not match the expected API version (${apiVersion})`,
      );
    }
    if (obj['kind'] !== undefined && obj['kind'] !== '' && obj['kind'] !== info.kind) {
      throw badRequest(
        `the kind in the data (${String(obj['kind'])}) does not match the expected kind (${info.kind})`,
      );
    }
    obj['apiVersion'] = apiVersion;
    obj['kind'] = info.kind;
    if (obj['metadata'] === undefined) obj['metadata'] = {};
    decodeChecks(info, obj);
    return obj;
  }

  private checkNamespace(info: ResourceInfo, obj: Obj, namespace: string | undefined): string | undefined {
    const m = meta(obj);
    if (!info.namespaced) {
      // The real server clears a namespace sent for a cluster-scoped object.
      delete m['namespace'];
      return undefined;
    }
    const bodyNs = m['namespace'];
    if (typeof bodyNs === 'string' && bodyNs !== '' && namespace !== undefined && bodyNs !== namespace) {
      throw badRequest(
        'the namespace of the provided object does not match the namespace sent on the request',
      );
    }
    const ns = namespace ?? (typeof bodyNs === 'string' && bodyNs !== '' ? bodyNs : undefined);
    if (ns === undefined)
      throw badRequest('the server could not find the requested resource (namespace required)');
    m['namespace'] = ns;
    return ns;
  }

  private requireNamespace(info: ResourceInfo, ns: string | undefined, creating: boolean): void {
    if (!info.namespaced || ns === undefined) return;
    const nsObj = this.bucket('/namespaces').get(ns);
    if (!nsObj) {
      throw new ApiError(
        failure(404, 'NotFound', `namespaces "${ns}" not found`, { name: ns, kind: 'namespaces' }),
      );
    }
    if (creating && meta(nsObj)['deletionTimestamp'] !== undefined) {
      throw new ApiError(
        failure(
          403,
          'Forbidden',
          `${info.resource} "${String(meta(nsObj)['name'])}" is forbidden: unable to create new content in namespace ${ns} because it is being terminated`,
          { name: ns, kind: info.resource },
        ),
      );
    }
  }

  private validate(info: ResourceInfo, stored: Obj, external: Obj, prev?: Obj): void {
    // Validate in the form the client sent, so field paths name its fields (`note`, not `message`).
    const causes = validateObject(info, info.storage === 'events' ? stored : external);
    if (prev) causes.push(...validateUpdate(info, prev, stored));
    if (causes.length > 0) throw invalid(info, String(meta(stored)['name'] ?? ''), causes);
  }

  /** `create` stores a new object (POST). Returns it in `info`'s form. */
  create(info: ResourceInfo, namespace: string | undefined, body: unknown, opts: WriteOptions = {}): Obj {
    const external = this.accept(info, body);
    const ns = this.checkNamespace(info, external, namespace);
    const m = meta(external);
    if (
      (m['name'] === undefined || m['name'] === '') &&
      typeof m['generateName'] === 'string' &&
      m['generateName'] !== ''
    ) {
      let suffix = '';
      for (let i = 0; i < 5; i++)
        suffix += generateNameChars[Math.floor(Math.random() * generateNameChars.length)];
      m['name'] = `${m['generateName']}${suffix}`;
    }
    if (m['resourceVersion'] !== undefined && m['resourceVersion'] !== '') {
      throw new ApiError(
        failure(500, 'InternalError', 'resourceVersion should not be set on objects to be created'),
      );
    }
    const stored = toStorage(info, external);
    const sm = meta(stored);
    sm['uid'] = randomUUID();
    sm['creationTimestamp'] = formatTime(new Date());
    delete sm['deletionTimestamp'];
    delete sm['deletionGracePeriodSeconds'];
    delete sm['managedFields'];
    delete sm['selfLink'];
    if (info.generation) sm['generation'] = 1;
    else delete sm['generation'];
    const bodyStatus = stored['status'];
    if (info.statusSubresource) statusOnCreate(info, stored);
    if (opts.includeStatus && bodyStatus !== undefined) stored['status'] = bodyStatus;
    applyDefaults(info, stored, undefined, this.alloc);
    normaliseStoredTimes(info, stored);
    this.validate(info, stored, fromStorage(info, stored));
    this.requireNamespace(info, ns, true);
    const name = String(sm['name']);
    const key = keyOf(ns, name);
    if (this.bucket(info.storage).has(key)) throw alreadyExists(info, name);
    if (opts.dryRun) return fromStorage(info, stored);
    return fromStorage(info, structuredClone(this.commit(info, 'ADDED', key, stored, undefined)));
  }

  /** `update` replaces an object (PUT), or only its status with `subresource: 'status'`. */
  update(
    info: ResourceInfo,
    namespace: string | undefined,
    name: string,
    body: unknown,
    opts: WriteOptions = {},
  ): Obj {
    const external = this.accept(info, body);
    const m = meta(external);
    if (m['name'] !== undefined && m['name'] !== name) {
      throw badRequest(
        `the name of the object (${String(m['name'])}) does not match the name on the URL (${name})`,
      );
    }
    m['name'] = name;
    const ns = this.checkNamespace(info, external, namespace);
    const key = keyOf(ns, name);
    const existing = this.bucket(info.storage).get(key);
    if (!existing) {
      if (info.createOnUpdate && opts.subresource === undefined) {
        delete m['resourceVersion'];
        return this.create(info, ns, external, opts);
      }
      throw notFound(info, name);
    }
    const rv = m['resourceVersion'];
    if (typeof rv === 'string' && rv !== '' && rv !== meta(existing)['resourceVersion']) {
      throw conflict(
        info,
        name,
        'the object has been modified; please apply your changes to the latest version and try again',
      );
    }
    const incoming = toStorage(info, external);
    let next: Obj;
    if (opts.subresource === 'status') {
      next = structuredClone(existing);
      if (incoming['status'] === undefined) delete next['status'];
      else next['status'] = incoming['status'];
    } else {
      next = incoming;
      const nm = meta(next);
      const em = meta(existing);
      for (const field of [
        'uid',
        'creationTimestamp',
        'generation',
        'deletionTimestamp',
        'deletionGracePeriodSeconds',
      ]) {
        if (em[field] === undefined) delete nm[field];
        else nm[field] = em[field];
      }
      delete nm['managedFields'];
      delete nm['selfLink'];
      if (info.statusSubresource && !opts.includeStatus) {
        if (existing['status'] === undefined) delete next['status'];
        else next['status'] = structuredClone(existing['status']);
      } else if (opts.includeStatus && next['status'] === undefined && existing['status'] !== undefined) {
        next['status'] = structuredClone(existing['status']);
      }
      applyDefaults(info, next, existing, this.alloc);
      if (info.generation && specPart(next) !== specPart(existing)) {
        nm['generation'] = (typeof em['generation'] === 'number' ? em['generation'] : 0) + 1;
      }
    }
    normaliseStoredTimes(info, next);
    meta(next)['resourceVersion'] = meta(existing)['resourceVersion'];
    this.validate(info, next, fromStorage(info, next), existing);
    if (opts.dryRun) return fromStorage(info, next);
    // A write that changes nothing is not a write: no new resourceVersion, no watch event.
    if (sameJson(next, existing)) return fromStorage(info, structuredClone(existing));
    const em = meta(next);
    const finalizers = em['finalizers'];
    if (em['deletionTimestamp'] !== undefined && (!Array.isArray(finalizers) || finalizers.length === 0)) {
      const gone = this.commit(info, 'DELETED', key, next, existing);
      return fromStorage(info, structuredClone(gone));
    }
    return fromStorage(info, structuredClone(this.commit(info, 'MODIFIED', key, next, existing)));
  }

  /**
   * `delete` removes an object (DELETE). An object with finalizers is only marked
   * (`deletionTimestamp`) until they are removed; a Namespace goes Terminating and is emptied and
   * removed right after, as the namespace controller would. Returns the object and whether it is gone.
   */
  delete(
    info: ResourceInfo,
    namespace: string | undefined,
    name: string,
    pre: DeletePreconditions = {},
    opts: WriteOptions = {},
  ): { readonly object: Obj; readonly gone: boolean } {
    const ns = info.namespaced ? namespace : undefined;
    const key = keyOf(ns, name);
    const existing = this.bucket(info.storage).get(key);
    if (!existing) throw notFound(info, name);
    const em = meta(existing);
    if (pre.uid !== undefined && pre.uid !== em['uid']) {
      throw conflict(
        info,
        name,
        `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${String(em['uid'])}`,
      );
    }
    if (pre.resourceVersion !== undefined && pre.resourceVersion !== em['resourceVersion']) {
      throw conflict(
        info,
        name,
        `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${String(em['resourceVersion'])}`,
      );
    }
    if (opts.dryRun) return { object: fromStorage(info, structuredClone(existing)), gone: true };
    const finalizers = em['finalizers'];
    const isNamespace = info.storage === '/namespaces';
    if (isNamespace || (Array.isArray(finalizers) && finalizers.length > 0)) {
      if (em['deletionTimestamp'] !== undefined)
        return { object: fromStorage(info, structuredClone(existing)), gone: false };
      const next = structuredClone(existing);
      meta(next)['deletionTimestamp'] = formatTime(new Date());
      meta(next)['deletionGracePeriodSeconds'] = 0;
      if (isNamespace) next['status'] = { phase: 'Terminating' };
      const marked = this.commit(info, 'MODIFIED', key, next, existing);
      if (isNamespace) this.finaliseNamespace(name);
      return { object: fromStorage(info, structuredClone(marked)), gone: false };
    }
    this.commit(info, 'DELETED', key, existing, existing);
    // The HTTP answer carries the object as it was stored, not stamped with the deletion's RV.
    return { object: fromStorage(info, structuredClone(existing)), gone: true };
  }

  /** The namespace controller's job, done at once: delete everything inside, then the namespace. */
  private finaliseNamespace(ns: string): void {
    const timer = setImmediate(() => {
      this.timers.delete(timer);
      for (const [storage, bucket] of this.objects) {
        const [group = '', resource = ''] = storage.split('/');
        const info =
          storage === 'events' ? findResource('', 'v1', 'events') : findResource(group, 'v1', resource);
        if (!info?.namespaced) continue;
        for (const [key, obj] of [...bucket]) {
          if (meta(obj)['namespace'] === ns) this.commit(info, 'DELETED', key, obj, obj);
        }
      }
      const nsInfo = findResource('', 'v1', 'namespaces');
      const nsObj = this.bucket('/namespaces').get(ns);
      if (nsInfo && nsObj) this.commit(nsInfo, 'DELETED', ns, nsObj, nsObj);
    });
    this.timers.add(timer);
  }
}

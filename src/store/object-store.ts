/**
 * `ObjectStore` keeps the latest version of every object a source delivered, per kind. Both sources
 * (files now, Kubernetes informers later) write into it, which is why it lives outside `src/k8s`.
 */
import { isDeepStrictEqual } from 'node:util';
import type { SourceLocation } from '../model/diagnostics.js';
import type { KindMap, KubeKind, KubeObject } from '../model/objects.js';
import { objectKey } from '../util/keys.js';

/** Maps a field path (`spec.rules[0].host`) to where it was written; file mode only. */
export type Locator = (field: string) => SourceLocation | undefined;

export interface StoredObject<T extends KubeObject = KubeObject> {
  readonly object: T;
  readonly locate?: Locator;
}

type Buckets = { [K in KubeKind]: Map<string, StoredObject<KindMap[K]>> };

export class ObjectStore {
  readonly #buckets: Buckets = {
    Ingress: new Map(),
    IngressClass: new Map(),
    Service: new Map(),
    EndpointSlice: new Map(),
    Secret: new Map(),
    ConfigMap: new Map(),
    RateLimitPolicy: new Map(),
    L4Route: new Map(),
  };
  #revision = 0;

  /** `revision` grows by one on every change that mattered. */
  get revision(): number {
    return this.#revision;
  }

  /**
   * `upsert` stores an object and says whether that changed anything. A no-op (same
   * resourceVersion, or identical content when there is none) returns false, so callers drop it at
   * the door instead of rebuilding (DESIGN §4).
   */
  upsert<K extends KubeKind>(object: KindMap[K], locate?: Locator): boolean {
    const bucket = this.#bucket(object.kind as K);
    const key = objectKey(object.metadata.namespace, object.metadata.name);
    const previous = bucket.get(key);
    if (previous && isSameVersion(previous.object, object)) {
      if (locate) bucket.set(key, { object: previous.object, locate });
      return false;
    }
    bucket.set(key, locate ? { object, locate } : { object });
    this.#revision++;
    return true;
  }

  /** `remove` deletes an object; false when it was not there. */
  remove(kind: KubeKind, namespace: string | undefined, name: string): boolean {
    const removed = this.#buckets[kind].delete(objectKey(namespace, name));
    if (removed) this.#revision++;
    return removed;
  }

  get<K extends KubeKind>(
    kind: K,
    namespace: string | undefined,
    name: string,
  ): StoredObject<KindMap[K]> | undefined {
    return this.#bucket(kind).get(objectKey(namespace, name));
  }

  list<K extends KubeKind>(kind: K): StoredObject<KindMap[K]>[] {
    return [...this.#bucket(kind).values()];
  }

  /** `keys` lists `"namespace/name"` keys of one kind, e.g. to find objects a source no longer has. */
  keys(kind: KubeKind): string[] {
    return [...this.#buckets[kind].keys()];
  }

  #bucket<K extends KubeKind>(kind: K): Map<string, StoredObject<KindMap[K]>> {
    return this.#buckets[kind] as Map<string, StoredObject<KindMap[K]>>;
  }
}

function isSameVersion(a: KubeObject, b: KubeObject): boolean {
  const av = a.metadata.resourceVersion;
  const bv = b.metadata.resourceVersion;
  if (av !== undefined && bv !== undefined) return av === bv;
  return isDeepStrictEqual(a, b);
}

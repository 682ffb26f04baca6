/**
 * `refs` keeps reverse indexes from a referenced object to the objects that reference it, after
 * ingress-nginx's `ObjectRefMap` (its `secretIngressMap`): "which Ingresses use Secret ns/tls?" is
 * answered without scanning every Ingress, and "is anyone still using it?" decides whether a
 * Secret's content is kept in memory at all.
 */

/** `RefChange` says which referenced keys gained their first referrer or lost their last one. */
export interface RefChange {
  readonly added: readonly string[];
  readonly removed: readonly string[];
}

/**
 * `ReferenceIndex` maps referrers (e.g. Ingress keys) to the keys they reference (e.g. Secret
 * keys) and back. Keys are opaque strings; `"namespace/name"` by convention.
 */
export class ReferenceIndex {
  readonly #forward = new Map<string, ReadonlySet<string>>();
  readonly #reverse = new Map<string, Set<string>>();

  /** `set` replaces what `referrer` references and reports the keys whose referenced state flipped. */
  set(referrer: string, refs: Iterable<string>): RefChange {
    const next = new Set(refs);
    const previous = this.#forward.get(referrer) ?? new Set<string>();
    const added: string[] = [];
    const removed: string[] = [];
    for (const key of previous) {
      if (next.has(key)) continue;
      const users = this.#reverse.get(key);
      users?.delete(referrer);
      if (users !== undefined && users.size === 0) {
        this.#reverse.delete(key);
        removed.push(key);
      }
    }
    for (const key of next) {
      if (previous.has(key)) continue;
      let users = this.#reverse.get(key);
      if (users === undefined) {
        users = new Set();
        this.#reverse.set(key, users);
        added.push(key);
      }
      users.add(referrer);
    }
    if (next.size === 0) this.#forward.delete(referrer);
    else this.#forward.set(referrer, next);
    return { added, removed };
  }

  /** `delete` forgets a referrer (it was deleted). */
  delete(referrer: string): RefChange {
    return this.set(referrer, []);
  }

  /** `isReferenced` says whether any referrer references `key`. */
  isReferenced(key: string): boolean {
    return this.#reverse.has(key);
  }

  /** `referrers` lists who references `key`, sorted. */
  referrers(key: string): string[] {
    return [...(this.#reverse.get(key) ?? [])].sort();
  }

  /** `referencedBy` lists what `referrer` references, sorted. */
  referencedBy(referrer: string): string[] {
    return [...(this.#forward.get(referrer) ?? [])].sort();
  }

  /** `referenced` lists every referenced key, sorted. */
  referenced(): string[] {
    return [...this.#reverse.keys()].sort();
  }
}

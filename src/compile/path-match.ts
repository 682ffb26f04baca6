/**
 * `path-match` implements Ingress path semantics for the hot path: Exact by whole-string lookup,
 * Prefix element-wise by looking up every `/`-boundary prefix of the request path. See
 * src/model/README.md for the precedence rules.
 */
import type { PathType } from '../model/objects.js';
import { matchClass, prefixKey } from '../model/translate/conflicts.js';

const SLASH = 47;
/** `HASH_SEED` starts every substring hash; the hash of the empty string. */
export const HASH_SEED = 5381;

/**
 * `hashStep` extends a substring hash by one UTF-16 code unit. It stays within 30 bits so V8 keeps it
 * a small integer (no heap number is allocated on the hot path).
 */
export function hashStep(hash: number, code: number): number {
  return (Math.imul(hash, 33) + code) & 0x3fffffff;
}

/** `hashRange` hashes `text[start, end)` with `hashStep`. */
export function hashRange(text: string, start: number, end: number): number {
  let h = HASH_SEED;
  for (let i = start; i < end; i++) h = hashStep(h, text.charCodeAt(i));
  return h;
}

interface Entry<V> {
  readonly key: string;
  readonly value: V;
}

/**
 * `SubstringTable` is a hash map whose lookups take a range of a larger string, so a request path's
 * prefixes (or a host's suffix) can be looked up without slicing — slicing would allocate a string
 * per candidate. Lookups verify the candidate with `startsWith(key, start)`, which allocates nothing.
 */
export class SubstringTable<V> {
  readonly #buckets = new Map<number, Entry<V>[]>();
  #size = 0;
  #maxKeyLength = -1;

  /** `size` is the number of keys. */
  get size(): number {
    return this.#size;
  }

  /** `maxKeyLength` is the length of the longest key, or -1 when empty; lookups stop past it. */
  get maxKeyLength(): number {
    return this.#maxKeyLength;
  }

  /** `add` stores `value` under `key` unless the key is already present; returns whether it stored. */
  add(key: string, value: V): boolean {
    const h = hashRange(key, 0, key.length);
    let bucket = this.#buckets.get(h);
    if (!bucket) {
      bucket = [];
      this.#buckets.set(h, bucket);
    }
    if (bucket.some((e) => e.key === key)) return false;
    bucket.push({ key, value });
    this.#size++;
    if (key.length > this.#maxKeyLength) this.#maxKeyLength = key.length;
    return true;
  }

  /** `get` returns the value stored under `text[start, end)`, given that range's `hashRange`. */
  get(text: string, start: number, end: number, hash: number): V | undefined {
    const bucket = this.#buckets.get(hash);
    if (bucket === undefined) return undefined;
    const length = end - start;
    for (let i = 0; i < bucket.length; i++) {
      const e = bucket[i]!;
      if (e.key.length === length && text.startsWith(e.key, start)) return e.value;
    }
    return undefined;
  }
}

/**
 * `PathTable` holds one host's path rules. `lookup` costs one Map lookup for Exact plus one per `/`
 * in the request path (up to the longest Prefix rule); it does not depend on how many rules exist.
 */
export class PathTable<V> {
  readonly #exact = new Map<string, V>();
  readonly #prefix = new SubstringTable<V>();

  /** `add` stores a rule; returns false when an equivalent rule was already stored (first wins). */
  add(path: string, pathType: PathType, value: V): boolean {
    if (matchClass(pathType) === 'Exact') {
      if (this.#exact.has(path)) return false;
      this.#exact.set(path, value);
      return true;
    }
    return this.#prefix.add(prefixKey(path), value);
  }

  /** `size` is the number of rules stored. */
  get size(): number {
    return this.#exact.size + this.#prefix.size;
  }

  /**
   * `lookup` returns the value of the winning rule for a normalised request path, or undefined.
   * An Exact match always spans the whole request, so it is at least as long as any Prefix match
   * and wins ties; it is tried first. Prefix candidates are the request path cut before each `/`
   * and at its end — exactly the element-wise prefixes — and the longest one present wins.
   */
  lookup(path: string): V | undefined {
    const exact = this.#exact.get(path);
    if (exact !== undefined) return exact;
    const max = this.#prefix.maxKeyLength;
    if (max < 0) return undefined;
    const len = path.length;
    const stop = Math.min(len, max);
    let best: V | undefined;
    let h = HASH_SEED;
    for (let i = 0; i <= stop; i++) {
      const code = i < len ? path.charCodeAt(i) : SLASH;
      if (code === SLASH) {
        const hit = this.#prefix.get(path, 0, i, h);
        if (hit !== undefined) best = hit;
      }
      h = hashStep(h, code);
    }
    return best;
  }
}

/**
 * `ruleMatches` is the reference definition of one rule matching one request path, written for
 * clarity rather than speed. Tests check `PathTable` against it.
 */
export function ruleMatches(pathType: PathType, rulePath: string, requestPath: string): boolean {
  if (matchClass(pathType) === 'Exact') return rulePath === requestPath;
  // Trailing slashes add no element; interior empty elements (`//`) are elements like any other.
  const rule = prefixKey(rulePath).split('/');
  const request = prefixKey(requestPath).split('/');
  if (rule.length > request.length) return false;
  return rule.every((segment, i) => segment === request[i]);
}

/**
 * `path-match` implements Ingress path semantics for the hot path: Exact by whole-string lookup,
 * Prefix element-wise by looking up every `/`-boundary prefix of the request path. See
 * src/model/README.md for the precedence rules.
 */
import type { PathType } from '../model/objects.js';
import { matchClass, prefixKey } from '../model/translate/conflicts.js';
import type { CompiledRegex } from '../util/re2.js';

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
  /** Next entry with the same hash: a chain instead of an array saves one memory hop per probe. */
  next: Entry<V> | undefined;
}

type Chains<V> = Map<number, Entry<V>>;

function chainAdd<V>(chains: Chains<V>, key: string, value: V): boolean {
  const h = hashRange(key, 0, key.length);
  const head = chains.get(h);
  for (let e = head; e !== undefined; e = e.next) if (e.key === key) return false;
  chains.set(h, { key, value, next: head });
  return true;
}

function chainGet<V>(
  chains: Chains<V>,
  text: string,
  start: number,
  end: number,
  hash: number,
): V | undefined {
  const length = end - start;
  for (let e = chains.get(hash); e !== undefined; e = e.next) {
    if (e.key.length === length && text.startsWith(e.key, start)) return e.value;
  }
  return undefined;
}

/**
 * `SubstringTable` is a hash map whose lookups take a range of a larger string, so a request path's
 * prefixes (or a host's suffix) can be looked up without slicing — slicing would allocate a string
 * per candidate. Lookups verify the candidate with `startsWith(key, start)`, which allocates nothing.
 */
export class SubstringTable<V> {
  readonly #chains: Chains<V> = new Map();
  #size = 0;

  /** `size` is the number of keys. */
  get size(): number {
    return this.#size;
  }

  /** `add` stores `value` under `key` unless the key is already present; returns whether it stored. */
  add(key: string, value: V): boolean {
    if (!chainAdd(this.#chains, key, value)) return false;
    this.#size++;
    return true;
  }

  /** `get` returns the value stored under `text[start, end)`, given that range's `hashRange`. */
  get(text: string, start: number, end: number, hash: number): V | undefined {
    return chainGet(this.#chains, text, start, end, hash);
  }
}

/** `RegexRule` is a regex path (`use-regex`) with the length of its pattern as written. */
interface RegexRule<V> {
  readonly regex: CompiledRegex;
  readonly length: number;
  readonly value: V;
}

/**
 * `PathTable` holds one host's path rules and the answer when none matches (`fallback`). `lookup`
 * costs one Map lookup for Exact plus one per `/` in the request path (up to the longest Prefix
 * rule); it does not depend on how many rules or hosts exist. The maps live directly on the table so
 * a lookup follows as few pointers as possible: with many hosts each hop is a likely cache miss.
 */
export class PathTable<V> {
  readonly #exact = new Map<string, V>();
  readonly #prefix: Chains<V> = new Map();
  #prefixCount = 0;
  #maxPrefixLength = -1;
  /** Regex paths, longest pattern first; undefined on hosts without any (the common case). */
  #regex: RegexRule<V>[] | undefined;
  /** `fallback` is what the owner answers when `lookup` finds nothing. */
  readonly fallback: V;

  constructor(fallback: V) {
    this.fallback = fallback;
  }

  /** `add` stores a rule; returns false when an equivalent rule was already stored (first wins). */
  add(path: string, pathType: PathType, value: V): boolean {
    if (matchClass(pathType) === 'Exact') {
      if (this.#exact.has(path)) return false;
      this.#exact.set(path, value);
      return true;
    }
    const key = prefixKey(path);
    if (!chainAdd(this.#prefix, key, value)) return false;
    this.#prefixCount++;
    if (key.length > this.#maxPrefixLength) this.#maxPrefixLength = key.length;
    return true;
  }

  /**
   * `addRegex` stores a regex path. `length` is the pattern's length as written: regex paths are
   * tried longest first, as ingress-nginx sorts its locations; equal lengths keep insertion order.
   */
  addRegex(regex: CompiledRegex, length: number, value: V): void {
    const rules = this.#regex ?? [];
    this.#regex = rules;
    let at = rules.length;
    while (at > 0 && (rules[at - 1] as RegexRule<V>).length < length) at--;
    rules.splice(at, 0, { regex, length, value });
  }

  /** `size` is the number of rules stored. */
  get size(): number {
    return this.#exact.size + this.#prefixCount + (this.#regex?.length ?? 0);
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
    if (this.#regex !== undefined) return this.#lookupWithRegex(path, this.#regex);
    const max = this.#maxPrefixLength;
    if (max < 0) return undefined;
    const len = path.length;
    const stop = Math.min(len, max);
    let best: V | undefined;
    let h = HASH_SEED;
    for (let i = 0; i <= stop; i++) {
      const code = i < len ? path.charCodeAt(i) : SLASH;
      if (code === SLASH) {
        const hit = chainGet(this.#prefix, path, 0, i, h);
        if (hit !== undefined) best = hit;
      }
      h = hashStep(h, code);
    }
    return best;
  }

  /**
   * Hosts with regex paths: the first regex that matches (longest pattern first), unless the longest
   * matching Prefix rule is longer than that pattern. This is ingress-nginx's order — every location
   * sorted by length, first match wins — with Prefix rules keeping their element-wise meaning.
   */
  #lookupWithRegex(path: string, rules: readonly RegexRule<V>[]): V | undefined {
    let regex: RegexRule<V> | undefined;
    // Patterns on RE2 read UTF-8: one conversion serves all of them, and none is made when every
    // pattern tried runs on V8 (src/util/re2-fast-path.ts).
    let utf8: Buffer | undefined;
    for (const rule of rules) {
      const compiled = rule.regex;
      if (!compiled.fast && utf8 === undefined) utf8 = Buffer.from(path);
      if (utf8 === undefined ? compiled.test(path) : compiled.testBytes(utf8)) {
        regex = rule;
        break;
      }
    }
    const max = this.#maxPrefixLength;
    if (max < 0) return regex?.value;
    const len = path.length;
    const stop = Math.min(len, max);
    let best: V | undefined;
    let bestLength = -1;
    let h = HASH_SEED;
    for (let i = 0; i <= stop; i++) {
      const code = i < len ? path.charCodeAt(i) : SLASH;
      if (code === SLASH) {
        const hit = chainGet(this.#prefix, path, 0, i, h);
        if (hit !== undefined) {
          best = hit;
          bestLength = i;
        }
      }
      h = hashStep(h, code);
    }
    if (best !== undefined && (regex === undefined || bestLength > regex.length)) return best;
    return regex?.value;
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

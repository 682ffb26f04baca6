/**
 * `host-match` finds the host rule a request host belongs to: a precise host first, else a wildcard
 * whose `*` stands for exactly one DNS label, else none (the rules without host then apply).
 */
import { HASH_SEED, hashStep, SubstringTable } from './path-match.js';

/**
 * `HostTable` maps rule hosts to values. Lookups cost one Map lookup for the precise host and one
 * hashed lookup of the request host minus its first label; they allocate nothing.
 */
export class HostTable<V> {
  readonly #precise = new Map<string, V>();
  /** Keyed by the wildcard without its `*`, e.g. `.foo.com`. */
  readonly #wildcard = new SubstringTable<V>();

  /** `set` stores a value for a lowercased rule host (`a.example`, `*.example`, or `''`). */
  set(host: string, value: V): void {
    if (host.startsWith('*.')) this.#wildcard.add(host.slice(1), value);
    else this.#precise.set(host, value);
  }

  /** `lookup` returns the value of the host rule `host` belongs to, or undefined. */
  lookup(host: string): V | undefined {
    const precise = this.#precise.get(host);
    if (precise !== undefined) return precise;
    if (this.#wildcard.size === 0) return undefined;
    // The wildcard label must be non-empty, so a dot at index 0 (`.foo.com`) never matches.
    const dot = host.indexOf('.');
    if (dot <= 0) return undefined;
    let h = HASH_SEED;
    for (let i = dot; i < host.length; i++) h = hashStep(h, host.charCodeAt(i));
    return this.#wildcard.get(host, dot, host.length, h);
  }
}

/**
 * `hostMatches` is the reference definition of a rule host matching a request host, written for
 * clarity. `*.foo.com` matches `bar.foo.com` but neither `baz.bar.foo.com` nor `foo.com`.
 */
export function hostMatches(ruleHost: string, requestHost: string): boolean {
  if (!ruleHost.startsWith('*.')) return ruleHost === requestHost;
  const dot = requestHost.indexOf('.');
  return dot > 0 && requestHost.slice(dot) === ruleHost.slice(1);
}

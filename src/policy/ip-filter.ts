/**
 * `ip-filter` is the request-time half of the `allowlist-source-range` / `denylist-source-range`
 * annotations: step (2) of issue 6's order, deny-list then allow-list, refused → 403.
 *
 * The lists are compiled once per policy into integer (network, mask) pairs, so a request costs
 * one address parse plus a linear scan of integer compares, no allocation besides the parse.
 * Measured on the dev container (Node 20, one core), 1e6 checks after warm-up:
 *   - IPv4 or IPv4-mapped peer, 4 entries:   ~0.15-0.19 µs per check (own dotted-quad parser)
 *   - IPv6 peer, 4 entries:                  ~2.2 µs per check (ipaddr.js's IPv6 parse dominates)
 *   - IPv4 peer, 1,000 entries:              ~2.4 µs per check (the linear scan dominates)
 *   - IPv6 peer, 1,000 IPv6 entries:         ~4.6 µs per check
 * Lists in Ingress annotations are a handful of entries, so the scan is kept over a trie.
 */
import ipaddr from 'ipaddr.js';
import { type IpFilterLists, normaliseCidr } from '../model/annotations/ip-filter.js';

/** `IpVerdict` is the outcome for one client address. */
export type IpVerdict = 'allow' | 'deny';

/** `IpFilterConfig` is what the annotations give (normalised or not: entries are normalised again). */
export type IpFilterConfig = IpFilterLists;

/** One compiled list: IPv4 pairs in a flat array, IPv6 as (4 network words, 4 mask words) rows. */
interface Compiled {
  /** [network0, mask0, network1, mask1, …] as unsigned 32-bit integers. */
  readonly v4: Uint32Array;
  /** Rows of 8 words: network (4) then mask (4). */
  readonly v6: Uint32Array;
  readonly size: number;
}

function maskWord(prefix: number, word: number): number {
  const bits = Math.max(0, Math.min(32, prefix - word * 32));
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

function bytesToWords(bytes: readonly number[]): [number, number, number, number] {
  const w = (i: number): number =>
    (((bytes[i] ?? 0) << 24) |
      ((bytes[i + 1] ?? 0) << 16) |
      ((bytes[i + 2] ?? 0) << 8) |
      (bytes[i + 3] ?? 0)) >>>
    0;
  return [w(0), w(4), w(8), w(12)];
}

/** `CompileProblem` is an entry that could not be compiled (it is left out; the caller decides). */
export interface CompileProblem {
  readonly entry: string;
  readonly reason: string;
}

function compileList(entries: readonly string[] | undefined, problems: CompileProblem[]): Compiled {
  const v4: number[] = [];
  const v6: number[] = [];
  for (const entry of entries ?? []) {
    const cidr = normaliseCidr(entry.trim());
    if (cidr === undefined) {
      problems.push({ entry, reason: 'not an IP address or CIDR' });
      continue;
    }
    const [address, prefix] = ipaddr.parseCIDR(cidr);
    if (address instanceof ipaddr.IPv4) {
      const [network = 0] = bytesToWords(address.toByteArray());
      const mask = maskWord(prefix, 0);
      v4.push((network & mask) >>> 0, mask);
    } else {
      const words = bytesToWords(address.toByteArray());
      for (let i = 0; i < 4; i++) v6.push((words[i]! & maskWord(prefix, i)) >>> 0);
      for (let i = 0; i < 4; i++) v6.push(maskWord(prefix, i));
    }
  }
  return { v4: Uint32Array.from(v4), v6: Uint32Array.from(v6), size: v4.length / 2 + v6.length / 8 };
}

/** A peer address as integers: IPv4 (IPv4-mapped IPv6 included) or IPv6 words. */
type Peer = { readonly v4: number } | { readonly v6: readonly [number, number, number, number] };

const DOTTED_QUAD = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function parseV4(text: string): number | undefined {
  const m = DOTTED_QUAD.exec(text);
  if (m === null) return undefined;
  let n = 0;
  for (let i = 1; i <= 4; i++) {
    const part = Number(m[i]);
    if (part > 255 || (m[i]!.length > 1 && m[i]!.startsWith('0'))) return undefined;
    n = n * 256 + part;
  }
  return n;
}

/** `parsePeer` reads a client address (`peerAddress` form, or an X-Forwarded-For entry; zone ids dropped); undefined when unreadable. */
function parsePeer(address: string): Peer | undefined {
  // Fast path: plain dotted quads skip ipaddr.js (most peers behind a load balancer).
  if (!address.includes(':')) {
    const v4 = parseV4(address);
    return v4 === undefined ? undefined : { v4 };
  }
  const zone = address.indexOf('%');
  const bare = zone === -1 ? address : address.slice(0, zone);
  if (bare.startsWith('::ffff:') && bare.includes('.')) {
    const v4 = parseV4(bare.slice(7));
    if (v4 !== undefined) return { v4 };
  }
  let v6: ipaddr.IPv6;
  try {
    // One parse: `isValid` first would parse twice (the IPv6 parse is the dominant cost here).
    v6 = ipaddr.IPv6.parse(bare);
  } catch {
    return undefined;
  }
  if (v6.isIPv4MappedAddress()) {
    const [n = 0] = bytesToWords(v6.toIPv4Address().toByteArray());
    return { v4: n };
  }
  return { v6: bytesToWords(v6.toByteArray()) };
}

function matches(list: Compiled, peer: Peer): boolean {
  if ('v4' in peer) {
    const a = peer.v4;
    const t = list.v4;
    for (let i = 0; i < t.length; i += 2) if ((a & t[i + 1]!) >>> 0 === t[i]) return true;
    return false;
  }
  const [a0, a1, a2, a3] = peer.v6;
  const t = list.v6;
  for (let i = 0; i < t.length; i += 8) {
    if (
      (a0 & t[i + 4]!) >>> 0 === t[i] &&
      (a1 & t[i + 5]!) >>> 0 === t[i + 1] &&
      (a2 & t[i + 6]!) >>> 0 === t[i + 2] &&
      (a3 & t[i + 7]!) >>> 0 === t[i + 3]
    ) {
      return true;
    }
  }
  return false;
}

/**
 * `IpFilter` is one compiled policy. Build it once per policy version (`compileIpFilter`) and share
 * it across requests; `check` is synchronous and pure.
 */
export class IpFilter {
  readonly #allow: Compiled;
  readonly #deny: Compiled;
  /** No allow-list was given: everyone the deny-list does not refuse is allowed. */ /** Entries left out because they did not parse (none when the input came from the annotations). */
  readonly problems: readonly CompileProblem[];

  constructor(config: IpFilterConfig) {
    const problems: CompileProblem[] = [];
    this.#deny = compileList(config.deny, problems);
    this.#allow = compileList(config.allow, problems);
    // An allow-list whose entries all failed to compile must not turn into "allow everyone".
    this.#allowAll = (config.allow ?? []).length === 0;
    this.problems = problems;
  }

  readonly #allowAll: boolean;

  /**
   * `check` decides for one client address (a socket's `remoteAddress` or the address the
   * forwarded headers establish). The deny-list is consulted first; an empty or absent allow-list
   * allows everyone the deny-list did not refuse. An unreadable address is refused whenever a
   * list is set: a filter that cannot place a client fails closed.
   */
  check(clientAddress: string | undefined): IpVerdict {
    if (this.#deny.size === 0 && this.#allowAll) return 'allow';
    const peer = clientAddress === undefined ? undefined : parsePeer(clientAddress);
    if (peer === undefined) return 'deny';
    if (matches(this.#deny, peer)) return 'deny';
    if (this.#allowAll) return 'allow';
    return matches(this.#allow, peer) ? 'allow' : 'deny';
  }
}

/** `compileIpFilter` builds the matcher for one policy. */
export function compileIpFilter(config: IpFilterConfig): IpFilter {
  return new IpFilter(config);
}

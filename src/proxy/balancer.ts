/**
 * `balancer` picks which endpoint of a backend serves a request. The strategy only chooses the
 * FIRST endpoint; a retry takes the next one in order (`attemptIndex`), so every strategy gets
 * "retry connect failures on the next endpoint" for free and no attempt repeats an endpoint
 * while unused ones remain.
 *
 * Strategies: round robin (the default), `consistentHash` (`upstream-hash-by`, rendezvous hashing
 * of the expanded key over the endpoints' `address:port`) and `ewma` (peak EWMA of response
 * times, power of two choices). Session affinity (`affinity.ts`) places by the same rendezvous
 * hash; canary splits happen one level up (`canary.ts`), by choosing which backend's endpoint set
 * to balance over.
 */

/** `BalancerState` is per-backend mutable state a strategy may keep (it survives endpoint updates). */
export interface BalancerState {
  cursor: number;
  /** `ewma`: decayed response time per endpoint key, created on the first EWMA pick. */
  ewma?: Map<string, EwmaScore>;
}

/** `EwmaScore` is one endpoint's peak-EWMA response time (ms) and when it was last updated. */
export interface EwmaScore {
  ms: number;
  at: number;
}

/** `BalanceInput` is what a strategy may look at. */
export interface BalanceInput {
  readonly clientAddress: string;
  readonly path: string;
  /** The endpoints in set order, for strategies that place by endpoint identity (hash, EWMA). */
  readonly endpoints?: readonly { readonly key: string }[];
  /** 32-bit hash of the request's key (`upstream-hash-by` expanded), for `consistentHash`. */
  readonly keyHash?: number;
}

/** `BalancerStrategy` returns the index of the first endpoint to try, in `[0, count)`. */
export interface BalancerStrategy {
  readonly name: string;
  first(state: BalancerState, count: number, input: BalanceInput): number;
}

/** `roundRobin` cycles through the endpoints, one step per request, per backend. */
export const roundRobin: BalancerStrategy = {
  name: 'round-robin',
  first(state, count) {
    const index = state.cursor % count;
    // Wrap well below 2^53 so the counter never loses precision on a long-lived process.
    state.cursor = index + 1;
    return index;
  },
};

/** `attemptIndex` is the endpoint index for retry number `attempt` (0 = first try). */
export function attemptIndex(first: number, attempt: number, count: number): number {
  return (first + attempt) % count;
}

/** `newBalancerState` starts a backend at a random offset, so many proxies don't all hit endpoint 0 first. */
export function newBalancerState(random: () => number = Math.random): BalancerState {
  return { cursor: Math.floor(random() * 1_000_000) };
}

/** `fnv1a32` hashes a string (UTF-16 code units) to an unsigned 32-bit integer. */
export function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

// murmur3's finaliser: spreads the combined key and endpoint hashes over all 32 bits.
function mix(h: number): number {
  let x = h ^ (h >>> 16);
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

const endpointHashCache = new WeakMap<readonly { readonly key: string }[], Uint32Array>();

/** `endpointHashes` hashes each endpoint's `address:port` once per endpoint set (cached). */
export function endpointHashes(endpoints: readonly { readonly key: string }[]): Uint32Array {
  let hashes = endpointHashCache.get(endpoints);
  if (hashes === undefined) {
    hashes = new Uint32Array(endpoints.length);
    for (let i = 0; i < endpoints.length; i++) hashes[i] = fnv1a32((endpoints[i] as { key: string }).key);
    endpointHashCache.set(endpoints, hashes);
  }
  return hashes;
}

/**
 * `rendezvous` is highest-random-weight hashing: the endpoint whose hash mixed with the key scores
 * highest wins. A key moves only when its endpoint leaves or a new endpoint outscores it, never
 * between two endpoints that both stay, whatever their order or the set's other changes.
 */
export function rendezvous(keyHash: number, hashes: Uint32Array, from = 0, to = hashes.length): number {
  let best = from;
  let bestScore = -1;
  for (let i = from; i < to; i++) {
    const score = mix((keyHash + Math.imul(hashes[i] as number, 0x9e3779b1)) >>> 0);
    if (score > bestScore) {
      bestScore = score;
      best = i;
    }
  }
  return best;
}

/** `consistentHash` places `input.keyHash` on the endpoints by `rendezvous` (round robin without a key). */
export const consistentHash: BalancerStrategy = {
  name: 'consistent-hash',
  first(state, count, input) {
    if (input.keyHash === undefined || input.endpoints === undefined || input.endpoints.length !== count) {
      return roundRobin.first(state, count, input);
    }
    return rendezvous(input.keyHash, endpointHashes(input.endpoints));
  },
};

/**
 * `hashSubset` is `upstream-hash-by-subset`: the endpoints, in set order, form groups of `size`
 * (the last group is filled up from the start, as ingress-nginx's chashsubset); the key picks a
 * group by rendezvous over group numbers, and a random member of it serves.
 */
export function hashSubset(size: number, random: () => number = Math.random): BalancerStrategy {
  return {
    name: 'consistent-hash-subset',
    first(state, count, input) {
      if (input.keyHash === undefined) return roundRobin.first(state, count, input);
      const groups = Math.ceil(count / size);
      let best = 0;
      let bestScore = -1;
      for (let g = 0; g < groups; g++) {
        const score = mix((input.keyHash + Math.imul(g + 1, 0x9e3779b1)) >>> 0);
        if (score > bestScore) {
          bestScore = score;
          best = g;
        }
      }
      return (best * size + Math.floor(random() * size)) % count;
    },
  };
}

/** ingress-nginx's `DECAY_TIME`: an observation's weight halves in about 7 s (e^(-t/10 s)). */
export const EWMA_DECAY_MS = 10_000;

function decayed(score: EwmaScore | undefined, now: number): number {
  if (score === undefined) return 0;
  const dt = Math.max(0, now - score.at);
  return score.ms * Math.exp(-dt / EWMA_DECAY_MS);
}

/**
 * `ewma` is ingress-nginx's peak-EWMA balancer: two endpoints drawn at random, the one with the
 * lower decayed response time wins (an endpoint never measured scores 0, so new ones get tried).
 */
export function ewma(random: () => number = Math.random, clock: () => number = Date.now): BalancerStrategy {
  return {
    name: 'ewma',
    first(state, count, input) {
      if (count === 1 || input.endpoints === undefined || input.endpoints.length !== count) {
        return count === 1 ? 0 : roundRobin.first(state, count, input);
      }
      const a = Math.floor(random() * count);
      const b = (a + 1 + Math.floor(random() * (count - 1))) % count;
      const scores = state.ewma;
      if (scores === undefined) return a;
      const now = clock();
      const sa = decayed(scores.get((input.endpoints[a] as { key: string }).key), now);
      const sb = decayed(scores.get((input.endpoints[b] as { key: string }).key), now);
      return sb < sa ? b : a;
    },
  };
}

/** `observeEwma` feeds one response time into a backend's EWMA scores (ingress-nginx's `after_balance`). */
export function observeEwma(
  state: BalancerState,
  endpointKey: string,
  ms: number,
  liveEndpoints: number,
  now: number = Date.now(),
): void {
  let scores = state.ewma;
  if (scores === undefined) {
    scores = new Map();
    state.ewma = scores;
  }
  const score = scores.get(endpointKey);
  if (score === undefined) {
    // Endpoints come and go; scores of departed ones are dropped before the map outgrows the set.
    if (scores.size >= 2 * liveEndpoints + 8) scores.clear();
    scores.set(endpointKey, { ms, at: now });
    return;
  }
  const weight = Math.exp(-Math.max(0, now - score.at) / EWMA_DECAY_MS);
  score.ms = score.ms * weight + ms * (1 - weight);
  score.at = now;
}

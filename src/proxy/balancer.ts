/**
 * `balancer` picks which endpoint of a backend serves a request. The strategy only chooses the
 * FIRST endpoint; a retry takes the next one in order (`attemptIndex`), so every strategy gets
 * "retry connect failures on the next endpoint" for free and no attempt repeats an endpoint
 * while unused ones remain.
 *
 * Round-robin is the only strategy today. Hashing (`upstream-hash-by`), session affinity and
 * EWMA plug in as other `BalancerStrategy` implementations; canary splits happen one level up,
 * by choosing which backend's endpoint set to balance over.
 */

/** `BalancerState` is per-backend mutable state a strategy may keep (it survives endpoint updates). */
export interface BalancerState {
  cursor: number;
}

/** `BalanceInput` is what a strategy may look at. Hash and affinity strategies will read these. */
export interface BalanceInput {
  readonly clientAddress: string;
  readonly path: string;
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

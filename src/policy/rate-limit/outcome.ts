/**
 * `outcome` turns per-bucket figures (from `gcra.ts` in memory, from the Lua script in Redis) into
 * the one `LimitOutcome` the chain renders, so both stores report the same numbers the same way.
 */
import type { LimitOutcome } from './types.js';

/** `BucketFigures` is one bucket's answer, in milliseconds. */
export interface BucketFigures {
  readonly allowed: boolean;
  readonly remaining: number;
  readonly retryAfterMs: number;
  readonly resetMs: number;
}

// Float noise must not turn an exact 1 000 ms into a 2 s header.
const SECONDS_SLACK = 1e-9;

/** `ceilSeconds` rounds milliseconds up to whole seconds (0 stays 0). */
export function ceilSeconds(ms: number): number {
  return ms <= 0 ? 0 : Math.ceil(ms / 1_000 - SECONDS_SLACK);
}

/**
 * `decidingBucket` picks the bucket whose figures the client sees: when refused, the refusing
 * bucket that keeps the client waiting longest (all must admit before anything is taken); when
 * admitted, the one with the fewest tokens left (ties: the one that takes longest to refill), as
 * the IETF draft asks for the policy "closest to being exhausted".
 */
export function decidingBucket(figures: readonly BucketFigures[], allowed: boolean): number {
  let best = 0;
  for (let i = 1; i < figures.length; i++) {
    const a = figures[i]!;
    const b = figures[best]!;
    if (!allowed) {
      if (!a.allowed && (b.allowed || a.retryAfterMs > b.retryAfterMs)) best = i;
    } else if (a.remaining < b.remaining || (a.remaining === b.remaining && a.resetMs > b.resetMs)) {
      best = i;
    }
  }
  return best;
}

/** `toOutcome` renders the deciding bucket's figures as whole numbers for the headers. */
export function toOutcome(
  allowed: boolean,
  capacity: number,
  figures: BucketFigures,
  store: LimitOutcome['store'],
): LimitOutcome {
  return {
    allowed,
    limit: Math.floor(capacity),
    remaining: allowed ? figures.remaining : 0,
    resetSeconds: ceilSeconds(figures.resetMs),
    retryAfterSeconds: allowed ? 0 : Math.max(1, ceilSeconds(figures.retryAfterMs)),
    store,
  };
}

/** `unlimited` is the answer of a limit that has no bucket (only `limit-connections`). */
export function unlimited(store: LimitOutcome['store']): LimitOutcome {
  return { allowed: true, limit: 0, remaining: 0, resetSeconds: 0, retryAfterSeconds: 0, store };
}

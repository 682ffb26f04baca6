/**
 * `gcra` is the token-bucket arithmetic every Portico rate limit uses, in both stores (a Map in
 * memory here; the same steps as a Lua script in Redis), written as the Generic Cell Rate
 * Algorithm: one number per key, the theoretical arrival time (TAT) of the next request if the
 * key sent at exactly its rate. A bucket of `capacity` tokens refilled at `ratePerSecond` admits a
 * request at `now` iff `max(TAT, now) - now <= (capacity - 1) × interval`.
 *
 * Why GCRA and not rate-limiter-flexible's fixed windows: the promise users read is a bucket
 * ("10 rps + burst 5 admits 15 of 30 simultaneous requests, the 16th after 100 ms, full again
 * after 1.5 s"), and nginx's `limit_req` (which ingress-nginx spellings must keep) is a leaky
 * bucket too. A fixed window admits up to twice the limit across a window edge.
 *
 * Times are milliseconds as floating-point numbers; `now` comes from the caller (injected clocks
 * in tests, `performance.timeOrigin + performance.now()` or Redis `TIME` in production).
 */

/** `BucketShape` is one limit: how many tokens it holds and how fast they come back. */
export interface BucketShape {
  /** Tokens when full: requests admitted back to back from rest. At least 1. */
  readonly capacity: number;
  /** Tokens added per second. Positive. */
  readonly ratePerSecond: number;
}

/** `Decision` is the outcome of one request against one bucket. */
export interface Decision {
  readonly allowed: boolean;
  /** New TAT to store (unchanged when refused). */
  readonly tat: number;
  /** Whole tokens left after this request (0 when refused). */
  readonly remaining: number;
  /** When refused: milliseconds until one token is back (Retry-After). Else 0. */
  readonly retryAfterMs: number;
  /** Milliseconds until the bucket is full again (RateLimit-Reset). */
  readonly resetMs: number;
}

/** `intervalMs` is the time one token takes to come back. */
export function intervalMs(shape: BucketShape): number {
  return 1_000 / shape.ratePerSecond;
}

// Floating-point slack: 10 requests at exactly 100 ms steps must not be refused for 1e-13 ms.
const EPSILON = 1e-6;

/**
 * `decide` applies one request at `now` to a bucket whose stored TAT is `tat` (undefined: never
 * seen, i.e. full). Pure; the caller stores `tat` back when `allowed`.
 */
export function decide(shape: BucketShape, tat: number | undefined, now: number): Decision {
  const interval = intervalMs(shape);
  const tolerance = (shape.capacity - 1) * interval;
  const start = tat === undefined || tat < now ? now : tat;
  const ahead = start - now;
  if (ahead > tolerance + EPSILON) {
    return {
      allowed: false,
      tat: start,
      remaining: 0,
      retryAfterMs: ahead - tolerance,
      resetMs: ahead,
    };
  }
  const next = start + interval;
  const used = next - now;
  return {
    allowed: true,
    tat: next,
    remaining: Math.max(0, Math.floor((tolerance - (used - interval) + EPSILON) / interval)),
    retryAfterMs: 0,
    resetMs: used,
  };
}

/**
 * `inspect` is `decide` without the request: what the bucket holds at `now` (for explain and
 * `peek`). `remaining` counts the token the next request would take; `resetMs` is the time until
 * the bucket is full from here.
 */
export function inspect(shape: BucketShape, tat: number | undefined, now: number): Decision {
  const interval = intervalMs(shape);
  const tolerance = (shape.capacity - 1) * interval;
  const ahead = tat === undefined || tat < now ? 0 : tat - now;
  const allowed = ahead <= tolerance + EPSILON;
  const tokens = Math.floor((tolerance + interval - ahead + EPSILON) / interval);
  return {
    allowed,
    tat: now + ahead,
    remaining: allowed ? Math.min(Math.floor(shape.capacity), Math.max(0, tokens)) : 0,
    retryAfterMs: allowed ? 0 : ahead - tolerance,
    resetMs: ahead,
  };
}

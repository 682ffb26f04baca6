/**
 * `types` is the contract between the request-time policy chain (`policy/chain.ts`) and the rate
 * limit engine (`engine.ts`, memory and Redis stores). The chain extracts the key, applies the
 * allow-list and dry run, and renders the answer; the engine only counts.
 */
import type { RateLimitConfig } from '../../model/types.js';

/** `LimitOutcome` is one request checked against every bucket of a limit. */
export interface LimitOutcome {
  readonly allowed: boolean;
  /** RateLimit-Limit: capacity of the bucket that decided (the tightest one). */
  readonly limit: number;
  /** RateLimit-Remaining: whole tokens left in that bucket after this request. */
  readonly remaining: number;
  /** RateLimit-Reset: whole seconds (rounded up) until that bucket is full again. */
  readonly resetSeconds: number;
  /** Retry-After when refused: whole seconds (rounded up, at least 1); 0 when allowed. */
  readonly retryAfterSeconds: number;
  /** Where it was counted: `memory`, `redis`, or `fallback` (Redis unreachable: memory share). */
  readonly store: 'memory' | 'redis' | 'fallback';
}

/**
 * `ZoneLimiter` counts one key space (one Ingress, or one route with `scope: path`). Its state
 * survives snapshot swaps as long as the engine hands out the same object for the same zone and
 * configuration.
 */
export interface ZoneLimiter {
  readonly config: RateLimitConfig;
  /**
   * Takes one token from every bucket of `key` (all or nothing). Memory answers synchronously;
   * Redis answers within the engine's timeout and never rejects (fallback instead).
   */
  consume(key: string): LimitOutcome | Promise<LimitOutcome>;
  /** Like `consume` without taking anything (for explain). */
  peek(key: string): LimitOutcome | Promise<LimitOutcome>;
  /** Connection limit: true when `key` may start one more request (then `release` exactly once). */
  acquire(key: string): boolean;
  release(key: string): void;
}

/** `StoreState` is the engine's Redis state, for metrics, logs and explain. */
export type StoreState = 'memory-only' | 'shared' | 'fallback';

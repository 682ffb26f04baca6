/**
 * `memory` is the in-process store: one Map per zone from key to the TAT of each bucket (GCRA,
 * `gcra.ts`), answered synchronously. It serves `store: memory` limits and, divided among the
 * replicas, the fallback of `store: redis` limits while Redis is unreachable.
 *
 * Why a Map and not rate-limiter-flexible's RateLimiterMemory: that store is a fixed window (a
 * counter that resets `duration` seconds after the first request), which admits up to twice the
 * limit across a window edge. With 15 points per second it admits 29 requests within 2 ms (14 just
 * before the edge, 15 just after), where the bucket the annotations promise (10 rps + burst 5)
 * admits 15; `test/unit/policy/rate-limit/memory.test.ts` measures both. It also arms one timer
 * per key, where a TAT in the past simply means "full" and a periodic sweep reclaims it.
 *
 * Memory is bounded: an entry whose TATs are all in the past is the same as no entry, so `sweep`
 * deletes it; and a zone holds at most `maxKeys` keys. When a key spray fills a zone, the oldest
 * inserted key is forgotten, so that key starts again from a full bucket: the bound errs towards
 * admitting, never towards refusing clients who did nothing.
 */
import { type BucketShape, type Decision, decide, inspect } from './gcra.js';
import { type BucketFigures, decidingBucket, toOutcome } from './outcome.js';
import type { LimitOutcome } from './types.js';

/**
 * Default bound on keys per zone. An entry costs about 125 bytes of heap (measured: 100 000 IPv4
 * keys with one bucket, or IPv6 keys with two, add 12-13 MB), so a key spray costs at most ~13 MB
 * per zone.
 */
export const DEFAULT_MAX_KEYS_PER_ZONE = 100_000;

/** `MemoryBuckets` counts one zone (all its keys) against one or more buckets. */
export class MemoryBuckets {
  private readonly tats = new Map<string, number[]>();
  private readonly decisions: Decision[] = [];

  constructor(
    readonly shapes: readonly BucketShape[],
    private readonly maxKeys: number = DEFAULT_MAX_KEYS_PER_ZONE,
    private readonly store: LimitOutcome['store'] = 'memory',
  ) {
    if (shapes.length === 0) throw new Error('MemoryBuckets needs at least one bucket');
  }

  /** Keys currently held (live or not yet swept). */
  get size(): number {
    return this.tats.size;
  }

  /** Takes one token from every bucket of `key` if all of them have one. */
  consume(key: string, now: number): LimitOutcome {
    const stored = this.tats.get(key);
    const decisions = this.decisions;
    let allowed = true;
    for (let i = 0; i < this.shapes.length; i++) {
      const d = decide(this.shapes[i]!, stored?.[i], now);
      decisions[i] = d;
      if (!d.allowed) allowed = false;
    }
    if (allowed) this.commit(key, stored, decisions);
    return this.render(decisions, allowed);
  }

  /** What `consume` would answer, taking nothing. */
  peek(key: string, now: number): LimitOutcome {
    const stored = this.tats.get(key);
    const decisions = this.decisions;
    let allowed = true;
    for (let i = 0; i < this.shapes.length; i++) {
      const d = inspect(this.shapes[i]!, stored?.[i], now);
      decisions[i] = d;
      if (!d.allowed) allowed = false;
    }
    return this.render(decisions, allowed);
  }

  /** Deletes keys whose buckets are all full again; returns how many. */
  sweep(now: number): number {
    let removed = 0;
    for (const [key, tats] of this.tats) {
      if (tats.every((tat) => tat <= now)) {
        this.tats.delete(key);
        removed++;
      }
    }
    return removed;
  }

  clear(): void {
    this.tats.clear();
  }

  private commit(key: string, stored: number[] | undefined, decisions: readonly Decision[]): void {
    if (stored) {
      for (let i = 0; i < decisions.length; i++) stored[i] = decisions[i]!.tat;
      return;
    }
    if (this.tats.size >= this.maxKeys) {
      // Map iteration is insertion order: the first key is the oldest one.
      const oldest = this.tats.keys().next();
      if (!oldest.done) this.tats.delete(oldest.value);
    }
    this.tats.set(
      key,
      decisions.map((d) => d.tat),
    );
  }

  private render(decisions: readonly BucketFigures[], allowed: boolean): LimitOutcome {
    const count = this.shapes.length;
    const index = count === 1 ? 0 : decidingBucket(decisions, allowed);
    return toOutcome(allowed, this.shapes[index]!.capacity, decisions[index]!, this.store);
  }
}

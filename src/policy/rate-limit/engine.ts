/**
 * `engine` hands out one `ZoneLimiter` per zone and configuration and keeps their counters across
 * snapshot swaps. It only counts: the chain extracts the key, applies the allow-list and dry run,
 * and renders the answer (`headers.ts`).
 *
 * - Store per limit: `config.store ?? (redisUrl ? 'redis' : 'memory')`. `store: redis` without a
 *   `redisUrl` counts in memory (there is nothing to share with), with a warning naming the zone.
 * - Counters survive a snapshot swap when the zone and what they count (buckets, key, store) are
 *   unchanged; a change of any other field (dry run, status, allow-list) hands out a new
 *   `ZoneLimiter` object over the same counters. A change of buckets, key or store starts from full
 *   buckets (fresh state). Requests in flight stay counted unless `limit-connections` changes.
 * - Connection limits (`limit-connections`) are counted per process, in memory, with either store,
 *   as nginx's `limit_conn` is per instance.
 * - Redis unreachable or slower than `redisTimeoutMs`: the answer comes from the fallback, the same
 *   buckets with capacity and rate divided by `replicas()` (capacity at least 1), counted in
 *   memory, `store: 'fallback'`. See `redis.ts` for the recovery.
 */
import { createHash } from 'node:crypto';
import type { Logger } from '../../log/logger.js';
import type { RateLimitBucket, RateLimitConfig } from '../../model/types.js';
import type { BucketShape } from './gcra.js';
import { intervalMs } from './gcra.js';
import { DEFAULT_MAX_KEYS_PER_ZONE, MemoryBuckets } from './memory.js';
import { type BucketFigures, decidingBucket, toOutcome, unlimited } from './outcome.js';
import { RedisConnection } from './redis.js';
import type { LimitOutcome, StoreState, ZoneLimiter } from './types.js';

export interface RateLimitEngineOptions {
  /** `--redis-url`: limits default to the shared store. */
  readonly redisUrl?: string;
  /** Bound on every Redis call, in ms (default 50). */
  readonly redisTimeoutMs?: number;
  /** While in fallback, how often Redis is probed with PING, in ms (default 250). */
  readonly redisProbeIntervalMs?: number;
  /** Redis key prefix (default `portico:rl:`). */
  readonly redisKeyPrefix?: string;
  /**
   * Tests only: the time passed to the Lua script instead of Redis `TIME`, so boundary figures can
   * be checked through Redis with an injected clock. Production leaves it unset (one clock for all
   * replicas).
   */
  readonly redisNow?: () => number;
  /** Ready Portico replicas, for the fallback share (default 1). */
  readonly replicas?: () => number;
  /** Clock in ms for the memory stores (default `performance.timeOrigin + performance.now()`). */
  readonly now?: () => number;
  readonly logger: Logger;
  /** Called on every transition of `state` (read `state` for the initial value). */
  readonly onStoreState?: (state: StoreState) => void;
  /** Bound on keys per zone in memory (default 100 000; see `memory.ts`). */
  readonly maxKeysPerZone?: number;
  /** How often memory stores drop full buckets, in ms (default 10 000). */
  readonly sweepIntervalMs?: number;
}

// Keys come from client-controlled headers and cookies: long ones are hashed so a zone's memory
// and Redis keys stay bounded per entry.
const MAX_KEY_LENGTH = 128;

function boundedKey(key: string): string {
  return key.length <= MAX_KEY_LENGTH ? key : `#${createHash('sha256').update(key).digest('base64url')}`;
}

const defaultClock = (): number => performance.timeOrigin + performance.now();

/** `RateLimitEngine` is the process's rate-limit counting, shared by every snapshot. */
export class RateLimitEngine {
  private readonly limiters = new Map<string, Limiter>();
  private readonly counters = new Map<string, Counters>();
  private readonly connectionCounters = new Map<string, ConnectionCounter>();
  private readonly redis: RedisConnection | undefined;
  private readonly sweepTimer: NodeJS.Timeout;
  private readonly now: () => number;

  constructor(private readonly options: RateLimitEngineOptions) {
    this.now = options.now ?? defaultClock;
    if (options.redisUrl) {
      this.redis = new RedisConnection({
        url: options.redisUrl,
        timeoutMs: options.redisTimeoutMs ?? 50,
        probeIntervalMs: options.redisProbeIntervalMs ?? 250,
        logger: options.logger,
        onState: (state) => options.onStoreState?.(state),
      });
    }
    this.sweepTimer = setInterval(() => this.sweep(), options.sweepIntervalMs ?? 10_000);
    this.sweepTimer.unref();
  }

  /** `memory-only` without a Redis URL; else `shared` or `fallback`. */
  get state(): StoreState {
    return this.redis ? this.redis.state : 'memory-only';
  }

  /**
   * The limiter of `zone` under `config`: the same object for the same zone and content, so the
   * chain can call this on every snapshot build. Throws a RangeError naming the zone and field for
   * a bucket translation should have rejected (capacity < 1, rate ≤ 0, connections < 1).
   */
  limiterFor(zone: string, config: RateLimitConfig): ZoneLimiter {
    const identity = `${zone}\n${stableJson(config)}`;
    const existing = this.limiters.get(identity);
    if (existing) return existing;
    validateBuckets(zone, config);
    const store =
      config.store === 'redis' && this.redis ? 'redis' : config.store ? 'memory' : this.defaultStore();
    // Buckets and connection counts are kept apart, so a new rate keeps the requests in flight.
    const countingIdentity = `${zone}\n${store}\n${stableJson(config.key)}\n${stableJson(config.buckets)}`;
    let counters = this.counters.get(countingIdentity);
    if (!counters) {
      counters = this.createCounters(zone, config, store);
      this.counters.set(countingIdentity, counters);
    }
    const connectionIdentity = `${zone}\n${config.connections ?? ''}`;
    let connections = this.connectionCounters.get(connectionIdentity);
    if (!connections) {
      connections = new ConnectionCounter(config.connections);
      this.connectionCounters.set(connectionIdentity, connections);
    }
    const limiter = new Limiter(config, counters, connections, countingIdentity, connectionIdentity);
    this.limiters.set(identity, limiter);
    return limiter;
  }

  /** Forgets every limiter (and its counters) not in `live`; call after each snapshot publish. */
  retain(live: Iterable<ZoneLimiter>): void {
    const keep = new Set<ZoneLimiter>(live);
    const inUse = new Set<string>();
    for (const [identity, limiter] of this.limiters) {
      if (keep.has(limiter)) {
        inUse.add(limiter.countingIdentity);
        inUse.add(limiter.connectionIdentity);
      } else {
        this.limiters.delete(identity);
      }
    }
    for (const identity of this.counters.keys()) {
      if (!inUse.has(identity)) this.counters.delete(identity);
    }
    for (const identity of this.connectionCounters.keys()) {
      if (!inUse.has(identity)) this.connectionCounters.delete(identity);
    }
  }

  /** Resolves true once Redis answers (`shared`), false after `timeoutMs` or without Redis. */
  whenShared(timeoutMs = 1_000): Promise<boolean> {
    return this.redis ? this.redis.whenShared(timeoutMs) : Promise.resolve(false);
  }

  async close(): Promise<void> {
    clearInterval(this.sweepTimer);
    await this.redis?.close();
  }

  /** Drops full buckets from every memory store (also run by a timer). */
  sweep(): void {
    const now = this.now();
    for (const counters of this.counters.values()) counters.sweep(now);
  }

  private defaultStore(): 'memory' | 'redis' {
    return this.redis ? 'redis' : 'memory';
  }

  private createCounters(zone: string, config: RateLimitConfig, store: 'memory' | 'redis'): Counters {
    const maxKeys = this.options.maxKeysPerZone ?? DEFAULT_MAX_KEYS_PER_ZONE;
    if (config.buckets.length === 0) return new NoBuckets();
    if (config.store === 'redis' && !this.redis) {
      this.options.logger.warn(
        { zone },
        'rate limit asks for store redis but no --redis-url is set: counting in memory',
      );
    }
    if (store === 'memory' || !this.redis) {
      return new MemoryCounters(new MemoryBuckets(config.buckets, maxKeys, 'memory'), this.now);
    }
    return new RedisCounters({
      redis: this.redis,
      keyPrefix: `${this.options.redisKeyPrefix ?? 'portico:rl:'}{${zone}|`,
      buckets: config.buckets,
      fallback: new FallbackBuckets(config.buckets, this.options.replicas ?? (() => 1), maxKeys),
      now: this.now,
      redisNow: this.options.redisNow,
    });
  }
}

/** `Limiter` is what the chain holds: one configuration over (possibly shared) counters. */
class Limiter implements ZoneLimiter {
  constructor(
    readonly config: RateLimitConfig,
    private readonly counters: Counters,
    private readonly connections: ConnectionCounter,
    readonly countingIdentity: string,
    readonly connectionIdentity: string,
  ) {}

  consume(key: string): LimitOutcome | Promise<LimitOutcome> {
    return this.counters.consume(boundedKey(key));
  }

  peek(key: string): LimitOutcome | Promise<LimitOutcome> {
    return this.counters.peek(boundedKey(key));
  }

  acquire(key: string): boolean {
    return this.connections.acquire(boundedKey(key));
  }

  release(key: string): void {
    this.connections.release(boundedKey(key));
  }
}

interface Counters {
  consume(key: string): LimitOutcome | Promise<LimitOutcome>;
  peek(key: string): LimitOutcome | Promise<LimitOutcome>;
  sweep(now: number): void;
}

/**
 * `ConnectionCounter` counts requests in flight per key, in this process. A counter exists only
 * while its key has a request in flight, so memory follows concurrency.
 */
class ConnectionCounter {
  private readonly inFlight = new Map<string, number>();

  constructor(private readonly limit: number | undefined) {}

  acquire(key: string): boolean {
    if (this.limit === undefined) return true;
    const current = this.inFlight.get(key) ?? 0;
    if (current >= this.limit) return false;
    this.inFlight.set(key, current + 1);
    return true;
  }

  release(key: string): void {
    if (this.limit === undefined) return;
    const current = this.inFlight.get(key);
    if (current === undefined) return;
    if (current <= 1) this.inFlight.delete(key);
    else this.inFlight.set(key, current - 1);
  }
}

class NoBuckets implements Counters {
  private readonly answer = unlimited('memory');
  consume(): LimitOutcome {
    return this.answer;
  }
  peek(): LimitOutcome {
    return this.answer;
  }
  sweep(): void {}
}

class MemoryCounters implements Counters {
  constructor(
    private readonly buckets: MemoryBuckets,
    private readonly now: () => number,
  ) {}
  consume(key: string): LimitOutcome {
    return this.buckets.consume(key, this.now());
  }
  peek(key: string): LimitOutcome {
    return this.buckets.peek(key, this.now());
  }
  sweep(now: number): void {
    this.buckets.sweep(now);
  }
}

/**
 * `fallbackShapes` is each bucket's share on one of `replicas` replicas: capacity and rate
 * divided, capacity rounded down and at least 1 (capacity 10 on 2 replicas: 5 each).
 */
export function fallbackShapes(buckets: readonly BucketShape[], replicas: number): BucketShape[] {
  const n = Number.isFinite(replicas) && replicas >= 1 ? Math.floor(replicas) : 1;
  return buckets.map((b) => ({
    capacity: Math.max(1, Math.floor(b.capacity / n)),
    ratePerSecond: b.ratePerSecond / n,
  }));
}

/**
 * `FallbackBuckets` is the memory share used while Redis is unreachable. When the replica count
 * changes, the share is rebuilt (from full buckets).
 */
class FallbackBuckets {
  private replicasSeen = 0;
  private current: MemoryBuckets | undefined;

  constructor(
    private readonly buckets: readonly BucketShape[],
    private readonly replicas: () => number,
    private readonly maxKeys: number,
  ) {}

  get(): MemoryBuckets {
    const n = this.replicas();
    if (!this.current || n !== this.replicasSeen) {
      this.replicasSeen = n;
      this.current = new MemoryBuckets(fallbackShapes(this.buckets, n), this.maxKeys, 'fallback');
    }
    return this.current;
  }

  sweep(now: number): void {
    this.current?.sweep(now);
  }
}

interface RedisCountersOptions {
  readonly redis: RedisConnection;
  readonly keyPrefix: string;
  readonly buckets: readonly RateLimitBucket[];
  readonly fallback: FallbackBuckets;
  readonly now: () => number;
  readonly redisNow: (() => number) | undefined;
}

class RedisCounters implements Counters {
  private readonly bucketArgs: string[];
  private readonly suffixes: string[];

  constructor(private readonly options: RedisCountersOptions) {
    this.bucketArgs = options.buckets.flatMap((b) => [String(b.capacity), String(intervalMs(b))]);
    // The shape is part of the key so replicas running two versions of a limit during a rollout
    // do not read each other's TATs as their own. `}` closes the Redis Cluster hash tag: all
    // buckets of one key live in one slot.
    this.suffixes = options.buckets.map((b) => `}:${b.capacity}/${b.ratePerSecond}`);
  }

  consume(key: string): LimitOutcome | Promise<LimitOutcome> {
    return this.ask(key, '1');
  }

  peek(key: string): LimitOutcome | Promise<LimitOutcome> {
    return this.ask(key, '0');
  }

  sweep(now: number): void {
    this.options.fallback.sweep(now);
  }

  private ask(key: string, mode: '1' | '0'): LimitOutcome | Promise<LimitOutcome> {
    const { redis } = this.options;
    if (!redis.usable) return this.fromFallback(key, mode);
    const keys = this.suffixes.map((suffix) => this.options.keyPrefix + key + suffix);
    const now = this.options.redisNow ? String(this.options.redisNow()) : '';
    return redis.gcra(keys, [mode, now, ...this.bucketArgs]).then(
      (reply) => {
        redis.answered();
        return this.render(reply);
      },
      (err: unknown) => {
        redis.failed(err);
        return this.fromFallback(key, mode);
      },
    );
  }

  private fromFallback(key: string, mode: '1' | '0'): LimitOutcome {
    const share = this.options.fallback.get();
    const now = this.options.now();
    return mode === '1' ? share.consume(key, now) : share.peek(key, now);
  }

  private render(reply: readonly number[]): LimitOutcome {
    const allowed = reply[0] === 1;
    const figures: BucketFigures[] = [];
    for (let i = 0; i < this.options.buckets.length; i++) {
      const base = 1 + 4 * i;
      figures.push({
        allowed: reply[base] === 1,
        remaining: reply[base + 1] ?? 0,
        retryAfterMs: (reply[base + 2] ?? 0) / 1_000,
        resetMs: (reply[base + 3] ?? 0) / 1_000,
      });
    }
    const index = figures.length === 1 ? 0 : decidingBucket(figures, allowed);
    return toOutcome(allowed, this.options.buckets[index]!.capacity, figures[index]!, 'redis');
  }
}

/**
 * `validateBuckets` rejects what translation must never produce (it validates the annotations):
 * a bucket the arithmetic cannot run, or a connection limit below 1.
 */
function validateBuckets(zone: string, config: RateLimitConfig): void {
  config.buckets.forEach((bucket, i) => {
    if (!(Number.isFinite(bucket.capacity) && bucket.capacity >= 1)) {
      throw new RangeError(
        `rate limit ${zone}: buckets[${i}].capacity must be at least 1, got ${bucket.capacity}`,
      );
    }
    if (!(Number.isFinite(bucket.ratePerSecond) && bucket.ratePerSecond > 0)) {
      throw new RangeError(
        `rate limit ${zone}: buckets[${i}].ratePerSecond must be positive, got ${bucket.ratePerSecond}`,
      );
    }
  });
  if (
    config.connections !== undefined &&
    !(Number.isInteger(config.connections) && config.connections >= 1)
  ) {
    throw new RangeError(
      `rate limit ${zone}: connections must be a whole number of at least 1, got ${config.connections}`,
    );
  }
}

/** `stableJson` is JSON with sorted object keys: equal content, equal text. */
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

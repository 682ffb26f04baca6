/**
 * The Redis store against a real `redis-server`: the boundary figures through the Lua script (with
 * an injected clock passed to the script), one global limit for two engines, and the fallback when
 * Redis is killed or frozen, with recovery. Assertions on real time only bound from above, and
 * generously (a call finishes within the timeout plus 450 ms); rates in real-time tests are low
 * enough that no token comes back while a test runs.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { silentLogger } from '../../../src/log/logger.js';
import { RateLimitEngine, type RateLimitEngineOptions } from '../../../src/policy/rate-limit/engine.js';
import { TIMEOUTS_BEFORE_FALLBACK } from '../../../src/policy/rate-limit/redis.js';
import type { LimitOutcome, StoreState, ZoneLimiter } from '../../../src/policy/rate-limit/types.js';
import { boundaryCases, limitConfig } from '../../support/rate-limit.js';
import { freePort, RedisServer, redisSkipReason } from '../../support/redis.js';

const TIMEOUT_MS = 50;
const SLACK_MS = 450;

let zoneCounter = 0;
/** A zone name no other test uses, so tests sharing the server never share keys. */
const freshZone = (): string => `test/zone-${process.pid}-${++zoneCounter}`;

describe('rate-limit engine, Redis store', { skip: redisSkipReason() }, () => {
  let server: RedisServer;
  const engines: RateLimitEngine[] = [];

  before(async () => {
    server = await RedisServer.start();
  });
  after(async () => {
    await Promise.all(engines.map((e) => e.close()));
    await server.close();
  });

  async function sharedEngine(options: Partial<RateLimitEngineOptions> = {}): Promise<RateLimitEngine> {
    const engine = new RateLimitEngine({
      logger: silentLogger(),
      redisUrl: server.url,
      redisTimeoutMs: TIMEOUT_MS,
      redisProbeIntervalMs: 100,
      ...options,
    });
    engines.push(engine);
    assert.equal(await engine.whenShared(5_000), true, 'the engine reaches Redis');
    return engine;
  }

  async function admitted(limiter: ZoneLimiter, key: string, count: number): Promise<LimitOutcome[]> {
    const outcomes = await Promise.all(Array.from({ length: count }, () => limiter.consume(key)));
    return outcomes.filter((o) => o.allowed);
  }

  for (const c of boundaryCases) {
    test(`through Redis: ${c.name}`, async () => {
      const clock = { t: 0 };
      const engine = await sharedEngine({ redisNow: () => clock.t });
      const limiter = engine.limiterFor(freshZone(), limitConfig(c.buckets));
      for (const step of c.steps) {
        clock.t = step.at;
        const outcomes = await Promise.all(
          Array.from({ length: step.count }, () => limiter.consume('10.0.0.1')),
        );
        assert.ok(outcomes.every((o) => o.store === 'redis'));
        assert.equal(outcomes.filter((o) => o.allowed).length, step.admitted, `at ${step.at} ms`);
      }
    });
  }

  test('with Redis TIME, 30 concurrent requests on capacity 15 admit exactly 15, with the headers figures', async () => {
    const engine = await sharedEngine();
    const limiter = engine.limiterFor(freshZone(), limitConfig([{ capacity: 15, ratePerSecond: 0.1 }]));
    const outcomes = await Promise.all(Array.from({ length: 30 }, () => limiter.consume('10.0.0.1')));
    assert.equal(outcomes.filter((o) => o.allowed).length, 15);
    assert.deepEqual(outcomes[0], {
      allowed: true,
      limit: 15,
      remaining: 14,
      resetSeconds: 10,
      retryAfterSeconds: 0,
      store: 'redis',
    });
    const refused = outcomes[15]!;
    assert.deepEqual(
      [refused.allowed, refused.limit, refused.remaining, refused.retryAfterSeconds, refused.resetSeconds],
      [false, 15, 0, 10, 150],
    );
  });

  test('peek through Redis reports the bucket and takes nothing', async () => {
    const engine = await sharedEngine();
    const limiter = engine.limiterFor(freshZone(), limitConfig([{ capacity: 5, ratePerSecond: 0.1 }]));
    assert.equal((await limiter.peek('k')).remaining, 5);
    await admitted(limiter, 'k', 2);
    assert.equal((await limiter.peek('k')).remaining, 3);
    assert.equal((await limiter.peek('k')).remaining, 3);
    assert.equal((await admitted(limiter, 'k', 10)).length, 3);
  });

  test('keys expire when their bucket is full again (PEXPIRE = time to full)', async () => {
    const engine = await sharedEngine();
    const zone = freshZone();
    const limiter = engine.limiterFor(zone, limitConfig([{ capacity: 15, ratePerSecond: 0.1 }]));
    await admitted(limiter, 'k', 3);
    const client = new Redis(server.url);
    try {
      const ttl = await client.pttl(`portico:rl:{${zone}|k}:15/0.1`);
      assert.ok(ttl > 25_000 && ttl <= 30_000, `3 tokens at 0.1/s come back in 30 s, PTTL ${ttl}`);
    } finally {
      client.disconnect();
    }
  });

  test('the script survives SCRIPT FLUSH (EVALSHA falls back to EVAL on NOSCRIPT)', async () => {
    const engine = await sharedEngine();
    const limiter = engine.limiterFor(freshZone(), limitConfig([{ capacity: 3, ratePerSecond: 0.1 }]));
    assert.equal((await admitted(limiter, 'k', 1)).length, 1);
    const client = new Redis(server.url);
    try {
      await client.script('FLUSH');
    } finally {
      client.disconnect();
    }
    const outcomes = await Promise.all([limiter.consume('k'), limiter.consume('k'), limiter.consume('k')]);
    assert.deepEqual(
      outcomes.map((o) => [o.allowed, o.store]),
      [
        [true, 'redis'],
        [true, 'redis'],
        [false, 'redis'],
      ],
    );
  });

  test('two engines sharing one redis-server enforce one global limit', async () => {
    const [a, b] = [await sharedEngine(), await sharedEngine()];
    const zone = freshZone();
    const config = limitConfig([{ capacity: 15, ratePerSecond: 0.1 }]);
    const [limiterA, limiterB] = [a.limiterFor(zone, config), b.limiterFor(zone, config)];
    const outcomes = await Promise.all(
      Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? limiterA : limiterB).consume('10.0.0.1')),
    );
    assert.ok(outcomes.every((o) => o.store === 'redis'));
    assert.equal(outcomes.filter((o) => o.allowed).length, 15);
    // One after the other: whatever A took, B sees.
    const zone2 = freshZone();
    const [sequentialA, sequentialB] = [a.limiterFor(zone2, config), b.limiterFor(zone2, config)];
    assert.equal((await admitted(sequentialA, '10.0.0.1', 10)).length, 10);
    assert.equal((await admitted(sequentialB, '10.0.0.1', 10)).length, 5);
  });

  test('Redis killed mid-test: answers come from the per-replica share within the timeout; Redis back: shared again', async () => {
    const transitions: StoreState[] = [];
    const engine = await sharedEngine({ replicas: () => 2, onStoreState: (s) => transitions.push(s) });
    assert.deepEqual(transitions, ['shared']);
    const limiter = engine.limiterFor(freshZone(), limitConfig([{ capacity: 10, ratePerSecond: 0.1 }]));
    assert.equal((await admitted(limiter, 'before', 3)).length, 3);

    await server.stop();
    const timed: { outcome: LimitOutcome; ms: number }[] = [];
    for (let i = 0; i < 20; i++) {
      const started = performance.now();
      const outcome = await limiter.consume('during');
      timed.push({ outcome, ms: performance.now() - started });
    }
    const slowest = Math.max(...timed.map((t) => t.ms));
    assert.ok(slowest < TIMEOUT_MS + SLACK_MS, `slowest call ${slowest.toFixed(1)} ms`);
    assert.ok(timed.every((t) => t.outcome.store === 'fallback'));
    assert.equal(timed.filter((t) => t.outcome.allowed).length, 5, 'capacity 10 on 2 replicas: 5 here');
    assert.equal(timed[0]!.outcome.limit, 5);
    assert.equal(engine.state, 'fallback');

    await server.start();
    assert.equal(await engine.whenShared(10_000), true, 'back to shared after Redis restarts');
    const back = await limiter.consume('during');
    assert.deepEqual([back.store, back.allowed, back.limit], ['redis', true, 10]);
    assert.deepEqual(transitions, ['shared', 'fallback', 'shared']);
  });

  test('Redis frozen (SIGSTOP): each call gives up after the timeout, the third in a row switches to the fallback; thawed: shared again', async () => {
    const transitions: StoreState[] = [];
    const engine = await sharedEngine({ replicas: () => 3, onStoreState: (s) => transitions.push(s) });
    const limiter = engine.limiterFor(freshZone(), limitConfig([{ capacity: 9, ratePerSecond: 0.1 }]));
    assert.equal((await limiter.consume('k')).store, 'redis');

    server.pause();
    try {
      // A single timeout can be the process being descheduled, not Redis: it answers its request
      // from the share and keeps the store shared; TIMEOUTS_BEFORE_FALLBACK in a row switch.
      const waited: LimitOutcome[] = [];
      for (let i = 0; i < TIMEOUTS_BEFORE_FALLBACK; i++) {
        const started = performance.now();
        const outcome = await limiter.consume('k');
        const elapsed = performance.now() - started;
        assert.equal(outcome.store, 'fallback');
        assert.ok(
          elapsed >= TIMEOUT_MS - 5 && elapsed < TIMEOUT_MS + SLACK_MS,
          `call ${i} took ${elapsed} ms`,
        );
        assert.equal(engine.state, i + 1 < TIMEOUTS_BEFORE_FALLBACK ? 'shared' : 'fallback');
        waited.push(outcome);
      }
      // In fallback no request waits on Redis: the rest answer synchronously from memory.
      const rest = Array.from({ length: 3 }, () => limiter.consume('k'));
      assert.ok(rest.every((o) => !(o instanceof Promise)));
      const outcomes = [...waited, ...(rest as LimitOutcome[])];
      assert.equal(outcomes.filter((o) => o.allowed).length, 3, 'capacity 9 on 3 replicas: 3 here');
    } finally {
      server.resume();
    }
    assert.equal(await engine.whenShared(10_000), true);
    assert.equal((await limiter.consume('k')).store, 'redis');
    assert.deepEqual(transitions, ['shared', 'fallback', 'shared']);
  });

  test('Redis down from the start: answers come from the fallback at once, with one warning', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
    const transitions: StoreState[] = [];
    const engine = new RateLimitEngine({
      logger,
      redisUrl: `redis://127.0.0.1:${await freePort()}`,
      redisTimeoutMs: TIMEOUT_MS,
      redisProbeIntervalMs: 50,
      replicas: () => 2,
      onStoreState: (s) => transitions.push(s),
    });
    engines.push(engine);
    assert.equal(engine.state, 'fallback');
    const limiter = engine.limiterFor(freshZone(), limitConfig([{ capacity: 4, ratePerSecond: 0.1 }]));
    const outcomes = Array.from({ length: 5 }, () => limiter.consume('k'));
    assert.ok(
      outcomes.every((o) => !(o instanceof Promise)),
      'nothing waits on a Redis that never answered',
    );
    const settled = outcomes as LimitOutcome[];
    assert.deepEqual(
      settled.map((o) => [o.allowed, o.store]),
      [
        [true, 'fallback'],
        [true, 'fallback'],
        [false, 'fallback'],
        [false, 'fallback'],
        [false, 'fallback'],
      ],
    );
    // Several reconnect attempts fail meanwhile; the warning is logged once for the outage.
    assert.equal(await engine.whenShared(500), false);
    const warnings = lines
      .map((l) => JSON.parse(l) as { level: number; msg: string })
      .filter((l) => l.level === 40);
    assert.equal(warnings.length, 1, JSON.stringify(warnings));
    assert.match(warnings[0]!.msg, /per-replica share/);
    assert.deepEqual(transitions, []);
  });

  test('limits with store: memory stay in memory on an engine with Redis', async () => {
    const engine = await sharedEngine();
    const limiter = engine.limiterFor(
      freshZone(),
      limitConfig([{ capacity: 2, ratePerSecond: 0.1 }], { store: 'memory' }),
    );
    const outcome = limiter.consume('k');
    assert.ok(!(outcome instanceof Promise));
    assert.equal(outcome.store, 'memory');
  });
});

import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { silentLogger } from '../../../../src/log/logger.js';
import { fallbackShapes, RateLimitEngine } from '../../../../src/policy/rate-limit/engine.js';
import type { LimitOutcome, ZoneLimiter } from '../../../../src/policy/rate-limit/types.js';
import { boundaryCases, limitConfig } from '../../../support/rate-limit.js';

/** A memory engine on a hand-driven clock. */
function engineAt(options: { maxKeysPerZone?: number } = {}): {
  engine: RateLimitEngine;
  clock: { t: number };
} {
  const clock = { t: 0 };
  const engine = new RateLimitEngine({ logger: silentLogger(), now: () => clock.t, ...options });
  after(() => engine.close());
  return { engine, clock };
}

function sync(outcome: LimitOutcome | Promise<LimitOutcome>): LimitOutcome {
  assert.ok(!(outcome instanceof Promise), 'the memory store answers synchronously');
  return outcome;
}

function admitted(limiter: ZoneLimiter, key: string, count: number): number {
  let n = 0;
  for (let i = 0; i < count; i++) if (sync(limiter.consume(key)).allowed) n++;
  return n;
}

describe('rate-limit engine, memory store', () => {
  for (const c of boundaryCases) {
    test(c.name, () => {
      const { engine, clock } = engineAt();
      const limiter = engine.limiterFor('default/web', limitConfig(c.buckets));
      for (const step of c.steps) {
        clock.t = step.at;
        assert.equal(admitted(limiter, '10.0.0.1', step.count), step.admitted, `at ${step.at} ms`);
      }
    });
  }

  test('outcomes carry the headers figures: limit, remaining, reset and retry-after in whole seconds', () => {
    const { engine } = engineAt();
    const limiter = engine.limiterFor('z', limitConfig([{ capacity: 15, ratePerSecond: 10 }]));
    const first = sync(limiter.consume('k'));
    assert.deepEqual(first, {
      allowed: true,
      limit: 15,
      remaining: 14,
      resetSeconds: 1,
      retryAfterSeconds: 0,
      store: 'memory',
    });
    for (let i = 0; i < 13; i++) limiter.consume('k');
    const last = sync(limiter.consume('k'));
    assert.deepEqual([last.allowed, last.remaining, last.resetSeconds], [true, 0, 2]);
    const refused = sync(limiter.consume('k'));
    assert.deepEqual(refused, {
      allowed: false,
      limit: 15,
      remaining: 0,
      resetSeconds: 2,
      retryAfterSeconds: 1,
      store: 'memory',
    });
  });

  test('with two buckets the outcome reports the tightest one', () => {
    const { engine } = engineAt();
    const limiter = engine.limiterFor(
      'z',
      limitConfig([
        { capacity: 10, ratePerSecond: 10 },
        { capacity: 3, ratePerSecond: 3 / 60 },
      ]),
    );
    const first = sync(limiter.consume('k'));
    assert.deepEqual([first.limit, first.remaining, first.resetSeconds], [3, 2, 20]);
    limiter.consume('k');
    limiter.consume('k');
    const refused = sync(limiter.consume('k'));
    assert.deepEqual([refused.allowed, refused.limit, refused.retryAfterSeconds], [false, 3, 20]);
  });

  test('peek reports the bucket without taking a token', () => {
    const { engine, clock } = engineAt();
    const limiter = engine.limiterFor('z', limitConfig([{ capacity: 15, ratePerSecond: 10 }]));
    assert.deepEqual(sync(limiter.peek('k')), {
      allowed: true,
      limit: 15,
      remaining: 15,
      resetSeconds: 0,
      retryAfterSeconds: 0,
      store: 'memory',
    });
    admitted(limiter, 'k', 15);
    assert.deepEqual(sync(limiter.peek('k')), sync(limiter.peek('k')));
    const empty = sync(limiter.peek('k'));
    assert.deepEqual(
      [empty.allowed, empty.remaining, empty.retryAfterSeconds, empty.resetSeconds],
      [false, 0, 1, 2],
    );
    clock.t = 250;
    const two = sync(limiter.peek('k'));
    assert.deepEqual([two.allowed, two.remaining], [true, 2]);
    assert.equal(admitted(limiter, 'k', 5), 2);
  });

  test('each key has its own bucket', () => {
    const { engine } = engineAt();
    const limiter = engine.limiterFor('z', limitConfig([{ capacity: 15, ratePerSecond: 10 }]));
    assert.equal(admitted(limiter, '10.0.0.1', 30), 15);
    assert.equal(admitted(limiter, '10.0.0.2', 30), 15);
    assert.equal(admitted(limiter, '10.0.0.1', 1), 0);
  });

  test('each zone has its own buckets', () => {
    const { engine } = engineAt();
    const config = limitConfig([{ capacity: 5, ratePerSecond: 1 }]);
    assert.equal(admitted(engine.limiterFor('default/a', config), 'k', 10), 5);
    assert.equal(admitted(engine.limiterFor('default/b', config), 'k', 10), 5);
  });

  test('keys longer than 128 characters are hashed and stay distinct', () => {
    const { engine } = engineAt();
    const limiter = engine.limiterFor('z', limitConfig([{ capacity: 2, ratePerSecond: 1 }]));
    const long = 'x'.repeat(10_000);
    assert.equal(admitted(limiter, `${long}a`, 5), 2);
    assert.equal(admitted(limiter, `${long}b`, 5), 2);
  });
});

describe('rate-limit engine, zones across snapshots', () => {
  test('the same zone and equal configuration content give the same limiter, with its state', () => {
    const { engine } = engineAt();
    const first = engine.limiterFor('default/web', limitConfig([{ capacity: 5, ratePerSecond: 1 }]));
    assert.equal(admitted(first, 'k', 3), 3);
    const again = engine.limiterFor('default/web', limitConfig([{ capacity: 5, ratePerSecond: 1 }]));
    assert.equal(again, first);
    assert.equal(admitted(again, 'k', 5), 2);
  });

  test('a change outside the buckets (dry run) gives a new limiter over the same counters', () => {
    const { engine } = engineAt();
    const first = engine.limiterFor('default/web', limitConfig([{ capacity: 5, ratePerSecond: 1 }]));
    assert.equal(admitted(first, 'k', 3), 3);
    const dry = engine.limiterFor(
      'default/web',
      limitConfig([{ capacity: 5, ratePerSecond: 1 }], { dryRun: true }),
    );
    assert.notEqual(dry, first);
    assert.equal(dry.config.dryRun, true);
    assert.equal(admitted(dry, 'k', 5), 2);
  });

  test('a change of the buckets starts from full buckets', () => {
    const { engine } = engineAt();
    const first = engine.limiterFor('default/web', limitConfig([{ capacity: 5, ratePerSecond: 1 }]));
    assert.equal(admitted(first, 'k', 5), 5);
    const changed = engine.limiterFor('default/web', limitConfig([{ capacity: 6, ratePerSecond: 1 }]));
    assert.notEqual(changed, first);
    assert.equal(admitted(changed, 'k', 10), 6);
  });

  test('a change of the key (remote-ip to a header) starts from full buckets', () => {
    const { engine } = engineAt();
    const byAddress = engine.limiterFor('default/web', limitConfig([{ capacity: 5, ratePerSecond: 1 }]));
    assert.equal(admitted(byAddress, 'k', 5), 5);
    const byHeader = engine.limiterFor(
      'default/web',
      limitConfig([{ capacity: 5, ratePerSecond: 1 }], { key: { kind: 'header', name: 'x-api-key' } }),
    );
    assert.equal(admitted(byHeader, 'k', 10), 5);
  });

  test('requests in flight stay counted when only the rate changes', () => {
    const { engine } = engineAt();
    const before = engine.limiterFor(
      'default/web',
      limitConfig([{ capacity: 5, ratePerSecond: 1 }], { connections: 2 }),
    );
    assert.equal(before.acquire('k'), true);
    assert.equal(before.acquire('k'), true);
    const after = engine.limiterFor(
      'default/web',
      limitConfig([{ capacity: 9, ratePerSecond: 1 }], { connections: 2 }),
    );
    assert.notEqual(after, before);
    assert.equal(after.acquire('k'), false);
    before.release('k');
    assert.equal(after.acquire('k'), true);
  });

  test('retain forgets limiters that are not live, and keeps those that are', () => {
    const { engine } = engineAt();
    const config = limitConfig([{ capacity: 5, ratePerSecond: 1 }]);
    const kept = engine.limiterFor('default/kept', config);
    const dropped = engine.limiterFor('default/dropped', config);
    admitted(kept, 'k', 5);
    admitted(dropped, 'k', 5);
    engine.retain([kept]);
    assert.equal(engine.limiterFor('default/kept', config), kept);
    const fresh = engine.limiterFor('default/dropped', config);
    assert.notEqual(fresh, dropped);
    assert.equal(admitted(fresh, 'k', 10), 5);
    assert.equal(admitted(kept, 'k', 1), 0);
  });

  test('store redis without a Redis URL counts in memory', () => {
    const { engine } = engineAt();
    const limiter = engine.limiterFor(
      'z',
      limitConfig([{ capacity: 1, ratePerSecond: 1 }], { store: 'redis' }),
    );
    assert.equal(sync(limiter.consume('k')).store, 'memory');
    assert.equal(engine.state, 'memory-only');
  });

  test('a limit with only a connection limit always admits requests', () => {
    const { engine } = engineAt();
    const limiter = engine.limiterFor('z', limitConfig([], { connections: 1 }));
    assert.equal(admitted(limiter, 'k', 100), 100);
  });
});

describe('rate-limit engine, invalid configuration', () => {
  const cases = [
    {
      name: 'a capacity below 1 is refused, naming zone and field',
      buckets: [{ capacity: 0, ratePerSecond: 1 }],
      field: /default\/web: buckets\[0\]\.capacity/,
    },
    {
      name: 'a rate of zero is refused',
      buckets: [{ capacity: 1, ratePerSecond: 0 }],
      field: /buckets\[0\]\.ratePerSecond/,
    },
    {
      name: 'a NaN rate in the second bucket is refused',
      buckets: [
        { capacity: 1, ratePerSecond: 1 },
        { capacity: 1, ratePerSecond: Number.NaN },
      ],
      field: /buckets\[1\]\.ratePerSecond/,
    },
    { name: 'a connection limit of 0 is refused', buckets: [], connections: 0, field: /connections must be/ },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const { engine } = engineAt();
      const config = limitConfig(
        c.buckets,
        c.connections === undefined ? {} : { connections: c.connections },
      );
      assert.throws(() => engine.limiterFor('default/web', config), c.field);
    });
  }
});

describe('rate-limit engine, connection limits', () => {
  test('limit 8: of 20 concurrent acquires exactly 8 succeed, and a release frees one slot', () => {
    const { engine } = engineAt();
    const limiter = engine.limiterFor('z', limitConfig([], { connections: 8 }));
    const results = Array.from({ length: 20 }, () => limiter.acquire('10.0.0.1'));
    assert.equal(results.filter(Boolean).length, 8);
    assert.deepEqual(results.slice(0, 8), Array(8).fill(true));
    limiter.release('10.0.0.1');
    assert.equal(limiter.acquire('10.0.0.1'), true);
    assert.equal(limiter.acquire('10.0.0.1'), false);
  });

  test('connection limits are per key', () => {
    const { engine } = engineAt();
    const limiter = engine.limiterFor('z', limitConfig([], { connections: 1 }));
    assert.equal(limiter.acquire('a'), true);
    assert.equal(limiter.acquire('b'), true);
    assert.equal(limiter.acquire('a'), false);
  });

  test('a released key starts again from zero (its counter is gone)', () => {
    const { engine } = engineAt();
    const limiter = engine.limiterFor('z', limitConfig([], { connections: 2 }));
    limiter.acquire('a');
    limiter.acquire('a');
    limiter.release('a');
    limiter.release('a');
    limiter.release('a');
    assert.equal(limiter.acquire('a'), true);
    assert.equal(limiter.acquire('a'), true);
    assert.equal(limiter.acquire('a'), false);
  });

  test('without limit-connections acquire always succeeds', () => {
    const { engine } = engineAt();
    const limiter = engine.limiterFor('z', limitConfig([{ capacity: 1, ratePerSecond: 1 }]));
    assert.ok(Array.from({ length: 50 }, () => limiter.acquire('a')).every(Boolean));
  });
});

describe('fallback share', () => {
  const cases = [
    { name: 'capacity 10 on 2 replicas is 5 each', replicas: 2, capacity: 10, rate: 4, share: [5, 2] },
    {
      name: 'capacity 15 on 2 replicas rounds down to 7',
      replicas: 2,
      capacity: 15,
      rate: 10,
      share: [7, 5],
    },
    { name: 'a share never drops below capacity 1', replicas: 10, capacity: 3, rate: 1, share: [1, 0.1] },
    { name: 'zero or unknown replicas count as 1', replicas: 0, capacity: 6, rate: 1, share: [6, 1] },
    {
      name: 'a fractional replica count is rounded down',
      replicas: 2.7,
      capacity: 6,
      rate: 1,
      share: [3, 0.5],
    },
  ] as const;
  for (const c of cases) {
    test(c.name, () => {
      const [shape] = fallbackShapes([{ capacity: c.capacity, ratePerSecond: c.rate }], c.replicas);
      assert.deepEqual([shape?.capacity, shape?.ratePerSecond], c.share);
    });
  }
});

import assert from 'node:assert/strict';
import { describe, mock, test } from 'node:test';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import { MemoryBuckets } from '../../../../src/policy/rate-limit/memory.js';

describe('memory buckets', () => {
  test('a zone never holds more than maxKeys keys; the oldest key is forgotten and starts full', () => {
    const buckets = new MemoryBuckets([{ capacity: 2, ratePerSecond: 1 }], 100);
    assert.equal(buckets.consume('key-0', 0).allowed, true);
    assert.equal(buckets.consume('key-0', 0).allowed, true);
    assert.equal(buckets.consume('key-0', 0).allowed, false);
    for (let i = 1; i <= 1_000; i++) buckets.consume(`key-${i}`, 0);
    assert.equal(buckets.size, 100);
    assert.equal(buckets.consume('key-0', 0).remaining, 1, 'key-0 was evicted and starts from a full bucket');
  });

  test('sweep deletes keys whose buckets are all full again, and only those', () => {
    const buckets = new MemoryBuckets([
      { capacity: 10, ratePerSecond: 10 },
      { capacity: 60, ratePerSecond: 1 },
    ]);
    for (let i = 0; i < 50; i++) buckets.consume(`client-${i}`, 0);
    buckets.consume('busy', 900);
    assert.equal(buckets.sweep(999), 0, 'the per-minute bucket of each key is not full after 1 s');
    assert.equal(buckets.sweep(1_000), 50);
    assert.equal(buckets.size, 1);
    assert.equal(buckets.sweep(1_900), 1);
    assert.equal(buckets.size, 0);
  });

  test('a swept key answers exactly as if it had never been seen', () => {
    const swept = new MemoryBuckets([{ capacity: 15, ratePerSecond: 10 }]);
    const fresh = new MemoryBuckets([{ capacity: 15, ratePerSecond: 10 }]);
    for (let i = 0; i < 30; i++) swept.consume('k', 0);
    swept.sweep(1_500);
    assert.deepEqual(swept.consume('k', 1_500), fresh.consume('k', 1_500));
  });
});

describe('why not rate-limiter-flexible fixed windows (the figure in memory.ts and redis.ts)', () => {
  test('a fixed window of 15 per second admits 29 requests within 2 ms across its edge; the 10 rps + burst 5 bucket admits 15', async () => {
    mock.timers.enable({ apis: ['Date', 'setTimeout'], now: 0 });
    try {
      const fixedWindow = new RateLimiterMemory({ points: 15, duration: 1 });
      const bucket = new MemoryBuckets([{ capacity: 15, ratePerSecond: 10 }]);
      const burst = async (count: number, at: number): Promise<{ window: number; bucket: number }> => {
        const settled = await Promise.allSettled(
          Array.from({ length: count }, () => fixedWindow.consume('k')),
        );
        let admittedByBucket = 0;
        for (let i = 0; i < count; i++) if (bucket.consume('k', at).allowed) admittedByBucket++;
        return { window: settled.filter((s) => s.status === 'fulfilled').length, bucket: admittedByBucket };
      };
      await burst(1, 0);
      mock.timers.tick(998);
      const before = await burst(14, 998);
      mock.timers.tick(2);
      const afterEdge = await burst(15, 1_000);
      assert.equal(before.window + afterEdge.window, 29);
      assert.equal(before.bucket + afterEdge.bucket, 15);
    } finally {
      mock.timers.reset();
    }
  });
});

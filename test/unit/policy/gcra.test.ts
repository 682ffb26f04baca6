import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type BucketShape, decide, inspect } from '../../../src/policy/rate-limit/gcra.js';

/** Runs `count` requests at `at(i)` and returns which were admitted. */
function run(shape: BucketShape, times: readonly number[], from?: number): boolean[] {
  let tat: number | undefined = from;
  return times.map((now) => {
    const d = decide(shape, tat, now);
    if (d.allowed) tat = d.tat;
    return d.allowed;
  });
}

const count = (xs: readonly boolean[]): number => xs.filter(Boolean).length;

describe('gcra', () => {
  const cases: readonly { name: string; shape: BucketShape; times: number[]; admitted: number }[] = [
    {
      name: 'portico: 10 rps + burst 5 admits 15 of 30 simultaneous requests',
      shape: { capacity: 15, ratePerSecond: 10 },
      times: Array.from({ length: 30 }, () => 0),
      admitted: 15,
    },
    {
      name: 'nginx: limit-rps 1 × multiplier 5 (burst 5 nodelay → capacity 6) admits 6 of 20',
      shape: { capacity: 6, ratePerSecond: 1 },
      times: Array.from({ length: 20 }, () => 0),
      admitted: 6,
    },
    {
      name: 'requests exactly at the rate are all admitted with capacity 1',
      shape: { capacity: 1, ratePerSecond: 10 },
      times: Array.from({ length: 50 }, (_, i) => i * 100),
      admitted: 50,
    },
    {
      name: 'twice the rate with capacity 1 admits every other request',
      shape: { capacity: 1, ratePerSecond: 10 },
      times: Array.from({ length: 50 }, (_, i) => i * 50),
      admitted: 25,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.equal(count(run(c.shape, c.times)), c.admitted);
    });
  }

  test('the 16th request of a 10 rps + 5 burst flood is admitted after exactly 100 ms, full after 1.5 s', () => {
    const shape = { capacity: 15, ratePerSecond: 10 };
    let tat: number | undefined;
    for (let i = 0; i < 15; i++) {
      const d = decide(shape, tat, 0);
      assert.ok(d.allowed);
      assert.equal(d.remaining, 14 - i);
      tat = d.tat;
    }
    const refused = decide(shape, tat, 0);
    assert.equal(refused.allowed, false);
    assert.equal(refused.retryAfterMs, 100);
    assert.equal(refused.resetMs, 1_500);
    assert.equal(decide(shape, tat, 99).allowed, false);
    const later = decide(shape, tat, 100);
    assert.equal(later.allowed, true);
    assert.equal(later.remaining, 0);
    // Full again 1.5 s after the flood: 15 more back to back, not 16; at 1.4 s only 14.
    assert.equal(
      count(
        run(
          shape,
          Array.from({ length: 16 }, () => 1_500),
          tat,
        ),
      ),
      15,
    );
    assert.equal(
      count(
        run(
          shape,
          Array.from({ length: 16 }, () => 1_400),
          tat,
        ),
      ),
      14,
    );
    const resting = decide(shape, tat, 1_500);
    assert.equal(resting.remaining, 14);
  });
});

describe('gcra inspect (peek)', () => {
  const shape: BucketShape = { capacity: 15, ratePerSecond: 10 };
  const cases = [
    {
      name: 'an unseen key holds a full bucket',
      tat: undefined,
      now: 0,
      allowed: true,
      remaining: 15,
      resetMs: 0,
    },
    {
      name: 'a TAT in the past is a full bucket',
      tat: 500,
      now: 1_000,
      allowed: true,
      remaining: 15,
      resetMs: 0,
    },
    {
      name: 'after 15 requests at 0 the bucket is empty',
      tat: 1_500,
      now: 0,
      allowed: false,
      remaining: 0,
      resetMs: 1_500,
    },
    {
      name: 'one token is back after 100 ms',
      tat: 1_500,
      now: 100,
      allowed: true,
      remaining: 1,
      resetMs: 1_400,
    },
    {
      name: 'two and a half intervals give two whole tokens',
      tat: 1_500,
      now: 250,
      allowed: true,
      remaining: 2,
      resetMs: 1_250,
    },
  ] as const;
  for (const c of cases) {
    test(c.name, () => {
      const d = inspect(shape, c.tat, c.now);
      assert.deepEqual([d.allowed, d.remaining, d.resetMs], [c.allowed, c.remaining, c.resetMs]);
    });
  }

  test('inspect agrees with decide on whether the next request is admitted', () => {
    let tat: number | undefined;
    const seenStates = new Set<boolean>();
    // Bursts of three requests per 7 ms for 700 ms, then one per 140 ms (under the rate) for 700 ms:
    // the bucket empties and refills in turn.
    for (let now = 0; now < 3_000; now += 7) {
      const bursting = Math.floor(now / 700) % 2 === 0;
      if (!bursting && now % 140 >= 7) continue;
      const seen = inspect(shape, tat, now);
      const taken = decide(shape, tat, now);
      assert.equal(seen.allowed, taken.allowed, `at ${now}`);
      seenStates.add(seen.allowed);
      if (taken.allowed) {
        assert.equal(taken.remaining, seen.remaining - 1, `at ${now}`);
        tat = taken.tat;
      }
      if (bursting) {
        for (let i = 0; i < 2; i++) {
          const extra = decide(shape, tat, now);
          if (extra.allowed) tat = extra.tat;
        }
      }
    }
    assert.deepEqual([...seenStates].sort(), [false, true], 'both admitted and refused states were checked');
  });
});

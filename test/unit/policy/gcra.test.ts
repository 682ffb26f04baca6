import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type BucketShape, decide } from '../../../src/policy/rate-limit/gcra.js';

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

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Backoff } from '../../../src/k8s/backoff.js';

const cases = [
  {
    name: 'without jitter taken off, delays double from 200 ms and stop at 30 s',
    random: () => 0,
    want: [200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000, 30000],
  },
  {
    name: 'the most jitter takes just under half off each step, so the cap stays a ceiling',
    random: () => 0.999999,
    want: [100, 200, 400, 800, 1600, 3200, 6400, 12800, 15000, 15000],
  },
  {
    name: 'a mid-range draw lands between the two',
    random: () => 0.5,
    want: [150, 300, 600, 1200, 2400, 4800, 9600, 19200, 22500, 22500],
  },
] as const;

for (const c of cases) {
  test(c.name, () => {
    const b = new Backoff({ random: c.random });
    assert.deepEqual(
      c.want.map(() => b.next()),
      c.want,
    );
  });
}

test('jitter spreads replicas: different draws give different delays for the same step', () => {
  const draws = [0.1, 0.7, 0.3];
  const delays = draws.map((r) => new Backoff({ random: () => r }).next());
  assert.equal(new Set(delays).size, draws.length);
  for (const d of delays) assert.ok(d >= 100 && d <= 200, `${d} within [100, 200]`);
});

test('reset starts over from the first delay', () => {
  const b = new Backoff({ random: () => 0 });
  b.next();
  b.next();
  assert.equal(b.attempts, 2);
  b.reset();
  assert.equal(b.next(), 200);
});

test('a very long outage never overflows the cap', () => {
  const b = new Backoff({ random: () => 0 });
  let last = 0;
  for (let i = 0; i < 2_000; i++) last = b.next();
  assert.equal(last, 30_000);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { attemptIndex, newBalancerState, roundRobin } from '../../../src/proxy/balancer.js';

const input = { clientAddress: '127.0.0.1', path: '/' };

test('roundRobin cycles through every endpoint in order', () => {
  const state = newBalancerState(() => 0);
  const picks = Array.from({ length: 7 }, () => roundRobin.first(state, 3, input));
  assert.deepEqual(picks, [0, 1, 2, 0, 1, 2, 0]);
});

test('roundRobin stays in range when the endpoint count shrinks', () => {
  const state = newBalancerState(() => 0.999);
  for (let i = 0; i < 10; i++) {
    const n = 1 + (i % 4);
    const pick = roundRobin.first(state, n, input);
    assert.ok(pick >= 0 && pick < n, `pick ${pick} of ${n}`);
  }
});

test('roundRobin spreads requests evenly', () => {
  const state = newBalancerState();
  const counts = [0, 0, 0, 0];
  for (let i = 0; i < 400; i++) counts[roundRobin.first(state, 4, input)]! += 1;
  assert.deepEqual(counts, [100, 100, 100, 100]);
});

const retryCases = [
  { name: 'the first attempt uses the chosen endpoint', first: 2, attempt: 0, count: 3, want: 2 },
  { name: 'a retry takes the next endpoint', first: 2, attempt: 1, count: 3, want: 0 },
  { name: 'a second retry takes the one after', first: 2, attempt: 2, count: 3, want: 1 },
  { name: 'with one endpoint every attempt is that endpoint', first: 0, attempt: 1, count: 1, want: 0 },
] as const;

for (const c of retryCases) {
  test(`attemptIndex: ${c.name}`, () => {
    assert.equal(attemptIndex(c.first, c.attempt, c.count), c.want);
  });
}

test('newBalancerState starts at a random offset', () => {
  assert.equal(newBalancerState(() => 0.5).cursor, 500_000);
});

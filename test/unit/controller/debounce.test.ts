import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Debouncer } from '../../../src/controller/debounce.js';
import { FakeClock } from '../../../src/util/clock.js';

function setup(holdoffMs = 100, maxDelayMs = 500) {
  const clock = new FakeClock();
  const runs: number[] = [];
  const d = new Debouncer(() => runs.push(clock.now()), { holdoffMs, maxDelayMs, clock });
  return { clock, runs, d };
}

describe('Debouncer', () => {
  test('one trigger runs once, after the holdoff', () => {
    const { clock, runs, d } = setup();
    d.trigger();
    clock.advance(99);
    assert.deepEqual(runs, []);
    clock.advance(1);
    assert.deepEqual(runs, [100]);
    clock.advance(1_000);
    assert.deepEqual(runs, [100]);
  });

  test('triggers inside the holdoff coalesce and restart it', () => {
    const { clock, runs, d } = setup();
    d.trigger();
    clock.advance(50);
    d.trigger();
    clock.advance(50);
    d.trigger();
    clock.advance(99);
    assert.deepEqual(runs, []);
    clock.advance(1);
    assert.deepEqual(runs, [200]);
  });

  test('a never-quiet burst still runs at the ceiling', () => {
    const { clock, runs, d } = setup();
    for (let i = 0; i < 120; i++) {
      d.trigger();
      clock.advance(10);
    }
    // First trigger at 0: runs at 500 (ceiling); the trigger at 500 starts the next burst.
    assert.deepEqual(runs.slice(0, 2), [500, 1000]);
  });

  const loads = [
    { name: 'a change every 10 ms for 3 s', everyMs: 10, totalMs: 3_000 },
    { name: 'a change every 90 ms for 5 s', everyMs: 90, totalMs: 5_000 },
    { name: 'a change every 1 ms for 1 s', everyMs: 1, totalMs: 1_000 },
    { name: 'a change every 499 ms for 4 s', everyMs: 499, totalMs: 4_000 },
  ] as const;
  for (const c of loads) {
    test(`${c.name} rebuilds at most ceil(T/0.5)+1 times and always after the last change`, () => {
      const { clock, runs, d } = setup();
      let last = 0;
      for (let t = 0; t < c.totalMs; t += c.everyMs) {
        d.trigger();
        last = clock.now();
        clock.advance(c.everyMs);
      }
      clock.advance(1_000);
      const bound = Math.ceil(c.totalMs / 500) + 1;
      assert.ok(runs.length <= bound, `${runs.length} runs > ${bound}`);
      assert.ok(runs.length >= 1);
      // Latest wins: a run happens after the final change, within the holdoff.
      assert.ok((runs.at(-1) ?? 0) >= last && (runs.at(-1) ?? 0) <= last + 100);
    });
  }

  test('flush runs a pending action now; stop cancels and ignores later triggers', () => {
    const { clock, runs, d } = setup();
    d.trigger();
    d.flush();
    assert.deepEqual(runs, [0]);
    d.flush();
    assert.deepEqual(runs, [0]);
    d.trigger();
    d.stop();
    d.trigger();
    clock.advance(1_000);
    assert.deepEqual(runs, [0]);
    assert.equal(clock.pending, 0);
  });

  test('a trigger during the action starts a new burst', () => {
    const clock = new FakeClock();
    const runs: number[] = [];
    const d: Debouncer = new Debouncer(
      () => {
        runs.push(clock.now());
        if (runs.length === 1) d.trigger();
      },
      { holdoffMs: 100, maxDelayMs: 500, clock },
    );
    d.trigger();
    clock.advance(1_000);
    assert.deepEqual(runs, [100, 200]);
  });

  test('holdoff above the ceiling is refused', () => {
    assert.throws(() => new Debouncer(() => {}, { holdoffMs: 600, maxDelayMs: 500 }), RangeError);
  });
});

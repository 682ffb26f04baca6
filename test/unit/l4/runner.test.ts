/**
 * The bounded-frequency runner on a fake clock (DESIGN §7.9): no test sleeps. `settle()` lets the
 * awaited work finish between clock steps.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setImmediate as tick } from 'node:timers/promises';
import { BoundedFrequencyRunner } from '../../../src/l4/runner.js';
import { FakeClock } from '../../../src/util/clock.js';

async function settle(): Promise<void> {
  await tick();
}

function harness(results: boolean[] = [], options: { min?: number; max?: number; retry?: number } = {}) {
  const clock = new FakeClock(0);
  const at: number[] = [];
  const runner = new BoundedFrequencyRunner(
    async () => {
      at.push(clock.now());
      return results.shift() ?? true;
    },
    {
      minIntervalMs: options.min ?? 1_000,
      maxIntervalMs: options.max ?? 60_000,
      retryInitialMs: options.retry ?? 2_000,
      retryMaxMs: 8_000,
      clock,
    },
  );
  const step = async (ms: number) => {
    clock.advance(ms);
    await settle();
  };
  return { clock, runner, at, step };
}

test('start runs at once', async () => {
  const { runner, at, step } = harness();
  runner.start();
  await step(0);
  assert.deepEqual(at, [0]);
  runner.stop();
});

test('a burst of requests within the minimum interval becomes one run at its end', async () => {
  const { runner, at, step } = harness();
  runner.start();
  await step(0);
  for (let i = 0; i < 10; i++) {
    runner.run();
    await step(50);
  }
  await step(1_000);
  assert.deepEqual(at, [0, 1_000]);
  runner.stop();
});

test('a request after the minimum interval runs immediately', async () => {
  const { runner, at, step } = harness();
  runner.start();
  await step(5_000);
  runner.run();
  await step(0);
  assert.deepEqual(at, [0, 5_000]);
  runner.stop();
});

test('without requests the work still runs every maximum interval', async () => {
  const { runner, at, step } = harness();
  runner.start();
  await step(0);
  await step(60_000);
  await step(60_000);
  assert.deepEqual(at, [0, 60_000, 120_000]);
  runner.stop();
});

test('a failed run is retried with doubling backoff up to the maximum', async () => {
  const { runner, at, step } = harness([false, false, false, false, true]);
  runner.start();
  await step(0); // fails: retry in 2 s
  await step(2_000); // fails: 4 s
  await step(4_000); // fails: 8 s
  await step(8_000); // fails: capped at 8 s
  await step(8_000); // succeeds
  await step(8_000); // nothing: back to the maximum interval
  assert.deepEqual(at, [0, 2_000, 6_000, 14_000, 22_000]);
  runner.stop();
});

test('a request during a run is served after it, not at the same time', async () => {
  const clock = new FakeClock(0);
  let release: (() => void) | undefined;
  let concurrent = 0;
  let maxConcurrent = 0;
  const at: number[] = [];
  const runner = new BoundedFrequencyRunner(
    async () => {
      at.push(clock.now());
      concurrent++;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      await new Promise<void>((resolve) => {
        release = resolve;
      });
      concurrent--;
      return true;
    },
    { minIntervalMs: 100, maxIntervalMs: 10_000, clock },
  );
  runner.start();
  clock.advance(0);
  runner.run();
  clock.advance(500);
  release?.();
  await settle();
  clock.advance(0);
  await settle();
  assert.deepEqual(at, [0, 500]);
  assert.equal(maxConcurrent, 1);
  runner.stop();
  release?.();
});

test('stop cancels the pending run', async () => {
  const { runner, at, step, clock } = harness();
  runner.start();
  await step(0);
  runner.stop();
  await step(120_000);
  assert.deepEqual(at, [0]);
  assert.equal(clock.pending, 0);
});

test('a maximum interval below the minimum is refused', () => {
  assert.throws(
    () => new BoundedFrequencyRunner(async () => true, { minIntervalMs: 10, maxIntervalMs: 5 }),
    /minIntervalMs/,
  );
});

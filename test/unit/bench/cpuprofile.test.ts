import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Profile, summariseProfile } from '../../../bench/lib/cpuprofile.js';

const frame = (functionName: string, url = '') => ({ functionName, url, lineNumber: 0 });

// Samples every 100 µs from t = 1,000,000 µs: ids 2, 3, 4, 2, 5, 3 (time of sample i = start + Σ deltas[0..i]).
const profile: Profile = {
  startTime: 1_000_000,
  endTime: 1_000_700,
  nodes: [
    { id: 1, callFrame: frame('(root)'), children: [2, 3, 4, 5] },
    { id: 2, callFrame: frame('consume', 'file:///repo/dist/policy/rate-limit/engine.js') },
    { id: 3, callFrame: frame('sendCommand', 'file:///repo/node_modules/ioredis/built/Redis.js') },
    { id: 4, callFrame: frame('(idle)') },
    { id: 5, callFrame: frame('(garbage collector)') },
  ],
  samples: [2, 3, 4, 2, 5, 3],
  timeDeltas: [100, 100, 100, 100, 100, 100],
};

describe('CPU profile summary', () => {
  const cases = [
    {
      name: 'without windows every non-idle sample counts, each for the gap to the next one',
      windows: undefined,
      busyMs: 0.4,
      // The last sample has no next one, so it counts for nothing.
      areas: {
        'portico src/policy/rate-limit': 0.2,
        'ioredis + redis-parser': 0.1,
        '(garbage collector)': 0.1,
      },
    },
    {
      name: 'with windows only samples stamped inside them count',
      windows: [{ fromUs: 1_000_350, toUs: 1_000_550 }],
      busyMs: 0.2,
      areas: { 'portico src/policy/rate-limit': 0.1, '(garbage collector)': 0.1 },
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const s = summariseProfile(profile, 10, c.windows);
      assert.equal(s.busyMs, c.busyMs);
      assert.deepEqual(Object.fromEntries(s.areas.map((a) => [a.name, a.ms])), c.areas);
    });
  }
});

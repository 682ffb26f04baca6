import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { commandStatsDelta, parseCommandStats } from '../../../bench/lib/redis-stats.js';

// The shape of Redis 7's `INFO commandstats`.
const before = parseCommandStats(
  '# Commandstats\r\n' +
    'cmdstat_ping:calls=2,usec=3,usec_per_call=1.50,rejected_calls=0,failed_calls=0\r\n' +
    'cmdstat_info:calls=5,usec=250,usec_per_call=50.00,rejected_calls=0,failed_calls=0\r\n' +
    'cmdstat_evalsha:calls=10,usec=120,usec_per_call=12.00,rejected_calls=0,failed_calls=0\r\n',
);
const after = parseCommandStats(
  '# Commandstats\r\n' +
    'cmdstat_ping:calls=2,usec=3,usec_per_call=1.50,rejected_calls=0,failed_calls=0\r\n' +
    'cmdstat_info:calls=6,usec=300,usec_per_call=50.00,rejected_calls=0,failed_calls=0\r\n' +
    'cmdstat_evalsha:calls=110,usec=1320,usec_per_call=12.00,rejected_calls=0,failed_calls=0\r\n' +
    'cmdstat_get:calls=100,usec=40,usec_per_call=0.40,rejected_calls=0,failed_calls=0\r\n',
);

describe('Redis INFO commandstats', () => {
  test('every cmdstat line is read as calls and total microseconds', () => {
    assert.deepEqual(after.get('evalsha'), { calls: 110, usec: 1320 });
    assert.deepEqual(after.get('get'), { calls: 100, usec: 40 });
    assert.equal(after.size, 4);
  });

  const cases = [
    {
      name: 'a command that ran between the snapshots counts its new calls and their time',
      command: 'evalsha',
      expected: { calls: 100, usec: 1200 },
    },
    {
      name: 'a command first seen in the second snapshot counts all its calls',
      command: 'get',
      expected: { calls: 100, usec: 40 },
    },
    { name: 'a command that did not run is left out', command: 'ping', expected: undefined },
    { name: "the bench's own INFO calls are left out", command: 'info', expected: undefined },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.deepEqual(commandStatsDelta(before, after)[c.command], c.expected);
    });
  }
});

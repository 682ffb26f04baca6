import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { rateLimitHeaders } from '../../../../src/policy/rate-limit/headers.js';
import type { LimitOutcome } from '../../../../src/policy/rate-limit/types.js';
import { limitConfig } from '../../../support/rate-limit.js';

const allowed: LimitOutcome = {
  allowed: true,
  limit: 15,
  remaining: 14,
  resetSeconds: 1,
  retryAfterSeconds: 0,
  store: 'memory',
};
const refused: LimitOutcome = {
  allowed: false,
  limit: 15,
  remaining: 0,
  resetSeconds: 2,
  retryAfterSeconds: 1,
  store: 'redis',
};

describe('rate limit headers', () => {
  const cases = [
    {
      name: 'an allowed response carries RateLimit-Limit, -Remaining and -Reset and no Retry-After',
      outcome: allowed,
      dryRun: false,
      headers: ['ratelimit-limit', '15', 'ratelimit-remaining', '14', 'ratelimit-reset', '1'],
    },
    {
      name: 'a refused response also carries Retry-After',
      outcome: refused,
      dryRun: false,
      headers: [
        'ratelimit-limit',
        '15',
        'ratelimit-remaining',
        '0',
        'ratelimit-reset',
        '2',
        'retry-after',
        '1',
      ],
    },
    {
      name: 'under dry run nothing is refused, so there is no Retry-After',
      outcome: refused,
      dryRun: true,
      headers: ['ratelimit-limit', '15', 'ratelimit-remaining', '0', 'ratelimit-reset', '2'],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const config = limitConfig([{ capacity: 15, ratePerSecond: 10 }], { dryRun: c.dryRun });
      assert.deepEqual(rateLimitHeaders(c.outcome, config), c.headers);
    });
  }
});

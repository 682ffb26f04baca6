/** Placeholder until the engine branch lands (replaced by its `headers.ts`). */
import type { RateLimitConfig } from '../../model/types.js';
import type { LimitOutcome } from './types.js';

export function rateLimitHeaders(outcome: LimitOutcome, _config: RateLimitConfig): string[] {
  const out = [
    'ratelimit-limit',
    String(outcome.limit),
    'ratelimit-remaining',
    String(outcome.remaining),
    'ratelimit-reset',
    String(outcome.resetSeconds),
  ];
  if (!outcome.allowed) out.push('retry-after', String(outcome.retryAfterSeconds));
  return out;
}

/**
 * `headers` renders a limit's answer as response headers: `RateLimit-Limit`, `RateLimit-Remaining`
 * and `RateLimit-Reset` (IETF httpapi draft, the three-field form the issue asks for) on every
 * response of a limited route, and `Retry-After` on refused ones. Names are lowercase so the list
 * can go to HTTP/1.1 and HTTP/2 responses alike.
 */
import type { RateLimitConfig } from '../../model/types.js';
import type { LimitOutcome } from './types.js';

/**
 * `rateLimitHeaders` returns a flat `[name, value, …]` list. Under dry run nothing is refused, so
 * there is no `Retry-After`; the RateLimit fields still tell the truth about the bucket.
 */
export function rateLimitHeaders(outcome: LimitOutcome, config: RateLimitConfig): string[] {
  const refused = !outcome.allowed && !config.dryRun;
  const headers: string[] = [
    'ratelimit-limit',
    String(outcome.limit),
    'ratelimit-remaining',
    String(outcome.remaining),
    'ratelimit-reset',
    String(outcome.resetSeconds),
  ];
  if (refused) headers.push('retry-after', String(outcome.retryAfterSeconds));
  return headers;
}

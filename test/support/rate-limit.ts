/**
 * `rate-limit` builds `RateLimitConfig`s for the engine tests without going through annotations.
 */
import type { RateLimitConfig } from '../../src/model/types.js';

export interface Shape {
  readonly capacity: number;
  readonly ratePerSecond: number;
}

export function limitConfig(
  buckets: readonly Shape[],
  extra: Partial<RateLimitConfig> = {},
): RateLimitConfig {
  return {
    dialect: 'portico',
    buckets: buckets.map((b) => ({ ...b, label: `${b.capacity} tokens at ${b.ratePerSecond}/s` })),
    key: { kind: 'remote-ip' },
    scope: 'ingress',
    dryRun: false,
    ...extra,
  };
}

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

export interface BoundaryStep {
  readonly at: number;
  readonly count: number;
  readonly admitted: number;
}

/** The boundary figures, run against both stores. */
export const boundaryCases: readonly { name: string; buckets: Shape[]; steps: BoundaryStep[] }[] = [
  {
    name: 'portico 10 rps + burst 5 (capacity 15, rate 10) admits exactly 15 of 30 simultaneous requests',
    buckets: [{ capacity: 15, ratePerSecond: 10 }],
    steps: [{ at: 0, count: 30, admitted: 15 }],
  },
  {
    name: 'portico 10 rps + burst 5 admits the 16th request at +100 ms and not at +99 ms',
    buckets: [{ capacity: 15, ratePerSecond: 10 }],
    steps: [
      { at: 0, count: 15, admitted: 15 },
      { at: 99, count: 1, admitted: 0 },
      { at: 100, count: 1, admitted: 1 },
      { at: 100, count: 1, admitted: 0 },
    ],
  },
  {
    name: 'portico 10 rps + burst 5 is full again (15 more) 1.5 s after a flood, and not at 1.499 s',
    buckets: [{ capacity: 15, ratePerSecond: 10 }],
    steps: [
      { at: 0, count: 30, admitted: 15 },
      { at: 1_499, count: 30, admitted: 14 },
    ],
  },
  {
    name: 'portico 10 rps + burst 5 admits 15 again after 1.5 s of rest',
    buckets: [{ capacity: 15, ratePerSecond: 10 }],
    steps: [
      { at: 0, count: 30, admitted: 15 },
      { at: 1_500, count: 30, admitted: 15 },
    ],
  },
  {
    name: 'nginx limit-rps 1 × multiplier 5 (capacity 6, rate 1) admits 6 of 20 back-to-back requests',
    buckets: [{ capacity: 6, ratePerSecond: 1 }],
    steps: [{ at: 0, count: 20, admitted: 6 }],
  },
  {
    name: 'nginx limit-rps 1 × multiplier 5 admits the next request after 1 s and not at 999 ms',
    buckets: [{ capacity: 6, ratePerSecond: 1 }],
    steps: [
      { at: 0, count: 20, admitted: 6 },
      { at: 999, count: 1, admitted: 0 },
      { at: 1_000, count: 5, admitted: 1 },
    ],
  },
  {
    name: 'rps and rpm buckets are all or nothing: requests refused by the rps bucket take nothing from the rpm bucket',
    // 2 per second (capacity 2) and 5 per minute (capacity 5): 2 + 2 + 1 admitted, the rpm total.
    buckets: [
      { capacity: 2, ratePerSecond: 1 },
      { capacity: 5, ratePerSecond: 5 / 60 },
    ],
    steps: [
      { at: 0, count: 10, admitted: 2 },
      { at: 2_000, count: 10, admitted: 2 },
      { at: 4_000, count: 10, admitted: 1 },
      { at: 6_000, count: 10, admitted: 0 },
    ],
  },
];

/**
 * The rate-limit family read through an `AnnotationReader`: both spellings and their bucket sizes,
 * precedence (policy > portico.dev > nginx) with its warnings, and the exact problems of bad values.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type RateLimitAnnotations,
  rateLimitKey,
  readRateLimit,
} from '../../../../src/model/annotations/rate-limit.js';
import { type AnnotationProblem, AnnotationReader } from '../../../../src/model/annotations/spec.js';
import type { RateLimitConfig } from '../../../../src/model/types.js';

const P = 'portico.dev/';
const N = 'nginx.ingress.kubernetes.io/';
const field = (key: string): string => `metadata.annotations["${key}"]`;

function read(annotations: Record<string, unknown>): RateLimitAnnotations & {
  problems: readonly AnnotationProblem[];
  warnings: readonly AnnotationProblem[];
} {
  const reader = new AnnotationReader(annotations, 'shop');
  const result = readRateLimit(reader);
  for (const key of reader.ownKeys()) assert.ok(reader.consumed(key), `${key} is read by the family`);
  return { ...result, problems: reader.problems, warnings: reader.warnings };
}

const portico = (over: Partial<RateLimitConfig>): RateLimitConfig => ({
  dialect: 'portico',
  buckets: [],
  key: { kind: 'remote-ip' },
  scope: 'ingress',
  status: 429,
  dryRun: false,
  ...over,
});
const nginx = (over: Partial<RateLimitConfig>): RateLimitConfig => ({
  dialect: 'nginx',
  buckets: [],
  key: { kind: 'remote-ip' },
  scope: 'ingress',
  dryRun: false,
  ...over,
});

interface Row {
  readonly name: string;
  readonly annotations: Record<string, unknown>;
  readonly config?: RateLimitConfig;
  readonly policy?: RateLimitAnnotations['policy'];
  readonly problems?: readonly AnnotationProblem[];
  readonly warnings?: readonly AnnotationProblem[];
}

const rows: readonly Row[] = [
  { name: 'no annotations set no limit', annotations: {} },
  {
    name: 'portico 10 rps + burst 5 is a bucket of 15 refilled at 10 per second, answered with 429',
    annotations: { [`${P}limit-rps`]: '10', [`${P}limit-burst`]: '5' },
    config: portico({ buckets: [{ capacity: 15, ratePerSecond: 10, label: '10 rps + burst 5' }] }),
  },
  {
    name: 'portico rps without burst holds one second worth of tokens',
    annotations: { [`${P}limit-rps`]: '3' },
    config: portico({ buckets: [{ capacity: 3, ratePerSecond: 3, label: '3 rps' }] }),
  },
  {
    name: 'portico rpm holds one minute worth plus the burst, refilled at rpm/60 per second',
    annotations: { [`${P}limit-rpm`]: '120', [`${P}limit-burst`]: '10' },
    config: portico({ buckets: [{ capacity: 130, ratePerSecond: 2, label: '120 rpm + burst 10' }] }),
  },
  {
    name: 'portico rps and rpm make two buckets, the burst on top of each',
    annotations: { [`${P}limit-rps`]: '10', [`${P}limit-rpm`]: '300', [`${P}limit-burst`]: '5' },
    config: portico({
      buckets: [
        { capacity: 15, ratePerSecond: 10, label: '10 rps + burst 5' },
        { capacity: 305, ratePerSecond: 5, label: '300 rpm + burst 5' },
      ],
    }),
  },
  {
    name: 'portico connections alone is a limit without buckets',
    annotations: { [`${P}limit-connections`]: '8' },
    config: portico({ connections: 8 }),
  },
  {
    name: 'every portico modifier is carried into the config',
    annotations: {
      [`${P}limit-rps`]: '10',
      [`${P}limit-key`]: 'header:X-Api-Key',
      [`${P}limit-scope`]: 'path',
      [`${P}limit-allowlist`]: '10.1.2.3/8, ::1',
      [`${P}limit-status-code`]: '503',
      [`${P}limit-store`]: 'redis',
      [`${P}limit-dry-run`]: 'true',
    },
    config: portico({
      buckets: [{ capacity: 10, ratePerSecond: 10, label: '10 rps' }],
      key: { kind: 'header', name: 'x-api-key' },
      scope: 'path',
      allowlist: ['10.0.0.0/8', '::1/128'],
      status: 503,
      store: 'redis',
      dryRun: true,
    }),
  },
  {
    name: 'nginx limit-rps 1 is capacity 6 (burst=5 nodelay) refilled at 1 per second, status left to the ConfigMap',
    annotations: { [`${N}limit-rps`]: '1' },
    config: nginx({
      buckets: [{ capacity: 6, ratePerSecond: 1, label: 'limit-rps 1 (nginx burst=5 nodelay)' }],
    }),
  },
  {
    name: 'nginx multiplier 3 with rpm 60 is capacity 181 refilled at 1 per second',
    annotations: { [`${N}limit-rpm`]: '60', [`${N}limit-burst-multiplier`]: '3' },
    config: nginx({
      buckets: [{ capacity: 181, ratePerSecond: 1, label: 'limit-rpm 60 (nginx burst=180 nodelay)' }],
    }),
  },
  {
    name: 'nginx rps, rpm and connections render like ingress-nginx: two zones and a connection limit',
    annotations: {
      [`${N}limit-rps`]: '5',
      [`${N}limit-rpm`]: '100',
      [`${N}limit-connections`]: '4',
      [`${N}limit-whitelist`]: '192.168.0.0/16',
    },
    config: nginx({
      buckets: [
        { capacity: 26, ratePerSecond: 5, label: 'limit-rps 5 (nginx burst=25 nodelay)' },
        { capacity: 501, ratePerSecond: 100 / 60, label: 'limit-rpm 100 (nginx burst=500 nodelay)' },
      ],
      connections: 4,
      allowlist: ['192.168.0.0/16'],
    }),
  },
  {
    name: 'nginx limit-allowlist wins over its older name limit-whitelist',
    annotations: {
      [`${N}limit-rps`]: '1',
      [`${N}limit-allowlist`]: '10.0.0.0/8',
      [`${N}limit-whitelist`]: '172.16.0.0/12',
    },
    config: nginx({
      buckets: [{ capacity: 6, ratePerSecond: 1, label: 'limit-rps 1 (nginx burst=5 nodelay)' }],
      allowlist: ['10.0.0.0/8'],
    }),
  },
  {
    name: 'portico.dev limit-store and limit-dry-run apply to nginx limits',
    annotations: { [`${N}limit-rps`]: '2', [`${P}limit-store`]: 'memory', [`${P}limit-dry-run`]: 'true' },
    config: nginx({
      buckets: [{ capacity: 11, ratePerSecond: 2, label: 'limit-rps 2 (nginx burst=10 nodelay)' }],
      store: 'memory',
      dryRun: true,
    }),
  },
  {
    name: 'nginx 0 means no limit, as in ingress-nginx; the idle multiplier is reported',
    annotations: { [`${N}limit-rps`]: '0', [`${N}limit-burst-multiplier`]: '2' },
    warnings: [
      {
        field: field(`${N}limit-burst-multiplier`),
        message: `${N}limit-burst-multiplier has no effect: no rate or connection limit is set (limit-rps, limit-rpm or limit-connections)`,
      },
    ],
  },
  {
    name: 'the same key under both prefixes: portico.dev wins and the nginx one is named in a warning',
    annotations: { [`${P}limit-rps`]: '10', [`${N}limit-rps`]: '1' },
    config: portico({ buckets: [{ capacity: 10, ratePerSecond: 10, label: '10 rps' }] }),
    warnings: [
      {
        field: field(`${N}limit-rps`),
        message: `${N}limit-rps is ignored: ${P}limit-rps is set too and wins`,
      },
    ],
  },
  {
    name: 'any portico.dev limit makes every nginx limit annotation ignored, each with a warning',
    annotations: {
      [`${P}limit-connections`]: '5',
      [`${N}limit-rpm`]: '60',
      [`${N}limit-burst-multiplier`]: '2',
    },
    config: portico({ connections: 5 }),
    warnings: [
      {
        field: field(`${N}limit-rpm`),
        message: `${N}limit-rpm is ignored: portico.dev/ limit annotations are set and win (the two spellings count differently and are not mixed)`,
      },
      {
        field: field(`${N}limit-burst-multiplier`),
        message: `${N}limit-burst-multiplier is ignored: portico.dev/ limit annotations are set and win (the two spellings count differently and are not mixed)`,
      },
    ],
  },
  {
    name: 'rate-limit-policy wins over limit annotations of both spellings, each named in a warning',
    annotations: {
      [`${P}rate-limit-policy`]: 'api',
      [`${P}limit-rps`]: '10',
      [`${P}limit-store`]: 'redis',
      [`${N}limit-rps`]: '1',
    },
    policy: { namespace: 'shop', name: 'api', field: field(`${P}rate-limit-policy`) },
    warnings: [
      {
        field: field(`${P}limit-rps`),
        message: `${P}limit-rps is ignored: ${P}rate-limit-policy names RateLimitPolicy shop/api, which wins over limit annotations`,
      },
      {
        field: field(`${P}limit-store`),
        message: `${P}limit-store is ignored: ${P}rate-limit-policy names RateLimitPolicy shop/api, which wins over limit annotations`,
      },
      {
        field: field(`${N}limit-rps`),
        message: `${N}limit-rps is ignored: ${P}rate-limit-policy names RateLimitPolicy shop/api, which wins over limit annotations`,
      },
    ],
  },
  {
    name: 'rate-limit-policy alone is a reference in the Ingress namespace',
    annotations: { [`${P}rate-limit-policy`]: 'api.v2' },
    policy: { namespace: 'shop', name: 'api.v2', field: field(`${P}rate-limit-policy`) },
  },
  {
    name: 'rate-limit-policy refuses another namespace',
    annotations: { [`${P}rate-limit-policy`]: 'other/api' },
    problems: [
      {
        field: field(`${P}rate-limit-policy`),
        message: `"other/api": must be a RateLimitPolicy name in the Ingress's namespace (no namespace/ prefix)`,
      },
    ],
  },
  {
    name: 'a portico burst without a portico rate is refused',
    annotations: { [`${P}limit-connections`]: '5', [`${P}limit-burst`]: '5' },
    problems: [
      {
        field: field(`${P}limit-burst`),
        message:
          'needs portico.dev/limit-rps or portico.dev/limit-rpm (a burst is extra requests on top of a rate)',
      },
    ],
  },
  {
    name: 'portico modifiers without a portico limit are refused, even next to nginx limits',
    annotations: { [`${P}limit-key`]: 'host', [`${N}limit-rps`]: '1' },
    config: nginx({
      buckets: [{ capacity: 6, ratePerSecond: 1, label: 'limit-rps 1 (nginx burst=5 nodelay)' }],
    }),
    problems: [
      {
        field: field(`${P}limit-key`),
        message:
          'needs portico.dev/limit-rps, portico.dev/limit-rpm or portico.dev/limit-connections (it only applies to portico.dev/ limits)',
      },
    ],
  },
  ...(
    [
      [`${P}limit-rps`, 'ten', '"ten": must be a whole number'],
      [`${P}limit-rps`, '0', '"0": must be between 1 and 1000000'],
      [`${P}limit-rpm`, '-5', '"-5": must be a whole number'],
      [`${P}limit-burst`, '1000001', '"1000001": must be between 0 and 1000000'],
      [`${P}limit-connections`, '0', '"0": must be between 1 and 1000000'],
      [`${P}limit-status-code`, '200', '"200": must be between 400 and 599'],
      [`${P}limit-scope`, 'host', '"host": must be one of "ingress", "path"'],
      [`${P}limit-store`, 'etcd', '"etcd": must be one of "memory", "redis"'],
      [`${P}limit-dry-run`, 'yes', '"yes": must be "true" or "false"'],
      [`${P}limit-allowlist`, '10.0.0.0/33', '"10.0.0.0/33": "10.0.0.0/33" is not an IP address or CIDR'],
      [`${P}limit-key`, 'ip', '"ip": must be "remote-ip", "host", "header:<name>" or "cookie:<name>"'],
      [
        `${P}limit-key`,
        'header:X Api',
        `"header:X Api": header name "X Api" must be a token (letters, digits and !#$%&'*+-.^_\`|~)`,
      ],
      [
        `${P}limit-key`,
        'cookie:',
        `"cookie:": cookie name "" must be a token (letters, digits and !#$%&'*+-.^_\`|~)`,
      ],
      [`${N}limit-rps`, '1.5', '"1.5": must be a whole number'],
      [`${N}limit-burst-multiplier`, '0', '"0": must be between 1 and 1000'],
      [`${N}limit-whitelist`, 'example.com', '"example.com": "example.com" is not an IP address or CIDR'],
    ] as const
  ).map(
    ([key, value, message]): Row => ({
      name: `${key}: ${JSON.stringify(value)} is refused with the field and the reason`,
      annotations: { [key]: value },
      problems: [{ field: field(key), message }],
    }),
  ),
  {
    name: 'a non-string value is refused',
    annotations: { [`${N}limit-rps`]: 10 },
    problems: [{ field: field(`${N}limit-rps`), message: 'must be a string (quote it in YAML)' }],
  },
];

describe('rate-limit family', () => {
  for (const r of rows) {
    test(r.name, () => {
      const got = read(r.annotations);
      assert.deepEqual(got.problems, r.problems ?? []);
      assert.deepEqual(got.warnings, r.warnings ?? []);
      assert.deepEqual(got.config, r.config);
      assert.deepEqual(got.policy, r.policy);
    });
  }

  test('configs are frozen, so one Ingress cannot change another route’s limit', () => {
    const { config } = read({ [`${P}limit-rps`]: '1', [`${P}limit-allowlist`]: '::1' });
    assert.ok(config !== undefined && Object.isFrozen(config) && Object.isFrozen(config.buckets[0]));
    assert.ok(Object.isFrozen(config.allowlist));
  });

  test('limit-key accepts the four forms; cookie names keep their case', () => {
    const cases = [
      ['remote-ip', { kind: 'remote-ip' }],
      [' host ', { kind: 'host' }],
      ['header:X-Tenant', { kind: 'header', name: 'x-tenant' }],
      ['cookie:SessionID', { kind: 'cookie', name: 'SessionID' }],
    ] as const;
    for (const [raw, want] of cases) assert.deepEqual(rateLimitKey(raw), { ok: true, value: want }, raw);
  });
});

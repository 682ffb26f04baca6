/**
 * `upstream-policy`: a route's `upstream` annotations laid over the global settings, the retry
 * rules they decode to, and the helpers the exchange uses.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, test } from 'node:test';
import { DEFAULT_UPSTREAM_OPTIONS, type UpstreamOptions } from '../../../src/config/types.js';
import type { UpstreamPolicy } from '../../../src/model/types.js';
import { classifyUpstreamError, UPSTREAM_ERROR_TABLE } from '../../../src/proxy/upstream-errors.js';
import {
  buildRouteUpstream,
  DEFAULT_RETRY_RULES,
  declaredBodyLength,
  retryAllows,
  retryRules,
  routeUpstream,
  setUpstreamHost,
} from '../../../src/proxy/upstream-policy.js';

const GLOBAL: UpstreamOptions = { ...DEFAULT_UPSTREAM_OPTIONS, maxBodyBytes: 1024 * 1024 };

describe('buildRouteUpstream: annotation over the global settings', () => {
  const cases: readonly {
    name: string;
    policy: UpstreamPolicy | undefined;
    options: Partial<UpstreamOptions>;
    maxBodyBytes: number;
    retryBudgetMs: number;
  }[] = [
    {
      name: 'no policy: the global settings as they are',
      policy: undefined,
      options: {},
      maxBodyBytes: 1024 * 1024,
      retryBudgetMs: 0,
    },
    {
      name: 'route timeouts replace the global ones, one by one',
      policy: { readTimeoutMs: 1_000, connectTimeoutMs: 200 },
      options: { readTimeoutMs: 1_000, connectTimeoutMs: 200 },
      maxBodyBytes: 1024 * 1024,
      retryBudgetMs: 0,
    },
    {
      name: 'a route body size of 0 lifts the global limit',
      policy: { maxBodyBytes: 0 },
      options: {},
      maxBodyBytes: 0,
      retryBudgetMs: 0,
    },
    {
      name: 'tries 0 means no limit',
      policy: { nextUpstreamTries: 0 },
      options: { maxTries: Number.MAX_SAFE_INTEGER },
      maxBodyBytes: 1024 * 1024,
      retryBudgetMs: 0,
    },
    {
      name: 'tries from the annotation',
      policy: { nextUpstreamTries: 7 },
      options: { maxTries: 7 },
      maxBodyBytes: 1024 * 1024,
      retryBudgetMs: 0,
    },
    {
      name: '"off" allows one attempt whatever the tries say',
      policy: { nextUpstream: ['off'], nextUpstreamTries: 5 },
      options: { maxTries: 1 },
      maxBodyBytes: 1024 * 1024,
      retryBudgetMs: 0,
    },
    {
      name: 'the retry time budget',
      policy: { nextUpstreamTimeoutMs: 10_000 },
      options: {},
      maxBodyBytes: 1024 * 1024,
      retryBudgetMs: 10_000,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const got = buildRouteUpstream(GLOBAL, c.policy);
      assert.deepEqual(got.options, { ...GLOBAL, ...c.options });
      assert.equal(got.maxBodyBytes, c.maxBodyBytes);
      assert.equal(got.retryBudgetMs, c.retryBudgetMs);
    });
  }

  test('the ConfigMap words (settings/proxy_next_upstream.go "timeout http_502", 999999 s) apply without the annotation', () => {
    const global: UpstreamOptions = {
      ...GLOBAL,
      nextUpstream: ['timeout', 'http_502'],
      nextUpstreamTimeoutMs: 999_999_000,
    };
    const got = buildRouteUpstream(global, undefined);
    assert.deepEqual(got.retry, {
      error: false,
      timeout: true,
      invalidHeader: false,
      nonIdempotent: false,
      statuses: new Set([502]),
    });
    assert.equal(got.retryBudgetMs, 999_999_000);
  });

  test('the annotation words replace the ConfigMap words as a whole', () => {
    const global: UpstreamOptions = { ...GLOBAL, nextUpstream: ['timeout', 'http_502'] };
    const got = buildRouteUpstream(global, { nextUpstream: ['error'] });
    assert.deepEqual(got.retry, { error: true, timeout: false, invalidHeader: false, nonIdempotent: false });
  });

  test('a global "off" allows one attempt; an annotation list turns retries back on for its Ingress', () => {
    const global: UpstreamOptions = { ...GLOBAL, nextUpstream: ['off'] };
    assert.equal(buildRouteUpstream(global, undefined).options.maxTries, 1);
    assert.equal(buildRouteUpstream(global, { nextUpstream: ['error'] }).options.maxTries, GLOBAL.maxTries);
  });

  test('without a global limit and without the annotation there is no limit', () => {
    assert.equal(buildRouteUpstream(DEFAULT_UPSTREAM_OPTIONS, undefined).maxBodyBytes, 0);
  });

  test('routeUpstream caches per (global, policy): the same object for the same pair, a new one for new settings', () => {
    const policy: UpstreamPolicy = { readTimeoutMs: 1_000 };
    assert.equal(routeUpstream(GLOBAL, policy), routeUpstream(GLOBAL, policy));
    assert.equal(routeUpstream(GLOBAL, undefined), routeUpstream(GLOBAL, undefined));
    const changed = { ...GLOBAL, sendTimeoutMs: 5 };
    assert.notEqual(routeUpstream(changed, policy), routeUpstream(GLOBAL, policy));
    assert.equal(routeUpstream(changed, policy).options.sendTimeoutMs, 5);
  });

  test('a route without overrides shares the global options object (nothing allocated per request)', () => {
    assert.equal(buildRouteUpstream(GLOBAL, { vhost: 'x' }).options, GLOBAL);
  });
});

describe('retry rules', () => {
  const row = (code: string) => classifyUpstreamError(Object.assign(new Error(code), { code }));
  const cases: readonly {
    name: string;
    words: Parameters<typeof retryRules>[0];
    code: string;
    allowed: boolean;
  }[] = [
    { name: 'default: connection refused is retried', words: undefined, code: 'ECONNREFUSED', allowed: true },
    {
      name: 'default: a read timeout is retried',
      words: undefined,
      code: 'UND_ERR_HEADERS_TIMEOUT',
      allowed: true,
    },
    {
      name: 'default: a malformed response is retried (as before the annotation)',
      words: undefined,
      code: 'HPE_INVALID_CONSTANT',
      allowed: true,
    },
    {
      name: '"timeout" alone: connection refused is not retried',
      words: ['timeout'],
      code: 'ECONNREFUSED',
      allowed: false,
    },
    {
      name: '"timeout" alone: a connect timeout is retried',
      words: ['timeout'],
      code: 'UND_ERR_CONNECT_TIMEOUT',
      allowed: true,
    },
    {
      name: '"error" alone: a read timeout is not retried',
      words: ['error'],
      code: 'UND_ERR_BODY_TIMEOUT',
      allowed: false,
    },
    {
      name: '"error timeout": a malformed response is not retried',
      words: ['error', 'timeout'],
      code: 'HPE_INVALID_CONSTANT',
      allowed: false,
    },
    {
      name: '"invalid_header": a malformed response is retried',
      words: ['invalid_header'],
      code: 'UND_ERR_HEADERS_OVERFLOW',
      allowed: true,
    },
    {
      name: '"http_502" alone: a reset is not retried',
      words: ['http_502'],
      code: 'ECONNRESET',
      allowed: false,
    },
    { name: '"off": nothing is retried', words: ['off'], code: 'ECONNREFUSED', allowed: false },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.equal(retryAllows(retryRules(c.words), row(c.code)), c.allowed);
    });
  }

  test('every row of the upstream error table is either a timeout, an invalid header or an error', () => {
    for (const r of UPSTREAM_ERROR_TABLE) {
      const kinds = [['timeout'], ['invalid_header'], ['error']] as const;
      const hits = kinds.filter((k) => retryAllows(retryRules(k), r));
      assert.equal(hits.length, 1, r.errorCode);
    }
  });

  test('http_NNN words become the status set; non_idempotent is its own flag', () => {
    const rules = retryRules(['http_502', 'http_429', 'non_idempotent']);
    assert.deepEqual([...(rules.statuses ?? [])], [502, 429]);
    assert.equal(rules.nonIdempotent, true);
    assert.equal(DEFAULT_RETRY_RULES.statuses, undefined);
  });
});

describe('helpers', () => {
  const req = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;
  const lengths: readonly { name: string; headers: Record<string, string>; want: number | undefined }[] = [
    {
      name: 'a decimal Content-Length is the declared length',
      headers: { 'content-length': '2048' },
      want: 2048,
    },
    { name: 'no Content-Length: undefined (counted while streaming)', headers: {}, want: undefined },
    {
      name: 'a malformed Content-Length is not trusted',
      headers: { 'content-length': '1e3' },
      want: undefined,
    },
  ];
  for (const c of lengths) {
    test(c.name, () => assert.equal(declaredBodyLength(req(c.headers)), c.want));
  }

  test('setUpstreamHost replaces the Host header in place, whatever its case', () => {
    const headers = ['Host', 'client.test', 'x-forwarded-host', 'client.test'];
    setUpstreamHost(headers, 'internal:8080');
    assert.deepEqual(headers, ['Host', 'internal:8080', 'x-forwarded-host', 'client.test']);
  });

  test('setUpstreamHost adds a Host header when there is none', () => {
    const headers = ['accept', '*/*'];
    setUpstreamHost(headers, 'internal');
    assert.deepEqual(headers, ['accept', '*/*', 'host', 'internal']);
  });
});

/**
 * The policy chain's order and plumbing, with a scripted limiter: which step answers, what a
 * refused request never reaches, what a pass adds, and that memory-only chains stay synchronous.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, test } from 'node:test';
import type { RouteMatch } from '../../../src/compile/types.js';
import { silentLogger } from '../../../src/log/logger.js';
import type { RateLimitConfig, RoutePolicy } from '../../../src/model/types.js';
import {
  applyToUpstream,
  DEFAULT_LIMIT_STATUS,
  forwardedClient,
  PolicyEngine,
  type PolicyPass,
  type PolicyRequest,
  type PolicyResult,
} from '../../../src/policy/chain.js';
import type { LimitOutcome, ZoneLimiter } from '../../../src/policy/rate-limit/types.js';

function fakeReq(headers: Record<string, string> = {}): IncomingMessage {
  return {
    headers,
    rawHeaders: Object.entries(headers).flat(),
    method: 'GET',
    url: '/',
  } as unknown as IncomingMessage;
}

function matchWith(policy: Partial<RoutePolicy>, ingress = 'default/shop'): RouteMatch {
  return {
    kind: 'path',
    ingress,
    policy: { backendProtocol: 'HTTP', ...policy },
    tlsHost: false,
  };
}

/** A limiter that admits `budget` requests per key, then refuses; records what it saw. */
class ScriptedLimiter implements ZoneLimiter {
  readonly seen: string[] = [];
  readonly acquired = new Map<string, number>();
  constructor(
    readonly config: RateLimitConfig,
    readonly budget: number,
    readonly async = false,
  ) {}
  #outcome(key: string, take: boolean): LimitOutcome {
    const used = this.seen.filter((k) => k === key).length;
    if (take) this.seen.push(key);
    const allowed = used < this.budget;
    return {
      allowed,
      limit: this.budget,
      remaining: Math.max(0, this.budget - used - 1),
      resetSeconds: 1,
      retryAfterSeconds: allowed ? 0 : 1,
      store: 'memory',
    };
  }
  consume(key: string): LimitOutcome | Promise<LimitOutcome> {
    const o = this.#outcome(key, true);
    return this.async ? Promise.resolve(o) : o;
  }
  peek(key: string): LimitOutcome {
    return this.#outcome(key, false);
  }
  acquire(key: string): boolean {
    const n = this.acquired.get(key) ?? 0;
    if (n >= (this.config.connections ?? Number.POSITIVE_INFINITY)) return false;
    this.acquired.set(key, n + 1);
    return true;
  }
  release(key: string): void {
    this.acquired.set(key, (this.acquired.get(key) ?? 1) - 1);
  }
}

const LIMIT: RateLimitConfig = {
  dialect: 'portico',
  buckets: [{ capacity: 2, ratePerSecond: 1, label: '1 rps + burst 1' }],
  key: { kind: 'remote-ip' },
  scope: 'ingress',
  dryRun: false,
};

function engineWith(budget: number, async = false) {
  const limiters: ScriptedLimiter[] = [];
  const zones: string[] = [];
  const denied: string[] = [];
  const dry: string[] = [];
  const engine = new PolicyEngine({
    logger: silentLogger(),
    limits: {
      limiterFor: (zone, config) => {
        zones.push(zone);
        const l = new ScriptedLimiter(config, budget, async);
        limiters.push(l);
        return l;
      },
      retain: () => {},
    },
    observer: {
      denied: (kind) => denied.push(kind),
      dryRun: (kind) => dry.push(kind),
    },
  });
  return { engine, limiters, zones, denied, dry };
}

function request(match: RouteMatch, headers: Record<string, string> = {}, peer = '192.0.2.1'): PolicyRequest {
  return {
    req: fakeReq(headers),
    match,
    peer,
    trust: (a) => a === '127.0.0.1',
    limitStatus: DEFAULT_LIMIT_STATUS,
    proto: 'http',
    host: 'shop.test',
    requestId: 'rid',
  };
}

async function settle(r: PolicyResult | Promise<PolicyResult>): Promise<PolicyResult> {
  return r;
}

describe('forwardedClient', () => {
  const trust = (a: string): boolean => a.startsWith('127.');
  const cases = [
    {
      name: 'an untrusted peer is the client, whatever it says',
      peer: '192.0.2.1',
      xff: '10.0.0.1',
      want: '192.0.2.1',
    },
    {
      name: 'a trusted peer without the header is the client',
      peer: '127.0.0.1',
      xff: undefined,
      want: '127.0.0.1',
    },
    {
      name: 'the right-most untrusted entry is the client',
      peer: '127.0.0.1',
      xff: '10.0.0.1, 10.0.0.2',
      want: '10.0.0.2',
    },
    { name: 'trusted hops are skipped', peer: '127.0.0.1', xff: '10.0.0.1, 127.0.0.5', want: '10.0.0.1' },
    {
      name: 'all trusted: the left-most entry',
      peer: '127.0.0.1',
      xff: '127.0.0.3, 127.0.0.4',
      want: '127.0.0.3',
    },
    { name: 'IPv4-mapped entries read as IPv4', peer: '127.0.0.1', xff: '::ffff:10.0.0.9', want: '10.0.0.9' },
    { name: 'empty list items are ignored', peer: '127.0.0.1', xff: '10.0.0.1, ,', want: '10.0.0.1' },
  ] as const;
  for (const c of cases) {
    test(c.name, () => {
      const req = fakeReq(c.xff === undefined ? {} : { 'x-forwarded-for': c.xff });
      assert.equal(forwardedClient(req, c.peer, trust), c.want);
    });
  }
});

describe('applyToUpstream', () => {
  const base = ['host', 'a.test', 'Authorization', 'Basic x', 'X-User', 'forged'];
  const pass = (p: Partial<PolicyPass>): PolicyPass => ({
    pass: true,
    responseHeaders: undefined,
    upstreamHeaders: undefined,
    removeUpstream: undefined,
    headersForStatus: undefined,
    stripAuthorization: false,
    release: undefined,
    ...p,
  });
  const cases = [
    { name: 'nothing to do returns the same list', p: pass({}), want: base },
    {
      name: 'Authorization is removed in any case',
      p: pass({ stripAuthorization: true }),
      want: ['host', 'a.test', 'X-User', 'forged'],
    },
    {
      name: "the auth service's headers replace the client's copies",
      p: pass({ upstreamHeaders: ['x-user', 'alice'] }),
      want: ['host', 'a.test', 'Authorization', 'Basic x', 'x-user', 'alice'],
    },
  ] as const;
  for (const c of cases) {
    test(c.name, () => assert.deepEqual(applyToUpstream([...base], c.p), c.want));
  }
});

describe('PolicyEngine', () => {
  test('a route without policies has no chain and passes without work', () => {
    const { engine, zones } = engineWith(1);
    const m = matchWith({});
    assert.equal(engine.hasChain(m), false);
    const r = engine.run(request(m));
    assert.ok(!(r instanceof Promise) && r.pass);
    assert.deepEqual(zones, []);
  });

  test('a memory-only chain answers synchronously, with RateLimit headers on the pass', () => {
    const { engine } = engineWith(2);
    const r = engine.run(request(matchWith({ rateLimit: LIMIT })));
    assert.ok(!(r instanceof Promise), 'no promise for an in-memory limit');
    assert.ok(r.pass);
    assert.deepEqual(r.responseHeaders, [
      'ratelimit-limit',
      '2',
      'ratelimit-remaining',
      '1',
      'ratelimit-reset',
      '1',
    ]);
  });

  test('over the limit: 429 for portico spellings, with Retry-After', async () => {
    const { engine, denied } = engineWith(1);
    const m = matchWith({ rateLimit: LIMIT });
    assert.ok((await settle(engine.run(request(m)))).pass);
    const r = await settle(engine.run(request(m)));
    assert.ok(!r.pass);
    assert.equal(r.status, 429);
    assert.equal(r.code, 'PORTICO_ERR_RATE_LIMITED');
    assert.ok(r.headers.includes('retry-after'));
    assert.deepEqual(denied, ['rate']);
  });

  test('nginx spellings answer with limit-req-status-code', async () => {
    const { engine } = engineWith(0);
    const r = await settle(
      engine.run({
        ...request(matchWith({ rateLimit: { ...LIMIT, dialect: 'nginx' } })),
        limitStatus: { request: 503, connection: 502 },
      }),
    );
    assert.ok(!r.pass);
    assert.equal(r.status, 503);
  });

  test('an explicit status wins over the dialect default', async () => {
    const { engine } = engineWith(0);
    const r = await settle(engine.run(request(matchWith({ rateLimit: { ...LIMIT, status: 418 } }))));
    assert.ok(!r.pass);
    assert.equal(r.status, 418);
  });

  test('a client refused by the IP lists never consumes a token', async () => {
    const { engine, limiters } = engineWith(5);
    const m = matchWith({ rateLimit: LIMIT, ipAccess: { deny: ['192.0.2.0/24'] } });
    const r = await settle(engine.run(request(m)));
    assert.ok(!r.pass);
    assert.equal(r.status, 403);
    assert.deepEqual(limiters[0]?.seen, []);
  });

  test('allow-listed clients are never counted', async () => {
    const { engine, limiters } = engineWith(0);
    const m = matchWith({ rateLimit: { ...LIMIT, allowlist: ['192.0.2.0/24'] } });
    const r = await settle(engine.run(request(m)));
    assert.ok(r.pass);
    assert.deepEqual(limiters[0]?.seen, []);
  });

  test('dry run refuses nothing, reports the would-be refusal and sends no headers', async () => {
    const { engine, dry, denied } = engineWith(0);
    const r = await settle(engine.run(request(matchWith({ rateLimit: { ...LIMIT, dryRun: true } }))));
    assert.ok(r.pass);
    assert.equal(r.responseHeaders, undefined);
    assert.deepEqual(dry, ['rate']);
    assert.deepEqual(denied, []);
  });

  const keyCases = [
    {
      name: 'remote-ip counts by the client address',
      key: { kind: 'remote-ip' },
      headers: {},
      want: '192.0.2.1',
    },
    { name: 'host counts by the normalised host', key: { kind: 'host' }, headers: {}, want: 'shop.test' },
    {
      name: 'header:<name> counts by its value',
      key: { kind: 'header', name: 'x-api-key' },
      headers: { 'x-api-key': 'k1' },
      want: 'k1',
    },
    {
      name: 'a missing header shares one key',
      key: { kind: 'header', name: 'x-api-key' },
      headers: {},
      want: '',
    },
    {
      name: 'cookie:<name> counts by its value',
      key: { kind: 'cookie', name: 'sid' },
      headers: { cookie: 'a=1; sid=s-9' },
      want: 's-9',
    },
  ] as const;
  for (const c of keyCases) {
    test(`limit key: ${c.name}`, async () => {
      const { engine, limiters } = engineWith(5);
      await settle(engine.run(request(matchWith({ rateLimit: { ...LIMIT, key: c.key } }), c.headers)));
      assert.deepEqual(limiters[0]?.seen, [c.want]);
    });
  }

  test('scope ingress shares one zone across routes; scope path gives each route its own', () => {
    const { engine, zones } = engineWith(5);
    const route = (path: string) => ({
      host: 'shop.test',
      path,
      pathType: 'Prefix' as const,
      backend: { key: 'default/web:80', namespace: 'default', service: 'web', port: 80 },
      ingress: 'default/shop',
      field: 'spec.rules[0]',
    });
    for (const scope of ['ingress', 'path'] as const) {
      for (const path of ['/a', '/b']) {
        engine.run(request({ ...matchWith({ rateLimit: { ...LIMIT, scope } }), route: route(path) }));
      }
    }
    assert.equal(new Set(zones.slice(0, 2)).size, 1);
    assert.equal(new Set(zones.slice(2)).size, 2);
  });

  test('connection limit: the slot is held until release, then free again', async () => {
    const { engine } = engineWith(100);
    const m = matchWith({ rateLimit: { ...LIMIT, buckets: [], connections: 1 } });
    const first = await settle(engine.run(request(m)));
    assert.ok(first.pass && first.release !== undefined);
    const second = await settle(engine.run(request(m)));
    assert.ok(!second.pass);
    assert.equal(second.code, 'PORTICO_ERR_CONNECTION_LIMITED');
    first.release();
    first.release(); // twice is harmless
    const third = await settle(engine.run(request(m)));
    assert.ok(third.pass);
  });

  test('a Redis-like (asynchronous) limiter continues the chain after the answer', async () => {
    const { engine } = engineWith(1, true);
    const m = matchWith({ rateLimit: LIMIT });
    const r = engine.run(request(m));
    assert.ok(r instanceof Promise);
    assert.ok((await r).pass);
    const second = await settle(engine.run(request(m)));
    assert.ok(!second.pass);
  });

  test('Basic auth with its Secret not loaded fails closed (503), never open', async () => {
    const { engine } = engineWith(1);
    const m = matchWith({
      basicAuth: {
        secret: { namespace: 'default', name: 'users' },
        secretType: 'auth-file',
        realm: '',
        passCredentials: false,
        field: 'metadata.annotations',
      },
    });
    const r = await settle(engine.run(request(m)));
    assert.ok(!r.pass);
    assert.equal(r.status, 503);
    assert.equal(r.code, 'PORTICO_ERR_AUTH_CONFIG');
  });
});

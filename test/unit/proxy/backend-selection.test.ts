/**
 * Backend selection without sockets: the canary decision order, the affinity cookie (pinning,
 * re-pinning, attributes), rendezvous placement, EWMA and the `upstream-hash-by` expansion.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, test } from 'node:test';
import { compileSnapshot } from '../../../src/compile/snapshot.js';
import type { AffinityPolicy, CanaryRule } from '../../../src/model/types.js';
import {
  AffinitySession,
  backendTag,
  cookieTime,
  cookieValue,
  sameSiteNoneCompatible,
  setCookieValue,
} from '../../../src/proxy/affinity.js';
import { expandHashKey, explainSelection } from '../../../src/proxy/backend-selection.js';
import {
  consistentHash,
  endpointHashes,
  ewma,
  fnv1a32,
  hashSubset,
  newBalancerState,
  observeEwma,
  rendezvous,
} from '../../../src/proxy/balancer.js';
import { routeToCanary } from '../../../src/proxy/canary.js';
import type { BackendUpstreams, Upstream } from '../../../src/proxy/upstreams.js';
import { backendRef } from '../../support/fake-snapshot.js';

function fakeReq(headers: Record<string, string>, url = '/', method = 'GET'): IncomingMessage {
  return { headers, url, method, socket: { remoteAddress: '10.0.0.9' } } as unknown as IncomingMessage;
}

const rule = (extra: Partial<CanaryRule> = {}): CanaryRule => ({
  backend: backendRef('canary'),
  ingress: 'default/canary',
  weight: 0,
  weightTotal: 100,
  ...extra,
});
const mainKey = backendRef('main').key;
const canaryKey = backendRef('canary').key;
const never = () => 0.999_999;
const always = () => 0;

describe('routeToCanary decision order', () => {
  const cases: readonly {
    name: string;
    rule: Partial<CanaryRule>;
    headers: Record<string, string>;
    random?: () => number;
    affinity?: { mainCookie?: string; canaryCookie?: string };
    want: boolean;
  }[] = [
    { name: 'no rule matches and weight 0: main', rule: {}, headers: {}, random: always, want: false },
    {
      name: 'header always: canary',
      rule: { byHeader: 'x-canary' },
      headers: { 'x-canary': 'always' },
      want: true,
    },
    {
      name: 'header never: main, even with weight 100',
      rule: { byHeader: 'x-canary', weight: 100 },
      headers: { 'x-canary': 'never' },
      want: false,
    },
    {
      name: 'header with another value falls through to the weight',
      rule: { byHeader: 'x-canary', weight: 100 },
      headers: { 'x-canary': 'maybe' },
      want: true,
    },
    {
      name: 'header value match: canary',
      rule: { byHeader: 'x-canary', byHeaderValue: 'blue' },
      headers: { 'x-canary': 'blue' },
      want: true,
    },
    {
      name: 'with a header value, "always" is just another value (falls through)',
      rule: { byHeader: 'x-canary', byHeaderValue: 'blue' },
      headers: { 'x-canary': 'always' },
      random: always,
      want: false,
    },
    {
      name: 'with a header value, "never" does not beat the cookie',
      rule: { byHeader: 'x-canary', byHeaderValue: 'blue', byCookie: 'c' },
      headers: { 'x-canary': 'never', cookie: 'c=always' },
      want: true,
    },
    {
      name: 'header pattern match: canary',
      rule: { byHeader: 'x-user', byHeaderPattern: '^(alice|bob)$' },
      headers: { 'x-user': 'bob' },
      want: true,
    },
    {
      name: 'header pattern miss falls through to the cookie',
      rule: { byHeader: 'x-user', byHeaderPattern: '^(alice|bob)$', byCookie: 'c' },
      headers: { 'x-user': 'carol', cookie: 'c=always' },
      want: true,
    },
    {
      name: 'cookie always: canary',
      rule: { byCookie: 'c' },
      headers: { cookie: 'a=1; c=always' },
      want: true,
    },
    {
      name: 'cookie never: main, even with weight 100',
      rule: { byCookie: 'c', weight: 100 },
      headers: { cookie: 'c=never' },
      want: false,
    },
    {
      name: 'header decides before the cookie',
      rule: { byHeader: 'x-canary', byCookie: 'c' },
      headers: { 'x-canary': 'never', cookie: 'c=always' },
      want: false,
    },
    { name: 'weight 100 of 100: canary', rule: { weight: 100 }, headers: {}, random: never, want: true },
    {
      name: 'weight 30: a draw below 30 % is canary',
      rule: { weight: 30 },
      headers: {},
      random: () => 0.29,
      want: true,
    },
    {
      name: 'weight 30: a draw at 30 % is main',
      rule: { weight: 30 },
      headers: {},
      random: () => 0.3,
      want: false,
    },
    {
      name: 'weight 1 of 4: a draw below 25 % is canary',
      rule: { weight: 1, weightTotal: 4 },
      headers: {},
      random: () => 0.24,
      want: true,
    },
    {
      name: 'a client pinned to the main backend by affinity stays there, whatever the header says',
      rule: { byHeader: 'x-canary' },
      headers: { 'x-canary': 'always', cookie: `route=k|${backendTag(mainKey)}` },
      affinity: { mainCookie: 'route', canaryCookie: 'route' },
      want: false,
    },
    {
      name: 'a client pinned to the canary by affinity stays on it (sticky), weight 0',
      rule: {},
      headers: { cookie: `route=k|${backendTag(canaryKey)}` },
      affinity: { mainCookie: 'route', canaryCookie: 'route' },
      random: always,
      want: true,
    },
    {
      name: 'an affinity cookie is ignored for a side without affinity',
      rule: {},
      headers: { cookie: `route=k|${backendTag(canaryKey)}` },
      affinity: { mainCookie: 'route' },
      random: always,
      want: false,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const got = routeToCanary(
        fakeReq(c.headers),
        rule(c.rule),
        { mainBackendKey: mainKey, ...c.affinity },
        c.random ?? never,
      );
      assert.equal(got, c.want);
    });
  }
});

describe('cookieValue', () => {
  const cases = [
    { header: 'a=1; b=2', name: 'b', want: '2' },
    { header: 'ab=1; b=2', name: 'b', want: '2' },
    { header: 'a=1;b="q"', name: 'b', want: 'q' },
    { header: 'a=1', name: 'b', want: undefined },
    { header: 'b=', name: 'b', want: '' },
  ] as const;
  for (const c of cases) {
    test(`cookie ${c.name} in ${JSON.stringify(c.header)} is ${JSON.stringify(c.want)}`, () => {
      assert.equal(cookieValue(c.header, c.name), c.want);
    });
  }
});

function endpointSet(backendKey: string, hosts: readonly string[]): BackendUpstreams {
  const upstreams = hosts.map((h) => ({ key: `${h}:80` }) as unknown as Upstream);
  return { backendKey, upstreams, balancer: newBalancerState(() => 0) };
}

const policy = (extra: Partial<AffinityPolicy> = {}): AffinityPolicy => ({
  cookieName: 'route',
  conditionalSameSiteNone: false,
  mode: 'balanced',
  changeOnFailure: false,
  canaryBehavior: 'sticky',
  ...extra,
});
const ctx = { https: false, userAgent: 'test', routePath: '/app', now: Date.UTC(2026, 0, 1) };

/** The `route` cookie value a response set, or undefined. */
function cookieSet(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  return header.slice('route='.length, header.indexOf(';'));
}

describe('affinity sessions', () => {
  const hosts = ['10.0.0.1', '10.0.0.2', '10.0.0.3'];
  for (const mode of ['balanced', 'persistent'] as const) {
    test(`${mode}: a new client is pinned and told so; its cookie brings it back to the same endpoint`, () => {
      const set = endpointSet(mainKey, hosts);
      const s1 = new AffinitySession(policy({ mode }), mainKey, undefined, ctx);
      const first = s1.first(set);
      const value = cookieSet(s1.setCookie(set, set.upstreams[first] as Upstream));
      assert.ok(value?.endsWith(`|${backendTag(mainKey)}`), 'the cookie carries the backend tag');
      for (let i = 0; i < 5; i++) {
        const again = new AffinitySession(policy({ mode }), mainKey, value, ctx);
        assert.equal(again.first(set), first);
        assert.equal(again.setCookie(set, set.upstreams[first] as Upstream), undefined, 'no new cookie');
      }
    });

    test(`${mode}: the pin survives an endpoint set swap that keeps its endpoint (another one leaves)`, () => {
      const before = endpointSet(mainKey, hosts);
      for (let trial = 0; trial < 30; trial++) {
        const s = new AffinitySession(policy({ mode }), mainKey, undefined, ctx);
        const pinned = before.upstreams[s.first(before)] as Upstream;
        const value = cookieSet(s.setCookie(before, pinned));
        const keep = hosts.filter(
          (h) => `${h}:80` === pinned.key || h === hosts.find((x) => `${x}:80` !== pinned.key),
        );
        const after = endpointSet(mainKey, keep);
        const again = new AffinitySession(policy({ mode }), mainKey, value, ctx);
        assert.equal(after.upstreams[again.first(after)]?.key, pinned.key);
      }
    });
  }

  test('persistent: adding endpoints never moves a session; balanced: some sessions move to the new one', () => {
    const before = endpointSet(mainKey, hosts);
    const after = endpointSet(mainKey, [...hosts, '10.0.0.4']);
    const moved = { balanced: 0, persistent: 0 };
    for (const mode of ['balanced', 'persistent'] as const) {
      for (let i = 0; i < 200; i++) {
        const s = new AffinitySession(policy({ mode }), mainKey, undefined, ctx);
        const pinned = before.upstreams[s.first(before)] as Upstream;
        const value = cookieSet(s.setCookie(before, pinned));
        const again = new AffinitySession(policy({ mode }), mainKey, value, ctx);
        const now = after.upstreams[again.first(after)] as Upstream;
        if (now.key !== pinned.key) {
          moved[mode]++;
          assert.equal(now.key, '10.0.0.4:80', 'a balanced session only moves to the added endpoint');
        }
      }
    }
    assert.equal(moved.persistent, 0);
    // Expected 200 / 4 = 50; the bounds are loose so the test never flakes.
    assert.ok(moved.balanced > 10 && moved.balanced < 110, `balanced moved ${moved.balanced} of 200`);
  });

  test('a cookie of another backend is not a pin: the client is re-pinned with a new cookie', () => {
    const set = endpointSet(mainKey, hosts);
    const s = new AffinitySession(policy(), mainKey, `abc|${backendTag(canaryKey)}`, ctx);
    const first = s.first(set);
    assert.ok(s.setCookie(set, set.upstreams[first] as Upstream) !== undefined);
  });

  const failover = [
    {
      name: 'without change-on-failure an existing pin is kept when another endpoint answered',
      change: false,
      want: false,
    },
    {
      name: 'with change-on-failure the cookie moves to the endpoint that answered',
      change: true,
      want: true,
    },
  ] as const;
  for (const mode of ['balanced', 'persistent'] as const) {
    for (const c of failover) {
      test(`${mode}: ${c.name}`, () => {
        const set = endpointSet(mainKey, hosts);
        const s1 = new AffinitySession(policy({ mode }), mainKey, undefined, ctx);
        const pinned = s1.first(set);
        const value = cookieSet(s1.setCookie(set, set.upstreams[pinned] as Upstream));
        const s2 = new AffinitySession(policy({ mode, changeOnFailure: c.change }), mainKey, value, ctx);
        assert.equal(s2.first(set), pinned);
        const other = set.upstreams[(pinned + 1) % 3] as Upstream;
        const header = s2.setCookie(set, other);
        assert.equal(header !== undefined, c.want);
        if (header !== undefined) {
          const s3 = new AffinitySession(policy({ mode }), mainKey, cookieSet(header), ctx);
          assert.equal(set.upstreams[s3.first(set)], other, 'the new cookie pins the endpoint that answered');
        }
      });
    }
  }

  test('a new client whose pin failed is pinned to the endpoint that answered, even without change-on-failure', () => {
    const set = endpointSet(mainKey, hosts);
    const s = new AffinitySession(policy({ mode: 'persistent' }), mainKey, undefined, ctx, () => 0);
    const pinned = s.first(set);
    const other = set.upstreams[(pinned + 1) % 3] as Upstream;
    const s2 = new AffinitySession(
      policy({ mode: 'persistent' }),
      mainKey,
      cookieSet(s.setCookie(set, other)),
      ctx,
    );
    assert.equal(set.upstreams[s2.first(set)], other);
  });
});

describe('Set-Cookie attributes', () => {
  const cases = [
    {
      name: 'defaults: route path, HttpOnly, no Secure on HTTP',
      policy: {},
      ctx: {},
      want: 'route=v; Path=/app; HttpOnly',
    },
    {
      name: 'Secure by default on HTTPS',
      policy: {},
      ctx: { https: true },
      want: 'route=v; Path=/app; Secure; HttpOnly',
    },
    {
      name: 'secure "false" still sets Secure on HTTPS (ingress-nginx e2e: "provided false annotation on https")',
      policy: { secure: false },
      ctx: { https: true },
      want: 'route=v; Path=/app; Secure; HttpOnly',
    },
    {
      name: 'secure "true" sets Secure on plain HTTP',
      policy: { secure: true },
      ctx: {},
      want: 'route=v; Path=/app; Secure; HttpOnly',
    },
    {
      name: 'every attribute in resty.cookie order',
      policy: {
        expiresSeconds: 60,
        maxAgeSeconds: 30,
        domain: '.a.test',
        path: '/',
        secure: true,
        sameSite: 'Lax',
      },
      ctx: {},
      want: 'route=v; Expires=Thu, 01-Jan-26 00:01:00 GMT; Max-Age=30; Domain=.a.test; Path=/; Secure; HttpOnly; SameSite=Lax',
    },
    {
      name: 'conditional SameSite=None is left out for Chrome 51',
      policy: { sameSite: 'None', conditionalSameSiteNone: true },
      ctx: { userAgent: 'Mozilla/5.0 Chrome/51.0.2704.103 Safari/537.36' },
      want: 'route=v; Path=/app; HttpOnly',
    },
    {
      name: 'conditional SameSite=None is kept for Chrome 120',
      policy: { sameSite: 'None', conditionalSameSiteNone: true },
      ctx: { userAgent: 'Mozilla/5.0 Chrome/120.0 Safari/537.36' },
      want: 'route=v; Path=/app; HttpOnly; SameSite=None',
    },
  ] as const;
  for (const c of cases) {
    test(c.name, () => {
      assert.equal(setCookieValue(policy(c.policy), 'v', { ...ctx, ...c.ctx }), c.want);
    });
  }

  const agents = [
    { ua: 'Mozilla/5.0 (iPhone; CPU iPhone OS 12_0 like Mac OS X) Safari', want: false },
    {
      ua: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_14_6) AppleWebKit Version/12.1 Safari/605',
      want: false,
    },
    { ua: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_14_6) Chrome/90 Safari/537', want: true },
    { ua: 'curl/8.0', want: true },
  ] as const;
  for (const a of agents) {
    test(`SameSite=None compatibility of ${JSON.stringify(a.ua)} is ${a.want}`, () => {
      assert.equal(sameSiteNoneCompatible(a.ua), a.want);
    });
  }
});

describe('cookieTime (nginx ngx_http_cookie_time)', () => {
  const cases = [
    { ms: Date.UTC(2026, 0, 1, 0, 1, 0), want: 'Thu, 01-Jan-26 00:01:00 GMT' },
    { ms: Date.UTC(2009, 11, 31, 23, 59, 59), want: 'Thu, 31-Dec-09 23:59:59 GMT' },
    { ms: Date.UTC(2040, 5, 5, 5, 5, 5), want: 'Tue, 05-Jun-2040 05:05:05 GMT' },
  ] as const;
  for (const c of cases) {
    test(`${new Date(c.ms).toISOString()} is written ${c.want}`, () =>
      assert.equal(cookieTime(c.ms), c.want));
  }
});

describe('placement strategies', () => {
  const keys = ['10.0.0.1:80', '10.0.0.2:80', '10.0.0.3:80', '10.0.0.4:80'].map((key) => ({ key }));

  test('rendezvous keeps every key whose endpoint stays when another endpoint leaves', () => {
    const all = endpointHashes(keys);
    const without = keys.filter((_, i) => i !== 2);
    const fewer = endpointHashes(without);
    for (let k = 0; k < 500; k++) {
      const h = fnv1a32(`key-${k}`);
      const before = keys[rendezvous(h, all)]?.key;
      if (before === '10.0.0.3:80') continue;
      assert.equal(without[rendezvous(h, fewer)]?.key, before);
    }
  });

  test('consistentHash sends equal keys to the same endpoint and spreads different ones', () => {
    const state = newBalancerState(() => 0);
    const counts = [0, 0, 0, 0];
    for (let k = 0; k < 400; k++) {
      const input = { clientAddress: '', path: '/', endpoints: keys, keyHash: fnv1a32(`/item/${k}`) };
      const a = consistentHash.first(state, 4, input);
      assert.equal(consistentHash.first(state, 4, input), a);
      counts[a]! += 1;
    }
    for (const n of counts) assert.ok(n > 50 && n < 150, `spread ${counts.join(',')}`);
  });

  test('hashSubset keeps a key inside one group of the given size', () => {
    const state = newBalancerState(() => 0);
    let r = 0;
    const strategy = hashSubset(2, () => {
      r = (r + 0.37) % 1;
      return r;
    });
    const input = { clientAddress: '', path: '/', endpoints: keys, keyHash: fnv1a32('user-7') };
    const seen = new Set<number>();
    for (let i = 0; i < 40; i++) seen.add(strategy.first(state, 4, input));
    assert.equal(seen.size, 2);
    const group = Math.floor([...seen][0]! / 2);
    for (const i of seen) assert.equal(Math.floor(i / 2), group);
  });

  test('ewma picks the faster of the two endpoints drawn', () => {
    const state = newBalancerState(() => 0);
    const now = 1_000_000;
    observeEwma(state, '10.0.0.1:80', 500, 2, now);
    observeEwma(state, '10.0.0.2:80', 5, 2, now);
    const two = keys.slice(0, 2);
    const strategy = ewma(
      () => 0,
      () => now,
    );
    for (let i = 0; i < 5; i++)
      assert.equal(strategy.first(state, 2, { clientAddress: '', path: '/', endpoints: two }), 1);
  });

  test('ewma forgets: an old slow measurement decays below a fresh moderate one', () => {
    const state = newBalancerState(() => 0);
    observeEwma(state, '10.0.0.1:80', 1_000, 2, 0);
    observeEwma(state, '10.0.0.2:80', 50, 2, 60_000);
    const strategy = ewma(
      () => 0,
      () => 60_000,
    );
    assert.equal(strategy.first(state, 2, { clientAddress: '', path: '/', endpoints: keys.slice(0, 2) }), 0);
  });
});

describe('upstream-hash-by expansion', () => {
  const lb = (key: string) => ({ kind: 'hash', key }) as const;
  const req = fakeReq(
    { 'x-user': 'alice', cookie: 'sid=42; other=1', 'user-agent': 'ua' },
    '/shop/items?id=7&ID=8&page=2',
    'POST',
  );
  const cases = [
    { key: '$request_uri', want: '/shop/items?id=7&ID=8&page=2' },
    { key: '$uri', want: '/shop/items' },
    { key: '$args', want: 'id=7&ID=8&page=2' },
    { key: '$remote_addr', want: '10.0.0.9' },
    { key: '$host-$scheme-$request_method', want: 'a.test-https-POST' },
    { key: '$http_x_user', want: 'alice' },
    { key: '$cookie_sid', want: '42' },
    { key: '$arg_page', want: '2' },
    { key: '$arg_id', want: '7' },
    { key: 'user:\u0024{http_x_user}:$cookie_missing', want: 'user:alice:' },
  ] as const;
  for (const c of cases) {
    test(`${c.key} expands to ${JSON.stringify(c.want)}`, () => {
      assert.equal(
        expandHashKey(lb(c.key), req, { proto: 'https', host: 'a.test', path: '/shop/items' }),
        c.want,
      );
    });
  }
});

describe('explainSelection (/explain)', () => {
  const snapshot = compileSnapshot(
    {
      routes: [
        {
          host: 'a.test',
          path: '/',
          pathType: 'Prefix',
          backend: backendRef('main'),
          ingress: 'default/main',
          field: 'spec.rules[0].http.paths[0]',
          policy: { backendProtocol: 'HTTP', loadBalance: { kind: 'hash', key: '$remote_addr' } },
          canary: rule({ byHeader: 'x-canary', weight: 25 }),
        },
      ],
      hostDefaults: new Map(),
      ingresses: [],
      diagnostics: [],
    },
    1,
  );
  const match = snapshot.match('a.test', '/');
  const cases = [
    {
      name: 'a deciding header names the canary',
      headers: { 'x-canary': 'always' },
      canary: `canary ${canaryKey} (Ingress default/canary)`,
    },
    {
      name: 'a deciding "never" names the main backend',
      headers: { 'x-canary': 'never' },
      canary: `main backend ${mainKey}`,
    },
    {
      name: 'when the weight decides, the share is given',
      headers: {},
      canary: `canary ${canaryKey} (Ingress default/canary) for 25.0 % of such requests (weight 25 of 100), else main backend ${mainKey}`,
    },
  ] as const;
  for (const c of cases) {
    test(c.name, () => {
      assert.deepEqual(explainSelection(match, c.headers), [
        { step: 'canary', verdict: c.canary },
        { step: 'load-balance', verdict: 'consistent hash of $remote_addr' },
      ]);
    });
  }
});

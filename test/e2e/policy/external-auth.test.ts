/**
 * `ExternalAuthClient.check` against a real oauth2-proxy-like server on 127.0.0.1: the
 * subrequest it sends, the verdicts for 2xx / 401 / 403 / everything else, the sign-in redirect,
 * failures (timeout, refused connection) and the cache (with an injected clock).
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { silentLogger } from '../../../src/log/logger.js';
import type { ExternalAuthPolicy } from '../../../src/model/types.js';
import {
  ExternalAuthClient,
  type ExternalAuthInput,
  type ExternalAuthVerdict,
  responseHeadersFor,
} from '../../../src/policy/auth/external.js';
import type { ExternalAuthChecker } from '../../../src/policy/chain.js';
import { type AuthServer, SESSION_COOKIE, startAuthServer } from '../../support/auth-server.js';

let server: AuthServer;
let clock = 1_000_000;
let client: ExternalAuthClient;

before(async () => {
  server = await startAuthServer({
    'alice-token': { user: 'alice', email: 'alice@example.com' },
    'bob-token': { user: 'bob', email: 'bob@example.com' },
    'mallory-token': { user: 'mallory', email: 'mallory@example.com', forbidden: true },
  });
  client = new ExternalAuthClient({ logger: silentLogger(), now: () => clock });
});

after(async () => {
  await client.close();
  await server.close();
});

function policy(overrides: Partial<ExternalAuthPolicy> = {}): ExternalAuthPolicy {
  return {
    url: `${server.url}/oauth2/auth`,
    method: 'GET',
    signinRedirectParam: 'rd',
    responseHeaders: [],
    cacheDurations: [],
    alwaysSetCookie: false,
    timeoutMs: 5_000,
    ...overrides,
  };
}

function input(
  p: ExternalAuthPolicy,
  headers: readonly string[] = [],
  overrides: Partial<ExternalAuthInput> = {},
) {
  return {
    policy: p,
    rawHeaders: ['Host', 'app.example.com', ...headers],
    method: 'GET',
    url: '/shop/cart?x=1',
    host: 'app.example.com',
    proto: 'https',
    clientAddress: '203.0.113.7',
    requestId: 'req-1',
    ...overrides,
  } satisfies ExternalAuthInput;
}

const bearer = (token: string): string[] => ['Authorization', `Bearer ${token}`];
const cookie = (token: string): string[] => ['Cookie', `theme=dark; ${SESSION_COOKIE}=${token}`];

/** Runs one check and returns the verdict with the requests the server saw during it. */
async function check(i: ExternalAuthInput): Promise<{ verdict: ExternalAuthVerdict; sent: number }> {
  const before = server.seen.length;
  const verdict = await client.check(i);
  return { verdict, sent: server.seen.length - before };
}

function respond(v: ExternalAuthVerdict): Extract<ExternalAuthVerdict, { kind: 'respond' }> {
  assert.equal(v.kind, 'respond', JSON.stringify(v));
  return v as Extract<ExternalAuthVerdict, { kind: 'respond' }>;
}

function allow(v: ExternalAuthVerdict): Extract<ExternalAuthVerdict, { kind: 'allow' }> {
  assert.equal(v.kind, 'allow', JSON.stringify(v));
  return v as Extract<ExternalAuthVerdict, { kind: 'allow' }>;
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const address = probe.address();
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  assert.ok(address !== null && typeof address === 'object');
  return address.port;
}

describe('the auth subrequest', () => {
  test('carries the original headers minus hop-by-hop and body headers, plus the X-Original-* set', async () => {
    const { verdict } = await check(
      input(
        policy(),
        [
          ...cookie('alice-token'),
          'X-Custom',
          'kept',
          'Connection',
          'keep-alive, X-Hop',
          'X-Hop',
          'dropped',
          'Keep-Alive',
          'timeout=5',
          'Upgrade',
          'websocket',
          'Content-Length',
          '5',
          'Content-Type',
          'text/plain',
          'Expect',
          '100-continue',
          'X-Forwarded-For',
          '6.6.6.6',
          'X-Forwarded-Proto',
          'http',
          'X-Forwarded-Host',
          'evil.example',
          'X-Original-URL',
          'https://evil.example/',
          'X-Real-IP',
          '6.6.6.6',
        ],
        { method: 'POST', host: 'app.example.com:8443' },
      ),
    );
    allow(verdict);
    const seen = server.seen.at(-1);
    assert.ok(seen !== undefined);
    assert.equal(seen.method, 'GET');
    assert.equal(seen.url, '/oauth2/auth');
    assert.equal(seen.bodyBytes, 0);
    const h = seen.headers;
    assert.equal(h.host, `127.0.0.1:${server.port}`);
    assert.equal(h['x-original-url'], 'https://app.example.com:8443/shop/cart?x=1');
    assert.equal(h['x-original-uri'], '/shop/cart?x=1');
    assert.equal(h['x-original-method'], 'POST');
    assert.equal(h['x-auth-request-redirect'], '/shop/cart?x=1');
    assert.equal(h['x-request-id'], 'req-1');
    assert.equal(h['x-real-ip'], '203.0.113.7');
    assert.equal(h['x-forwarded-for'], '203.0.113.7');
    assert.equal(h['x-forwarded-host'], 'app.example.com:8443');
    assert.equal(h['x-sent-from'], 'portico');
    assert.equal(h.cookie, `theme=dark; ${SESSION_COOKIE}=alice-token`);
    assert.equal(h['x-custom'], 'kept');
    assert.equal(h['content-type'], 'text/plain');
    for (const gone of [
      'x-forwarded-proto',
      'x-hop',
      'keep-alive',
      'upgrade',
      'content-length',
      'transfer-encoding',
      'expect',
    ]) {
      assert.equal(h[gone], undefined, `${gone} must not reach the auth service`);
    }
    // Each replaced header arrives once, with Portico's value.
    assert.equal(seen.rawHeaders.filter((n) => n.toLowerCase() === 'x-original-url').length, 1);
  });

  test('Cookie headers split by an HTTP/2 client reach the service as one line', async () => {
    const { verdict } = await check(
      input(policy(), [
        'cookie',
        'theme=dark',
        'cookie',
        `${SESSION_COOKIE}=alice-token`,
        ':authority',
        'app.example.com',
      ]),
    );
    allow(verdict);
    const seen = server.seen.at(-1);
    assert.equal(seen?.headers.cookie, `theme=dark; ${SESSION_COOKIE}=alice-token`);
    assert.equal(seen?.rawHeaders.filter((n) => n.toLowerCase() === 'cookie').length, 1);
  });

  test('auth-method overrides the method, and no body is sent whatever the method', async () => {
    await check(input(policy({ method: 'POST' }), bearer('alice-token'), { method: 'PUT' }));
    const seen = server.seen.at(-1);
    assert.equal(seen?.method, 'POST');
    assert.equal(seen?.bodyBytes, 0);
    assert.equal(seen?.headers['x-original-method'], 'PUT');
  });

  test('auth-request-redirect sets X-Auth-Request-Redirect, with its variables expanded', async () => {
    await check(input(policy({ requestRedirect: '$scheme://$host$request_uri' }), bearer('alice-token')));
    assert.equal(
      server.seen.at(-1)?.headers['x-auth-request-redirect'],
      'https://app.example.com/shop/cart?x=1',
    );
  });
});

describe('verdicts', () => {
  test("the client is the policy chain's ExternalAuthChecker: the chain's input gets the chain's verdicts", async () => {
    const checker: ExternalAuthChecker = client;
    const verdict = await checker.check(input(policy(), bearer('alice-token')));
    assert.equal(verdict.kind, 'allow');
    assert.equal((await checker.check(input(policy(), []))).kind, 'respond');
  });

  test('a 2xx allows and copies auth-response-headers for the upstream request', async () => {
    const { verdict } = await check(
      input(
        policy({ responseHeaders: ['X-Auth-Request-User', 'X-Auth-Request-Email', 'X-Auth-Request-Groups'] }),
        [...bearer('alice-token'), 'X-Auth-Request-Groups', 'admins'],
      ),
    );
    const v = allow(verdict);
    assert.deepEqual(v.upstreamHeaders, [
      'X-Auth-Request-User',
      'alice',
      'X-Auth-Request-Email',
      'alice@example.com',
    ]);
    // Groups was not in the auth answer: it is still removed, so the client's forged one never reaches the backend.
    assert.deepEqual(v.removeUpstream, [
      'x-auth-request-user',
      'x-auth-request-email',
      'x-auth-request-groups',
    ]);
    assert.deepEqual(v.responseHeaders, []);
    assert.equal(v.cached, false);
  });

  test("an allowed cookie session gets the auth response's Set-Cookie on the statuses add_header covers", async () => {
    const v = allow((await check(input(policy(), cookie('alice-token')))).verdict);
    const cookies = [
      'set-cookie',
      `${SESSION_COOKIE}=alice-token; Path=/; HttpOnly`,
      'set-cookie',
      'csrf=1; Path=/',
    ];
    assert.deepEqual(v.responseHeaders, cookies);
    assert.deepEqual(responseHeadersFor(v, 200), cookies);
    assert.deepEqual(responseHeadersFor(v, 304), cookies);
    assert.deepEqual(responseHeadersFor(v, 404), []);
    assert.deepEqual(responseHeadersFor(v, 500), []);
  });

  test('auth-always-set-cookie adds Set-Cookie to every backend status', async () => {
    const v = allow((await check(input(policy({ alwaysSetCookie: true }), cookie('alice-token')))).verdict);
    assert.equal(responseHeadersFor(v, 404).length, 4);
  });

  test("a 401 is answered with the service's WWW-Authenticate, not its body or cookies", async () => {
    const v = respond((await check(input(policy(), cookie('stale-token')))).verdict);
    assert.equal(v.status, 401);
    assert.equal(v.reason, 'denied');
    assert.deepEqual(v.headers, ['www-authenticate', 'Bearer realm="test"']);
    assert.doesNotMatch(v.body, /secret detail/);
  });

  test('with auth-always-set-cookie a 401 carries the Set-Cookie too', async () => {
    const v = respond((await check(input(policy({ alwaysSetCookie: true }), cookie('stale-token')))).verdict);
    assert.equal(v.status, 401);
    assert.deepEqual(v.headers, [
      'www-authenticate',
      'Bearer realm="test"',
      'set-cookie',
      `${SESSION_COOKIE}=; Path=/; Max-Age=0`,
    ]);
  });

  test('a 403 is answered as 403', async () => {
    const v = respond((await check(input(policy(), bearer('mallory-token')))).verdict);
    assert.equal(v.status, 403);
    assert.equal(v.reason, 'denied');
    assert.deepEqual(v.headers, []);
    assert.doesNotMatch(v.body, /forbidden detail/);
  });

  const signinRows = [
    {
      name: 'auth-signin turns a 401 into a 302 with rd=<scheme>://<host><escaped URI>',
      signin: 'https://login.example.com/oauth2/start',
      location: 'https://login.example.com/oauth2/start?rd=https://app.example.com%2Fshop%2Fcart%3Fx%3D1',
    },
    {
      name: 'a sign-in URL with a query gets &rd=',
      signin: 'https://login.example.com/start?tenant=a',
      location: 'https://login.example.com/start?tenant=a&rd=https://app.example.com%2Fshop%2Fcart%3Fx%3D1',
    },
    {
      name: 'a sign-in URL that already has rd is kept as written',
      signin: 'https://login.example.com/start?rd=https://app.example.com/',
      location: 'https://login.example.com/start?rd=https://app.example.com/',
    },
    {
      name: 'auth-signin-redirect-param names the parameter',
      signin: 'https://login.example.com/start',
      param: 'return_to',
      location: 'https://login.example.com/start?return_to=https://app.example.com%2Fshop%2Fcart%3Fx%3D1',
    },
    {
      name: "the sign-in URL's variables are expanded (oauth2-proxy's documented form)",
      signin: 'https://$host/oauth2/start?rd=$escaped_request_uri',
      location: 'https://app.example.com/oauth2/start?rd=%2Fshop%2Fcart%3Fx%3D1',
    },
  ] as const;
  for (const row of signinRows) {
    test(row.name, async () => {
      const p = policy({ signin: row.signin, ...('param' in row ? { signinRedirectParam: row.param } : {}) });
      const v = respond((await check(input(p, []))).verdict);
      assert.equal(v.status, 302);
      assert.equal(v.reason, 'signin');
      assert.deepEqual(v.headers, ['location', row.location]);
    });
  }

  test('a raw $request_uri in the sign-in URL is percent-encoded where a header cannot carry it', async () => {
    const p = policy({ signin: 'https://login.example.com/start?next=$request_uri' });
    const v = respond((await check(input(p, [], { url: '/caf\u00e9 au lait' }))).verdict);
    assert.deepEqual(v.headers, [
      'location',
      'https://login.example.com/start?next=/caf%C3%A9%20au%20lait&rd=https://app.example.com%2Fcaf%C3%A9%20au%20lait',
    ]);
  });

  test("the 302 to sign-in carries the auth response's Set-Cookie", async () => {
    const p = policy({ signin: 'https://login.example.com/start' });
    const v = respond((await check(input(p, cookie('stale-token')))).verdict);
    assert.equal(v.status, 302);
    assert.deepEqual(v.headers.slice(2), ['set-cookie', `${SESSION_COOKIE}=; Path=/; Max-Age=0`]);
  });

  test('a 403 is not redirected to auth-signin', async () => {
    const p = policy({ signin: 'https://login.example.com/start' });
    assert.equal(respond((await check(input(p, bearer('mallory-token')))).verdict).status, 403);
  });

  test('a large auth response body is drained or dropped, and the verdict still stands', async () => {
    const v = allow(
      (await check(input(policy({ url: `${server.url}/big`, responseHeaders: ['X-Auth-Request-User'] }), [])))
        .verdict,
    );
    assert.deepEqual(v.upstreamHeaders, ['X-Auth-Request-User', 'big']);
  });

  const errorRows = [
    { name: 'a 500 from the service answers 500', path: '/boom' },
    { name: 'a redirect from the service is not followed: 500', path: '/status/302' },
    { name: 'any other status (418) answers 500', path: '/status/418' },
    { name: 'a 404 (wrong auth-url path) answers 500', path: '/nowhere' },
  ] as const;
  for (const row of errorRows) {
    test(row.name, async () => {
      const { verdict, sent } = await check(
        input(policy({ url: `${server.url}${row.path}` }), bearer('alice-token')),
      );
      const v = respond(verdict);
      assert.equal(sent, 1);
      assert.equal(v.status, 500);
      assert.equal(v.reason, 'error');
      assert.deepEqual(v.headers, []);
    });
  }

  test('a service that does not answer within the timeout answers 500', async () => {
    const v = respond(
      (await check(input(policy({ url: `${server.url}/slow`, timeoutMs: 150 }), []))).verdict,
    );
    assert.equal(v.status, 500);
    assert.equal(v.reason, 'error');
  });

  test('a refused connection answers 500', async () => {
    const port = await freePort();
    const v = respond(await client.check(input(policy({ url: `http://127.0.0.1:${port}/auth` }), [])));
    assert.equal(v.status, 500);
  });

  test('a policy marked deny fails closed with 503 and asks nobody', async () => {
    const { verdict, sent } = await check(input(policy({ deny: 'unusable' }), bearer('alice-token')));
    assert.equal(sent, 0);
    assert.equal(respond(verdict).status, 503);
  });

  test('a policy whose URL does not parse answers 500 instead of throwing', async () => {
    const v = respond(await client.check(input(policy({ url: 'not a url' }), [])));
    assert.equal(v.status, 500);
  });
});

describe('cache', () => {
  const minutes = (n: number): number => n * 60_000;
  const cached = (overrides: Partial<ExternalAuthPolicy> = {}): ExternalAuthPolicy =>
    policy({
      cacheKey: '$http_authorization',
      cacheDurations: [
        { statuses: [200, 202], ms: minutes(10) },
        { statuses: [401], ms: minutes(1) },
      ],
      responseHeaders: ['X-Auth-Request-User'],
      ...overrides,
    });

  test('a cached 202 is reused until its duration passes: the server sees one request per period', async () => {
    const p = cached();
    const first = await check(input(p, bearer('alice-token')));
    assert.equal(first.sent, 1);
    assert.equal(allow(first.verdict).cached, false);
    clock += minutes(9);
    const second = await check(input(p, bearer('alice-token')));
    assert.equal(second.sent, 0);
    assert.equal(allow(second.verdict).cached, true);
    assert.deepEqual(allow(second.verdict).upstreamHeaders, ['X-Auth-Request-User', 'alice']);
    clock += minutes(2);
    assert.equal((await check(input(p, bearer('alice-token')))).sent, 1);
  });

  test('the key separates clients: another token is asked for', async () => {
    const p = cached();
    await check(input(p, bearer('alice-token')));
    const bob = await check(input(p, bearer('bob-token')));
    assert.equal(bob.sent, 1);
    assert.deepEqual(allow(bob.verdict).upstreamHeaders, ['X-Auth-Request-User', 'bob']);
  });

  test("a cached 401 still redirects to sign-in with the current request's URL", async () => {
    const p = cached({ signin: 'https://login.example.com/start' });
    await check(input(p, bearer('nobody')));
    const again = await check(input(p, bearer('nobody'), { url: '/other' }));
    assert.equal(again.sent, 0);
    const v = respond(again.verdict);
    assert.equal(v.status, 302);
    assert.equal(v.cached, true);
    assert.deepEqual(v.headers, [
      'location',
      'https://login.example.com/start?rd=https://app.example.com%2Fother',
    ]);
  });

  test('answers with Set-Cookie are not cached (as nginx proxy_cache)', async () => {
    const p = cached({ cacheKey: '$cookie__oauth2_proxy' });
    await check(input(p, cookie('alice-token')));
    assert.equal((await check(input(p, cookie('alice-token')))).sent, 1);
  });

  test('Cache-Control: no-store from the service disables caching, max-age overrides the duration', async () => {
    const noStore = cached({ url: `${server.url}/oauth2/auth?cache-control=no-store` });
    await check(input(noStore, bearer('alice-token')));
    assert.equal((await check(input(noStore, bearer('alice-token')))).sent, 1);

    const maxAge = cached({ url: `${server.url}/oauth2/auth?cache-control=max-age=30` });
    await check(input(maxAge, bearer('alice-token')));
    clock += 29_000;
    assert.equal((await check(input(maxAge, bearer('alice-token')))).sent, 0);
    clock += 2_000;
    assert.equal((await check(input(maxAge, bearer('alice-token')))).sent, 1);
  });

  test('statuses without a duration are not cached', async () => {
    const p = cached({ cacheDurations: [{ statuses: [202], ms: minutes(5) }] });
    await check(input(p, bearer('mallory-token')));
    assert.equal((await check(input(p, bearer('mallory-token')))).sent, 1);
  });

  test('checks with a method other than GET or HEAD are not cached', async () => {
    const p = cached({ method: 'POST' });
    await check(input(p, bearer('alice-token')));
    assert.equal((await check(input(p, bearer('alice-token')))).sent, 1);
  });

  test('the cache is bounded: the oldest entry goes first', async () => {
    const small = new ExternalAuthClient({ logger: silentLogger(), now: () => clock, maxCacheEntries: 2 });
    try {
      const p = cached({ cacheKey: '$http_x_key', cacheDurations: [{ statuses: [], ms: minutes(5) }] });
      const ask = async (key: string) => {
        const before = server.seen.length;
        await small.check(input(p, [...bearer('alice-token'), 'X-Key', key]));
        return server.seen.length - before;
      };
      assert.deepEqual([await ask('a'), await ask('b'), await ask('c')], [1, 1, 1]);
      assert.equal(small.cacheSize, 2);
      assert.equal(await ask('c'), 0);
      assert.equal(await ask('a'), 1);
    } finally {
      await small.close();
    }
  });
});

/**
 * The request-time halves of response shaping, as pure functions: CORS origin matching and the
 * headers of preflight and actual answers, header precedence (route over `add-headers`),
 * `proxy-set-headers` on the upstream request, and the error backend's request headers.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, test } from 'node:test';
import type { RouteMatch } from '../../../src/compile/types.js';
import type { CorsPolicy, RoutePolicy } from '../../../src/model/types.js';
import { actualHeaders, originAllowed, preflightHeaders } from '../../../src/proxy/cors.js';
import { errorRequestHeaders, interceptedStatus } from '../../../src/proxy/custom-errors.js';
import { responseShaping, withUpstreamHeaders } from '../../../src/proxy/response-shaping.js';

const cors = (allowOrigins: readonly string[], extra: Partial<CorsPolicy> = {}): CorsPolicy => ({
  allowOrigins,
  allowMethods: 'GET, POST',
  allowHeaders: 'Content-Type',
  allowCredentials: true,
  maxAgeSeconds: 60,
  ...extra,
});

const req = (method: string, headers: Record<string, string>, url = '/'): IncomingMessage =>
  ({ method, headers, url }) as unknown as IncomingMessage;

describe('originAllowed', () => {
  const list = cors(['https://app.example.com', 'http://*.origin.com:8080', 'https://*.wild.example']);
  const cases = [
    { origin: 'https://app.example.com', allowed: true, why: 'an exact origin matches' },
    { origin: 'HTTPS://APP.EXAMPLE.COM', allowed: true, why: 'matching ignores case' },
    { origin: 'http://app.example.com', allowed: false, why: 'the scheme is part of the origin' },
    { origin: 'https://app.example.com:443', allowed: false, why: 'an explicit port is part of the origin' },
    { origin: 'https://app.example.com.evil.test', allowed: false, why: 'a longer host does not match' },
    { origin: 'https://x.https://app.example.com', allowed: false, why: 'a suffix match is not a match' },
    { origin: 'http://a-b.origin.com:8080', allowed: true, why: 'a wildcard matches one label' },
    { origin: 'http://a.b.origin.com:8080', allowed: false, why: 'a wildcard does not match two labels' },
    { origin: 'http://.origin.com:8080', allowed: false, why: 'a wildcard needs a label' },
    { origin: 'http://a.origin.com', allowed: false, why: "a wildcard origin's port is required" },
    {
      origin: 'https://deep.wild.example',
      allowed: true,
      why: 'a wildcard without port matches without port',
    },
    {
      origin: 'https://deep.wild.example:8443',
      allowed: false,
      why: 'a wildcard without port refuses a port',
    },
  ] as const;
  for (const c of cases) {
    test(c.why, () => assert.equal(originAllowed(list, c.origin), c.allowed));
  }
  test('* allows any origin', () => assert.equal(originAllowed(cors(['*']), 'null'), true));
});

describe('preflight and actual CORS headers', () => {
  test('a preflight from a listed origin gets the origin back, methods, headers, max-age and Vary', () => {
    const policy = cors(['https://a.example'], { exposeHeaders: 'X-Total' });
    const got = preflightHeaders(
      req('OPTIONS', { origin: 'https://a.example', 'access-control-request-method': 'POST' }),
      policy,
    );
    assert.deepEqual(got, [
      'access-control-allow-origin',
      'https://a.example',
      'access-control-allow-credentials',
      'true',
      'access-control-expose-headers',
      'X-Total',
      'access-control-allow-methods',
      'GET, POST',
      'access-control-allow-headers',
      'Content-Type',
      'access-control-max-age',
      '60',
      'vary',
      'Origin',
      'content-type',
      'text/plain charset=UTF-8',
    ]);
  });

  const notPreflights = [
    {
      why: 'a GET is not a preflight',
      r: req('GET', { origin: 'https://a.example', 'access-control-request-method': 'POST' }),
    },
    {
      why: 'an OPTIONS without Access-Control-Request-Method is not a preflight',
      r: req('OPTIONS', { origin: 'https://a.example' }),
    },
    {
      why: 'an OPTIONS without Origin is not a preflight',
      r: req('OPTIONS', { 'access-control-request-method': 'POST' }),
    },
    {
      why: 'a preflight from an origin not listed is left to the backend',
      r: req('OPTIONS', { origin: 'https://b.example', 'access-control-request-method': 'POST' }),
    },
  ];
  for (const c of notPreflights) {
    test(c.why, () => assert.equal(preflightHeaders(c.r, cors(['https://a.example'])), undefined));
  }

  test('without credentials, Access-Control-Allow-Credentials is not sent', () => {
    const got = actualHeaders(
      req('GET', { origin: 'https://a.example' }),
      cors(['https://a.example'], { allowCredentials: false }),
    );
    assert.deepEqual(got, ['access-control-allow-origin', 'https://a.example', 'vary', 'Origin']);
  });

  test('with *, every answer says * (no Origin needed, no Vary)', () => {
    assert.deepEqual(actualHeaders(req('GET', {}), cors(['*'])), [
      'access-control-allow-origin',
      '*',
      'access-control-allow-credentials',
      'true',
    ]);
  });

  test('an origin not listed gets only Vary: Origin', () => {
    assert.deepEqual(
      actualHeaders(req('GET', { origin: 'https://b.example' }), cors(['https://a.example'])),
      ['vary', 'Origin'],
    );
  });
});

describe('header precedence', () => {
  test("a route's custom-headers win over add-headers of the same name (any case)", () => {
    const policy: RoutePolicy = {
      backendProtocol: 'HTTP',
      responseHeaders: [['x-shared', 'route']],
    };
    const got = responseShaping(req('GET', {}), policy, [
      ['X-Shared', 'global'],
      ['X-Only-Global', 'g'],
    ]);
    assert.deepEqual(got?.headers, ['X-Only-Global', 'g', 'x-shared', 'route']);
    assert.deepEqual([...(got?.replace ?? [])].sort(), ['x-only-global', 'x-shared']);
  });

  test('hide-headers are dropped from the upstream response without a value of their own; custom-headers still set theirs', () => {
    const policy: RoutePolicy = { backendProtocol: 'HTTP', responseHeaders: [['Server', 'shop']] };
    const got = responseShaping(req('GET', {}), policy, undefined, ['x-powered-by', 'server']);
    assert.deepEqual(got?.headers, ['Server', 'shop']);
    assert.deepEqual([...(got?.replace ?? [])].sort(), ['server', 'x-powered-by']);
    const plain = responseShaping(req('GET', {}), { backendProtocol: 'HTTP' }, undefined, ['x-powered-by']);
    assert.deepEqual(plain?.headers, []);
    assert.deepEqual([...(plain?.replace ?? [])], ['x-powered-by']);
  });

  test('a route without shaping and no add-headers has none', () => {
    assert.equal(responseShaping(req('GET', {}), { backendProtocol: 'HTTP' }), undefined);
  });

  test("proxy-set-headers replace the client's headers of the same name", () => {
    assert.deepEqual(
      withUpstreamHeaders(
        ['host', 'a.test', 'User-Agent', 'curl', 'x-keep', '1'],
        [['user-agent', 'portico']],
      ),
      ['host', 'a.test', 'x-keep', '1', 'user-agent', 'portico'],
    );
  });
});

describe('custom error request', () => {
  const match = {
    kind: 'path',
    ingress: 'shop/pages',
    backend: { key: 'shop/web:http', namespace: 'shop', service: 'web', port: 'http' },
    policy: { backendProtocol: 'HTTP', customErrors: { codes: [404, 503] } },
    tlsHost: false,
  } as unknown as RouteMatch;

  test('only the listed statuses are intercepted', () => {
    assert.deepEqual(
      [404, 500, 503].map((s) => interceptedStatus(match, s)),
      [true, false, true],
    );
  });

  test("the error backend gets ingress-nginx's X- headers; body headers are dropped", () => {
    const got = errorRequestHeaders(
      ['host', 'a.test', 'content-length', '5', 'x-request-id', 'old', 'x-forwarded-for', '10.0.0.1'],
      req('POST', { accept: 'text/html' }, '/missing?q=1'),
      match,
      404,
      'req-1',
    );
    assert.deepEqual(got, [
      'host',
      'a.test',
      'x-forwarded-for',
      '10.0.0.1',
      'x-code',
      '404',
      'x-format',
      'text/html',
      'x-original-uri',
      '/missing?q=1',
      'x-namespace',
      'shop',
      'x-ingress-name',
      'pages',
      'x-service-name',
      'web',
      'x-service-port',
      'http',
      'x-request-id',
      'req-1',
    ]);
  });
});

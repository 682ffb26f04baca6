import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, test } from 'node:test';
import type { RouteMatch } from '../../../src/compile/types.js';
import { DEFAULT_HTTPS_OPTIONS, type HttpsOptions } from '../../../src/config/types.js';
import { DEFAULT_ROUTE_POLICY, type RoutePolicy } from '../../../src/model/types.js';
import {
  forwardedHttps,
  hstsHeader,
  httpsLocation,
  isAcmeChallenge,
  originForm,
  rawRedirect,
  redirectBody,
  wantsHttpsRedirect,
} from '../../../src/proxy/redirect.js';

const match = (tlsHost: boolean, policy: Partial<RoutePolicy> = {}): RouteMatch => ({
  kind: 'path',
  policy: { ...DEFAULT_ROUTE_POLICY, ...policy },
  tlsHost,
});
const settings = (o: Partial<HttpsOptions> = {}): HttpsOptions => ({ ...DEFAULT_HTTPS_OPTIONS, ...o });

describe('wantsHttpsRedirect: (force ?? global force) || (tlsHost && (ssl ?? global ssl))', () => {
  const cases: readonly {
    readonly name: string;
    readonly tlsHost: boolean;
    readonly policy?: Partial<RoutePolicy>;
    readonly global?: Partial<HttpsOptions>;
    readonly want: boolean;
  }[] = [
    {
      name: 'TLS host, defaults: redirect (ingress-nginx ssl-redirect default true)',
      tlsHost: true,
      want: true,
    },
    { name: 'host without TLS, defaults: no redirect', tlsHost: false, want: false },
    {
      name: 'TLS host, annotation ssl-redirect false',
      tlsHost: true,
      policy: { sslRedirect: false },
      want: false,
    },
    {
      name: 'TLS host, ConfigMap ssl-redirect false',
      tlsHost: true,
      global: { sslRedirect: false },
      want: false,
    },
    {
      name: 'TLS host, ConfigMap false but annotation true: the annotation wins',
      tlsHost: true,
      policy: { sslRedirect: true },
      global: { sslRedirect: false },
      want: true,
    },
    {
      name: 'host without TLS, annotation ssl-redirect true alone does nothing',
      tlsHost: false,
      policy: { sslRedirect: true },
      want: false,
    },
    {
      name: 'host without TLS, annotation force-ssl-redirect true',
      tlsHost: false,
      policy: { forceSslRedirect: true },
      want: true,
    },
    {
      name: 'host without TLS, ConfigMap force-ssl-redirect true',
      tlsHost: false,
      global: { forceSslRedirect: true },
      want: true,
    },
    {
      name: 'ConfigMap force true, annotation force false, no TLS: the annotation wins',
      tlsHost: false,
      policy: { forceSslRedirect: false },
      global: { forceSslRedirect: true },
      want: false,
    },
    {
      name: 'force wins over ssl-redirect false',
      tlsHost: true,
      policy: { sslRedirect: false, forceSslRedirect: true },
      want: true,
    },
    {
      name: 'annotation force false still leaves ssl-redirect for TLS hosts',
      tlsHost: true,
      policy: { forceSslRedirect: false },
      want: true,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.equal(wantsHttpsRedirect(match(c.tlsHost, c.policy), settings(c.global)), c.want);
    });
  }
});

describe('isAcmeChallenge: nginx `location /.well-known/acme-challenge/` prefix semantics', () => {
  const cases = [
    ['/.well-known/acme-challenge/token123', true],
    ['/.well-known/acme-challenge/', true],
    ['/.well-known/acme-challenge/a/b', true],
    ['/.well-known/acme-challenge', false],
    ['/.well-known/acme-challengeX', false],
    ['/.well-known/', false],
    ['/x/.well-known/acme-challenge/t', false],
    ['/.WELL-KNOWN/acme-challenge/t', false],
  ] as const;
  for (const [path, want] of cases) {
    test(`${path} → ${want ? 'exempt' : 'redirected'}`, () => assert.equal(isAcmeChallenge(path), want));
  }
});

describe('httpsLocation: https://<host>[:port]<original target>', () => {
  const cases: readonly {
    readonly name: string;
    readonly host: string;
    readonly target: string;
    readonly port?: number;
    readonly want: string | undefined;
  }[] = [
    { name: 'path only', host: 'a.test', target: '/p', want: 'https://a.test/p' },
    {
      name: 'query string kept as sent',
      host: 'a.test',
      target: '/p?q=1&r=%20x',
      want: 'https://a.test/p?q=1&r=%20x',
    },
    {
      name: 'path not normalised (the client’s own target)',
      host: 'a.test',
      target: '//a/../b/%7e',
      want: 'https://a.test//a/../b/%7e',
    },
    { name: 'root', host: 'a.test', target: '/', want: 'https://a.test/' },
    {
      name: '--https-redirect-port 8443',
      host: 'a.test',
      target: '/p',
      port: 8443,
      want: 'https://a.test:8443/p',
    },
    {
      name: '--https-redirect-port 443 writes no port',
      host: 'a.test',
      target: '/p',
      port: 443,
      want: 'https://a.test/p',
    },
    { name: 'IPv4 host', host: '127.0.0.1', target: '/', want: 'https://127.0.0.1/' },
    {
      name: 'IPv6 literal (normalised from [::1]:8080)',
      host: '[::1]',
      target: '/x?y',
      want: 'https://[::1]/x?y',
    },
    {
      name: 'IPv6 literal with a port flag',
      host: '[::1]',
      target: '/',
      port: 8443,
      want: 'https://[::1]:8443/',
    },
    {
      name: 'absolute-form target: its path and query',
      host: 'a.test',
      target: 'http://a.test:8080/p?q=1',
      want: 'https://a.test/p?q=1',
    },
    {
      name: 'absolute-form target without path',
      host: 'a.test',
      target: 'http://a.test',
      want: 'https://a.test/',
    },
    {
      name: 'absolute-form target with only a query',
      host: 'a.test',
      target: 'http://a.test?q',
      want: 'https://a.test/?q',
    },
    { name: 'no Host: no redirect', host: '', target: '/', want: undefined },
    {
      name: 'a Host with a userinfo-like @: no redirect',
      host: 'evil.test@a.test',
      target: '/',
      want: undefined,
    },
    { name: 'a Host with a slash: no redirect', host: 'a.test/evil', target: '/', want: undefined },
    { name: 'unbracketed IPv6 (invalid Host): no redirect', host: '::1', target: '/', want: undefined },
    { name: 'empty label: no redirect', host: 'a..test', target: '/', want: undefined },
  ];
  for (const c of cases) {
    test(c.name, () => assert.equal(httpsLocation(c.host, c.target, c.port ?? 443), c.want));
  }
  test('originForm of an origin-form target is the target itself (no allocation)', () => {
    const t = '/a?b';
    assert.equal(originForm(t), t);
  });
});

describe('forwardedHttps: X-Forwarded-Proto from a proxy in front', () => {
  const req = (value?: string | string[]): IncomingMessage =>
    ({ headers: value === undefined ? {} : { 'x-forwarded-proto': value } }) as unknown as IncomingMessage;
  const cases = [
    [undefined, false],
    ['https', true],
    ['HTTPS', true],
    [' https ', true],
    ['https, http', true],
    ['http', false],
    ['http, https', false],
    ['wss', false],
  ] as const;
  for (const [value, want] of cases) {
    test(`${JSON.stringify(value)} → ${want}`, () => assert.equal(forwardedHttps(req(value)), want));
  }
});

describe('hstsHeader: rendered once per settings change', () => {
  const base = DEFAULT_HTTPS_OPTIONS.hsts;
  const cases = [
    { name: 'defaults', hsts: base, want: 'max-age=31536000; includeSubDomains' },
    {
      name: 'preload',
      hsts: { ...base, preload: true },
      want: 'max-age=31536000; includeSubDomains; preload',
    },
    { name: 'no subdomains', hsts: { ...base, includeSubdomains: false }, want: 'max-age=31536000' },
    {
      name: 'max-age 0 (tells browsers to forget)',
      hsts: { ...base, maxAgeSeconds: 0, includeSubdomains: false, preload: true },
      want: 'max-age=0; preload',
    },
    { name: 'off', hsts: { ...base, enabled: false }, want: undefined },
  ] as const;
  for (const c of cases) {
    test(c.name, () => {
      const h = hstsHeader(c.hsts);
      assert.deepEqual(h, c.want === undefined ? undefined : ['strict-transport-security', c.want]);
    });
  }
});

test('redirect bodies are nginx-style HTML naming the status', () => {
  assert.match(redirectBody(308), /<title>308 Permanent Redirect<\/title>/);
  assert.match(redirectBody(301), /<h1>301 Moved Permanently<\/h1>/);
  assert.match(redirectBody(302), /302 Found/);
  assert.match(redirectBody(307), /307 Temporary Redirect/);
});

test('rawRedirect (upgrade path) is a complete response that closes the connection', () => {
  const raw = rawRedirect(308, 'https://a.test/ws', 'rid');
  const [head = '', body] = raw.split('\r\n\r\n');
  assert.equal(body, redirectBody(308));
  assert.deepEqual(head.split('\r\n'), [
    'HTTP/1.1 308 Permanent Redirect',
    'location: https://a.test/ws',
    'content-type: text/html',
    `content-length: ${Buffer.byteLength(redirectBody(308))}`,
    'server: portico',
    'x-request-id: rid',
    'connection: close',
  ]);
});

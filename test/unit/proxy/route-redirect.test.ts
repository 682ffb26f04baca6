/**
 * Configured redirects in the data plane: the Location and status of route redirects and of
 * `from-to-www-redirect` names, and `preserve-trailing-slash` on the HTTPS redirect.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, test } from 'node:test';
import type { RouteMatch } from '../../../src/compile/types.js';
import { DEFAULT_HTTPS_OPTIONS, type HttpsOptions } from '../../../src/config/types.js';
import { DEFAULT_ROUTE_POLICY, type RoutePolicy } from '../../../src/model/types.js';
import type { LiveSettings } from '../../../src/proxy/live-settings.js';
import { httpsLocation, rawRedirect, redirectBody } from '../../../src/proxy/redirect.js';
import { configuredRedirect } from '../../../src/proxy/route-redirect.js';

const settings = (https: Partial<HttpsOptions> = {}, trusted = false): LiveSettings =>
  ({
    https: { ...DEFAULT_HTTPS_OPTIONS, ...https },
    trust: () => trusted,
  }) as unknown as LiveSettings;
const request = (headers: Record<string, string> = {}): IncomingMessage =>
  ({ headers, socket: { remoteAddress: '127.0.0.1' } }) as unknown as IncomingMessage;
const routeMatch = (policy: Partial<RoutePolicy>): RouteMatch => ({
  kind: 'path',
  policy: { ...DEFAULT_ROUTE_POLICY, ...policy },
  tlsHost: false,
});
const wwwMatch = (to: string): RouteMatch => ({
  kind: 'host-redirect',
  policy: DEFAULT_ROUTE_POLICY,
  tlsHost: false,
  hostRedirect: to,
});

describe('configuredRedirect', () => {
  const cases: readonly {
    name: string;
    match: RouteMatch;
    target?: string;
    proto?: 'http' | 'https';
    https?: Partial<HttpsOptions>;
    headers?: Record<string, string>;
    trusted?: boolean;
    want: { status: number; location: string } | undefined;
  }[] = [
    { name: 'a plain route has none', match: routeMatch({}), want: undefined },
    {
      name: 'a route redirect answers its fixed Location, whatever the path',
      match: routeMatch({ redirect: { location: 'https://new.example/x', status: 308 } }),
      target: '/some/path?q=1',
      want: { status: 308, location: 'https://new.example/x' },
    },
    {
      name: 'a www name keeps the scheme, path and query (plain HTTP)',
      match: wwwMatch('shop.test'),
      target: '/a/b/?q=1',
      want: { status: 308, location: 'http://shop.test/a/b/?q=1' },
    },
    {
      name: 'a www name on HTTPS redirects to https',
      match: wwwMatch('shop.test'),
      target: '/',
      proto: 'https',
      want: { status: 308, location: 'https://shop.test/' },
    },
    {
      name: 'the status is the ConfigMap http-redirect-code',
      match: wwwMatch('shop.test'),
      https: { redirectCode: 301 },
      want: { status: 301, location: 'http://shop.test/' },
    },
    {
      name: 'an https Location carries the redirect port when it is not 443',
      match: wwwMatch('shop.test'),
      proto: 'https',
      https: { redirectPort: 8443 },
      want: { status: 308, location: 'https://shop.test:8443/' },
    },
    {
      name: 'a plain-HTTP Location never carries the HTTPS port (ingress-nginx appends it: a trap)',
      match: wwwMatch('shop.test'),
      https: { redirectPort: 8443 },
      want: { status: 308, location: 'http://shop.test/' },
    },
    {
      name: 'a trusted X-Forwarded-Proto https keeps the redirect on https',
      match: wwwMatch('shop.test'),
      headers: { 'x-forwarded-proto': 'https' },
      trusted: true,
      want: { status: 308, location: 'https://shop.test/' },
    },
    {
      name: 'an untrusted X-Forwarded-Proto is ignored',
      match: wwwMatch('shop.test'),
      headers: { 'x-forwarded-proto': 'https' },
      want: { status: 308, location: 'http://shop.test/' },
    },
    {
      name: 'an absolute-form target gives its path and query',
      match: wwwMatch('shop.test'),
      target: 'http://www.shop.test/p?x=1',
      want: { status: 308, location: 'http://shop.test/p?x=1' },
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const got = configuredRedirect(
        request(c.headers),
        c.match,
        c.target ?? '/',
        c.proto ?? 'http',
        settings(c.https, c.trusted),
      );
      assert.deepEqual(got === undefined ? undefined : { ...got }, c.want);
    });
  }
});

describe('preserve-trailing-slash on the HTTPS redirect', () => {
  const cases: readonly { name: string; target: string; drop: boolean; want: string }[] = [
    { name: 'kept by default', target: '/docs/', drop: false, want: 'https://h.test/docs/' },
    { name: '"false" drops one trailing slash', target: '/docs/', drop: true, want: 'https://h.test/docs' },
    {
      name: '"false" turns / into the bare origin, as ingress-nginx',
      target: '/',
      drop: true,
      want: 'https://h.test',
    },
    { name: 'only one slash is dropped', target: '/a//', drop: true, want: 'https://h.test/a/' },
    { name: 'a path without one is unchanged', target: '/docs', drop: true, want: 'https://h.test/docs' },
    {
      name: 'a query ending in a slash loses it, as ingress-nginx (the whole request URI)',
      target: '/p?next=/',
      drop: true,
      want: 'https://h.test/p?next=',
    },
  ];
  for (const c of cases) {
    test(c.name, () => assert.equal(httpsLocation('h.test', c.target, 443, c.drop), c.want));
  }
});

test('303 See Other has its own redirect page', () => {
  assert.match(redirectBody(303), /<title>303 See Other<\/title>/);
  assert.match(rawRedirect(303, 'https://a.example', 'id'), /^HTTP\/1\.1 303 See Other\r\n/);
});

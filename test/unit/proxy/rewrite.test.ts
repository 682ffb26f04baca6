/**
 * The data-plane half of the rewrite family: where `app-root` sends a request for `/`, and the
 * X-Forwarded-Prefix header replacing any client copy.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RouteMatch } from '../../../src/compile/types.js';
import { DEFAULT_ROUTE_POLICY } from '../../../src/model/types.js';
import { appRootLocation, queryOf, setForwardedPrefix } from '../../../src/proxy/rewrite.js';

const withAppRoot: RouteMatch = {
  kind: 'path',
  policy: DEFAULT_ROUTE_POLICY,
  tlsHost: false,
  rewrite: { appRoot: '/app1' },
};
const without: RouteMatch = { kind: 'path', policy: DEFAULT_ROUTE_POLICY, tlsHost: false };

const appRootCases: readonly {
  name: string;
  match: RouteMatch;
  path: string;
  proto: 'http' | 'https';
  rawHost: string | undefined;
  host: string;
  want: string | undefined;
}[] = [
  {
    name: 'a request for / goes to <scheme>://<Host><app-root> (approot.go)',
    match: withAppRoot,
    path: '/',
    proto: 'http',
    rawHost: 'approot.bar.com',
    host: 'approot.bar.com',
    want: 'http://approot.bar.com/app1',
  },
  {
    name: 'the Host header keeps its port, as $http_host does',
    match: withAppRoot,
    path: '/',
    proto: 'https',
    rawHost: 'a.example:8443',
    host: 'a.example',
    want: 'https://a.example:8443/app1',
  },
  {
    name: 'only / is redirected',
    match: withAppRoot,
    path: '/index.html',
    proto: 'http',
    rawHost: 'a.example',
    host: 'a.example',
    want: undefined,
  },
  {
    name: 'a route without app-root never redirects',
    match: without,
    path: '/',
    proto: 'http',
    rawHost: 'a.example',
    host: 'a.example',
    want: undefined,
  },
  {
    name: 'a Host that is not host[:port] is replaced by the normalised host',
    match: withAppRoot,
    path: '/',
    proto: 'http',
    rawHost: 'evil.example/x?',
    host: 'evil.example/x?',
    want: '/app1',
  },
  {
    name: 'no Host at all gives a relative Location',
    match: withAppRoot,
    path: '/',
    proto: 'http',
    rawHost: undefined,
    host: '',
    want: '/app1',
  },
];

describe('app-root', () => {
  for (const c of appRootCases) {
    test(c.name, () => {
      assert.equal(appRootLocation(c.match, c.path, c.proto, c.rawHost, c.host), c.want);
    });
  }
});

describe('X-Forwarded-Prefix and the query string', () => {
  test('the configured prefix replaces every client copy, whatever its case', () => {
    const headers = [
      'host',
      'a',
      'X-Forwarded-Prefix',
      '/evil',
      'x-forwarded-prefix',
      '/evil2',
      'accept',
      '*/*',
    ];
    setForwardedPrefix(headers, '/api');
    assert.deepEqual(headers, ['host', 'a', 'accept', '*/*', 'x-forwarded-prefix', '/api']);
  });

  const queries = [
    { target: '/a', want: undefined },
    { target: '/a?', want: '' },
    { target: '/a?x=1&y', want: 'x=1&y' },
    { target: 'http://h/a?x=1', want: 'x=1' },
  ] as const;
  for (const q of queries) {
    test(`the query of ${q.target} is ${JSON.stringify(q.want)}`, () => {
      assert.equal(queryOf(q.target), q.want);
    });
  }
});

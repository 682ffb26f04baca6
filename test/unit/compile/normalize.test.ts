import assert from 'node:assert/strict';
import { test } from 'node:test';
import { normalizeHost, normalizeRequestPath } from '../../../src/compile/normalize.js';

const hostCases = [
  { name: 'a missing Host is the empty host', raw: undefined, want: '' },
  { name: 'an empty Host is the empty host', raw: '', want: '' },
  { name: 'a plain host is kept', raw: 'example.com', want: 'example.com' },
  { name: 'a host is lowercased', raw: 'WWW.Example.COM', want: 'www.example.com' },
  { name: 'a port is stripped', raw: 'example.com:8080', want: 'example.com' },
  { name: 'a trailing dot is stripped', raw: 'example.com.', want: 'example.com' },
  { name: 'a trailing dot before the port is stripped', raw: 'Example.com.:80', want: 'example.com' },
  { name: 'an IPv4 address loses its port', raw: '127.0.0.1:80', want: '127.0.0.1' },
  { name: 'an IPv6 literal keeps its brackets and loses its port', raw: '[::1]:80', want: '[::1]' },
  { name: 'an IPv6 literal without port is kept', raw: '[FE80::1]', want: '[fe80::1]' },
  { name: 'an unbracketed IPv6 value is left alone (invalid Host)', raw: '::1', want: '::1' },
] as const;

for (const c of hostCases) {
  test(`normalizeHost: ${c.name}`, () => {
    assert.equal(normalizeHost(c.raw), c.want);
  });
}

type PathCase = {
  readonly name: string;
  readonly target: string;
  readonly want: string | { readonly error: RegExp };
};

const pathCases: readonly PathCase[] = [
  { name: 'a plain path is kept', target: '/shop/cart', want: '/shop/cart' },
  { name: 'the root is kept', target: '/', want: '/' },
  { name: 'the query string is dropped', target: '/a/b?x=1&y=/../', want: '/a/b' },
  { name: 'a fragment is dropped', target: '/a#frag', want: '/a' },
  { name: 'a trailing slash is kept', target: '/a/b/', want: '/a/b/' },
  { name: 'an absolute-form target becomes its path', target: 'http://example.com/a/b?q', want: '/a/b' },
  { name: 'an absolute-form target without path is /', target: 'http://example.com', want: '/' },
  { name: 'an absolute-form target with only a query is /', target: 'https://example.com?x=/a', want: '/' },
  { name: '/public/../admin matches /admin', target: '/public/../admin', want: '/admin' },
  { name: '/public/%2e%2e/admin matches /admin', target: '/public/%2e%2e/admin', want: '/admin' },
  { name: '/public/%2E%2E/admin matches /admin', target: '/public/%2E%2E/admin', want: '/admin' },
  { name: '//admin matches /admin', target: '//admin', want: '/admin' },
  { name: 'repeated slashes anywhere are merged', target: '/a///b//c', want: '/a/b/c' },
  { name: 'single dot segments are removed', target: '/a/./b/.', want: '/a/b/' },
  { name: 'a final .. keeps the trailing slash', target: '/a/b/..', want: '/a/' },
  { name: '.. back to the root is the root', target: '/a/..', want: '/' },
  { name: 'unreserved escapes are decoded', target: '/%41%62c%2D%5F%7E%30', want: '/Abc-_~0' },
  { name: 'reserved escapes stay encoded with uppercase hex', target: '/a%2fb%3a', want: '/a%2Fb%3A' },
  {
    name: 'an escaped slash is not a path separator',
    target: '/public%2f..%2fadmin',
    want: '/public%2F..%2Fadmin',
  },
  { name: 'a non-ASCII escape keeps its encoding', target: '/caf%c3%a9', want: '/caf%C3%A9' },
  { name: 'a dot-leading segment is not a dot segment', target: '/.well-known/x', want: '/.well-known/x' },
  { name: '... is a plain segment', target: '/a/.../b', want: '/a/.../b' },
  { name: 'encoded slashes merge with nothing', target: '/a/%2F/b', want: '/a/%2F/b' },
  { name: 'a percent at the end is invalid', target: '/a%', want: { error: /percent-encoding/ } },
  { name: 'a truncated escape is invalid', target: '/a%4', want: { error: /percent-encoding/ } },
  { name: 'a non-hex escape is invalid', target: '/a%zz', want: { error: /percent-encoding/ } },
  { name: 'climbing above the root is refused', target: '/..', want: { error: /above/ } },
  {
    name: 'climbing above the root after a segment is refused',
    target: '/a/../../b',
    want: { error: /above/ },
  },
  {
    name: 'climbing above the root via escapes is refused',
    target: '/%2e%2e/etc/passwd',
    want: { error: /above/ },
  },
  { name: 'an asterisk-form target is refused', target: '*', want: { error: /asterisk/ } },
  { name: 'a relative target is refused', target: 'a/b', want: { error: /start with/ } },
];

for (const c of pathCases) {
  test(`normalizeRequestPath: ${c.name}`, () => {
    const got = normalizeRequestPath(c.target);
    if (typeof c.want === 'string') {
      assert.deepEqual(got, { ok: true, path: c.want });
    } else {
      assert.equal(got.ok, false);
      if (!got.ok) assert.match(got.reason, c.want.error);
    }
  });
}

test('normalizeRequestPath: a normalised path is a fixed point', () => {
  for (const c of pathCases) {
    const got = normalizeRequestPath(c.target);
    if (got.ok) assert.deepEqual(normalizeRequestPath(got.path), got, c.name);
  }
});

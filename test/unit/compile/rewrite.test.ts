/**
 * `rewrite-target` as nginx's `rewrite <regex> <target> break;`: the whole path is replaced, `$n`
 * are the groups of the matched path, and the request's arguments follow. Built through
 * translation and the snapshot, as the data plane gets it.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { PathType } from '../../../src/model/objects.js';
import { queryOf } from '../../../src/proxy/rewrite.js';
import { ingress, ingressClass, routeObjects, service, svc } from '../../support/builders.js';

const N = 'nginx.ingress.kubernetes.io/';

interface Case {
  readonly name: string;
  readonly path: string;
  readonly pathType?: PathType;
  readonly annotations: Record<string, string>;
  /** Request target as the client sent it. */
  readonly request: string;
  /** Upstream target; undefined: the request target goes upstream unchanged. */
  readonly upstream: string | undefined;
  readonly forwardedPrefix?: string;
}

const cases: readonly Case[] = [
  {
    name: 'the ingress-nginx docs example: /something rewrites to /',
    path: '/something(/|$)(.*)',
    annotations: { [`${N}use-regex`]: 'true', [`${N}rewrite-target`]: '/$2' },
    request: '/something',
    upstream: '/',
  },
  {
    name: 'the ingress-nginx docs example: /something/ rewrites to /',
    path: '/something(/|$)(.*)',
    annotations: { [`${N}use-regex`]: 'true', [`${N}rewrite-target`]: '/$2' },
    request: '/something/',
    upstream: '/',
  },
  {
    name: 'the ingress-nginx docs example: /something/new rewrites to /new',
    path: '/something(/|$)(.*)',
    annotations: { [`${N}use-regex`]: 'true', [`${N}rewrite-target`]: '/$2' },
    request: '/something/new',
    upstream: '/new',
  },
  {
    name: "the match is case-insensitive and the groups keep the request's case",
    path: '/something(/|$)(.*)',
    annotations: { [`${N}rewrite-target`]: '/$2' },
    request: '/SomeThing/New',
    upstream: '/New',
  },
  {
    name: "the request's query string is appended (nginx appends $args)",
    path: '/something(/|$)(.*)',
    annotations: { [`${N}rewrite-target`]: '/$2' },
    request: '/something/new?a=1&b=2',
    upstream: '/new?a=1&b=2',
  },
  {
    name: "a target with its own query gets the request's arguments after `&`",
    path: '/search/(.*)',
    annotations: { [`${N}rewrite-target`]: '/find?q=$1' },
    request: '/search/cats?page=2',
    upstream: '/find?q=cats&page=2',
  },
  {
    name: "a target ending with `?` drops the request's arguments (nginx)",
    path: '/old(/.*)',
    annotations: { [`${N}rewrite-target`]: '/new$1?' },
    request: '/old/x?drop=1',
    upstream: '/new/x',
  },
  {
    name: 'without groups the whole path is replaced (rewrite.go: /something → /)',
    path: '/something',
    annotations: { [`${N}rewrite-target`]: '/' },
    request: '/something/deeper',
    upstream: '/',
  },
  {
    name: 'rewrite.go "custom rewrite parameters": /foo/bar/(.+) → /new/backend/$1',
    path: '/foo/bar/(.+)',
    annotations: { [`${N}use-regex`]: 'true', [`${N}rewrite-target`]: '/new/backend/$1' },
    request: '/foo/bar/bar',
    upstream: '/new/backend/bar',
  },
  {
    name: 'a group that did not take part is empty',
    path: '/a(/x)?(/y)?',
    annotations: { [`${N}rewrite-target`]: '/b$1$2$3' },
    request: '/a/y',
    upstream: '/b/y',
  },
  {
    name: 'a target without a leading slash gets one',
    path: '/svc/(.*)',
    annotations: { [`${N}rewrite-target`]: '$1' },
    request: '/svc/users',
    upstream: '/users',
  },
  {
    name: 'escaped characters stay escaped in the groups (the match runs on the normalised path)',
    path: '/files/(.*)',
    annotations: { [`${N}rewrite-target`]: '/$1' },
    request: '/files/a%2Fb%20c',
    upstream: '/a%2Fb%20c',
  },
  {
    name: 'a target equal to the path rewrites nothing (ingress-nginx buildProxyPass)',
    path: '/',
    annotations: { [`${N}rewrite-target`]: '/' },
    request: '/deep/path?x=1',
    upstream: undefined,
  },
  {
    name: 'x-forwarded-prefix is sent with the rewrite and may use groups',
    path: '/(api)/(.*)',
    annotations: { [`${N}rewrite-target`]: '/$2', [`${N}x-forwarded-prefix`]: '/$1' },
    request: '/api/users',
    upstream: '/users',
    forwardedPrefix: '/api',
  },
  {
    name: 'an Exact path is rewritten too, with empty groups',
    path: '/exact',
    pathType: 'Exact',
    annotations: { [`${N}rewrite-target`]: '/other$1' },
    request: '/exact?k=v',
    upstream: '/other?k=v',
  },
  {
    name: 'use-regex without rewrite-target sends the request target unchanged',
    path: '/v[0-9]+/.*',
    annotations: { [`${N}use-regex`]: 'true' },
    request: '/v2/items?x=1',
    upstream: undefined,
  },
];

describe('rewrite-target', () => {
  for (const c of cases) {
    test(c.name, () => {
      let b = ingress('r').cls('portico').host('r.example');
      for (const [k, v] of Object.entries(c.annotations)) b = b.annotate(k, v);
      b = b.path(c.path, c.pathType ?? 'ImplementationSpecific', svc('web', 80));
      const snapshot = routeObjects([
        ingressClass('portico').build(),
        service('web').port(80).build(),
        b.build(),
      ]);
      const q = c.request.indexOf('?');
      const path = q === -1 ? c.request : c.request.slice(0, q);
      const m = snapshot.match('r.example', path);
      assert.equal(m.kind, 'path', 'the route matches');
      const out = m.rewrite?.apply?.(path, queryOf(c.request));
      assert.equal(out?.target, c.upstream);
      assert.equal(out?.forwardedPrefix, c.forwardedPrefix);
    });
  }
});

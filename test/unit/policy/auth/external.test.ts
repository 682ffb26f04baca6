/**
 * The pure parts of the external auth client: the sign-in redirect (ingress-nginx's
 * `buildAuthSignURL`), nginx's `set_escape_uri`, which answers may be cached and for how long,
 * and which backend statuses get the auth cookies.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ExternalAuthPolicy } from '../../../../src/model/types.js';
import {
  type AuthAnswer,
  cacheLifetimeMs,
  escapeUriComponent,
  responseHeadersFor,
  signinLocation,
} from '../../../../src/policy/auth/external.js';

describe('sign-in location', () => {
  const rows = [
    {
      name: 'a URL without a query gets ?rd=<scheme>://<host><escaped URI>',
      signin: 'https://login.example.com/start',
      location: 'https://login.example.com/start?rd=https://app.example.com%2Fa%2Fb%3Fc%3Dd%26e',
    },
    {
      name: 'a URL with a query gets &rd=',
      signin: 'https://login.example.com/start?x=1',
      location: 'https://login.example.com/start?x=1&rd=https://app.example.com%2Fa%2Fb%3Fc%3Dd%26e',
    },
    {
      name: 'a URL whose rd is already set is kept',
      signin: 'https://login.example.com/start?rd=/home',
      location: 'https://login.example.com/start?rd=/home',
    },
    {
      name: 'an empty rd counts as absent (Go url.Values.Get)',
      signin: 'https://login.example.com/start?rd=',
      location: 'https://login.example.com/start?rd=&rd=https://app.example.com%2Fa%2Fb%3Fc%3Dd%26e',
    },
  ] as const;
  for (const r of rows) {
    test(r.name, () => {
      assert.equal(signinLocation(r.signin, 'rd', 'https', 'app.example.com', '/a/b?c=d&e'), r.location);
    });
  }
});

describe('set_escape_uri', () => {
  const rows = [
    { raw: '/a b/c?d=e&f#g', escaped: '%2Fa%20b%2Fc%3Fd%3De%26f%23g' },
    { raw: "keep-_.~ and !'()*", escaped: 'keep-_.~%20and%20%21%27%28%29%2A' },
    { raw: '/é', escaped: '%2F%C3%A9' },
  ];
  for (const r of rows) {
    test(`${JSON.stringify(r.raw)} is escaped except letters, digits and -._~`, () => {
      assert.equal(escapeUriComponent(r.raw), r.escaped);
    });
  }
});

describe('cache lifetime', () => {
  const base: ExternalAuthPolicy = {
    url: 'http://auth/',
    method: 'GET',
    signinRedirectParam: 'rd',
    responseHeaders: [],
    cacheKey: '$http_authorization',
    cacheDurations: [
      { statuses: [200, 202], ms: 600_000 },
      { statuses: [], ms: 1_000 },
    ],
    alwaysSetCookie: false,
    timeoutMs: 5_000,
  };
  const answer = (status: number, headers: Record<string, string[]> = {}): AuthAnswer => ({
    status,
    headers: new Map(Object.entries(headers)),
  });
  const rows: readonly {
    name: string;
    policy?: Partial<ExternalAuthPolicy>;
    /** Replaces the base policy entirely (to drop an optional field). */
    whole?: ExternalAuthPolicy;
    answer: AuthAnswer;
    ms: number;
  }[] = [
    { name: 'the first entry listing the status decides', answer: answer(202), ms: 600_000 },
    { name: '"any" (empty statuses) catches the rest', answer: answer(403), ms: 1_000 },
    {
      name: 'no entry for the status: not cached',
      policy: { cacheDurations: [{ statuses: [200], ms: 5 }] },
      answer: answer(401),
      ms: 0,
    },
    {
      name: 'without a cache key nothing is cached',
      whole: (({ cacheKey: _dropped, ...rest }) => rest)(base),
      answer: answer(200),
      ms: 0,
    },
    { name: 'POST checks are not cached', policy: { method: 'POST' }, answer: answer(200), ms: 0 },
    { name: 'HEAD checks are cached', policy: { method: 'HEAD' }, answer: answer(200), ms: 600_000 },
    {
      name: 'an answer with Set-Cookie is not cached',
      answer: answer(200, { 'set-cookie': ['a=1'] }),
      ms: 0,
    },
    {
      name: 'Cache-Control: private is not cached',
      answer: answer(200, { 'cache-control': ['private, max-age=60'] }),
      ms: 0,
    },
    {
      name: 'Cache-Control: no-cache is not cached',
      answer: answer(200, { 'cache-control': ['no-cache'] }),
      ms: 0,
    },
    {
      name: 'Cache-Control: max-age=60 wins over the duration',
      answer: answer(200, { 'cache-control': ['max-age=60'] }),
      ms: 60_000,
    },
    {
      name: 'Cache-Control: max-age=0 is not cached',
      answer: answer(200, { 'cache-control': ['max-age=0'] }),
      ms: 0,
    },
  ];
  for (const r of rows) {
    test(r.name, () => {
      const policy = r.whole ?? { ...base, ...r.policy };
      assert.equal(cacheLifetimeMs(policy, r.answer), r.ms);
    });
  }
});

describe('cookies on backend responses', () => {
  const allow = (always: boolean) =>
    ({
      kind: 'allow',
      removeUpstream: [],
      upstreamHeaders: [],
      responseHeaders: ['set-cookie', 'a=1'],
      always,
      cached: false,
    }) as const;
  const covered = [200, 201, 204, 206, 301, 302, 303, 304, 307, 308];
  const uncovered = [202, 400, 401, 404, 500, 503];
  for (const status of covered) {
    test(`a ${status} from the backend gets the auth cookies (nginx add_header)`, () => {
      assert.deepEqual(responseHeadersFor(allow(false), status), ['set-cookie', 'a=1']);
    });
  }
  for (const status of uncovered) {
    test(`a ${status} from the backend gets them only with auth-always-set-cookie`, () => {
      assert.deepEqual(responseHeadersFor(allow(false), status), []);
      assert.deepEqual(responseHeadersFor(allow(true), status), ['set-cookie', 'a=1']);
    });
  }
});

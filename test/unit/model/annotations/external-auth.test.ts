/**
 * The external-auth family read through an `AnnotationReader` (values, defaults, prefixes,
 * refusals with their exact messages), the cache-duration parser, and the family's place in
 * `readIngressAnnotations`.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type CacheDuration,
  parseCacheDurations,
  parseExternalAuth,
  parseTemplate,
} from '../../../../src/model/annotations/external-auth.js';
import { readIngressAnnotations } from '../../../../src/model/annotations/registry.js';
import { type AnnotationProblem, AnnotationReader } from '../../../../src/model/annotations/spec.js';
import type { Ingress } from '../../../../src/model/objects.js';
import type { ExternalAuthPolicy } from '../../../../src/model/types.js';

const P = 'portico.dev/';
const N = 'nginx.ingress.kubernetes.io/';
const field = (key: string): string => `metadata.annotations["${key}"]`;
const URL_VARS =
  '$scheme, $pass_access_scheme, $host, $http_host, $best_http_host, $request_uri, $escaped_request_uri';

function read(annotations: Record<string, string>): {
  auth: ExternalAuthPolicy | undefined;
  problems: readonly AnnotationProblem[];
  unconsumed: string[];
} {
  const reader = new AnnotationReader(annotations, 'shop');
  const auth = parseExternalAuth(reader);
  return { auth, problems: reader.problems, unconsumed: reader.ownKeys().filter((k) => !reader.consumed(k)) };
}

const url = { [`${N}auth-url`]: 'http://oauth2-proxy.auth.svc:4180/oauth2/auth' };
const defaults: ExternalAuthPolicy = {
  url: 'http://oauth2-proxy.auth.svc:4180/oauth2/auth',
  method: 'GET',
  signinRedirectParam: 'rd',
  responseHeaders: [],
  cacheDurations: [],
  alwaysSetCookie: false,
  timeoutMs: 5_000,
};

describe('external-auth family', () => {
  const rows: readonly {
    name: string;
    annotations: Record<string, string>;
    auth?: ExternalAuthPolicy;
    problems?: readonly AnnotationProblem[];
    unconsumed?: readonly string[];
  }[] = [
    { name: 'without auth-url there is no external auth', annotations: {} },
    { name: 'auth-url alone: GET, rd, no cache, 5 s timeout', annotations: url, auth: defaults },
    {
      name: 'every setting is read, portico.dev wins over nginx',
      annotations: {
        ...url,
        [`${P}auth-url`]: 'https://auth.example.com/check?x=1',
        [`${N}auth-method`]: 'POST',
        [`${N}auth-signin`]: 'https://$host/oauth2/start?rd=$escaped_request_uri',
        [`${N}auth-signin-redirect-param`]: 'return_to',
        [`${N}auth-response-headers`]: 'X-Auth-Request-User, X-Auth-Request-Email,,x-auth-request-user',
        [`${N}auth-request-redirect`]: '$scheme://$host$request_uri',
        [`${N}auth-cache-key`]: '$remote_user$http_authorization',
        [`${N}auth-cache-duration`]: '200 202 10m, 401 5m',
        [`${N}auth-always-set-cookie`]: 'true',
        [`${P}auth-timeout`]: '750ms',
      },
      auth: {
        url: 'https://auth.example.com/check?x=1',
        method: 'POST',
        signin: 'https://$host/oauth2/start?rd=$escaped_request_uri',
        signinRedirectParam: 'return_to',
        responseHeaders: ['X-Auth-Request-User', 'X-Auth-Request-Email'],
        requestRedirect: '$scheme://$host$request_uri',
        cacheKey: '$remote_user$http_authorization',
        cacheDurations: [
          { statuses: [200, 202], ms: 600_000 },
          { statuses: [401], ms: 300_000 },
        ],
        alwaysSetCookie: true,
        timeoutMs: 750,
      },
    },
    {
      name: "auth-cache-key without a duration uses ingress-nginx's default 200 202 401 5m",
      annotations: { ...url, [`${N}auth-cache-key`]: '$cookie__oauth2_proxy' },
      auth: {
        ...defaults,
        cacheKey: '$cookie__oauth2_proxy',
        cacheDurations: [{ statuses: [200, 202, 401], ms: 300_000 }],
      },
    },
    {
      name: 'the keepalive annotations are known and ignored',
      annotations: {
        ...url,
        [`${N}auth-keepalive`]: '10',
        [`${N}auth-keepalive-requests`]: '-1',
        [`${N}auth-keepalive-timeout`]: 'soon',
        [`${N}auth-keepalive-share-vars`]: 'true',
      },
      auth: defaults,
    },
    {
      name: 'auth-timeout is read under portico.dev only',
      annotations: { ...url, [`${N}auth-timeout`]: '1s' },
      auth: defaults,
      unconsumed: [`${N}auth-timeout`],
    },
    {
      name: 'auth-url with a variable is refused: the request must not choose where Portico connects',
      annotations: {
        [`${N}auth-url`]: 'https://$host/oauth2/auth',
        [`${N}auth-signin`]: 'https://$host/start',
      },
      problems: [
        {
          field: field(`${N}auth-url`),
          message:
            '"https://$host/oauth2/auth": must not contain variables ($host…): Portico connects to this URL and does not let the request choose it; write the auth service\'s address, e.g. "http://oauth2-proxy.auth.svc.cluster.local/oauth2/auth"',
        },
      ],
    },
    {
      name: 'auth-url must be http or https',
      annotations: { [`${N}auth-url`]: 'ftp://auth/' },
      problems: [
        { field: field(`${N}auth-url`), message: '"ftp://auth/": must be an http:// or https:// URL' },
      ],
    },
    {
      name: 'auth-url must be absolute',
      annotations: { [`${N}auth-url`]: '/oauth2/auth' },
      problems: [
        {
          field: field(`${N}auth-url`),
          message: '"/oauth2/auth": must be an absolute http:// or https:// URL',
        },
      ],
    },
    {
      name: 'auth-url must not carry credentials',
      annotations: { [`${N}auth-url`]: 'http://u:p@auth/' },
      problems: [
        {
          field: field(`${N}auth-url`),
          message: '"http://u:p@auth/": must not contain credentials (user:password@)',
        },
      ],
    },
    {
      name: 'auth-url must not contain CR or LF',
      annotations: { [`${N}auth-url`]: 'http://auth/\r\nX-Evil: 1' },
      problems: [
        {
          field: field(`${N}auth-url`),
          message: '"http://auth/\\r\\nX-Evil: 1": must not contain control characters (CR, LF, tab…)',
        },
      ],
    },
    {
      name: 'other settings without auth-url are invalid: the routes would be open',
      annotations: { [`${N}auth-signin`]: 'https://login.example.com/' },
      problems: [
        {
          field: field(`${N}auth-signin`),
          message: 'needs auth-url (without it these routes would be served without authentication)',
        },
      ],
    },
    {
      name: 'auth-method is upper case, from ingress-nginx list',
      annotations: { ...url, [`${N}auth-method`]: 'get' },
      auth: defaults,
      problems: [
        {
          field: field(`${N}auth-method`),
          message:
            '"get": must be one of "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE" (upper case)',
        },
      ],
    },
    {
      name: 'auth-method CONNECT is refused',
      annotations: { ...url, [`${N}auth-method`]: 'CONNECT' },
      auth: defaults,
      problems: [
        {
          field: field(`${N}auth-method`),
          message: '"CONNECT": opens a tunnel and cannot carry an auth check',
        },
      ],
    },
    {
      name: 'auth-signin may only use the URL variables',
      annotations: { ...url, [`${N}auth-signin`]: 'https://login/?id=$request_id' },
      auth: defaults,
      problems: [
        {
          field: field(`${N}auth-signin`),
          message: `"https://login/?id=$request_id": variable $request_id is not supported; use ${URL_VARS}`,
        },
      ],
    },
    {
      name: 'auth-signin must be an absolute URL once its variables are filled in',
      annotations: { ...url, [`${N}auth-signin`]: '$request_uri/login' },
      auth: defaults,
      problems: [
        {
          field: field(`${N}auth-signin`),
          message: '"$request_uri/login": must be an absolute http:// or https:// URL',
        },
      ],
    },
    {
      name: 'auth-signin-redirect-param must be a plain query parameter name',
      annotations: { ...url, [`${N}auth-signin-redirect-param`]: 'r&d' },
      auth: defaults,
      problems: [
        {
          field: field(`${N}auth-signin-redirect-param`),
          message: '"r&d": must be a query parameter name: 1 to 64 letters, digits, ".", "_", "~" or "-"',
        },
      ],
    },
    {
      name: 'auth-response-headers must be header names',
      annotations: { ...url, [`${N}auth-response-headers`]: 'X-User, X User' },
      auth: defaults,
      problems: [
        {
          field: field(`${N}auth-response-headers`),
          message: '"X-User, X User": "X User" is not a header name (letters, digits, "-", "_")',
        },
      ],
    },
    {
      name: 'auth-response-headers refuses headers that frame the message',
      annotations: { ...url, [`${N}auth-response-headers`]: 'X-User, Content-Length, Host' },
      auth: defaults,
      problems: [
        {
          field: field(`${N}auth-response-headers`),
          message:
            '"X-User, Content-Length, Host": "Content-Length", "Host" cannot be copied to the upstream request (they describe the message or the connection, not the user)',
        },
      ],
    },
    {
      name: 'auth-request-redirect with an unclosed ${ is refused',
      annotations: { ...url, [`${N}auth-request-redirect`]: '${scheme://x' },
      auth: defaults,
      problems: [
        { field: field(`${N}auth-request-redirect`), message: `"\${scheme://x": "\${" is not closed by "}"` },
      ],
    },
    {
      name: 'auth-cache-key without a variable is refused',
      annotations: { ...url, [`${N}auth-cache-key`]: 'everyone' },
      auth: defaults,
      problems: [
        {
          field: field(`${N}auth-cache-key`),
          message:
            '"everyone": must use at least one variable (e.g. $http_authorization, $cookie__oauth2_proxy): a constant key would share one verdict between every client',
        },
      ],
    },
    {
      name: 'auth-cache-key with an unknown variable lists the known ones',
      annotations: { ...url, [`${N}auth-cache-key`]: '$args' },
      auth: defaults,
      problems: [
        {
          field: field(`${N}auth-cache-key`),
          message: `"$args": variable $args is not supported; use ${URL_VARS}, $remote_addr, $remote_user, $request_method, $http_<header>, $cookie_<name>`,
        },
      ],
    },
    {
      name: 'auth-cache-duration without auth-cache-key is invalid',
      annotations: { ...url, [`${N}auth-cache-duration`]: '200 5m' },
      auth: defaults,
      problems: [
        {
          field: field(`${N}auth-cache-duration`),
          message: 'needs auth-cache-key: without a key nothing is cached',
        },
      ],
    },
    {
      name: 'auth-timeout is at most 60 s',
      annotations: { ...url, [`${P}auth-timeout`]: '2m' },
      auth: defaults,
      problems: [{ field: field(`${P}auth-timeout`), message: '"2m": must be at most 60s' }],
    },
    {
      name: 'auth-proxy-set-headers is read (the ConfigMap is resolved by translation)',
      annotations: { ...url, [`${N}auth-proxy-set-headers`]: 'shop/auth-headers' },
      auth: defaults,
    },
    {
      name: 'auth-proxy-set-headers must name a ConfigMap',
      annotations: { ...url, [`${N}auth-proxy-set-headers`]: 'a/b/c' },
      auth: defaults,
      problems: [
        {
          field: field(`${N}auth-proxy-set-headers`),
          message: '"a/b/c": must be "name" or "namespace/name"',
        },
      ],
    },
    {
      name: 'auth-proxy-set-headers without auth-url is invalid',
      annotations: { [`${N}auth-proxy-set-headers`]: 'auth-headers' },
      problems: [
        {
          field: field(`${N}auth-proxy-set-headers`),
          message: 'needs auth-url (without it these routes would be served without authentication)',
        },
      ],
    },
  ];
  for (const r of rows) {
    test(r.name, () => {
      const got = read(r.annotations);
      assert.deepEqual(got.auth, r.auth);
      assert.deepEqual(got.problems, r.problems ?? []);
      assert.deepEqual(got.unconsumed, r.unconsumed ?? []);
    });
  }
});

describe('auth-cache-duration parser', () => {
  const rows: readonly { raw: string; value?: readonly CacheDuration[]; reason?: string }[] = [
    {
      raw: '200 202 10m, 401 5m',
      value: [
        { statuses: [200, 202], ms: 600_000 },
        { statuses: [401], ms: 300_000 },
      ],
    },
    { raw: '5m', value: [{ statuses: [200, 301, 302], ms: 300_000 }] },
    { raw: 'any 1h', value: [{ statuses: [], ms: 3_600_000 }] },
    {
      raw: '202 500ms, 401 30s,',
      value: [
        { statuses: [202], ms: 500 },
        { statuses: [401], ms: 30_000 },
      ],
    },
    { raw: '200 2d', value: [{ statuses: [200], ms: 172_800_000 }] },
    { raw: '200 1w', value: [{ statuses: [200], ms: 604_800_000 }] },
    { raw: '200', reason: '"200" must end with a time such as "5m", "30s" or "1h"' },
    { raw: '200 1h30m', reason: '"200 1h30m" must end with a time such as "5m", "30s" or "1h"' },
    { raw: '200 1h 30m', reason: '"200 1h 30m": "1h" is not a status code (100-599) or "any"' },
    { raw: '99 1m', reason: '"99 1m": "99" is not a status code (100-599) or "any"' },
    { raw: '200 any 1m', reason: '"200 any 1m": "any" already covers every status; list codes or "any"' },
    { raw: '200 0s', reason: '"200 0s": the time must be positive' },
    { raw: ' , ', reason: 'must list at least one "[status ...] time" entry, e.g. "200 202 10m"' },
  ];
  for (const r of rows) {
    test(`${JSON.stringify(r.raw)} ${r.value !== undefined ? 'is accepted' : 'is refused'}`, () => {
      const got = parseCacheDurations(r.raw);
      assert.deepEqual(
        got,
        r.value !== undefined ? { ok: true, value: r.value } : { ok: false, reason: r.reason ?? '' },
      );
    });
  }
});

describe('templates', () => {
  const any = (): boolean => true;
  const rows = [
    {
      name: `$name and \${name} both name variables; the rest is text`,
      raw: `a$host\${request_uri}b`,
      parts: [
        { kind: 'text', text: 'a' },
        { kind: 'var', name: 'host' },
        { kind: 'var', name: 'request_uri' },
        { kind: 'text', text: 'b' },
      ],
    },
    { name: 'a lone $ is refused', raw: 'a$', reason: `"$" must start a variable name ($host, \${host})` },
    {
      name: `an empty \${} is refused`,
      raw: `\${}`,
      reason: `"$" must start a variable name ($host, \${host})`,
    },
  ] as const;
  for (const r of rows) {
    test(r.name, () => {
      const got = parseTemplate(r.raw, any, '');
      assert.deepEqual(got, 'parts' in r ? { ok: true, value: r.parts } : { ok: false, reason: r.reason });
    });
  }
});

describe('registry', () => {
  test('readIngressAnnotations puts the external auth on the policy, with no unknown keys', () => {
    const got = readIngressAnnotations({
      kind: 'Ingress',
      metadata: { name: 'i', namespace: 'shop', annotations: { ...url, [`${N}auth-keepalive`]: '4' } },
      spec: {},
    } as unknown as Ingress);
    assert.deepEqual(got.problems, []);
    assert.deepEqual(got.unknown, []);
    assert.deepEqual(got.policy, { backendProtocol: 'HTTP', externalAuth: defaults });
  });
});

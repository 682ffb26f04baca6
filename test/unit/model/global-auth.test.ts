/**
 * The ConfigMap's `global-auth-*` keys: the policy built with the annotations' parser, and where
 * translation applies it (Ingresses without their own `auth-url`, not opted out, outside
 * `no-auth-locations`).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  DEFAULT_CLIENT_OPTIONS,
  DEFAULT_UPSTREAM_OPTIONS,
  type ProxyOptions,
} from '../../../src/config/types.js';
import {
  DEFAULT_NO_AUTH_LOCATIONS,
  globalAuthPolicy,
  noAuthLocations,
} from '../../../src/model/settings/global-auth.js';
import { parseConfigMapSettings } from '../../../src/model/settings/parse.js';
import { baseSettings } from '../../../src/model/settings/types.js';
import { translate } from '../../../src/model/translate/translate.js';
import type { ExternalAuthPolicy } from '../../../src/model/types.js';
import { ingress, ingressClass, inputFrom, service, svc, TEST_OPTIONS } from '../../support/builders.js';

const N = 'nginx.ingress.kubernetes.io/';
const PROXY_OPTIONS: ProxyOptions = {
  bindAddress: '127.0.0.1',
  httpPort: 0,
  httpsPort: 0,
  adminPort: 0,
  trustedProxies: [],
  upstream: DEFAULT_UPSTREAM_OPTIONS,
  client: DEFAULT_CLIENT_OPTIONS,
  shutdownDelayMs: 0,
  drainTimeoutMs: 0,
};
const URL = 'http://oauth2-proxy.auth.svc:4180/oauth2/auth';

describe('globalAuthPolicy', () => {
  test('no global-auth-url: no policy, whatever else is set', () => {
    assert.deepEqual(globalAuthPolicy({ 'global-auth-method': 'POST' }), { problems: [] });
  });

  test('the keys become the policy the matching annotations give', () => {
    const got = globalAuthPolicy({
      'global-auth-url': URL,
      'global-auth-method': 'POST',
      'global-auth-signin': 'https://login.example/start',
      'global-auth-response-headers': 'X-Auth-Request-User',
    });
    assert.deepEqual(got.problems, []);
    assert.deepEqual(got.policy, {
      url: URL,
      method: 'POST',
      signin: 'https://login.example/start',
      signinRedirectParam: 'rd',
      responseHeaders: ['X-Auth-Request-User'],
      cacheDurations: [],
      alwaysSetCookie: false,
      timeoutMs: 5_000,
    });
  });

  test('problems across keys name the global key', () => {
    const got = globalAuthPolicy({ 'global-auth-url': URL, 'global-auth-cache-duration': '200 5m' });
    assert.deepEqual(got.problems, [
      {
        key: 'global-auth-cache-duration',
        message: 'needs global-auth-cache-key: without a key nothing is cached',
      },
    ]);
  });

  test('each key is checked by its annotation validator when the ConfigMap is read', () => {
    const parsed = parseConfigMapSettings(
      { 'global-auth-url': 'ftp://x', 'global-auth-method': 'BREW' },
      baseSettings(PROXY_OPTIONS),
      { configMap: { namespace: 'ingress', name: 'portico' } },
    );
    assert.deepEqual(
      parsed.diagnostics.map((d) => d.field),
      ['data.global-auth-method', 'data.global-auth-url'],
    );
    assert.equal(parsed.settings.globalAuth, undefined);
  });

  test('no-auth-locations: path prefixes, each starting with /', () => {
    assert.deepEqual(noAuthLocations('/.well-known/acme-challenge, /healthz'), {
      ok: true,
      value: ['/.well-known/acme-challenge', '/healthz'],
    });
    assert.deepEqual(noAuthLocations(''), { ok: true, value: [] });
    assert.equal(noAuthLocations('healthz').ok, false);
  });
});

const GLOBAL: ExternalAuthPolicy = {
  url: URL,
  method: 'GET',
  signinRedirectParam: 'rd',
  responseHeaders: [],
  cacheDurations: [],
  alwaysSetCookie: false,
  timeoutMs: 5_000,
};

describe('global auth through translation', () => {
  const cases: readonly {
    name: string;
    annotations: Record<string, string>;
    path?: string;
    want: 'global' | 'own' | 'none';
  }[] = [
    { name: 'an Ingress without auth gets the global auth', annotations: {}, want: 'global' },
    {
      name: 'its own auth-url wins',
      annotations: { [`${N}auth-url`]: 'http://own.auth.svc/check' },
      want: 'own',
    },
    {
      name: 'enable-global-auth: "false" opts out',
      annotations: { [`${N}enable-global-auth`]: 'false' },
      want: 'none',
    },
    {
      name: 'enable-global-auth: "true" changes nothing',
      annotations: { [`${N}enable-global-auth`]: 'true' },
      want: 'global',
    },
    {
      name: 'a path under no-auth-locations is skipped (prefix of the route path)',
      annotations: {},
      path: '/.well-known/acme-challenge/token',
      want: 'none',
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const b = ingress('shop')
        .cls('portico')
        .host('a.test')
        .prefix(c.path ?? '/', svc('web', 80));
      for (const [k, v] of Object.entries(c.annotations)) b.annotate(k, v);
      const m = translate(
        {
          ...inputFrom([ingressClass('portico').build(), service('web').port(80).build(), b.build()]),
          routeDefaults: { globalAuth: GLOBAL, noAuthLocations: DEFAULT_NO_AUTH_LOCATIONS },
        },
        TEST_OPTIONS,
      );
      const auth = m.routes[0]?.policy?.externalAuth;
      const got = auth === undefined ? 'none' : auth === GLOBAL ? 'global' : 'own';
      assert.equal(got, c.want);
    });
  }
});

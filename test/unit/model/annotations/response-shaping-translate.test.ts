/**
 * Response shaping through translation: the `custom-headers` ConfigMap becomes
 * `policy.responseHeaders` (or fails the routes closed), `default-backend` / the flag become
 * `policy.customErrors.backend`, and error backends are tracked for endpoints.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { collectBackends } from '../../../../src/endpoints/slices.js';
import type { ConfigMap, KubeObject } from '../../../../src/model/objects.js';
import { headerList } from '../../../../src/model/translate/response-shaping.js';
import { translate } from '../../../../src/model/translate/translate.js';
import type { RoutingModel } from '../../../../src/model/types.js';
import { ingress, ingressClass, inputFrom, service, svc, TEST_OPTIONS } from '../../../support/builders.js';

const N = 'nginx.ingress.kubernetes.io/';
const cls = ingressClass('portico').build();
const web = service('web').port(80).build();
const pages = service('error-pages').port(8080).port(9090).build();

const configMap = (namespace: string, name: string, data: Record<string, string>): ConfigMap => ({
  kind: 'ConfigMap',
  metadata: { namespace, name },
  data,
});

const shop = (annotations: Record<string, string>) => {
  const b = ingress('shop').cls('portico').host('a.test').prefix('/', svc('web', 80));
  for (const [k, v] of Object.entries(annotations)) b.annotate(k, v);
  return b.build();
};

const model = (objects: readonly KubeObject[], flag = false, allowed?: readonly string[]): RoutingModel =>
  translate(
    {
      ...inputFrom([cls, web, pages, ...objects]),
      ...(allowed !== undefined ? { allowedResponseHeaders: allowed } : {}),
    },
    {
      ...TEST_OPTIONS,
      ...(flag ? { defaultBackendService: { namespace: 'default', name: 'web', port: 80 } } : {}),
    },
  );

describe('custom-headers through translation', () => {
  const cases: readonly {
    name: string;
    value: string;
    objects: readonly KubeObject[];
    allowed?: readonly string[];
    headers?: readonly (readonly [string, string])[];
    deny?: string;
  }[] = [
    {
      name: 'names listed in global-allowed-response-headers pass (any case)',
      value: 'shop-headers',
      objects: [configMap('default', 'shop-headers', { 'X-Frame-Options': 'DENY' })],
      allowed: ['x-frame-options'],
      headers: [['X-Frame-Options', 'DENY']],
    },
    {
      name: 'a name not in global-allowed-response-headers fails the routes closed, naming it',
      value: 'shop-headers',
      objects: [configMap('default', 'shop-headers', { 'X-Frame-Options': 'DENY', 'Set-Cookie': 'a=b' })],
      allowed: ['X-Frame-Options'],
      deny: `${N}custom-headers: ConfigMap default/shop-headers: header Set-Cookie is not allowed; an administrator lists the names custom-headers may set in the ConfigMap key global-allowed-response-headers`,
    },
    {
      name: 'an empty allow-list (the default) allows nothing',
      value: 'shop-headers',
      objects: [configMap('default', 'shop-headers', { 'X-A': 'b' })],
      allowed: [],
      deny: `${N}custom-headers: ConfigMap default/shop-headers: header X-A is not allowed; an administrator lists the names custom-headers may set in the ConfigMap key global-allowed-response-headers`,
    },
    {
      name: "the ConfigMap's data become response headers, sorted by name",
      value: 'shop-headers',
      objects: [configMap('default', 'shop-headers', { 'X-Frame-Options': 'DENY', 'X-A': 'one; two' })],
      headers: [
        ['X-A', 'one; two'],
        ['X-Frame-Options', 'DENY'],
      ],
    },
    {
      name: 'namespace/name of the own namespace is read',
      value: 'default/shop-headers',
      objects: [configMap('default', 'shop-headers', { 'X-A': 'b' })],
      headers: [['X-A', 'b']],
    },
    {
      name: 'a missing ConfigMap fails the routes closed',
      value: 'nope',
      objects: [],
      deny: `${N}custom-headers: ConfigMap default/nope not found`,
    },
    {
      name: 'a ConfigMap in another namespace fails the routes closed',
      value: 'kube-system/headers',
      objects: [configMap('kube-system', 'headers', { 'X-A': 'b' })],
      deny: `${N}custom-headers: ConfigMap kube-system/headers is in another namespace; only ConfigMaps in default may be used`,
    },
    {
      name: 'a value with an nginx variable fails the routes closed',
      value: 'h',
      objects: [configMap('default', 'h', { 'X-Host': '$host' })],
      deny: `${N}custom-headers: ConfigMap default/h: the value of X-Host contains "$"; Portico does not expand nginx variables (values are data)`,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const m = model([shop({ [`${N}custom-headers`]: c.value }), ...c.objects], false, c.allowed);
      const policy = m.routes[0]?.policy;
      assert.deepEqual(policy?.responseHeaders, c.headers);
      assert.equal(policy?.deny, c.deny);
      assert.equal(m.ingresses[0]?.state, 'served');
      const denied = m.diagnostics.filter((d) => d.code === 'PORTICO_WARN_ANNOTATION_DENIED');
      assert.deepEqual(
        denied.map((d) => d.message),
        c.deny === undefined ? [] : [`${c.deny}; the routes it covers answer 503`],
      );
    });
  }
});

describe('headerList', () => {
  const cases: readonly { name: string; data: Record<string, string>; reason?: string }[] = [
    { name: 'token names and printable values pass', data: { 'X-Ok_1': 'a b;c=d' } },
    {
      name: 'a name with a space is refused',
      data: { 'X A': 'b' },
      reason: 'cm: "X A" is not a valid header name',
    },
    {
      name: 'a value with CR/LF is refused',
      data: { 'X-A': 'a\r\nSet-Cookie: x' },
      reason: 'cm: the value of X-A must be printable ASCII without CR or LF, and not empty',
    },
    {
      name: 'an empty value is refused',
      data: { 'X-A': '' },
      reason: 'cm: the value of X-A must be printable ASCII without CR or LF, and not empty',
    },
    {
      name: 'connection-level headers cannot be set',
      data: { 'Content-Length': '5' },
      reason: 'cm: header Content-Length cannot be set (it belongs to the connection)',
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const got = headerList(c.data, 'cm');
      assert.deepEqual(got.ok ? undefined : got.reason, c.reason);
    });
  }
});

describe('custom-http-errors through translation', () => {
  test("default-backend resolves to the Service's first port and is tracked for endpoints", () => {
    const m = model([
      shop({ [`${N}custom-http-errors`]: '404,503', [`${N}default-backend`]: 'error-pages' }),
    ]);
    const errors = m.routes[0]?.policy?.customErrors;
    assert.deepEqual(errors?.codes, [404, 503]);
    assert.equal(errors?.backend?.key, 'default/error-pages:8080');
    assert.equal(errors?.backend?.target?.kind, 'endpoints');
    assert.deepEqual(
      collectBackends(m).map((b) => b.key),
      ['default/web:80', 'default/error-pages:8080'],
    );
  });

  test('without default-backend the --default-backend-service answers', () => {
    const m = model([shop({ [`${N}custom-http-errors`]: '404' })], true);
    assert.equal(m.routes[0]?.policy?.customErrors?.backend?.key, 'default/web:80');
  });

  test("without any default backend there is none (Portico's built-in page)", () => {
    const m = model([shop({ [`${N}custom-http-errors`]: '404' })]);
    assert.deepEqual(m.routes[0]?.policy?.customErrors, { codes: [404] });
  });

  test('a missing default-backend Service is a warning naming the annotation; the backend answers 503s', () => {
    const m = model([shop({ [`${N}custom-http-errors`]: '404', [`${N}default-backend`]: 'gone' })]);
    const backend = m.routes[0]?.policy?.customErrors?.backend;
    assert.equal(backend?.problem, 'service "default/gone" not found');
    const missing = m.diagnostics.filter((d) => d.code === 'PORTICO_WARN_SERVICE_MISSING');
    assert.deepEqual(
      missing.map((d) => [d.field, d.message]),
      [
        [
          `metadata.annotations["${N}default-backend"]`,
          `${N}default-backend: service "default/gone" not found`,
        ],
      ],
    );
  });
});

describe('ConfigMap defaults of custom-http-errors and load-balance (routeDefaults)', () => {
  const withDefaults = (
    objects: readonly KubeObject[],
    routeDefaults: { loadBalance?: 'round_robin' | 'ewma'; customHttpErrors?: readonly number[] },
    flag = false,
  ): RoutingModel =>
    translate(
      { ...inputFrom([cls, web, pages, ...objects]), routeDefaults },
      {
        ...TEST_OPTIONS,
        ...(flag ? { defaultBackendService: { namespace: 'default', name: 'web', port: 80 } } : {}),
      },
    );
  const cases: readonly {
    name: string;
    annotations: Record<string, string>;
    defaults: { loadBalance?: 'round_robin' | 'ewma'; customHttpErrors?: readonly number[] };
    flag?: boolean;
    customErrors?: { codes: readonly number[]; backend?: string; fallback?: true };
    loadBalance?: string;
  }[] = [
    { name: 'nothing set: no policy at all', annotations: {}, defaults: {} },
    {
      name: "the ConfigMap's codes apply, answered by Portico without a default backend",
      annotations: {},
      defaults: { customHttpErrors: [410, 503] },
      customErrors: { codes: [410, 503] },
    },
    {
      name: "the ConfigMap's codes go to --default-backend-service",
      annotations: {},
      defaults: { customHttpErrors: [503] },
      flag: true,
      customErrors: { codes: [503], backend: 'default/web:80' },
    },
    {
      name: "a default-backend alone serves the ConfigMap's codes",
      annotations: { [`${N}default-backend`]: 'error-pages' },
      defaults: { customHttpErrors: [410] },
      customErrors: { codes: [410], backend: 'default/error-pages:8080', fallback: true },
    },
    {
      name: "the annotation's list replaces the ConfigMap's",
      annotations: { [`${N}custom-http-errors`]: '404' },
      defaults: { customHttpErrors: [410] },
      customErrors: { codes: [404] },
    },
    {
      name: 'load-balance ewma for a route without one',
      annotations: {},
      defaults: { loadBalance: 'ewma' },
      loadBalance: 'ewma',
    },
    { name: 'round_robin is no policy', annotations: {}, defaults: { loadBalance: 'round_robin' } },
    {
      name: 'the load-balance annotation wins',
      annotations: { [`${N}load-balance`]: 'round_robin' },
      defaults: { loadBalance: 'ewma' },
      loadBalance: 'round_robin',
    },
    {
      name: 'upstream-hash-by wins',
      annotations: { [`${N}upstream-hash-by`]: '$request_uri' },
      defaults: { loadBalance: 'ewma' },
      loadBalance: 'hash',
    },
    {
      name: 'cookie affinity wins (no load-balance policy)',
      annotations: { [`${N}affinity`]: 'cookie' },
      defaults: { loadBalance: 'ewma' },
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const policy = withDefaults([shop(c.annotations)], c.defaults, c.flag).routes[0]?.policy;
      const errors = policy?.customErrors;
      assert.deepEqual(
        errors === undefined
          ? undefined
          : {
              codes: errors.codes,
              ...(errors.backend !== undefined ? { backend: errors.backend.key } : {}),
              ...(errors.fallback === true ? { fallback: true } : {}),
            },
        c.customErrors,
      );
      assert.equal(policy?.loadBalance?.kind, c.loadBalance);
    });
  }
});

/**
 * `service-upstream` in translation (ClusterIP targets under their own backend key, headless
 * Services keeping their endpoints) and the `proxy-body-size` ConfigMap key.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_UPSTREAM_OPTIONS } from '../../../../src/config/types.js';
import { buildEndpointTable, collectBackends } from '../../../../src/endpoints/slices.js';
import type { KubeObject, Service } from '../../../../src/model/objects.js';
import { parseConfigMapSettings } from '../../../../src/model/settings/parse.js';
import { baseSettings } from '../../../../src/model/settings/types.js';
import { CLUSTER_IP_SUFFIX } from '../../../../src/model/translate/backends.js';
import { translate } from '../../../../src/model/translate/translate.js';
import { longestRouteConnectTimeout } from '../../../../src/proxy/upstreams.js';
import {
  endpointSlice,
  ingress,
  ingressClass,
  inputFrom,
  service,
  slicesOf,
  svc,
  TEST_OPTIONS,
} from '../../../support/builders.js';

const N = 'nginx.ingress.kubernetes.io/';

function web(clusterIP: string | undefined): KubeObject[] {
  const built = service('web').port(80, 'http', 8080).build();
  const svcObject: Service =
    clusterIP === undefined ? built : { ...built, spec: { ...built.spec, clusterIP } };
  return [
    svcObject,
    endpointSlice('web-1').forService('web').port('http', 8080).ready('10.0.0.1', '10.0.0.2').build(),
  ];
}

function objects(clusterIP: string | undefined): KubeObject[] {
  return [
    ingressClass('portico').build(),
    ...web(clusterIP),
    ingress('via-ip')
      .cls('portico')
      .annotate(`${N}service-upstream`, 'true')
      .host('a.test')
      .prefix('/', svc('web', 80))
      .build(),
    ingress('via-pods').cls('portico').host('b.test').prefix('/', svc('web', 80)).build(),
  ];
}

describe('service-upstream', () => {
  test('the ClusterIP backend has its own key, so it coexists with the endpoints backend of the same Service port', () => {
    const input = objects('10.96.0.10');
    const model = translate(inputFrom(input), TEST_OPTIONS);
    const byHost = new Map(model.routes.map((r) => [r.host, r.backend]));
    assert.deepEqual(byHost.get('a.test')?.target, { kind: 'cluster-ip', address: '10.96.0.10', port: 80 });
    assert.equal(byHost.get('a.test')?.key, `default/web:80${CLUSTER_IP_SUFFIX}`);
    assert.deepEqual(byHost.get('b.test')?.target, {
      kind: 'endpoints',
      servicePortName: 'http',
      servicePort: 80,
    });
    assert.equal(byHost.get('b.test')?.key, 'default/web:80');
    const table = buildEndpointTable(slicesOf(input), collectBackends(model));
    assert.deepEqual(table.get(`default/web:80${CLUSTER_IP_SUFFIX}`), [
      { address: '10.96.0.10', port: 80, kind: 'ip' },
    ]);
    assert.equal(table.get('default/web:80')?.length, 2);
    assert.deepEqual(model.diagnostics, []);
  });

  const headless: readonly { name: string; clusterIP: string | undefined; why: string }[] = [
    { name: 'a headless Service keeps its endpoints, with a warning', clusterIP: 'None', why: 'headless' },
    {
      name: 'a Service without an allocated ClusterIP keeps its endpoints, with a warning',
      clusterIP: undefined,
      why: 'not allocated',
    },
  ];
  for (const c of headless) {
    test(c.name, () => {
      const model = translate(inputFrom(objects(c.clusterIP)), TEST_OPTIONS);
      const route = model.routes.find((r) => r.host === 'a.test');
      assert.equal(route?.backend.target?.kind, 'endpoints');
      assert.equal(route?.backend.key, 'default/web:80');
      const warnings = model.diagnostics.map((d) => [d.code, d.field, d.message]);
      assert.deepEqual(warnings, [
        [
          'PORTICO_WARN_ANNOTATION_IGNORED',
          'spec.rules[0].http.paths[0].backend.service',
          `service-upstream: service "default/web" has no ClusterIP (${c.why}); its endpoints are used`,
        ],
      ]);
    });
  }

  test('an ExternalName Service is reached by its name whatever service-upstream says', () => {
    const input: KubeObject[] = [
      ingressClass('portico').build(),
      service('ext').externalName('api.example.com').port(443).build(),
      ingress('x')
        .cls('portico')
        .annotate(`${N}service-upstream`, 'true')
        .host('x.test')
        .prefix('/', svc('ext', 443))
        .build(),
    ];
    const model = translate(inputFrom(input), TEST_OPTIONS);
    assert.deepEqual(model.routes[0]?.backend.target, {
      kind: 'external-name',
      hostname: 'api.example.com',
      port: 443,
    });
  });
});

describe('proxy-connect-timeout: the pools follow the longest route timeout', () => {
  test('longestRouteConnectTimeout is the largest proxy-connect-timeout of the routes, 0 without any', () => {
    const base = [ingressClass('portico').build(), ...web('10.96.0.10')];
    const none = translate(
      inputFrom([...base, ingress('a').cls('portico').host('a.test').prefix('/', svc('web', 80)).build()]),
      TEST_OPTIONS,
    );
    assert.equal(longestRouteConnectTimeout(none), 0);
    const some = translate(
      inputFrom([
        ...base,
        ingress('a')
          .cls('portico')
          .annotate(`${N}proxy-connect-timeout`, '12')
          .host('a.test')
          .prefix('/', svc('web', 80))
          .build(),
        ingress('b')
          .cls('portico')
          .annotate(`${N}proxy-connect-timeout`, '3')
          .host('b.test')
          .prefix('/', svc('web', 80))
          .build(),
      ]),
      TEST_OPTIONS,
    );
    assert.equal(longestRouteConnectTimeout(some), 12_000);
  });
});

describe('proxy-next-upstream ConfigMap keys', () => {
  const configMap = { namespace: 'portico', name: 'portico' };
  const base = baseSettings({
    bindAddress: '127.0.0.1',
    httpPort: 0,
    httpsPort: 0,
    adminPort: 0,
    trustedProxies: [],
    upstream: DEFAULT_UPSTREAM_OPTIONS,
    client: { headerTimeoutMs: 1, bodyIdleTimeoutMs: 1, keepAliveTimeoutMs: 1, maxHeaderBytes: 1024 },
    shutdownDelayMs: 0,
    drainTimeoutMs: 0,
  });

  test('ingress-nginx e2e values (settings/proxy_next_upstream.go) are taken', () => {
    const got = parseConfigMapSettings(
      {
        'proxy-next-upstream': 'timeout http_502',
        'proxy-next-upstream-timeout': '999999',
        'proxy-next-upstream-tries': '44',
      },
      base,
      { configMap },
    );
    assert.deepEqual(got.diagnostics, []);
    assert.deepEqual(got.settings.upstream.nextUpstream, ['timeout', 'http_502']);
    assert.equal(got.settings.upstream.nextUpstreamTimeoutMs, 999_999_000);
    assert.equal(got.settings.upstream.maxTries, 44);
  });

  test('an unknown word is an error naming it, and the previous value stays', () => {
    const got = parseConfigMapSettings({ 'proxy-next-upstream': 'error http_501' }, base, { configMap });
    assert.equal(got.settings.upstream.nextUpstream, undefined);
    assert.ok(
      got.diagnostics.some(
        (d) => d.severity === 'error' && d.message.includes('unknown condition "http_501"'),
      ),
    );
  });
});

describe('proxy-body-size ConfigMap key', () => {
  const configMap = { namespace: 'portico', name: 'portico' };
  const base = baseSettings({
    bindAddress: '127.0.0.1',
    httpPort: 0,
    httpsPort: 0,
    adminPort: 0,
    trustedProxies: [],
    upstream: { ...DEFAULT_UPSTREAM_OPTIONS, maxBodyBytes: 1024 * 1024 },
    client: { headerTimeoutMs: 1, bodyIdleTimeoutMs: 1, keepAliveTimeoutMs: 1, maxHeaderBytes: 1024 },
    shutdownDelayMs: 0,
    drainTimeoutMs: 0,
  });
  const cases: readonly { name: string; value: string; bytes?: number; error?: string }[] = [
    { name: '"8m" is 8 MiB', value: '8m', bytes: 8 * 1024 * 1024 },
    { name: '"0" lifts the limit', value: '0', bytes: 0 },
    {
      name: '"15r" is refused and the flag default stays',
      value: '15r',
      bytes: 1024 * 1024,
      error: '"15r": must be a size such as "8m", "512k", "1g" or bytes; "0" means no limit',
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const got = parseConfigMapSettings({ 'proxy-body-size': c.value }, base, { configMap });
      assert.equal(got.settings.upstream.maxBodyBytes, c.bytes);
      const messages = got.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message);
      if (c.error === undefined) assert.deepEqual(messages, []);
      else
        assert.ok(
          messages.some((m) => m.includes(c.error as string)),
          messages.join('\n'),
        );
    });
  }
});

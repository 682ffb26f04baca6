/**
 * `auth-proxy-set-headers` through translation: the ConfigMap's data become
 * `policy.externalAuth.proxySetHeaders`, and a reference that cannot be honoured fails the routes
 * closed (`externalAuth.deny`) with a diagnostic naming the annotation.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ConfigMap, KubeObject } from '../../../../src/model/objects.js';
import { translate } from '../../../../src/model/translate/translate.js';
import { ingress, ingressClass, inputFrom, service, svc, TEST_OPTIONS } from '../../../support/builders.js';

const N = 'nginx.ingress.kubernetes.io/';
const KEY = `${N}auth-proxy-set-headers`;
const FIELD = `metadata.annotations["${KEY}"]`;

const configMap = (namespace: string, name: string, data: Record<string, string>): ConfigMap => ({
  kind: 'ConfigMap',
  metadata: { namespace, name },
  data,
});

const shop = (value: string) =>
  ingress('shop')
    .cls('portico')
    .annotate(`${N}auth-url`, 'http://auth.test/check')
    .annotate(KEY, value)
    .host('a.test')
    .prefix('/', svc('web', 80))
    .build();

describe('auth-proxy-set-headers through translation', () => {
  const cases: readonly {
    name: string;
    value: string;
    objects: readonly KubeObject[];
    headers?: readonly (readonly [string, string])[];
    deny?: string;
  }[] = [
    {
      name: 'the data become the headers of the auth request, sorted by name',
      value: 'auth-headers',
      objects: [configMap('default', 'auth-headers', { 'X-Tenant': 'acme', 'X-Auth-Scope': 'shop' })],
      headers: [
        ['X-Auth-Scope', 'shop'],
        ['X-Tenant', 'acme'],
      ],
    },
    {
      name: 'namespace/name of the Ingress namespace',
      value: 'default/auth-headers',
      objects: [configMap('default', 'auth-headers', { 'X-Tenant': 'acme' })],
      headers: [['X-Tenant', 'acme']],
    },
    {
      name: 'a missing ConfigMap fails closed',
      value: 'nope',
      objects: [],
      deny: `${KEY}: ConfigMap default/nope not found`,
    },
    {
      name: 'a ConfigMap of another namespace fails closed',
      value: 'auth/auth-headers',
      objects: [configMap('auth', 'auth-headers', { 'X-Tenant': 'acme' })],
      deny: `${KEY}: ConfigMap auth/auth-headers is in another namespace; only ConfigMaps in default may be used`,
    },
    {
      name: 'a header Portico sets itself fails closed',
      value: 'auth-headers',
      objects: [configMap('default', 'auth-headers', { 'X-Original-URL': 'http://forged/' })],
      deny: `${KEY}: ConfigMap default/auth-headers: header X-Original-URL cannot be set (Portico sets it on every auth request)`,
    },
    {
      name: 'a value with $ fails closed (values are data)',
      value: 'auth-headers',
      objects: [configMap('default', 'auth-headers', { 'X-Host': '$host' })],
      deny: `${KEY}: ConfigMap default/auth-headers: the value of X-Host contains "$"; Portico does not expand nginx variables (values are data)`,
    },
    {
      name: 'Host cannot be set',
      value: 'auth-headers',
      objects: [configMap('default', 'auth-headers', { Host: 'other' })],
      deny: `${KEY}: ConfigMap default/auth-headers: header Host cannot be set (it belongs to the connection)`,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const m = translate(
        inputFrom([
          ingressClass('portico').build(),
          service('web').port(80).build(),
          shop(c.value),
          ...c.objects,
        ]),
        TEST_OPTIONS,
      );
      const auth = m.routes[0]?.policy?.externalAuth;
      assert.deepEqual(auth?.proxySetHeaders, c.headers);
      assert.equal(auth?.deny, c.deny);
      const denied = m.diagnostics.filter((d) => d.code === 'PORTICO_WARN_ANNOTATION_DENIED');
      assert.deepEqual(
        denied.map((d) => [d.field, d.message]),
        c.deny === undefined ? [] : [[FIELD, `${c.deny}; the routes it covers answer 503`]],
      );
    });
  }
});

/**
 * `add-headers` / `proxy-set-headers`: the ConfigMap keys parse `namespace/name`, and the
 * controller's resolution turns the named ConfigMaps into header lists or warnings.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseFlags } from '../../../../src/cli/flags.js';
import type { ConfigMap } from '../../../../src/model/objects.js';
import { configMapRef, resolveGlobalHeaders } from '../../../../src/model/settings/global-headers.js';
import { parseConfigMapSettings } from '../../../../src/model/settings/parse.js';
import { baseSettings, type GlobalSettings } from '../../../../src/model/settings/types.js';

const flags = parseFlags(['--manifests', 'x']);
if (flags.kind !== 'run') throw new Error('expected a run command');
const base: GlobalSettings = baseSettings(flags.config.proxy);
const SETTINGS = { namespace: 'ingress', name: 'portico' };

describe('configMapRef', () => {
  const cases: readonly { name: string; raw: string; value?: string; reason?: string }[] = [
    { name: 'namespace/name is read', raw: 'ingress/custom-headers', value: 'ingress/custom-headers' },
    { name: 'an empty value means none (the ingress-nginx default)', raw: '', value: '' },
    {
      name: 'a bare name is refused: the ConfigMap may be in any namespace',
      raw: 'custom-headers',
      reason: 'must be namespace/name of a ConfigMap, e.g. ingress/custom-headers',
    },
    {
      name: 'an invalid name is refused',
      raw: 'ingress/Custom_Headers',
      reason: 'must be namespace/name of a ConfigMap, e.g. ingress/custom-headers',
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const got = configMapRef(c.raw);
      assert.deepEqual(
        got,
        c.reason === undefined ? { ok: true, value: c.value } : { ok: false, reason: c.reason },
      );
    });
  }
});

const cm = (name: string, data: Record<string, string>): ConfigMap => ({
  kind: 'ConfigMap',
  metadata: { namespace: 'ingress', name },
  data,
});

describe('resolveGlobalHeaders', () => {
  const cases: readonly {
    name: string;
    data: Record<string, string>;
    configMaps: readonly ConfigMap[];
    response?: readonly (readonly [string, string])[];
    request?: readonly (readonly [string, string])[];
    warnings?: readonly string[];
  }[] = [
    { name: 'no keys: nothing to resolve', data: {}, configMaps: [] },
    {
      name: 'both ConfigMaps become sorted header lists',
      data: { 'add-headers': 'ingress/resp', 'proxy-set-headers': 'ingress/req' },
      configMaps: [cm('resp', { 'X-B': '2', 'X-A': '1' }), cm('req', { 'X-Tenant': 'acme' })],
      response: [
        ['X-A', '1'],
        ['X-B', '2'],
      ],
      request: [['X-Tenant', 'acme']],
    },
    {
      name: 'a missing ConfigMap is a warning on the key and sets nothing',
      data: { 'add-headers': 'ingress/nope' },
      configMaps: [],
      warnings: ['data.add-headers: ConfigMap ingress/nope not found; no headers are set until it exists'],
    },
    {
      name: 'a $variable value is refused with the reason',
      data: { 'proxy-set-headers': 'ingress/req' },
      configMaps: [cm('req', { 'X-Real': '$remote_addr' })],
      warnings: [
        'data.proxy-set-headers: proxy-set-headers: ConfigMap ingress/req: the value of X-Real contains "$"; Portico does not expand nginx variables (values are data); no headers from it are set',
      ],
    },
    {
      name: 'Host cannot be set upstream',
      data: { 'proxy-set-headers': 'ingress/req' },
      configMaps: [cm('req', { Host: 'other' })],
      warnings: [
        'data.proxy-set-headers: proxy-set-headers: ConfigMap ingress/req: header Host cannot be set (it belongs to the connection); no headers from it are set',
      ],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const parsed = parseConfigMapSettings(c.data, base, { configMap: SETTINGS });
      assert.deepEqual(parsed.diagnostics, []);
      const maps = new Map(c.configMaps.map((m) => [`${m.metadata.namespace}/${m.metadata.name}`, m]));
      const got = resolveGlobalHeaders(
        parsed.settings,
        (ns, name) => maps.get(`${ns}/${name}`),
        'ConfigMap ingress/portico',
      );
      assert.deepEqual(got.settings.globalHeaders?.response, c.response);
      assert.deepEqual(got.settings.globalHeaders?.request, c.request);
      assert.deepEqual(
        got.diagnostics.map((d) => `${d.field}: ${d.message}`),
        c.warnings ?? [],
      );
    });
  }

  test('clearing the key drops the reference and its headers', () => {
    const set = parseConfigMapSettings({ 'add-headers': 'ingress/resp' }, base, { configMap: SETTINGS });
    const cleared = parseConfigMapSettings({ 'add-headers': '' }, set.settings, { configMap: SETTINGS });
    assert.deepEqual(cleared.settings, base);
  });
});

describe('global-allowed-response-headers', () => {
  const cases: readonly { name: string; raw: string; names?: readonly string[]; error?: string }[] = [
    {
      name: 'a comma-separated list is read',
      raw: 'X-Frame-Options, x-shop',
      names: ['X-Frame-Options', 'x-shop'],
    },
    { name: 'an empty value allows nothing (the default)', raw: '' },
    {
      name: 'a name with a colon is refused naming it',
      raw: 'X-A, X-B: c',
      error:
        'invalid value "X-A, X-B: c": "X-B: c" is not a header name (letters, digits, "-" and "_"); keeping the default (none)',
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const parsed = parseConfigMapSettings({ 'global-allowed-response-headers': c.raw }, base, {
        configMap: SETTINGS,
      });
      assert.deepEqual(parsed.settings.allowedResponseHeaders, c.names);
      assert.deepEqual(
        parsed.diagnostics.map((d) => d.message),
        c.error === undefined ? [] : [c.error],
      );
    });
  }
});

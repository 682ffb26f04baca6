import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseFlags } from '../../../../src/cli/flags.js';
import {
  DEFAULT_CLIENT_OPTIONS,
  DEFAULT_UPSTREAM_OPTIONS,
  type ProxyOptions,
} from '../../../../src/config/types.js';
import type { Diagnostic } from '../../../../src/model/diagnostics.js';
import { parseConfigMapSettings } from '../../../../src/model/settings/parse.js';
import {
  baseSettings,
  type GlobalSettings,
  resolveUpstreamSettings,
  trustedProxiesOf,
} from '../../../../src/model/settings/types.js';

const options: ProxyOptions = {
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
const base = baseSettings(options);
const configMap = { namespace: 'ingress', name: 'portico' };
const parse = (data: Record<string, string>, b: GlobalSettings = base) =>
  parseConfigMapSettings(data, b, { configMap });

/** `with` builds the expected settings: base with some fields replaced. */
function expect(patch: {
  upstream?: Partial<GlobalSettings['upstream']>;
  client?: Partial<GlobalSettings['client']>;
  forwarded?: Partial<GlobalSettings['forwarded']>;
  tls?: Partial<GlobalSettings['tls']>;
  https?: Partial<GlobalSettings['https']>;
  hsts?: Partial<GlobalSettings['https']['hsts']>;
  accessLog?: boolean;
  limits?: Partial<GlobalSettings['limits']>;
  proxyProtocol?: Partial<GlobalSettings['proxyProtocol']>;
}): GlobalSettings {
  return {
    tls: { ...base.tls, ...patch.tls },
    upstream: { ...base.upstream, ...patch.upstream },
    client: { ...base.client, ...patch.client },
    forwarded: { ...base.forwarded, ...patch.forwarded },
    https: { ...base.https, ...patch.https, hsts: { ...base.https.hsts, ...patch.hsts } },
    accessLog: patch.accessLog ?? base.accessLog,
    limits: { ...base.limits, ...patch.limits },
    proxyProtocol: { ...base.proxyProtocol, ...patch.proxyProtocol },
  };
}

const valid = [
  {
    name: 'limit-req-status-code and limit-conn-status-code set the nginx-spelling refusals',
    data: { 'limit-req-status-code': '429', 'limit-conn-status-code': '503' },
    want: expect({ limits: { request: 429, connection: 503 } }),
  },
  {
    name: 'proxy-read-timeout in bare seconds, as ingress-nginx documents it',
    data: { 'proxy-read-timeout': '5' },
    want: expect({ upstream: { readTimeoutMs: 5_000 } }),
  },
  {
    name: 'proxy-read-timeout in nginx time syntax',
    data: { 'proxy-read-timeout': '1m30s' },
    want: expect({ upstream: { readTimeoutMs: 90_000 } }),
  },
  {
    name: 'proxy-send-timeout in milliseconds',
    data: { 'proxy-send-timeout': '500ms' },
    want: expect({ upstream: { sendTimeoutMs: 500 } }),
  },
  {
    name: 'proxy-connect-timeout with surrounding blanks',
    data: { 'proxy-connect-timeout': ' 2s ' },
    want: expect({ upstream: { connectTimeoutMs: 2_000 } }),
  },
  {
    name: 'proxy-next-upstream-tries as a number',
    data: { 'proxy-next-upstream-tries': '1' },
    want: expect({ upstream: { maxTries: 1 } }),
  },
  {
    name: 'proxy-next-upstream-tries 0 means no limit (nginx)',
    data: { 'proxy-next-upstream-tries': '0' },
    want: expect({ upstream: { maxTries: Number.MAX_SAFE_INTEGER } }),
  },
  {
    name: 'use-forwarded-headers true trusts everyone (ingress-nginx proxy-real-ip-cidr default)',
    data: { 'use-forwarded-headers': 'true' },
    want: expect({ forwarded: { useForwardedHeaders: true } }),
  },
  {
    name: 'use-forwarded-headers accepts Go ParseBool spellings',
    data: { 'use-forwarded-headers': 'True' },
    want: expect({ forwarded: { useForwardedHeaders: true } }),
  },
  {
    name: 'proxy-real-ip-cidr lists CIDRs and addresses, deduplicated',
    data: { 'use-forwarded-headers': '1', 'proxy-real-ip-cidr': '10.0.0.0/8, 127.0.0.2,fd00::/8,10.0.0.0/8' },
    want: expect({
      forwarded: { useForwardedHeaders: true, realIpCidrs: ['10.0.0.0/8', '127.0.0.2', 'fd00::/8'] },
    }),
  },
  {
    name: 'keep-alive, client-header-timeout and client-body-timeout are seconds',
    data: { 'keep-alive': '10', 'client-header-timeout': '3', 'client-body-timeout': '4s' },
    want: expect({
      client: { keepAliveTimeoutMs: 10_000, headerTimeoutMs: 3_000, bodyIdleTimeoutMs: 4_000 },
    }),
  },
  {
    name: 'ssl-redirect false turns the TLS-host redirect off',
    data: { 'ssl-redirect': 'false' },
    want: expect({ https: { sslRedirect: false } }),
  },
  {
    name: 'force-ssl-redirect true redirects every host',
    data: { 'force-ssl-redirect': 'true' },
    want: expect({ https: { forceSslRedirect: true } }),
  },
  {
    name: 'http-redirect-code takes the four redirect codes ingress-nginx accepts',
    data: { 'http-redirect-code': ' 301 ' },
    want: expect({ https: { redirectCode: 301 } }),
  },
  {
    name: 'http-redirect-code 307',
    data: { 'http-redirect-code': '307' },
    want: expect({ https: { redirectCode: 307 } }),
  },
  {
    name: 'hsts false turns the header off',
    data: { hsts: 'false' },
    want: expect({ hsts: { enabled: false } }),
  },
  {
    name: 'hsts-max-age, hsts-include-subdomains and hsts-preload shape the header',
    data: { 'hsts-max-age': '600', 'hsts-include-subdomains': 'false', 'hsts-preload': 'true' },
    want: expect({ hsts: { maxAgeSeconds: 600, includeSubdomains: false, preload: true } }),
  },
  {
    name: 'hsts-max-age 0 is valid (browsers forget the host)',
    data: { 'hsts-max-age': '0' },
    want: expect({ hsts: { maxAgeSeconds: 0 } }),
  },
  {
    name: 'use-proxy-protocol true requires PROXY headers, with the 5 s header timeout by default',
    data: { 'use-proxy-protocol': 'true' },
    want: expect({ proxyProtocol: { enabled: true, headerTimeoutMs: 5_000 } }),
  },
  {
    name: 'proxy-protocol-header-timeout in nginx time syntax',
    data: { 'use-proxy-protocol': 'true', 'proxy-protocol-header-timeout': '500ms' },
    want: expect({ proxyProtocol: { enabled: true, headerTimeoutMs: 500 } }),
  },
  { name: 'an empty ConfigMap leaves the flag defaults', data: {}, want: base },
] as const;

describe('parseConfigMapSettings: valid values take effect over the flag defaults', () => {
  for (const c of valid) {
    test(c.name, () => {
      const r = parse(c.data);
      assert.deepEqual(r.diagnostics, []);
      assert.deepEqual(r.settings, c.want);
    });
  }
});

const invalid = [
  {
    name: 'hide-headers cannot hide a header that frames the response',
    key: 'hide-headers',
    value: 'X-Powered-By, Transfer-Encoding',
    message:
      'invalid value "X-Powered-By, Transfer-Encoding": transfer-encoding cannot be hidden (it frames the response); keeping the default (none)',
  },
  {
    name: 'a duration without a number',
    key: 'proxy-read-timeout',
    value: 'soon',
    message:
      'invalid value "soon": must be seconds ("60") or an nginx time ("60s", "1m", "500ms"); keeping the default 60s',
  },
  {
    name: 'a fractional duration (nginx has none)',
    key: 'proxy-read-timeout',
    value: '1.5',
    message:
      'invalid value "1.5": must be seconds ("60") or an nginx time ("60s", "1m", "500ms"); keeping the default 60s',
  },
  {
    name: 'use-proxy-protocol that is not a boolean',
    key: 'use-proxy-protocol',
    value: 'yes',
    message: 'invalid value "yes": must be "true" or "false"; keeping the default false',
  },
  {
    name: 'a zero timeout',
    key: 'proxy-connect-timeout',
    value: '0',
    message: 'invalid value "0": must be greater than 0; keeping the default 5s',
  },
  {
    name: 'a timeout past what a timer can hold',
    key: 'proxy-send-timeout',
    value: '30d',
    message: 'invalid value "30d": too large (at most about 24 days); keeping the default 60s',
  },
  {
    name: 'an empty value',
    key: 'client-body-timeout',
    value: '',
    message:
      'invalid value "": must be seconds ("60") or an nginx time ("60s", "1m", "500ms"); keeping the default 60s',
  },
  {
    name: 'keep-alive 0 (nginx: keep-alive off) is refused',
    key: 'keep-alive',
    value: '0',
    message:
      'invalid value "0": 0 (keep-alive off) is not supported; Portico always allows keep-alive; keeping the default 75s',
  },
  {
    name: 'tries above 100',
    key: 'proxy-next-upstream-tries',
    value: '101',
    message: 'invalid value "101": must be between 0 and 100; keeping the default 3',
  },
  {
    name: 'negative tries',
    key: 'proxy-next-upstream-tries',
    value: '-1',
    message: 'invalid value "-1": must be a whole number; keeping the default 3',
  },
  {
    name: 'a boolean that is not one',
    key: 'use-forwarded-headers',
    value: 'yes',
    message: 'invalid value "yes": must be "true" or "false"; keeping the default false',
  },
  {
    name: 'a redirect code ingress-nginx does not accept',
    key: 'http-redirect-code',
    value: '303',
    message: 'invalid value "303": must be one of 301, 302, 307, 308; keeping the default 308',
  },
  {
    name: 'an hsts-max-age with a unit',
    key: 'hsts-max-age',
    value: '1y',
    message: 'invalid value "1y": must be a whole number; keeping the default 31536000',
  },
  {
    name: 'an ssl-redirect that is not a boolean',
    key: 'ssl-redirect',
    value: 'on',
    message: 'invalid value "on": must be "true" or "false"; keeping the default true',
  },
  {
    name: 'a CIDR with a prefix too long',
    key: 'proxy-real-ip-cidr',
    value: '10.0.0.0/33',
    message:
      'invalid value "10.0.0.0/33": "10.0.0.0/33" is not an IP address or CIDR; keeping the default 0.0.0.0/0,::/0',
  },
  {
    name: 'a host name where an address belongs',
    key: 'proxy-real-ip-cidr',
    value: '10.0.0.0/8,lb.example',
    message:
      'invalid value "10.0.0.0/8,lb.example": "lb.example" is not an IP address or CIDR; keeping the default 0.0.0.0/0,::/0',
  },
  {
    name: 'an empty CIDR list',
    key: 'proxy-real-ip-cidr',
    value: ' , ',
    message:
      'invalid value " , ": must list at least one CIDR or address; keeping the default 0.0.0.0/0,::/0',
  },
] as const;

describe('parseConfigMapSettings: an invalid value is an error for that key only', () => {
  for (const c of invalid) {
    test(c.name, () => {
      // One other, valid key that must still apply.
      const other = c.key === 'proxy-send-timeout' ? 'proxy-read-timeout' : 'proxy-send-timeout';
      const r = parse({ [c.key]: c.value, [other]: '7' });
      const want: Diagnostic = {
        severity: 'error',
        code: 'PORTICO_ERR_OBJECT_INVALID',
        object: 'ConfigMap ingress/portico',
        field: `data.${c.key}`,
        message: c.message,
      };
      assert.deepEqual(r.diagnostics, [want]);
      const applied =
        other === 'proxy-send-timeout'
          ? r.settings.upstream.sendTimeoutMs
          : r.settings.upstream.readTimeoutMs;
      assert.equal(applied, 7_000, 'other keys still apply');
    });
  }
});

test('an invalid value keeps the previous good value, and the message says which', () => {
  const first = parse({ 'proxy-read-timeout': '5' });
  const second = parseConfigMapSettings({ 'proxy-read-timeout': 'x' }, base, {
    configMap,
    previous: first.good,
  });
  assert.equal(second.settings.upstream.readTimeoutMs, 5_000);
  assert.match(second.diagnostics[0]?.message ?? '', /; keeping the previous value 5s$/);
  // …and keeps it again on the next bad edit, but the key's removal returns to the flag default.
  const third = parseConfigMapSettings({ 'proxy-read-timeout': 'y' }, base, {
    configMap,
    previous: second.good,
  });
  assert.equal(third.settings.upstream.readTimeoutMs, 5_000);
  const fourth = parseConfigMapSettings({}, base, { configMap, previous: third.good });
  assert.equal(fourth.settings.upstream.readTimeoutMs, 60_000);
  const fifth = parseConfigMapSettings({ 'proxy-read-timeout': 'z' }, base, {
    configMap,
    previous: fourth.good,
  });
  assert.equal(fifth.settings.upstream.readTimeoutMs, 60_000);
});

const ignored = [
  {
    name: 'a planned ingress-nginx key is accepted, reported and ignored',
    key: 'enable-real-ip',
    value: 'true',
    message: 'ingress-nginx setting not supported yet; ignored (value "true")',
  },
  {
    name: 'upstream-keepalive-timeout is planned',
    key: 'upstream-keepalive-timeout',
    value: '30',
    message: 'ingress-nginx setting not supported yet; ignored (value "30")',
  },
  {
    name: 'an unknown key is reported with its value',
    key: 'worker-processes',
    value: '4',
    message: 'unknown key; ignored (value "4")',
  },
  {
    name: 'an nginx-style spelling of a known key gets a hint',
    key: 'proxy_read_timeout',
    value: '5',
    message: 'unknown key (did you mean proxy-read-timeout?); ignored (value "5")',
  },
  {
    name: 'a key named like an Object.prototype member is just unknown',
    key: 'constructor',
    value: 'x',
    message: 'unknown key; ignored (value "x")',
  },
] as const;

describe('parseConfigMapSettings: planned and unknown keys are warnings, never errors', () => {
  for (const c of ignored) {
    test(c.name, () => {
      const r = parse({ [c.key]: c.value });
      assert.deepEqual(r.settings, base);
      assert.deepEqual(r.diagnostics, [
        {
          severity: 'warning',
          code: 'PORTICO_WARN_UNSUPPORTED',
          object: 'ConfigMap ingress/portico',
          field: `data.${c.key}`,
          message: c.message,
        },
      ]);
    });
  }
});

test('diagnostics are sorted by key and carry file:line when a locator is given', () => {
  const r = parseConfigMapSettings({ zzz: '1', 'proxy-read-timeout': 'x', 'enable-real-ip': 'true' }, base, {
    configMap,
    locate: (field) => `cm.yaml:${field.length}:3`,
  });
  assert.deepEqual(
    r.diagnostics.map((d) => [d.field, d.source]),
    [
      ['data.enable-real-ip', 'cm.yaml:19:3'],
      ['data.proxy-read-timeout', 'cm.yaml:23:3'],
      ['data.zzz', 'cm.yaml:8:3'],
    ],
  );
});

test('precedence: ConfigMap > flag, key by key', () => {
  const flags = parseFlags([
    '--manifests',
    'x',
    '--proxy-read-timeout',
    '30s',
    '--proxy-send-timeout',
    '20s',
    '--trusted-proxies',
    '127.0.0.2',
  ]);
  assert.equal(flags.kind, 'run');
  if (flags.kind !== 'run') return;
  const fromFlags = baseSettings(flags.config.proxy);
  assert.equal(fromFlags.upstream.readTimeoutMs, 30_000);
  assert.deepEqual(
    trustedProxiesOf(fromFlags.forwarded),
    ['127.0.0.2'],
    '--trusted-proxies turns the trust on',
  );
  const r = parse({ 'proxy-read-timeout': '5', 'proxy-real-ip-cidr': '10.0.0.0/8' }, fromFlags);
  assert.equal(r.settings.upstream.readTimeoutMs, 5_000, 'the ConfigMap wins over the flag');
  assert.equal(r.settings.upstream.sendTimeoutMs, 20_000, 'the flag holds where the ConfigMap is silent');
  assert.deepEqual(trustedProxiesOf(r.settings.forwarded), ['10.0.0.0/8']);
  const off = parse({ 'use-forwarded-headers': 'false' }, fromFlags);
  assert.deepEqual(trustedProxiesOf(off.settings.forwarded), [], 'use-forwarded-headers false trusts nobody');
});

test('proxy-real-ip-cidr alone does not turn trust on (ingress-nginx: it needs use-forwarded-headers)', () => {
  const r = parse({ 'proxy-real-ip-cidr': '127.0.0.2' });
  assert.deepEqual(trustedProxiesOf(r.settings.forwarded), []);
});

describe('resolveUpstreamSettings: the per-route layer (annotation > ConfigMap > flag)', () => {
  const global = base.upstream;
  test('no overrides returns the global object itself (no allocation on the hot path)', () => {
    assert.equal(resolveUpstreamSettings(global), global);
    assert.equal(resolveUpstreamSettings(global, {}), global);
    assert.equal(resolveUpstreamSettings(global, { readTimeoutMs: global.readTimeoutMs }), global);
  });
  test('a route override wins over the global value, the rest stays global', () => {
    assert.deepEqual(resolveUpstreamSettings(global, { readTimeoutMs: 1_000 }), {
      ...global,
      readTimeoutMs: 1_000,
    });
  });
});

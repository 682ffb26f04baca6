import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import {
  DEFAULT_CLIENT_OPTIONS,
  DEFAULT_UPSTREAM_OPTIONS,
  type ProxyOptions,
} from '../../../../src/config/types.js';
import { parseConfigMapSettings } from '../../../../src/model/settings/parse.js';
import {
  DEFAULT_TLS_SETTINGS,
  INGRESS_NGINX_CIPHERS,
  showMinutes,
  showSize,
  type TlsSettings,
  useCipherCheck,
} from '../../../../src/model/settings/tls.js';
import { baseSettings } from '../../../../src/model/settings/types.js';
import { opensslCipherCheck } from '../../../../src/proxy/tls-settings.js';

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

before(() => useCipherCheck(opensslCipherCheck));

test('without TLS options the base settings are ingress-nginx defaults', () => {
  assert.deepEqual(base.tls, DEFAULT_TLS_SETTINGS);
  assert.equal(
    INGRESS_NGINX_CIPHERS,
    'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384',
  );
  assert.equal(DEFAULT_TLS_SETTINGS.sessionTickets, false);
});

const valid: readonly { key: string; value: string; want: Partial<TlsSettings> }[] = [
  { key: 'ssl-protocols', value: 'TLSv1.3', want: { protocols: ['TLSv1.3'] } },
  { key: 'ssl-protocols', value: 'TLSv1.2', want: { protocols: ['TLSv1.2'] } },
  { key: 'ssl-protocols', value: ' TLSv1.3   TLSv1.2 TLSv1.3 ', want: { protocols: ['TLSv1.2', 'TLSv1.3'] } },
  {
    key: 'ssl-ciphers',
    value: 'ECDHE-RSA-AES256-GCM-SHA384',
    want: { ciphers: 'ECDHE-RSA-AES256-GCM-SHA384' },
  },
  { key: 'ssl-ciphers', value: 'HIGH:!aNULL:!MD5', want: { ciphers: 'HIGH:!aNULL:!MD5' } },
  { key: 'ssl-session-cache', value: 'false', want: { sessionCache: false } },
  { key: 'ssl-session-cache-size', value: '512k', want: { sessionCacheBytes: 512 * 1024 } },
  { key: 'ssl-session-cache-size', value: '20M', want: { sessionCacheBytes: 20 * 1024 * 1024 } },
  { key: 'ssl-session-cache-size', value: '4096', want: { sessionCacheBytes: 4096 } },
  { key: 'ssl-session-timeout', value: '1h', want: { sessionTimeoutMs: 3_600_000 } },
  { key: 'ssl-session-timeout', value: '300', want: { sessionTimeoutMs: 300_000 } },
  { key: 'ssl-session-tickets', value: 'true', want: { sessionTickets: true } },
  { key: 'use-http2', value: 'false', want: { http2: false } },
];

describe('TLS keys: valid values take effect', () => {
  for (const c of valid) {
    test(`${c.key}: ${JSON.stringify(c.value)}`, () => {
      const r = parseConfigMapSettings({ [c.key]: c.value }, base, { configMap });
      assert.deepEqual(r.diagnostics, []);
      assert.deepEqual(r.settings.tls, { ...base.tls, ...c.want });
      assert.deepEqual(r.settings.upstream, base.upstream, 'nothing else changes');
    });
  }
});

const invalid: readonly { key: string; value: string; reason: RegExp }[] = [
  {
    key: 'ssl-protocols',
    value: 'TLSv1.1 TLSv1.2',
    reason: /TLSv1\.1 is not supported \(deprecated by RFC 8996\)/,
  },
  { key: 'ssl-protocols', value: 'TLSv1', reason: /TLSv1 is not supported/ },
  { key: 'ssl-protocols', value: 'SSLv3', reason: /SSLv3 is not supported/ },
  { key: 'ssl-protocols', value: 'TLSv1.4', reason: /"TLSv1\.4" is not a TLS version/ },
  { key: 'ssl-protocols', value: '  ', reason: /must list TLSv1\.2, TLSv1\.3 or both/ },
  { key: 'ssl-ciphers', value: 'NOT-A-CIPHER', reason: /OpenSSL refuses it: .*no cipher match/ },
  { key: 'ssl-ciphers', value: '', reason: /must list at least one cipher/ },
  { key: 'ssl-ciphers', value: 'ECDHE-RSA-AES128-GCM-SHA256;rm', reason: /not an OpenSSL cipher string/ },
  {
    key: 'ssl-ciphers',
    value: 'TLS_AES_128_GCM_SHA256:ECDHE-RSA-AES128-GCM-SHA256',
    reason: /TLS_AES_128_GCM_SHA256 is a TLS 1\.3 suite/,
  },
  { key: 'ssl-session-cache', value: 'on', reason: /must be "true" or "false"/ },
  { key: 'ssl-session-cache-size', value: '10g', reason: /must be a size/ },
  { key: 'ssl-session-cache-size', value: '100', reason: /at least 1k/ },
  { key: 'ssl-session-cache-size', value: '2048m', reason: /at most 1024m/ },
  { key: 'ssl-session-timeout', value: '500ms', reason: /at least 1000 ms/ },
  { key: 'ssl-session-timeout', value: 'soon', reason: /nginx time/ },
  { key: 'ssl-session-tickets', value: 'yes', reason: /must be "true" or "false"/ },
  { key: 'use-http2', value: 'h2', reason: /must be "true" or "false"/ },
];

describe('TLS keys: invalid values are refused with a reason and keep the previous value', () => {
  for (const c of invalid) {
    test(`${c.key}: ${JSON.stringify(c.value)}`, () => {
      const r = parseConfigMapSettings({ [c.key]: c.value }, base, { configMap });
      assert.equal(r.diagnostics.length, 1);
      assert.equal(r.diagnostics[0]?.severity, 'error');
      assert.match(r.diagnostics[0]?.message ?? '', c.reason);
      assert.deepEqual(r.settings.tls, base.tls);
    });
  }
});

test('an invalid ssl-ciphers after a good one keeps the good one', () => {
  const first = parseConfigMapSettings({ 'ssl-ciphers': 'ECDHE-RSA-AES256-GCM-SHA384' }, base, { configMap });
  const second = parseConfigMapSettings({ 'ssl-ciphers': 'bogus' }, base, {
    configMap,
    previous: first.good,
  });
  assert.equal(second.settings.tls.ciphers, 'ECDHE-RSA-AES256-GCM-SHA384');
  assert.match(
    second.diagnostics[0]?.message ?? '',
    /keeping the previous value ECDHE-RSA-AES256-GCM-SHA384$/,
  );
});

test('sizes and times render as nginx writes them', () => {
  assert.equal(showSize(10 * 1024 * 1024), '10m');
  assert.equal(showSize(512 * 1024), '512k');
  assert.equal(showSize(1500), '1500');
  assert.equal(showMinutes(600_000), '10m');
  assert.equal(showMinutes(90_000), '90s');
  assert.equal(showMinutes(1_500), '1500ms');
});

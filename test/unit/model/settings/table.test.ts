import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { FLAGS, parseFlags } from '../../../../src/cli/flags.js';
import { renderConfigMapDoc } from '../../../../src/model/settings/doc.js';
import { SETTINGS, type SettingRow } from '../../../../src/model/settings/table.js';
import { baseSettings } from '../../../../src/model/settings/types.js';

const rows = Object.entries(SETTINGS) as [string, SettingRow][];

test('every supported key names an existing flag, and its documented default is what the flags give', () => {
  const cmd = parseFlags(['--manifests', 'x']);
  assert.equal(cmd.kind, 'run');
  if (cmd.kind !== 'run') return;
  const base = baseSettings(cmd.config.proxy);
  for (const [key, row] of rows) {
    if (row.status !== 'supported') continue;
    if (row.flag !== undefined)
      assert.ok(Object.hasOwn(FLAGS, row.flag), `${key}: --${row.flag} is not a flag`);
    assert.equal(row.show(base), row.default, `${key}: documented default`);
  }
});

test('every supported key parses its own documented default back to the same value', () => {
  const cmd = parseFlags(['--manifests', 'x']);
  if (cmd.kind !== 'run') return assert.fail('expected run');
  const base = baseSettings(cmd.config.proxy);
  for (const [key, row] of rows) {
    if (row.status !== 'supported') continue;
    // ingress-nginx spells it "0.0.0.0/0" and "false": the defaults must be valid ConfigMap values.
    const parsed = row.parse(row.default);
    assert.ok(parsed.ok, `${key}: ${row.default} does not parse`);
    if (parsed.ok) assert.deepEqual(parsed.value(base), base, `${key}: default round-trips`);
  }
});

test('the keys the issue names are in the table with the right status', () => {
  const want: Record<string, SettingRow['status']> = {
    'proxy-connect-timeout': 'supported',
    'proxy-read-timeout': 'supported',
    'proxy-send-timeout': 'supported',
    'proxy-next-upstream-tries': 'supported',
    'use-forwarded-headers': 'supported',
    'proxy-real-ip-cidr': 'supported',
    'keep-alive': 'supported',
    'client-header-timeout': 'supported',
    'client-body-timeout': 'supported',
    'ssl-protocols': 'supported',
    'ssl-ciphers': 'supported',
    'ssl-session-cache': 'supported',
    'ssl-session-cache-size': 'supported',
    'ssl-session-timeout': 'supported',
    'ssl-session-tickets': 'supported',
    'use-http2': 'supported',
    'ssl-redirect': 'supported',
    'force-ssl-redirect': 'supported',
    'http-redirect-code': 'supported',
    hsts: 'supported',
    'hsts-max-age': 'supported',
    'hsts-include-subdomains': 'supported',
    'hsts-preload': 'supported',
    'proxy-body-size': 'supported',
    'limit-req-status-code': 'supported',
    'limit-conn-status-code': 'supported',
  };
  for (const [key, status] of Object.entries(want)) {
    assert.equal((SETTINGS as Record<string, SettingRow>)[key]?.status, status, key);
  }
});

test('keys are ingress-nginx style (lowercase, dashes) and sorted within each status', () => {
  for (const status of ['supported', 'planned'] as const) {
    const keys = rows.filter(([, r]) => r.status === status).map(([k]) => k);
    assert.deepEqual(keys, [...keys].sort(), status);
    for (const k of keys) assert.match(k, /^[a-z0-9]+(-[a-z0-9]+)*$/);
  }
});

test('docs/configmap.md is what `npm run gen:docs` renders from the table (run it after a table change)', () => {
  const committed = readFileSync(new URL('../../../../docs/configmap.md', import.meta.url), 'utf8');
  assert.equal(committed, renderConfigMapDoc());
});

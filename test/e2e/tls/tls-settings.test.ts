/**
 * The HTTPS listener's TLS settings (ingress-nginx's ssl-* ConfigMap keys) end to end through the
 * real binary in file mode, observed with `openssl s_client`: protocol versions, TLS 1.2 cipher
 * list (DHE included), session resumption from the cache and by tickets, live ConfigMap edits,
 * and invalid values keeping the previous ones. Each case handshakes with SNI (the host's RSA
 * certificate) and, where it matters, without (the listener's own certificate).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Diagnostic } from '../../../src/model/diagnostics.js';
import type { GlobalSettings } from '../../../src/model/settings/types.js';
import { ingress, ingressClass, svc } from '../../support/builders.js';
import { makeCertificate, tlsSecret } from '../../support/certs.js';
import {
  get,
  type ManifestDir,
  manifestDir,
  type PorticoProcess,
  startPortico,
  waitUntil,
} from '../../support/portico-process.js';
import { type Pods, settingsConfigMap, startPods, yamlOf } from '../portico/helpers.js';
import { type Handshake, sClient } from './clients.js';

interface Routes {
  readonly diagnostics: Diagnostic[];
  readonly settings: GlobalSettings;
}

describe('TLS settings (file mode, openssl s_client)', () => {
  let pods: Pods;
  let dir: ManifestDir;
  let portico: PorticoProcess;
  let sessions: string;
  const port = () => portico.httpsPort;
  const hello = (args: readonly string[], servername: string | undefined = 'a.test'): Promise<Handshake> =>
    sClient(port(), servername, args);
  const routes = async (): Promise<Routes> =>
    JSON.parse((await get(portico.adminPort, '/routes')).body) as Routes;

  /** `resumed` makes a full handshake saving the session, then one offering it back. */
  const resumed = async (
    version: '-tls1_2' | '-tls1_3',
    servername?: string,
  ): Promise<string | undefined> => {
    const file = join(sessions, `${version}-${servername ?? 'none'}-${Date.now()}`);
    const first = await hello([version, '-sess_out', file], servername);
    assert.equal(first.session, 'New', first.output);
    return (await hello([version, '-sess_in', file], servername)).session;
  };

  /** `configure` writes the ConfigMap and waits until the data plane has the settings in force. */
  const configure = async (data: Record<string, string>, ready: (s: GlobalSettings) => boolean) => {
    await dir.write('settings.yaml', settingsConfigMap(data));
    await waitUntil(async () => ready((await routes()).settings), 10_000, `settings ${JSON.stringify(data)}`);
  };

  before(async () => {
    sessions = await mkdtemp(join(tmpdir(), 'portico-tls-sessions-'));
    pods = await startPods('web');
    const main = ingress('main')
      .cls('portico')
      .host('a.test')
      .prefix('/', svc('web', 80))
      .tls('a-cert', 'a.test');
    dir = await manifestDir({
      'class.yaml': yamlOf(ingressClass('portico').build()),
      'services.yaml': yamlOf(...pods.objects),
      'ingress.yaml': yamlOf(main.build()),
      // RSA: DHE-RSA and ECDHE-RSA suites need an RSA certificate.
      'a-cert.yaml': yamlOf(tlsSecret('a-cert', makeCertificate('a.test'))),
      'settings.yaml': settingsConfigMap({}),
    });
    portico = await startPortico({ manifests: dir.dir, args: ['--configmap', 'ingress/portico'] });
  });

  after(async () => {
    await portico?.stop('SIGKILL');
    await pods?.close();
    await dir?.cleanup();
    if (sessions !== undefined) await rm(sessions, { recursive: true, force: true });
  });

  test('default ssl-protocols: TLS 1.1 refused by the server, TLS 1.2 and 1.3 served, with and without SNI', async () => {
    for (const servername of ['a.test', undefined]) {
      // SECLEVEL=0 lets the client offer TLS 1.1 at all, so the refusal is the server's alert.
      const old = await hello(['-tls1_1', '-cipher', 'DEFAULT@SECLEVEL=0'], servername);
      assert.equal(old.ok, false);
      assert.match(old.output, /alert protocol version/);
      assert.equal((await hello(['-tls1_2'], servername)).protocol, 'TLSv1.2');
      assert.equal((await hello(['-tls1_3'], servername)).protocol, 'TLSv1.3');
    }
  });

  test("default ssl-ciphers (ingress-nginx's list): a TLS 1.2 suite outside it fails, one in it works, DHE-RSA works, TLS 1.3 keeps its suites", async () => {
    const outside = await hello(['-tls1_2', '-cipher', 'AES128-SHA']);
    assert.equal(outside.ok, false);
    assert.match(outside.output, /alert handshake failure/);
    assert.equal(
      (await hello(['-tls1_2', '-cipher', 'ECDHE-RSA-AES128-GCM-SHA256'])).cipher,
      'ECDHE-RSA-AES128-GCM-SHA256',
    );
    assert.equal(
      (await hello(['-tls1_2', '-cipher', 'DHE-RSA-AES128-GCM-SHA256'])).cipher,
      'DHE-RSA-AES128-GCM-SHA256',
    );
    assert.equal(
      (await hello(['-tls1_2', '-cipher', 'DHE-RSA-AES256-GCM-SHA384'])).cipher,
      'DHE-RSA-AES256-GCM-SHA384',
    );
    const tls13 = await hello(['-tls1_3', '-ciphersuites', 'TLS_CHACHA20_POLY1305_SHA256']);
    assert.equal(tls13.cipher, 'TLS_CHACHA20_POLY1305_SHA256');
  });

  test('default session settings: TLS 1.2 resumes from the session cache (no ticket issued), TLS 1.3 does not resume', async () => {
    assert.equal(await resumed('-tls1_2', 'a.test'), 'Reused');
    assert.equal(await resumed('-tls1_2'), 'Reused');
    const full = await hello(['-tls1_2']);
    assert.doesNotMatch(full.output, /TLS session ticket lifetime hint/);
    // Tickets are off (ingress-nginx's default), and Node resumes TLS 1.3 only by ticket.
    assert.equal(await resumed('-tls1_3', 'a.test'), 'New');
  });

  test('ssl-session-cache "false": TLS 1.2 no longer resumes; "true" again: it does', async () => {
    await configure({ 'ssl-session-cache': 'false' }, (s) => !s.tls.sessionCache);
    assert.equal(await resumed('-tls1_2', 'a.test'), 'New');
    await configure({}, (s) => s.tls.sessionCache);
    assert.equal(await resumed('-tls1_2', 'a.test'), 'Reused');
  });

  test('ssl-session-tickets "true": TLS 1.3 resumes by ticket, and TLS 1.2 even with the cache off', async () => {
    await configure(
      { 'ssl-session-tickets': 'true', 'ssl-session-cache': 'false' },
      (s) => s.tls.sessionTickets && !s.tls.sessionCache,
    );
    assert.equal(await resumed('-tls1_3', 'a.test'), 'Reused');
    assert.equal(await resumed('-tls1_2', 'a.test'), 'Reused');
    assert.match((await hello(['-tls1_2'])).output, /TLS session ticket lifetime hint: 600 \(seconds\)/);
    await configure({}, (s) => !s.tls.sessionTickets && s.tls.sessionCache);
  });

  test('ssl-session-timeout sets the session lifetime', async () => {
    await configure(
      { 'ssl-session-timeout': '2m', 'ssl-session-tickets': 'true' },
      (s) => s.tls.sessionTimeoutMs === 120_000,
    );
    assert.match((await hello(['-tls1_2'])).output, /TLS session ticket lifetime hint: 120 \(seconds\)/);
    await configure({}, (s) => s.tls.sessionTimeoutMs === 600_000);
  });

  test('ssl-protocols "TLSv1.3" applies live: TLS 1.2 clients fail, TLS 1.3 works, with and without SNI', async () => {
    await configure({ 'ssl-protocols': 'TLSv1.3' }, (s) => s.tls.protocols.join(' ') === 'TLSv1.3');
    for (const servername of ['a.test', undefined]) {
      const tls12 = await hello(['-tls1_2'], servername);
      assert.equal(tls12.ok, false);
      assert.match(tls12.output, /alert protocol version/);
      assert.equal((await hello(['-tls1_3'], servername)).protocol, 'TLSv1.3');
    }
    await configure({}, (s) => s.tls.protocols.length === 2);
    assert.equal((await hello(['-tls1_2'])).protocol, 'TLSv1.2');
  });

  test('ssl-ciphers applies live: a suite left out fails, the one listed works', async () => {
    await configure(
      { 'ssl-ciphers': 'ECDHE-RSA-AES256-GCM-SHA384' },
      (s) => s.tls.ciphers === 'ECDHE-RSA-AES256-GCM-SHA384',
    );
    const dropped = await hello(['-tls1_2', '-cipher', 'ECDHE-RSA-AES128-GCM-SHA256']);
    assert.equal(dropped.ok, false);
    assert.equal((await hello(['-tls1_2'])).cipher, 'ECDHE-RSA-AES256-GCM-SHA384');
    assert.equal((await hello(['-tls1_3'])).protocol, 'TLSv1.3');
  });

  test('invalid values are errors naming the reason, and the previous values stay in force', async () => {
    await dir.write(
      'settings.yaml',
      settingsConfigMap({
        'ssl-ciphers': 'NOT-A-CIPHER',
        'ssl-protocols': 'TLSv1.1 TLSv1.2',
        'ssl-session-cache-size': '1g',
      }),
    );
    await waitUntil(async () => (await routes()).diagnostics.length >= 3, 10_000, 'three diagnostics');
    const r = await routes();
    const byField = new Map(r.diagnostics.map((d) => [d.field, d.message]));
    assert.match(
      byField.get('data.ssl-ciphers') ?? '',
      /OpenSSL refuses it: .*no cipher match; keeping the previous value ECDHE-RSA-AES256-GCM-SHA384/,
    );
    assert.match(
      byField.get('data.ssl-protocols') ?? '',
      /TLSv1.1 is not supported \(deprecated by RFC 8996\)/,
    );
    assert.match(byField.get('data.ssl-session-cache-size') ?? '', /must be a size/);
    assert.equal(r.settings.tls.ciphers, 'ECDHE-RSA-AES256-GCM-SHA384');
    assert.deepEqual(r.settings.tls.protocols, ['TLSv1.2', 'TLSv1.3']);
    assert.equal((await hello(['-tls1_2'])).cipher, 'ECDHE-RSA-AES256-GCM-SHA384');
  });
});

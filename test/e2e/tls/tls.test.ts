/**
 * TLS termination end to end: a real portico process in file mode with `kubernetes.io/tls`
 * Secrets and `spec.tls`; certificates are checked per SNI name as clients see them.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { request as httpsRequest } from 'node:https';
import { after, before, describe, test } from 'node:test';
import { connect } from 'node:tls';
import type { Diagnostic } from '../../../src/model/diagnostics.js';
import { DEFAULT_CERTIFICATE_CN } from '../../../src/tls/default-certificate.js';
import { ingress, ingressClass, svc } from '../../support/builders.js';
import { makeCertificate, type TestCertificate, tlsSecret } from '../../support/certs.js';
import {
  get,
  type ManifestDir,
  manifestDir,
  type PorticoProcess,
  startPortico,
} from '../../support/portico-process.js';
import { type Pods, startPods, yamlOf } from '../portico/helpers.js';

interface Presented {
  readonly subject: string;
  readonly fingerprint: string;
  readonly protocol: string | null;
}

/** `presented` handshakes with `servername` (none when undefined: an IP host sends no SNI). */
function presented(port: number, servername?: string): Promise<Presented> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: '127.0.0.1',
      port,
      ...(servername !== undefined ? { servername } : {}),
      rejectUnauthorized: false,
    });
    socket.setTimeout(5_000, () => socket.destroy(new Error('handshake timeout')));
    socket.once('secureConnect', () => {
      const x509 = socket.getPeerX509Certificate();
      const protocol = socket.getProtocol();
      socket.end();
      if (x509 === undefined) reject(new Error('no peer certificate'));
      else resolve({ subject: x509.subject, fingerprint: x509.fingerprint256, protocol });
    });
    socket.once('error', reject);
  });
}

function fingerprint(pair: TestCertificate): string {
  return new X509Certificate(pair.cert).fingerprint256;
}

interface HttpsAnswer {
  readonly status: number;
  readonly body: string;
  readonly fingerprint: string;
}

/** `httpsGet` makes one request over a fresh connection (or `agent`'s), verifying against `ca` if given. */
function httpsGet(
  port: number,
  host: string,
  options: { ca?: string; agent?: import('node:https').Agent } = {},
): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        path: '/',
        servername: host,
        headers: { host },
        ...(options.ca !== undefined ? { ca: options.ca } : { rejectUnauthorized: false }),
        agent: options.agent ?? false,
        timeout: 5_000,
      },
      (res) => {
        // Read now: once the response ends the socket may already be detached (agent: false).
        const peer = (res.socket as import('node:tls').TLSSocket).getPeerX509Certificate();
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString(),
            fingerprint: peer?.fingerprint256 ?? '',
          });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timeout')));
    req.on('error', reject);
    req.end();
  });
}

describe('TLS termination (file mode)', () => {
  const rsa = makeCertificate('a.test');
  const ecdsa = makeCertificate('b.test', { keyType: 'ecdsa' });
  const wildcard = makeCertificate('*.w.test', { keyType: 'ecdsa' });
  const ed25519 = makeCertificate('e.test', { keyType: 'ed25519' });
  const good = makeCertificate('good.test');
  const rotatedBefore = makeCertificate('rot.test');
  const rotatedAfter = makeCertificate('rot.test', { keyType: 'ecdsa' });
  let pods: Pods;
  let dir: ManifestDir;
  let portico: PorticoProcess;

  before(async () => {
    pods = await startPods('web');
    const hosts = ['a.test', 'b.test', 'e.test', '*.w.test', 'good.test', 'bad.test', 'rot.test'];
    let main = ingress('main').cls('portico');
    for (const h of hosts) main = main.host(h).prefix('/', svc('web', 80));
    main = main
      .tls('a-cert', 'a.test')
      .tls('b-cert', 'b.test')
      .tls('e-cert', 'e.test')
      .tls('w-cert', '*.w.test')
      .tls('good-cert', 'good.test')
      .tls('bad-cert', 'bad.test')
      .tls('rot-cert', 'rot.test');
    dir = await manifestDir({
      'class.yaml': yamlOf(ingressClass('portico').build()),
      'services.yaml': yamlOf(...pods.objects),
      'ingress.yaml': yamlOf(main.build()),
      'a-cert.yaml': yamlOf(tlsSecret('a-cert', rsa)),
      'b-cert.yaml': yamlOf(tlsSecret('b-cert', ecdsa)),
      'e-cert.yaml': yamlOf(tlsSecret('e-cert', ed25519)),
      'w-cert.yaml': yamlOf(tlsSecret('w-cert', wildcard)),
      'good-cert.yaml': yamlOf(tlsSecret('good-cert', good)),
      // The key of another certificate: a hard failure.
      'bad-cert.yaml': yamlOf(tlsSecret('bad-cert', { cert: rsa.cert, key: ecdsa.key })),
      'rot-cert.yaml': yamlOf(tlsSecret('rot-cert', rotatedBefore)),
    });
    portico = await startPortico({ manifests: dir.dir });
  });

  after(async () => {
    await portico?.stop('SIGKILL');
    await pods?.close();
    await dir?.cleanup();
  });

  test('serves each Secret by SNI: RSA, ECDSA and Ed25519, precise and wildcard', async () => {
    assert.equal((await presented(portico.httpsPort, 'a.test')).fingerprint, fingerprint(rsa));
    assert.equal((await presented(portico.httpsPort, 'e.test')).fingerprint, fingerprint(ed25519));
    assert.equal((await presented(portico.httpsPort, 'B.TEST')).fingerprint, fingerprint(ecdsa));
    assert.equal((await presented(portico.httpsPort, 'x.w.test')).fingerprint, fingerprint(wildcard));
  });

  test('unknown names, clients without SNI, and a wildcard two labels down get the default certificate', async () => {
    for (const name of ['nope.test', undefined, 'y.x.w.test']) {
      const p = await presented(portico.httpsPort, name);
      assert.equal(p.subject, `CN=${DEFAULT_CERTIFICATE_CN}`, String(name));
    }
  });

  test('TLS 1.3 is negotiated by default, TLS 1.2 is accepted, TLS 1.1 is refused', async () => {
    assert.equal((await presented(portico.httpsPort, 'a.test')).protocol, 'TLSv1.3');
    // TLS 1.2 chooses the certificate through the cipher suite: the RSA one must still win.
    const tls12 = await new Promise<string | null>((resolve, reject) => {
      const s = connect({
        host: '127.0.0.1',
        port: portico.httpsPort,
        servername: 'a.test',
        rejectUnauthorized: false,
        maxVersion: 'TLSv1.2',
      });
      s.once('secureConnect', () => {
        const fp = s.getPeerX509Certificate()?.fingerprint256;
        resolve(fp === fingerprint(rsa) ? s.getProtocol() : `wrong certificate ${fp}`);
        s.end();
      });
      s.once('error', reject);
    });
    assert.equal(tls12, 'TLSv1.2');
    await assert.rejects(
      new Promise((resolve, reject) => {
        const s = connect({
          host: '127.0.0.1',
          port: portico.httpsPort,
          servername: 'a.test',
          rejectUnauthorized: false,
          minVersion: 'TLSv1',
          maxVersion: 'TLSv1.1',
        });
        s.once('secureConnect', () => {
          s.end();
          resolve(undefined);
        });
        s.once('error', reject);
      }),
    );
  });

  test('a bad Secret leaves its host on the default certificate, is reported by name, and spares the others', async () => {
    assert.equal((await presented(portico.httpsPort, 'bad.test')).subject, `CN=${DEFAULT_CERTIFICATE_CN}`);
    assert.equal((await presented(portico.httpsPort, 'good.test')).fingerprint, fingerprint(good));
    const routes = JSON.parse((await get(portico.adminPort, '/routes')).body) as {
      diagnostics: Diagnostic[];
    };
    const found = routes.diagnostics.filter((d) => d.code === 'PORTICO_WARN_TLS_SECRET_INVALID');
    assert.equal(found.length, 1, JSON.stringify(found));
    assert.equal(found[0]?.object, 'Ingress default/main');
    assert.match(found[0]?.message ?? '', /Secret default\/bad-cert cannot be used: tls\.key does not match/);
  });

  test('an HTTPS request reaches the backend with X-Forwarded-Proto: https, verified with the test CA', async () => {
    const res = await httpsGet(portico.httpsPort, 'a.test', { ca: rsa.cert });
    assert.equal(res.status, 200);
    const echo = JSON.parse(res.body) as { name: string; headers: Record<string, string> };
    assert.equal(echo.name, 'web');
    assert.equal(echo.headers['x-forwarded-proto'], 'https');
    assert.equal(echo.headers['x-forwarded-port'], String(portico.httpsPort));
  });

  test('rotation: new handshakes see the new certificate within a second, no request fails', async () => {
    const agent = new (await import('node:https')).Agent({ keepAlive: true, maxSockets: 1 });
    try {
      // A live keep-alive connection opened before the change.
      const first = await httpsGet(portico.httpsPort, 'rot.test', { agent });
      assert.equal(first.fingerprint, fingerprint(rotatedBefore));
      const failures: string[] = [];
      let changedAt: number | undefined;
      let seenAt: number | undefined;
      const loop = (async () => {
        // Bounded: at most 2,000 fresh connections or 10 s.
        const deadline = Date.now() + 10_000;
        for (let i = 0; i < 2_000 && Date.now() < deadline; i++) {
          try {
            const res = await httpsGet(portico.httpsPort, 'rot.test');
            if (res.status !== 200) failures.push(`status ${res.status}`);
            if (res.fingerprint === fingerprint(rotatedAfter) && changedAt !== undefined) {
              seenAt = Date.now();
              return;
            }
          } catch (err) {
            failures.push(String(err));
          }
        }
      })();
      await new Promise((r) => setTimeout(r, 200));
      changedAt = Date.now();
      await dir.write('rot-cert.yaml', yamlOf(tlsSecret('rot-cert', rotatedAfter)));
      await loop;
      assert.deepEqual(failures, []);
      assert.ok(seenAt !== undefined, 'the new certificate was never served');
      assert.ok(seenAt - changedAt < 1_000, `new certificate after ${seenAt - changedAt} ms`);
      // The connection opened before the change still works (and keeps its certificate).
      const again = await httpsGet(portico.httpsPort, 'rot.test', { agent });
      assert.equal(again.status, 200);
    } finally {
      agent.destroy();
    }
  });
});

describe('--default-ssl-certificate (file mode)', () => {
  const fallback = makeCertificate('fallback.test', { keyType: 'ecdsa' });
  let dir: ManifestDir;
  let portico: PorticoProcess;

  before(async () => {
    dir = await manifestDir({
      'class.yaml': yamlOf(ingressClass('portico').build()),
      'fallback.yaml': yamlOf(tlsSecret('fallback', fallback, 'certs')),
    });
    portico = await startPortico({
      manifests: dir.dir,
      args: ['--default-ssl-certificate', 'certs/fallback'],
    });
  });

  after(async () => {
    await portico?.stop('SIGKILL');
    await dir?.cleanup();
  });

  test('serves the named Secret for unknown names and clients without SNI', async () => {
    assert.equal((await presented(portico.httpsPort, 'unknown.test')).fingerprint, fingerprint(fallback));
    assert.equal((await presented(portico.httpsPort)).fingerprint, fingerprint(fallback));
  });

  test('falls back to the generated certificate when the Secret goes away', async () => {
    await dir.remove('fallback.yaml');
    const deadline = Date.now() + 5_000;
    let subject = '';
    while (Date.now() < deadline) {
      subject = (await presented(portico.httpsPort)).subject;
      if (subject === `CN=${DEFAULT_CERTIFICATE_CN}`) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(subject, `CN=${DEFAULT_CERTIFICATE_CN}`);
    await portico.waitForLog(
      (e) => e.msg === '--default-ssl-certificate not usable; serving the generated certificate',
    );
  });
});

/**
 * Client-certificate authentication (`auth-tls-*`) end to end: a real portico process in file mode,
 * CA bundles in Secrets, and real clients (node:https, node:tls, curl, openssl s_client) sending or
 * withholding certificates.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { type ClientHttp2Session, connect as http2Connect } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connect } from 'node:tls';
import { ingress, ingressClass, svc } from '../../support/builders.js';
import { caSecret, makeCa, makeCertificate, makeSignedCertificate, tlsSecret } from '../../support/certs.js';
import {
  type ManifestDir,
  manifestDir,
  type PorticoProcess,
  startPortico,
  waitUntil,
} from '../../support/portico-process.js';
import { type Pods, startPods, yamlOf } from '../portico/helpers.js';

const AUTH = 'nginx.ingress.kubernetes.io/auth-tls';

interface Answer {
  readonly status: number;
  readonly body: string;
  /** The echo backend's view of the request headers (200 answers only). */
  readonly seen: Record<string, string | undefined>;
}

interface ClientOptions {
  /** TLS server name (SNI); the Host header unless `host` is given. */
  readonly servername: string;
  readonly host?: string;
  readonly client?: { readonly cert: string; readonly key: string };
  readonly headers?: Record<string, string>;
}

/** `httpsGet` makes one request on a fresh TLS connection, presenting `client` if given. */
function httpsGet(port: number, o: ClientOptions): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        path: '/',
        servername: o.servername,
        headers: { host: o.host ?? o.servername, ...o.headers },
        rejectUnauthorized: false,
        ...(o.client !== undefined ? { cert: o.client.cert, key: o.client.key } : {}),
        agent: false,
        timeout: 5_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString();
          let seen: Record<string, string | undefined> = {};
          if (res.statusCode === 200) seen = (JSON.parse(body) as { headers: typeof seen }).headers;
          resolve({ status: res.statusCode ?? 0, body, seen });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timeout')));
    req.on('error', reject);
    req.end();
  });
}

function run(cmd: string, args: readonly string[], input = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { timeout: 10_000 }, (err, stdout) => {
      if (err !== null && stdout === '') reject(err);
      else resolve(stdout);
    });
    child.stdin?.end(input);
  });
}

/** `requestsCertificate` handshakes with openssl s_client and tells whether a CertificateRequest came. */
async function requestsCertificate(port: number, servername: string): Promise<boolean> {
  const out = await run('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', servername]);
  assert.match(out, /BEGIN CERTIFICATE|Server certificate/, 'handshake completed');
  return /Requested Signature Algorithms/.test(out);
}

describe('client certificates: auth-tls-* (file mode)', () => {
  const root = makeCa('Portico Test Root', { subject: '/O=Portico Tests/CN=Portico Test Root' });
  const intermediate = makeCa('Portico Test Intermediate', { issuer: root });
  const otherRoot = makeCa('Other Root');
  const client = makeSignedCertificate(root, 'alice', { subject: '/C=US/O=Example, Inc/CN=alice' });
  const deep = makeSignedCertificate(intermediate, 'bob');
  const stranger = makeSignedCertificate(otherRoot, 'mallory');
  const hosts = ['secure.test', 'optional.test', 'deep.test', 'broken.test', 'open.test'];
  const server = makeCertificate('secure.test', { sans: hosts });
  let pods: Pods;
  let dir: ManifestDir;
  let portico: PorticoProcess;
  let files: string;

  const authIngresses = (): Record<string, string> => ({
    'secure.yaml': yamlOf(
      ingress('secure')
        .cls('portico')
        .annotate(`${AUTH}-secret`, 'default/client-ca')
        .annotate(`${AUTH}-pass-certificate-to-upstream`, 'true')
        .host('secure.test')
        .prefix('/', svc('web', 80))
        .tls('server-cert', 'secure.test')
        .build(),
    ),
    'optional.yaml': yamlOf(
      ingress('optional')
        .cls('portico')
        .annotate(`${AUTH}-secret`, 'client-ca')
        .annotate(`${AUTH}-verify-client`, 'optional')
        .host('optional.test')
        .prefix('/', svc('web', 80))
        .tls('server-cert', 'optional.test')
        .build(),
    ),
    'deep.yaml': yamlOf(
      ingress('deep')
        .cls('portico')
        .annotate(`${AUTH}-secret`, 'client-ca')
        .annotate(`${AUTH}-verify-depth`, '2')
        .host('deep.test')
        .prefix('/', svc('web', 80))
        .tls('server-cert', 'deep.test')
        .build(),
    ),
    'broken.yaml': yamlOf(
      ingress('broken')
        .cls('portico')
        .annotate(`${AUTH}-secret`, 'no-such-ca')
        .host('broken.test')
        .prefix('/', svc('web', 80))
        .tls('server-cert', 'broken.test')
        .build(),
    ),
  });

  before(async () => {
    pods = await startPods('web');
    files = await mkdtemp(join(tmpdir(), 'portico-mtls-'));
    for (const [name, pair] of Object.entries({ client, deep, stranger })) {
      await writeFile(join(files, `${name}.crt`), name === 'deep' ? deep.chain : pair.cert);
      await writeFile(join(files, `${name}.key`), pair.key);
    }
    await writeFile(join(files, 'server.crt'), server.cert);
    dir = await manifestDir({
      'class.yaml': yamlOf(ingressClass('portico').build()),
      'services.yaml': yamlOf(...pods.objects),
      'server-cert.yaml': yamlOf(tlsSecret('server-cert', server)),
      'client-ca.yaml': yamlOf(caSecret('client-ca', root.cert)),
      'open.yaml': yamlOf(
        ingress('open')
          .cls('portico')
          .host('open.test')
          .prefix('/', svc('web', 80))
          .tls('server-cert', 'open.test')
          .build(),
      ),
    });
    portico = await startPortico({ manifests: dir.dir });
  });

  after(async () => {
    await portico?.stop('SIGKILL');
    await pods?.close();
    await dir?.cleanup();
    if (files !== undefined) await rm(files, { recursive: true, force: true });
  });

  test('no host checks client certificates: the listener does not ask for one', async () => {
    assert.equal(await requestsCertificate(portico.httpsPort, 'open.test'), false);
    assert.equal((await httpsGet(portico.httpsPort, { servername: 'open.test' })).status, 200);
  });

  test('once a host enables it, every handshake is asked for an optional certificate', async () => {
    for (const [name, text] of Object.entries(authIngresses())) await dir.write(name, text);
    await waitUntil(
      async () => (await httpsGet(portico.httpsPort, { servername: 'secure.test' })).status === 400,
      10_000,
      'secure.test requires a client certificate',
    );
    assert.equal(await requestsCertificate(portico.httpsPort, 'secure.test'), true);
    assert.equal(await requestsCertificate(portico.httpsPort, 'open.test'), true);
  });

  test('a valid certificate reaches the backend with the verdict, both DNs and the escaped PEM', async () => {
    const res = await httpsGet(portico.httpsPort, { servername: 'secure.test', client });
    assert.equal(res.status, 200, res.body);
    assert.equal(res.seen['ssl-client-verify'], 'SUCCESS');
    assert.equal(res.seen['ssl-client-subject-dn'], 'CN=alice,O=Example\\, Inc,C=US');
    assert.equal(res.seen['ssl-client-issuer-dn'], 'CN=Portico Test Root,O=Portico Tests');
    assert.equal(decodeURIComponent(res.seen['ssl-client-cert'] ?? ''), client.cert);
  });

  test('curl with --cert/--key: 200 with SUCCESS; without: 400', async () => {
    const url = `https://secure.test:${portico.httpsPort}/`;
    const common = [
      '-s',
      '--max-time',
      '5',
      '--cacert',
      join(files, 'server.crt'),
      '--resolve',
      `secure.test:${portico.httpsPort}:127.0.0.1`,
      '-w',
      '\n%{http_code}',
    ];
    const withCert = await run('curl', [
      ...common,
      '--cert',
      join(files, 'client.crt'),
      '--key',
      join(files, 'client.key'),
      url,
    ]);
    const [body, status] = withCert.split(/\n(?=\d{3}$)/);
    assert.equal(status, '200', withCert);
    assert.equal(
      (JSON.parse(body ?? '') as { headers: Record<string, string> }).headers['ssl-client-verify'],
      'SUCCESS',
    );
    const without = await run('curl', [...common, url]);
    assert.match(without, /^400 Bad Request — No required SSL certificate was sent\n\n400$/);
  });

  test('verify on: no certificate, or one from another CA → 400 like ingress-nginx', async () => {
    const none = await httpsGet(portico.httpsPort, { servername: 'secure.test' });
    assert.equal(none.status, 400);
    assert.equal(none.body, '400 Bad Request — No required SSL certificate was sent\n');
    const foreign = await httpsGet(portico.httpsPort, { servername: 'secure.test', client: stranger });
    assert.equal(foreign.status, 400);
    assert.equal(
      foreign.body,
      '400 Bad Request — The SSL certificate error: unable to get local issuer certificate\n',
    );
  });

  test('verify optional: no certificate → proxied with NONE; a bad one → 400', async () => {
    const none = await httpsGet(portico.httpsPort, { servername: 'optional.test' });
    assert.equal(none.status, 200);
    assert.equal(none.seen['ssl-client-verify'], 'NONE');
    assert.equal(none.seen['ssl-client-subject-dn'], undefined);
    const good = await httpsGet(portico.httpsPort, { servername: 'optional.test', client });
    assert.equal(good.seen['ssl-client-verify'], 'SUCCESS');
    assert.equal(good.seen['ssl-client-cert'], undefined, 'not passed without the annotation');
    assert.equal(
      (await httpsGet(portico.httpsPort, { servername: 'optional.test', client: stranger })).status,
      400,
    );
  });

  test('verify depth: a chain through an intermediate passes at depth 2 and not at depth 1', async () => {
    const atTwo = await httpsGet(portico.httpsPort, {
      servername: 'deep.test',
      client: { cert: deep.chain, key: deep.key },
    });
    assert.equal(atTwo.status, 200, atTwo.body);
    assert.equal(atTwo.seen['ssl-client-issuer-dn'], 'CN=Portico Test Intermediate');
    const atOne = await httpsGet(portico.httpsPort, {
      servername: 'secure.test',
      client: { cert: deep.chain, key: deep.key },
    });
    assert.equal(atOne.status, 400);
    assert.match(atOne.body, /certificate chain too long/);
  });

  test('a resumed TLS session keeps the client certificate (and its verdict)', async () => {
    // TLS 1.2 session-ID resumption: TLS 1.3 resumes only with tickets, off by default as in ingress-nginx.
    const first = await new Promise<Buffer>((resolve, reject) => {
      const s = connect({
        host: '127.0.0.1',
        port: portico.httpsPort,
        servername: 'deep.test',
        rejectUnauthorized: false,
        cert: deep.chain,
        key: deep.key,
        maxVersion: 'TLSv1.2',
      });
      s.once('session', (session: Buffer) => {
        resolve(session);
        s.end();
      });
      s.once('error', reject);
      s.once('secureConnect', () =>
        s.write('HEAD / HTTP/1.1\r\nhost: deep.test\r\nconnection: close\r\n\r\n'),
      );
      s.resume();
    });
    const answer = await new Promise<{ reused: boolean; head: string }>((resolve, reject) => {
      const s = connect({
        host: '127.0.0.1',
        port: portico.httpsPort,
        servername: 'deep.test',
        rejectUnauthorized: false,
        cert: deep.chain,
        key: deep.key,
        maxVersion: 'TLSv1.2',
        session: first,
      });
      let head = '';
      s.on('data', (b: Buffer) => {
        head += b.toString();
      });
      s.once('secureConnect', () =>
        s.write('GET / HTTP/1.1\r\nhost: deep.test\r\nconnection: close\r\n\r\n'),
      );
      s.once('end', () => resolve({ reused: s.isSessionReused(), head }));
      s.once('error', reject);
    });
    assert.equal(answer.reused, true, 'the session was resumed');
    assert.match(answer.head, /^HTTP\/1\.1 200 /);
    assert.match(answer.head, /"ssl-client-verify":"SUCCESS"/);
  });

  test('Host ≠ TLS name on a host that checks certificates → 421, both ways', async () => {
    const intoSecure = await httpsGet(portico.httpsPort, {
      servername: 'open.test',
      host: 'secure.test',
      client,
    });
    assert.equal(intoSecure.status, 421);
    assert.match(
      intoSecure.body,
      /^421 Misdirected Request — the TLS connection was set up for "open\.test"/,
    );
    const betweenChecked = await httpsGet(portico.httpsPort, {
      servername: 'secure.test',
      host: 'optional.test',
      client,
    });
    assert.equal(betweenChecked.status, 421);
    // Into a host without client certificates nothing is bypassed: served, as nginx does.
    const intoOpen = await httpsGet(portico.httpsPort, { servername: 'secure.test', host: 'open.test' });
    assert.equal(intoOpen.status, 200);
    // Case and port do not make a name different.
    const samePort = await httpsGet(portico.httpsPort, {
      servername: 'secure.test',
      host: `SECURE.test:${portico.httpsPort}`,
      client,
    });
    assert.equal(samePort.status, 200);
  });

  test('over HTTP/2: the verdict per stream, and 421 for a stream to another checked host on the session', async () => {
    const h2get = (session: ClientHttp2Session, authority: string): Promise<Answer> =>
      new Promise((resolve, reject) => {
        const stream = session.request({ ':path': '/', ':authority': authority });
        let status = 0;
        const chunks: Buffer[] = [];
        stream.setTimeout(5_000, () => stream.close());
        stream.on('response', (headers) => {
          status = Number(headers[':status']);
        });
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          const body = Buffer.concat(chunks).toString();
          const seen = status === 200 ? (JSON.parse(body) as { headers: Answer['seen'] }).headers : {};
          resolve({ status, body, seen });
        });
        stream.on('error', reject);
      });
    const open = (cert?: typeof client): ClientHttp2Session =>
      http2Connect(`https://127.0.0.1:${portico.httpsPort}`, {
        servername: 'secure.test',
        rejectUnauthorized: false,
        ...(cert !== undefined ? { cert: cert.cert, key: cert.key } : {}),
      });
    const withCert = open(client);
    try {
      assert.equal(withCert.alpnProtocol ?? 'h2', 'h2');
      const ok = await h2get(withCert, 'secure.test');
      assert.equal(ok.status, 200, ok.body);
      assert.equal(ok.seen['ssl-client-verify'], 'SUCCESS');
      assert.equal(ok.seen['ssl-client-subject-dn'], 'CN=alice,O=Example\\, Inc,C=US');
      // HTTP/2 clients reuse a connection for every name its certificate covers (RFC 9113 §9.1.1).
      const coalesced = await h2get(withCert, 'optional.test');
      assert.equal(coalesced.status, 421);
    } finally {
      withCert.close();
    }
    const without = open();
    try {
      assert.equal((await h2get(without, 'secure.test')).status, 400);
    } finally {
      without.close();
    }
  });

  test('a host without client auth on the same listener works without a certificate, and gets no verdict', async () => {
    const res = await httpsGet(portico.httpsPort, { servername: 'open.test' });
    assert.equal(res.status, 200);
    assert.equal(res.seen['ssl-client-verify'], undefined);
  });

  test('spoofed ssl-client-* headers are stripped, on every host', async () => {
    const spoof = {
      'ssl-client-verify': 'SUCCESS',
      'ssl-client-subject-dn': 'CN=admin',
      'SSL-Client-Cert': 'x',
    };
    const open = await httpsGet(portico.httpsPort, { servername: 'open.test', headers: spoof });
    assert.equal(open.seen['ssl-client-verify'], undefined);
    assert.equal(open.seen['ssl-client-subject-dn'], undefined);
    assert.equal(open.seen['ssl-client-cert'], undefined);
    const optional = await httpsGet(portico.httpsPort, { servername: 'optional.test', headers: spoof });
    assert.equal(optional.seen['ssl-client-verify'], 'NONE');
    assert.equal(optional.seen['ssl-client-subject-dn'], undefined);
  });

  test('a missing CA Secret fails that host closed (503) and no other', async () => {
    const broken = await httpsGet(portico.httpsPort, { servername: 'broken.test', client });
    assert.equal(broken.status, 503);
    assert.match(broken.body, /CA Secret default\/no-such-ca cannot be used: Secret not found/);
    assert.equal((await httpsGet(portico.httpsPort, { servername: 'secure.test', client })).status, 200);
  });

  test('WebSocket upgrades get the same check', async () => {
    const head = await new Promise<string>((resolve, reject) => {
      const s = connect({
        host: '127.0.0.1',
        port: portico.httpsPort,
        servername: 'secure.test',
        rejectUnauthorized: false,
      });
      let text = '';
      s.on('data', (b: Buffer) => {
        text += b.toString();
      });
      s.once('secureConnect', () =>
        s.write(
          'GET /ws HTTP/1.1\r\nhost: secure.test\r\nconnection: upgrade\r\nupgrade: websocket\r\n' +
            'sec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
        ),
      );
      s.once('end', () => resolve(text));
      s.once('error', reject);
      s.setTimeout(5_000, () => s.destroy(new Error('timeout')));
    });
    assert.match(head, /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.match(head, /No required SSL certificate was sent/);
  });

  test('when no host checks client certificates any more, the listener stops asking', async () => {
    for (const name of Object.keys(authIngresses())) await dir.remove(name);
    await waitUntil(
      async () => !(await requestsCertificate(portico.httpsPort, 'open.test')),
      10_000,
      'no CertificateRequest',
    );
    assert.equal((await httpsGet(portico.httpsPort, { servername: 'open.test' })).status, 200);
  });
});

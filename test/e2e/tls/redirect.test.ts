/**
 * HTTP → HTTPS redirects and HSTS end to end: a real portico process in file mode with `spec.tls`
 * hosts, the ssl-redirect annotations under both prefixes, ConfigMap keys applied live, and the
 * redirect flags.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { type AddressInfo, connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { echoService, ingress, ingressClass, svc } from '../../support/builders.js';
import { makeCertificate, tlsSecret } from '../../support/certs.js';
import {
  get,
  type HttpAnswer,
  type ManifestDir,
  manifestDir,
  type PorticoProcess,
  startPortico,
  waitUntil,
} from '../../support/portico-process.js';
import { type Pods, settingsConfigMap, startPods, yamlOf } from '../portico/helpers.js';

const N = 'nginx.ingress.kubernetes.io/';
const P = 'portico.dev/';
const STS = 'strict-transport-security';
const DEFAULT_STS = 'max-age=31536000; includeSubDomains';

/** `httpsGet` sends one request over a fresh TLS connection with SNI and Host `host`. */
function httpsGet(port: number, host: string, path: string): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        path,
        servername: host,
        headers: { host, connection: 'close' },
        rejectUnauthorized: false,
        agent: false,
        timeout: 5_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** `rawExchange` writes `head` on a fresh TCP connection and returns everything until the server closes. */
function rawExchange(port: number, head: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    socket.setTimeout(5_000, () => socket.destroy(new Error('no close within 5 s')));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.once('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.once('error', reject);
    socket.write(head);
  });
}

const backendName = (a: HttpAnswer): string => (JSON.parse(a.body) as { name: string }).name;
const upstreamHeaders = (a: HttpAnswer): Record<string, string> =>
  (JSON.parse(a.body) as { headers: Record<string, string> }).headers;

describe('HTTP → HTTPS redirects and HSTS (file mode)', () => {
  const cert = makeCertificate('secure.test', { sans: ['secure.test', 'optout.test', 'sts.test'] });
  let pods: Pods;
  let stsBackend: Server;
  let dir: ManifestDir;
  let portico: PorticoProcess;

  before(async () => {
    pods = await startPods('web', 'acme');
    // A backend that sends its own Strict-Transport-Security: Portico's must replace it.
    stsBackend = createServer((_req, res) => {
      res.writeHead(200, { [STS]: 'max-age=5', 'content-type': 'text/plain' });
      res.end('sts backend\n');
    });
    await new Promise<void>((resolve) => stsBackend.listen(0, '127.0.0.5', resolve));
    const stsPort = (stsBackend.address() as AddressInfo).port;
    const web = svc('web', 80);
    dir = await manifestDir({
      'class.yaml': yamlOf(ingressClass('portico').build()),
      'services.yaml': yamlOf(
        ...pods.objects,
        ...echoService('sts', { addresses: ['127.0.0.5'], targetPort: stsPort }),
      ),
      'cert.yaml': yamlOf(tlsSecret('cert', cert)),
      'configmap.yaml': settingsConfigMap({ 'proxy-read-timeout': '60' }),
      'ingresses.yaml': yamlOf(
        ingress('secure')
          .cls('portico')
          .host('secure.test')
          .prefix('/', web)
          .prefix('/broken', svc('missing', 80))
          .tls('cert', 'secure.test')
          .build(),
        // cert-manager's HTTP-01 solver Ingress: no spec.tls of its own, same host.
        ingress('solver')
          .cls('portico')
          .host('secure.test')
          .prefix('/.well-known/acme-challenge', svc('acme', 80))
          .build(),
        ingress('optout')
          .cls('portico')
          .annotate(`${N}ssl-redirect`, 'false')
          .host('optout.test')
          .prefix('/', web)
          .tls('cert', 'optout.test')
          .build(),
        ingress('forced')
          .cls('portico')
          .annotate(`${P}force-ssl-redirect`, 'true')
          .host('forced.test')
          .prefix('/', web)
          .build(),
        ingress('plain').cls('portico').host('plain.test').prefix('/', web).build(),
        ingress('sts')
          .cls('portico')
          .host('sts.test')
          .prefix('/', svc('sts', 80))
          .tls('cert', 'sts.test')
          .build(),
      ),
    });
    portico = await startPortico({ manifests: dir.dir, args: ['--configmap', 'ingress/portico'] });
  });

  after(async () => {
    await portico?.stop();
    await pods?.close();
    await new Promise<void>((resolve) => (stsBackend ? stsBackend.close(() => resolve()) : resolve()));
    await dir?.cleanup();
  });

  const http = (host: string, path: string, options: Parameters<typeof get>[2] = {}) =>
    get(portico.httpPort, path, { host, ...options });

  test('a TLS host: 308 to https://host/path with the query string, no port, no HSTS on plain HTTP', async () => {
    const r = await http(`secure.test:${portico.httpPort}`, '/a/b?q=1&r=%2F');
    assert.equal(r.status, 308);
    assert.equal(r.headers.location, 'https://secure.test/a/b?q=1&r=%2F');
    assert.equal(r.headers['content-type'], 'text/html');
    assert.match(r.body, /<title>308 Permanent Redirect<\/title>/);
    assert.equal(r.headers[STS], undefined);
    assert.equal(pods.backends.get('web')?.requests(), 0, 'nothing reached the backend');
  });

  test('curl sees the redirect too', async () => {
    const port = portico.httpPort;
    const { stdout } = await promisify(execFile)(
      'curl',
      [
        '-s',
        '-o',
        '/dev/null',
        '-m',
        '5',
        '-w',
        '%{http_code} %{redirect_url}',
        '--resolve',
        `secure.test:${port}:127.0.0.1`,
        `http://secure.test:${port}/path?q=1`,
      ],
      { timeout: 10_000 },
    );
    assert.equal(stdout, '308 https://secure.test/path?q=1');
  });

  test('HEAD gets the redirect without a body', async () => {
    const r = await http('secure.test', '/x', { method: 'HEAD' });
    assert.equal(r.status, 308);
    assert.equal(r.headers.location, 'https://secure.test/x');
    assert.equal(r.body, '');
  });

  test('a request with a body is redirected without reading it; the connection closes', async () => {
    const raw = await rawExchange(
      portico.httpPort,
      'POST /form HTTP/1.1\r\nHost: secure.test\r\nContent-Length: 100000\r\n\r\nabc',
    );
    assert.match(raw, /^HTTP\/1\.1 308 Permanent Redirect\r\n/);
    assert.match(raw, /\r\nlocation: https:\/\/secure\.test\/form\r\n/i);
    assert.match(raw, /\r\nconnection: close\r\n/i);
  });

  test('ACME HTTP-01 challenges are proxied to their backend, only under the trailing slash', async () => {
    const r = await http('secure.test', '/.well-known/acme-challenge/token-1');
    assert.equal(r.status, 200);
    assert.equal(backendName(r), 'acme');
    const bare = await http('secure.test', '/.well-known/acme-challenge');
    assert.equal(bare.status, 308);
  });

  test('nginx.ingress.kubernetes.io/ssl-redirect "false" keeps plain HTTP proxied', async () => {
    const r = await http('optout.test', '/x');
    assert.equal(r.status, 200);
    assert.equal(backendName(r), 'web');
  });

  test('portico.dev/force-ssl-redirect "true" redirects a host without TLS', async () => {
    const r = await http('forced.test', '/f?x=y');
    assert.equal(r.status, 308);
    assert.equal(r.headers.location, 'https://forced.test/f?x=y');
  });

  test('a host without TLS is proxied on plain HTTP, without HSTS, with X-Forwarded-Proto http', async () => {
    const r = await http('plain.test', '/p');
    assert.equal(r.status, 200);
    assert.equal(r.headers[STS], undefined);
    assert.equal(upstreamHeaders(r)['x-forwarded-proto'], 'http');
  });

  test('a request without Host is not redirected (handled as usual)', async () => {
    const raw = await rawExchange(portico.httpPort, 'GET / HTTP/1.0\r\n\r\n');
    assert.match(raw, /^HTTP\/1\.1 404 /);
  });

  test('two Host headers answer 400, never a redirect', async () => {
    const raw = await rawExchange(
      portico.httpPort,
      'GET / HTTP/1.1\r\nHost: secure.test\r\nHost: evil.test\r\nConnection: close\r\n\r\n',
    );
    assert.match(raw, /^HTTP\/1\.1 400 /);
    assert.doesNotMatch(raw, /location:/i);
  });

  test('a WebSocket upgrade on plain HTTP to a TLS host gets the same redirect, then the connection closes', async () => {
    const raw = await rawExchange(
      portico.httpPort,
      'GET /ws HTTP/1.1\r\nHost: secure.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
        'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    );
    assert.match(raw, /^HTTP\/1\.1 308 Permanent Redirect\r\n/);
    assert.match(raw, /\r\nlocation: https:\/\/secure\.test\/ws\r\n/);
    assert.match(raw, /\r\nconnection: close\r\n/);
  });

  test('HTTPS on a TLS host: proxied with HSTS and X-Forwarded-Proto https', async () => {
    const r = await httpsGet(portico.httpsPort, 'secure.test', '/s');
    assert.equal(r.status, 200);
    assert.equal(r.headers[STS], DEFAULT_STS);
    assert.equal(upstreamHeaders(r)['x-forwarded-proto'], 'https');
  });

  test('HTTPS built-in answers on a TLS host carry HSTS too (503 for a missing Service)', async () => {
    const r = await httpsGet(portico.httpsPort, 'secure.test', '/broken');
    assert.equal(r.status, 503);
    assert.equal(r.headers[STS], DEFAULT_STS);
  });

  test('HTTPS on a host without TLS: no HSTS', async () => {
    const r = await httpsGet(portico.httpsPort, 'plain.test', '/');
    assert.equal(r.status, 200);
    assert.equal(r.headers[STS], undefined);
  });

  test("the upstream's own Strict-Transport-Security is replaced by Portico's", async () => {
    const r = await httpsGet(portico.httpsPort, 'sts.test', '/');
    assert.equal(r.status, 200);
    assert.equal(r.body, 'sts backend\n');
    assert.equal(r.headers[STS], DEFAULT_STS);
  });

  describe('ConfigMap keys apply live', () => {
    const configure = (data: Record<string, string>) => dir.write('configmap.yaml', settingsConfigMap(data));

    test('http-redirect-code "302"', async () => {
      await configure({ 'http-redirect-code': '302' });
      await waitUntil(async () => (await http('secure.test', '/')).status === 302, 10_000, '302');
      const r = await http('secure.test', '/c');
      assert.equal(r.headers.location, 'https://secure.test/c');
      assert.match(r.body, /302 Found/);
    });

    test('hsts-preload "true" adds preload; hsts "false" removes the header', async () => {
      await configure({ 'hsts-preload': 'true' });
      await waitUntil(
        async () =>
          (await httpsGet(portico.httpsPort, 'secure.test', '/')).headers[STS] === `${DEFAULT_STS}; preload`,
        10_000,
        'preload',
      );
      await configure({ hsts: 'false' });
      await waitUntil(
        async () => (await httpsGet(portico.httpsPort, 'secure.test', '/')).headers[STS] === undefined,
        10_000,
        'no HSTS',
      );
      // With HSTS off, the upstream's own header passes through untouched.
      assert.equal((await httpsGet(portico.httpsPort, 'sts.test', '/')).headers[STS], 'max-age=5');
    });

    test('a trusted proxy saying X-Forwarded-Proto: https is not redirected (TLS terminated in front)', async () => {
      await configure({ 'use-forwarded-headers': 'true' });
      await waitUntil(
        async () =>
          (await http('secure.test', '/', { headers: { 'x-forwarded-proto': 'https' } })).status === 200,
        10_000,
        'trusted https',
      );
      assert.equal((await http('secure.test', '/')).status, 308, 'without the header: redirected');
    });

    test('ssl-redirect "false" turns TLS-host redirects off; force-ssl-redirect annotations still redirect', async () => {
      await configure({ 'ssl-redirect': 'false' });
      await waitUntil(async () => (await http('secure.test', '/')).status === 200, 10_000, 'no redirect');
      assert.equal(backendName(await http('secure.test', '/')), 'web');
      assert.equal((await http('forced.test', '/')).status, 308);
    });

    test('force-ssl-redirect "true" redirects every host', async () => {
      await configure({ 'force-ssl-redirect': 'true' });
      await waitUntil(async () => (await http('plain.test', '/')).status === 308, 10_000, 'forced');
      assert.equal((await http('plain.test', '/z')).headers.location, 'https://plain.test/z');
    });
  });
});

describe('redirect flags', () => {
  let dir: ManifestDir;
  let portico: PorticoProcess;
  before(async () => {
    dir = await manifestDir({
      'class.yaml': yamlOf(ingressClass('portico').build()),
      'ingress.yaml': yamlOf(
        ingress('secure')
          .cls('portico')
          .host('secure.test')
          .prefix('/', svc('web', 80))
          .tls('cert', 'secure.test')
          .build(),
      ),
    });
    portico = await startPortico({
      manifests: dir.dir,
      args: ['--http-redirect-code', '301', '--https-redirect-port', '8443', '--hsts', 'max-age=60'],
    });
  });
  after(async () => {
    await portico?.stop();
    await dir?.cleanup();
  });

  test('--http-redirect-code 301 and --https-redirect-port 8443', async () => {
    const r = await get(portico.httpPort, '/p?q', { host: `secure.test:${portico.httpPort}` });
    assert.equal(r.status, 301);
    assert.equal(r.headers.location, 'https://secure.test:8443/p?q');
    assert.match(r.body, /301 Moved Permanently/);
  });

  test('--hsts max-age=60 (the Secret is missing: the default certificate serves, HSTS all the same)', async () => {
    const r = await httpsGet(portico.httpsPort, 'secure.test', '/');
    assert.equal(r.headers[STS], 'max-age=60');
  });
});

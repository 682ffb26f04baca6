/**
 * HTTP/2 on the HTTPS listener, end to end through the real binary in file mode: ALPN (h2 and
 * http/1.1 on one port, node and curl and openssl clients), multiplexed routing, bodies both ways,
 * built-in answers, client resets, WebSocket over HTTP/1.1 beside it, `use-http2` live, and
 * GOAWAY on shutdown.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { ClientHttp2Session } from 'node:http2';
import { after, before, describe, test } from 'node:test';
import { WebSocket } from 'ws';
import type { Echo } from '../../support/backends.js';
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
import { h2Request, h2Session, runTool, sClient, tlsHandshake } from './clients.js';

/** The manifests: a.test/ → web, b.test/api → api, both behind one certificate. */
async function setup(pods: Pods, configMap: Record<string, string> = {}): Promise<ManifestDir> {
  const cert = makeCertificate('a.test', { sans: ['a.test', 'b.test'] });
  const main = ingress('main')
    .cls('portico')
    .host('a.test')
    .prefix('/', svc('web', 80))
    .host('b.test')
    .prefix('/api', svc('api', 80))
    .tls('cert', 'a.test', 'b.test');
  return manifestDir({
    'class.yaml': yamlOf(ingressClass('portico').build()),
    'services.yaml': yamlOf(...pods.objects),
    'ingress.yaml': yamlOf(main.build()),
    'cert.yaml': yamlOf(tlsSecret('cert', cert)),
    'settings.yaml': settingsConfigMap(configMap),
  });
}

const echoOf = (body: Buffer): Echo => JSON.parse(body.toString()) as Echo;

describe('HTTP/2 on the HTTPS listener (file mode)', () => {
  let pods: Pods;
  let dir: ManifestDir;
  let portico: PorticoProcess;
  let session: ClientHttp2Session | undefined;
  const port = () => portico.httpsPort;

  before(async () => {
    pods = await startPods('web', 'api');
    dir = await setup(pods);
    portico = await startPortico({ manifests: dir.dir, args: ['--configmap', 'ingress/portico'] });
  });

  after(async () => {
    session?.destroy();
    await portico?.stop('SIGKILL');
    await pods?.close();
    await dir?.cleanup();
  });

  const shared = async (): Promise<ClientHttp2Session> => {
    if (session === undefined || session.closed || session.destroyed)
      session = await h2Session(port(), 'a.test');
    return session;
  };

  test('ALPN: h2 for an HTTP/2 client, http/1.1 for an HTTP/1.1 client, on the same port', async () => {
    const h2 = await shared();
    assert.equal(h2.alpnProtocol, 'h2');
    const res = await h2Request(h2, { ':path': '/', ':authority': 'a.test' });
    assert.equal(res.status, 200);
    assert.equal(echoOf(res.body).name, 'web');
    assert.deepEqual(await tlsHandshake(port(), { servername: 'a.test', ALPNProtocols: ['http/1.1'] }), {
      protocol: 'TLSv1.3',
      alpn: 'http/1.1',
    });
    // An HTTP/1.1 client that sends no ALPN at all is served too.
    const h1 = await runTool('curl', [
      '-sk',
      '--http1.1',
      '--no-alpn',
      '--resolve',
      `a.test:${port()}:127.0.0.1`,
      '-o',
      '/dev/null',
      '-w',
      '%{http_version} %{http_code}',
      `https://a.test:${port()}/`,
    ]);
    assert.equal(h1.output, '1.1 200');
  });

  test('curl negotiates HTTP/2 with --http2 and HTTP/1.1 with --http1.1', async () => {
    const curl = (flag: string) =>
      runTool('curl', [
        '-sk',
        flag,
        '--resolve',
        `a.test:${port()}:127.0.0.1`,
        '-o',
        '/dev/null',
        '-w',
        '%{http_version} %{http_code}',
        `https://a.test:${port()}/`,
      ]);
    assert.equal((await curl('--http2')).output, '2 200');
    assert.equal((await curl('--http1.1')).output, '1.1 200');
  });

  test('openssl s_client -alpn h2 reports ALPN protocol: h2', async () => {
    const h = await sClient(port(), 'a.test', ['-alpn', 'h2']);
    assert.equal(h.alpn, 'h2', h.output);
    assert.equal((await sClient(port(), 'a.test', ['-alpn', 'http/1.1'])).alpn, 'http/1.1');
  });

  test('streams multiplexed on one session reach the right Ingress host and path', async () => {
    const h2 = await shared();
    const asks = Array.from({ length: 24 }, (_, i) =>
      i % 2 === 0
        ? { authority: 'a.test', path: `/web/${i}`, want: 'web' }
        : { authority: 'b.test', path: `/api/${i}`, want: 'api' },
    );
    const answers = await Promise.all(
      asks.map((a) => h2Request(h2, { ':path': a.path, ':authority': a.authority })),
    );
    for (const [i, res] of answers.entries()) {
      const ask = asks[i];
      assert.equal(res.status, 200, ask?.path);
      const echo = echoOf(res.body);
      assert.equal(echo.name, ask?.want, ask?.path);
      assert.equal(echo.url, ask?.path);
    }
    // b.test has no route for /: the 404 comes from Portico, on the same session.
    const miss = await h2Request(h2, { ':path': '/', ':authority': 'b.test' });
    assert.equal(miss.status, 404);
  });

  test('upstream sees https, the :authority as Host, no pseudo-headers, and cookies joined', async () => {
    const h2 = await shared();
    const res = await h2Request(h2, {
      ':path': '/headers?x=1',
      ':authority': 'a.test',
      cookie: ['a=1', 'b=2'],
      'x-custom': 'yes',
    });
    const echo = echoOf(res.body);
    assert.equal(echo.headers['host'], 'a.test');
    assert.equal(echo.headers['x-forwarded-proto'], 'https');
    assert.equal(echo.headers['x-forwarded-host'], 'a.test');
    assert.equal(echo.headers['x-forwarded-port'], String(port()));
    assert.equal(echo.headers['cookie'], 'a=1; b=2');
    assert.equal(echo.headers['x-custom'], 'yes');
    assert.deepEqual(
      Object.keys(echo.headers).filter((k) => k.startsWith(':')),
      [],
    );
    assert.equal(echo.url, '/headers?x=1');
    assert.equal(res.headers['server'], 'portico');
    assert.equal(typeof res.headers['x-request-id'], 'string');
  });

  test('a Host header that contradicts :authority is refused with 400', async () => {
    const h2 = await shared();
    const res = await h2Request(h2, { ':path': '/', ':authority': 'a.test', host: 'b.test' });
    assert.equal(res.status, 400);
    assert.match(res.body.toString(), /Host header differs from :authority/);
  });

  test('a 1 MB POST body streams to the backend intact; a 5 MB response streams back', async () => {
    const h2 = await shared();
    const body = randomBytes(1024 * 1024);
    // No content-length: HTTP/2 needs none, the stream's end says where the body ends.
    const res = await h2Request(h2, { ':method': 'POST', ':path': '/upload', ':authority': 'a.test' }, body);
    assert.equal(res.status, 200);
    const got = JSON.parse(res.body.toString()) as { bodyBytes: number; sha256: string };
    assert.equal(got.bodyBytes, body.length);
    assert.equal(got.sha256, createHash('sha256').update(body).digest('hex'));
    const big = await h2Request(h2, { ':path': `/big?bytes=${5 * 1024 * 1024}`, ':authority': 'a.test' });
    assert.equal(big.status, 200);
    assert.equal(big.body.length, 5 * 1024 * 1024);
    assert.equal(big.headers['content-length'], String(5 * 1024 * 1024));
  });

  test('HEAD answers headers only', async () => {
    const h2 = await shared();
    const res = await h2Request(h2, { ':method': 'HEAD', ':path': '/', ':authority': 'a.test' });
    assert.equal(res.status, 200);
    assert.equal(res.body.length, 0);
    assert.ok(Number(res.headers['content-length']) > 0);
  });

  test('built-in answers (404 for an unknown host) work over HTTP/2 and the session lives on', async () => {
    const h2 = await shared();
    const res = await h2Request(h2, { ':path': '/x', ':authority': 'nobody.test' });
    assert.equal(res.status, 404);
    assert.equal(res.headers['connection'], undefined);
    assert.match(res.body.toString(), /nobody\.test/);
    const again = await h2Request(h2, { ':path': '/', ':authority': 'a.test' });
    assert.equal(again.status, 200);
    assert.equal(h2.destroyed, false);
  });

  test('a client reset (RST_STREAM) aborts the upstream request', async () => {
    const h2 = await shared();
    const web = pods.backends.get('web');
    assert.ok(web !== undefined);
    const seen = web.requests();
    const abortedBefore = web.aborted();
    const stream = h2.request({ ':path': '/hang', ':authority': 'a.test' });
    stream.on('error', () => {});
    await waitUntil(() => web.requests() > seen, 5_000, 'the request reaching the backend');
    const resetAt = Date.now();
    stream.close(0x8 /* CANCEL */);
    // The hanging request can only end if Portico closes its upstream connection.
    await waitUntil(() => web.aborted() > abortedBefore, 5_000, 'the upstream request being aborted');
    assert.ok(Date.now() - resetAt < 1_000, `aborted after ${Date.now() - resetAt} ms`);
    const after = await h2Request(h2, { ':path': '/', ':authority': 'a.test' });
    assert.equal(after.status, 200);
  });

  test('WebSocket still works over HTTP/1.1 on the TLS port', async () => {
    // ws hands its options to https.request, SNI included.
    const options = { servername: 'a.test', headers: { host: 'a.test' }, rejectUnauthorized: false };
    const ws = new WebSocket(`wss://127.0.0.1:${port()}/socket`, options);
    try {
      const echoed = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('websocket timeout')), 5_000);
        ws.once('open', () => ws.send('ping over tls'));
        ws.once('message', (data) => {
          clearTimeout(timer);
          resolve(String(data));
        });
        ws.once('error', reject);
      });
      assert.equal(echoed, 'ping over tls');
    } finally {
      ws.terminate();
    }
  });

  test('use-http2 "false" in the ConfigMap: new handshakes offer HTTP/1.1 only, live; "true" brings h2 back', async () => {
    await dir.write('settings.yaml', settingsConfigMap({ 'use-http2': 'false' }));
    await waitUntil(
      async () => (await sClient(port(), 'a.test', ['-alpn', 'h2,http/1.1'])).alpn === 'http/1.1',
      10_000,
      'ALPN http/1.1',
    );
    // A client that speaks only h2 is refused, as nginx refuses it.
    const only = await tlsHandshake(port(), { servername: 'a.test', ALPNProtocols: ['h2'] });
    assert.deepEqual(only, { error: 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL' });
    const curl = await runTool('curl', [
      '-sk',
      '--http2',
      '--resolve',
      `a.test:${port()}:127.0.0.1`,
      '-o',
      '/dev/null',
      '-w',
      '%{http_version} %{http_code}',
      `https://a.test:${port()}/`,
    ]);
    assert.equal(curl.output, '1.1 200');
    // The session opened before the change is still HTTP/2.
    if (session !== undefined && !session.destroyed) {
      assert.equal((await h2Request(session, { ':path': '/', ':authority': 'a.test' })).status, 200);
    }
    await dir.write('settings.yaml', settingsConfigMap({}));
    await waitUntil(
      async () => (await sClient(port(), 'a.test', ['-alpn', 'h2,http/1.1'])).alpn === 'h2',
      10_000,
      'ALPN h2',
    );
  });
});

describe('HTTP/2 and shutdown (file mode)', () => {
  let pods: Pods;
  let dir: ManifestDir;
  let portico: PorticoProcess;

  before(async () => {
    pods = await startPods('web', 'api');
    dir = await setup(pods);
    portico = await startPortico({ manifests: dir.dir, args: ['--drain-timeout', '5s'] });
  });

  after(async () => {
    await portico?.stop('SIGKILL');
    await pods?.close();
    await dir?.cleanup();
  });

  test('SIGTERM: the session gets GOAWAY and its request in flight finishes', async () => {
    const h2 = await h2Session(portico.httpsPort, 'a.test');
    try {
      const goaway = new Promise<number>((resolve) => h2.once('goaway', (code: number) => resolve(code)));
      const slow = h2Request(h2, { ':path': '/slow?ms=700', ':authority': 'a.test' });
      await waitUntil(
        () => (pods.backends.get('web')?.requests() ?? 0) > 0,
        5_000,
        'the slow request reaching the backend',
      );
      const exited = portico.stop('SIGTERM', 10_000);
      assert.equal(await goaway, 0, 'GOAWAY with NO_ERROR');
      const res = await slow;
      assert.equal(res.status, 200);
      assert.equal(echoOf(res.body).name, 'web');
      assert.equal(await exited, 0);
      assert.ok(
        !portico.logs.some((l) => l.msg === 'drain timeout: force-closed connections'),
        'nothing had to be forced',
      );
    } finally {
      h2.destroy();
    }
    // The admin port is gone with the process.
    await assert.rejects(get(portico.adminPort, '/readyz', { timeoutMs: 1_000 }));
  });
});

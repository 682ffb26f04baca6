/**
 * Configured redirects and host-scoped names end to end: a real portico process in file mode,
 * real echo backends, the redirect family under both prefixes (permanent and temporal redirects
 * with their codes, from-to-www both ways on HTTP and HTTPS, preserve-trailing-slash on the HTTPS
 * redirect) and server-alias serving. Expectations follow ingress-nginx's e2e tests
 * (test/e2e/annotations/redirect.go, fromtowwwredirect.go, alias.go, preservetrailingslash.go).
 */
import assert from 'node:assert/strict';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { type PeerCertificate, connect as tlsConnect } from 'node:tls';
import { ingress, ingressClass, svc } from '../../support/builders.js';
import { makeCertificate, tlsSecret } from '../../support/certs.js';
import {
  get,
  type HttpAnswer,
  type ManifestDir,
  manifestDir,
  type PorticoProcess,
  startPortico,
} from '../../support/portico-process.js';
import { type Pods, startPods, yamlOf } from '../portico/helpers.js';

const N = 'nginx.ingress.kubernetes.io/';
const P = 'portico.dev/';

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

/** `servedCertificate` is the certificate the HTTPS listener presents for SNI `name`. */
function servedCertificate(port: number, name: string): Promise<PeerCertificate> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect(
      { host: '127.0.0.1', port, servername: name, rejectUnauthorized: false },
      () => {
        const cert = socket.getPeerCertificate();
        socket.end();
        resolve(cert);
      },
    );
    socket.setTimeout(5_000, () => socket.destroy(new Error('TLS handshake timeout')));
    socket.once('error', reject);
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

describe('configured redirects and host names (file mode)', () => {
  const shopCert = makeCertificate('shop.test', { sans: ['shop.test', 'www.shop.test', 'alias.test'] });
  const trailCert = makeCertificate('trail.test', { sans: ['trail.test', 'keep.test', 'moved.test'] });
  let pods: Pods;
  let dir: ManifestDir;
  let portico: PorticoProcess;

  before(async () => {
    pods = await startPods('web', 'other', 'blog');
    const web = svc('web', 80);
    dir = await manifestDir({
      'class.yaml': yamlOf(ingressClass('portico').build()),
      'services.yaml': yamlOf(...pods.objects),
      'certs.yaml': yamlOf(tlsSecret('shop-cert', shopCert), tlsSecret('trail-cert', trailCert)),
      'ingresses.yaml': yamlOf(
        ingress('permanent')
          .cls('portico')
          .annotate(`${N}permanent-redirect`, 'http://redirect.example.com')
          .host('permanent.test')
          .prefix('/something', web)
          .build(),
        ingress('permanent-code')
          .cls('portico')
          .annotate(`${N}permanent-redirect`, 'https://new.example.com/landing')
          .annotate(`${N}permanent-redirect-code`, '308')
          .host('permanent-code.test')
          .prefix('/', web)
          .build(),
        ingress('temporal')
          .cls('portico')
          .annotate(`${P}temporal-redirect`, 'https://maintenance.example.com/')
          .host('temporal.test')
          .prefix('/', web)
          .build(),
        ingress('temporal-code')
          .cls('portico')
          .annotate(`${N}temporal-redirect`, 'https://maintenance.example.com/')
          .annotate(`${N}temporal-redirect-code`, '307')
          .annotate(`${N}permanent-redirect`, 'https://never.example.com/')
          .host('temporal-code.test')
          .prefix('/', web)
          .build(),
        // The redirect comes before the IP allow-list (127.0.0.1 is not in it), like nginx's `return`.
        ingress('guarded')
          .cls('portico')
          .annotate(`${N}permanent-redirect`, 'https://elsewhere.example.com/')
          .annotate(`${N}allowlist-source-range`, '10.0.0.0/8')
          .host('guarded.test')
          .prefix('/', web)
          .build(),
        // A TLS host: on plain HTTP the route redirect wins over the HTTPS redirect.
        ingress('moved')
          .cls('portico')
          .annotate(`${N}permanent-redirect`, 'https://moved.example.com/')
          .host('moved.test')
          .prefix('/', web)
          .tls('trail-cert', 'moved.test')
          .build(),
        ingress('shop')
          .cls('portico')
          .created('2024-01-01T00:00:00Z')
          .annotate(`${N}from-to-www-redirect`, 'true')
          .annotate(`${N}server-alias`, 'alias.test, blog.test')
          .annotate(`${N}ssl-redirect`, 'false')
          .host('shop.test')
          .prefix('/', web)
          .prefix('/other', svc('other', 80))
          .tls('shop-cert', 'shop.test')
          .build(),
        // A younger Ingress of the same host: its paths merge, its different alias is ignored.
        ingress('shop-extra')
          .cls('portico')
          .created('2024-02-01T00:00:00Z')
          .annotate(`${N}server-alias`, 'ignored.test')
          .annotate(`${N}ssl-redirect`, 'false')
          .host('shop.test')
          .prefix('/extra', svc('other', 80))
          .build(),
        ingress('blog').cls('portico').host('blog.test').prefix('/', svc('blog', 80)).build(),
        ingress('www-blog')
          .cls('portico')
          .annotate(`${P}from-to-www-redirect`, 'true')
          .host('www.news.test')
          .prefix('/', svc('blog', 80))
          .build(),
        ingress('trail')
          .cls('portico')
          .annotate(`${N}preserve-trailing-slash`, 'false')
          .host('trail.test')
          .prefix('/', web)
          .tls('trail-cert', 'trail.test')
          .build(),
        ingress('keep')
          .cls('portico')
          .host('keep.test')
          .prefix('/', web)
          .tls('trail-cert', 'keep.test')
          .build(),
      ),
    });
    portico = await startPortico({ manifests: dir.dir });
  });

  after(async () => {
    await portico?.stop();
    await pods?.close();
    await dir?.cleanup();
  });

  const http = (host: string, path: string, options: Parameters<typeof get>[2] = {}) =>
    get(portico.httpPort, path, { host, ...options });

  describe('permanent-redirect and temporal-redirect', () => {
    const cases: readonly { name: string; host: string; path: string; status: number; location: string }[] = [
      {
        name: 'permanent-redirect answers 301 with the URL as the Location (redirect.go "standard redirect code")',
        host: 'permanent.test',
        path: '/something',
        status: 301,
        location: 'http://redirect.example.com',
      },
      {
        name: 'permanent-redirect-code 308 is used, and the request path is not appended',
        host: 'permanent-code.test',
        path: '/a/b?q=1',
        status: 308,
        location: 'https://new.example.com/landing',
      },
      {
        name: 'portico.dev/temporal-redirect answers 302',
        host: 'temporal.test',
        path: '/',
        status: 302,
        location: 'https://maintenance.example.com/',
      },
      {
        name: 'temporal-redirect-code 307 is used, and temporal wins over permanent',
        host: 'temporal-code.test',
        path: '/x',
        status: 307,
        location: 'https://maintenance.example.com/',
      },
      {
        name: 'the redirect comes before the IP allow-list, as nginx’s return runs before its access phase',
        host: 'guarded.test',
        path: '/',
        status: 301,
        location: 'https://elsewhere.example.com/',
      },
      {
        name: 'on plain HTTP the route redirect wins over the HTTPS redirect of a TLS host',
        host: 'moved.test',
        path: '/p',
        status: 301,
        location: 'https://moved.example.com/',
      },
    ];
    for (const c of cases) {
      test(c.name, async () => {
        const before = pods.backends.get('web')?.requests() ?? 0;
        const r = await http(c.host, c.path);
        assert.equal(r.status, c.status);
        assert.equal(r.headers.location, c.location);
        assert.match(r.body, new RegExp(`<title>${c.status} `));
        assert.equal(pods.backends.get('web')?.requests(), before, 'the backend is never contacted');
      });
    }

    test('/explain says the redirect is the answer and no policy step runs', async () => {
      const res = await get(portico.adminPort, '/explain?host=guarded.test&path=/a&client=192.0.2.1');
      assert.equal(res.status, 200, res.body);
      const report = JSON.parse(res.body) as { steps: { step: string; verdict: string }[]; outcome: string };
      assert.deepEqual(
        report.steps.map((s) => [s.step, s.verdict]),
        [['redirect', 'redirect (301)']],
      );
      assert.equal(report.outcome, '301 redirect to https://elsewhere.example.com/');
      const www = await get(portico.adminPort, '/explain?host=www.shop.test&path=/x%3Fy');
      assert.match(
        (JSON.parse(www.body) as { outcome: string }).outcome,
        /^308 redirect to http:\/\/shop\.test\//,
      );
    });

    test('the route redirect also answers on HTTPS', async () => {
      const r = await httpsGet(portico.httpsPort, 'moved.test', '/p');
      assert.equal(r.status, 301);
      assert.equal(r.headers.location, 'https://moved.example.com/');
      assert.equal(r.headers['strict-transport-security'], 'max-age=31536000; includeSubDomains');
    });

    test('a request with a body is redirected without reading it; the connection closes', async () => {
      const raw = await rawExchange(
        portico.httpPort,
        'POST /something HTTP/1.1\r\nHost: permanent.test\r\nContent-Length: 100000\r\n\r\nabc',
      );
      assert.match(raw, /^HTTP\/1\.1 301 Moved Permanently\r\n/);
      assert.match(raw, /\r\nlocation: http:\/\/redirect\.example\.com\r\n/i);
      assert.match(raw, /\r\nconnection: close\r\n/i);
    });

    test('a WebSocket upgrade gets the same redirect, then the connection closes', async () => {
      const raw = await rawExchange(
        portico.httpPort,
        'GET /ws HTTP/1.1\r\nHost: temporal-code.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
          'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      );
      assert.match(raw, /^HTTP\/1\.1 307 Temporary Redirect\r\n/);
      assert.match(raw, /\r\nlocation: https:\/\/maintenance\.example\.com\/\r\n/);
    });

    test('two Host headers answer 400, never a redirect', async () => {
      const raw = await rawExchange(
        portico.httpPort,
        'GET / HTTP/1.1\r\nHost: permanent-code.test\r\nHost: evil.test\r\nConnection: close\r\n\r\n',
      );
      assert.match(raw, /^HTTP\/1\.1 400 /);
      assert.doesNotMatch(raw, /location:/i);
      const www = await rawExchange(
        portico.httpPort,
        'GET / HTTP/1.1\r\nHost: www.shop.test\r\nHost: evil.test\r\nConnection: close\r\n\r\n',
      );
      assert.match(www, /^HTTP\/1\.1 400 /);
    });

    test('HEAD gets the redirect without a body', async () => {
      const plain = await http('moved.test', '/p');
      assert.equal(plain.headers['strict-transport-security'], undefined, 'never on plain HTTP');
      const r = await http('permanent-code.test', '/', { method: 'HEAD' });
      assert.equal(r.status, 308);
      assert.equal(r.headers.location, 'https://new.example.com/landing');
      assert.equal(r.body, '');
    });
  });

  describe('from-to-www-redirect', () => {
    test('HTTP: www.<host> redirects to http://<host> with path and query (fromtowwwredirect.go)', async () => {
      const r = await http('www.shop.test', '/foo/?x=1');
      assert.equal(r.status, 308);
      assert.equal(r.headers.location, 'http://shop.test/foo/?x=1');
    });

    test('HTTPS: www.<host> redirects to https://<host>, served with the host’s certificate', async () => {
      const r = await httpsGet(portico.httpsPort, 'www.shop.test', '/');
      assert.equal(r.status, 308);
      assert.equal(r.headers.location, 'https://shop.test/');
      assert.equal(r.headers['strict-transport-security'], 'max-age=31536000; includeSubDomains');
      const cert = await servedCertificate(portico.httpsPort, 'www.shop.test');
      assert.match(cert.subjectaltname ?? '', /DNS:www\.shop\.test/);
    });

    test('the host itself is served (HTTP and HTTPS)', async () => {
      const plain = await http('shop.test', '/');
      assert.equal(plain.status, 200);
      assert.equal(backendName(plain), 'web');
      const secure = await httpsGet(portico.httpsPort, 'shop.test', '/');
      assert.equal(secure.status, 200);
    });

    test('a www rule host redirects the bare name to www (the other way)', async () => {
      const r = await http('news.test', '/a');
      assert.equal(r.status, 308);
      assert.equal(r.headers.location, 'http://www.news.test/a');
      const served = await http('www.news.test', '/a');
      assert.equal(backendName(served), 'blog');
    });
  });

  describe('server-alias', () => {
    test('an alias is served exactly like its host, path by path (alias.go)', async () => {
      for (const [path, backend] of [
        ['/', 'web'],
        ['/other', 'other'],
        ['/extra', 'other'],
      ] as const) {
        const r = await http('alias.test', path);
        assert.equal(r.status, 200, path);
        assert.equal(backendName(r), backend, path);
      }
    });

    test('an alias that is a rule host of its own keeps its own routes', async () => {
      const r = await http('blog.test', '/other');
      assert.equal(backendName(r), 'blog');
    });

    test('the younger Ingress’s alias is ignored', async () => {
      const r = await http('ignored.test', '/');
      assert.equal(r.status, 404);
    });

    test('an alias gets its host’s certificate and routes on HTTPS', async () => {
      const r = await httpsGet(portico.httpsPort, 'alias.test', '/other');
      assert.equal(r.status, 200);
      assert.equal(backendName(r), 'other');
      const cert = await servedCertificate(portico.httpsPort, 'alias.test');
      assert.match(cert.subjectaltname ?? '', /DNS:alias\.test/);
    });
  });

  describe('preserve-trailing-slash on the HTTPS redirect', () => {
    test('"false" drops the trailing slash, as ingress-nginx does by default', async () => {
      const r = await http('trail.test', '/docs/');
      assert.equal(r.status, 308);
      assert.equal(r.headers.location, 'https://trail.test/docs');
    });

    test('"false" turns / into the bare origin', async () => {
      const r = await http('trail.test', '/');
      assert.equal(r.headers.location, 'https://trail.test');
    });

    test('Portico keeps it by default (preservetrailingslash.go expects https://host/)', async () => {
      const r = await http('keep.test', '/');
      assert.equal(r.status, 308);
      assert.equal(r.headers.location, 'https://keep.test/');
      const docs = await http('keep.test', '/docs/');
      assert.equal(docs.headers.location, 'https://keep.test/docs/');
    });
  });
});

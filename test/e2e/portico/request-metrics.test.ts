/**
 * Per-request metrics end to end: a real portico process answers 200 (proxied), 404 (no route)
 * and 503 (a Service without endpoints); `/metrics` on the admin port counts each request once,
 * under its route's labels, with the folded method and the status class. The certificate expiry
 * gauge follows the TLS Secrets in use.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { WebSocket } from 'ws';
import { ingress, ingressClass, service, svc } from '../../support/builders.js';
import { makeCertificate, type TestCertificate, tlsSecret } from '../../support/certs.js';
import {
  get,
  type ManifestDir,
  manifestDir,
  type PorticoProcess,
  startPortico,
  waitUntil,
} from '../../support/portico-process.js';
import { type Pods, startPods, yamlOf } from './helpers.js';

interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** `parseExposition` reads Prometheus text format samples (enough for prom-client's output). */
function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null) throw new Error(`unparsed exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1] as string] = l[2] as string;
    samples.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return samples;
}

/** `seriesValue` is the value of the one sample with exactly these labels, or undefined. */
function seriesValue(
  samples: readonly Sample[],
  name: string,
  labels: Record<string, string>,
): number | undefined {
  const wanted = Object.entries(labels);
  const found = samples.filter(
    (s) =>
      s.name === name &&
      Object.keys(s.labels).length === wanted.length &&
      wanted.every(([k, v]) => s.labels[k] === v),
  );
  assert.ok(found.length <= 1, `${name} ${JSON.stringify(labels)} is one series`);
  return found[0]?.value;
}

async function scrape(port: number): Promise<Sample[]> {
  const res = await get(port, '/metrics');
  assert.equal(res.status, 200);
  return parseExposition(res.body);
}

/** `send` sends one request with a body and returns status and body length. */
function send(
  port: number,
  host: string,
  method: string,
  body: string,
): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path: '/', method, agent: false, headers: { host, connection: 'close' } },
      (res) => {
        let bytes = 0;
        res.on('data', (c: Buffer) => {
          bytes += c.length;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const shop = { ingress: 'default/shop', namespace: 'default', service: 'web' };
const idle = { ingress: 'default/idle', namespace: 'default', service: 'idle' };
const none = { ingress: '', namespace: '', service: '' };

describe('request metrics (file mode)', () => {
  let pods: Pods;
  let dir: ManifestDir;
  let portico: PorticoProcess;
  let certificate: TestCertificate;

  before(async () => {
    pods = await startPods('web');
    certificate = makeCertificate('secure.test');
    dir = await manifestDir({
      'class.yaml': yamlOf(ingressClass('portico').build()),
      'services.yaml': yamlOf(...pods.objects, service('idle').port(80).build()),
      'shop.yaml': yamlOf(
        ingress('shop').cls('portico').host('shop.test').prefix('/', svc('web', 80)).build(),
        // A Service without endpoints: 503.
        ingress('idle').cls('portico').host('idle.test').prefix('/', svc('idle', 80)).build(),
        ingress('ws').cls('portico').host('ws.test').prefix('/', svc('web', 80)).build(),
      ),
      'secure.yaml': yamlOf(
        tlsSecret('secure-tls', certificate),
        ingress('secure')
          .cls('portico')
          .tls('secure-tls', 'secure.test')
          .host('secure.test')
          .prefix('/', svc('web', 80))
          .build(),
      ),
    });
    portico = await startPortico({ manifests: dir.dir });
  });

  after(async () => {
    await portico?.stop('SIGKILL');
    await pods?.close();
    await dir?.cleanup();
  });

  test('each request counts once under its route, folded method and status class', async () => {
    const port = portico.httpPort;
    let shopBytes = 0;
    for (let i = 0; i < 3; i++) {
      const res = await get(port, `/items/${i}?q=${i}`, { host: 'shop.test' });
      assert.equal(res.status, 200);
      shopBytes += Buffer.byteLength(res.body);
    }
    const posted = await send(port, 'shop.test', 'POST', 'hello');
    assert.equal(posted.status, 200);
    const purged = await send(port, 'shop.test', 'PURGE', '');
    assert.equal(purged.status, 200);
    shopBytes += posted.bytes + purged.bytes;
    let notFoundBytes = 0;
    for (let i = 0; i < 2; i++) {
      const res = await get(port, '/', { host: `nobody-${i}.test` });
      assert.equal(res.status, 404);
      notFoundBytes += Buffer.byteLength(res.body);
    }
    assert.equal((await get(port, '/', { host: 'idle.test' })).status, 503);

    // Counted when the response closes on Portico's side, which may trail the client's last byte.
    await waitUntil(
      async () =>
        seriesValue(await scrape(portico.adminPort), 'portico_requests_total', {
          ...idle,
          method: 'GET',
          status: '5xx',
        }) === 1,
      5_000,
      'the last request is counted',
    );
    const s = await scrape(portico.adminPort);
    const requests = (labels: Record<string, string>): number | undefined =>
      seriesValue(s, 'portico_requests_total', labels);
    assert.equal(requests({ ...shop, method: 'GET', status: '2xx' }), 3);
    assert.equal(requests({ ...shop, method: 'POST', status: '2xx' }), 1);
    assert.equal(requests({ ...shop, method: 'OTHER', status: '2xx' }), 1, 'PURGE is folded to OTHER');
    assert.equal(requests({ ...none, method: 'GET', status: '4xx' }), 2);
    assert.equal(requests({ ...idle, method: 'GET', status: '5xx' }), 1);
    assert.equal(
      s.filter((x) => x.name === 'portico_requests_total').length,
      5,
      'no other request series (no path, host or client label)',
    );

    const duration = (suffix: string, labels: Record<string, string>): number | undefined =>
      seriesValue(s, `portico_request_duration_seconds${suffix}`, labels);
    assert.equal(duration('_count', { ...shop, status: '2xx' }), 5);
    assert.equal(duration('_bucket', { ...shop, status: '2xx', le: '+Inf' }), 5);
    assert.equal(duration('_count', { ...none, status: '4xx' }), 2);
    assert.equal(duration('_count', { ...idle, status: '5xx' }), 1);

    assert.equal(seriesValue(s, 'portico_upstream_response_duration_seconds_count', shop), 5);
    assert.equal(
      seriesValue(s, 'portico_upstream_response_duration_seconds_count', idle),
      undefined,
      'no upstream answered the 503',
    );
    assert.equal(seriesValue(s, 'portico_request_bytes_total', shop), 5);
    assert.equal(seriesValue(s, 'portico_response_bytes_total', shop), shopBytes);
    assert.equal(seriesValue(s, 'portico_response_bytes_total', none), notFoundBytes);
  });

  test('a WebSocket upgrade counts once, with the upstream status 101, when the tunnel opens', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${portico.httpPort}/chat`, { headers: { host: 'ws.test' } });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve()).once('error', reject);
    });
    const wsRoute = { ingress: 'default/ws', namespace: 'default', service: 'web' };
    await waitUntil(
      async () =>
        seriesValue(await scrape(portico.adminPort), 'portico_requests_total', {
          ...wsRoute,
          method: 'GET',
          status: '1xx',
        }) === 1,
      5_000,
      'the upgrade is counted',
    );
    ws.close();
    const s = await scrape(portico.adminPort);
    assert.equal(seriesValue(s, 'portico_upstream_response_duration_seconds_count', wsRoute), 1);
    assert.equal(
      seriesValue(s, 'portico_response_bytes_total', wsRoute),
      undefined,
      'tunnel bytes are not counted',
    );
  });

  test('active connections count open client connections', async () => {
    const gauge = async (): Promise<number | undefined> =>
      seriesValue(await scrape(portico.adminPort), 'portico_active_connections', {});
    await waitUntil(async () => (await gauge()) === 0, 5_000, 'no connection open');
    const sockets: Socket[] = [];
    for (let i = 0; i < 2; i++) {
      const socket = connect(portico.httpPort, '127.0.0.1');
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve).once('error', reject);
      });
      sockets.push(socket);
    }
    await waitUntil(async () => (await gauge()) === 2, 5_000, 'two connections open');
    for (const socket of sockets) socket.destroy();
    await waitUntil(async () => (await gauge()) === 0, 5_000, 'connections closed');
  });

  test('certificate expiry: the notAfter of each Secret in use; its series and the Ingress series go with the Ingress', async () => {
    const notAfter = Date.parse(new X509Certificate(certificate.cert).validTo) / 1_000;
    const expiry = async (): Promise<number | undefined> =>
      seriesValue(await scrape(portico.adminPort), 'portico_ssl_certificate_expiry_timestamp_seconds', {
        namespace: 'default',
        secret: 'secure-tls',
      });
    assert.equal(await expiry(), notAfter);
    // A TLS host answers plain HTTP with a redirect: a 3xx of the Ingress.
    assert.equal((await get(portico.httpPort, '/', { host: 'secure.test' })).status, 308);
    const secure = {
      ingress: 'default/secure',
      namespace: 'default',
      service: 'web',
      method: 'GET',
      status: '3xx',
    };
    const redirects = async (): Promise<number | undefined> =>
      seriesValue(await scrape(portico.adminPort), 'portico_requests_total', secure);
    await waitUntil(async () => (await redirects()) === 1, 5_000, 'the redirect is counted');
    // The Secret stays; the only Ingress using it goes, and with it its request series.
    await dir.write('secure.yaml', yamlOf(tlsSecret('secure-tls', certificate)));
    await waitUntil(async () => (await expiry()) === undefined, 10_000, 'the series is removed');
    assert.equal(await redirects(), undefined, 'the deleted Ingress has no request series');
  });
});

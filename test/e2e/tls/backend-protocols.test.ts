/**
 * Backend protocols end to end (`backend-protocol`, `proxy-ssl-*`): a real portico process in
 * file mode in front of a node:https backend, a node:http2 cleartext backend and grpc-js servers
 * (cleartext and TLS). The clients here speak HTTP/1.1 to Portico; gRPC frames and trailers
 * cross that leg as a chunked body and chunked trailers.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { request } from 'node:http';
import { createServer as createH2Server, type Http2Server } from 'node:http2';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { type AddressInfo, connect } from 'node:net';
import type { Duplex } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import type { TLSSocket } from 'node:tls';
import type { KubeObject, Secret } from '../../../src/model/objects.js';
import { echoService, ingress, ingressClass, svc } from '../../support/builders.js';
import { makeCertificate } from '../../support/certs.js';
import { frame, type GrpcBackend, startGrpcBackend, unframe } from '../../support/grpc.js';
import {
  type ManifestDir,
  manifestDir,
  type PorticoProcess,
  startPortico,
} from '../../support/portico-process.js';
import { yamlOf } from '../portico/helpers.js';

const A = 'nginx.ingress.kubernetes.io/';

function caSecret(name: string, pem: string, namespace = 'default'): Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace },
    type: 'Opaque',
    data: { 'ca.crt': Buffer.from(pem).toString('base64') },
  };
}

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
  readonly trailers: Record<string, string | undefined>;
}

/** `send` makes one HTTP/1.1 request to Portico on a fresh connection. */
function send(
  port: number,
  host: string,
  path: string,
  options: { method?: string; body?: Buffer | string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: options.method ?? 'GET',
        agent: false,
        headers: { host, connection: 'close', ...options.headers },
        timeout: 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
            trailers: res.trailers,
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`request to ${host}${path} timed out`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

function json(answer: Answer): Record<string, unknown> {
  assert.equal(answer.status, 200, answer.body.toString());
  return JSON.parse(answer.body.toString()) as Record<string, unknown>;
}

function listen(server: HttpsServer | Http2Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );
}

describe('backend protocols (file mode)', () => {
  // The HTTPS backend's certificate names the default proxy-ssl-name and one custom name.
  const backendCert = makeCertificate('secure.default.svc', { sans: ['secure.default.svc', 'custom.name'] });
  const otherCa = makeCertificate('unrelated.test');
  const grpcsCert = makeCertificate('grpcs.default.svc');
  let https: HttpsServer;
  let h2c: Http2Server;
  let grpcPlain: GrpcBackend;
  let grpcTls: GrpcBackend;
  let dir: ManifestDir;
  let portico: PorticoProcess;

  before(async () => {
    https = createHttpsServer({ cert: backendCert.cert, key: backendCert.key }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        res.setHeader('content-type', 'application/json');
        res.end(
          JSON.stringify({
            servername: (req.socket as TLSSocket).servername || null,
            httpVersion: req.httpVersion,
            host: req.headers.host,
            xfp: req.headers['x-forwarded-proto'],
            xff: req.headers['x-forwarded-for'],
            te: req.headers.te ?? null,
            body: Buffer.concat(chunks).toString(),
          }),
        );
      });
    });
    // A WebSocket-style upgrade over TLS: 101, then the socket echoes what it gets.
    https.on('upgrade', (req, socket: Duplex) => {
      const sni = (socket as TLSSocket).servername || 'none';
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\nx-sni: ${sni}\r\n\r\n`,
      );
      socket.pipe(socket);
      req.resume();
    });
    h2c = createH2Server((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        res.setHeader('content-type', 'application/json');
        res.end(
          JSON.stringify({
            httpVersion: req.httpVersion,
            authority: req.headers[':authority'],
            xfp: req.headers['x-forwarded-proto'],
            body: Buffer.concat(chunks).toString(),
          }),
        );
      });
    });
    const [httpsPort, h2cPort] = await Promise.all([listen(https), listen(h2c)]);
    grpcPlain = await startGrpcBackend();
    grpcTls = await startGrpcBackend(grpcsCert);

    const services: KubeObject[] = [
      ...echoService('secure', { port: 443, targetPort: httpsPort }),
      ...echoService('h2c', { port: 80, targetPort: h2cPort }),
      ...echoService('grpc', { port: 50051, targetPort: grpcPlain.port }),
      ...echoService('grpcs', { port: 50052, targetPort: grpcTls.port }),
    ];
    const https443 = svc('secure', 443);
    const verified = (name: string, host: string, secret: string) =>
      ingress(name)
        .cls('portico')
        .annotate(`${A}backend-protocol`, 'HTTPS')
        .annotate(`${A}proxy-ssl-verify`, 'on')
        .annotate(`${A}proxy-ssl-secret`, secret)
        .host(host)
        .prefix('/', https443);
    const ingresses = [
      ingress('https-plain')
        .cls('portico')
        .annotate(`${A}backend-protocol`, 'HTTPS')
        .host('https.test')
        .prefix('/', https443),
      // The same Service port as HTTP/1.1 cleartext: its own pool, so it fails while the other works.
      ingress('https-as-http').cls('portico').host('as-http.test').prefix('/', https443),
      ingress('https-sni')
        .cls('portico')
        .annotate(`${A}backend-protocol`, 'https')
        .annotate(`${A}proxy-ssl-server-name`, 'on')
        .host('sni.test')
        .prefix('/', https443),
      verified('https-verify', 'verify.test', 'secure-ca'),
      verified('https-wrong-ca', 'wrong-ca.test', 'other-ca'),
      verified('https-missing-ca', 'missing-ca.test', 'nope'),
      verified('https-wrong-name', 'wrong-name.test', 'secure-ca').annotate(
        `${A}proxy-ssl-name`,
        'wrong.name',
      ),
      verified('https-custom-name', 'custom-name.test', 'secure-ca')
        .annotate(`${A}proxy-ssl-name`, 'custom.name')
        .annotate(`${A}proxy-ssl-server-name`, 'on'),
      verified('https-cross-ns', 'cross-ns.test', 'other/secure-ca'),
      ingress('h2c')
        .cls('portico')
        .annotate(`${A}backend-protocol`, 'H2C')
        .host('h2c.test')
        .prefix('/', svc('h2c', 80)),
      ingress('grpc')
        .cls('portico')
        .annotate(`${A}backend-protocol`, 'GRPC')
        .host('grpc.test')
        .prefix('/', svc('grpc', 50051)),
      ingress('grpcs')
        .cls('portico')
        .annotate(`${A}backend-protocol`, 'GRPCS')
        .annotate(`${A}proxy-ssl-verify`, 'on')
        .annotate(`${A}proxy-ssl-secret`, 'grpcs-ca')
        .host('grpcs.test')
        .prefix('/', svc('grpcs', 50052)),
    ];
    dir = await manifestDir({
      'class.yaml': yamlOf(ingressClass('portico').build()),
      'services.yaml': yamlOf(...services),
      'ingresses.yaml': yamlOf(...ingresses.map((i) => i.build())),
      'secrets.yaml': yamlOf(
        caSecret('secure-ca', backendCert.cert),
        caSecret('other-ca', otherCa.cert),
        caSecret('grpcs-ca', grpcsCert.cert),
        caSecret('secure-ca', backendCert.cert, 'other'),
      ),
    });
    portico = await startPortico({ manifests: dir.dir });
  });

  after(async () => {
    await portico?.stop('SIGKILL');
    await Promise.all([
      new Promise((r) => https?.close(r)),
      new Promise((r) => h2c?.close(r)),
      grpcPlain?.close(),
      grpcTls?.close(),
    ]);
    https?.closeAllConnections();
    await dir?.cleanup();
  });

  test('HTTPS without verification: TLS to the backend, no SNI, forwarded headers as usual', async () => {
    const got = json(await send(portico.httpPort, 'https.test', '/x', { method: 'POST', body: 'hello' }));
    assert.equal(got.servername, null, 'no SNI unless proxy-ssl-server-name is on');
    assert.equal(got.httpVersion, '1.1');
    assert.equal(got.host, 'https.test');
    assert.equal(got.xfp, 'http');
    assert.equal(got.xff, '127.0.0.1');
    assert.equal(got.te, null, 'no TE to an HTTP/1.1 backend');
    assert.equal(got.body, 'hello');
  });

  test('the same Service port spoken as HTTP and as HTTPS by two Ingresses gets two pools', async () => {
    for (let i = 0; i < 3; i++) {
      assert.equal((await send(portico.httpPort, 'https.test', '/')).status, 200);
      assert.equal((await send(portico.httpPort, 'as-http.test', '/')).status, 502);
    }
  });

  test('a WebSocket upgrade to an HTTPS backend goes over TLS', async () => {
    const socket = connect({ host: '127.0.0.1', port: portico.httpPort });
    try {
      await once(socket, 'connect');
      socket.write(
        'GET /ws HTTP/1.1\r\nhost: sni.test\r\nupgrade: websocket\r\nconnection: upgrade\r\n' +
          'sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n',
      );
      let received = '';
      socket.setEncoding('utf8');
      socket.on('data', (c: string) => {
        received += c;
        if (received.includes('\r\n\r\n') && !received.includes('ping')) socket.write('ping');
      });
      const deadline = Date.now() + 5_000;
      while (!received.endsWith('ping') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.match(received, /^HTTP\/1\.1 101/);
      assert.match(received, /x-sni: secure\.default\.svc/);
      assert.ok(received.endsWith('ping'), received);
    } finally {
      socket.destroy();
    }
  });

  test('proxy-ssl-server-name on sends the default name <service>.<namespace>.svc as SNI', async () => {
    const got = json(await send(portico.httpPort, 'sni.test', '/'));
    assert.equal(got.servername, 'secure.default.svc');
  });

  test('proxy-ssl-verify on: the right CA passes, a wrong CA or a wrong name answers 502', async () => {
    const ok = json(await send(portico.httpPort, 'verify.test', '/'));
    assert.equal(ok.servername, null, 'verification does not imply SNI');
    const wrongCa = await send(portico.httpPort, 'wrong-ca.test', '/');
    assert.equal(wrongCa.status, 502);
    assert.match(wrongCa.body.toString(), /backend certificate rejected/);
    const wrongName = await send(portico.httpPort, 'wrong-name.test', '/');
    assert.equal(wrongName.status, 502);
    const custom = json(await send(portico.httpPort, 'custom-name.test', '/'));
    assert.equal(custom.servername, 'custom.name');
  });

  test('a verifying route whose CA Secret is missing fails closed with 503', async () => {
    const got = await send(portico.httpPort, 'missing-ca.test', '/');
    assert.equal(got.status, 503);
    assert.match(got.body.toString(), /proxy-ssl-secret default\/nope: Secret not found/);
  });

  test('a cross-namespace proxy-ssl-secret answers 503 with the reason; other routes keep serving', async () => {
    const got = await send(portico.httpPort, 'cross-ns.test', '/');
    assert.equal(got.status, 503);
    assert.match(got.body.toString(), /Secret other\/secure-ca is in another namespace/);
    assert.equal((await send(portico.httpPort, 'verify.test', '/')).status, 200);
  });

  test('H2C: the backend sees an HTTP/2 request and the body round-trips', async () => {
    const body = 'x'.repeat(100_000);
    const got = json(await send(portico.httpPort, 'h2c.test', '/up', { method: 'POST', body }));
    assert.equal(got.httpVersion, '2.0');
    assert.equal(got.authority, 'h2c.test');
    assert.equal(got.xfp, 'http');
    assert.equal(got.body, body);
  });

  const grpcHeaders = { 'content-type': 'application/grpc', te: 'trailers' };

  for (const [protocol, host] of [
    ['GRPC', 'grpc.test'],
    ['GRPCS (verified)', 'grpcs.test'],
  ] as const) {
    test(`${protocol}: unary, server streaming and an error status, trailers relayed`, async () => {
      const unary = await send(portico.httpPort, host, '/test.Echo/Unary', {
        method: 'POST',
        body: frame({ text: 'hi' }),
        headers: grpcHeaders,
      });
      assert.equal(unary.status, 200);
      assert.match(String(unary.headers['content-type']), /^application\/grpc/);
      assert.deepEqual(unframe(unary.body), [{ text: 'hi', authority: host }]);
      assert.equal(unary.trailers['grpc-status'], '0');

      const stream = await send(portico.httpPort, host, '/test.Echo/Stream', {
        method: 'POST',
        body: frame({ text: 's', count: 3 }),
        headers: grpcHeaders,
      });
      assert.deepEqual(unframe(stream.body), [
        { text: 's', index: 0 },
        { text: 's', index: 1 },
        { text: 's', index: 2 },
      ]);
      assert.equal(stream.trailers['grpc-status'], '0');

      const missing = await send(portico.httpPort, host, '/test.Echo/Unary', {
        method: 'POST',
        body: frame({ text: 'missing' }),
        headers: grpcHeaders,
      });
      assert.equal(missing.status, 200);
      const status = missing.trailers['grpc-status'] ?? missing.headers['grpc-status'];
      const message = missing.trailers['grpc-message'] ?? missing.headers['grpc-message'];
      assert.equal(status, '5', 'NOT_FOUND');
      // grpc-message is percent-encoded on the wire (gRPC over HTTP/2 spec).
      assert.equal(decodeURIComponent(String(message)), 'no such thing');
    });
  }
});

import assert from 'node:assert/strict';
import { connect, createServer, type Server } from 'node:net';
import { after, before, test } from 'node:test';
import { type Backend, type Echo, refusedPort, startBackend } from '../../support/backends.js';
import { backendRef, endpointsOf, snapshotOf } from '../../support/fake-snapshot.js';
import { request } from '../../support/http.js';
import { type Harness, startDataPlane, warnings } from './harness.js';

let a: Backend;
let b: Backend;
let blackhole: Server;
let blackholePort: number;
let refused: number;
let h: Harness;

const route = (host: string, service: string) => ({ host, path: '/', backend: backendRef(service) });

before(async () => {
  a = await startBackend({ name: 'a', host: '127.0.0.2' });
  b = await startBackend({ name: 'b', host: '127.0.0.3', port: a.port });
  refused = await refusedPort('127.0.0.4');
  // Accepts connections and never reads: the upstream that stops reading a request body.
  blackhole = createServer((socket) => {
    socket.pause();
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => blackhole.listen(0, '127.0.0.5', resolve));
  blackholePort = (blackhole.address() as { port: number }).port;
  h = await startDataPlane({
    upstream: { readTimeoutMs: 400, sendTimeoutMs: 400 },
    client: { bodyIdleTimeoutMs: 400 },
    routes: snapshotOf([
      route('refused.test', 'refused'),
      route('retry.test', 'retry'),
      route('two.test', 'two'),
      route('one.test', 'one'),
      route('blackhole.test', 'blackhole'),
    ]),
    endpoints: endpointsOf({
      'default/refused:80': [{ host: '127.0.0.4', port: refused }],
      'default/retry:80': [
        { host: '127.0.0.4', port: refused },
        { host: b.host, port: b.port },
      ],
      'default/two:80': [
        { host: a.host, port: a.port },
        { host: b.host, port: b.port },
      ],
      'default/one:80': [{ host: a.host, port: a.port }],
      'default/blackhole:80': [{ host: '127.0.0.5', port: blackholePort }],
    }),
  });
});

after(async () => {
  await h.close();
  await Promise.all([a.close(), b.close(), new Promise<void>((resolve) => blackhole.close(() => resolve()))]);
});

function served(): number {
  return a.requests() + b.requests();
}

test('connection refused on the only endpoint is 502, logged once with route, upstream and code', async () => {
  const before = warnings(h.logs).length;
  const res = await request(h.ports.http, { path: '/x', headers: { host: 'refused.test' } });
  assert.equal(res.status, 502);
  assert.match(
    res.text(),
    /^502 Bad Gateway — Portico: connection refused \(backend default\/refused:80\)\n$/,
  );
  const logged = warnings(h.logs).slice(before);
  assert.equal(logged.length, 1);
  assert.equal(logged[0]?.['code'], 'PORTICO_ERR_UPSTREAM_CONNECT');
  assert.equal(logged[0]?.['errorCode'], 'ECONNREFUSED');
  assert.equal(logged[0]?.['upstream'], `127.0.0.4:${refused}`);
  assert.match(String(logged[0]?.['route']), /default\/test refused\.test\//);
});

test('a refused endpoint is retried on the next one, for any method, body included', async () => {
  const before = b.requests();
  for (let i = 0; i < 4; i++) {
    const res = await request(
      h.ports.http,
      i % 2 === 0
        ? { path: '/r', headers: { host: 'retry.test' } }
        : { method: 'POST', path: '/r', headers: { host: 'retry.test' }, body: 'payload' },
    );
    assert.equal(res.status, 200, `request ${i}`);
    assert.equal(res.json<Echo>().name, 'b');
    if (i % 2 === 1) assert.equal(res.json<Echo>().bodyBytes, 7);
  }
  assert.equal(b.requests() - before, 4);
});

test('a GET reset after it was sent is retried on the next endpoint (idempotent, no body)', async () => {
  const before = served();
  const res = await request(h.ports.http, { path: '/reset', headers: { host: 'two.test' } });
  assert.equal(res.status, 502);
  assert.equal(served() - before, 2, 'both endpoints saw the request');
});

test('a POST with a body is not retried once bytes were sent', async () => {
  const before = served();
  const res = await request(h.ports.http, {
    method: 'POST',
    path: '/reset',
    headers: { host: 'two.test' },
    body: Buffer.alloc(256 * 1024),
  });
  assert.equal(res.status, 502);
  assert.equal(served() - before, 1, 'only one endpoint saw the request');
});

test('a POST without a body is not retried once sent (not idempotent)', async () => {
  const before = served();
  const res = await request(h.ports.http, { method: 'POST', path: '/reset', headers: { host: 'two.test' } });
  assert.equal(res.status, 502);
  assert.equal(served() - before, 1);
});

test('upstream response headers timeout is 504', async () => {
  const res = await request(h.ports.http, { path: '/hang', headers: { host: 'one.test' } });
  assert.equal(res.status, 504);
  assert.match(res.text(), /504 Gateway Timeout — Portico: response headers timeout/);
});

test('a body timeout after the headers went out truncates the response and is never retried', async () => {
  const before = served();
  await assert.rejects(request(h.ports.http, { path: '/stall?bytes=1000', headers: { host: 'two.test' } }));
  assert.equal(served() - before, 1, 'no retry once response headers were sent');
});

test('an upstream that stops reading the request body is 504 after the send timeout', async () => {
  // Written raw: the client keeps the upload open and reads the early answer.
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = connect(h.ports.http, '127.0.0.1');
    let data = '';
    socket.on('data', (d) => {
      data += d.toString('latin1');
    });
    socket.on('close', () => resolve(data));
    socket.on('error', () => resolve(data));
    socket.write('POST /up HTTP/1.1\r\nHost: blackhole.test\r\nContent-Length: 104857600\r\n\r\n');
    const chunk = Buffer.alloc(64 * 1024);
    let sent = 0;
    const pump = (): void => {
      while (sent < 100 * 1024 * 1024 && !socket.destroyed) {
        sent += chunk.length;
        if (!socket.write(chunk)) {
          socket.once('drain', pump);
          return;
        }
      }
    };
    pump();
    setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer; got ${JSON.stringify(data.slice(0, 200))}`));
    }, 15_000).unref();
  });
  assert.match(answer, /^HTTP\/1\.1 504 /);
  assert.match(answer, /request body send timeout/);
});

test('a client that stops sending its body gets 408 after the body idle timeout', async () => {
  const answer = await new Promise<string>((resolve) => {
    const socket = connect(h.ports.http, '127.0.0.1');
    let data = '';
    socket.on('data', (d) => {
      data += d.toString('latin1');
    });
    socket.on('close', () => resolve(data));
    socket.on('error', () => resolve(data));
    socket.write('POST /up HTTP/1.1\r\nHost: one.test\r\nContent-Length: 100\r\n\r\n0123456789');
    setTimeout(() => socket.destroy(), 10_000).unref();
  });
  assert.match(answer, /^HTTP\/1\.1 408 /);
  assert.match(answer, /client request body timeout/);
});

test('an upstream answering before reading the whole body: the response says Connection: close and the connection ends', async () => {
  const answer = await new Promise<string>((resolve) => {
    const socket = connect(h.ports.http, '127.0.0.1');
    let data = '';
    socket.on('data', (d) => {
      data += d.toString('latin1');
    });
    socket.on('close', () => resolve(data));
    socket.on('error', () => resolve(data));
    // Announce 50 MB, send 1 MB, then wait: Portico must answer and close, not stall.
    socket.write('POST /early HTTP/1.1\r\nHost: one.test\r\nContent-Length: 52428800\r\n\r\n');
    socket.write(Buffer.alloc(1024 * 1024));
    setTimeout(() => socket.destroy(), 10_000).unref();
  });
  assert.match(answer, /^HTTP\/1\.1 200 /);
  assert.match(answer, /\r\nconnection: close\r\n/i);
  assert.match(answer, /"early":true/);
});

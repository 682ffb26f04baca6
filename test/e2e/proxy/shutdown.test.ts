import assert from 'node:assert/strict';
import { connect as connectHttp2 } from 'node:http2';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import { connect as connectTls } from 'node:tls';
import WebSocket from 'ws';
import { type Backend, type Echo, startBackend } from '../../support/backends.js';
import { backendRef, endpointsOf, snapshotOf } from '../../support/fake-snapshot.js';
import { request } from '../../support/http.js';
import { type Harness, startDataPlane } from './harness.js';

async function setup(
  shutdownDelayMs: number,
  drainTimeoutMs: number,
): Promise<{ h: Harness; backend: Backend }> {
  const backend = await startBackend({ name: 'app' });
  const h = await startDataPlane({
    shutdownDelayMs,
    drainTimeoutMs,
    routes: snapshotOf([{ host: 'app.test', path: '/', backend: backendRef('app') }]),
    endpoints: endpointsOf({ 'default/app:80': [backend] }),
  });
  return { h, backend };
}

/** Opens a keep-alive connection, sends one request, resolves once the response arrived. */
async function keepAliveConnection(port: number): Promise<{ socket: Socket; closed: Promise<void> }> {
  const socket = connect(port, '127.0.0.1');
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    let data = '';
    socket.on('data', (d) => {
      data += d.toString('latin1');
      if (data.includes('\r\n\r\n') && data.endsWith('}')) resolve();
    });
    socket.once('error', reject);
    socket.write('GET /ka HTTP/1.1\r\nHost: app.test\r\n\r\n');
  });
  return { socket, closed };
}

async function refuses(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

test('shutdown: readyz fails at once, the listener accepts during the delay, in-flight requests finish with Connection: close, idle keep-alive connections close', async () => {
  const { h, backend } = await setup(600, 5_000);
  const idle = await keepAliveConnection(h.ports.http);
  const inflight = request(h.ports.http, {
    path: '/slow?ms=1200',
    headers: { host: 'app.test', connection: 'keep-alive' },
  });
  // Bounded wait until the slow request reached the backend.
  for (let i = 0; i < 200 && backend.requests() < 2; i++) await new Promise((r) => setTimeout(r, 10));

  const started = Date.now();
  const done = h.dp.shutdown();
  assert.equal((await request(h.ports.admin, { path: '/readyz' })).status, 503, 'readyz fails at once');
  assert.equal((await request(h.ports.admin, { path: '/healthz' })).status, 200, 'still alive');

  const during = await request(h.ports.http, { path: '/during', headers: { host: 'app.test' } });
  assert.equal(during.status, 200, 'new connections are served during shutdownDelayMs');

  // After the delay the listener closes: bounded poll for a refused connect.
  let refused = false;
  for (let i = 0; i < 100 && !refused; i++) {
    refused = await refuses(h.ports.http);
    if (!refused) await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(refused, 'the listener stopped accepting');
  assert.ok(Date.now() - started >= 550, 'not before shutdownDelayMs');

  await idle.closed;
  const res = await inflight;
  assert.equal(res.status, 200);
  assert.equal(res.json<Echo>().url, '/slow?ms=1200');
  assert.equal(res.headers['connection'], 'close', 'the in-flight response says Connection: close');

  await done;
  assert.ok(Date.now() - started < 4_000, 'drained before the drain timeout');
  assert.equal(h.dp.stats().pools, 0, 'pools closed');
  await backend.close();
});

test('shutdown: requests still running at drainTimeoutMs are force-closed, WebSockets too', async () => {
  const { h, backend } = await setup(0, 500);
  const hanging = request(h.ports.http, { path: '/hang', headers: { host: 'app.test' } }).then(
    () => 'answered',
    () => 'cut',
  );
  const ws = new WebSocket(`ws://127.0.0.1:${h.ports.http}/ws`, { headers: { host: 'app.test' } });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const wsClosed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
  for (let i = 0; i < 200 && backend.requests() < 2; i++) await new Promise((r) => setTimeout(r, 10));

  const started = Date.now();
  await h.dp.shutdown();
  const took = Date.now() - started;
  assert.ok(took >= 450, `waited for the drain timeout (${took} ms)`);
  assert.ok(took < 3_000, `then forced (${took} ms)`);
  assert.equal(await hanging, 'cut');
  await wsClosed;
  assert.equal(h.dp.stats().pools, 0);
  await backend.close();
});

test('shutdown: calling it twice returns the same sequence', async () => {
  const { h, backend } = await setup(0, 500);
  const first = h.dp.shutdown();
  assert.equal(h.dp.shutdown(), first);
  await first;
  await backend.close();
});

test('HTTP/2: stats().connections counts sessions and HTTP/1.1 connections on the TLS port; shutdown sends GOAWAY, the stream in flight finishes, the count returns to 0', async () => {
  const { h, backend } = await setup(0, 5_000);
  const session = connectHttp2(`https://127.0.0.1:${h.ports.https}`, { rejectUnauthorized: false });
  try {
    await new Promise<void>((resolve, reject) => {
      session.once('connect', () => resolve());
      session.once('error', reject);
    });
    const h1 = await keepAliveTlsConnection(h.ports.https);
    assert.equal(h.dp.stats().connections, 2);
    const goaway = new Promise<number>((resolve) => session.once('goaway', (code: number) => resolve(code)));
    const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const stream = session.request({ ':path': '/slow?ms=500', ':authority': 'app.test' });
      let status = 0;
      let body = '';
      stream.once('response', (headers) => {
        status = Number(headers[':status']);
      });
      stream.setEncoding('utf8');
      stream.on('data', (c: string) => {
        body += c;
      });
      stream.once('end', () => resolve({ status, body }));
      stream.once('error', reject);
    });
    for (let i = 0; i < 200 && backend.requests() < 2; i++) await new Promise((r) => setTimeout(r, 10));
    const stopped = h.dp.shutdown();
    assert.equal(await goaway, 0);
    const res = await answer;
    assert.equal(res.status, 200);
    assert.equal((JSON.parse(res.body) as Echo).url, '/slow?ms=500');
    await h1.closed;
    await stopped;
    assert.equal(h.dp.stats().connections, 0);
    assert.equal(h.logs.filter((l) => l.msg === 'drain timeout: force-closed connections').length, 0);
  } finally {
    session.destroy();
    await backend.close();
  }
});

/** Opens an HTTP/1.1 keep-alive connection over TLS and sends one request. */
async function keepAliveTlsConnection(port: number): Promise<{ closed: Promise<void> }> {
  const socket = connectTls({
    host: '127.0.0.1',
    port,
    rejectUnauthorized: false,
    ALPNProtocols: ['http/1.1'],
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    let data = '';
    socket.on('data', (d: Buffer) => {
      data += d.toString('latin1');
      if (data.includes('\r\n\r\n') && data.endsWith('}')) resolve();
    });
    socket.once('error', reject);
    socket.once('secureConnect', () => socket.write('GET /ka HTTP/1.1\r\nHost: app.test\r\n\r\n'));
  });
  return { closed };
}

import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { type AddressInfo, createServer, type Server } from 'node:net';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import type { RoutePolicy } from '../../../src/model/types.js';
import { withResponseHeaders } from '../../../src/proxy/websocket.js';
import { type Backend, type Echo, refusedPort, startBackend } from '../../support/backends.js';
import { backendRef, endpointsOf, snapshotOf } from '../../support/fake-snapshot.js';
import { type Harness, startDataPlane } from './harness.js';

let echo: Backend;
let h: Harness;

/** Cookie affinity, CORS and a custom response header: what a 101 must carry as a 200 would. */
const STICKY_POLICY: RoutePolicy = {
  backendProtocol: 'HTTP',
  affinity: {
    cookieName: 'route',
    mode: 'balanced',
    conditionalSameSiteNone: false,
    changeOnFailure: false,
    canaryBehavior: 'sticky',
  },
  cors: {
    allowOrigins: ['https://app.example'],
    allowMethods: 'GET',
    allowHeaders: 'Content-Type',
    allowCredentials: true,
    maxAgeSeconds: 600,
  },
  responseHeaders: [['X-Frame-Options', 'DENY']],
};

/** A backend that answers every upgrade with a response head that never ends within 64 KiB. */
let bigHead: Server;

before(async () => {
  echo = await startBackend({ name: 'ws' });
  bigHead = createServer((socket) => {
    socket.once('data', () =>
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nX-Big: ${'a'.repeat(70_000)}`),
    );
    socket.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve) => bigHead.listen(0, '127.0.0.1', resolve));
  const bigHeadPort = (bigHead.address() as AddressInfo).port;
  const refused = await refusedPort('127.0.0.4');
  h = await startDataPlane({
    routes: snapshotOf([
      { host: 'ws.test', path: '/chat', backend: backendRef('ws') },
      { host: 'sticky.test', path: '/', backend: backendRef('ws'), policy: STICKY_POLICY },
      { host: 'retry.test', path: '/', backend: backendRef('retry') },
      { host: 'down.test', path: '/', backend: backendRef('down') },
      { host: 'big-head.test', path: '/', backend: backendRef('big-head'), policy: STICKY_POLICY },
    ]),
    endpoints: endpointsOf({
      'default/ws:80': [echo],
      'default/retry:80': [
        { host: '127.0.0.4', port: refused },
        { host: echo.host, port: echo.port },
      ],
      'default/down:80': [{ host: '127.0.0.4', port: refused }],
      'default/big-head:80': [{ host: '127.0.0.1', port: bigHeadPort }],
    }),
  });
});

after(async () => {
  await h.close();
  await echo.close();
  await new Promise((resolve) => bigHead.close(resolve));
});

function open(host: string, path: string): WebSocket {
  return new WebSocket(`ws://127.0.0.1:${h.ports.http}${path}`, {
    headers: { host },
    handshakeTimeout: 10_000,
  });
}

function firstMessage(ws: WebSocket): Promise<{ data: Buffer; binary: boolean }> {
  return new Promise((resolve, reject) => {
    ws.once('message', (data, binary) => resolve({ data: data as Buffer, binary }));
    ws.once('error', reject);
  });
}

test('a WebSocket is proxied both ways (text and binary) and closes cleanly', async (t) => {
  t.plan(4);
  const ws = open('ws.test', '/chat/room?x=1');
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const text = firstMessage(ws);
  ws.send('hello');
  const got = await text;
  t.assert.equal(got.data.toString(), 'hello');
  t.assert.equal(got.binary, false);
  const bin = firstMessage(ws);
  ws.send(Buffer.from([1, 2, 3]));
  t.assert.deepEqual([...(await bin).data], [1, 2, 3]);
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  ws.close(1000);
  t.assert.equal(await closed, 1000);
});

test('a WebSocket upgrade gets the 101 from the backend and the same forwarded headers as HTTP', async () => {
  const ws = open('ws.test', '/chat/headers?q=1');
  const upgraded = new Promise<IncomingMessage>((resolve, reject) => {
    ws.once('upgrade', resolve);
    ws.once('error', reject);
  });
  const first = firstMessage(ws);
  assert.equal((await upgraded).statusCode, 101);
  const seen = JSON.parse((await first).data.toString()) as Echo;
  ws.terminate();
  assert.equal(seen.url, '/chat/headers?q=1');
  assert.equal(seen.headers['host'], 'ws.test');
  assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
  assert.equal(seen.headers['x-forwarded-proto'], 'http');
  assert.equal(seen.headers['x-forwarded-host'], 'ws.test');
  assert.match(String(seen.headers['x-request-id']), /^[0-9a-f]{32}$/);
  assert.equal(String(seen.headers['upgrade']).toLowerCase(), 'websocket');
  assert.equal(String(seen.headers['connection']).toLowerCase(), 'upgrade');
});

test('closing the backend side closes the client side', async (t) => {
  t.plan(1);
  const ws = open('ws.test', '/chat');
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  // Closing the backend terminates its sockets, as a backend restart would.
  await echo.close();
  t.assert.equal(typeof (await closed), 'number');
  echo = await startBackend({ name: 'ws', port: echo.port });
});

test('closing the client side closes the backend side', async () => {
  const ws = open('ws.test', '/chat');
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  assert.ok(echo.connections() >= 1);
  ws.terminate();
  // Bounded wait for the proxy to close its upstream socket.
  for (let i = 0; i < 200 && echo.connections() > 0; i++) await new Promise((r) => setTimeout(r, 25));
  assert.equal(echo.connections(), 0);
});

test('an upgrade for an unknown route is the built-in 404', async () => {
  const ws = open('nobody.test', '/chat');
  const status = await new Promise<number>((resolve) => {
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.once('error', () => resolve(-1));
  });
  assert.equal(status, 404);
});

test('a refused WebSocket endpoint is retried on the next one', async () => {
  for (let i = 0; i < 2; i++) {
    const ws = open('retry.test', '/chat');
    const text = new Promise<string>((resolve, reject) => {
      ws.once('open', () => ws.send(`ping ${i}`));
      ws.once('message', (d) => resolve(String(d)));
      ws.once('error', reject);
    });
    assert.equal(await text, `ping ${i}`);
    ws.terminate();
  }
});

test('a WebSocket to a backend that refuses everywhere is 502', async () => {
  const ws = open('down.test', '/chat');
  const status = await new Promise<number>((resolve) => {
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.once('error', () => resolve(-1));
  });
  assert.equal(status, 502);
});

test('the 101 carries the affinity cookie, CORS and custom headers as a plain response would', async () => {
  const connect = (cookie?: string) =>
    new WebSocket(`ws://127.0.0.1:${h.ports.http}/chat`, {
      headers: { host: 'sticky.test', origin: 'https://app.example', ...(cookie ? { cookie } : {}) },
      handshakeTimeout: 10_000,
    });
  const upgradeOf = (ws: WebSocket) =>
    new Promise<IncomingMessage>((resolve, reject) => {
      ws.once('upgrade', resolve);
      ws.once('error', reject);
    });
  const ws = connect();
  const res = await upgradeOf(ws);
  assert.equal(res.statusCode, 101);
  const cookie = [res.headers['set-cookie'] ?? []].flat().find((c) => c.startsWith('route='));
  assert.ok(cookie !== undefined, JSON.stringify(res.headers));
  assert.equal(res.headers['access-control-allow-origin'], 'https://app.example');
  assert.equal(res.headers['access-control-allow-credentials'], 'true');
  assert.equal(res.headers['x-frame-options'], 'DENY');
  // The tunnel works after the rewritten head.
  const echoed = firstMessage(ws);
  ws.send('after the head');
  assert.equal((await echoed).data.toString(), 'after the head');
  ws.terminate();
  // A client that presents its cookie keeps its endpoint and gets no new cookie.
  const again = connect(cookie.split(';')[0]);
  const second = await upgradeOf(again);
  assert.equal(second.statusCode, 101);
  assert.equal([second.headers['set-cookie'] ?? []].flat().filter((c) => c.startsWith('route=')).length, 0);
  again.terminate();
});

test("withResponseHeaders drops replaced upstream headers and appends Portico's", () => {
  const head =
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nX-Frame-Options: SAMEORIGIN\r\n\r\n';
  assert.equal(
    withResponseHeaders(
      head,
      ['X-Frame-Options', 'DENY', 'set-cookie', 'route=a'],
      new Set(['x-frame-options']),
    ),
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nX-Frame-Options: DENY\r\nset-cookie: route=a\r\n\r\n',
  );
});

test('an upstream response head over 64 KiB (where Portico adds headers) is answered 502, not relayed', async () => {
  const ws = new WebSocket(`ws://127.0.0.1:${h.ports.http}/`, {
    headers: { host: 'big-head.test' },
    handshakeTimeout: 10_000,
  });
  const status = await new Promise<number>((resolve, reject) => {
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.once('upgrade', () => reject(new Error('upgraded')));
    ws.once('error', reject);
  });
  assert.equal(status, 502);
  ws.terminate();
});

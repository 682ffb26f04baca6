import assert from 'node:assert/strict';
import type net from 'node:net';
import { after, test } from 'node:test';
import type { L4Endpoint } from '../../../../src/l4/model.js';
import { TcpProxy, type TcpProxyOptions } from '../../../../src/l4/userspace/tcp.js';
import type { UserspaceL4Service } from '../../../../src/l4/userspace/types.js';
import { parseProxyHeader } from '../../../../src/proxy/proxy-protocol.js';
import {
  closed,
  connectTcp,
  echoOnce,
  manualClock,
  peerGone,
  refusedPort,
  startTcpBackend,
  type TcpBackend,
  tcpExchange,
  waitFor,
} from '../../../support/l4-sockets.js';
import { startNeverAcceptingListener } from '../../../support/never-accepts.js';

const HOST = '127.0.0.1';
const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

function service(
  endpoints: readonly L4Endpoint[],
  extra: Partial<UserspaceL4Service> = {},
): UserspaceL4Service {
  return { name: 'db/echo:5000/TCP', listenPort: 0, protocol: 'TCP', scheduler: 'rr', endpoints, ...extra };
}

async function backend(host = HOST, handle?: (socket: net.Socket) => void): Promise<TcpBackend> {
  const b = await startTcpBackend(host, handle);
  cleanups.push(() => b.close());
  return b;
}

async function proxy(
  svc: UserspaceL4Service,
  options: Partial<TcpProxyOptions> = {},
  host = HOST,
): Promise<TcpProxy> {
  const p = await TcpProxy.listen(svc, { host, port: 0, ...options });
  cleanups.push(() => p.close());
  return p;
}

const at = (b: TcpBackend): L4Endpoint => ({ address: b.host, port: b.port });

test('bytes sent through the proxy come back from an echo backend (IPv4)', async () => {
  const b = await backend();
  const p = await proxy(service([at(b)]));
  assert.equal(await tcpExchange(HOST, p.port, 'hello portico'), 'hello portico');
});

test('bytes sent through the proxy come back from an echo backend (IPv6)', async () => {
  const b = await backend('::1');
  const p = await proxy(service([at(b)]), {}, '::1');
  assert.equal(await tcpExchange('::1', p.port, 'hello six'), 'hello six');
});

test('connections are spread round-robin, exactly evenly, over three endpoints', async () => {
  const backends = [await backend(), await backend(), await backend()];
  const p = await proxy(service(backends.map(at)));
  for (let i = 0; i < 9; i++) assert.equal(await tcpExchange(HOST, p.port, `n${i}`), `n${i}`);
  assert.deepEqual(
    backends.map((b) => b.accepted),
    [3, 3, 3],
  );
});

test('a refused connect is retried on the next endpoint', async () => {
  const good = await backend();
  const refused = { address: HOST, port: await refusedPort(HOST) };
  const errors: string[] = [];
  const p = await proxy(service([refused, at(good)]), { onError: (m) => errors.push(m) });
  for (let i = 0; i < 4; i++) assert.equal(await tcpExchange(HOST, p.port, `r${i}`), `r${i}`);
  assert.equal(good.accepted, 4);
  assert.ok(errors.some((m) => m.includes(`${refused.port}`)));
});

test('a connect that times out is retried on the next endpoint', async () => {
  const good = await backend();
  const silent = await startNeverAcceptingListener(HOST);
  cleanups.push(() => silent.close());
  const p = await proxy(service([{ address: HOST, port: silent.port }, at(good)]), { connectTimeoutMs: 200 });
  for (let i = 0; i < 2; i++) assert.equal(await tcpExchange(HOST, p.port, `t${i}`), `t${i}`);
  assert.equal(good.accepted, 2);
});

test('a client is closed without data when every endpoint refuses', async () => {
  const p = await proxy(service([{ address: HOST, port: await refusedPort(HOST) }]));
  assert.equal(await tcpExchange(HOST, p.port, 'anyone?'), '');
  assert.equal(p.connectionCount, 0);
});

test('a client is closed when the service has no endpoints', async () => {
  const p = await proxy(service([]));
  assert.equal(await tcpExchange(HOST, p.port, 'anyone?'), '');
});

test('a client that shuts down its writing side still receives the reply sent after it', async () => {
  // The backend answers only once it has seen the client's FIN: the proxy must forward the FIN and
  // keep the other direction open.
  const b = await backend(HOST, (socket) => {
    let bytes = 0;
    socket.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    socket.on('end', () => socket.end(`got ${bytes} bytes after your FIN`));
  });
  const p = await proxy(service([at(b)]));
  assert.equal(await tcpExchange(HOST, p.port, 'x'.repeat(1000)), 'got 1000 bytes after your FIN');
});

test('a backend that ends first still receives what the client sends afterwards', async () => {
  let received = '';
  let backendDone: () => void = () => undefined;
  const backendSawEnd = new Promise<void>((resolve) => {
    backendDone = resolve;
  });
  const b = await backend(HOST, (socket) => {
    socket.end('bye');
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString();
    });
    socket.on('end', () => backendDone());
  });
  const p = await proxy(service([at(b)]));
  const client = await connectTcp(HOST, p.port);
  client.once('end', () => client.end('late words'));
  client.resume();
  await backendSawEnd;
  assert.equal(received, 'late words');
});

test('50 MiB to a slow reader pass with the proxy holding a bounded amount in memory', {
  timeout: 60_000,
}, async (t) => {
  const total = 50 * 1024 * 1024;
  const chunk = Buffer.alloc(64 * 1024, 7);
  let received = 0;
  let allDone: () => void = () => undefined;
  const allReceived = new Promise<void>((resolve) => {
    allDone = resolve;
  });
  const b = await backend(HOST, (socket) => {
    let sincePause = 0;
    socket.on('data', (data: Buffer) => {
      received += data.length;
      sincePause += data.length;
      if (received >= total) allDone();
      // A slow consumer: a 10 ms stall after every MiB.
      if (sincePause >= 1024 * 1024) {
        sincePause = 0;
        socket.pause();
        setTimeout(() => socket.resume(), 10);
      }
    });
  });
  const p = await proxy(service([at(b)]));
  const rssBefore = process.memoryUsage().rss;
  let maxBuffered = 0;
  const sampler = setInterval(() => {
    maxBuffered = Math.max(maxBuffered, p.bufferedBytes());
  }, 5);
  const client = await connectTcp(HOST, p.port);
  let sent = 0;
  while (sent < total) {
    sent += chunk.length;
    if (!client.write(chunk)) await new Promise((resolve) => client.once('drain', resolve));
  }
  await allReceived;
  clearInterval(sampler);
  maxBuffered = Math.max(maxBuffered, p.bufferedBytes());
  client.destroy();
  assert.equal(received, total);
  // Per direction about one read chunk (64 KiB) plus a high water mark; 1 MiB is far below what an
  // unbounded buffer (tens of MiB behind a 10 ms/MiB reader) would reach.
  assert.ok(maxBuffered < 1024 * 1024, `proxy held up to ${maxBuffered} bytes`);
  t.diagnostic(`max held by the proxy: ${maxBuffered} bytes`);
  assert.ok(process.memoryUsage().rss - rssBefore < 150 * 1024 * 1024, 'RSS grew by more than 150 MiB');
});

test('a connection with no byte either way for the idle timeout is closed, not before', async () => {
  const clock = manualClock();
  const b = await backend();
  const p = await proxy(service([at(b)], { idleTimeoutMs: 1_000 }), { now: clock.now });
  const client = await connectTcp(HOST, p.port);
  const clientClosed = peerGone(client);
  assert.equal(await echoOnce(client, 'ping'), 'ping');
  clock.advance(999);
  p.sweep();
  assert.equal(await echoOnce(client, 'still there'), 'still there');
  clock.advance(1_000);
  p.sweep();
  await clientClosed;
  await waitFor(() => b.sockets.size === 0, 'the backend side to close');
});

test('connections without an idle timeout are not closed by time', async () => {
  const clock = manualClock();
  const b = await backend();
  const p = await proxy(service([at(b)]), { now: clock.now });
  const client = await connectTcp(HOST, p.port);
  assert.equal(await echoOnce(client, 'a'), 'a');
  clock.advance(24 * 3600 * 1000);
  p.sweep();
  assert.equal(await echoOnce(client, 'b'), 'b');
  client.destroy();
});

test('a removed endpoint gets no new connections and its open ones close after the grace period', async () => {
  const clock = manualClock();
  const old = await backend();
  const fresh = await backend();
  const p = await proxy(service([at(old)]), { now: clock.now, drainGraceMs: 5_000 });
  const client = await connectTcp(HOST, p.port);
  const clientClosed = peerGone(client);
  assert.equal(await echoOnce(client, 'before'), 'before');
  p.update(service([at(fresh)]));
  for (let i = 0; i < 3; i++) assert.equal(await tcpExchange(HOST, p.port, `new${i}`), `new${i}`);
  assert.deepEqual([old.accepted, fresh.accepted], [1, 3]);
  clock.advance(4_999);
  p.sweep();
  assert.equal(await echoOnce(client, 'in grace'), 'in grace');
  clock.advance(1);
  p.sweep();
  await clientClosed;
  await waitFor(() => old.sockets.size === 0, 'the drained backend connection to close');
});

test('connections to an endpoint removed and re-added within the grace period are kept', async () => {
  const clock = manualClock();
  const b = await backend();
  const other = await backend();
  const p = await proxy(service([at(b)]), { now: clock.now, drainGraceMs: 5_000 });
  const client = await connectTcp(HOST, p.port);
  assert.equal(await echoOnce(client, 'one'), 'one');
  p.update(service([at(other)]));
  p.update(service([at(b), at(other)]));
  clock.advance(60_000);
  p.sweep();
  assert.equal(await echoOnce(client, 'two'), 'two');
  client.destroy();
});

const proxyProtocolCases = [
  { version: 1, setting: 'v1', host: '127.0.0.1', family: 'tcp4' },
  { version: 2, setting: 'v2', host: '127.0.0.1', family: 'tcp4' },
  { version: 1, setting: 'v1', host: '::1', family: 'tcp6' },
  { version: 2, setting: 'v2', host: '::1', family: 'tcp6' },
] as const;

for (const c of proxyProtocolCases) {
  test(`a PROXY v${c.version} header on ${c.host} reaches the backend first, naming the client and the listener`, async () => {
    let firstBytes = Buffer.alloc(0);
    const b = await backend(c.host, (socket) => {
      socket.on('data', (chunk: Buffer) => {
        firstBytes = Buffer.concat([firstBytes, chunk]);
      });
      socket.on('end', () => socket.end('ok'));
    });
    const p = await proxy(service([at(b)], { proxyProtocol: c.setting }), {}, c.host);
    const client = await connectTcp(c.host, p.port);
    const clientPort = client.localPort;
    const clientClosed = closed(client);
    client.resume();
    client.end('payload');
    await clientClosed;
    const parsed = parseProxyHeader(firstBytes);
    assert.equal(parsed.state, 'done');
    if (parsed.state !== 'done') return;
    assert.deepEqual(parsed.header, {
      version: c.version,
      command: 'proxy',
      family: c.family,
      source: { address: c.host, port: clientPort },
      destination: { address: c.host, port: p.port },
    });
    assert.equal(parsed.rest.toString(), 'payload');
  });
}

test('close() stops listening and destroys open connections', async () => {
  const b = await backend();
  const p = await TcpProxy.listen(service([at(b)]), { host: HOST, port: 0 });
  const client = await connectTcp(HOST, p.port);
  assert.equal(await echoOnce(client, 'x'), 'x');
  const clientClosed = peerGone(client);
  const port = p.port;
  await p.close();
  await clientClosed;
  await assert.rejects(connectTcp(HOST, port), /ECONNREFUSED/);
});

test('listen rejects with the bind error when the port is taken', async () => {
  const b = await backend();
  await assert.rejects(TcpProxy.listen(service([]), { host: HOST, port: b.port }), /EADDRINUSE/);
});

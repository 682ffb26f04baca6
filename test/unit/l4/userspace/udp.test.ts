import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { after, test } from 'node:test';
import type { L4Endpoint } from '../../../../src/l4/model.js';
import type { UserspaceL4Service } from '../../../../src/l4/userspace/types.js';
import { UdpProxy, type UdpProxyOptions } from '../../../../src/l4/userspace/udp.js';
import {
  manualClock,
  startUdpBackend,
  type UdpBackend,
  type UdpClient,
  udpClient,
  waitFor,
} from '../../../support/l4-sockets.js';

const HOST = '127.0.0.1';
const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

function service(
  endpoints: readonly L4Endpoint[],
  extra: Partial<UserspaceL4Service> = {},
): UserspaceL4Service {
  return { name: 'dns/coredns:53/UDP', listenPort: 0, protocol: 'UDP', scheduler: 'rr', endpoints, ...extra };
}

async function backend(name: string, host = HOST): Promise<UdpBackend> {
  const b = await startUdpBackend(host, name);
  cleanups.push(() => b.close());
  return b;
}

async function proxy(
  svc: UserspaceL4Service,
  options: Partial<UdpProxyOptions> = {},
  host = HOST,
): Promise<UdpProxy> {
  const p = await UdpProxy.listen(svc, { host, port: 0, ...options });
  cleanups.push(() => p.close());
  return p;
}

async function client(p: UdpProxy, host = HOST): Promise<UdpClient> {
  const c = await udpClient(host, p.port);
  cleanups.push(() => c.close());
  return c;
}

const at = (b: UdpBackend, host = HOST): L4Endpoint => ({ address: host, port: b.port });

test('a datagram through the proxy is answered by the backend (IPv4)', async () => {
  const b = await backend('a');
  const p = await proxy(service([at(b)]));
  const c = await client(p);
  assert.equal(await c.ask('hello'), 'a:hello');
});

test('a datagram through the proxy is answered by the backend (IPv6)', async () => {
  const b = await backend('six', '::1');
  const p = await proxy(service([at(b, '::1')]), {}, '::1');
  const c = await client(p, '::1');
  assert.equal(await c.ask('hello'), 'six:hello');
});

test('an IPv6 listener fronts an IPv4 endpoint', async () => {
  const b = await backend('four');
  const p = await proxy(service([at(b)]), {}, '::1');
  const c = await client(p, '::1');
  assert.equal(await c.ask('across'), 'four:across');
});

test('each client gets its own flow, and its replies come back to it alone', async () => {
  const b = await backend('a');
  const p = await proxy(service([at(b)]));
  const one = await client(p);
  const two = await client(p);
  assert.equal(await one.ask('from one'), 'a:from one');
  assert.equal(await two.ask('from two'), 'a:from two');
  assert.equal(p.flowCount, 2);
  // Two flows: the backend saw two distinct upstream sockets.
  assert.equal(b.sources.size, 2);
});

test("a client's datagrams stay on the endpoint its flow chose", async () => {
  const backends = [await backend('a'), await backend('b'), await backend('c')];
  const p = await proxy(service(backends.map((b) => at(b))));
  const c = await client(p);
  const first = await c.ask('0');
  const name = first.split(':')[0];
  for (let i = 1; i < 6; i++) assert.equal(await c.ask(`${i}`), `${name}:${i}`);
  assert.equal(p.flowCount, 1);
});

test('new flows are spread round-robin, exactly evenly, over three endpoints', async () => {
  const backends = [await backend('a'), await backend('b'), await backend('c')];
  const p = await proxy(service(backends.map((b) => at(b))));
  for (let i = 0; i < 6; i++) {
    const c = await client(p);
    await c.ask(`client ${i}`);
  }
  assert.deepEqual(
    backends.map((b) => b.sources.size),
    [2, 2, 2],
  );
});

test('a flow idle for the timeout is forgotten, not before, and the next datagram opens a new one', async () => {
  const clock = manualClock();
  const backends = [await backend('a'), await backend('b')];
  const p = await proxy(
    service(
      backends.map((b) => at(b)),
      { idleTimeoutMs: 10_000 },
    ),
    { now: clock.now },
  );
  const c = await client(p);
  const first = (await c.ask('1')).split(':')[0];
  const other = first === 'a' ? 'b' : 'a';
  clock.advance(9_999);
  p.sweep();
  assert.equal(p.flowCount, 1);
  assert.equal(await c.ask('2'), `${first}:2`);
  clock.advance(10_000);
  p.sweep();
  assert.equal(p.flowCount, 0);
  // The new flow takes the next endpoint in the rotation.
  assert.equal(await c.ask('3'), `${other}:3`);
});

test('without a service idle timeout the proxy default applies', async () => {
  const clock = manualClock();
  const b = await backend('a');
  const p = await proxy(service([at(b)]), { now: clock.now, idleTimeoutMs: 2_000 });
  const c = await client(p);
  await c.ask('x');
  clock.advance(1_999);
  p.sweep();
  assert.equal(p.flowCount, 1);
  clock.advance(1);
  p.sweep();
  assert.equal(p.flowCount, 0);
});

test("removing an endpoint closes its flows and the client's next datagram reaches a live one", async () => {
  const old = await backend('old');
  const fresh = await backend('fresh');
  const p = await proxy(service([at(old)]));
  const c = await client(p);
  assert.equal(await c.ask('before'), 'old:before');
  p.update(service([at(fresh)]));
  assert.equal(p.flowCount, 0);
  assert.equal(await c.ask('after'), 'fresh:after');
  assert.equal(p.flowEndpoint(HOST, c.port), `${HOST}:${fresh.port}`);
});

test('a flow whose endpoint refuses (port unreachable) is closed, so the next datagram reaches a live endpoint', async () => {
  const probe = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => probe.bind({ address: HOST, port: 0 }, resolve));
  const deadPort = probe.address().port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const live = await backend('live');
  const errors: string[] = [];
  const p = await proxy(service([{ address: HOST, port: deadPort }, at(live)]), {
    onError: (m) => errors.push(m),
  });
  const c = await client(p);
  // Whichever endpoint the first flow picked, the client ends up on the live one.
  c.send('first');
  await waitFor(
    () => live.datagrams === 1 || (errors.length > 0 && p.flowCount === 0),
    'the first datagram to be answered or refused',
  );
  assert.equal(await c.ask('second'), 'live:second');
});

test('flows past the bound are dropped and counted while existing flows carry on', async () => {
  const b = await backend('a');
  const p = await proxy(service([at(b)]), { maxFlows: 2 });
  const one = await client(p);
  const two = await client(p);
  const three = await client(p);
  await one.ask('1');
  await two.ask('2');
  three.send('3');
  await waitFor(() => p.droppedDatagrams === 1, 'the third flow to be dropped');
  assert.equal(p.flowCount, 2);
  assert.equal(await one.ask('again'), 'a:again');
});

test('datagrams for a service without endpoints are dropped and counted', async () => {
  const p = await proxy(service([]));
  const c = await client(p);
  c.send('nobody');
  await waitFor(() => p.droppedDatagrams === 1, 'the datagram to be dropped');
  assert.equal(p.flowCount, 0);
});

test('close() releases the listen port and every flow', async () => {
  const b = await backend('a');
  const p = await UdpProxy.listen(service([at(b)]), { host: HOST, port: 0 });
  const c = await client(p);
  await c.ask('x');
  const port = p.port;
  await p.close();
  assert.equal(p.flowCount, 0);
  const again = await UdpProxy.listen(service([at(b)]), { host: HOST, port });
  await again.close();
});

test('listen rejects with the bind error when the port is taken', async () => {
  const p = await proxy(service([]));
  await assert.rejects(UdpProxy.listen(service([]), { host: HOST, port: p.port }), /EADDRINUSE/);
});

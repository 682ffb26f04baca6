import assert from 'node:assert/strict';
import net from 'node:net';
import { after, test } from 'node:test';
import type { L4Endpoint } from '../../../../src/l4/model.js';
import { UserspaceL4, userspaceServiceProblem } from '../../../../src/l4/userspace/manager.js';
import type { UserspaceL4Service } from '../../../../src/l4/userspace/types.js';
import {
  connectTcp,
  startTcpBackend,
  startUdpBackend,
  type TcpBackend,
  tcpExchange,
  udpClient,
} from '../../../support/l4-sockets.js';

const HOST = '127.0.0.1';
const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

function tcp(
  name: string,
  endpoints: readonly L4Endpoint[],
  extra: Partial<UserspaceL4Service> = {},
): UserspaceL4Service {
  return { name: `${name}:80/TCP`, listenPort: 0, protocol: 'TCP', scheduler: 'rr', endpoints, ...extra };
}

function udp(
  name: string,
  endpoints: readonly L4Endpoint[],
  extra: Partial<UserspaceL4Service> = {},
): UserspaceL4Service {
  return { name: `${name}:53/UDP`, listenPort: 0, protocol: 'UDP', scheduler: 'rr', endpoints, ...extra };
}

async function tcpBackend(): Promise<TcpBackend> {
  const b = await startTcpBackend(HOST);
  cleanups.push(() => b.close());
  return b;
}

function manager(): UserspaceL4 {
  const m = new UserspaceL4({ bindAddress: HOST });
  cleanups.push(() => m.close());
  return m;
}

const at = (b: { port: number }): L4Endpoint => ({ address: HOST, port: b.port });

function portOf(m: UserspaceL4, service: string): number {
  const listener = m.listeners().find((l) => l.service === service);
  assert.ok(listener, `no listener for ${service}`);
  return listener.port;
}

test('apply opens a listener per TCP and UDP service and reports the bound ports', async () => {
  const t = await tcpBackend();
  const u = await startUdpBackend(HOST, 'u');
  cleanups.push(() => u.close());
  const m = manager();
  const result = await m.apply({ services: [tcp('db/pg', [at(t)]), udp('dns/core', [at(u)])] });
  assert.deepEqual(result.rejected, []);
  assert.deepEqual(result.listening.map((l) => [l.service, l.protocol, l.listenPort]).sort(), [
    ['db/pg:80/TCP', 'TCP', 0],
    ['dns/core:53/UDP', 'UDP', 0],
  ]);
  assert.ok(result.listening.every((l) => l.port > 0));
  assert.equal(await tcpExchange(HOST, portOf(m, 'db/pg:80/TCP'), 'sql'), 'sql');
  const c = await udpClient(HOST, portOf(m, 'dns/core:53/UDP'));
  cleanups.push(() => c.close());
  assert.equal(await c.ask('query'), 'u:query');
});

test('a kept service is updated in place: same port, open connections kept, new endpoints used', async () => {
  const first = await tcpBackend();
  const second = await tcpBackend();
  const m = manager();
  await m.apply({ services: [tcp('db/pg', [at(first)])] });
  const port = portOf(m, 'db/pg:80/TCP');
  const open = await connectTcp(HOST, port);
  cleanups.push(() => open.destroy());
  const result = await m.apply({ services: [tcp('db/pg', [at(first), at(second)])] });
  assert.deepEqual(result.rejected, []);
  assert.equal(portOf(m, 'db/pg:80/TCP'), port);
  assert.equal(open.destroyed, false);
  for (let i = 0; i < 4; i++) await tcpExchange(HOST, port, 'x');
  assert.equal(second.accepted, 2);
});

test('a service gone from the state has its listener closed', async () => {
  const b = await tcpBackend();
  const m = manager();
  await m.apply({ services: [tcp('db/pg', [at(b)]), tcp('db/mysql', [at(b)])] });
  const port = portOf(m, 'db/mysql:80/TCP');
  const result = await m.apply({ services: [tcp('db/pg', [at(b)])] });
  assert.deepEqual(
    result.listening.map((l) => l.service),
    ['db/pg:80/TCP'],
  );
  await assert.rejects(connectTcp(HOST, port), /ECONNREFUSED/);
  assert.equal(await tcpExchange(HOST, portOf(m, 'db/pg:80/TCP'), 'still'), 'still');
});

test('a port that cannot be bound is reported for that service while the others serve', async () => {
  const b = await tcpBackend();
  const squatter = net.createServer();
  await new Promise<void>((resolve) => squatter.listen({ host: HOST, port: 0 }, resolve));
  cleanups.push(() => new Promise<void>((resolve) => squatter.close(() => resolve())));
  const taken = (squatter.address() as net.AddressInfo).port;
  const m = manager();
  const result = await m.apply({
    services: [tcp('db/pg', [at(b)], { listenPort: taken }), tcp('db/mysql', [at(b)])],
  });
  assert.equal(result.rejected.length, 1);
  assert.equal(result.rejected[0]?.service, 'db/pg:80/TCP');
  assert.equal(result.rejected[0]?.field, 'listenPort');
  assert.match(result.rejected[0]?.reason ?? '', /EADDRINUSE/);
  assert.equal(await tcpExchange(HOST, portOf(m, 'db/mysql:80/TCP'), 'ok'), 'ok');

  // Freed, the port is bound on the next apply.
  await new Promise<void>((resolve) => squatter.close(() => resolve()));
  const retry = await m.apply({
    services: [tcp('db/pg', [at(b)], { listenPort: taken }), tcp('db/mysql', [at(b)])],
  });
  assert.deepEqual(retry.rejected, []);
  assert.equal(await tcpExchange(HOST, taken, 'now'), 'now');
});

test('two services on one protocol and port: the second is rejected, the first serves', async () => {
  const b = await tcpBackend();
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen({ host: HOST, port: 0 }, resolve));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const m = manager();
  const result = await m.apply({
    services: [tcp('db/a', [at(b)], { listenPort: port }), tcp('db/b', [at(b)], { listenPort: port })],
  });
  assert.deepEqual(result.rejected, [
    { service: 'db/b:80/TCP', field: 'listenPort', reason: `TCP ${port} is already taken by db/a:80/TCP` },
  ]);
  assert.equal(await tcpExchange(HOST, port, 'a'), 'a');
});

test('an invalid service is rejected with its field while the valid ones serve', async () => {
  const b = await tcpBackend();
  const m = manager();
  const result = await m.apply({
    services: [tcp('db/pg', [at(b)]), udp('dns/core', [at(b)], { proxyProtocol: 'v1' })],
  });
  assert.deepEqual(
    result.rejected.map((r) => [r.service, r.field]),
    [['dns/core:53/UDP', 'proxyProtocol']],
  );
  assert.equal(await tcpExchange(HOST, portOf(m, 'db/pg:80/TCP'), 'fine'), 'fine');
});

const problemCases = [
  { name: 'a listen port above 65535 is rejected', service: { listenPort: 70000 }, field: 'listenPort' },
  { name: 'a fractional listen port is rejected', service: { listenPort: 80.5 }, field: 'listenPort' },
  {
    name: 'an endpoint address that is not an IP is rejected',
    service: { endpoints: [{ address: 'db.local', port: 5432 }] },
    field: 'endpoints[0].address',
  },
  {
    name: 'an endpoint port 0 is rejected',
    service: { endpoints: [{ address: '10.0.0.1', port: 0 }] },
    field: 'endpoints[0].port',
  },
  {
    name: 'a PROXY protocol version other than v1 or v2 is rejected',
    service: { proxyProtocol: 'v3' },
    field: 'proxyProtocol',
  },
  { name: 'a zero idle timeout is rejected', service: { idleTimeoutMs: 0 }, field: 'idleTimeoutMs' },
  {
    name: 'a non-finite idle timeout is rejected',
    service: { idleTimeoutMs: Number.NaN },
    field: 'idleTimeoutMs',
  },
  {
    name: 'a valid service with PROXY v2 and an idle timeout passes',
    service: { proxyProtocol: 'v2', idleTimeoutMs: 1 },
    field: undefined,
  },
] as const;

for (const c of problemCases) {
  test(c.name, () => {
    const service = {
      ...tcp('db/pg', [{ address: '10.0.0.1', port: 5432 }]),
      ...c.service,
    } as UserspaceL4Service;
    assert.equal(userspaceServiceProblem(service)?.field, c.field);
  });
}

test('close() closes every listener and later applies open nothing', async () => {
  const b = await tcpBackend();
  const m = new UserspaceL4({ bindAddress: HOST });
  await m.apply({ services: [tcp('db/pg', [at(b)])] });
  const port = portOf(m, 'db/pg:80/TCP');
  await m.close();
  await assert.rejects(connectTcp(HOST, port), /ECONNREFUSED/);
  const result = await m.apply({ services: [tcp('db/pg', [at(b)])] });
  assert.deepEqual(result.listening, []);
});

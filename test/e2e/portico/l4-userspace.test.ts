/**
 * The L4 path in a running portico (issue 7, user-space mode, file mode): a tcp-services ConfigMap
 * entry and a UDP L4Route forward to real loopback backends, and an endpoint change applies live.
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { writeFile } from 'node:fs/promises';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  type ManifestDir,
  manifestDir,
  type PorticoProcess,
  startPortico,
  waitUntil,
} from '../../support/portico-process.js';
import { freePort } from '../../support/redis.js';

/** A TCP server answering every line with `<name>:<line>`. */
async function tcpEcho(host: string, name: string): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => {
    socket.on('data', (chunk: Buffer) => socket.write(`${name}:${chunk.toString()}`));
    socket.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  return { server, port: address.port };
}

function askTcp(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(text));
    socket.setTimeout(5_000, () => socket.destroy(new Error('timeout')));
    socket.once('data', (data: Buffer) => {
      resolve(data.toString());
      socket.end();
    });
    socket.once('error', reject);
  });
}

function askUdp(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error('no UDP answer'));
    }, 2_000);
    socket.once('message', (data) => {
      clearTimeout(timer);
      socket.close();
      resolve(data.toString());
    });
    socket.send(text, port, '127.0.0.1');
  });
}

function manifests(
  tcpListen: number,
  udpListen: number,
  tcpEndpoints: readonly [string, number][],
  udp: number,
): string {
  const endpoints = tcpEndpoints.map(([a]) => `  - addresses: [${a}]`).join('\n');
  const tcpPort = tcpEndpoints[0]?.[1] ?? 0;
  return `apiVersion: v1
kind: ConfigMap
metadata: { name: tcp-services, namespace: ingress }
data:
  "${tcpListen}": "db/pg:5432"
---
apiVersion: v1
kind: Service
metadata: { name: pg, namespace: db }
spec:
  ports: [{ name: pg, port: 5432, targetPort: ${tcpPort}, protocol: TCP }]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: pg-1, namespace: db, labels: { kubernetes.io/service-name: pg } }
addressType: IPv4
ports: [{ name: pg, port: ${tcpPort}, protocol: TCP }]
endpoints:
${endpoints}
---
apiVersion: portico.dev/v1alpha1
kind: L4Route
metadata: { name: dns, namespace: dns }
spec:
  listenPort: ${udpListen}
  protocol: UDP
  backend: { service: dns, port: 53 }
---
apiVersion: v1
kind: Service
metadata: { name: dns, namespace: dns }
spec:
  ports: [{ name: dns, port: 53, targetPort: ${udp}, protocol: UDP }]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: dns-1, namespace: dns, labels: { kubernetes.io/service-name: dns } }
addressType: IPv4
ports: [{ name: dns, port: ${udp}, protocol: UDP }]
endpoints:
  - addresses: [127.0.0.5]
`;
}

describe('L4 user-space mode in a running portico (file mode)', () => {
  let dir: ManifestDir;
  let portico: PorticoProcess;
  const servers: Server[] = [];
  let udpBackend: ReturnType<typeof createSocket>;
  let tcpListen = 0;
  let udpListen = 0;
  let port = 0;

  before(async () => {
    // Two TCP backends on the same port at two loopback addresses, like two pods.
    const first = await tcpEcho('127.0.0.2', 'pod-a');
    servers.push(first.server);
    port = first.port;
    const second = createServer((socket) =>
      socket.on('data', (c: Buffer) => socket.write(`pod-b:${c.toString()}`)),
    );
    await new Promise<void>((resolve) => second.listen(port, '127.0.0.3', resolve));
    servers.push(second);
    udpBackend = createSocket('udp4');
    await new Promise<void>((resolve) => udpBackend.bind(0, '127.0.0.5', resolve));
    udpBackend.on('message', (msg, rinfo) =>
      udpBackend.send(`dns:${msg.toString()}`, rinfo.port, rinfo.address),
    );
    tcpListen = await freePort();
    udpListen = await freePort();
    dir = await manifestDir({
      'l4.yaml': manifests(tcpListen, udpListen, [['127.0.0.2', port]], udpBackend.address().port),
    });
    portico = await startPortico({
      manifests: dir.dir,
      args: ['--l4-mode', 'userspace', '--tcp-services-configmap', 'ingress/tcp-services'],
    });
  });

  after(async () => {
    await portico?.stop('SIGKILL');
    for (const s of servers) s.close();
    udpBackend?.close();
    await dir?.cleanup();
  });

  test('a tcp-services entry forwards TCP to the ready endpoint', async () => {
    await waitUntil(
      async () => (await askTcp(tcpListen, 'hello').catch(() => '')) === 'pod-a:hello',
      10_000,
      'TCP through',
    );
  });

  test('an L4Route forwards UDP datagrams and their replies', async () => {
    await waitUntil(
      async () => (await askUdp(udpListen, 'q').catch(() => '')) === 'dns:q',
      10_000,
      'UDP through',
    );
  });

  test('an endpoint change applies live: new connections go to the new endpoint only', async () => {
    await writeFile(
      join(dir.dir, 'l4.yaml'),
      manifests(tcpListen, udpListen, [['127.0.0.3', port]], udpBackend.address().port),
    );
    await waitUntil(
      async () => (await askTcp(tcpListen, 'x').catch(() => '')) === 'pod-b:x',
      10_000,
      'the new endpoint',
    );
    for (let i = 0; i < 5; i++) assert.equal(await askTcp(tcpListen, `n${i}`), `pod-b:n${i}`);
  });
});

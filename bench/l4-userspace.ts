/**
 * `l4-userspace` measures what the `userspace` L4 mode costs on loopback: bulk TCP throughput and
 * short request/response connections per second, through `TcpProxy` and direct to the backend.
 *
 * The proxy runs in a child process (as it would beside the client and backend, with its own event
 * loop); the client and the backend share this process, for both the proxied and the direct runs.
 * Loopback and one machine: the figures compare the two paths, they are not network numbers.
 *
 * Run: `npx tsx bench/l4-userspace.ts [--mib N] [--connections N]` (defaults 512 MiB, 3,000
 * connections; each phase also stops after 20 s). Prints a table; nothing is written.
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { TcpProxy } from '../src/l4/userspace/tcp.js';

const HOST = '127.0.0.1';
const PHASE_LIMIT_MS = 20_000;

function flag(name: string, fallback: number, max: number): number {
  const i = process.argv.indexOf(name);
  const value = i === -1 ? fallback : Number(process.argv[i + 1]);
  return Number.isFinite(value) && value > 0 ? Math.min(value, max) : fallback;
}

async function serveProxy(): Promise<void> {
  const ports = process.argv.slice(process.argv.indexOf('--serve') + 1, process.argv.indexOf('--serve') + 3);
  const [bulkPort, echoPort] = ports.map(Number);
  const proxies = await Promise.all(
    [bulkPort!, echoPort!].map((port, i) =>
      TcpProxy.listen(
        {
          name: `bench/backend-${i}:80/TCP`,
          listenPort: 0,
          protocol: 'TCP',
          scheduler: 'rr',
          endpoints: [{ address: HOST, port }],
        },
        { host: HOST, port: 0 },
      ),
    ),
  );
  console.log(proxies.map((p) => p.port).join(' '));
  process.stdin.resume();
  process.stdin.once('end', () => process.exit(0));
}

async function listen(handler: (socket: net.Socket) => void): Promise<net.Server> {
  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, handler);
  await new Promise<void>((resolve) => server.listen({ host: HOST, port: 0 }, resolve));
  return server;
}

const portOf = (server: net.Server) => (server.address() as net.AddressInfo).port;

/** Sends `bytes` and waits for the sink's "done" after the FIN: MB/s including the tail. */
async function bulk(port: number, bytes: number): Promise<number> {
  const chunk = Buffer.alloc(256 * 1024, 1);
  const socket = net.connect({ host: HOST, port, allowHalfOpen: true });
  await new Promise((resolve) => socket.once('connect', resolve));
  const start = performance.now();
  const done = new Promise<void>((resolve) => socket.once('end', () => resolve()));
  socket.resume();
  let sent = 0;
  while (sent < bytes && performance.now() - start < PHASE_LIMIT_MS) {
    sent += chunk.length;
    if (!socket.write(chunk)) await new Promise((resolve) => socket.once('drain', resolve));
  }
  socket.end();
  await done;
  const seconds = (performance.now() - start) / 1000;
  socket.destroy();
  return sent / 1e6 / seconds;
}

/** One connection: connect, "ping", wait for the echo, close. */
function exchange(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: HOST, port, noDelay: true });
    socket.once('error', reject);
    socket.once('connect', () => socket.write('ping'));
    socket.once('data', () => {
      socket.destroy();
      resolve();
    });
  });
}

/** Connections per second, 16 at a time, `count` in all or until the phase limit. */
async function connectRate(port: number, count: number): Promise<number> {
  const start = performance.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count && performance.now() - start < PHASE_LIMIT_MS) {
      next++;
      await exchange(port);
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  return next / ((performance.now() - start) / 1000);
}

async function main(): Promise<void> {
  const mib = flag('--mib', 512, 4096);
  const connections = flag('--connections', 3_000, 50_000);
  const sink = await listen((socket) => {
    socket.resume();
    socket.on('end', () => socket.end('done'));
    socket.on('error', () => undefined);
  });
  const echo = await listen((socket) => {
    socket.on('data', (d) => socket.write(d));
    socket.on('end', () => socket.end());
    socket.on('error', () => undefined);
  });
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(import.meta.url), '--serve', `${portOf(sink)}`, `${portOf(echo)}`],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const [proxyBulk, proxyEcho] = await new Promise<number[]>((resolve, reject) => {
    child.once('error', reject);
    child.stdout.once('data', (line: Buffer) => resolve(line.toString().trim().split(' ').map(Number)));
  });

  console.log(`# L4 user-space proxy on loopback, ${mib} MiB bulk, ${connections} short connections`);
  console.log(`node ${process.version}, ${os.cpus()[0]?.model ?? 'unknown cpu'} × ${os.cpus().length}\n`);
  console.log('| path | bulk MB/s | connects/s (ping/echo, 16 concurrent) |');
  console.log('| --- | ---: | ---: |');
  const bytes = mib * 1024 * 1024;
  const rows: [string, number, number][] = [
    ['direct', await bulk(portOf(sink), bytes), await connectRate(portOf(echo), connections)],
    ['userspace proxy', await bulk(proxyBulk!, bytes), await connectRate(proxyEcho!, connections)],
  ];
  for (const [path, mbps, rate] of rows) console.log(`| ${path} | ${mbps.toFixed(0)} | ${rate.toFixed(0)} |`);
  const [direct, proxied] = rows;
  console.log(
    `\nthrough the proxy: ${((proxied![1] / direct![1]) * 100).toFixed(0)}% of direct throughput, ` +
      `${((proxied![2] / direct![2]) * 100).toFixed(0)}% of the direct connection rate`,
  );
  child.stdin.end();
  sink.close();
  echo.close();
}

if (process.argv.includes('--serve')) await serveProxy();
else await main();

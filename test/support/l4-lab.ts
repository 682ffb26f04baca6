/**
 * A small network for the L4 kernel-mode tests, made only of namespaces the test creates:
 *
 *   client 10.77.0.2 ──veth── 10.77.0.1 node 10.77.1x.1 ──veth── 10.77.1x.2 backend x (x = 0, 1, 2)
 *
 * The node forwards (ip_forward=1 in its namespace only) and is where the rules are applied; each
 * backend runs a TCP+UDP echo server answering with its name (and, on a third port, with the client
 * address a PROXY protocol header names); the client runs bounded load scripts. Names are unique per run; `destroy()` kills what it started and deletes every
 * namespace (veths go with them), also after a failure.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

export const labNodeIp = '10.77.0.1';
const clientIp = '10.77.0.2';
export const backendTcpPort = 8000;
export const backendUdpPort = 8001;
/** TCP; expects a PROXY protocol v1 or v2 header and answers `<name> v<version> <source address>`. */
export const backendProxyProtocolPort = 8002;

const echoServer = `
import net from 'node:net';
import dgram from 'node:dgram';
const [name, tcpPort, udpPort, proxyPort] = process.argv.slice(2);
const tcp = net.createServer((s) => { s.on('error', () => {}); s.end(name + '\\n'); });
const udp = dgram.createSocket('udp4');
udp.on('message', (_m, r) => udp.send(name, r.port, r.address));
const V2 = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');
// The source address a PROXY header carries (HAProxy's proxy-protocol.txt), or why there is none.
function proxySource(b) {
  if (b.length >= 16 && b.subarray(0, 12).equals(V2)) {
    const len = b.readUInt16BE(14);
    if (b.length < 16 + len) return undefined;
    const fam = b[13];
    if (fam === 0x11) return 'v2 ' + [...b.subarray(16, 20)].join('.');
    if (fam === 0x21) return 'v2 ' + b.subarray(16, 32).toString('hex').replace(/(.{4})(?!$)/g, '$1:');
    return 'v2 unknown';
  }
  const end = b.indexOf('\\r\\n');
  if (end < 0) return b.length > 107 ? 'no-proxy-header' : undefined;
  const f = b.subarray(0, end).toString().split(' ');
  return f[0] === 'PROXY' ? 'v1 ' + (f[2] ?? 'unknown') : 'no-proxy-header';
}
const proxy = net.createServer((s) => {
  s.on('error', () => {});
  let got = Buffer.alloc(0);
  s.on('data', (d) => {
    if (got === undefined) return;
    got = Buffer.concat([got, d]);
    const source = proxySource(got);
    if (source === undefined) return;
    got = undefined;
    s.end(name + ' ' + source + '\\n');
  });
});
let ready = 0;
const up = () => { if (++ready === 3) process.stdout.write('ready\\n'); };
tcp.listen(Number(tcpPort), '0.0.0.0', up);
udp.bind(Number(udpPort), '0.0.0.0', up);
proxy.listen(Number(proxyPort), '0.0.0.0', up);
setTimeout(() => process.exit(0), 600_000).unref();
`;

// Bounded: count ≤ 1000, each attempt ≤ 2 s. Prints {"<backend>": n, "error": n}.
const loadClient = `
import net from 'node:net';
import dgram from 'node:dgram';
const [proto, host, port, countText, srcPortText] = process.argv.slice(2);
const count = Math.min(1000, Number(countText));
const counts = {};
const add = (k) => { counts[k] = (counts[k] ?? 0) + 1; };
function tcpOnce() {
  return new Promise((resolve) => {
    const s = net.connect({ host, port: Number(port) });
    let data = '';
    const t = setTimeout(() => { s.destroy(); resolve('error'); }, 2000);
    s.on('data', (d) => { data += d; });
    s.on('end', () => { clearTimeout(t); resolve(data.trim() || 'error'); });
    s.on('error', () => { clearTimeout(t); resolve('error'); });
  });
}
function udpOnce() {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    const t = setTimeout(() => { s.close(); resolve('error'); }, 2000);
    s.on('message', (m) => { clearTimeout(t); s.close(); resolve(m.toString()); });
    s.on('error', () => { clearTimeout(t); s.close(); resolve('error'); });
    s.bind(srcPortText ? Number(srcPortText) : 0, () => s.send('x', Number(port), host));
  });
}
const parallel = 10;
let next = 0;
async function worker() {
  while (next < count) { next++; add(await (proto === 'tcp' ? tcpOnce() : udpOnce())); }
}
await Promise.all(Array.from({ length: srcPortText ? 1 : parallel }, worker));
process.stdout.write(JSON.stringify(counts));
`;

export interface Lab {
  readonly node: string;
  readonly client: string;
  readonly backends: readonly { readonly name: string; readonly ip: string }[];
  /** Runs `count` TCP connections or UDP exchanges from the client; counts answers per backend. */
  load(proto: 'tcp' | 'udp', port: number, count: number, srcPort?: number): Promise<Record<string, number>>;
  /** Runs a command in the node namespace. */
  inNode(argv: readonly string[]): Promise<string>;
  destroy(): Promise<void>;
}

async function ip(args: readonly string[]): Promise<void> {
  await exec('ip', [...args], { timeout: 10_000 });
}

export async function createLab(backendCount = 3): Promise<Lab> {
  const id = `${process.pid.toString(36)}${randomBytes(2).toString('hex')}`;
  const node = `pl4-${id}-node`;
  const client = `pl4-${id}-cli`;
  const backends = Array.from({ length: backendCount }, (_, i) => ({
    name: `pl4-${id}-b${i}`,
    ip: `10.77.${10 + i}.2`,
  }));
  const dir = mkdtempSync(join(tmpdir(), 'portico-l4-lab-'));
  writeFileSync(join(dir, 'echo.mjs'), echoServer);
  writeFileSync(join(dir, 'load.mjs'), loadClient);
  const children: ChildProcess[] = [];
  const created: string[] = [];

  const destroy = async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await Promise.all(
      children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('close', r)) : null)),
    );
    for (const ns of created) await ip(['netns', 'delete', ns]).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    for (const ns of [node, client, ...backends.map((b) => b.name)]) {
      await ip(['netns', 'add', ns]);
      created.push(ns);
      await ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    await ip(['-n', node, 'link', 'add', 'c0', 'type', 'veth', 'peer', 'name', 'n0', 'netns', client]);
    await ip(['-n', node, 'addr', 'add', `${labNodeIp}/24`, 'dev', 'c0']);
    await ip(['-n', node, 'link', 'set', 'c0', 'up']);
    await ip(['-n', client, 'addr', 'add', `${clientIp}/24`, 'dev', 'n0']);
    await ip(['-n', client, 'link', 'set', 'n0', 'up']);
    await ip(['-n', client, 'route', 'add', 'default', 'via', labNodeIp]);
    for (const [i, b] of backends.entries()) {
      const gateway = `10.77.${10 + i}.1`;
      await ip(['-n', node, 'link', 'add', `b${i}`, 'type', 'veth', 'peer', 'name', 'n0', 'netns', b.name]);
      await ip(['-n', node, 'addr', 'add', `${gateway}/24`, 'dev', `b${i}`]);
      await ip(['-n', node, 'link', 'set', `b${i}`, 'up']);
      await ip(['-n', b.name, 'addr', 'add', `${b.ip}/24`, 'dev', 'n0']);
      await ip(['-n', b.name, 'link', 'set', 'n0', 'up']);
      await ip(['-n', b.name, 'route', 'add', 'default', 'via', gateway]);
    }
    await exec('ip', ['netns', 'exec', node, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1'], {
      timeout: 10_000,
    });
    for (const b of backends) {
      const child = spawn(
        'ip',
        [
          'netns',
          'exec',
          b.name,
          process.execPath,
          join(dir, 'echo.mjs'),
          b.name,
          String(backendTcpPort),
          String(backendUdpPort),
          String(backendProxyProtocolPort),
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      children.push(child);
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`echo server in ${b.name} did not start`)), 10_000);
        child.stdout?.once('data', () => {
          clearTimeout(timer);
          resolve();
        });
        child.once('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`echo server in ${b.name} exited with ${code}`));
        });
      });
    }
  } catch (err) {
    await destroy();
    throw err;
  }

  return {
    node,
    client,
    backends,
    async load(proto, port, count, srcPort) {
      const args = [proto, labNodeIp, String(port), String(count), ...(srcPort ? [String(srcPort)] : [])];
      const { stdout } = await exec(
        'ip',
        ['netns', 'exec', client, process.execPath, join(dir, 'load.mjs'), ...args],
        {
          timeout: 120_000,
        },
      );
      return JSON.parse(stdout) as Record<string, number>;
    },
    async inNode(argv) {
      return (await exec('ip', ['netns', 'exec', node, ...argv], { timeout: 30_000, maxBuffer: 64 << 20 }))
        .stdout;
    },
    destroy,
  };
}

/** Pearson's chi-square of `counts` against a uniform spread over `keys`. */
export function chiSquare(counts: Record<string, number>, keys: readonly string[]): number {
  const total = keys.reduce((sum, k) => sum + (counts[k] ?? 0), 0);
  const expected = total / keys.length;
  return keys.reduce((sum, k) => sum + ((counts[k] ?? 0) - expected) ** 2 / expected, 0);
}

/** The host's own rules as the tools print them, without iptables-save's timestamp comments. */
export async function hostRuleset(): Promise<string> {
  const parts: string[] = [];
  for (const argv of [['iptables-save'], ['ip6tables-save'], ['nft', 'list', 'ruleset']]) {
    const { stdout } = await exec(argv[0]!, argv.slice(1), { timeout: 30_000, maxBuffer: 64 << 20 });
    parts.push(stdout);
  }
  return parts.join('\n').replace(/^# (Generated|Completed) .*$/gm, '');
}

/** Why the kernel-mode traffic tests cannot run here, or `undefined` when they can. */
export async function labUnavailable(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'not running as root';
  for (const argv of [
    ['ip', 'netns', 'list'],
    ['iptables-restore', '--version'],
    ['nft', '--version'],
    ['conntrack', '--version'],
  ]) {
    try {
      await exec(argv[0]!, argv.slice(1), { timeout: 10_000 });
    } catch (err) {
      return `${argv.join(' ')} does not work: ${err instanceof Error ? err.message : String(err)}`;
    }
  }
  return undefined;
}

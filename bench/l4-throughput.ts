/**
 * `l4-throughput` measures the L4 data path the way kube-proxy's modes differ, in network
 * namespaces it creates (test/support/l4-lab.ts):
 *
 *   client ──veth── node ──veth── backend 0..N-1
 *
 * Each backend runs a private nginx (one worker) serving a bulk file and a short `return 200`; the
 * client runs `wrk`. Four paths, in one run, with rounds rotating their order:
 *
 * - `direct`: the client asks backend 0's address; the node routes the packets (no NAT, no rules).
 * - `userspace`: the real Portico (dist/cli/main.js, file mode, `--l4-mode userspace`, a
 *   tcp-services ConfigMap) runs in the node namespace and pipes every connection.
 * - `iptables`, `nftables`: `KernelL4` applies the rules with its tools under `ip netns exec <node>`
 *   (as test/e2e/l4/kernel-modes.test.ts does); the kernel DNATs, Portico is not in the data path.
 *   After each, `cleanup()` and an `nft flush ruleset` of the node namespace, so no NAT hook or
 *   conntrack is left behind for the next path.
 * - `nftables-plain-masq` (with `--keep-time-wait` only): a control, the nftables rules with a
 *   plain masquerade (see ALL_PATHS and KEEP_TIME_WAIT).
 *
 * Every path crosses the node namespace, so the differences are the proxy's cost alone. Measured
 * per path and round: bulk MB/s (`wrk -c<streams>` downloading a 32 MiB file) and connects/s
 * (`wrk -c<C>` with `Connection: close`: one TCP connection per short request/response). The node
 * namespace's conntrack table is flushed before each measurement and each measurement uses a
 * backend port of its own (see `backendPort`); the client and node namespaces get
 * `tcp_tw_reuse=1` and a wide port range (their own sysctls, not the host's).
 *
 * Run (root, after `npm run build`): `npx tsx bench/l4-throughput.ts [--quick] [--rounds N]
 * [--duration S] [--streams N] [--connections C] [--backends N] [--paths userspace,nftables]
 * [--keep-time-wait] [--no-write]` (a subset of paths prints and writes nothing; direct always runs). Bounded: every wrk
 * run has a hard deadline and the whole run stops after 15 minutes. Writes the
 * `## L4 data path throughput (issue 7)` section of bench/RESULTS.md.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { prefixedExec, spawnExec } from '../src/l4/apply/restore.js';
import type { L4State } from '../src/l4/model.js';
import { createKernelL4, type KernelMode } from '../src/l4/sync.js';
import { ep, svc } from '../test/support/l4-fixtures.js';
import { createLab, hostRuleset, type Lab, labNodeIp, labUnavailable } from '../test/support/l4-lab.js';
import { cpuBetween, sampleCpu } from './lib/cpu.js';
import { parseTcpCounters, parseWrkSummary, type WrkSummary } from './lib/l4-load.js';
import { NGINX_BIN, nginxVersion } from './lib/nginx.js';
import { onExit, type Proc, runToEnd, spawnProc } from './lib/procs.js';
import { writeSection } from './lib/results.js';
import { type Spread, spread } from './lib/stats.js';

/**
 * `nftables-plain-masq` is a control, not a Portico mode: the nftables rules with the one
 * `masquerade fully-random` rule replaced by a plain `masquerade` (iptables' flavour here), to
 * tell the cost of the random source port apart from the cost of the nftables path.
 */
const ALL_PATHS = ['direct', 'userspace', 'iptables', 'nftables', 'nftables-plain-masq'] as const;
type PathName = (typeof ALL_PATHS)[number];

function numberFlag(name: string, fallback: number, min: number, max: number): number {
  const i = process.argv.indexOf(name);
  if (i === -1) return fallback;
  const value = Number(process.argv[i + 1]);
  if (!Number.isInteger(value) || value < min || value > max)
    throw new Error(`${name} must be an integer from ${min} to ${max}, got ${process.argv[i + 1]}`);
  return value;
}

const quick = process.argv.includes('--quick');
const ROUNDS = numberFlag('--rounds', quick ? 1 : 3, 1, 10);
const SECONDS = numberFlag('--duration', quick ? 2 : 5, 1, 30);
const STREAMS = numberFlag('--streams', 4, 1, 64);
const CONNECTIONS = numberFlag('--connections', 20, 1, 256);
const BACKENDS = numberFlag('--backends', 1, 1, 3);
/**
 * By default the backends keep no TIME_WAIT sockets (`tcp_max_tw_buckets=0` in their namespaces):
 * the table's limit (131,072) fills within seconds at these rates, so whether a run's sockets were
 * kept would depend on what ran in the minute before it. `--keep-time-wait` keeps the kernel's
 * default and adds the control path, to see what `masquerade fully-random` costs then.
 */
const KEEP_TIME_WAIT = process.argv.includes('--keep-time-wait');
const DEFAULT_PATHS: readonly PathName[] = KEEP_TIME_WAIT
  ? ALL_PATHS
  : ALL_PATHS.filter((p) => p !== 'nftables-plain-masq');
const pathsFlag = process.argv.indexOf('--paths');
// Direct is always measured: every ratio is to the direct run of the same round.
const PATHS = ALL_PATHS.filter((p) =>
  pathsFlag === -1
    ? DEFAULT_PATHS.includes(p)
    : p === 'direct' || (process.argv[pathsFlag + 1] ?? '').split(',').includes(p),
);
const SUBSET = !DEFAULT_PATHS.every((p) => PATHS.includes(p));
const WRITE = !process.argv.includes('--no-write') && !SUBSET;
const PORTICO_MAIN = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const BUDGET_MS = 15 * 60_000;
const deadline = Date.now() + BUDGET_MS;

/**
 * Each measurement (round × path) asks the backends on a port of its own, 9000 + its index: with
 * `--keep-time-wait` the backends keep a TIME_WAIT socket per closed connection for 60 s, keyed by
 * the 4-tuple, and user space, iptables and nftables all reach them from the node's address, so on
 * a shared port one path's leftovers would refuse the next path's SYNs (PAWS) and cost it SYN
 * retransmits.
 */
const BACKEND_PORT_BASE = 9000;
const backendPort = (round: number, path: PathName) =>
  BACKEND_PORT_BASE + round * ALL_PATHS.length + ALL_PATHS.indexOf(path);
const SERVICE_PORT = 80;
const LISTEN_PORT = 9100;
const BULK_BYTES = 32 * 1024 * 1024;
const BODY = 'hello from the l4 bench backend\n';

interface Measurement {
  readonly bulkMBps: number;
  readonly connectsPerSecond: number;
  readonly connects: number;
  readonly errors: number;
  /** Client SYN retransmits during the connect run (TcpExt TCPSynRetrans in the client namespace). */
  readonly synRetransmits: number;
  /** SYNs the backends refused against a TIME_WAIT socket (TcpExt PAWSTimewait), same run. */
  readonly pawsTimewait: number;
  /** Busy share of all cores during the bulk and the connect runs, percent. */
  readonly busyBulkPct: number;
  readonly busyConnectPct: number;
  /** Portico's own CPU (userspace only), percent of one core. */
  readonly porticoBulkPct?: number;
  readonly porticoConnectPct?: number;
}

function command(): string {
  const args = process.argv.slice(2).filter((a) => a !== '--no-write');
  return ['npx tsx bench/l4-throughput.ts', ...args].join(' ');
}

async function preconditions(): Promise<void> {
  const unavailable = await labUnavailable();
  if (unavailable) throw new Error(`needs root, ip netns, iptables, nft and conntrack: ${unavailable}`);
  for (const [tool, argv] of [
    ['wrk', ['wrk', '--version']],
    ['nginx', [NGINX_BIN, '-v']],
  ] as const) {
    try {
      execFileSync(argv[0], argv.slice(1), { stdio: 'ignore' });
    } catch (err) {
      // wrk --version exits 1 after printing its version: only a missing binary counts.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`${tool} is not installed`);
    }
  }
  if (!existsSync(PORTICO_MAIN)) throw new Error(`${PORTICO_MAIN} is missing: run \`npm run build\` first`);
}

function version(argv: readonly string[]): string {
  try {
    return execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8' }).split('\n')[0]!.trim();
  } catch {
    return 'unknown';
  }
}

function nsExec(ns: string, argv: readonly string[]): string {
  return execFileSync('ip', ['netns', 'exec', ns, ...argv], {
    encoding: 'utf8',
    timeout: 30_000,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** nginx in a backend namespace: the bulk file at /bulk.bin, a short 200 everywhere else. */
function backendConfig(dir: string): string {
  return `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; multi_accept on; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_requests 10000000;
  keepalive_timeout 120s;
  server_tokens off;
  sendfile on;
  tcp_nopush on;
  server {
${Array.from({ length: ROUNDS * ALL_PATHS.length }, (_, i) => `    listen 0.0.0.0:${BACKEND_PORT_BASE + i} reuseport backlog=4096;`).join('\n')}
    location = /bulk.bin { root ${dir}/..; default_type application/octet-stream; }
    location / { default_type text/plain; return 200 ${JSON.stringify(BODY)}; }
  }
}
`;
}

/** The kernel's TCP counters of one namespace (`TcpExt:PAWSTimewait` → n), from /proc/net. */
function tcpCounters(ns: string): Map<string, number> {
  return parseTcpCounters(nsExec(ns, ['cat', '/proc/net/netstat', '/proc/net/snmp']));
}

function counterSum(namespaces: readonly string[], name: string): number {
  return namespaces.reduce((sum, ns) => sum + (tcpCounters(ns).get(name) ?? 0), 0);
}

// Run in the client namespace: asks `GET /` until the backend's body comes back, at most 15 s.
const preflightScript = `
import net from 'node:net';
const [host, port, expected] = process.argv.slice(2);
const deadline = Date.now() + 15_000;
let last = '';
function once() {
  return new Promise((resolve) => {
    let text = '';
    const s = net.connect({ host, port: Number(port) }, () => s.write('GET / HTTP/1.0\\r\\nHost: bench\\r\\n\\r\\n'));
    const t = setTimeout(() => { s.destroy(); resolve('timeout'); }, 2000);
    s.on('data', (d) => { text += d; });
    s.on('end', () => { clearTimeout(t); resolve(text); });
    s.on('error', (e) => { clearTimeout(t); resolve(String(e)); });
  });
}
while (Date.now() < deadline) {
  last = await once();
  if (last.startsWith('HTTP/1.1 200') && last.endsWith(expected)) { process.stdout.write('ok'); process.exit(0); }
  await new Promise((r) => setTimeout(r, 100));
}
process.stdout.write(last);
process.exit(1);
`;

function manifests(backendIps: readonly string[], port: number): string {
  return `apiVersion: v1
kind: ConfigMap
metadata: { name: tcp-services, namespace: bench }
data:
  "${LISTEN_PORT}": "bench/backend:${SERVICE_PORT}"
---
apiVersion: v1
kind: Service
metadata: { name: backend, namespace: bench }
spec:
  ports: [{ name: http, port: ${SERVICE_PORT}, targetPort: ${port}, protocol: TCP }]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: backend-1, namespace: bench, labels: { kubernetes.io/service-name: backend } }
addressType: IPv4
ports: [{ name: http, port: ${port}, protocol: TCP }]
endpoints:
${backendIps.map((ip) => `  - addresses: [${ip}]`).join('\n')}
`;
}

async function wrk(
  lab: Lab,
  args: readonly string[],
  watch?: Proc,
): Promise<WrkSummary & { busy: number; proc?: number }> {
  if (Date.now() > deadline) throw new Error(`past the ${BUDGET_MS / 60_000} minute budget`);
  const before = sampleCpu(watch?.pid);
  const r = await runToEnd('wrk', 'ip', ['netns', 'exec', lab.client, 'wrk', ...args], {
    timeoutMs: (SECONDS + 20) * 1000,
  });
  const use = cpuBetween(before, sampleCpu(watch?.pid), watch !== undefined);
  if (r.code !== 0) throw new Error(`wrk ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
  const busy = Object.values(use.coreBusyPct);
  return {
    ...parseWrkSummary(r.stdout),
    busy: busy.reduce((a, b) => a + b, 0) / Math.max(1, busy.length),
    ...(use.processPct !== undefined ? { proc: use.processPct } : {}),
  };
}

async function measure(lab: Lab, target: string, watch?: Proc): Promise<Measurement> {
  const flushConntrack = () => {
    try {
      nsExec(lab.node, ['conntrack', '-F']);
    } catch {
      // No conntrack table in the namespace yet (direct, user space): nothing to flush.
    }
  };
  flushConntrack();
  const bulk = await wrk(
    lab,
    ['-t2', `-c${STREAMS}`, `-d${SECONDS}s`, '--timeout', '10s', `http://${target}/bulk.bin`],
    watch,
  );
  flushConntrack();
  const backends = lab.backends.map((b) => b.name);
  const synBefore = counterSum([lab.client], 'TcpExt:TCPSynRetrans');
  const pawsBefore = counterSum(backends, 'TcpExt:PAWSTimewait');
  const connect = await wrk(
    lab,
    [
      '-t2',
      `-c${CONNECTIONS}`,
      `-d${SECONDS}s`,
      '--timeout',
      '5s',
      '-H',
      'Connection: close',
      `http://${target}/`,
    ],
    watch,
  );
  return {
    bulkMBps: bulk.bytes / 1e6 / bulk.seconds,
    connectsPerSecond: connect.rps,
    connects: connect.requests,
    errors: bulk.errors + connect.errors,
    synRetransmits: counterSum([lab.client], 'TcpExt:TCPSynRetrans') - synBefore,
    pawsTimewait: counterSum(backends, 'TcpExt:PAWSTimewait') - pawsBefore,
    busyBulkPct: bulk.busy,
    busyConnectPct: connect.busy,
    ...(bulk.proc !== undefined ? { porticoBulkPct: bulk.proc } : {}),
    ...(connect.proc !== undefined ? { porticoConnectPct: connect.proc } : {}),
  };
}

function preflight(lab: Lab, dir: string, host: string, port: number): void {
  try {
    nsExec(lab.client, [process.execPath, join(dir, 'preflight.mjs'), host, String(port), BODY]);
  } catch (err) {
    const out = (err as { stdout?: string }).stdout ?? String(err);
    throw new Error(
      `${host}:${port} did not answer with the backend's body from the client namespace: ${out}`,
    );
  }
}

function nodeRuleset(lab: Lab): string {
  return nsExec(lab.node, ['nft', 'list', 'ruleset']).trim();
}

async function runPath(path: PathName, round: number, lab: Lab, dir: string): Promise<Measurement> {
  const port = backendPort(round, path);
  const state: L4State = {
    nodeIp: labNodeIp,
    services: [
      svc(
        `bench/backend:${SERVICE_PORT}/TCP`,
        LISTEN_PORT,
        lab.backends.map((b) => ep(b.ip, port)),
      ),
    ],
  };
  switch (path) {
    case 'direct': {
      const target = lab.backends[0]!.ip;
      preflight(lab, dir, target, port);
      return measure(lab, `${target}:${port}`);
    }
    case 'userspace': {
      writeFileSync(
        join(dir, 'manifests', 'l4.yaml'),
        manifests(
          lab.backends.map((b) => b.ip),
          port,
        ),
      );
      const portico = spawnProc(
        'portico',
        'ip',
        [
          'netns',
          'exec',
          lab.node,
          process.execPath,
          PORTICO_MAIN,
          '--manifests',
          join(dir, 'manifests'),
          '--l4-mode',
          'userspace',
          '--tcp-services-configmap',
          'bench/tcp-services',
          '--bind-address',
          '0.0.0.0',
          '--http-port',
          '0',
          '--https-port',
          '0',
          '--admin-port',
          '0',
          '--log-level',
          'warn',
        ],
        { logFile: join(dir, 'portico.log') },
      );
      try {
        preflight(lab, dir, labNodeIp, LISTEN_PORT);
        return await measure(lab, `${labNodeIp}:${LISTEN_PORT}`, portico);
      } catch (err) {
        throw new Error(`${(err as Error).message}\nportico log:\n${portico.tail()}`);
      } finally {
        await portico.stop();
      }
    }
    case 'iptables':
    case 'nftables':
    case 'nftables-plain-masq': {
      const mode: KernelMode = path === 'iptables' ? 'iptables' : 'nftables';
      const kernel = createKernelL4(mode, {
        exec: prefixedExec(spawnExec, ['ip', 'netns', 'exec', lab.node]),
      });
      let measured: Measurement;
      try {
        const outcome = await kernel.sync(state);
        if (outcome.error) throw new Error(`${path} sync: ${outcome.error.message}`);
        if (outcome.rejected.length > 0)
          throw new Error(`${path} rejected ${JSON.stringify(outcome.rejected)}`);
        if (path === 'nftables-plain-masq') plainMasquerade(lab);
        preflight(lab, dir, labNodeIp, LISTEN_PORT);
        measured = await measure(lab, `${labNodeIp}:${LISTEN_PORT}`);
      } finally {
        await kernel.cleanup();
        // iptables-nft leaves the empty nat base chains, whose hooks keep NAT and conntrack on in
        // the namespace: flush so the next path (direct included) starts from no hooks at all.
        nsExec(lab.node, ['nft', 'flush', 'ruleset']);
      }
      const left = nodeRuleset(lab);
      if (left !== '') throw new Error(`the node namespace still has rules after ${path}:\n${left}`);
      return measured;
    }
  }
}

/** The control's edit: `masquerade fully-random` → `masquerade`, by rule handle, in the node namespace. */
function plainMasquerade(lab: Lab): void {
  const chain = nsExec(lab.node, ['nft', '-a', 'list', 'chain', 'inet', 'portico', 'masquerading']);
  const handle = /masquerade fully-random # handle (\d+)/.exec(chain)?.[1];
  if (handle === undefined) throw new Error(`no \`masquerade fully-random\` rule to replace in:\n${chain}`);
  nsExec(lab.node, [
    'nft',
    'replace',
    'rule',
    'inet',
    'portico',
    'masquerading',
    'handle',
    handle,
    'masquerade',
  ]);
  if (/fully-random/.test(nsExec(lab.node, ['nft', 'list', 'chain', 'inet', 'portico', 'masquerading'])))
    throw new Error('the masquerade rule is still fully-random after the replace');
}

/** The 5,000-service rows of the rule-sync section, when that section has its table. */
function ruleSyncFigures(results: string): string | undefined {
  const row = (mode: string) =>
    new RegExp(`^\\| 5,000 \\| ${mode} \\| ([^|]+) \\| ([^|]+) \\| ([^|]+) \\| ([^|]+) \\|$`, 'm').exec(
      results,
    );
  const ipt = row('iptables');
  const nft = row('nftables');
  if (ipt === null || nft === null) return undefined;
  // Cells are numbers in ms, or words ("n/a", "> 90,000 (killed at the cap)").
  const ms = (cell: string) => cell.trim().replace(/^(>?\s*[\d,.]+)(?=\s|$)/, '$1 ms');
  return (
    `at 5,000 services × 10 endpoints, a full sync took ${ms(ipt[3]!)} with iptables ` +
    `(${ipt[1]!.trim()} rules) and ${ms(nft[3]!)} with nftables (${nft[1]!.trim()} rules); one ` +
    `endpoint change ${ms(ipt[4]!)} with iptables, ${ms(nft[4]!)} with nftables`
  );
}

const fmt = (v: number) => (v >= 100 ? v.toFixed(0) : v.toFixed(1));
const range = (s: Spread) => `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})`;
const ratio = (s: Spread) => `${s.median.toFixed(2)} (${s.min.toFixed(2)}–${s.max.toFixed(2)})`;

async function main(): Promise<number> {
  await preconditions();
  const hostBefore = await hostRuleset();
  const loadStart = os.loadavg();
  const dir = mkdtempSync(join(os.tmpdir(), 'portico-l4-throughput-'));
  // nginx's worker runs as nobody: it must be able to read the bulk file.
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, 'bulk.bin'), Buffer.alloc(BULK_BYTES, 7), { mode: 0o644 });
  writeFileSync(join(dir, 'preflight.mjs'), preflightScript);
  let lab: Lab | undefined;
  const nginxes: Proc[] = [];
  onExit(() => {
    // SIGINT or a crash, possibly while createLab is still building: the lab's namespaces are
    // named pl4-<our pid in base 36><4 hex>-…, so they are found by name even before `lab` is
    // set. Processes left in them (the lab's echo servers) go by pid, then the namespaces (and
    // the rules inside them) with `ip netns delete`.
    const ours = new RegExp(`^pl4-${process.pid.toString(36)}[0-9a-f]{4}-\\w+$`);
    let names: string[] = [];
    try {
      names = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
        .split('\n')
        .map((line) => line.split(' ')[0] ?? '')
        .filter((name) => ours.test(name));
    } catch {
      // No ip netns: nothing of ours can exist.
    }
    for (const ns of names) {
      try {
        const pids = execFileSync('ip', ['netns', 'pids', ns], {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'ignore'],
        }).split('\n');
        for (const pid of pids.filter((p) => /^\d+$/.test(p))) process.kill(Number(pid), 'SIGKILL');
        execFileSync('ip', ['netns', 'delete', ns], { stdio: 'ignore' });
      } catch {
        // Deleted meanwhile.
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });

  const results = new Map<PathName, Measurement[]>(PATHS.map((p) => [p, []]));
  try {
    lab = await createLab(BACKENDS);
    console.log(
      `lab: node ${lab.node}, client ${lab.client}, backends ${lab.backends.map((b) => b.name).join(' ')}`,
    );
    for (const ns of [lab.client, lab.node]) {
      nsExec(ns, [
        'sysctl',
        '-q',
        '-w',
        'net.ipv4.tcp_tw_reuse=1',
        'net.ipv4.ip_local_port_range=1024 65000',
      ]);
    }
    if (!KEEP_TIME_WAIT)
      for (const b of lab.backends) nsExec(b.name, ['sysctl', '-q', '-w', 'net.ipv4.tcp_max_tw_buckets=0']);
    mkdirSync(join(dir, 'manifests'));
    for (const [i, b] of lab.backends.entries()) {
      const nginxDir = join(dir, `nginx-${i}`);
      mkdirSync(nginxDir);
      writeFileSync(join(nginxDir, 'nginx.conf'), backendConfig(nginxDir));
      const nginx = spawnProc(
        `nginx-${i}`,
        'ip',
        [
          'netns',
          'exec',
          b.name,
          NGINX_BIN,
          '-p',
          nginxDir,
          '-c',
          join(nginxDir, 'nginx.conf'),
          '-e',
          join(nginxDir, 'error.log'),
        ],
        { logFile: join(nginxDir, 'stdout.log') },
      );
      nginxes.push(nginx);
      preflight(lab, dir, b.ip, BACKEND_PORT_BASE);
    }
    for (let round = 0; round < ROUNDS; round++) {
      const order = PATHS.map((_, i) => PATHS[(i + round) % PATHS.length]!);
      for (const path of order) {
        const m = await runPath(path, round, lab, dir);
        results.get(path)!.push(m);
        console.log(
          `round ${round + 1} ${path}: ${fmt(m.bulkMBps)} MB/s, ${fmt(m.connectsPerSecond)} connects/s` +
            ` (${m.connects} connects, ${m.errors} errors, ${m.synRetransmits} SYN retransmits, ${m.pawsTimewait} PAWS-TIME_WAIT refusals; cores busy ${fmt(m.busyBulkPct)}% / ${fmt(m.busyConnectPct)}%` +
            `${m.porticoBulkPct !== undefined ? `; Portico ${fmt(m.porticoBulkPct)}% / ${fmt(m.porticoConnectPct ?? 0)}% of a core` : ''})`,
        );
      }
    }
  } finally {
    await Promise.all(nginxes.map((n) => n.stop()));
    await lab?.destroy();
  }
  const hostAfter = await hostRuleset();
  const hostUnchanged = hostAfter === hostBefore;

  const direct = results.get('direct')!;
  const rows = PATHS.map((path) => {
    const ms = results.get(path)!;
    return {
      path,
      bulk: spread(ms.map((m) => m.bulkMBps)),
      bulkRatio: spread(ms.map((m, i) => m.bulkMBps / direct[i]!.bulkMBps)),
      connects: spread(ms.map((m) => m.connectsPerSecond)),
      connectRatio: spread(ms.map((m, i) => m.connectsPerSecond / direct[i]!.connectsPerSecond)),
      errors: ms.reduce((sum, m) => sum + m.errors, 0),
      synRetransmits: ms.reduce((sum, m) => sum + m.synRetransmits, 0),
      synRetransmitsPerRound: ms.map((m) => m.synRetransmits).join(', '),
      busy: spread(ms.flatMap((m) => [m.busyBulkPct, m.busyConnectPct])),
    };
  });
  const errors = rows.reduce((sum, r) => sum + r.errors, 0);
  const by = (p: PathName) => rows.find((r) => r.path === p)!;
  const userspace = by('userspace');
  const porticoBulk = spread(results.get('userspace')!.map((m) => m.porticoBulkPct ?? 0));
  const porticoConnect = spread(results.get('userspace')!.map((m) => m.porticoConnectPct ?? 0));
  const resultsPath = fileURLToPath(new URL('RESULTS.md', import.meta.url));
  const sync = ruleSyncFigures(existsSync(resultsPath) ? readFileSync(resultsPath, 'utf8') : '');

  const table = [
    '| path | bulk MB/s, median (min–max) | × direct | connects/s, median (min–max) | × direct | SYN retransmits in the connect runs, per round | errors | cores busy % |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.path} | ${range(r.bulk)} | ${ratio(r.bulkRatio)} | ${range(r.connects)} | ${ratio(r.connectRatio)} | ${r.synRetransmitsPerRound} | ${r.errors} | ${fmt(r.busy.median)} |`,
    ),
  ];
  if (SUBSET) {
    console.log(`\n${table.join('\n')}\n\na subset of paths: bench/RESULTS.md not written`);
    return hostUnchanged && errors === 0 ? 0 : 1;
  }
  const x = (s: Spread) => `${s.median.toFixed(2)}×`;
  const ipt = by('iptables');
  const nft = by('nftables');
  const control = rows.find((r) => r.path === 'nftables-plain-masq');
  const masquerades = `The nftables rendering masquerades with \`fully-random\` (a random source port per
flow, as kube-proxy's nftables mode does), and so does the iptables rendering
(\`MASQUERADE --random-fully\`, as kube-proxy's iptables mode where supported).`;
  const noTimeWait = `TIME_WAIT: the backends keep none in this run (\`net.ipv4.tcp_max_tw_buckets=0\` in their
namespaces). At these rates the default table (131,072 sockets) fills within seconds, so whether
a run's own TIME_WAIT sockets were kept would depend on what ran in the minute before it. ${masquerades}
With backends that keep TIME_WAIT (\`--keep-time-wait\`, which adds the control path
\`nftables-plain-masq\`: the nftables rules with a plain \`masquerade\`), random source ports land on
4-tuples a backend still holds in TIME_WAIT; the backend refuses those SYNs (PAWS) and the client
resends them, which costs the nftables path connections per second from one client to one backend
port; the SYN-retransmit column counts them.`;
  const timeWait = (
    c: (typeof rows)[number],
  ) => `SYN retransmits, and the control row. The backends keep TIME_WAIT sockets (\`--keep-time-wait\`, the
kernel's default limit of 131,072). ${masquerades} At thousands of connections per second from one
client to one backend port, a random source port soon lands on a 4-tuple the backend still holds
in TIME_WAIT: the backend refuses that SYN (PAWS, its \`PAWSTimewait\` counter) and answers with an
ACK, the client resets it and resends the SYN (Linux re-arms the SYN timer at its minimum after
such an ACK rather than waiting the usual 1 s). **nftables-plain-masq** is a control, not a Portico mode: the same nftables rules with
that one rule replaced by a plain \`masquerade\` (\`nft replace rule\` in the node namespace after
the sync): ${x(c.connectRatio)} of direct for connections with ${c.synRetransmits} SYN retransmits, against
${x(nft.connectRatio)} and ${nft.synRetransmits} with \`fully-random\` and ${x(ipt.connectRatio)} for iptables. Whether a run's
sockets stay in TIME_WAIT also depends on the table's limit, which the runs before it may have
filled: rounds without retransmits are those.`;
  const section = `## L4 data path throughput (issue 7)

Command: \`sudo npx tsx bench/l4-throughput.ts${command().slice('npx tsx bench/l4-throughput.ts'.length)}\`
(after \`npm run build\`). ${ROUNDS} round${ROUNDS > 1 ? 's' : ''}, the order of the paths rotated each round. Each round and
path: bulk = \`wrk -t2 -c${STREAMS} -d${SECONDS}s\` downloading a 32 MiB file over and over (${STREAMS} parallel
streams; MB = 10⁶ bytes); connects = \`wrk -t2 -c${CONNECTIONS} -d${SECONDS}s -H 'Connection: close'\` against a
${BODY.length}-byte \`return 200\` (one TCP connection per short request/response, ${CONNECTIONS} at a time). ${BACKENDS}
backend namespace${BACKENDS > 1 ? 's' : ''} (nginx, one worker; direct asks backend 0). Ratios are medians of the
per-round ratios to direct in the same round. Machine: ${os.cpus()[0]?.model.trim() ?? 'unknown'} × ${os.cpus().length},
${os.type()} ${os.release()}, node ${process.version}, ${nginxVersion()}, ${version(['iptables', '--version'])},
${version(['nft', '--version'])}. **Shared with other sessions when this ran** (load average
${loadStart.map((v) => v.toFixed(1)).join(', ')} at the start): the figures are indicative, the lead re-runs
them on a quiet machine. Measured ${new Date().toISOString().slice(0, 10)}.

Set-up (test/support/l4-lab.ts): client ns ─veth─ node ns ─veth─ backend ns. Every path crosses
the node namespace, so what differs is the proxy alone: **direct** is the client asking the
backend's address, routed by the node (no rule, no NAT, no conntrack); **userspace** is the real
Portico (\`dist/cli/main.js --l4-mode userspace\`, file mode, a tcp-services ConfigMap entry
\`"${LISTEN_PORT}": "bench/backend:${SERVICE_PORT}"\`) in the node namespace; **iptables** and **nftables** are
\`KernelL4\` applying the same service in the node namespace (DNAT to the backend plus the
masquerade kube-proxy applies to node-port traffic; Portico out of the data path), removed with
\`cleanup()\` and an \`nft flush ruleset\` of the node namespace before the next path. The node's
conntrack table is flushed before each run, and each run asks the backends on a port of its
own, so no run inherits another's conntrack entries or TIME_WAIT sockets. Client, node kernel,
Portico and backends share the same ${os.cpus().length} cores, so every path is CPU-bound and the ratios read
as CPU cost per byte and per connection.

${table.join('\n')}

Portico's own CPU in user-space mode: ${fmt(porticoBulk.median)} % of a core during the bulk runs,
${fmt(porticoConnect.median)} % during the connect runs (medians). ${errors === 0 ? 'No errors (socket errors, timeouts, non-2xx) in any run.' : `**${errors} errors** (socket errors, timeouts or non-2xx): the affected figures are not to be trusted.`}
Host iptables/ip6tables/nft rulesets byte-identical before and after: ${hostUnchanged ? 'yes' : '**NO**'}.

kube-proxy's lesson, with these figures. In **user space** every byte goes up into Portico and
back down (two socket copies and an event-loop turn per chunk) and every client connection costs
Portico an accept plus a second connection to the backend: bulk ${x(userspace.bulkRatio)} and connections
${x(userspace.connectRatio)} of direct. In **iptables** and **nftables** mode Portico is out of the data path: the
kernel NATs the first packet of a flow and conntrack rewrites the rest, which costs a conntrack
entry per connection and a NAT lookup per packet but no copy to user space: bulk ${x(ipt.bulkRatio)} and
${x(nft.bulkRatio)}, connections ${x(ipt.connectRatio)} and ${x(nft.connectRatio)} of direct. With one service the two kernel modes
do the same per-packet work (one DNAT, one masquerade), so differences between them here are
noise or the masquerade flavour (next paragraph), not the rule lookup; where they part is at
scale: iptables walks a linear chain of services × endpoints for every new flow and rewrites
whole chains through \`iptables-restore\`, while nftables finds the service with one verdict-map
lookup and applies a change as a small transaction (see "L4 rule sync (issue 7)": ${sync ?? 'its table'}).
IPVS, kube-proxy's hash-based mode for large clusters, is only rendered here: this kernel has no
\`ip_vs\`. So, as kube-proxy found: user space < iptables < IPVS/nftables at scale.

${control === undefined ? noTimeWait : timeWait(control)}
`;
  console.log(`\n${section}`);
  if (WRITE) {
    writeSection(resultsPath, '## L4 data path throughput (issue 7)', section);
    console.log('wrote bench/RESULTS.md');
  }
  if (!hostUnchanged) {
    console.error('the host ruleset changed during the run');
    return 1;
  }
  return errors === 0 ? 0 : 1;
}

try {
  process.exitCode = await main();
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 2;
}

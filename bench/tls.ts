/**
 * `tls` is issue 5's TLS bench: Portico vs nginx-light terminating TLS with the same certificate
 * (ECDSA P-256 and RSA-2048, made with the openssl CLI), both proxying to the same private nginx
 * `return 200` backend. Measures (a) new TLS handshakes/s — bench/tls/handshakes.c, compiled here
 * with `cc`, W forked workers each doing connect + full handshake (SNI, no resumption) + close back
 * to back — and (b) HTTPS requests/s over keep-alive with `wrk -t1 -c50`. Proxy on CPU 0, clients
 * and backend on CPU 1. Needs `npm run build` first.
 * Run: `npx tsx bench/tls.ts [--quick] [--runs N] [--duration S] [--workers W] [--no-results]`;
 * writes the "## TLS (issue 5)" section of bench/RESULTS.md and raw JSON to bench/out/.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { connect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { makeCertificate } from '../test/support/certs.js';
import { parseWrk, totalErrors, type WrkResult, wrkArgs } from './lib/clients.js';
import { cpuBetween, sampleCpu } from './lib/cpu.js';
import { describeMachine } from './lib/machine.js';
import { freePort, LOOPBACK, waitForHttp } from './lib/net.js';
import { BACKEND_BODY, backendConfig, NGINX_BIN, nginxVersion, startNginx } from './lib/nginx.js';
import { killAll, onExit, type Proc, runToEnd, spawnProc } from './lib/procs.js';
import { writeSection } from './lib/results.js';
import { spread } from './lib/stats.js';

const HOST = 'tls.bench.test';
const NS = 'bench';
const benchDir = dirname(fileURLToPath(import.meta.url));
const repoDir = join(benchDir, '..');

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    runs: { type: 'string' },
    duration: { type: 'string' },
    workers: { type: 'string', default: '8' },
    connections: { type: 'string', default: '50' },
    keys: { type: 'string', default: 'ecdsa,rsa' },
    'no-pin': { type: 'boolean', default: false },
    'no-results': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  },
});
const runs = Number.parseInt(values.runs ?? (values.quick ? '1' : '3'), 10);
const duration = Number.parseInt(values.duration ?? (values.quick ? '3' : '15'), 10);
const workers = Number.parseInt(values.workers, 10);
const connections = Number.parseInt(values.connections, 10);
const keyTypes = values.keys.split(',').filter((k): k is KeyType => k === 'ecdsa' || k === 'rsa');
const pin = !values['no-pin'] && os.cpus().length >= 2;
const proxyCpu = pin ? '0' : undefined;
const clientCpu = pin ? '1' : undefined;
const log = (msg: string): void => void process.stderr.write(`tls-bench: ${msg}\n`);

type KeyType = 'ecdsa' | 'rsa';
type Contender = 'portico' | 'nginx';
interface Cert {
  readonly type: KeyType;
  readonly certFile: string;
  readonly keyFile: string;
  readonly fingerprint: string;
}
interface HandshakeRun {
  readonly ok: number;
  readonly fail: number;
  readonly seconds: number;
  readonly perSecond: number;
  /** Busy % of the proxy core (cpu0) and the client core (cpu1) during the run. */
  readonly busyPct?: Readonly<Record<string, number>>;
}
interface ContenderResult {
  readonly handshakes: HandshakeRun[];
  readonly wrk: (Omit<WrkResult, 'raw'> & { busyPct: Readonly<Record<string, number>> })[];
  readonly protocol: string;
}

function checkTools(): void {
  const v = spawnSync(NGINX_BIN, ['-V'], { encoding: 'utf8' });
  if (!`${v.stderr}${v.stdout}`.includes('--with-http_ssl_module'))
    throw new Error(`${NGINX_BIN} lacks http_ssl_module`);
  for (const tool of ['wrk', 'openssl', 'cc']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) throw new Error(`${tool} not found`);
  }
  if (!existsSync(join(repoDir, 'dist', 'cli', 'main.js')))
    throw new Error('dist/cli/main.js missing: npm run build');
}

function makeCert(dir: string, type: KeyType): Cert {
  const pair = makeCertificate(HOST, { keyType: type });
  const keyFile = join(dir, `${type}.key`);
  const certFile = join(dir, `${type}.crt`);
  writeFileSync(keyFile, pair.key);
  writeFileSync(certFile, pair.cert);
  return { type, certFile, keyFile, fingerprint: new X509Certificate(pair.cert).fingerprint256 };
}

function writePorticoManifests(dir: string, cert: Cert, backendPort: number): void {
  mkdirSync(dir, { recursive: true });
  const b64 = (f: string): string => readFileSync(f).toString('base64');
  const docs = [
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'tls-bench', namespace: NS },
      type: 'kubernetes.io/tls',
      data: { 'tls.crt': b64(cert.certFile), 'tls.key': b64(cert.keyFile) },
    },
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name: 'tls-bench', namespace: NS },
      spec: {
        ingressClassName: 'portico',
        tls: [{ hosts: [HOST], secretName: 'tls-bench' }],
        rules: [
          {
            host: HOST,
            http: {
              paths: [
                {
                  path: '/',
                  pathType: 'Prefix',
                  backend: { service: { name: 'web', port: { number: 80 } } },
                },
              ],
            },
          },
        ],
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: NS },
      spec: {
        type: 'ClusterIP',
        ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: backendPort }],
      },
    },
    {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'web-1', namespace: NS, labels: { 'kubernetes.io/service-name': 'web' } },
      addressType: 'IPv4',
      endpoints: [{ addresses: [LOOPBACK], conditions: { ready: true, serving: true } }],
      ports: [{ name: 'http', protocol: 'TCP', port: backendPort }],
    },
  ];
  writeFileSync(join(dir, 'bench.yaml'), docs.map((d) => stringify(d)).join('---\n'));
}

function nginxTlsConfig(dir: string, port: number, cert: Cert, backendPort: number): string {
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
  upstream bench_backend {
    server ${LOOPBACK}:${backendPort};
    keepalive 64;
  }
  server {
    listen ${LOOPBACK}:${port} ssl backlog=4096;
    server_name ${HOST};
    ssl_certificate ${cert.certFile};
    ssl_certificate_key ${cert.keyFile};
    ssl_protocols TLSv1.2 TLSv1.3;
    location / {
      proxy_pass http://bench_backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
    }
  }
}
`;
}

/** One TLS connection with SNI: the certificate's fingerprint and the protocol negotiated. */
function presented(port: number): Promise<{ fingerprint: string; protocol: string }> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: LOOPBACK, port, servername: HOST, rejectUnauthorized: false }, () => {
      const fp = s.getPeerX509Certificate()?.fingerprint256 ?? '';
      resolve({ fingerprint: fp, protocol: s.getProtocol() ?? '?' });
      s.destroy();
    });
    s.setTimeout(3000, () => s.destroy(new Error('TLS connect timeout')));
    s.on('error', reject);
  });
}

/** HTTPS pre-flight: 200 with the backend's body, and our certificate presented for the SNI. */
async function preflight(port: number, cert: Cert): Promise<string> {
  const p = await presented(port);
  if (p.fingerprint !== cert.fingerprint)
    throw new Error(`port ${port} presents another certificate for ${HOST}`);
  for (let i = 0; i < 3; i++) {
    const body = execFileSync(
      'curl',
      ['-sk', '--fail', '--resolve', `${HOST}:${port}:${LOOPBACK}`, `https://${HOST}:${port}/`],
      { encoding: 'utf8' },
    );
    if (body !== BACKEND_BODY)
      throw new Error(`pre-flight on ${port} answered ${JSON.stringify(body.slice(0, 200))}`);
  }
  return p.protocol;
}

async function handshakes(bin: string, port: number, seconds: number): Promise<HandshakeRun> {
  const args = [LOOPBACK, String(port), HOST, String(seconds), String(workers)];
  const r = await runToEnd('handshakes', bin, args, { cpu: clientCpu, timeoutMs: (seconds + 30) * 1000 });
  const m = /ok (\d+) fail (\d+) seconds ([\d.]+)/.exec(r.stdout);
  if (r.code !== 0 || m === null) throw new Error(`handshakes exited ${r.code}: ${r.stderr}${r.stdout}`);
  const ok = Number(m[1]);
  const secs = Number(m[3]);
  return { ok, fail: Number(m[2]), seconds: secs, perSecond: ok / secs };
}

async function wrk(port: number, seconds: number): Promise<WrkResult> {
  const args = wrkArgs({
    url: `https://${LOOPBACK}:${port}/`,
    host: HOST,
    seconds,
    connections,
    cpu: clientCpu,
  });
  const r = await runToEnd('wrk', 'wrk', args, { cpu: clientCpu, timeoutMs: (seconds + 30) * 1000 });
  if (r.code !== 0) throw new Error(`wrk exited ${r.code}: ${r.stderr}${r.stdout}`);
  return parseWrk(r.stdout);
}

async function startPortico(
  work: string,
  cert: Cert,
  backendPort: number,
): Promise<{ proc: Proc; port: number }> {
  const dir = join(work, `manifests-${cert.type}`);
  writePorticoManifests(dir, cert, backendPort);
  const [http, https, admin] = [await freePort(), await freePort(), await freePort()];
  const args = [
    'dist/cli/main.js',
    '--manifests',
    dir,
    '--http-port',
    String(http),
    '--https-port',
    String(https),
  ];
  args.push(
    '--admin-port',
    String(admin),
    '--bind-address',
    LOOPBACK,
    '--log-level',
    'warn',
    '--access-log',
    'off',
  );
  const proc = spawnProc('portico', process.execPath, args, {
    cpu: proxyCpu,
    cwd: repoDir,
    logFile: join(work, `portico-${cert.type}.log`),
    env: { ...process.env, NODE_ENV: 'production' },
  });
  let alive = true;
  void proc.exited.then(() => {
    alive = false;
  });
  try {
    await waitForHttp(`http://${LOOPBACK}:${admin}/readyz`, { timeoutMs: 30_000, alive: () => alive });
  } catch (e) {
    await proc.stop();
    throw new Error(`portico failed to become ready: ${(e as Error).message}\n${proc.tail()}`);
  }
  return { proc, port: https };
}

async function startNginxTls(
  work: string,
  cert: Cert,
  backendPort: number,
): Promise<{ proc: Proc; port: number }> {
  const port = await freePort();
  const dir = join(work, `nginx-tls-${cert.type}`);
  // startNginx probes over plain HTTP; probe the backend instead and check TLS in the pre-flight.
  const proc = await startNginx(
    'nginx-tls',
    dir,
    nginxTlsConfig(dir, port, cert, backendPort),
    { url: `http://${LOOPBACK}:${backendPort}/` },
    proxyCpu,
  );
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await presented(port);
      break;
    } catch (e) {
      if (Date.now() > deadline)
        throw new Error(`nginx-tls not listening: ${(e as Error).message}\n${proc.tail()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return { proc, port };
}

async function measure(
  name: Contender,
  start: () => Promise<{ proc: Proc; port: number }>,
  cert: Cert,
  hsBin: string,
): Promise<ContenderResult> {
  const { proc, port } = await start();
  try {
    const protocol = await preflight(port, cert);
    log(`${cert.type} ${name}: warm-up`);
    await wrk(port, 1);
    await handshakes(hsBin, port, 1);
    const result: ContenderResult = { handshakes: [], wrk: [], protocol };
    for (let i = 0; i < runs; i++) {
      const c0 = sampleCpu();
      const hs = {
        ...(await handshakes(hsBin, port, duration)),
        busyPct: cpuBetween(c0, sampleCpu(), false).coreBusyPct,
      };
      const c1 = sampleCpu();
      const w = await wrk(port, duration);
      const { raw: _raw, ...rest } = w;
      result.handshakes.push(hs);
      result.wrk.push({ ...rest, busyPct: cpuBetween(c1, sampleCpu(), false).coreBusyPct });
      log(
        `${cert.type} ${name} run ${i + 1}/${runs}: ${hs.perSecond.toFixed(0)} handshakes/s (fail ${hs.fail}), ` +
          `${w.rps.toFixed(0)} req/s (errors ${totalErrors(w.errors)})`,
      );
    }
    return result;
  } finally {
    await proc.stop();
  }
}

async function main(): Promise<number> {
  checkTools();
  const work = mkdtempSync(join(os.tmpdir(), 'portico-bench-tls-'));
  if (!values.keep) onExit(() => rmSync(work, { recursive: true, force: true }));
  else log(`scratch directory kept: ${work}`);
  const hsBin = join(work, 'handshakes');
  execFileSync('cc', ['-O2', '-o', hsBin, join(benchDir, 'tls', 'handshakes.c'), '-lssl', '-lcrypto'], {
    stdio: 'inherit',
  });
  const machine = describeMachine(repoDir, nginxVersion());
  const backendPort = await freePort();
  const backendDir = join(work, 'backend');
  await startNginx(
    'backend',
    backendDir,
    backendConfig(backendDir, backendPort),
    { url: `http://${LOOPBACK}:${backendPort}/` },
    clientCpu,
  );
  const results: Record<string, Record<Contender, ContenderResult>> = {};
  for (const type of keyTypes) {
    const cert = makeCert(work, type);
    const portico = await measure('portico', () => startPortico(work, cert, backendPort), cert, hsBin);
    const nginx = await measure('nginx', () => startNginxTls(work, cert, backendPort), cert, hsBin);
    results[type] = { portico, nginx };
  }
  await killAll();

  const command = `npx tsx bench/tls.ts${values.quick ? ' --quick' : ''}`;
  const rows: string[] = [];
  let failed = false;
  const summary: Record<string, unknown> = {};
  for (const [type, r] of Object.entries(results)) {
    const hs = (c: Contender): number => spread(r[c].handshakes.map((h) => h.perSecond)).median;
    const rps = (c: Contender): number => spread(r[c].wrk.map((w) => w.rps)).median;
    const errs = (c: Contender): number =>
      r[c].handshakes.reduce((n, h) => n + h.fail, 0) +
      r[c].wrk.reduce((n, w) => n + totalErrors(w.errors), 0);
    const p99 = (c: Contender): number =>
      spread(r[c].wrk.map((w) => w.latencyMs['p99'] ?? Number.NaN)).median;
    const busy = (c: Contender, k: 'handshakes' | 'wrk'): string => {
      const list = r[c][k].map((x) => x.busyPct ?? {});
      const med = (core: string): number => spread(list.map((b) => b[core] ?? Number.NaN)).median;
      return `${med('cpu0').toFixed(0)} / ${med('cpu1').toFixed(0)}`;
    };
    const bad = errs('portico') + errs('nginx') > 0;
    failed ||= bad;
    const label = type === 'rsa' ? 'RSA-2048' : 'ECDSA P-256';
    const ratio = (a: number, b: number): string => (bad ? 'invalid (errors)' : (a / b).toFixed(2));
    rows.push(
      `| ${label} | new handshakes/s | ${hs('portico').toFixed(0)} | ${hs('nginx').toFixed(0)} | ${ratio(hs('portico'), hs('nginx'))} |`,
      `| ${label} | keep-alive HTTPS req/s | ${rps('portico').toFixed(0)} | ${rps('nginx').toFixed(0)} | ${ratio(rps('portico'), rps('nginx'))} |`,
      `| ${label} | busy % CPU0 / CPU1 during handshakes | ${busy('portico', 'handshakes')} | ${busy('nginx', 'handshakes')} | |`,
      `| ${label} | busy % CPU0 / CPU1 during keep-alive | ${busy('portico', 'wrk')} | ${busy('nginx', 'wrk')} | |`,
      `| ${label} | keep-alive p99 (ms) | ${p99('portico').toFixed(2)} | ${p99('nginx').toFixed(2)} | |`,
      `| ${label} | errors (handshake fails + wrk) | ${errs('portico')} | ${errs('nginx')} | |`,
    );
    summary[type] = {
      handshakesPerSecond: { portico: hs('portico'), nginx: hs('nginx'), ratio: hs('portico') / hs('nginx') },
      requestsPerSecond: {
        portico: rps('portico'),
        nginx: rps('nginx'),
        ratio: rps('portico') / rps('nginx'),
      },
      protocol: { portico: r.portico.protocol, nginx: r.nginx.protocol },
    };
  }
  const stamp = new Date().toISOString();
  const outDir = join(benchDir, 'out');
  mkdirSync(outDir, { recursive: true });
  const jsonPath = join(outDir, `tls-${stamp.replace(/[:.]/g, '-')}.json`);
  writeFileSync(
    jsonPath,
    JSON.stringify(
      { command, machine, runs, duration, workers, connections, pin, summary, results },
      null,
      2,
    ),
  );
  const protocols = Object.values(results)
    .map((r) => `${r.portico.protocol}/${r.nginx.protocol}`)
    .join(', ');
  const section = `## TLS (issue 5)

_Generated ${stamp} by \`${command}\` (${runs} × ${duration} s per measurement, median)._

- **Machine**: ${machine.cpuModel}, ${machine.cores} cores (load average ${machine.loadAvgStart.join(' / ')}), Node ${machine.node}, ${machine.nginx}, OpenSSL ${execFileSync('openssl', ['version'], { encoding: 'utf8' }).trim().split(' ')[1]}, commit ${machine.gitCommit}
- **Setup**: one self-signed certificate per key type for \`${HOST}\` (openssl CLI), served by Portico from a \`kubernetes.io/tls\` Secret (Ingress \`spec.tls\` → Service → EndpointSlice) and by nginx-light (\`listen … ssl\`, \`ssl_protocols TLSv1.2 TLSv1.3\`, upstream keepalive 64), both proxying to the same private nginx \`return 200\` backend. Pre-flight: 200 with the backend's body, and the certificate presented for the SNI is ours (negotiated: ${protocols}, Portico/nginx).
- **Handshakes**: [\`tls/handshakes.c\`](tls/handshakes.c), ${workers} forked workers, each a loop of TCP connect + full TLS handshake (SNI, no session cache or tickets, no verification) + close.
- **Keep-alive**: \`wrk ${wrkArgs({ url: 'https://127.0.0.1:P/', host: HOST, seconds: duration, connections, cpu: undefined }).join(' ')}\`.
- **Pinning**: ${pin ? 'proxy on CPU 0; clients and backend on CPU 1' : 'none'}. One proxy process/worker each; measured one at a time.

- **Read with the busy row**: a core at ~100 % on CPU 1 means the client side (handshake workers, or wrk + backend) was the limit, not the proxy; the ratio is then a bound, not a measurement (for handshakes: Portico's ratio is a lower bound when nginx's CPU 0 is below 100 %; for keep-alive: an upper bound when nginx's CPU 1 is at 100 %).

| key | measure | Portico | nginx | Portico/nginx |
| --- | ------- | ------: | ----: | ------------: |
${rows.join('\n')}
`;
  if (!values['no-results']) writeSection(join(benchDir, 'RESULTS.md'), '## TLS (issue 5)', section);
  process.stdout.write(`${section}\nraw: ${jsonPath}\n`);
  return failed ? 1 : 0;
}

main().then(
  async (code) => {
    await killAll();
    process.exit(code);
  },
  async (e: unknown) => {
    log(`failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    await killAll();
    process.exit(2);
  },
);

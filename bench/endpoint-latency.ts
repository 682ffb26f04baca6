/**
 * `endpoint-latency` measures, at 10,000 Ingresses in cluster mode, the time from the API server
 * acknowledging an EndpointSlice write to the first request Portico answers from the new endpoint
 * (issue 4: p99 under 100 ms over 100 sequential changes).
 *
 * A real API server refuses loopback endpoint addresses, and so does the fake one, so the run
 * happens inside a network namespace this script creates (backends on 10.200.0.x of a
 * veth interface there) and deletes afterwards; nothing touches the host's network. Needs root and
 * `ip netns`.
 *
 *   npx tsx bench/endpoint-latency.ts [--ingresses 10000] [--changes 100]
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, createServer, request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startFakeApiServer } from '../test/support/fake-apiserver/index.js';
import { writeSection } from './lib/results.js';

const benchDir = dirname(fileURLToPath(import.meta.url));
const repoDir = resolve(benchDir, '..');
const HEADING = '## Endpoint change latency (cluster mode)';
const BACKENDS = 10;
const backendAddress = (i: number) => `10.200.0.${10 + i}`;

const { values } = parseArgs({
  options: {
    inner: { type: 'boolean', default: false },
    ingresses: { type: 'string', default: '10000' },
    changes: { type: 'string', default: '100' },
  },
});
const ingresses = Number(values.ingresses);
const changes = Number(values.changes);

function sh(args: readonly string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'inherit'] });
}

/** The outer run: make the namespace, re-run this script inside it, always delete the namespace. */
function outer(): void {
  const ns = `portico-bench-${process.pid}`;
  sh(['netns', 'add', ns]);
  const cleanup = () => {
    try {
      sh(['netns', 'delete', ns]);
    } catch {
      // already gone
    }
  };
  process.once('SIGINT', () => {
    cleanup();
    process.exit(130);
  });
  try {
    sh(['-n', ns, 'link', 'set', 'lo', 'up']);
    // A veth pair with both ends in the namespace: kernels without the dummy driver have veth.
    sh(['-n', ns, 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1']);
    sh(['-n', ns, 'link', 'set', 'v0', 'up']);
    sh(['-n', ns, 'link', 'set', 'v1', 'up']);
    for (let i = 0; i < BACKENDS; i++) sh(['-n', ns, 'addr', 'add', `${backendAddress(i)}/24`, 'dev', 'v0']);
    execFileSync(
      'ip',
      [
        'netns',
        'exec',
        ns,
        process.execPath,
        '--import',
        'tsx',
        fileURLToPath(import.meta.url),
        '--inner',
        '--ingresses',
        String(ingresses),
        '--changes',
        String(changes),
      ],
      { stdio: 'inherit', cwd: repoDir },
    );
  } finally {
    cleanup();
  }
}

function startBackend(address: string): Promise<Server> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(address) });
    res.end(address);
  });
  return new Promise((done) => server.listen(8080, address, () => done(server)));
}

function slice(i: number, address: string) {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: `app-${i}-abcde`,
      namespace: 'bench',
      labels: { 'kubernetes.io/service-name': `app-${i}` },
    },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: [{ addresses: [address], conditions: { ready: true } }],
  };
}

async function inner(): Promise<void> {
  const api = await startFakeApiServer();
  const backends = await Promise.all(
    Array.from({ length: BACKENDS }, (_, i) => startBackend(backendAddress(i))),
  );
  api.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bench' } });
  api.create({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'IngressClass',
    metadata: { name: 'portico' },
    spec: { controller: 'portico.dev/ingress-controller' },
  });
  for (let i = 0; i < ingresses; i++) {
    api.create({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: `app-${i}`, namespace: 'bench' },
      spec: { ports: [{ name: 'http', port: 80, targetPort: 8080 }], selector: { app: `app-${i}` } },
    });
    api.create(slice(i, backendAddress(i % BACKENDS)));
    const backend = { service: { name: `app-${i}`, port: { number: 80 } } };
    api.create({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name: `app-${i}`, namespace: 'bench' },
      spec: {
        ingressClassName: 'portico',
        rules: [
          {
            host: `app-${i}.bench.test`,
            http: {
              paths: [
                { path: '/', pathType: 'Prefix', backend },
                { path: '/api/v1', pathType: 'Prefix', backend },
                { path: '/healthz', pathType: 'Exact', backend },
              ],
            },
          },
        ],
      },
    });
  }
  const dir = mkdtempSync(join(tmpdir(), 'portico-bench-endpoints-'));
  const kubeconfig = await api.writeKubeconfig(dir);
  const portico: ChildProcess = spawn(
    process.execPath,
    [
      // e.g. PORTICO_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' to profile Portico itself.
      ...(process.env['PORTICO_NODE_ARGS']?.split(' ').filter(Boolean) ?? []),
      join(repoDir, 'dist/cli/main.js'),
      '--kubeconfig',
      kubeconfig,
      '--http-port',
      '18080',
      '--https-port',
      '18443',
      '--admin-port',
      '18254',
      '--bind-address',
      '127.0.0.1',
      '--log-level',
      'warn',
      '--access-log',
      'off',
      '--shutdown-delay',
      '0s',
    ],
    {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, POD_NAMESPACE: 'bench', POD_NAME: 'bench' },
    },
  );
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const get = (port: number, path: string, host?: string) =>
    new Promise<{ status: number; body: string }>((done, fail) => {
      const req = request(
        { host: '127.0.0.1', port, path, agent, headers: host ? { host } : {}, timeout: 2_000 },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            body += c;
          });
          res.on('end', () => done({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', fail);
      req.end();
    });
  const put = (path: string, body: unknown) =>
    new Promise<number>((done, fail) => {
      const text = JSON.stringify(body);
      const url = new URL(path, api.url);
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: 'PUT',
          headers: {
            authorization: 'Bearer fake-token',
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(text),
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => done(res.statusCode ?? 0));
        },
      );
      req.on('error', fail);
      req.end(text);
    });
  try {
    const started = performance.now();
    for (let tries = 0; ; tries++) {
      const ready = await get(18254, '/readyz').catch(() => ({ status: 0, body: '' }));
      if (ready.status === 200) break;
      if (tries > 1_200) throw new Error('portico did not become ready within 120 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    const syncSeconds = (performance.now() - started) / 1_000;
    const host = 'app-0.bench.test';
    let current = backendAddress(0);
    const first = await get(18080, '/', host);
    if (first.body !== current)
      throw new Error(`expected ${current} before any change, got ${first.status} ${first.body}`);
    const latencies: number[] = [];
    for (let n = 0; n < changes; n++) {
      const next = backendAddress((n + 1) % BACKENDS === 0 ? 1 : (n + 1) % BACKENDS);
      const target = next === current ? backendAddress((n + 2) % BACKENDS) : next;
      const status = await put(
        '/apis/discovery.k8s.io/v1/namespaces/bench/endpointslices/app-0-abcde',
        slice(0, target),
      );
      if (status !== 200) throw new Error(`EndpointSlice PUT answered ${status}`);
      const acked = performance.now();
      // Bounded: at most 5 s per change.
      for (;;) {
        const answer = await get(18080, '/', host);
        if (answer.body === target) break;
        if (performance.now() - acked > 5_000) throw new Error(`change ${n}: ${target} never answered`);
      }
      latencies.push(performance.now() - acked);
      current = target;
    }
    latencies.sort((a, b) => a - b);
    const pick = (q: number) =>
      latencies[Math.min(latencies.length - 1, Math.ceil(q * latencies.length) - 1)] ?? 0;
    const p50 = pick(0.5);
    const p99 = pick(0.99);
    const max = latencies.at(-1) ?? 0;
    const section = [
      HEADING,
      '',
      `_Generated ${new Date().toISOString()} by \`npx tsx bench/endpoint-latency.ts --ingresses ${ingresses} --changes ${changes}\` (Node ${process.version}, run as root inside a network namespace it creates)._`,
      '',
      `- **Setup**: fake API server (test/support/fake-apiserver, real client-node in Portico) holding ${ingresses.toLocaleString('en-US')} Ingresses (1 host × 3 paths each) with their Services and EndpointSlices; Portico \`node dist/cli/main.js --kubeconfig …\`; ${BACKENDS} backends on 10.200.0.10–19 of a veth interface in the namespace.`,
      `- **Measured**: for each of ${changes} sequential changes, PUT the EndpointSlice of \`app-0\` to a different backend address; the clock starts when the API server answers the PUT and stops at the first request (one keep-alive client, back to back) that the new backend answers.`,
      `- **Initial sync** (process start → /readyz 200): ${syncSeconds.toFixed(1)} s.`,
      '',
      '| changes | p50 ms | p99 ms | max ms | target p99 | verdict |',
      '|---:|---:|---:|---:|---|---|',
      `| ${changes} | ${p50.toFixed(1)} | ${p99.toFixed(1)} | ${max.toFixed(1)} | < 100 ms | ${p99 < 100 ? '✅ pass' : '❌ fail'} |`,
      '',
    ].join('\n');
    writeSection(join(benchDir, 'RESULTS.md'), HEADING, section);
    process.stdout.write(`${section}\n`);
  } finally {
    // SIGTERM first, so a `PORTICO_NODE_ARGS=--cpu-prof` run writes its profile; bounded by a SIGKILL.
    const exited = new Promise((done) => portico.once('exit', done));
    portico.kill('SIGTERM');
    const killer = setTimeout(() => portico.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(killer);
    agent.destroy();
    for (const b of backends) b.close();
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (values.inner) {
  inner().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`endpoint-latency: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
} else {
  outer();
}

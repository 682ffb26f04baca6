/**
 * `backend-selection` is issue 8's bench for canary, affinity and load balancing: requests/s of
 * one Portico over the proxy bench's 1,000 generated Ingresses, for a plain route and routes with
 * a canary by weight (50 %), cookie affinity (a returning client sending its cookie, and a new
 * client every request, which pays for a key and a Set-Cookie), `upstream-hash-by $request_uri`
 * and `load-balance: ewma`, as ratios to the plain route.
 *
 * Same method as bench/policies.ts: the nginx `return 200` backend and wrk on CPU 1, Portico on
 * CPU 0, a pre-flight per variant proving its feature is active, variants measured in interleaved
 * rounds (order rotated each round), each ratio the median of the per-round ratios. Bounded: every
 * wrk run lasts `--duration` seconds, `rounds × variants` runs in all. The regex-and-rewrite
 * variant of the issue's bench joins when the rewrite family lands (same script, one more row).
 * Writes "## Backend selection (issue 8)" of bench/RESULTS.md (unless `--no-results`).
 *
 *   npm run build && npx tsx bench/backend-selection.ts [--quick] [--rounds N] [--duration S]
 *                                                       [--warmup S] [--no-pin] [--no-results]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { type LoadSpec, totalErrors } from './lib/clients.js';
import { BENCH_NAMESPACE, benchHost, benchTargetIndex, writeManifests } from './lib/manifests.js';
import { freePort, httpGet, LOOPBACK, preflight } from './lib/net.js';
import { BACKEND_BODY, backendConfig, NGINX_BIN, startNginx } from './lib/nginx.js';
import { onExit } from './lib/procs.js';
import { writeSection } from './lib/results.js';
import { spread } from './lib/stats.js';
import { PORTICO_MAIN, startPorticoProcess } from './proxy/portico.js';
import { measureWrk, type ThroughputRun } from './proxy/suite.js';

const HEADING = '## Backend selection (issue 8)';
const benchDir = dirname(fileURLToPath(import.meta.url));
const repoDir = resolve(benchDir, '..');
const log = (line: string): void => void process.stderr.write(`backend-selection: ${line}\n`);

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    'no-pin': { type: 'boolean', default: false },
    'no-results': { type: 'boolean', default: false },
  },
});

function count(name: string, v: string | undefined, fallback: number, min = 1): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got ${v}`);
  return n;
}

const quick = values.quick;
const rounds = count('rounds', values.rounds, quick ? 1 : 5);
const seconds = count('duration', values.duration, quick ? 3 : 6);
const warmupSeconds = count('warmup', values.warmup, quick ? 1 : 3, 0);
const INGRESSES = 1000;
const CONNECTIONS = 50;
const pin = !values['no-pin'] && os.cpus().length >= 2;
const proxyCpu = pin ? '0' : undefined;
const clientCpu = pin ? '1' : undefined;
const N = 'nginx.ingress.kubernetes.io/';

interface Variant {
  readonly id: string;
  readonly label: string;
  readonly index: number;
  readonly annotations?: Readonly<Record<string, string>>;
  /** Request headers; `cookie` is filled in by the pre-flight for the returning-client variant. */
  headers: Record<string, string>;
}

const last = benchTargetIndex(INGRESSES);
const VARIANTS: Variant[] = [
  { id: 'plain', label: 'plain route', index: last, headers: {} },
  { id: 'canary', label: 'canary by weight (50 %)', index: last - 1, headers: {} },
  {
    id: 'affinity',
    label: 'cookie affinity, returning client',
    index: last - 2,
    annotations: { [`${N}affinity`]: 'cookie' },
    headers: {},
  },
  {
    id: 'affinity-new',
    label: 'cookie affinity, new client (Set-Cookie)',
    index: last - 2,
    annotations: { [`${N}affinity`]: 'cookie' },
    headers: {},
  },
  {
    id: 'hash',
    label: 'upstream-hash-by $request_uri',
    index: last - 3,
    annotations: { [`${N}upstream-hash-by`]: '$request_uri' },
    headers: {},
  },
  {
    id: 'ewma',
    label: 'load-balance: ewma',
    index: last - 4,
    annotations: { [`${N}load-balance`]: 'ewma' },
    headers: {},
  },
];

/** The canary Ingress of the canary variant: same host and `/`, another Service on the same backend. */
function writeCanary(dir: string, index: number): void {
  const name = `app-${String(index - 10).padStart(4, '0')}`;
  const canary = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: {
      name: 'bench-canary',
      namespace: BENCH_NAMESPACE,
      annotations: { [`${N}canary`]: 'true', [`${N}canary-weight`]: '50' },
    },
    spec: {
      ingressClassName: 'portico',
      rules: [
        {
          host: benchHost(index),
          http: {
            paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name, port: { number: 80 } } } }],
          },
        },
      ],
    },
  };
  writeFileSync(join(dir, 'zz-canary.yaml'), stringify(canary));
}

/** `prove` checks, before any load, that the variant's feature runs on its route. */
async function prove(v: Variant, url: string, adminUrl: string): Promise<string> {
  const host = benchHost(v.index);
  const answer = await preflight(url, host, BACKEND_BODY, v.headers);
  const setCookie = answer.headers['set-cookie'];
  const cookie = (Array.isArray(setCookie) ? setCookie[0] : setCookie)?.split(';', 1)[0];
  switch (v.id) {
    case 'affinity': {
      if (cookie === undefined) throw new Error('affinity: the first response set no cookie');
      v.headers = { cookie };
      const again = await preflight(url, host, BACKEND_BODY, v.headers);
      if (again.headers['set-cookie'] !== undefined)
        throw new Error('affinity: a returning client got a new cookie');
      return `returning client sends ${cookie.split('=', 1)[0]}=…, gets no new cookie`;
    }
    case 'affinity-new':
      if (cookie === undefined) throw new Error('affinity-new: no Set-Cookie for a new client');
      return 'every response sets a new cookie';
    case 'canary': {
      const routes = JSON.parse((await httpGet(`${adminUrl}/routes`)).body) as {
        routes: { host: string; path: string; canary?: { weight: number } }[];
      };
      const r = routes.routes.find((x) => x.host === host && x.path === '/');
      if (r?.canary?.weight !== 50)
        throw new Error('canary: /routes shows no canary of weight 50 on the route');
      return '/routes shows the canary (weight 50)';
    }
    default:
      if (cookie !== undefined) throw new Error(`${v.id}: unexpected Set-Cookie`);
      return '200 with the backend body';
  }
}

function specFor(v: Variant, url: string, secs: number): LoadSpec {
  return {
    url,
    host: benchHost(v.index),
    seconds: secs,
    connections: CONNECTIONS,
    cpu: clientCpu,
    headers: Object.entries(v.headers).map(([k, val]) => `${k[0]?.toUpperCase()}${k.slice(1)}: ${val}`),
  };
}

async function main(): Promise<number> {
  for (const tool of ['wrk', 'taskset', NGINX_BIN]) {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
  }
  const workDir = mkdtempSync(join(os.tmpdir(), 'portico-bench-selection-'));
  onExit(() => rmSync(workDir, { recursive: true, force: true }));
  const backendPort = await freePort();
  const backend = await startNginx(
    'backend',
    join(workDir, 'backend'),
    backendConfig(join(workDir, 'backend'), backendPort),
    { url: `http://${LOOPBACK}:${backendPort}/` },
    clientCpu,
  );
  const manifests = join(workDir, 'manifests');
  const byIndex = new Map(
    VARIANTS.filter((v) => v.annotations !== undefined).map((v) => [v.index, v.annotations]),
  );
  writeManifests({
    dir: manifests,
    count: INGRESSES,
    backendPort,
    backendAddress: LOOPBACK,
    ingressClass: 'portico',
    annotations: (i) => byIndex.get(i),
  });
  writeCanary(manifests, last - 1);
  const portico = await startPorticoProcess({
    repoDir,
    porticoMain: PORTICO_MAIN,
    manifestsDir: manifests,
    extraArgs: [],
    cpu: proxyCpu,
    logFile: join(workDir, 'portico.log'),
    readyTimeoutMs: 120_000,
  });
  const runs = new Map<string, ThroughputRun[]>(VARIANTS.map((v) => [v.id, []]));
  const checks: string[] = [];
  try {
    for (const v of VARIANTS) {
      const proof = await prove(v, portico.url, portico.adminUrl);
      checks.push(`${v.id}: ${proof}`);
      log(`${v.label}: ${proof}`);
      if (warmupSeconds > 0) await measureWrk(specFor(v, portico.url, warmupSeconds), portico.proc);
    }
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < VARIANTS.length; i++) {
        const v = VARIANTS[(i + round) % VARIANTS.length] as Variant;
        const run = await measureWrk(specFor(v, portico.url, seconds), portico.proc);
        runs.get(v.id)?.push(run);
        log(
          `round ${round + 1}/${rounds} ${v.id}: ${Math.round(run.rps)} req/s${totalErrors(run.errors) > 0 ? ' ERRORS' : ''}`,
        );
      }
    }
  } finally {
    await portico.proc.stop(10_000);
    await backend.stop();
  }
  const plain = runs.get('plain') ?? [];
  const rows = VARIANTS.map((v) => {
    const list = runs.get(v.id) ?? [];
    const ratios = list
      .map((r, i) => r.rps / (plain[i]?.rps ?? Number.NaN))
      .filter((x) => Number.isFinite(x));
    const errors = list.reduce((n, r) => n + totalErrors(r.errors), 0);
    // Portico CPU per request holds up better than req/s when other jobs share the cores.
    const cpuUs = list
      .filter((r) => r.rps > 0 && r.cpu.processPct !== undefined)
      .map((r) => ((r.cpu.processPct ?? 0) / 100) * (1_000_000 / r.rps));
    return {
      v,
      cpuUs: cpuUs.length === 0 ? Number.NaN : spread(cpuUs).median,
      rps: spread(list.map((r) => r.rps)).median,
      ratio: ratios.length === 0 ? Number.NaN : spread(ratios).median,
      p99: spread(list.map((r) => r.latencyMs['p99'] ?? 0)).median,
      errors,
    };
  });
  const command = ['npx tsx bench/backend-selection.ts', ...process.argv.slice(2)].join(' ');
  const lines = [
    HEADING,
    '',
    `_Generated ${new Date().toISOString()} by \`${command}\`: ${rounds} round(s) × ${seconds} s per variant, wrk -t1 -c${CONNECTIONS}, ${INGRESSES} Ingresses, ${pin ? 'Portico on CPU 0, wrk and backend on CPU 1' : 'unpinned'}; load average ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' / ')} at the end._`,
    '',
    '| variant | req/s (median) | vs plain (median of per-round ratios) | Portico CPU µs/request | p99 ms | errors |',
    '|---|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.v.label} | ${Math.round(r.rps)} | ${r.ratio.toFixed(3)} | ${r.cpuUs.toFixed(1)} | ${r.p99.toFixed(2)} | ${r.errors} |`,
    ),
    '',
    'Pre-flight checks:',
    '',
    ...checks.map((c) => `- ${c}`),
  ];
  const section = `${lines.join('\n')}\n`;
  process.stdout.write(section);
  if (!values['no-results']) writeSection(join(benchDir, 'RESULTS.md'), HEADING, section);
  return rows.some((r) => r.errors > 0) ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    log(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exit(1);
  },
);

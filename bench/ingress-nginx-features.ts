/**
 * `ingress-nginx-features` is issue 8's bench: what ingress-nginx's routing features cost Portico in
 * throughput, as ratios to a plain route measured in the same run. Target (issue 8): a regex route
 * with a capture-group rewrite costs under 10 %.
 *
 * One Portico (CPU 0) serves the proxy bench's 1,000 generated Ingresses plus the variants' own:
 * - `plain`: the proxy bench's target host (a Prefix `/` route), request `GET /something/index.html`;
 * - `regex`: a `use-regex` Ingress with `rewrite-target: /$2` on `/something(/|$)(.*)` (the
 *   ingress-nginx docs example) next to two more regex paths on its host, same request; all three
 *   are simple enough to run on V8 (src/util/re2-fast-path.ts, `regexEngine: v8` in /routes);
 * - `regex-re2`: the same Ingress with each pattern spelled so that it stays on RE2 (a `{1}`
 *   repetition: same meaning, outside the fast path's subset) — what any other pattern costs;
 * - `canary`: a main Ingress and a `canary-weight: "50"` Ingress on one host.
 * Load is `wrk -t1 -c50 --latency` on CPU 1 against the nginx `return 200` backend. Variants run in
 * interleaved rounds (the order rotates) against the same process; each ratio is the median of the
 * per-round ratios to the plain run of the same round. Any non-2xx answer fails the run.
 *
 *   npx tsx bench/ingress-nginx-features.ts [--quick] [--rounds N] [--duration S] [--warmup S]
 *                                           [--only plain,regex,regex-re2,canary] [--connections C]
 *                                           [--ingresses N] [--portico-main PATH] [--no-pin]
 *                                           [--no-results] [--keep]
 *
 * Writes "## ingress-nginx features (issue 8)" of bench/RESULTS.md and raw JSON to bench/out/.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { type LoadSpec, totalErrors, wrkArgs } from './lib/clients.js';
import { describeMachine } from './lib/machine.js';
import { BENCH_NAMESPACE, benchHost, benchTargetIndex, writeManifests } from './lib/manifests.js';
import { freePort, httpGet, LOOPBACK, preflight } from './lib/net.js';
import { BACKEND_BODY, backendConfig, NGINX_BIN, nginxVersion, startNginx } from './lib/nginx.js';
import { killAll, onExit } from './lib/procs.js';
import { writeSection } from './lib/results.js';
import { type Spread, spread } from './lib/stats.js';
import { PORTICO_MAIN, type RunningPortico, startPorticoProcess } from './proxy/portico.js';
import { measureWrk, type ThroughputRun } from './proxy/suite.js';

const HEADING = '## ingress-nginx features (issue 8)';
const benchDir = dirname(fileURLToPath(import.meta.url));
const repoDir = resolve(benchDir, '..');
const log = (line: string): void => void process.stderr.write(`ingress-nginx-features: ${line}\n`);

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    connections: { type: 'string', default: '50' },
    ingresses: { type: 'string', default: '1000' },
    only: { type: 'string' },
    'portico-main': { type: 'string', default: PORTICO_MAIN },
    'no-pin': { type: 'boolean', default: false },
    'no-results': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
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
const seconds = count('duration', values.duration, quick ? 3 : 10);
const warmupSeconds = count('warmup', values.warmup, quick ? 1 : 3, 0);
const connections = count('connections', values.connections, 50);
const ingresses = count('ingresses', values.ingresses, 1000, 1);
const pin = !values['no-pin'] && os.cpus().length >= 2;
const proxyCpu = pin ? '0' : undefined;
const clientCpu = pin ? '1' : undefined;

const N = 'nginx.ingress.kubernetes.io/';
/** Every variant gets the same request line, so only the route differs. */
const REQUEST_PATH = '/something/index.html';
const REGEX_HOST = 'regex.bench.portico.test';
const REGEX_RE2_HOST = 'regex-re2.bench.portico.test';
const CANARY_HOST = 'canary.bench.portico.test';

type VariantId = 'plain' | 'regex' | 'regex-re2' | 'canary';

interface Variant {
  readonly id: VariantId;
  readonly label: string;
  readonly host: string;
  /** Highest acceptable throughput cost vs plain (the issue's target), if any. */
  readonly maxCost?: number;
  /** Default set: the canary slot runs only when asked for. */
  readonly byDefault: boolean;
}

const VARIANTS: readonly Variant[] = [
  { id: 'plain', label: 'plain Prefix route', host: benchHost(benchTargetIndex(ingresses)), byDefault: true },
  {
    id: 'regex',
    label: 'regex route + rewrite-target `/$2`',
    host: REGEX_HOST,
    maxCost: 0.1,
    byDefault: true,
  },
  {
    id: 'regex-re2',
    label: 'the same regex routes on RE2 (outside the fast path)',
    host: REGEX_RE2_HOST,
    byDefault: true,
  },
  { id: 'canary', label: 'canary by weight (50 %)', host: CANARY_HOST, byDefault: true },
];

/** The variants' own Ingresses, pointing at generated Services (all the same nginx backend). */
function writeVariantManifests(dir: string): void {
  const target = benchTargetIndex(ingresses);
  const service = `app-${String(target).padStart(4, '0')}`;
  const backend = { service: { name: service, port: { number: 80 } } };
  // A canary must name another Service than its main route (else it is ignored, as a no-op): a
  // neighbouring generated one, whose endpoints are the same nginx backend.
  const canaryService = `app-${String(target === 0 ? 1 : target - 1).padStart(4, '0')}`;
  const canaryBackend = { service: { name: canaryService, port: { number: 80 } } };
  const ingress = (name: string, host: string, annotations: Record<string, string>, paths: object[]) => ({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name, namespace: BENCH_NAMESPACE, annotations },
    spec: { ingressClassName: 'portico', rules: [{ host, http: { paths } }] },
  });
  const rewrite = { [`${N}use-regex`]: 'true', [`${N}rewrite-target`]: '/$2' };
  const regexPaths = (spell: (p: string) => string) =>
    [
      // Longer patterns first in the table: the measured one is not the first tried.
      '/api/v[0-9]+/users/([0-9]+)',
      '/static/(.*)\\.(css|js)',
      '/something(/|$)(.*)',
    ].map((p) => ({ path: spell(p), pathType: 'ImplementationSpecific', backend }));
  const docs = [
    ingress(
      'features-regex',
      REGEX_HOST,
      rewrite,
      regexPaths((p) => p),
    ),
    // `x{1}` is `x`: the same routes, but a repetition count keeps each pattern on RE2.
    ingress(
      'features-regex-re2',
      REGEX_RE2_HOST,
      rewrite,
      regexPaths((p) => p.replace('/', '/{1}')),
    ),
    // The canary slot: a main route and a 50 % canary of the same host and path.
    ingress('features-canary-main', CANARY_HOST, {}, [{ path: '/', pathType: 'Prefix', backend }]),
    ingress('features-canary', CANARY_HOST, { [`${N}canary`]: 'true', [`${N}canary-weight`]: '50' }, [
      { path: '/', pathType: 'Prefix', backend: canaryBackend },
    ]),
  ];
  writeFileSync(join(dir, 'zz-features.yaml'), docs.map((d) => stringify(d)).join('---\n'));
}

interface RouteView {
  readonly host: string;
  readonly path: string;
  readonly regex?: string;
  readonly regexEngine?: string;
  readonly canary?: unknown;
}

/** `proveActive` checks, before any load, that each variant's feature really is in force. */
async function proveActive(v: Variant, portico: RunningPortico): Promise<string> {
  const url = `${portico.url}${REQUEST_PATH.slice(1)}`;
  await preflight(url, v.host, BACKEND_BODY);
  const routes = JSON.parse((await httpGet(`${portico.adminUrl}/routes`, undefined, 5000)).body) as {
    routes: RouteView[];
  };
  const own = routes.routes.filter((r) => r.host === v.host);
  switch (v.id) {
    case 'plain':
      if (own.some((r) => r.regex !== undefined)) throw new Error('plain: the host has a regex route');
      return '200, Prefix routes only';
    case 'regex':
    case 'regex-re2': {
      const regexes = own.filter((r) => r.regex !== undefined);
      const engine = v.id === 'regex' ? 'v8' : 're2';
      if (regexes.length !== 3 || regexes.some((r) => r.regexEngine !== engine))
        throw new Error(
          `${v.id}: expected 3 regex routes on ${engine} on ${v.host}, /routes shows ${JSON.stringify(own)}`,
        );
      // Only regex paths on this host: a path none of them matches must not be routed.
      const miss = await httpGet(`${portico.url}nothing-here`, v.host);
      if (miss.status !== 404)
        throw new Error(`${v.id}: /nothing-here answered ${miss.status}, expected 404`);
      return `200, 3 regex routes on ${engine}, unmatched path 404`;
    }
    case 'canary':
      if (!own.some((r) => r.canary !== undefined))
        throw new Error(
          'canary: no route with a canary in /routes (the canary data plane is not in this build)',
        );
      return '200, canary attached';
  }
}

function withoutRaw(r: ThroughputRun): Omit<ThroughputRun, 'raw'> {
  const { raw: _raw, ...rest } = r;
  return rest;
}

function specFor(v: Variant, portico: RunningPortico, secs: number): LoadSpec {
  return {
    url: `${portico.url}${REQUEST_PATH.slice(1)}`,
    host: v.host,
    seconds: secs,
    connections,
    cpu: clientCpu,
  };
}

interface VariantResult {
  readonly variant: Variant;
  readonly proof: string;
  readonly runs: { readonly round: number; readonly run: Omit<ThroughputRun, 'raw'> }[];
}

interface Summary {
  readonly id: VariantId;
  readonly label: string;
  readonly rps: Spread;
  readonly p99: Spread;
  /** Median over rounds of rps(variant) / rps(plain). */
  readonly ratio?: number;
  /** Median over rounds of CPU per request(plain) / CPU per request(variant). */
  readonly cpuRatio?: number;
  readonly errors: number;
  readonly verdict?: 'pass' | 'fail';
}

function summarise(results: readonly VariantResult[]): Summary[] {
  const plain = results.find((r) => r.variant.id === 'plain');
  const paired = (r: VariantResult, pick: (x: Omit<ThroughputRun, 'raw'>) => number | undefined) => {
    const ratios = r.runs
      .map((x) => {
        const base = plain?.runs.find((b) => b.round === x.round);
        const a = pick(x.run);
        const b = base === undefined ? undefined : pick(base.run);
        return a === undefined || b === undefined || b === 0 ? undefined : a / b;
      })
      .filter((x) => x !== undefined);
    return ratios.length === 0 ? undefined : spread(ratios).median;
  };
  const rpsPerCpu = (x: Omit<ThroughputRun, 'raw'>) =>
    x.cpu.processPct === undefined || x.cpu.processPct === 0 ? undefined : x.rps / x.cpu.processPct;
  return results.map((r) => {
    const ratio = paired(r, (x) => x.rps);
    const cpuRatio = paired(r, rpsPerCpu);
    const max = r.variant.maxCost;
    return {
      id: r.variant.id,
      label: r.variant.label,
      rps: spread(r.runs.map((x) => x.run.rps)),
      p99: spread(r.runs.map((x) => x.run.latencyMs['p99'] ?? Number.NaN)),
      ...(ratio !== undefined ? { ratio } : {}),
      ...(cpuRatio !== undefined ? { cpuRatio } : {}),
      errors: r.runs.reduce((n, x) => n + totalErrors(x.run.errors), 0),
      ...(max !== undefined && ratio !== undefined ? { verdict: 1 - ratio < max ? 'pass' : 'fail' } : {}),
    } as Summary;
  });
}

function render(
  summaries: readonly Summary[],
  results: readonly VariantResult[],
  command: string,
  date: string,
): string {
  const fmt = (n: number | undefined, digits = 0) =>
    n === undefined || Number.isNaN(n) ? '–' : n.toFixed(digits);
  const lines = [
    HEADING,
    '',
    `Run ${date}: \`npx tsx bench/ingress-nginx-features.ts${quick ? ' --quick' : ''}\` — ${rounds} round(s) × ${seconds} s per variant, wrk -t1 -c${connections}, ${ingresses} generated Ingresses, request \`GET ${REQUEST_PATH}\`${pin ? ', Portico on CPU 0, wrk and the backend on CPU 1' : ', unpinned'}.`,
    '',
    '| variant | req/s (median, min–max) | ratio to plain | CPU/request ratio | p99 ms (median) | errors | target |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...summaries.map(
      (s) =>
        `| ${s.label} | ${fmt(s.rps.median)} (${fmt(s.rps.min)}–${fmt(s.rps.max)}) | ${fmt(s.ratio, 3)} | ${fmt(s.cpuRatio, 3)} | ${fmt(s.p99.median, 2)} | ${s.errors} | ${s.verdict === undefined ? '–' : `cost < 10 %: ${s.verdict}`} |`,
    ),
    '',
    `Proofs before load: ${results.map((r) => `${r.variant.id}: ${r.proof}`).join('; ')}.`,
    '',
    'Why `regex` and `regex-re2` differ: calls into the `re2` addon cost more than the matching (`npx tsx bench/regex-engines.ts`, section "Regex engines": RE2 `exec` ≈ 1.9 µs and `test` on a fresh string ≈ 0.9 µs, against ≈ 0.05 µs and ≈ 0.02 µs on V8). Patterns that src/util/re2-fast-path.ts can translate exactly and prove linear run on V8; any other pattern runs on RE2 (`regexEngine` in `/routes` says which).',
    '',
    `Load: \`${clientCpu !== undefined ? `taskset -c ${clientCpu} ` : ''}wrk ${wrkArgs({
      url: `URL${REQUEST_PATH}`,
      host: 'HOST',
      seconds,
      connections,
      cpu: clientCpu,
    })
      .map((a) => (a.includes(' ') ? `'${a}'` : a))
      .join(' ')}\` (HOST: the variant's host).`,
    '',
    `Portico: \`${command}\``,
    '',
  ];
  return lines.join('\n');
}

async function main(): Promise<number> {
  for (const tool of ['wrk', 'taskset', NGINX_BIN]) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      throw new Error(`required tool not found: ${tool}`);
    }
  }
  const only = values.only
    ?.split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const o of only ?? []) {
    if (!VARIANTS.some((v) => v.id === o))
      throw new Error(`--only: unknown variant ${o} (${VARIANTS.map((x) => x.id).join(', ')})`);
  }
  const selected = VARIANTS.filter(
    (v) => v.id === 'plain' || (only === undefined ? v.byDefault : only.includes(v.id)),
  );
  const workDir = mkdtempSync(join(os.tmpdir(), 'portico-bench-features-'));
  if (!values.keep) onExit(() => rmSync(workDir, { recursive: true, force: true }));
  const machine = describeMachine(repoDir, nginxVersion());
  if ((machine.loadAvgStart[0] ?? 0) > 1)
    log(`warning: load average ${machine.loadAvgStart.join(' ')}; results will be noisy`);
  const date = new Date().toISOString();

  const backendPort = await freePort();
  const backendDir = join(workDir, 'backend');
  const backend = await startNginx(
    'backend',
    backendDir,
    backendConfig(backendDir, backendPort),
    { url: `http://${LOOPBACK}:${backendPort}/` },
    clientCpu,
  );
  const manifests = join(workDir, 'manifests');
  writeManifests({
    dir: manifests,
    count: ingresses,
    backendPort,
    backendAddress: LOOPBACK,
    ingressClass: 'portico',
  });
  writeVariantManifests(manifests);
  const portico = await startPorticoProcess({
    repoDir,
    porticoMain: values['portico-main'],
    manifestsDir: manifests,
    extraArgs: [],
    cpu: proxyCpu,
    logFile: join(workDir, 'portico.log'),
    readyTimeoutMs: 120_000,
  });
  const results: VariantResult[] = [];
  try {
    for (const v of selected) {
      const proof = await proveActive(v, portico);
      log(`${v.label} (${v.host}): ${proof}`);
      results.push({ variant: v, proof, runs: [] });
    }
    if (warmupSeconds > 0) {
      for (const r of results) {
        const w = await measureWrk(specFor(r.variant, portico, warmupSeconds), portico.proc);
        if (totalErrors(w.errors) > 0)
          throw new Error(`warm-up ${r.variant.id}: errors ${JSON.stringify(w.errors)}`);
      }
    }
    for (let round = 0; round < rounds; round++) {
      const order = results.map((_, i) => results[(i + round) % results.length] as VariantResult);
      for (const r of order) {
        const run = withoutRaw(await measureWrk(specFor(r.variant, portico, seconds), portico.proc));
        r.runs.push({ round, run });
        log(
          `round ${round + 1}/${rounds} ${r.variant.id}: ${Math.round(run.rps)} req/s, p99 ${run.latencyMs['p99'] ?? '?'} ms, Portico CPU ${run.cpu.processPct ?? '?'} %` +
            (totalErrors(run.errors) > 0 ? `  ERRORS ${JSON.stringify(run.errors)}` : ''),
        );
      }
    }
  } finally {
    await portico.proc.stop(10_000);
    await backend.stop();
  }
  const summaries = summarise(results);
  const section = render(summaries, results, portico.command, date);
  process.stdout.write(`${section}\n`);
  const outDir = join(benchDir, 'out');
  mkdirSync(outDir, { recursive: true });
  writeFileSync(
    join(outDir, `ingress-nginx-features-${date.replace(/[:.]/g, '-')}.json`),
    JSON.stringify({ date, machine, summaries, results }, null, 2),
  );
  if (!values['no-results']) writeSection(join(benchDir, 'RESULTS.md'), HEADING, section);
  const failed = summaries.some((s) => s.errors > 0);
  return failed ? 1 : 0;
}

main().then(
  async (code) => {
    await killAll();
    process.exit(code);
  },
  async (err: unknown) => {
    log(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    await killAll();
    process.exit(2);
  },
);

/**
 * Proxy benchmark entry point.
 *
 *   npx tsx bench/run.ts [--quick] [--only a,b,...] [--runs N] [--duration S] [--warmup S]
 *                        [--connections C] [--ingresses N] [--latency-rate R] [--no-latency]
 *                        [--no-pin] [--portico-arg ARG]... [--ingress-class NAME] [--keep]
 *
 * Full run: N=5 × D=30 s per contender (plus warm-up), then the constant-rate latency phase.
 * `--quick`: N=1 × D=3 s. Results go to bench/RESULTS.md (our section) and bench/out/*.json.
 * See bench/README.md.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { describeMachine } from './lib/machine.js';
import { benchHost, benchTargetIndex } from './lib/manifests.js';
import { NGINX_BIN, nginxVersion } from './lib/nginx.js';
import { killAll, onExit } from './lib/procs.js';
import { PORTICO_MAIN } from './proxy/portico.js';
import { judge, type Report, renderSection, writeJson, writeResultsSection } from './proxy/report.js';
import { runSuite } from './proxy/suite.js';
import { selectTargets } from './proxy/targets.js';

const benchDir = dirname(fileURLToPath(import.meta.url));
const repoDir = resolve(benchDir, '..');

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    runs: { type: 'string' },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    connections: { type: 'string', default: '50' },
    ingresses: { type: 'string', default: '1000' },
    'latency-rate': { type: 'string' },
    'no-latency': { type: 'boolean', default: false },
    'no-pin': { type: 'boolean', default: false },
    'portico-arg': { type: 'string', multiple: true, default: [] },
    // Portico serves class-less Ingresses only with --watch-ingress-without-class; file mode
    // assumes an IngressClass named by its --ingress-class flag (default `portico`).
    'ingress-class': { type: 'string', default: 'portico' },
    'portico-main': { type: 'string', default: PORTICO_MAIN },
    'ready-timeout': { type: 'string', default: '120' },
    'no-results': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (values.help) {
  process.stdout.write(
    'usage: npx tsx bench/run.ts [--quick] [--only a,b,...|ids] [--runs N] [--duration S] [--warmup S]\n' +
      '         [--connections C] [--ingresses N] [--latency-rate R] [--no-latency] [--no-pin]\n' +
      '         [--portico-arg ARG]... [--portico-main PATH] [--ingress-class NAME] [--ready-timeout S]\n' +
      '         [--no-results] [--keep]\n' +
      'targets: a direct, b portico, c nginx, d fastify-http-proxy, e node-undici, f fastify-undici\n',
  );
  process.exit(0);
}

function positive(name: string, v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a non-negative number, got ${v}`);
  return n;
}

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

function requireTool(cmd: string, args: readonly string[]): void {
  try {
    execFileSync(cmd, [...args], { stdio: 'ignore' });
  } catch (e) {
    // wrk/hey print usage and exit non-zero; only a missing binary matters.
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`required tool not found: ${cmd}`);
  }
}

async function main(): Promise<number> {
  const quick = values.quick;
  const runs = positive('runs', values.runs, quick ? 1 : 5);
  const seconds = positive('duration', values.duration, quick ? 3 : 30);
  const warmupSeconds = positive('warmup', values.warmup, quick ? 1 : 5);
  const connections = positive('connections', values.connections, 50);
  const ingresses = positive('ingresses', values.ingresses, 1000);
  const latencyRate =
    values['latency-rate'] !== undefined ? positive('latency-rate', values['latency-rate'], 0) : undefined;
  if (runs < 1 || seconds < 1 || connections < 1 || ingresses < 1)
    throw new Error('runs, duration, connections and ingresses must be >= 1');
  const only = values.only?.split(',').filter((s) => s.trim() !== '');
  const targets = selectTargets(only);

  for (const [cmd, args] of [
    ['wrk', ['--version']],
    ['hey', []],
    [NGINX_BIN, ['-v']],
    ['taskset', ['-V']],
  ] as const) {
    requireTool(cmd, args);
  }

  const cores = os.cpus().length;
  let proxyCpu: string | undefined = '0';
  let clientCpu: string | undefined = '1';
  if (values['no-pin'] || cores < 2) {
    if (!values['no-pin']) log(`warning: only ${cores} CPU(s); running without pinning`);
    proxyCpu = undefined;
    clientCpu = undefined;
  }

  const host = benchHost(benchTargetIndex(ingresses));
  const workDir = mkdtempSync(join(os.tmpdir(), 'portico-bench-'));
  if (!values.keep) onExit(() => rmSync(workDir, { recursive: true, force: true }));
  const stamp = new Date().toISOString();
  const machine = describeMachine(repoDir, nginxVersion());
  if ((machine.loadAvgStart[0] ?? 0) > 0.5) {
    log(`warning: load average ${machine.loadAvgStart.join(' ')}; results will be noisy`);
  }
  const mode =
    quick && values.runs === undefined && values.duration === undefined
      ? 'quick'
      : !quick && runs === 5 && seconds === 30
        ? 'full'
        : 'custom';
  log(
    `proxy bench (${mode}): ${targets.map((t) => t.letter).join(',')} — ${runs} × ${seconds}s, warm-up ${warmupSeconds}s; scratch ${workDir}`,
  );

  try {
    const suite = await runSuite(
      targets,
      {
        repoDir,
        workDir,
        host,
        proxyCpu,
        ingresses,
        ingressClass: values['ingress-class'],
        porticoMain: values['portico-main'],
        porticoArgs: values['portico-arg'],
        readyTimeoutMs: positive('ready-timeout', values['ready-timeout'], 120) * 1000,
      },
      {
        runs,
        seconds,
        warmupSeconds,
        connections,
        latency: !values['no-latency'],
        latencyRate,
        latencyShare: 0.5,
        clientCpu,
        log,
      },
    );
    const report: Report = {
      date: stamp,
      machine,
      settings: {
        command: ['npx tsx bench/run.ts', ...process.argv.slice(2)].join(' '),
        mode,
        runs,
        seconds,
        warmupSeconds,
        connections,
        host,
        ingresses,
        proxyCpu,
        clientCpu,
        only,
      },
      suite,
      checks: judge(suite),
    };
    const jsonPath = join(benchDir, 'out', `proxy-${stamp.replace(/[:.]/g, '-')}.json`);
    writeJson(jsonPath, report);
    writeJson(join(benchDir, 'out', 'proxy-latest.json'), report);
    const section = renderSection(report, relative(repoDir, jsonPath));
    if (!values['no-results']) writeResultsSection(join(benchDir, 'RESULTS.md'), section);
    process.stdout.write(`\n${section}`);
    log(
      `raw: ${relative(repoDir, jsonPath)}${values['no-results'] ? '' : '; section written to bench/RESULTS.md'}`,
    );
    const failed = suite.throughput.some((t) => t.status === 'failed' || t.status === 'errors');
    return failed ? 1 : 0;
  } finally {
    await killAll();
    if (!values.keep) rmSync(workDir, { recursive: true, force: true });
    else log(`kept scratch directory ${workDir}`);
  }
}

main().then(
  (code) => process.exit(code),
  async (e: unknown) => {
    log(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    await killAll();
    process.exit(2);
  },
);

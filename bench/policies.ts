/**
 * `policies` is issue 6's bench: what a route's policies cost Portico in throughput and latency.
 *
 * One Portico (CPU 0) serves the proxy bench's 1,000 generated Ingresses, four of which are the
 * variants: no policy; a memory rate limit; a Redis rate limit; Basic auth (bcrypt cost 10, the
 * verified-credential cache on). The limits are far above the offered load (1,000,000 rps per
 * client address) so every request must pass: any non-2xx answer fails the run. Load is
 * `wrk -t1 -c50 --latency` on CPU 1, with the nginx `return 200` backend and redis-server.
 * Variants are measured in interleaved rounds (the order rotates each round) against the same
 * process, so drift on this shared machine hits them alike; each ratio is the median of the
 * per-round ratios to the no-policy run of the same round.
 *
 * Redis proof: `INFO commandstats` around every run, so the Redis runs show EVALSHA calls per
 * proxied request (and the others show none), plus redis-server's CPU from /proc over the runs.
 * Then, in the same script, the proxy bench's Portico / Fastify comparisons (b, d, f) are run
 * again with this build (policy chain present, no policy on the route) against the foundation
 * targets. Writes "## Policies (issue 6)" of bench/RESULTS.md and raw JSON to bench/out/.
 *
 *   npx tsx bench/policies.ts [--quick] [--rounds N] [--duration S] [--warmup S]
 *                             [--only none,memory,redis,basic] [--no-foundation]
 *                             [--foundation-runs N] [--foundation-duration S] [--cpu-prof]
 *                             [--portico-main PATH] [--no-pin] [--no-results] [--keep]
 */
import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import bcrypt from 'bcryptjs';
import { Redis } from 'ioredis';
import { stringify } from 'yaml';
import { type LoadSpec, totalErrors, wrkArgs } from './lib/clients.js';
import { type CpuUse, cpuBetween, sampleCpu } from './lib/cpu.js';
import {
  loadProfile,
  monotonicUs,
  type ProfileSummary,
  summariseProfile,
  type TimeWindow,
} from './lib/cpuprofile.js';
import { describeMachine, type MachineInfo } from './lib/machine.js';
import { BENCH_NAMESPACE, benchHost, benchTargetIndex, writeManifests } from './lib/manifests.js';
import { freePort, LOOPBACK, preflight } from './lib/net.js';
import { BACKEND_BODY, backendConfig, NGINX_BIN, nginxVersion, startNginx } from './lib/nginx.js';
import { killAll, onExit, type Proc, spawnProc } from './lib/procs.js';
import { type CommandStats, commandStatsDelta, parseCommandStats } from './lib/redis-stats.js';
import { writeSection } from './lib/results.js';
import { type Spread, spread } from './lib/stats.js';
import { PORTICO_MAIN, startPorticoProcess } from './proxy/portico.js';
import { type Check, judge } from './proxy/report.js';
import { measureWrk, runSuite, type SuiteResult, type ThroughputRun } from './proxy/suite.js';
import { selectTargets } from './proxy/targets.js';

const HEADING = '## Policies (issue 6)';
/** Written instead of HEADING by a `--cpu-prof` run (the profiler slows Portico down). */
const PROFILE_HEADING = '## Policies (issue 6): where the time goes';
const benchDir = dirname(fileURLToPath(import.meta.url));
const repoDir = resolve(benchDir, '..');
const log = (line: string): void => void process.stderr.write(`policies: ${line}\n`);

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    connections: { type: 'string', default: '50' },
    ingresses: { type: 'string', default: '1000' },
    only: { type: 'string' },
    'no-foundation': { type: 'boolean', default: false },
    'foundation-runs': { type: 'string' },
    'foundation-duration': { type: 'string' },
    'cpu-prof': { type: 'boolean', default: false },
    'redis-timeout': { type: 'string' },
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
const seconds = count('duration', values.duration, quick ? 3 : 6);
const warmupSeconds = count('warmup', values.warmup, quick ? 1 : 3, 0);
const connections = count('connections', values.connections, 50);
const ingresses = count('ingresses', values.ingresses, 1000, 4);
const foundationRuns = count('foundation-runs', values['foundation-runs'], quick ? 1 : 3);
const foundationSeconds = count('foundation-duration', values['foundation-duration'], quick ? 3 : 10);
const pin = !values['no-pin'] && os.cpus().length >= 2;
const proxyCpu = pin ? '0' : undefined;
const clientCpu = pin ? '1' : undefined;

/** The bench user; its bcrypt cost-10 hash is made at start (bcryptjs, as `htpasswd -B -C 10`). */
const USER = 'bench';
const PASSWORD = 'correct horse battery staple';
const AUTH_SECRET = 'bench-users';
/** Far above anything one wrk can offer, so the limit is exercised on every request but never refuses. */
const LIMIT_RPS = '1000000';
const LIMIT_BURST = '1000';

type VariantId = 'none' | 'memory' | 'redis' | 'basic';

interface Variant {
  readonly id: VariantId;
  readonly label: string;
  /** Index of its Ingress among the generated ones (its host is `benchHost(index)`). */
  readonly index: number;
  readonly annotations: Readonly<Record<string, string>> | undefined;
  /** Extra request headers (wrk `-H`). */
  readonly headers: Readonly<Record<string, string>>;
  /** Highest acceptable throughput cost vs no policy (the issue's target), if any. */
  readonly maxCost?: number;
}

function variants(last: number): Variant[] {
  const limit = (store: 'memory' | 'redis'): Record<string, string> => ({
    'portico.dev/limit-rps': LIMIT_RPS,
    'portico.dev/limit-burst': LIMIT_BURST,
    'portico.dev/limit-key': 'remote-ip',
    'portico.dev/limit-store': store,
  });
  const basic = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
  return [
    // The no-policy route is the proxy bench's target host (the last Ingress), as in bench/run.ts.
    { id: 'none', label: 'no policy', index: last, annotations: undefined, headers: {} },
    {
      id: 'memory',
      label: 'memory rate limit',
      index: last - 1,
      annotations: limit('memory'),
      headers: {},
      maxCost: 0.1,
    },
    {
      id: 'redis',
      label: 'Redis rate limit',
      index: last - 2,
      annotations: limit('redis'),
      headers: {},
      maxCost: 0.35,
    },
    {
      id: 'basic',
      label: 'Basic auth (bcrypt 10, cache on)',
      index: last - 3,
      annotations: {
        'nginx.ingress.kubernetes.io/auth-type': 'basic',
        'nginx.ingress.kubernetes.io/auth-secret': AUTH_SECRET,
      },
      headers: { authorization: basic },
    },
  ];
}

async function commandStats(redis: Redis): Promise<CommandStats> {
  return parseCommandStats(await redis.info('commandstats'));
}

interface VariantRun {
  readonly round: number;
  readonly run: Omit<ThroughputRun, 'raw'>;
  readonly redisCommands: Record<string, { calls: number; usec: number }>;
  readonly redisCpu: CpuUse;
}

interface VariantResult {
  readonly variant: Variant;
  readonly host: string;
  readonly wrkCommand: string;
  warmup?: Omit<ThroughputRun, 'raw'>;
  readonly runs: VariantRun[];
  /** When the measured runs ran (CLOCK_MONOTONIC µs), to cut the CPU profile per variant. */
  readonly windows: TimeWindow[];
}

/** `VariantProfile` is the CPU profile of a variant's measured runs, per proxied request. */
interface VariantProfile {
  readonly id: VariantId;
  readonly requests: number;
  readonly summary: ProfileSummary;
}

async function startRedis(
  dir: string,
): Promise<{ proc: Proc; port: number; client: Redis; version: string }> {
  const port = await freePort();
  mkdirSync(dir, { recursive: true });
  const args = ['--port', String(port), '--bind', LOOPBACK, '--save', '', '--appendonly', 'no', '--dir', dir];
  const proc = spawnProc('redis-server', 'redis-server', args, {
    cpu: clientCpu,
    logFile: join(dir, 'redis.log'),
  });
  const deadline = Date.now() + 10_000;
  let client: Redis;
  for (;;) {
    // One attempt per client: ioredis would otherwise keep reconnecting (and erring) on its own.
    const attempt = new Redis({ host: LOOPBACK, port, lazyConnect: true, retryStrategy: () => null });
    attempt.on('error', () => {});
    try {
      await attempt.connect();
      await attempt.ping();
      client = attempt;
      break;
    } catch (e) {
      attempt.disconnect();
      if (Date.now() > deadline)
        throw new Error(`redis-server did not answer: ${(e as Error).message}\n${proc.tail()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const info = await client.info('server');
  const version = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
  return { proc, port, client, version };
}

function writeAuthSecret(dir: string): void {
  // Cost 10 as the issue asks; bcryptjs writes `$2b$10$…`, which htpasswd -B also accepts.
  const hash = bcrypt.hashSync(PASSWORD, 10);
  const secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: AUTH_SECRET, namespace: BENCH_NAMESPACE },
    type: 'Opaque',
    data: { auth: Buffer.from(`${USER}:${hash}\n`).toString('base64') },
  };
  writeFileSync(join(dir, 'zz-auth-secret.yaml'), stringify(secret));
}

/** `proveActive` checks, before any load, that each variant's policy really runs on its route. */
async function proveActive(v: Variant, url: string, host: string): Promise<string> {
  const answer = await preflight(url, host, BACKEND_BODY, v.headers);
  switch (v.id) {
    case 'none':
      if (answer.headers['ratelimit-limit'] !== undefined)
        throw new Error('no-policy route has a rate limit');
      return '200 without policy headers';
    case 'memory':
    case 'redis': {
      const limitHeader = answer.headers['ratelimit-limit'];
      if (limitHeader === undefined)
        throw new Error(`${v.id}: no RateLimit-Limit header, the limit is not applied`);
      return `200 with RateLimit-Limit: ${String(limitHeader)}`;
    }
    case 'basic': {
      const bare = await preflight(url, host, BACKEND_BODY).then(
        () => 200,
        (e: unknown) => Number(/answered (\d+)/.exec(String(e))?.[1] ?? 0),
      );
      if (bare !== 401)
        throw new Error(`basic: a request without credentials answered ${bare}, expected 401`);
      return '200 with the credentials, 401 without';
    }
  }
}

/** `describeBuild` names the commit Portico's entry point was built from (it may be another worktree). */
function describeBuild(porticoMain: string): string {
  const dir = dirname(resolve(repoDir, porticoMain));
  const git = (...args: string[]): string => {
    try {
      return execFileSync('git', ['-C', dir, ...args], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim();
    } catch {
      return '';
    }
  };
  const top = git('rev-parse', '--show-toplevel');
  if (top === '') return `${porticoMain} (not in a git worktree)`;
  const dirty = git('status', '--porcelain', '--untracked-files=no', '--', 'src') !== '';
  const where = resolve(top) === resolve(repoDir) ? 'this worktree' : top;
  return `${git('log', '-1', '--format=%h %s')}${dirty ? ' (src/ dirty)' : ''} — ${where}`;
}

function withoutRaw(r: ThroughputRun): Omit<ThroughputRun, 'raw'> {
  const { raw: _raw, ...rest } = r;
  return rest;
}

function errorText(r: Omit<ThroughputRun, 'raw'>): string {
  const e = r.errors;
  return `${e.non2xx} non-2xx, ${e.socket} socket errors, ${e.timeouts} timeouts`;
}

async function measurePolicies(
  workDir: string,
  backendPort: number,
  redis: { port: number; client: Redis; proc: Proc },
  selected: readonly Variant[],
): Promise<{
  results: VariantResult[];
  command: string;
  checks: string[];
  /** "Redis unreachable" warnings in Portico's log: switches from shared to the in-memory fallback. */
  fallbacks: number;
  profiles?: VariantProfile[];
}> {
  const manifests = join(workDir, 'manifests-policies');
  const byIndex = new Map(selected.map((v) => [v.index, v]));
  writeManifests({
    dir: manifests,
    count: ingresses,
    backendPort,
    backendAddress: LOOPBACK,
    ingressClass: 'portico',
    annotations: (i) => byIndex.get(i)?.annotations,
  });
  writeAuthSecret(manifests);
  const profDir = join(workDir, 'cpu-prof');
  const portico = await startPorticoProcess({
    repoDir,
    porticoMain: values['portico-main'],
    manifestsDir: manifests,
    extraArgs: [
      '--redis-url',
      `redis://${LOOPBACK}:${redis.port}`,
      ...(values['redis-timeout'] !== undefined ? ['--redis-timeout', values['redis-timeout']] : []),
    ],
    nodeArgs: values['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [],
    cpu: proxyCpu,
    logFile: join(workDir, 'portico-policies.log'),
    readyTimeoutMs: 120_000,
  });
  const checks: string[] = [];
  const results: VariantResult[] = [];
  try {
    for (const v of selected) {
      const host = benchHost(v.index);
      const proof = await proveActive(v, portico.url, host);
      checks.push(`${v.id}: ${proof}`);
      log(`${v.label} (${host}): ${proof}`);
      const spec = specFor(v, portico.url, seconds);
      results.push({
        variant: v,
        host,
        wrkCommand: `${clientCpu !== undefined ? `taskset -c ${clientCpu} ` : ''}wrk ${wrkArgs({
          ...spec,
          url: 'URL',
        })
          .map((a) => (a.includes(' ') ? `'${a}'` : a))
          .join(' ')}`,
        runs: [],
        windows: [],
      });
    }
    if (warmupSeconds > 0) {
      for (const r of results) {
        const w = await measureWrk(specFor(r.variant, portico.url, warmupSeconds), portico.proc);
        await settle();
        r.warmup = withoutRaw(w);
        log(
          `warm-up ${r.variant.id}: ${Math.round(w.rps)} req/s${totalErrors(w.errors) > 0 ? ` ERRORS ${errorText(w)}` : ''}`,
        );
      }
    }
    for (let round = 0; round < rounds; round++) {
      // Rotate the order each round so no variant always runs first (or right after Redis).
      const order = results.map((_, i) => results[(i + round) % results.length] as VariantResult);
      for (const r of order) {
        const statsBefore = await commandStats(redis.client);
        const redisBefore = sampleCpu(redis.proc.pid);
        const fromUs = monotonicUs();
        const run = await measureWrk(specFor(r.variant, portico.url, seconds), portico.proc);
        r.windows.push({ fromUs, toUs: monotonicUs() });
        await settle();
        const redisAfter = sampleCpu(redis.proc.pid);
        const statsAfter = await commandStats(redis.client);
        const redisCommands = commandStatsDelta(statsBefore, statsAfter);
        r.runs.push({
          round,
          run: withoutRaw(run),
          redisCommands,
          redisCpu: cpuBetween(redisBefore, redisAfter, true),
        });
        const evalsha = redisCommands['evalsha']?.calls ?? 0;
        log(
          `round ${round + 1}/${rounds} ${r.variant.id}: ${Math.round(run.rps)} req/s, p99 ${run.latencyMs['p99'] ?? '?'} ms, ` +
            `Portico CPU ${run.cpu.processPct ?? '?'} %, evalsha ${evalsha}` +
            (totalErrors(run.errors) > 0 ? `  ERRORS: ${errorText(run)}` : ''),
        );
      }
    }
  } finally {
    await portico.proc.stop(10_000);
  }
  let profiles: VariantProfile[] | undefined;
  if (values['cpu-prof']) {
    const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
    if (file === undefined) log(`no .cpuprofile written in ${profDir}`);
    else {
      const kept = join(
        benchDir,
        'out',
        `policies-${new Date().toISOString().replace(/[:.]/g, '-')}.cpuprofile`,
      );
      mkdirSync(dirname(kept), { recursive: true });
      copyFileSync(join(profDir, file), kept);
      const profile = loadProfile(kept);
      profiles = results.map((r) => ({
        id: r.variant.id,
        requests: r.runs.reduce((n, x) => n + x.run.requests, 0),
        summary: summariseProfile(profile, 12, r.windows),
      }));
      log(`CPU profile: ${relative(repoDir, kept)}`);
    }
  }
  const porticoLog = readFileSync(join(workDir, 'portico-policies.log'), 'utf8');
  const fallbacks = porticoLog.split('\n').filter((l) => l.includes('Redis unreachable')).length;
  return {
    results,
    command: portico.command,
    checks,
    fallbacks,
    ...(profiles !== undefined ? { profiles } : {}),
  };
}

/**
 * Requests in flight when wrk stops finish (and reach Redis) after it: `settle` lets them land
 * before the counters are read, so they are not counted in the next variant's window.
 */
function settle(): Promise<void> {
  return new Promise((done) => setTimeout(done, 300));
}

function specFor(v: Variant, url: string, secs: number): LoadSpec {
  return {
    url,
    host: benchHost(v.index),
    seconds: secs,
    connections,
    cpu: clientCpu,
    headers: Object.entries(v.headers).map(([k, val]) => `${k[0]!.toUpperCase()}${k.slice(1)}: ${val}`),
  };
}

interface Summary {
  readonly id: VariantId;
  readonly rps: Spread;
  /** Median over rounds of rps(variant) / rps(no policy) of the same round. */
  readonly ratio?: number;
  readonly p50: Spread;
  readonly p99: Spread;
  readonly p50Ratio?: number;
  readonly p99Ratio?: number;
  readonly porticoCpuPct: Spread;
  /** Portico CPU microseconds per request (median over rounds). */
  readonly cpuUsPerRequest: number;
  /** Median over rounds of cpuPerRequest(no policy) / cpuPerRequest(variant): the throughput ratio a CPU-bound proxy would see. */
  readonly cpuRatio?: number;
  /** Proxy-core busy share not spent by Portico (median), i.e. other load on CPU 0. */
  readonly foreignPct?: number;
  readonly requests: number;
  readonly rejected: number;
  readonly socketErrors: number;
  readonly evalshaCalls: number;
  readonly redisCalls: number;
  readonly redisCommands: Record<string, number>;
  readonly evalshaUsecPerCall?: number;
  readonly redisCpuPct?: number;
  readonly verdict?: 'pass' | 'fail';
  /** The same target judged on `cpuRatio`. */
  readonly cpuVerdict?: 'pass' | 'fail';
}

function summarise(results: readonly VariantResult[]): Summary[] {
  const none = results.find((r) => r.variant.id === 'none');
  const paired = (
    r: VariantResult,
    pick: (x: Omit<ThroughputRun, 'raw'>) => number | undefined,
  ): number | undefined => {
    if (none === undefined) return undefined;
    const ratios = r.runs
      .map((run) => {
        const base = none.runs.find((b) => b.round === run.round);
        const a = pick(run.run);
        const b = base === undefined ? undefined : pick(base.run);
        return a === undefined || b === undefined || b === 0 ? undefined : a / b;
      })
      .filter((x) => x !== undefined);
    return ratios.length === 0 ? undefined : spread(ratios).median;
  };
  return results.map((r) => {
    const runs = r.runs.map((x) => x.run);
    const all = [...(r.warmup !== undefined ? [r.warmup] : []), ...runs];
    const redisCommands: Record<string, number> = {};
    let evalshaUsec = 0;
    for (const x of r.runs) {
      for (const [cmd, { calls, usec }] of Object.entries(x.redisCommands)) {
        redisCommands[cmd] = (redisCommands[cmd] ?? 0) + calls;
        if (cmd === 'evalsha') evalshaUsec += usec;
      }
    }
    const evalshaCalls = redisCommands['evalsha'] ?? 0;
    const ratio = paired(r, (x) => x.rps);
    const cpuPerRequest = (x: Omit<ThroughputRun, 'raw'>): number | undefined =>
      x.cpu.processPct === undefined || x.cpu.processPct === 0 ? undefined : x.rps / x.cpu.processPct;
    // rps per CPU % is the inverse of CPU per request, so this is cpu/req(none) ÷ cpu/req(variant).
    const cpuRatio = paired(r, cpuPerRequest);
    const maxCost = r.variant.maxCost;
    const cpuPct = runs.map((x) => x.cpu.processPct ?? 0);
    const foreign = runs
      .map((x) =>
        proxyCpu === undefined
          ? undefined
          : (x.cpu.coreBusyPct[`cpu${proxyCpu}`] ?? 0) - (x.cpu.processPct ?? 0),
      )
      .filter((x) => x !== undefined)
      .map((x) => Math.max(0, x));
    const redisCpu = r.runs.map((x) => x.redisCpu.processPct).filter((x) => x !== undefined);
    const p50Ratio = paired(r, (x) => x.latencyMs['p50']);
    const p99Ratio = paired(r, (x) => x.latencyMs['p99']);
    const foreignPct = foreign.length > 0 ? spread(foreign).median : undefined;
    return {
      id: r.variant.id,
      rps: spread(runs.map((x) => x.rps)),
      ...(ratio !== undefined ? { ratio } : {}),
      p50: spread(runs.map((x) => x.latencyMs['p50'] ?? Number.NaN)),
      p99: spread(runs.map((x) => x.latencyMs['p99'] ?? Number.NaN)),
      ...(p50Ratio !== undefined ? { p50Ratio } : {}),
      ...(p99Ratio !== undefined ? { p99Ratio } : {}),
      porticoCpuPct: spread(cpuPct),
      cpuUsPerRequest: spread(runs.map((x) => ((x.cpu.processPct ?? 0) / 100 / x.rps) * 1e6)).median,
      ...(cpuRatio !== undefined ? { cpuRatio } : {}),
      ...(foreignPct !== undefined ? { foreignPct } : {}),
      requests: runs.reduce((n, x) => n + x.requests, 0),
      rejected: all.reduce((n, x) => n + x.errors.non2xx, 0),
      socketErrors: all.reduce((n, x) => n + x.errors.socket + x.errors.timeouts, 0),
      evalshaCalls,
      redisCalls: Object.values(redisCommands).reduce((a, b) => a + b, 0),
      redisCommands,
      ...(evalshaCalls > 0 ? { evalshaUsecPerCall: evalshaUsec / evalshaCalls } : {}),
      ...(redisCpu.length > 0 ? { redisCpuPct: spread(redisCpu).median } : {}),
      ...(maxCost !== undefined && ratio !== undefined
        ? { verdict: 1 - ratio < maxCost ? 'pass' : 'fail' }
        : {}),
      ...(maxCost !== undefined && cpuRatio !== undefined
        ? { cpuVerdict: 1 - cpuRatio < maxCost ? 'pass' : 'fail' }
        : {}),
    } as Summary;
  });
}

const int = (n: number | undefined): string =>
  n === undefined ? '–' : Math.round(n).toLocaleString('en-US');
const ms = (n: number): string => (Number.isFinite(n) ? n.toFixed(2) : '–');
const times = (n: number | undefined): string => (n === undefined ? '–' : `${n.toFixed(2)}×`);

interface Rendered {
  readonly machine: MachineInfo;
  readonly loadEnd: readonly number[];
  readonly redisVersion: string;
  readonly redisCommand: string;
  readonly porticoCommand: string;
  readonly porticoBuild: string;
  readonly results: readonly VariantResult[];
  readonly summaries: readonly Summary[];
  readonly proofs: readonly string[];
  readonly fallbacks: number;
  readonly failures: readonly string[];
  readonly foundation?: { suite: SuiteResult; checks: readonly Check[] };
  readonly profiles?: readonly VariantProfile[];
  readonly date: string;
  readonly jsonPath: string;
}

function render(r: Rendered): string {
  const m = r.machine;
  const command = ['npx tsx bench/policies.ts', ...process.argv.slice(2)].join(' ');
  const busy = Math.max(m.loadAvgStart[0] ?? 0, r.loadEnd[0] ?? 0);
  const lines: string[] = [HEADING, ''];
  const push = (...l: string[]): void => void lines.push(...l);
  push(
    `_Generated ${r.date} by \`${command}\` — warm-up ${warmupSeconds} s per variant, then ${rounds} interleaved round(s) × ${seconds} s per variant (order rotated each round)${r.foundation !== undefined ? `, then the proxy bench's (b), (d), (f) at warm-up ${warmupSeconds} s + ${foundationRuns} × ${foundationSeconds} s each` : ''}. Raw data: \`${r.jsonPath}\`._`,
    '',
  );
  if (quick) push('> Quick run: indicative only.', '');
  push(
    `- **Machine**: ${m.cpuModel}, ${m.cores} cores (${m.arch}), ${m.memoryGiB} GiB, ${m.kernel}; load average ${m.loadAvgStart.join(' / ')} at start, ${r.loadEnd.join(' / ')} at the end`,
    `- **Software**: Node ${m.node}, ${m.nginx}, wrk ${m.wrk}, redis-server ${r.redisVersion}; bench at ${m.gitCommit}; Portico built from ${r.porticoBuild}`,
    `- **Pinning**: Portico on CPU ${proxyCpu ?? 'any'}; wrk, the backend nginx (\`return 200\`, 1 worker) and redis-server on CPU ${clientCpu ?? 'any'} (\`taskset -c\`)`,
    `- **Portico**: \`${r.porticoCommand}\` over ${ingresses} generated Ingresses (as bench/run.ts); the variants are four of them, one host each`,
    `- **redis-server**: \`${r.redisCommand}\` (no persistence)`,
    `- **Limits**: \`portico.dev/limit-rps: "${LIMIT_RPS}"\`, \`limit-burst: "${LIMIT_BURST}"\`, \`limit-key: remote-ip\`, \`limit-store: memory\` or \`redis\` — all of wrk's connections come from 127.0.0.1, so every request counts against one key`,
    `- **Basic auth**: \`nginx.ingress.kubernetes.io/auth-type: basic\`, \`auth-secret: ${AUTH_SECRET}\` (htpasswd \`auth\` key, one user, bcrypt cost 10); wrk sends \`-H 'Authorization: Basic …'\`, so after the first request every check is a hit of the verified-credential cache`,
    `- **Client**: \`${r.results[0]?.wrkCommand ?? ''}\` (plus the Authorization header for Basic auth)`,
    `- **Pre-flight, before any load**: ${r.proofs.join('; ')}`,
    '',
  );
  if (busy > 1) {
    push(
      `> ⚠️ Load average ${busy.toFixed(2)} on 2 cores: other sessions were using the machine during this run. Absolute figures are depressed; the ratios are paired per round, which cancels slow drift but not bursts.`,
      '',
    );
  }
  push(
    '| Variant | median req/s (min–max) | × no policy | p50 ms | p99 ms | p50 × | p99 × | Portico CPU % | CPU µs/req | × by CPU/req | other load on CPU 0 % | rejected / socket errors | target | verdict by req/s | verdict by CPU/req |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|',
  );
  for (const s of r.summaries) {
    const v = r.results.find((x) => x.variant.id === s.id)!.variant;
    const target =
      v.maxCost !== undefined
        ? `cost < ${Math.round(v.maxCost * 100)} % (≥ ${(1 - v.maxCost).toFixed(2)}×)`
        : '–';
    const judged = (x: 'pass' | 'fail' | undefined): string =>
      x === undefined ? (s.id === 'none' ? 'baseline' : 'info') : x === 'pass' ? '✅ pass' : '❌ fail';
    push(
      `| ${v.label} | ${int(s.rps.median)} (${int(s.rps.min)}–${int(s.rps.max)}) | ${s.id === 'none' ? '1.00×' : times(s.ratio)} | ${ms(s.p50.median)} | ${ms(s.p99.median)} | ${s.id === 'none' ? '1.00×' : times(s.p50Ratio)} | ${s.id === 'none' ? '1.00×' : times(s.p99Ratio)} | ${Math.round(s.porticoCpuPct.median)} | ${s.cpuUsPerRequest.toFixed(1)} | ${s.id === 'none' ? '1.00×' : times(s.cpuRatio)} | ${s.foreignPct !== undefined ? Math.round(s.foreignPct) : '–'} | ${s.rejected} / ${s.socketErrors} | ${target} | ${judged(s.verdict)} | ${judged(s.cpuVerdict)} |`,
    );
  }
  push(
    '',
    'Ratios are medians of the per-round ratios to the no-policy run of the same round. Latencies are wrk’s at saturation (medians over rounds). CPU µs/req = Portico’s CPU time per proxied request; “× by CPU/req” is CPU/req(no policy) ÷ CPU/req(variant), per round, i.e. the throughput ratio if Portico had its core to itself — the figure to read when other load shares CPU 0. “Rejected” counts wrk’s non-2xx answers over warm-up and rounds; the limits are set so that it must be 0.',
    '',
  );
  const redisRow = r.summaries.find((s) => s.id === 'redis');
  if (redisRow !== undefined) {
    const others = Object.entries(redisRow.redisCommands)
      .filter(([cmd]) => cmd !== 'evalsha')
      .map(([cmd, n]) => `${cmd} ${n}`)
      .join(', ');
    const elsewhere = r.summaries
      .filter((s) => s.id !== 'redis')
      .map((s) => `${s.id} ${s.evalshaCalls}`)
      .join(', ');
    push(
      '**Redis** (`INFO commandstats` before and after every measured run; the bench’s own INFO calls excluded):',
      '',
      '| proxied requests (Redis runs) | EVALSHA calls | EVALSHA / request | other commands | Redis µs per EVALSHA | redis-server CPU % (median over runs) | EVALSHA during other variants’ runs | falls back to memory (Portico warnings) |',
      '|---:|---:|---:|---|---:|---:|---|---:|',
      `| ${int(redisRow.requests)} | ${int(redisRow.evalshaCalls)} | ${(redisRow.evalshaCalls / redisRow.requests).toFixed(3)} | ${others || 'none'} | ${redisRow.evalshaUsecPerCall?.toFixed(2) ?? '–'} | ${redisRow.redisCpuPct?.toFixed(1) ?? '–'} | ${elsewhere} | ${r.fallbacks} |`,
      '',
      `wrk counts completed responses; requests still in flight when wrk stops reached Redis too, so the ratio can be a little above 1. GET, SET and TIME are the script’s own calls (Redis counts commands run by Lua); a PING is Portico’s probe after a fall-back to memory${values['redis-timeout'] !== undefined ? ` (command timeout \`--redis-timeout ${values['redis-timeout']}\`: with the default 50 ms, a Portico descheduled for longer — this shared machine, or a CPU-throttled pod — finds Redis’s answer in its socket after the timer fired, falls back to memory and serves the next requests without Redis until a probe answers, which would make the Redis figures partly memory figures)` : ' (default command timeout, 50 ms)'}. redis-server CPU is utime+stime from /proc/<pid>/stat over each run, as a share of one core.`,
      '',
    );
  }
  if (r.foundation !== undefined) {
    const { suite, checks } = r.foundation;
    push(
      '**Foundation proxy bench again** (this build: policy chain present, no policy on the route; `bench/run.ts`’s targets and checks, reduced run):',
      '',
    );
    push(
      '| | Contender | median req/s (min–max) | p99 ms | proxy CPU % | req per CPU-second (median) | status |',
      '|---|---|---:|---:|---:|---:|---|',
    );
    // Requests per second of the proxy's own CPU time: what it would serve with a core to itself.
    const perCpuSecond = (id: string): number | undefined => {
      const t = suite.throughput.find((x) => x.id === id);
      const values = (t?.runs ?? [])
        .filter((x) => (x.cpu.processPct ?? 0) > 0)
        .map((x) => x.rps / ((x.cpu.processPct as number) / 100));
      return values.length > 0 ? spread(values).median : undefined;
    };
    for (const t of suite.throughput) {
      push(
        `| (${t.letter}) | ${t.label} | ${int(t.rps?.median)} (${int(t.rps?.min)}–${int(t.rps?.max)}) | ${t.p99Ms !== undefined ? ms(t.p99Ms.median) : '–'} | ${t.proxyCpuPct !== undefined ? Math.round(t.proxyCpuPct.median) : '–'} | ${int(perCpuSecond(t.id))} | ${t.status}${t.reason !== undefined ? `: ${t.reason.split('\n')[0]}` : ''} |`,
      );
    }
    push('', '| Check | Value | Target | Verdict |', '|---|---:|---|---|');
    for (const c of checks) {
      const verdict = { pass: '✅ pass', fail: '❌ fail', info: 'info', 'n/a': 'n/a', invalid: '⚠️ invalid' }[
        c.verdict
      ];
      push(
        `| ${c.name} | ${c.value !== undefined ? `${c.value.toFixed(2)}×` : '–'} | ${c.target ?? '–'} | ${verdict}${c.note !== undefined ? ` (${c.note})` : ''} |`,
      );
    }
    const portico = perCpuSecond('portico');
    for (const [id, letter, min] of [
      ['fastify-undici', 'f', 0.8],
      ['fastify-http-proxy', 'd', 1.25],
    ] as const) {
      const other = perCpuSecond(id);
      if (portico === undefined || other === undefined) continue;
      const value = portico / other;
      push(
        `| Portico / (${letter}) by requests per CPU-second (reads through other load on CPU 0) | ${value.toFixed(2)}× | >= ${min} | ${value >= min ? '✅ pass' : '❌ fail'} |`,
      );
    }
    push(
      '',
      `Foundation’s own full run (section “Proxy throughput and latency”): Portico/(f) 1.06×, Portico/(d) 1.36×.`,
      '',
    );
  }
  if (r.failures.length > 0) push(`> ❌ ${r.failures.join('; ')}`, '');
  return `${lines.join('\n').trimEnd()}\n`;
}

/** `renderProfile` is the `--cpu-prof` section: Portico's CPU per proxied request, by area and variant. */
function renderProfile(r: Rendered): string {
  const command = ['npx tsx bench/policies.ts', ...process.argv.slice(2)].join(' ');
  const profiles = r.profiles ?? [];
  const usPerRequest = (p: VariantProfile, ms: number): string =>
    p.requests > 0 ? ((ms * 1000) / p.requests).toFixed(1) : '–';
  const lines: string[] = [PROFILE_HEADING, ''];
  const push = (...l: string[]): void => void lines.push(...l);
  push(
    `_Generated ${r.date} by \`${command}\`: the policies phase of \`bench/policies.ts\` with Portico under \`node --cpu-prof\` (sampling profiler on, so every variant is slower than in the section above), ${rounds} round(s) × ${seconds} s per variant. Only samples taken while a variant's measured runs were under load count (wrk windows on CLOCK_MONOTONIC, which V8 stamps samples with). Load average ${r.machine.loadAvgStart.join(' / ')} at start, ${r.loadEnd.join(' / ')} at the end; Portico built from ${r.porticoBuild}._`,
    '',
  );
  if (profiles.length === 0) {
    push('No profile was written.', '');
    return `${lines.join('\n').trimEnd()}\n`;
  }
  push(
    `Portico CPU (self time) per proxied request, µs, by where the code lives. Throughput during these runs: ${r.summaries.map((s) => `${s.id} ${int(s.rps.median)} req/s`).join(', ')}.`,
    '',
  );
  push(
    `| area | ${profiles.map((p) => p.id).join(' | ')} |`,
    `|---|${profiles.map(() => '---:').join('|')}|`,
  );
  const areas = new Set(profiles.flatMap((p) => p.summary.areas.map((a) => a.name)));
  const redisFirst = profiles.find((p) => p.id === 'redis') ?? profiles[0]!;
  const order = [...areas].sort((a, b) => {
    const ms = (name: string): number => redisFirst.summary.areas.find((x) => x.name === name)?.ms ?? 0;
    return ms(b) - ms(a);
  });
  for (const area of order) {
    push(
      `| ${area} | ${profiles.map((p) => usPerRequest(p, p.summary.areas.find((a) => a.name === area)?.ms ?? 0)).join(' | ')} |`,
    );
  }
  push(
    `| **total busy** | ${profiles.map((p) => `**${usPerRequest(p, p.summary.busyMs)}**`).join(' | ')} |`,
    '',
  );
  for (const p of profiles.filter((x) => x.id !== 'none')) {
    push(`Top functions by self time, ${p.id} (µs per request; % of busy):`, '');
    for (const f of p.summary.topFunctions.slice(0, 12)) {
      push(`- ${usPerRequest(p, f.ms)} µs (${f.pct} %) \`${f.name}\``);
    }
    push('');
  }
  return `${lines.join('\n').trimEnd()}\n`;
}

async function main(): Promise<number> {
  for (const tool of ['wrk', 'taskset', 'redis-server', NGINX_BIN]) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      throw new Error(`required tool not found: ${tool}`);
    }
  }
  const all = variants(benchTargetIndex(ingresses));
  const only = values.only
    ?.split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const o of only ?? []) {
    if (!all.some((v) => v.id === o))
      throw new Error(`--only: unknown variant ${o} (none, memory, redis, basic)`);
  }
  const selected = all.filter((v) => only === undefined || v.id === 'none' || only.includes(v.id));
  const workDir = mkdtempSync(join(os.tmpdir(), 'portico-bench-policies-'));
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
  const redis = await startRedis(join(workDir, 'redis'));
  const redisCommand = `${clientCpu !== undefined ? `taskset -c ${clientCpu} ` : ''}redis-server --port P --bind ${LOOPBACK} --save '' --appendonly no`;
  log(
    `backend on ${backendPort}, redis-server ${redis.version} on ${redis.port}; ${rounds} round(s) × ${seconds} s`,
  );
  const policies = await measurePolicies(workDir, backendPort, redis, selected);
  redis.client.disconnect();
  await redis.proc.stop();
  await backend.stop();

  let foundation: Rendered['foundation'];
  if (!values['no-foundation'] && !values['cpu-prof']) {
    mkdirSync(join(workDir, 'foundation'), { recursive: true });
    const suite = await runSuite(
      selectTargets(['b', 'd', 'f']),
      {
        repoDir,
        workDir: join(workDir, 'foundation'),
        host: benchHost(benchTargetIndex(ingresses)),
        proxyCpu,
        ingresses,
        ingressClass: 'portico',
        porticoMain: values['portico-main'],
        porticoArgs: [],
        readyTimeoutMs: 120_000,
      },
      {
        runs: foundationRuns,
        seconds: foundationSeconds,
        warmupSeconds: warmupSeconds,
        connections,
        latency: false,
        latencyRate: undefined,
        latencyShare: 0.5,
        clientCpu,
        log,
      },
    );
    foundation = {
      suite,
      checks: judge(suite).filter((c) => c.target !== undefined && !c.name.startsWith('Added latency')),
    };
  }
  const loadEnd = os.loadavg().map((v) => Math.round(v * 100) / 100);

  const summaries = summarise(policies.results);
  const failures: string[] = [];
  for (const r of policies.results) {
    for (const x of r.runs) {
      // wrk reports no error when nothing at all came back (seen when other load took CPU 0 whole).
      if (x.run.requests === 0) {
        failures.push(
          `${r.variant.id} round ${x.round + 1}: no request completed (Portico CPU ${x.run.cpu.processPct ?? '?'} %, CPU ${proxyCpu ?? '?'} busy ${proxyCpu !== undefined ? (x.run.cpu.coreBusyPct[`cpu${proxyCpu}`] ?? '?') : '?'} %)`,
        );
      }
    }
  }
  for (const s of summaries) {
    if (s.rejected > 0 || s.socketErrors > 0)
      failures.push(`${s.id}: ${s.rejected} rejected, ${s.socketErrors} socket errors`);
    if (s.id === 'redis' && s.evalshaCalls < s.requests) {
      failures.push(
        `redis: ${s.evalshaCalls} EVALSHA for ${s.requests} requests (< 1 per request; ${policies.fallbacks} fall-back(s) to memory)`,
      );
    }
    if (s.id !== 'redis' && s.evalshaCalls > 0)
      failures.push(`${s.id}: ${s.evalshaCalls} EVALSHA calls, expected none`);
  }
  for (const t of foundation?.suite.throughput ?? []) {
    if (t.status !== 'ok') failures.push(`foundation (${t.letter}) ${t.status}`);
  }

  const jsonPath = join(benchDir, 'out', `policies-${date.replace(/[:.]/g, '-')}.json`);
  mkdirSync(dirname(jsonPath), { recursive: true });
  const rendered: Rendered = {
    machine,
    loadEnd,
    redisVersion: redis.version,
    redisCommand,
    porticoCommand: policies.command,
    porticoBuild: describeBuild(values['portico-main']),
    results: policies.results,
    summaries,
    proofs: policies.checks,
    fallbacks: policies.fallbacks,
    failures,
    ...(foundation !== undefined ? { foundation } : {}),
    ...(policies.profiles !== undefined ? { profiles: policies.profiles } : {}),
    date,
    jsonPath: relative(repoDir, jsonPath),
  };
  writeFileSync(
    jsonPath,
    JSON.stringify(
      {
        ...rendered,
        foundation:
          foundation === undefined
            ? undefined
            : {
                checks: foundation.checks,
                throughput: foundation.suite.throughput.map((t) => ({
                  ...t,
                  runs: t.runs.map(withoutRaw),
                  warmup: undefined,
                })),
              },
      },
      null,
      2,
    ),
  );
  // Under the profiler every figure is slower: such a run only writes its own section.
  const [heading, section] = values['cpu-prof']
    ? [PROFILE_HEADING, renderProfile(rendered)]
    : [HEADING, render(rendered)];
  if (!values['no-results']) writeSection(join(benchDir, 'RESULTS.md'), heading, section);
  process.stdout.write(`\n${section}`);
  return failures.length > 0 ? 1 : 0;
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

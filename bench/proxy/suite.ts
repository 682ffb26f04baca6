/**
 * `suite` runs the proxy benchmark: a shared nginx backend, then a closed-loop throughput phase
 * (wrk, warm-up + N runs of D seconds per target) and a constant-rate latency phase (hey, at half of
 * Portico's peak, for direct, Portico and nginx). It returns plain data; `report` renders it.
 */
import { join } from 'node:path';
import {
  type HeyResult,
  heyArgs,
  type LoadSpec,
  type RunErrors,
  runHey,
  runWrk,
  totalErrors,
  wrkArgs,
} from '../lib/clients.js';
import { type CpuUse, cpuBetween, sampleCpu } from '../lib/cpu.js';
import { freePort, LOOPBACK, preflight } from '../lib/net.js';
import { BACKEND_BODY, backendConfig, startNginx } from '../lib/nginx.js';
import type { Proc } from '../lib/procs.js';
import { type Spread, spread } from '../lib/stats.js';
import type { RunningTarget, Target, TargetContext, TargetId } from './target.js';

export interface SuiteOptions {
  readonly runs: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly connections: number;
  readonly latency: boolean;
  /** Fixed latency-phase rate (req/s); otherwise half of the reference peak. */
  readonly latencyRate: number | undefined;
  /** Share of the reference peak used for the latency phase (0.5 in the issue). */
  readonly latencyShare: number;
  readonly clientCpu: string | undefined;
  readonly log: (line: string) => void;
}

export type Status = 'ok' | 'errors' | 'skipped' | 'failed';

export interface ThroughputRun {
  readonly rps: number;
  readonly requests: number;
  readonly seconds: number;
  readonly latencyMs: Readonly<Record<string, number>>;
  readonly errors: RunErrors;
  readonly cpu: CpuUse;
  /** wrk's own report, verbatim. */
  readonly raw: string;
}

export interface TargetThroughput {
  readonly id: TargetId;
  readonly letter: string;
  readonly label: string;
  status: Status;
  reason?: string;
  note?: string;
  command?: string;
  url?: string;
  warmup?: ThroughputRun;
  readonly runs: ThroughputRun[];
  rps?: Spread;
  p50Ms?: Spread;
  p99Ms?: Spread;
  proxyCpuPct?: Spread;
}

export interface LatencyResult {
  readonly id: TargetId;
  readonly letter: string;
  readonly label: string;
  status: Status;
  reason?: string;
  rate?: number;
  achievedRps?: number;
  /** True when hey delivered less than 95 % of the asked rate (client- or server-bound). */
  underrun?: boolean;
  latencyMs?: Readonly<Record<string, number>>;
  errors?: RunErrors;
  cpu?: CpuUse;
  command?: string;
  /** hey's own report, verbatim. */
  raw?: string;
}

export interface SuiteResult {
  readonly wrkCommand: string;
  readonly heyCommand?: string;
  readonly throughput: TargetThroughput[];
  readonly latencyRate?: number;
  readonly latencyRateBasis: string;
  readonly latency: LatencyResult[];
}

function errorSummary(e: RunErrors): string {
  const parts: string[] = [];
  if (e.non2xx > 0) parts.push(`${e.non2xx} non-2xx`);
  if (e.socket > 0) parts.push(`${e.socket} socket errors`);
  if (e.timeouts > 0) parts.push(`${e.timeouts} timeouts`);
  for (const m of e.messages ?? []) parts.push(m);
  return parts.join(', ');
}

/** `measureWrk` runs one wrk load and samples the CPU of `proc`'s group and of every core around it. */
export async function measureWrk(spec: LoadSpec, proc: Proc | undefined): Promise<ThroughputRun> {
  const before = sampleCpu(proc?.pid);
  const r = await runWrk(spec);
  const after = sampleCpu(proc?.pid);
  return {
    rps: r.rps,
    requests: r.requests,
    seconds: r.seconds,
    latencyMs: r.latencyMs,
    errors: r.errors,
    cpu: cpuBetween(before, after, proc !== undefined),
    raw: r.raw,
  };
}

async function startChecked(target: Target, ctx: TargetContext): Promise<RunningTarget> {
  const running = await target.start(ctx);
  try {
    await preflight(running.url, ctx.host, BACKEND_BODY);
  } catch (e) {
    await running.stop();
    throw e;
  }
  return running;
}

async function throughputOf(
  target: Target,
  ctx: TargetContext,
  opts: SuiteOptions,
): Promise<TargetThroughput> {
  const res: TargetThroughput = {
    id: target.id,
    letter: target.letter,
    label: target.label,
    status: 'ok',
    runs: [],
  };
  const skip = target.skipReason(ctx);
  if (skip !== undefined) {
    opts.log(`(${target.letter}) ${target.label}: skipped: ${skip}`);
    return { ...res, status: 'skipped', reason: skip };
  }
  let running: RunningTarget | undefined;
  try {
    opts.log(`(${target.letter}) ${target.label}: starting`);
    running = await startChecked(target, ctx);
    if (running.command !== undefined) res.command = running.command;
    if (running.note !== undefined) {
      res.note = running.note;
      opts.log(`  note: ${running.note}`);
    }
    const url = running.url;
    res.url = url;
    const spec = (seconds: number): LoadSpec => ({
      url,
      host: ctx.host,
      seconds,
      connections: opts.connections,
      cpu: opts.clientCpu,
    });
    if (opts.warmupSeconds > 0) {
      res.warmup = await measureWrk(spec(opts.warmupSeconds), running.proc);
      opts.log(`  warm-up ${opts.warmupSeconds}s: ${Math.round(res.warmup.rps)} req/s`);
    }
    for (let i = 0; i < opts.runs; i++) {
      const run = await measureWrk(spec(opts.seconds), running.proc);
      res.runs.push(run);
      const errs = totalErrors(run.errors) > 0 ? `  ERRORS: ${errorSummary(run.errors)}` : '';
      const cpu = run.cpu.processPct !== undefined ? `, proxy CPU ${run.cpu.processPct}%` : '';
      opts.log(
        `  run ${i + 1}/${opts.runs}: ${Math.round(run.rps)} req/s, p99 ${run.latencyMs['p99'] ?? '?'} ms${cpu}${errs}`,
      );
    }
  } catch (e) {
    opts.log(`  FAILED: ${(e as Error).message}`);
    return { ...res, status: 'failed', reason: (e as Error).message };
  } finally {
    await running?.stop();
  }
  const labelled: [string, ThroughputRun][] = [
    ...(res.warmup !== undefined ? [['warm-up', res.warmup] as [string, ThroughputRun]] : []),
    ...res.runs.map((r, i): [string, ThroughputRun] => [`run ${i + 1}`, r]),
  ];
  const bad = labelled.filter(([, r]) => totalErrors(r.errors) > 0);
  if (bad.length > 0) {
    res.status = 'errors';
    res.reason = bad.map(([label, r]) => `${label}: ${errorSummary(r.errors)}`).join('; ');
  }
  res.rps = spread(res.runs.map((r) => r.rps));
  const p50 = res.runs.map((r) => r.latencyMs['p50']).filter((v) => v !== undefined);
  const p99 = res.runs.map((r) => r.latencyMs['p99']).filter((v) => v !== undefined);
  if (p50.length > 0) res.p50Ms = spread(p50);
  if (p99.length > 0) res.p99Ms = spread(p99);
  const cpu = res.runs.map((r) => r.cpu.processPct).filter((v) => v !== undefined);
  if (cpu.length > 0) res.proxyCpuPct = spread(cpu);
  return res;
}

async function latencyOf(
  target: Target,
  ctx: TargetContext,
  opts: SuiteOptions,
  rate: number,
): Promise<LatencyResult> {
  const res: LatencyResult = {
    id: target.id,
    letter: target.letter,
    label: target.label,
    status: 'ok',
    rate,
  };
  const skip = target.skipReason(ctx);
  if (skip !== undefined) return { ...res, status: 'skipped', reason: skip };
  let running: RunningTarget | undefined;
  try {
    opts.log(`(${target.letter}) ${target.label}: latency at ${Math.round(rate)} req/s`);
    running = await startChecked(target, ctx);
    const spec: LoadSpec = {
      url: running.url,
      host: ctx.host,
      seconds: opts.seconds,
      connections: opts.connections,
      cpu: opts.clientCpu,
    };
    if (opts.warmupSeconds > 0) {
      // Same warm-up as the throughput phase, so JIT state matches what the peak figure saw.
      await runWrk({ ...spec, seconds: opts.warmupSeconds });
    }
    res.command = `hey ${heyArgs(spec, rate).join(' ')}`;
    const before = sampleCpu(running.proc?.pid);
    const r: HeyResult = await runHey(spec, rate);
    const after = sampleCpu(running.proc?.pid);
    res.cpu = cpuBetween(before, after, running.proc !== undefined);
    res.achievedRps = r.rps;
    res.underrun = r.rps < rate * 0.95;
    res.latencyMs = r.latencyMs;
    res.errors = r.errors;
    res.raw = r.raw;
    if (totalErrors(r.errors) > 0) {
      res.status = 'errors';
      res.reason = errorSummary(r.errors);
    }
    opts.log(
      `  ${Math.round(r.rps)} req/s achieved, p50 ${r.latencyMs['p50'] ?? '?'} ms, p99 ${r.latencyMs['p99'] ?? '?'} ms` +
        (res.reason !== undefined ? `  ERRORS: ${res.reason}` : ''),
    );
  } catch (e) {
    opts.log(`  FAILED: ${(e as Error).message}`);
    return { ...res, status: 'failed', reason: (e as Error).message };
  } finally {
    await running?.stop();
  }
  return res;
}

/** The contenders measured at constant rate, as the issue asks. */
const LATENCY_TARGETS: readonly TargetId[] = ['direct', 'portico', 'nginx'];

function referencePeak(throughput: readonly TargetThroughput[]): { rps: number; basis: string } | undefined {
  for (const id of ['portico', 'fastify-undici'] as const) {
    const t = throughput.find((x) => x.id === id);
    if (t?.status === 'ok' && t.rps !== undefined) {
      return {
        rps: t.rps.median,
        basis: `(${t.letter}) ${t.label} median peak ${Math.round(t.rps.median)} req/s`,
      };
    }
  }
  return undefined;
}

/** `runSuite` starts the backend, runs both phases over `targets` and always stops what it started. */
export async function runSuite(
  targets: readonly Target[],
  base: Omit<TargetContext, 'backendPort'>,
  opts: SuiteOptions,
): Promise<SuiteResult> {
  const backendPort = await freePort();
  const backendDir = join(base.workDir, 'backend');
  opts.log(`backend: nginx on ${LOOPBACK}:${backendPort} (cpu ${opts.clientCpu ?? 'any'})`);
  const backend = await startNginx(
    'backend',
    backendDir,
    backendConfig(backendDir, backendPort),
    { url: `http://${LOOPBACK}:${backendPort}/` },
    opts.clientCpu,
  );
  const ctx: TargetContext = { ...base, backendPort };
  const sample: LoadSpec = {
    url: 'URL',
    host: ctx.host,
    seconds: opts.seconds,
    connections: opts.connections,
    cpu: opts.clientCpu,
  };
  const wrkCommand = `${opts.clientCpu !== undefined ? `taskset -c ${opts.clientCpu} ` : ''}wrk ${wrkArgs(
    sample,
  )
    .map((a) => (a.includes(' ') ? `'${a}'` : a))
    .join(' ')}`;
  try {
    const throughput: TargetThroughput[] = [];
    for (const t of targets) throughput.push(await throughputOf(t, ctx, opts));

    const latency: LatencyResult[] = [];
    let rate: number | undefined;
    let basis: string;
    const ref = referencePeak(throughput);
    if (!opts.latency) {
      basis = 'latency phase disabled (--no-latency)';
    } else if (opts.latencyRate !== undefined) {
      rate = opts.latencyRate;
      basis = `fixed by --latency-rate`;
    } else if (ref !== undefined) {
      rate = ref.rps * opts.latencyShare;
      basis = `${Math.round(opts.latencyShare * 100)} % of ${ref.basis}`;
    } else {
      basis = 'skipped: no clean peak of (b) Portico or (f) Fastify + undici in this run to take 50 % of';
    }
    if (rate !== undefined) {
      for (const t of targets.filter((x) => LATENCY_TARGETS.includes(x.id))) {
        latency.push(await latencyOf(t, ctx, opts, rate));
      }
    }
    const heyCommand =
      rate !== undefined
        ? `${opts.clientCpu !== undefined ? `taskset -c ${opts.clientCpu} ` : ''}hey ${heyArgs(sample, rate).join(' ')}`
        : undefined;
    return {
      wrkCommand,
      ...(heyCommand !== undefined ? { heyCommand } : {}),
      throughput,
      ...(rate !== undefined ? { latencyRate: rate } : {}),
      latencyRateBasis: basis,
      latency,
    };
  } finally {
    await backend.stop();
  }
}

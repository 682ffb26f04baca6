/**
 * `report` judges a suite result against the issue's targets and renders it: raw JSON into
 * bench/out/ and the "## Proxy throughput and latency" section of bench/RESULTS.md (other sections
 * of that file, such as the routing-table one, are left byte-for-byte alone).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { MachineInfo } from '../lib/machine.js';
import { writeSection } from '../lib/results.js';
import type { LatencyResult, SuiteResult, TargetThroughput, ThroughputRun } from './suite.js';
import type { TargetId } from './target.js';

export const SECTION_HEADING = '## Proxy throughput and latency';

export type Verdict = 'pass' | 'fail' | 'info' | 'n/a' | 'invalid';

export interface Check {
  readonly name: string;
  readonly value?: number;
  readonly unit: string;
  /** e.g. `>= 0.8`; absent for informational figures. */
  readonly target?: string;
  readonly verdict: Verdict;
  readonly note?: string;
}

export interface RunSettings {
  readonly command: string;
  readonly mode: string;
  readonly runs: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly connections: number;
  readonly host: string;
  readonly ingresses: number;
  readonly proxyCpu: string | undefined;
  readonly clientCpu: string | undefined;
  readonly only: readonly string[] | undefined;
}

export interface Report {
  readonly date: string;
  readonly machine: MachineInfo;
  readonly settings: RunSettings;
  readonly suite: SuiteResult;
  readonly checks: readonly Check[];
}

/** Reference figures from the issue (2-core x86-64, wrk -t1 -c50), for orientation only. */
const REFERENCE: Partial<Record<TargetId, string>> = {
  nginx: '~70–85k',
  'fastify-http-proxy': '~12k',
  'node-undici': '~22k',
  'fastify-undici': '~19k',
};

function unusable(t: TargetThroughput | LatencyResult | undefined, name: string): Check | undefined {
  if (t === undefined) return { name, unit: '', verdict: 'n/a', note: 'not in this run (--only)' };
  if (t.status === 'skipped')
    return { name, unit: '', verdict: 'n/a', note: `(${t.letter}) skipped: ${t.reason ?? ''}` };
  if (t.status === 'failed') return { name, unit: '', verdict: 'n/a', note: `(${t.letter}) failed to run` };
  if (t.status === 'errors') return { name, unit: '', verdict: 'invalid', note: `(${t.letter}) had errors` };
  return undefined;
}

function ratio(tp: readonly TargetThroughput[], over: TargetId, min: number | undefined): Check {
  const p = tp.find((t) => t.id === 'portico');
  const o = tp.find((t) => t.id === over);
  const name = `Portico / (${o?.letter ?? '?'}) ${o?.label ?? over} peak req/s`;
  const bad = unusable(p, name) ?? unusable(o, name);
  if (bad !== undefined) return { ...bad, ...(min !== undefined ? { target: `>= ${min}` } : {}) };
  const value = p!.rps!.median / o!.rps!.median;
  if (min === undefined) return { name, value, unit: '×', verdict: 'info' };
  return { name, value, unit: '×', target: `>= ${min}`, verdict: value >= min ? 'pass' : 'fail' };
}

function addedLatency(lat: readonly LatencyResult[], maxMs: number): Check {
  const name = 'Added latency p99(b) − p99(a) at constant rate';
  const a = lat.find((t) => t.id === 'direct');
  const b = lat.find((t) => t.id === 'portico');
  const bad = unusable(b, name) ?? unusable(a, name);
  if (bad !== undefined) return { ...bad, target: `<= ${maxMs} ms` };
  const pa = a!.latencyMs?.['p99'];
  const pb = b!.latencyMs?.['p99'];
  if (pa === undefined || pb === undefined) {
    return { name, unit: 'ms', target: `<= ${maxMs} ms`, verdict: 'n/a', note: 'no p99 reported' };
  }
  const value = pb - pa;
  const underrun = [a!, b!].filter((t) => t.underrun === true).map((t) => `(${t.letter})`);
  return {
    name,
    value,
    unit: 'ms',
    target: `<= ${maxMs} ms`,
    verdict: value <= maxMs ? 'pass' : 'fail',
    ...(underrun.length > 0 ? { note: `rate not held by ${underrun.join(', ')}` } : {}),
  };
}

/** `judge` computes the ratios and the added-latency figure with their verdicts. */
export function judge(suite: SuiteResult): Check[] {
  return [
    ratio(suite.throughput, 'fastify-undici', 0.8),
    ratio(suite.throughput, 'fastify-http-proxy', 1.25),
    ratio(suite.throughput, 'nginx', undefined),
    addedLatency(suite.latency, 2),
  ];
}

const fmtInt = (n: number | undefined): string =>
  n === undefined ? '–' : Math.round(n).toLocaleString('en-US');
const fmtMs = (n: number | undefined): string => (n === undefined ? '–' : n.toFixed(2));

function statusCell(s: { status: string; reason?: string; note?: string }): string {
  const base = statusText(s);
  return s.note !== undefined ? `${base} (note: ${s.note.replace(/\|/g, '\\|')})` : base;
}

function statusText(s: { status: string; reason?: string }): string {
  const reason = (s.reason ?? '')
    .replace(/\s*\n[\s\S]*/, '')
    .replace(/\|/g, '\\|')
    .slice(0, 160);
  switch (s.status) {
    case 'ok':
      return 'ok';
    case 'skipped':
      return `skipped: ${reason}`;
    case 'failed':
      return `**FAILED**: ${reason}`;
    default:
      return `**ERRORS**: ${reason}`;
  }
}

const median = (xs: readonly number[]): number | undefined => {
  if (xs.length === 0) return undefined;
  const v = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(v.length / 2);
  return v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
};

/** Threshold above which CPU time on the proxy core that is not the proxy's own is called out. */
const FOREIGN_LOAD_PCT = 10;

interface CoreUse {
  readonly proxyCore?: number;
  readonly clientCore?: number;
  /** Busy share of the proxy core not spent by the proxy process group (other helpers, IRQs…). */
  readonly foreign?: number;
}

/** `coreUse` summarises per-core busy shares over a target's measured runs (medians). */
function coreUse(runs: readonly ThroughputRun[], s: RunSettings): CoreUse {
  if (s.proxyCpu === undefined || s.clientCpu === undefined) return {};
  const pc = `cpu${s.proxyCpu}`;
  const cc = `cpu${s.clientCpu}`;
  const proxyCore = median(runs.map((r) => r.cpu.coreBusyPct[pc]).filter((v) => v !== undefined));
  const clientCore = median(runs.map((r) => r.cpu.coreBusyPct[cc]).filter((v) => v !== undefined));
  const foreign = median(
    runs.map((r) => (r.cpu.coreBusyPct[pc] ?? 0) - (r.cpu.processPct ?? 0)).map((v) => Math.max(0, v)),
  );
  return {
    ...(proxyCore !== undefined ? { proxyCore } : {}),
    ...(clientCore !== undefined ? { clientCore } : {}),
    ...(foreign !== undefined ? { foreign } : {}),
  };
}

function verdictCell(c: Check): string {
  const v = { pass: '✅ pass', fail: '❌ fail', info: 'info', 'n/a': 'n/a', invalid: '⚠️ invalid' }[c.verdict];
  return c.note !== undefined ? `${v} (${c.note})` : v;
}

/** `renderSection` renders the RESULTS.md section (heading included, trailing newline). */
export function renderSection(r: Report, jsonPath: string): string {
  const { machine: m, settings: s, suite } = r;
  const portico = suite.throughput.find((t) => t.id === 'portico');
  const lines: string[] = [];
  const push = (...l: string[]): void => {
    lines.push(...l);
  };
  push(SECTION_HEADING, '');
  push(
    `_Generated ${r.date} by \`${s.command}\` — ${s.mode}: warm-up ${s.warmupSeconds} s, then median of ${s.runs} run(s) × ${s.seconds} s per contender${s.only !== undefined ? `; partial run (--only ${s.only.join(',')})` : ''}. Raw data: \`${jsonPath}\`._`,
    '',
  );
  if (s.mode !== 'full') {
    push(
      '> Quick/custom run: indicative only. The reference run is `npx tsx bench/run.ts` (N=5, D=30 s) on a quiet machine.',
      '',
    );
  }
  push(
    `- **Machine**: ${m.cpuModel}, ${m.cores} cores (${m.arch}), ${m.memoryGiB} GiB, ${m.kernel}; load average at start ${m.loadAvgStart.join(' / ')}`,
    `- **Software**: Node ${m.node}, ${m.nginx}, wrk ${m.wrk}, hey ${m.hey}; Portico at ${m.gitCommit}`,
    `- **Pinning**: proxy under test on CPU ${s.proxyCpu ?? 'any'} (\`taskset -c\`), client and backend nginx on CPU ${s.clientCpu ?? 'any'}; one worker/process each`,
    `- **Request**: \`GET /\` with \`Host: ${s.host}\` (Portico: the last of ${s.ingresses} generated Ingresses, 1 host × 3 paths each, Service + EndpointSlice → backend); backend: nginx \`return 200\`, 1 worker`,
    `- **Throughput client**: \`${suite.wrkCommand}\``,
    `- **Portico**: ${portico?.command !== undefined ? `\`${portico.command}\`` : portico !== undefined ? statusCell(portico) : 'not in this run'}`,
    `- **Latency client**: ${suite.heyCommand !== undefined ? `\`${suite.heyCommand}\`` : '–'} (hey \`-q\` is per worker: rate ÷ ${s.connections})`,
    '',
  );
  push('### Peak throughput (wrk, closed loop)', '');
  push(
    '| | Contender | median req/s | min | max | p50 ms | p99 ms | proxy CPU % | core busy % (proxy / client) | reference | status |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  );
  const noisy: string[] = [];
  for (const t of suite.throughput) {
    const cores = coreUse(t.runs, s);
    const busy =
      cores.proxyCore !== undefined && cores.clientCore !== undefined
        ? `${Math.round(cores.proxyCore)} / ${Math.round(cores.clientCore)}`
        : '–';
    if (cores.foreign !== undefined && cores.foreign > FOREIGN_LOAD_PCT) {
      noisy.push(`(${t.letter}) ~${Math.round(cores.foreign)} %`);
    }
    push(
      `| (${t.letter}) | ${t.label} | ${fmtInt(t.rps?.median)} | ${fmtInt(t.rps?.min)} | ${fmtInt(t.rps?.max)} | ${fmtMs(t.p50Ms?.median)} | ${fmtMs(t.p99Ms?.median)} | ${t.proxyCpuPct !== undefined ? Math.round(t.proxyCpuPct.median) : '–'} | ${busy} | ${REFERENCE[t.id] ?? ''} | ${statusCell(t)} |`,
    );
  }
  push(
    '',
    'Latency columns are wrk’s at saturation (medians over runs). Proxy CPU % is the proxy process group’s share of one core; core busy % is /proc/stat for the two pinned cores. Reference figures are the issue’s (2-core x86-64, wrk -t1 -c50).',
  );
  if (noisy.length > 0) {
    push(
      '',
      `> ⚠️ Other load on the proxy core (busy share not spent by the proxy): ${noisy.join(', ')}. Those figures are depressed; rerun on a quiet machine.`,
    );
  }
  push('');
  push('### Latency at constant rate (hey)', '');
  push(
    `Rate: ${suite.latencyRate !== undefined ? `**${fmtInt(suite.latencyRate)} req/s**` : '–'} — ${suite.latencyRateBasis}.`,
    '',
  );
  if (suite.latency.length > 0) {
    push(
      '| | Contender | asked req/s | achieved req/s | p50 ms | p90 ms | p99 ms | status |',
      '|---|---|---:|---:|---:|---:|---:|---|',
    );
    for (const l of suite.latency) {
      const achieved = `${fmtInt(l.achievedRps)}${l.underrun === true ? ' ⚠️ rate not held' : ''}`;
      push(
        `| (${l.letter}) | ${l.label} | ${fmtInt(l.rate)} | ${achieved} | ${fmtMs(l.latencyMs?.['p50'])} | ${fmtMs(l.latencyMs?.['p90'])} | ${fmtMs(l.latencyMs?.['p99'])} | ${statusCell(l)} |`,
      );
    }
    push('', 'hey reports latencies with 0.1 ms resolution.', '');
  }
  push('### Ratios and targets', '');
  push('| Check | Value | Target | Verdict |', '|---|---:|---|---|');
  for (const c of r.checks) {
    const value =
      c.value === undefined ? '–' : c.unit === 'ms' ? `${c.value.toFixed(2)} ms` : `${c.value.toFixed(2)}×`;
    push(`| ${c.name} | ${value} | ${c.target ?? '–'} | ${verdictCell(c)} |`);
  }
  push('');
  return `${lines.join('\n')}\n`;
}

/** `writeResultsSection` updates (or creates) RESULTS.md with our section. */
export function writeResultsSection(path: string, section: string): void {
  writeSection(path, SECTION_HEADING, section);
}

/** `writeJson` writes the raw report (including the clients' raw output) and returns its path. */
export function writeJson(path: string, report: Report): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
  return path;
}

/**
 * `clients` runs the load generators and parses their text reports: `wrk` for closed-loop peak
 * throughput and `hey` for the constant-rate latency runs. Errors are counted, never dropped: a run
 * with socket errors or non-2xx answers carries them in `errors` and the report flags it.
 */
import { runToEnd } from './procs.js';

export interface RunErrors {
  /** wrk: connect/read/write socket errors; hey: the error distribution total. */
  readonly socket: number;
  readonly timeouts: number;
  /** Answers that were not 2xx (wrk counts status >= 400 here; the pre-flight check excludes 3xx). */
  readonly non2xx: number;
  /** Status code → count (hey only; wrk does not break them down). */
  readonly statuses?: Readonly<Record<string, number>>;
  /** Distinct error messages (hey only). */
  readonly messages?: readonly string[];
}

export interface WrkResult {
  readonly requests: number;
  readonly seconds: number;
  readonly rps: number;
  /** Latency percentiles in milliseconds (wrk --latency: 50, 75, 90, 99). */
  readonly latencyMs: Readonly<Record<string, number>>;
  readonly errors: RunErrors;
  readonly raw: string;
}

export interface HeyResult {
  readonly requests: number;
  readonly seconds: number;
  readonly rps: number;
  /** Latency percentiles in milliseconds (hey: 10, 25, 50, 75, 90, 95, 99); 0.1 ms resolution. */
  readonly latencyMs: Readonly<Record<string, number>>;
  readonly errors: RunErrors;
  readonly raw: string;
}

/** `totalErrors` is the number of failed requests of any kind. */
export function totalErrors(e: RunErrors): number {
  return e.socket + e.timeouts + e.non2xx;
}

function toMs(value: string, unit: string): number {
  const v = Number(value);
  switch (unit) {
    case 'us':
      return v / 1000;
    case 'ms':
      return v;
    case 's':
      return v * 1000;
    case 'm':
      return v * 60_000;
    default:
      throw new Error(`unknown wrk time unit ${unit}`);
  }
}

/** `parseWrk` reads `wrk --latency` output. Throws if the essential lines are missing. */
export function parseWrk(out: string): WrkResult {
  const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(out);
  const total = /^\s*(\d+) requests in ([\d.]+)(us|ms|s|m),/m.exec(out);
  if (rps === null || total === null) throw new Error(`cannot parse wrk output:\n${out}`);
  const latencyMs: Record<string, number> = {};
  const dist = /Latency Distribution\n((?:\s+\d+%\s+[\d.]+\w+\n)+)/.exec(out);
  for (const m of (dist?.[1] ?? '').matchAll(/(\d+)%\s+([\d.]+)(us|ms|s|m)/g)) {
    latencyMs[`p${m[1]}`] = toMs(m[2]!, m[3]!);
  }
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  return {
    requests: Number(total[1]),
    seconds: toMs(total[2]!, total[3]!) / 1000,
    rps: Number(rps[1]),
    latencyMs,
    errors: {
      socket: sock === null ? 0 : Number(sock[1]) + Number(sock[2]) + Number(sock[3]),
      timeouts: sock === null ? 0 : Number(sock[4]),
      non2xx: non2xx === null ? 0 : Number(non2xx[1]),
    },
    raw: out,
  };
}

/** `parseHey` reads hey's default summary output. */
export function parseHey(out: string): HeyResult {
  const total = /^\s*Total:\s+([\d.]+) secs/m.exec(out);
  const rps = /^\s*Requests\/sec:\s+([\d.]+)/m.exec(out);
  if (total === null || rps === null) throw new Error(`cannot parse hey output:\n${out}`);
  const latencyMs: Record<string, number> = {};
  const dist = /Latency distribution:\n((?:\s+\d+% in [\d.]+ secs\n)+)/.exec(out);
  for (const m of (dist?.[1] ?? '').matchAll(/(\d+)% in ([\d.]+) secs/g)) {
    latencyMs[`p${m[1]}`] = Number(m[2]) * 1000;
  }
  const statuses: Record<string, number> = {};
  let requests = 0;
  let non2xx = 0;
  const statusBlock = /Status code distribution:\n((?:\s+\[\d+\]\s+\d+ responses\n)*)/.exec(out);
  for (const m of (statusBlock?.[1] ?? '').matchAll(/\[(\d+)\]\s+(\d+) responses/g)) {
    const n = Number(m[2]);
    statuses[m[1]!] = n;
    requests += n;
    if (!m[1]!.startsWith('2')) non2xx += n;
  }
  let socket = 0;
  let timeouts = 0;
  const messages: string[] = [];
  const errBlock = /Error distribution:\n((?:\s+\[\d+\]\s+.*\n?)*)/.exec(out);
  for (const m of (errBlock?.[1] ?? '').matchAll(/\[(\d+)\]\s+(.*)/g)) {
    const n = Number(m[1]);
    if (/timeout|deadline exceeded/i.test(m[2]!)) timeouts += n;
    else socket += n;
    messages.push(`${n}× ${m[2]!.trim()}`);
  }
  return {
    requests: requests + socket + timeouts,
    seconds: Number(total[1]),
    rps: Number(rps[1]),
    latencyMs,
    errors: { socket, timeouts, non2xx, statuses, ...(messages.length > 0 ? { messages } : {}) },
    raw: out,
  };
}

export interface LoadSpec {
  readonly url: string;
  readonly host: string;
  readonly seconds: number;
  readonly connections: number;
  /** CPU list for the client (`taskset -c`). */
  readonly cpu: string | undefined;
  /** Extra request headers, `Name: value` each (wrk `-H`, hey `-H`). */
  readonly headers?: readonly string[];
}

/** `wrkArgs` is the exact wrk command line for a spec (reported verbatim in the results). */
export function wrkArgs(spec: LoadSpec): string[] {
  return [
    '-t1',
    `-c${spec.connections}`,
    `-d${spec.seconds}s`,
    '--latency',
    '--timeout',
    '5s',
    '-H',
    `Host: ${spec.host}`,
    ...(spec.headers ?? []).flatMap((h) => ['-H', h]),
    spec.url,
  ];
}

/** `runWrk` runs one closed-loop wrk load. */
export async function runWrk(spec: LoadSpec): Promise<WrkResult> {
  const r = await runToEnd('wrk', 'wrk', wrkArgs(spec), {
    cpu: spec.cpu,
    timeoutMs: (spec.seconds + 30) * 1000,
  });
  if (r.code !== 0) throw new Error(`wrk exited ${r.code}: ${r.stderr}${r.stdout}`);
  return parseWrk(r.stdout);
}

/**
 * `heyArgs` is the hey command line for `rate` req/s in total over `connections` workers.
 * NOTE: hey's `-q` is a per-worker QPS limit, so each worker gets rate/connections.
 */
export function heyArgs(spec: LoadSpec, rate: number): string[] {
  const perWorker = rate / spec.connections;
  return [
    '-z',
    `${spec.seconds}s`,
    '-q',
    perWorker.toFixed(3),
    '-c',
    String(spec.connections),
    '-t',
    '5',
    '-host',
    spec.host,
    ...(spec.headers ?? []).flatMap((h) => ['-H', h]),
    spec.url,
  ];
}

/** `runHey` runs one constant-rate hey load. */
export async function runHey(spec: LoadSpec, rate: number): Promise<HeyResult> {
  const r = await runToEnd('hey', 'hey', heyArgs(spec, rate), {
    cpu: spec.cpu,
    timeoutMs: (spec.seconds + 30) * 1000,
  });
  if (r.code !== 0) throw new Error(`hey exited ${r.code}: ${r.stderr}${r.stdout}`);
  return parseHey(r.stdout);
}

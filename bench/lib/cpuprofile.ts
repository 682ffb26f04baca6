/**
 * `cpuprofile` summarises a V8 `.cpuprofile` (what `node --cpu-prof` writes at exit): self time per
 * function and per area of the code, so a bench can say where a proxy's time goes without opening
 * DevTools. Self time is the sampled time spent in a function's own code, not in its callees.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    readonly lineNumber: number;
  };
  readonly hitCount?: number;
  readonly children?: readonly number[];
}

export interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples?: readonly number[];
  readonly timeDeltas?: readonly number[];
}

export interface ProfileEntry {
  readonly name: string;
  /** Self time in milliseconds. */
  readonly ms: number;
  /** Share of the non-idle sampled time, in percent. */
  readonly pct: number;
}

export interface ProfileSummary {
  /** Sampled time that was not `(idle)`, in milliseconds. */
  readonly busyMs: number;
  readonly idleMs: number;
  readonly topFunctions: readonly ProfileEntry[];
  readonly areas: readonly ProfileEntry[];
}

/** `AREAS` buckets a frame by where its code lives; the first match wins. */
const AREAS: readonly (readonly [string, (url: string, fn: string) => boolean])[] = [
  ['(garbage collector)', (_u, f) => f === '(garbage collector)'],
  ['(program: native, syscalls)', (_u, f) => f === '(program)'],
  ['portico src/policy/rate-limit', (u) => u.includes('/policy/rate-limit/')],
  ['portico src/policy/auth', (u) => u.includes('/policy/auth/')],
  ['portico src/policy (chain, ip)', (u) => u.includes('/policy/')],
  ['portico src/proxy', (u) => u.includes('/proxy/')],
  ['portico (other)', (u) => u.includes('/dist/') && !u.includes('node_modules')],
  [
    'ioredis + redis-parser',
    (u) => /node_modules\/(ioredis|redis-parser|redis-errors|denque|cluster-key-slot)\//.test(u),
  ],
  ['undici', (u) => u.includes('node_modules/undici/')],
  ['bcryptjs', (u) => u.includes('node_modules/bcryptjs/')],
  ['other node_modules', (u) => u.includes('node_modules/')],
  ['node:internal http', (u) => /node:_http|node:internal\/http|_http_/.test(u)],
  ['node:internal net/streams', (u) => /node:(net|stream|internal\/streams|internal\/stream_base)/.test(u)],
  ['node:internal (other)', (u) => u.startsWith('node:')],
  ['(native / builtins)', () => true],
];

function areaOf(url: string, fn: string): string {
  for (const [name, test] of AREAS) if (test(url, fn)) return name;
  return '(unknown)';
}

function shortUrl(url: string): string {
  const i = Math.max(url.lastIndexOf('/dist/'), url.lastIndexOf('/node_modules/'));
  if (i !== -1) return url.slice(i + 1);
  return url.replace(/^file:\/\//, '');
}

/**
 * `TimeWindow` is a span of CLOCK_MONOTONIC time in microseconds: V8 stamps profile samples with
 * it, and so does `process.hrtime` in any process on the same Linux host, so a bench can mark its
 * load runs and count only the samples taken during them.
 */
export interface TimeWindow {
  readonly fromUs: number;
  readonly toUs: number;
}

/** `monotonicUs` is now on the clock V8's profiler stamps samples with. */
export function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/** `loadProfile` parses a `.cpuprofile` file once, for several `summariseProfile` calls. */
export function loadProfile(path: string): Profile {
  return JSON.parse(readFileSync(path, 'utf8')) as Profile;
}

/**
 * `summariseProfile` returns the `top` functions and every area of a profile, counting only the
 * samples inside `windows` when given (the whole profile otherwise).
 */
export function summariseProfile(
  source: string | Profile,
  top = 20,
  windows?: readonly TimeWindow[],
): ProfileSummary {
  const profile = typeof source === 'string' ? loadProfile(source) : source;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  const inside = (t: number): boolean =>
    windows === undefined || windows.some((w) => t >= w.fromUs && t < w.toUs);
  // timeDeltas[i] is the gap before sample i; each sample's time is the gap to the next one
  // (V8's convention in DevTools).
  let at = profile.startTime;
  for (let i = 0; i < samples.length; i++) {
    at += deltas[i] ?? 0;
    if (!inside(at)) continue;
    const id = samples[i] as number;
    const dt = deltas[i + 1] ?? 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, dt));
  }
  const functions = new Map<string, number>();
  const areas = new Map<string, number>();
  let idleUs = 0;
  let busyUs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (node === undefined) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    busyUs += us;
    const name =
      `${functionName || '(anonymous)'} ${url === '' ? '' : `${shortUrl(url)}:${lineNumber + 1}`}`.trim();
    functions.set(name, (functions.get(name) ?? 0) + us);
    const area = areaOf(url, functionName);
    areas.set(area, (areas.get(area) ?? 0) + us);
  }
  const entries = (m: Map<string, number>): ProfileEntry[] =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .map(([name, us]) => ({
        name,
        ms: Math.round(us / 100) / 10,
        pct: busyUs > 0 ? Math.round((us / busyUs) * 1000) / 10 : 0,
      }));
  return {
    busyMs: Math.round(busyUs / 100) / 10,
    idleMs: Math.round(idleUs / 100) / 10,
    topFunctions: entries(functions).slice(0, top),
    areas: entries(areas),
  };
}

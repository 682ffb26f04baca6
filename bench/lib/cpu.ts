/**
 * `cpu` samples CPU use from /proc while a load runs: per-core busy share (to see whether the
 * proxy core was saturated and whether anything else ran on it) and the CPU time of one process
 * group (the proxy under test, nginx master + worker included).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let clkTck: number | undefined;

function ticksPerSecond(): number {
  if (clkTck === undefined) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

export interface CpuSample {
  readonly at: number;
  /** cpuN → [busy, total] jiffies. */
  readonly cores: ReadonlyMap<string, readonly [number, number]>;
  /** utime+stime ticks of the watched process group (0 when none). */
  readonly groupTicks: number;
}

function readCores(): Map<string, readonly [number, number]> {
  const cores = new Map<string, readonly [number, number]>();
  for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
    const m = /^(cpu\d+)\s+(.*)$/.exec(line);
    if (m === null) continue;
    const f = m[2]!.split(/\s+/).map(Number);
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = (f[3] ?? 0) + (f[4] ?? 0);
    cores.set(m[1]!, [total - idle, total]);
  }
  return cores;
}

function groupTicks(pgid: number | undefined): number {
  if (pgid === undefined) return 0;
  let ticks = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    // Fields after the parenthesised command: state ppid pgrp ... utime(14) stime(15).
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(rest[2]) !== pgid) continue;
    ticks += Number(rest[11]) + Number(rest[12]);
  }
  return ticks;
}

/** `sampleCpu` snapshots per-core counters and the CPU time of process group `pgid`. */
export function sampleCpu(pgid?: number): CpuSample {
  return { at: Date.now(), cores: readCores(), groupTicks: groupTicks(pgid) };
}

export interface CpuUse {
  /** cpuN → busy percent over the interval. */
  readonly coreBusyPct: Readonly<Record<string, number>>;
  /** CPU percent of the watched group (100 = one full core); absent when no group was watched. */
  readonly processPct?: number;
}

/** `cpuBetween` turns two samples into busy percentages. */
export function cpuBetween(a: CpuSample, b: CpuSample, watched: boolean): CpuUse {
  const coreBusyPct: Record<string, number> = {};
  for (const [name, [busyB, totalB]] of b.cores) {
    const prev = a.cores.get(name);
    if (prev === undefined) continue;
    const dt = totalB - prev[1];
    coreBusyPct[name] = dt > 0 ? Math.round(((busyB - prev[0]) / dt) * 1000) / 10 : 0;
  }
  const seconds = (b.at - a.at) / 1000;
  if (!watched || seconds <= 0) return { coreBusyPct };
  const pct = ((b.groupTicks - a.groupTicks) / ticksPerSecond() / seconds) * 100;
  return { coreBusyPct, processPct: Math.round(pct * 10) / 10 };
}

/**
 * `l4-load` reads what the L4 data-path bench (bench/l4-throughput.ts) measures with: wrk's
 * summary including the bytes read (bulk MB/s comes from them, not from requests), and the
 * kernel's TCP counters of a network namespace (/proc/net/netstat and /proc/net/snmp), whose
 * deltas tell why a connect run was slow (SYN retransmits, SYNs refused by a TIME_WAIT socket).
 */

export interface WrkSummary {
  readonly requests: number;
  readonly seconds: number;
  /** Bytes read by wrk, headers included (wrk prints them in binary units: 1 KB = 1024 B). */
  readonly bytes: number;
  readonly rps: number;
  /** Socket errors (connect, read, write), timeouts and non-2xx/3xx answers, together. */
  readonly errors: number;
}

const BINARY_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  K: 1024,
  M: 1024 ** 2,
  G: 1024 ** 3,
  T: 1024 ** 4,
};
const TIME_UNITS: Readonly<Record<string, number>> = { us: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };

/** `parseWrkSummary` reads wrk's plain summary. Throws when the essential lines are missing. */
export function parseWrkSummary(out: string): WrkSummary {
  const total = /^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h), ([\d.]+)([KMGT]?)B read/m.exec(out);
  const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(out);
  if (total === null || rps === null) throw new Error(`cannot parse wrk output:\n${out}`);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  const errors =
    (sock === null ? 0 : sock.slice(1, 5).reduce((sum, n) => sum + Number(n), 0)) +
    (non2xx === null ? 0 : Number(non2xx[1]));
  return {
    requests: Number(total[1]),
    seconds: Number(total[2]) * (TIME_UNITS[total[3]!] ?? 1),
    bytes: Number(total[4]) * (BINARY_UNITS[total[5]!] ?? 1),
    rps: Number(rps[1]),
    errors,
  };
}

/**
 * `parseTcpCounters` reads /proc/net/netstat and /proc/net/snmp text (pairs of lines: a header
 * `TcpExt: Name …`, then `TcpExt: value …`) into `TcpExt:Name` → value, for every group.
 */
export function parseTcpCounters(text: string): Map<string, number> {
  const counters = new Map<string, number>();
  const lines = text.split('\n');
  for (let i = 0; i + 1 < lines.length; i++) {
    const names = lines[i]!.trim().split(/\s+/);
    const values = lines[i + 1]!.trim().split(/\s+/);
    const group = names[0] ?? '';
    if (!/^\w+:$/.test(group) || values[0] !== group || !/^-?\d/.test(values[1] ?? '')) continue;
    for (let j = 1; j < names.length && j < values.length; j++)
      counters.set(`${group}${names[j]}`, Number(values[j]));
    i++;
  }
  return counters;
}

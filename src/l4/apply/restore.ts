/**
 * The one place the L4 kernel modes shell out (DESIGN §6): `iptables-restore --noflush`,
 * `ip6tables-restore`, `iptables -C/-I/-D` for the jumps from built-in chains, `nft -f -`,
 * `ipvsadm -R` and `ipvsadm-save -n`. Every tool is spawned with an argument vector (never a
 * shell), payloads go on stdin, and every run has a timeout. A failing tool's stderr is reported
 * verbatim; for the restore tools the line number it names is mapped back to the payload line, so
 * an error reads "line 12 (-A PORTICO-SVC-… …): iptables-restore: …".
 *
 * `Exec` is injectable: unit tests record commands (kube-proxy's fake exec), the namespace tests
 * wrap the real one with `ip netns exec <ns>`.
 */
import { spawn } from 'node:child_process';
import type { L4IpFamily } from '../model.js';
import { chainPrefix, nftTable } from '../naming.js';
import { type IptablesJump, jumpCommands } from '../render/iptables.js';

export interface ExecResult {
  /** Exit code; `null` when the process was killed (timeout) or could not start. */
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface ExecOptions {
  /** Written to the tool's stdin, then stdin is closed. */
  readonly input?: string;
  readonly timeoutMs?: number;
}

/** Runs `argv[0]` with the rest as arguments; resolves with the outcome, never rejects. */
export type Exec = (argv: readonly string[], options?: ExecOptions) => Promise<ExecResult>;

const defaultTimeoutMs = 30_000;
/**
 * Restoring or listing a large table is legitimately slow (iptables-restore with the nf_tables
 * backend takes seconds per ten thousand rules; see bench/RESULTS.md), so those get minutes.
 */
const bulkTimeoutMs = 300_000;

export const spawnExec: Exec = (argv, options = {}) =>
  new Promise((resolve) => {
    const [command, ...args] = argv;
    if (command === undefined) {
      resolve({ code: null, stdout: '', stderr: 'empty command' });
      return;
    }
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs ?? defaultTimeoutMs);
    child.stdout.on('data', (c: Buffer) => stdout.push(c));
    child.stderr.on('data', (c: Buffer) => stderr.push(c));
    // A tool that exits before reading all of stdin makes the write fail with EPIPE; its exit status says why.
    child.stdin.on('error', () => undefined);
    child.once('error', (err) => {
      clearTimeout(timer);
      resolve({ code: null, stdout: '', stderr: `${command}: ${err.message}` });
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      const err = Buffer.concat(stderr).toString();
      resolve({
        code: timedOut ? null : code,
        stdout: Buffer.concat(stdout).toString(),
        stderr: timedOut ? `${err}${command}: killed after ${options.timeoutMs ?? defaultTimeoutMs} ms` : err,
      });
    });
    child.stdin.end(options.input ?? '');
  });

/** Runs every command under `prefix`, e.g. `['ip', 'netns', 'exec', 'node1']` (tests, benchmarks). */
export function prefixedExec(exec: Exec, prefix: readonly string[]): Exec {
  return (argv, options) => exec([...prefix, ...argv], options);
}

/** A tool failed: its own words, and the payload line it blamed when it named one. */
export class L4ApplyError extends Error {
  readonly code = 'PORTICO_ERR_L4_APPLY';
  constructor(
    readonly argv: readonly string[],
    readonly exitCode: number | null,
    readonly stderr: string,
    /** 1-based line of the payload the tool blamed. */
    readonly line?: number,
    readonly lineText?: string,
  ) {
    const where = line === undefined ? '' : ` at payload line ${line} (${lineText ?? ''})`;
    super(`${argv.join(' ')} failed (exit ${exitCode ?? 'killed'})${where}: ${stderr.trim()}`);
    this.name = 'L4ApplyError';
  }
}

/**
 * The payload line a restore tool blamed. iptables-restore says `Error occurred at line: 7` or
 * `line 7 failed`; nft says `/dev/stdin:7:3-10: Error: …`.
 */
export function blamedLine(stderr: string): number | undefined {
  const m = /\bline:? (\d+)\b/.exec(stderr) ?? /^[^\s:]+:(\d+):\d+(?:-\d+)?: Error/m.exec(stderr);
  return m ? Number(m[1]) : undefined;
}

async function run(exec: Exec, argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  const result = await exec(argv, options);
  if (result.code !== 0) {
    const line = options.input === undefined ? undefined : blamedLine(result.stderr);
    const lineText = line === undefined ? undefined : options.input?.split('\n')[line - 1];
    throw new L4ApplyError(argv, result.code, result.stderr, line, lineText);
  }
  return result;
}

function iptablesTool(family: L4IpFamily): 'iptables' | 'ip6tables' {
  return family === 'IPv6' ? 'ip6tables' : 'iptables';
}

/** Applies an iptables-restore payload without touching chains it does not declare. */
export async function iptablesRestore(exec: Exec, family: L4IpFamily, payload: string): Promise<void> {
  if (payload === '') return;
  await run(exec, [`${iptablesTool(family)}-restore`, '-w', '--noflush'], {
    input: payload,
    timeoutMs: bulkTimeoutMs,
  });
}

/** Makes sure each jump exists once, inserting it at the top when missing (kube-proxy `EnsureRule`). */
export async function ensureJumps(
  exec: Exec,
  family: L4IpFamily,
  jumps: readonly IptablesJump[],
): Promise<void> {
  const tool = iptablesTool(family);
  for (const jump of jumps) {
    const { check, insert } = jumpCommands(jump);
    const present = await exec([tool, ...check], { timeoutMs: 10_000 });
    if (present.code !== 0) await run(exec, [tool, ...insert], { timeoutMs: 10_000 });
  }
}

/** Removes every copy of each jump (a crashed run could have left more than one). */
export async function removeJumps(
  exec: Exec,
  family: L4IpFamily,
  jumps: readonly IptablesJump[],
): Promise<void> {
  const tool = iptablesTool(family);
  for (const jump of jumps) {
    const { check } = jumpCommands(jump);
    const remove = check.map((arg) => (arg === '-C' ? '-D' : arg));
    // Bounded: a rule cannot be in a chain more than a handful of times unless something else adds it.
    for (let i = 0; i < 16; i++) {
      const present = await exec([tool, ...check], { timeoutMs: 10_000 });
      if (present.code !== 0) break;
      await run(exec, [tool, ...remove], { timeoutMs: 10_000 });
    }
  }
}

/** Chains of ours in one table, read from `iptables-save -t <table>` (the `:NAME` declarations). */
export async function listPorticoChains(
  exec: Exec,
  family: L4IpFamily,
  table: 'nat' | 'filter',
): Promise<Set<string>> {
  const { stdout } = await run(exec, [`${iptablesTool(family)}-save`, '-t', table], {
    timeoutMs: bulkTimeoutMs,
  });
  return porticoChainsIn(stdout);
}

export function porticoChainsIn(save: string): Set<string> {
  const chains = new Set<string>();
  for (const m of save.matchAll(/^:(\S+) /gm)) if (m[1]!.startsWith(chainPrefix)) chains.add(m[1]!);
  return chains;
}

/** The payload that flushes and deletes the given chains of ours, per table. */
export function deleteChainsPayload(chains: {
  nat: ReadonlySet<string>;
  filter: ReadonlySet<string>;
}): string {
  const section = (table: string, names: ReadonlySet<string>) => {
    const ours = [...names].filter((c) => c.startsWith(chainPrefix)).sort();
    if (ours.length === 0) return [];
    return [`*${table}`, ...ours.map((c) => `:${c} - [0:0]`), ...ours.map((c) => `-X ${c}`), 'COMMIT'];
  };
  const lines = [...section('filter', chains.filter), ...section('nat', chains.nat)];
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

/** Applies an nft script atomically (`nft -f -`: one transaction). */
export async function nftApply(exec: Exec, script: string): Promise<void> {
  if (script === '') return;
  await run(exec, ['nft', '-f', '-'], { input: script, timeoutMs: bulkTimeoutMs });
}

/** Chains in `table inet portico`, or `undefined` when the table does not exist. */
export async function nftListChains(exec: Exec): Promise<Set<string> | undefined> {
  const result = await exec(['nft', 'list', 'table', 'inet', nftTable], { timeoutMs: bulkTimeoutMs });
  if (result.code !== 0) {
    if (/No such file or directory|does not exist/i.test(result.stderr)) return undefined;
    throw new L4ApplyError(['nft', 'list', 'table', 'inet', nftTable], result.code, result.stderr);
  }
  return new Set([...result.stdout.matchAll(/^\s*chain (\S+) \{/gm)].map((m) => m[1]!));
}

/** Deletes `table inet portico` if present; `add` first so the transaction cannot fail on a missing table. */
export async function nftDeleteTable(exec: Exec): Promise<void> {
  await nftApply(exec, `add table inet ${nftTable}\ndelete table inet ${nftTable}\n`);
}

export async function ipvsSave(exec: Exec): Promise<string> {
  return (await run(exec, ['ipvsadm-save', '-n'], { timeoutMs: bulkTimeoutMs })).stdout;
}

/**
 * Applies ipvsadm commands (`-A`, `-a`, `-D`, …, one per line) in one `ipvsadm -R` run. Not the
 * `ipvsadm-restore` wrapper: Debian's runs `ipvsadm -C` first, which would wipe every virtual
 * server on the node (kube-proxy's included) and leave only the diff.
 */
export async function ipvsRestore(exec: Exec, commands: readonly string[]): Promise<void> {
  if (commands.length === 0) return;
  await run(exec, ['ipvsadm', '-R'], { input: `${commands.join('\n')}\n`, timeoutMs: bulkTimeoutMs });
}

/** `sysctl -w name=value` for the settings a mode depends on. */
export async function setSysctls(exec: Exec, sysctls: Readonly<Record<string, string>>): Promise<void> {
  for (const [name, value] of Object.entries(sysctls)) {
    await run(exec, ['sysctl', '-q', '-w', `${name}=${value}`], { timeoutMs: 10_000 });
  }
}

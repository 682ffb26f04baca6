/**
 * `portico cleanup` removes everything Portico's kernel L4 modes own in the network namespace it
 * runs in, and exits: kube-proxy's `--cleanup`. The rules outlive the process on purpose (a
 * rolling update must not black-hole traffic), so this is how a node is given back.
 *
 * Parts, each reported on its own so a missing tool or kernel feature for one does not stop the
 * others:
 * - iptables, IPv4 and IPv6: every jump from a built-in chain into a PORTICO-* chain (whichever
 *   mode or version put it there), then every PORTICO-* chain of the nat and filter tables, through
 *   `KernelL4.cleanup()`. A family whose tables the kernel lacks is skipped.
 * - nftables: `table inet portico`, through `KernelL4.cleanup()`.
 * - IPVS virtual servers: those on the node address (`--node-ip`), the same ownership rule the
 *   sync uses; without it they are listed as left, since a virtual server does not say who made
 *   it. Skipped where the kernel has no ip_vs.
 */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  type Exec,
  iptablesRestore,
  ipvsRestore,
  ipvsSave,
  L4ApplyError,
  nftListChains,
  porticoChainsIn,
  spawnExec,
} from '../l4/apply/restore.js';
import type { L4IpFamily } from '../l4/model.js';
import { chainPrefix, nftTable } from '../l4/naming.js';
import { diffIpvs, parseIpvsSave } from '../l4/render/ipvs.js';
import { createKernelL4 } from '../l4/sync.js';
import { parseNodeIp } from './flags.js';
import { EXIT_USAGE } from './run-files.js';

export const CLEANUP_HELP = `Usage: portico cleanup [--mode iptables|ipvs|nftables|all] [--node-ip A]

Removes everything Portico's kernel L4 modes own in the network namespace this process runs in
(with hostNetwork, the node's), and exits, as kube-proxy's --cleanup. Rules outlive Portico on
purpose; --cleanup-on-exit does the same when a serving process stops.

  --mode MODE   What to remove (default all):
                iptables  every PORTICO-* chain of the nat and filter tables, IPv4 and IPv6,
                          and the jumps into them from built-in chains;
                ipvs      the same chains (IPVS's companion rules) and the IPVS virtual servers
                          on --node-ip;
                nftables  table inet portico;
                all       all of the above.
  --node-ip A   The node address Portico's IPVS virtual servers listen on. Without it, virtual
                servers are reported as left: nothing marks one as Portico's but its address.

Each part is attempted even when another fails, and reported on stdout. A family whose tables the
kernel lacks, or a kernel without ip_vs, is skipped. With --mode all, a part whose tool is not
installed is skipped too; with a named mode it is an error.
Exit 0 when everything Portico owned is gone, 1 when a tool failed (its error on stderr),
2 on bad usage.
`;

export const CLEANUP_MODES = ['iptables', 'ipvs', 'nftables', 'all'] as const;
export type CleanupMode = (typeof CLEANUP_MODES)[number];

export interface CleanupOptions {
  readonly mode: CleanupMode;
  readonly nodeIp?: string;
}

export type CleanupCommand =
  | { readonly kind: 'help' }
  | { readonly kind: 'run'; readonly options: CleanupOptions };

/** Bad `portico cleanup` arguments; the message names the flag. */
export class CleanupUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CleanupUsageError';
  }
}

/** `parseCleanupArgs` reads the arguments after `cleanup`. */
export function parseCleanupArgs(argv: readonly string[]): CleanupCommand {
  let values: { mode?: string | undefined; 'node-ip'?: string | undefined; help?: boolean | undefined };
  try {
    values = parseArgs({
      args: [...argv],
      options: {
        mode: { type: 'string' },
        'node-ip': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    // node:util's parse errors are TypeErrors naming the option ("Unknown option '--x'").
    if (err instanceof TypeError) throw new CleanupUsageError(err.message);
    throw err;
  }
  if (values.help === true) return { kind: 'help' };
  const mode = values.mode ?? 'all';
  if (!(CLEANUP_MODES as readonly string[]).includes(mode))
    throw new CleanupUsageError(
      `--mode: must be one of ${CLEANUP_MODES.join(', ')}, not ${JSON.stringify(mode)}`,
    );
  const raw = values['node-ip'];
  let nodeIp: string | undefined;
  if (raw !== undefined) {
    try {
      nodeIp = parseNodeIp(raw);
    } catch (err) {
      throw new CleanupUsageError(`--node-ip: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return { kind: 'run', options: { mode: mode as CleanupMode, ...(nodeIp !== undefined ? { nodeIp } : {}) } };
}

/** One part's result: `removed` and `absent` are clean, `failed` makes the exit code 1. */
export interface CleanupStep {
  /** `iptables (IPv4)`, `ip6tables (IPv6)`, `nftables`, `ipvs`. */
  readonly part: string;
  readonly outcome: 'removed' | 'absent' | 'skipped' | 'left' | 'failed';
  readonly detail: string;
}

export interface CleanupDeps {
  /** Default: spawn the tools in this process's namespace. */
  readonly exec?: Exec;
  /** Whether the kernel has ip_vs; default: `/proc/net/ip_vs` exists (per namespace). */
  readonly ipvsAvailable?: () => boolean;
}

/**
 * The `iptables-restore --noflush` payload deleting every rule of a built-in (non-PORTICO) chain
 * that jumps or goes to a PORTICO-* chain, read from `iptables-save -t <table>` output. It catches
 * jumps whichever mode installed them (iptables and IPVS ensure different ones), so the chains
 * can then be deleted. Rule text is kept as saved: iptables-restore parses its own quoting.
 */
export function foreignJumpsPayload(saves: { readonly nat: string; readonly filter: string }): string {
  const section = (table: string, save: string): string[] => {
    const deletes: string[] = [];
    for (const m of save.matchAll(/^-A (\S+) (.*)$/gm)) {
      const [, chain, rule] = m as unknown as [string, string, string];
      if (chain.startsWith(chainPrefix)) continue;
      if (/(?:^| )-[jg] PORTICO-\S+(?: |$)/.test(rule)) deletes.push(`-D ${chain} ${rule}`);
    }
    return deletes.length === 0 ? [] : [`*${table}`, ...deletes, 'COMMIT'];
  };
  const lines = [...section('filter', saves.filter), ...section('nat', saves.nat)];
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

/** The tool is not installed: spawn's ENOENT, or `ip netns exec`'s words for it. */
function toolMissing(err: unknown): boolean {
  return (
    err instanceof L4ApplyError && /ENOENT|exec of .* failed: No such file or directory/.test(err.stderr)
  );
}

/**
 * The kernel (or the iptables build) has no such table for this family. Not a lack of privilege:
 * legacy iptables words both as "can't initialize … table", and only the first is a skip.
 */
function tableMissing(err: unknown): boolean {
  return (
    err instanceof L4ApplyError &&
    !/Permission denied|Operation not permitted/i.test(err.stderr) &&
    /table does not exist|Address family not supported|Protocol not supported/i.test(err.stderr)
  );
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function chainCount(n: number): string {
  return `${n} chain${n === 1 ? '' : 's'}`;
}

async function iptablesSave(exec: Exec, family: L4IpFamily, table: 'nat' | 'filter'): Promise<string> {
  const argv = [family === 'IPv6' ? 'ip6tables-save' : 'iptables-save', '-t', table];
  const result = await exec(argv, { timeoutMs: 300_000 });
  if (result.code !== 0) throw new L4ApplyError(argv, result.code, result.stderr);
  return result.stdout;
}

async function cleanIptablesFamily(
  exec: Exec,
  family: L4IpFamily,
  mode: 'iptables' | 'ipvs',
  part: string,
): Promise<CleanupStep> {
  let saves: { nat: string; filter: string };
  try {
    saves = {
      nat: await iptablesSave(exec, family, 'nat'),
      filter: await iptablesSave(exec, family, 'filter'),
    };
  } catch (err) {
    if (tableMissing(err))
      return { part, outcome: 'skipped', detail: `no ${family} tables here: ${message(err)}` };
    throw err;
  }
  const nat = porticoChainsIn(saves.nat);
  const filter = porticoChainsIn(saves.filter);
  const jumps = foreignJumpsPayload(saves);
  if (nat.size === 0 && filter.size === 0 && jumps === '')
    return { part, outcome: 'absent', detail: 'no PORTICO-* chain' };
  await iptablesRestore(exec, family, jumps);
  await createKernelL4(mode, { exec, ipFamily: family }).cleanup();
  const left = [...porticoChainsIn(await iptablesSave(exec, family, 'nat'))].concat([
    ...porticoChainsIn(await iptablesSave(exec, family, 'filter')),
  ]);
  if (left.length > 0) return { part, outcome: 'failed', detail: `still there: ${left.sort().join(' ')}` };
  return {
    part,
    outcome: 'removed',
    detail: `removed ${chainCount(nat.size + filter.size)} (nat ${nat.size}, filter ${filter.size})`,
  };
}

async function cleanNftables(exec: Exec): Promise<CleanupStep> {
  const part = 'nftables';
  const chains = await nftListChains(exec);
  if (chains === undefined) return { part, outcome: 'absent', detail: `no table inet ${nftTable}` };
  await createKernelL4('nftables', { exec }).cleanup();
  if ((await nftListChains(exec)) !== undefined)
    return { part, outcome: 'failed', detail: `table inet ${nftTable} is still there` };
  return { part, outcome: 'removed', detail: `removed table inet ${nftTable} (${chainCount(chains.size)})` };
}

async function cleanIpvs(exec: Exec, nodeIp: string | undefined, available: boolean): Promise<CleanupStep> {
  const part = 'ipvs';
  if (!available)
    return { part, outcome: 'skipped', detail: 'the kernel has no ip_vs (/proc/net/ip_vs is absent)' };
  const live = parseIpvsSave(await ipvsSave(exec)).virtualServers;
  if (nodeIp === undefined) {
    return live.length === 0
      ? { part, outcome: 'absent', detail: 'no virtual server' }
      : {
          part,
          outcome: 'left',
          detail: `left ${live.length} virtual server(s) (${live.map((vs) => vs.address).join(' ')}): pass --node-ip to remove those on the node address`,
        };
  }
  // An empty desired table: the diff deletes every virtual server on the node address, nothing else.
  const commands = diffIpvs(live, [], { nodeIp });
  if (commands.length === 0) return { part, outcome: 'absent', detail: `no virtual server on ${nodeIp}` };
  await ipvsRestore(exec, commands);
  const others = live.length - commands.length;
  return {
    part,
    outcome: 'removed',
    detail: `removed ${commands.length} virtual server(s) on ${nodeIp}${others > 0 ? `; ${others} on other addresses left alone` : ''}`,
  };
}

/** `cleanupKernelL4` removes what `options.mode` covers; it never throws, every part is reported. */
export async function cleanupKernelL4(
  options: CleanupOptions,
  deps: CleanupDeps = {},
): Promise<CleanupStep[]> {
  const exec = deps.exec ?? spawnExec;
  const ipvsAvailable = deps.ipvsAvailable ?? (() => existsSync('/proc/net/ip_vs'));
  const { mode } = options;
  const guarded = async (part: string, run: () => Promise<CleanupStep>): Promise<CleanupStep> => {
    try {
      return await run();
    } catch (err) {
      // Asked for everything, a part whose tool is not installed has nothing this host could have made.
      if (mode === 'all' && toolMissing(err))
        return { part, outcome: 'skipped', detail: `not installed: ${message(err)}` };
      return { part, outcome: 'failed', detail: message(err) };
    }
  };
  const steps: CleanupStep[] = [];
  if (mode !== 'nftables') {
    for (const [family, part] of [
      ['IPv4', 'iptables (IPv4)'],
      ['IPv6', 'ip6tables (IPv6)'],
    ] as const) {
      steps.push(
        await guarded(part, () =>
          cleanIptablesFamily(exec, family, mode === 'ipvs' ? 'ipvs' : 'iptables', part),
        ),
      );
    }
  }
  if (mode === 'ipvs' || mode === 'all') {
    const available = ipvsAvailable();
    steps.push(await guarded('ipvs', () => cleanIpvs(exec, options.nodeIp, available)));
  }
  if (mode === 'nftables' || mode === 'all') steps.push(await guarded('nftables', () => cleanNftables(exec)));
  return steps;
}

export interface CleanupIo extends CleanupDeps {
  readonly stdout?: (text: string) => void;
  readonly stderr?: (text: string) => void;
}

/** `runCleanup` runs `portico cleanup …` and resolves with the exit code. */
export async function runCleanup(argv: readonly string[], io: CleanupIo = {}): Promise<number> {
  const out = io.stdout ?? ((text: string) => void process.stdout.write(text));
  const err = io.stderr ?? ((text: string) => void process.stderr.write(text));
  let command: CleanupCommand;
  try {
    command = parseCleanupArgs(argv);
  } catch (e) {
    if (!(e instanceof CleanupUsageError)) throw e;
    err(`portico cleanup: ${e.message}\nRun 'portico cleanup --help' for usage.\n`);
    return EXIT_USAGE;
  }
  if (command.kind === 'help') {
    out(CLEANUP_HELP);
    return 0;
  }
  const steps = await cleanupKernelL4(command.options, io);
  const failed = steps.filter((s) => s.outcome === 'failed');
  const reported = steps.filter((s) => s.outcome !== 'failed');
  if (reported.length > 0)
    out(
      reported.map((s) => `${s.part}: ${s.outcome === 'skipped' ? 'skipped: ' : ''}${s.detail}\n`).join(''),
    );
  if (failed.length > 0) err(failed.map((s) => `portico cleanup: ${s.part}: ${s.detail}\n`).join(''));
  return failed.length > 0 ? 1 : 0;
}

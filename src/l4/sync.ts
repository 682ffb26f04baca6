/**
 * `KernelL4` keeps one network namespace's kernel rules equal to an L4 state: kube-proxy's
 * `syncProxyRules` around the pure renderers. Per sync it decides full or partial (partial: only
 * the chains of changed services; full: the first sync, which adopts whatever Portico left
 * before, every sync after a failure, and every `fullSyncPeriodMs`), skips the apply when the
 * rendered payload is what the kernel already has, deletes stale chains (ours only), and clears
 * stale UDP conntrack entries in the same sync. `cleanup()` removes everything Portico owns.
 *
 * Rules stay when the process exits (a rolling update must not black-hole traffic); the caller
 * calls `cleanup()` on exit only when asked to (`--cleanup-on-exit`).
 */

import type { Clock } from '../util/clock.js';
import { deleteStaleUdpFlows, staleUdpFlows } from './apply/conntrack.js';
import {
  deleteChainsPayload,
  type Exec,
  ensureJumps,
  iptablesRestore,
  ipvsRestore,
  ipvsSave,
  listPorticoChains,
  nftApply,
  nftDeleteTable,
  removeJumps,
  setSysctls,
  spawnExec,
} from './apply/restore.js';
import {
  changedServices,
  hostPort,
  type L4IpFamily,
  type L4Rejection,
  type L4State,
  nodeSettingsChanged,
} from './model.js';
import { iptablesJumps, renderIptables } from './render/iptables.js';
import { diffIpvs, ipvsJumps, parseIpvsSave, renderIpvs } from './render/ipvs.js';
import { renderNftables } from './render/nftables.js';
import { BoundedFrequencyRunner } from './runner.js';

export type KernelMode = 'iptables' | 'nftables' | 'ipvs';

export interface SyncOutcome {
  readonly kind: 'full' | 'partial' | 'skipped';
  /** Services the renderer left out, with the field at fault. */
  readonly rejected: readonly L4Rejection[];
  /** Set when the apply failed; the next sync is then full. */
  readonly error?: Error;
  /** conntrack deletions that failed (not fatal: a stale flow lasts until it expires). */
  readonly conntrackFailures: number;
  /** Bytes of payload handed to the tools (0 when skipped). */
  readonly payloadBytes: number;
}

export interface KernelL4 {
  readonly mode: KernelMode;
  sync(state: L4State): Promise<SyncOutcome>;
  /** Removes every rule, chain, table and virtual server Portico owns in this namespace. */
  cleanup(): Promise<void>;
}

export interface KernelL4Options {
  readonly exec?: Exec;
  /** Default 1 h, as kube-proxy's `--iptables-sync-period` floor for full syncs. */
  readonly fullSyncPeriodMs?: number;
  /** Monotonic milliseconds; injectable for tests. */
  readonly now?: () => number;
  /**
   * The family `cleanup()` clears when this instance has not synced yet (`portico cleanup` in a
   * fresh process). iptables and IPVS keep one family per instance, as kube-proxy's proxiers.
   * Default IPv4; a sync uses its state's family.
   */
  readonly ipFamily?: L4IpFamily;
}

const hourMs = 3_600_000;

/** Bookkeeping shared by the modes: when to do a full sync, what was applied last. */
class SyncBook {
  needFull = true;
  lastFullAt = Number.NEGATIVE_INFINITY;
  applied: L4State | undefined;
  /** IPVS only: the companion iptables payload last applied. */
  lastCompanion: string | undefined;
  constructor(
    private readonly periodMs: number,
    private readonly now: () => number,
  ) {}
  /**
   * A node-wide setting (node address, family, masquerade mark, port redirects) is written into
   * rules no partial sync rewrites (the top-level match, the MARK rules, the redirect chain), so a
   * change there is a full sync like a failure.
   */
  fullDue(state: L4State): boolean {
    return (
      this.needFull ||
      this.now() - this.lastFullAt >= this.periodMs ||
      (this.applied !== undefined && nodeSettingsChanged(this.applied, state))
    );
  }
  succeeded(state: L4State, full: boolean): void {
    this.applied = state;
    this.needFull = false;
    if (full) this.lastFullAt = this.now();
  }
  failed(): void {
    this.needFull = true;
    this.lastCompanion = undefined;
  }
}

function outcome(
  kind: SyncOutcome['kind'],
  rejected: readonly L4Rejection[],
  extra: Partial<Pick<SyncOutcome, 'error' | 'conntrackFailures' | 'payloadBytes'>> = {},
): SyncOutcome {
  return { kind, rejected, conntrackFailures: 0, payloadBytes: 0, ...extra };
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

export function createKernelL4(mode: KernelMode, options: KernelL4Options = {}): KernelL4 {
  const exec = options.exec ?? spawnExec;
  const book = new SyncBook(options.fullSyncPeriodMs ?? hourMs, options.now ?? (() => performance.now()));
  switch (mode) {
    case 'iptables':
      return iptablesKernel(exec, book, options.ipFamily ?? 'IPv4');
    case 'nftables':
      return nftablesKernel(exec, book);
    case 'ipvs':
      return ipvsKernel(exec, book, options.ipFamily ?? 'IPv4');
  }
}

function iptablesKernel(exec: Exec, book: SyncBook, cleanupFamily: L4IpFamily): KernelL4 {
  // Chains of ours in the nat table as far as we know; re-read from the kernel on full syncs.
  let existing: ReadonlySet<string> | undefined;
  let family: L4State['ipFamily'];
  return {
    mode: 'iptables',
    async sync(state) {
      family = state.ipFamily ?? 'IPv4';
      const full = book.fullDue(state);
      try {
        if (full) existing = await listPorticoChains(exec, family, 'nat');
        const render = renderIptables(state, {
          ...(full || !book.applied ? {} : { changedServices: changedServices(book.applied, state) }),
          ...(existing ? { existingChains: existing } : {}),
        });
        // A full sync always applies (the first adopts, after a failure or the period it repairs drift).
        if (!full && render.payload === '') {
          book.succeeded(state, false);
          return outcome('skipped', render.rejected);
        }
        await iptablesRestore(exec, family, render.payload);
        if (full) await ensureJumps(exec, family, render.jumps);
        existing = render.activeChains;
        const failures = await deleteStaleUdpFlows(exec, staleFlowsSince(book.applied, state));
        book.succeeded(state, full);
        return outcome(full ? 'full' : 'partial', render.rejected, {
          conntrackFailures: failures.length,
          payloadBytes: Buffer.byteLength(render.payload),
        });
      } catch (err) {
        book.failed();
        return outcome(full ? 'full' : 'partial', [], { error: asError(err) });
      }
    },
    async cleanup() {
      const fam = family ?? cleanupFamily;
      await removeJumps(exec, fam, iptablesJumps());
      const nat = await listPorticoChains(exec, fam, 'nat');
      const filter = await listPorticoChains(exec, fam, 'filter');
      await iptablesRestore(exec, fam, deleteChainsPayload({ nat, filter }));
      existing = undefined;
      book.failed();
      book.applied = undefined;
    },
  };
}

function nftablesKernel(exec: Exec, book: SyncBook): KernelL4 {
  let existing: ReadonlySet<string> | undefined;
  return {
    mode: 'nftables',
    async sync(state) {
      const full = book.fullDue(state);
      try {
        // A full script replaces the whole table in one transaction, whatever it held: nothing to
        // read first (listing a 5,000-service table costs more than the partial sync itself).
        // Partial syncs follow a successful sync, whose chains `existing` remembers.
        const render = renderNftables(state, {
          ...(full || !book.applied
            ? {}
            : { changedServices: changedServices(book.applied, state), previous: book.applied }),
          ...(!full && existing ? { existingChains: existing } : {}),
        });
        if (!full && render.script === '') {
          book.succeeded(state, false);
          return outcome('skipped', render.rejected);
        }
        await nftApply(exec, render.script);
        existing = render.activeChains;
        const failures = await deleteStaleUdpFlows(exec, staleFlowsSince(book.applied, state));
        book.succeeded(state, full);
        return outcome(full ? 'full' : 'partial', render.rejected, {
          conntrackFailures: failures.length,
          payloadBytes: Buffer.byteLength(render.script),
        });
      } catch (err) {
        book.failed();
        return outcome(full ? 'full' : 'partial', [], { error: asError(err) });
      }
    },
    async cleanup() {
      await nftDeleteTable(exec);
      existing = undefined;
      book.failed();
      book.applied = undefined;
    },
  };
}

/**
 * IPVS: the virtual-server table is diffed against `ipvsadm-save -n` every sync (the kernel table
 * is the truth, as kube-proxy's IPVS proxier reads it back), and the companion iptables rules are
 * restored whole (they are a handful).
 */
function ipvsKernel(exec: Exec, book: SyncBook, cleanupFamily: L4IpFamily): KernelL4 {
  let nodeIp: string | undefined;
  let family: L4State['ipFamily'];
  return {
    mode: 'ipvs',
    async sync(state) {
      const full = book.fullDue(state);
      // Virtual servers on an address Portico used before are still ours to delete.
      const previousNodeIp = book.applied?.nodeIp ?? nodeIp;
      nodeIp = state.nodeIp;
      family = state.ipFamily ?? 'IPv4';
      try {
        // A full sync re-reads our nat chains, so a redirects chain no longer wanted is deleted.
        const existing = full ? await listPorticoChains(exec, family, 'nat') : undefined;
        const render = renderIpvs(state, existing ? { existingChains: existing } : {});
        const live = parseIpvsSave(await ipvsSave(exec)).virtualServers;
        const owned = [previousNodeIp, nodeIp].filter((ip) => ip !== undefined);
        const commands = diffIpvs(
          live,
          render.virtualServers,
          owned.length > 0 ? { owns: (vs) => owned.some((ip) => onAddress(vs.address, ip)) } : {},
        );
        const companionUnchanged = !full && render.companionPayload === book.lastCompanion;
        if (commands.length === 0 && companionUnchanged) {
          book.succeeded(state, false);
          return outcome('skipped', render.rejected);
        }
        if (full) await setSysctls(exec, render.sysctls);
        if (!companionUnchanged) {
          await iptablesRestore(exec, family, render.companionPayload);
          await ensureJumps(exec, family, render.companionJumps);
        }
        await ipvsRestore(exec, commands);
        const failures = await deleteStaleUdpFlows(exec, staleFlowsSince(book.applied, state));
        book.succeeded(state, full);
        book.lastCompanion = render.companionPayload;
        return outcome(full ? 'full' : 'partial', render.rejected, {
          conntrackFailures: failures.length,
          payloadBytes: Buffer.byteLength(render.companionPayload) + commands.join('\n').length,
        });
      } catch (err) {
        book.failed();
        return outcome(full ? 'full' : 'partial', [], { error: asError(err) });
      }
    },
    async cleanup() {
      const fam = family ?? cleanupFamily;
      if (nodeIp !== undefined) {
        const live = parseIpvsSave(await ipvsSave(exec)).virtualServers;
        await ipvsRestore(exec, diffIpvs(live, [], { nodeIp }));
      }
      await removeJumps(exec, fam, ipvsJumps());
      const nat = await listPorticoChains(exec, fam, 'nat');
      const filter = await listPorticoChains(exec, fam, 'filter');
      await iptablesRestore(exec, fam, deleteChainsPayload({ nat, filter }));
      book.failed();
      book.applied = undefined;
    },
  };
}

export interface KernelL4LoopOptions {
  readonly kernel: KernelL4;
  /** The desired state, read at each run (the latest snapshot wins; intermediate ones are never applied). */
  readonly state: () => L4State;
  /** Default 1 s (kube-proxy's `--iptables-min-sync-period`). */
  readonly minIntervalMs?: number;
  /** Default 30 s (kube-proxy's `--iptables-sync-period`); an unchanged state makes it a no-op. */
  readonly maxIntervalMs?: number;
  readonly retryInitialMs?: number;
  readonly clock?: Clock;
  /** Remove everything Portico owns on `stop()` (`--cleanup-on-exit`); off by default. */
  readonly cleanupOnExit?: boolean;
  readonly onSync?: (outcome: SyncOutcome) => void;
}

export interface KernelL4Loop {
  /** Something changed: sync as soon as the minimum interval allows. */
  request(): void;
  /** Stops syncing, waits for a sync in flight, and cleans up if asked to. Rules stay otherwise. */
  stop(): Promise<void>;
}

/** The sync loop: a `KernelL4` driven by a bounded-frequency runner; the first run adopts with a full sync. */
export function startKernelL4Loop(options: KernelL4LoopOptions): KernelL4Loop {
  let inFlight: Promise<SyncOutcome> | undefined;
  const runner = new BoundedFrequencyRunner(
    async () => {
      inFlight = options.kernel.sync(options.state());
      const result = await inFlight;
      inFlight = undefined;
      options.onSync?.(result);
      return result.error === undefined;
    },
    {
      minIntervalMs: options.minIntervalMs ?? 1_000,
      maxIntervalMs: options.maxIntervalMs ?? 30_000,
      ...(options.retryInitialMs !== undefined ? { retryInitialMs: options.retryInitialMs } : {}),
      ...(options.clock ? { clock: options.clock } : {}),
    },
  );
  runner.start();
  return {
    request: () => runner.run(),
    async stop() {
      runner.stop();
      await inFlight;
      if (options.cleanupOnExit) await options.kernel.cleanup();
    },
  };
}

/** `ip:port` (IPv6 bracketed, as ipvsadm prints it) is on `ip`. */
function onAddress(address: string, ip: string): boolean {
  return address.startsWith(hostPort(ip, 1).slice(0, -1));
}

/**
 * The first sync of a process has no previous state: the rules it adopts were already steering
 * flows, so it leaves conntrack alone rather than cut every live UDP session at a restart.
 */
function staleFlowsSince(previous: L4State | undefined, state: L4State) {
  return previous === undefined ? [] : staleUdpFlows(previous, state);
}

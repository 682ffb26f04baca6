/**
 * `l4-sync` measures the apply half of the L4 kernel modes in a throwaway network namespace:
 * for 10, 100, 1,000 and 5,000 services × 10 endpoints, the render time and the whole sync time
 * (render + the tools: iptables-save/iptables-restore/jumps, or nft list/nft -f) of a full sync,
 * iptables vs nftables (IPVS: render only, this kernel may lack ip_vs), and the time to apply one
 * endpoint change at each size (a partial sync, median of a few). Everything runs through
 * `KernelL4` with its tools under `ip netns exec`; the namespace is deleted at the end.
 *
 * Run (root): `npx tsx bench/l4-sync.ts [--no-write] [--modes nftables] [--sizes 5000]`. Bounded:
 * well under 5 minutes here. Writes the `## L4 rule sync (issue 7)` section of bench/RESULTS.md,
 * only after a run of every mode and size (a subset prints its figures and writes nothing).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { prefixedExec, spawnExec } from '../src/l4/apply/restore.js';
import { changedServices, type L4Service, type L4State } from '../src/l4/model.js';
import { renderIptables } from '../src/l4/render/iptables.js';
import { renderIpvs } from '../src/l4/render/ipvs.js';
import { renderNftables } from '../src/l4/render/nftables.js';
import { createKernelL4, type KernelMode } from '../src/l4/sync.js';
import { ep, largeState } from '../test/support/l4-fixtures.js';
import { writeSection } from './lib/results.js';

const ALL_SIZES = [10, 100, 1_000, 5_000] as const;
const ALL_MODES = ['iptables', 'nftables'] as const;

function listFlag(flag: string): string[] | undefined {
  const index = process.argv.indexOf(flag);
  return index === -1 ? undefined : (process.argv[index + 1] ?? '').split(',');
}
const SIZES = ALL_SIZES.filter((size) => listFlag('--sizes')?.includes(String(size)) ?? true);
const MODES = ALL_MODES.filter((mode) => listFlag('--modes')?.includes(mode) ?? true);
const subset = SIZES.length < ALL_SIZES.length || MODES.length < ALL_MODES.length;
const ENDPOINTS = 10;
const CHANGE_ROUNDS = 5;
const deadline = Date.now() + 4.5 * 60_000;
const loadAtStart = os.loadavg();

function version(argv: readonly string[]): string {
  try {
    return execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8' }).split('\n')[0]!.trim();
  } catch {
    return 'unknown';
  }
}

function timed<T>(fn: () => T): { value: T; ms: number } {
  const start = performance.now();
  const value = fn();
  return { value, ms: performance.now() - start };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/**
 * The state with the first endpoint of service `index` replaced by `address`. Every service is a
 * new object, as the translation builds them on every snapshot: what the renderers and
 * `changedServices` remember by identity is then only what the previous sync computed.
 */
function withEndpoint(state: L4State, index: number, address: string): L4State {
  const services = state.services.map(
    (s, j): L4Service =>
      j === index ? { ...s, endpoints: [ep(address, 8080), ...s.endpoints.slice(1)] } : { ...s },
  );
  return { ...state, services };
}

/** The same state as new objects: timing a step alone then costs what it cost inside the sync. */
function copyOf(state: L4State): L4State {
  return { ...state, services: state.services.map((s) => ({ ...s })) };
}

interface Row {
  size: number;
  mode: KernelMode;
  renderMs: number;
  fullSyncMs: number;
  changeMs: number;
  changeKind: string;
  /** nftables: `nft -c -f` of one rule against the full table (no commit), median of 3. */
  nftFloorMs: number;
  /** The render half of the change, median. */
  changeRenderMs: number;
  /** `changedServices(previous, current)`, which KernelL4.sync computes before rendering, median. */
  changeCompareMs: number;
  changeBytes: number;
  /** CPU time (user + system) of this process during the change's sync, median: the part load cannot stretch. */
  changeCpuMs: number;
  rules: number;
}

const ns = `pl4-bench-${process.pid.toString(36)}${randomBytes(2).toString('hex')}`;
execFileSync('ip', ['netns', 'add', ns]);
// Each tool run is capped so the whole bench stays bounded: a sync that needs longer is reported as such.
const TOOL_CAP_MS = 90_000;
const exec = prefixedExec(
  (argv, options) =>
    spawnExec(argv, { ...options, timeoutMs: Math.min(options?.timeoutMs ?? TOOL_CAP_MS, TOOL_CAP_MS) }),
  ['ip', 'netns', 'exec', ns],
);
const rows: Row[] = [];
const ipvsRender: { size: number; ms: number; virtualServers: number }[] = [];
try {
  for (const size of SIZES) {
    const state = largeState(size, ENDPOINTS);
    ipvsRender.push({
      size,
      ms: median([1, 2, 3].map(() => timed(() => renderIpvs(state)).ms)),
      virtualServers: renderIpvs(state).stats.virtualServers,
    });
    for (const mode of MODES) {
      if (Date.now() > deadline) throw new Error('bench ran past its 4.5 minute budget');
      const render = timed(() => (mode === 'iptables' ? renderIptables(state) : renderNftables(state)));
      const rules =
        'natRulesTotal' in render.value.stats
          ? render.value.stats.natRulesTotal + render.value.stats.filterRulesTotal
          : render.value.stats.rulesTotal;
      const kernel = createKernelL4(mode, { exec });
      const fullStart = performance.now();
      const first = await kernel.sync(state);
      const fullSyncMs = performance.now() - fullStart;
      if (first.error) {
        if (!/killed after/.test(first.error.message)) throw first.error;
        // Over the cap: the figure is a lower bound, and there is nothing to change an endpoint in.
        console.log(`${mode} ${size} services: full sync exceeded ${TOOL_CAP_MS / 1000} s, killed`);
        await kernel.cleanup();
        rows.push({
          size,
          mode,
          renderMs: render.ms,
          nftFloorMs: Number.NaN,
          fullSyncMs: Number.POSITIVE_INFINITY,
          changeMs: Number.NaN,
          changeKind: '',
          changeRenderMs: Number.NaN,
          changeCompareMs: Number.NaN,
          changeBytes: Number.NaN,
          changeCpuMs: Number.NaN,
          rules,
        });
        continue;
      }
      const changes: number[] = [];
      const changeRenders: number[] = [];
      const changeCompares: number[] = [];
      const changeCpu: number[] = [];
      const changeBytes: number[] = [];
      let changeKind = '';
      let current = state;
      const middle = Math.floor(size / 2) + 1; // a TCP service (every fifth is UDP)
      for (let round = 0; round < CHANGE_ROUNDS; round++) {
        const previous = current;
        current = withEndpoint(current, middle, `10.250.0.${round + 1}`);
        const cpuBefore = process.cpuUsage();
        const start = performance.now();
        const result = await kernel.sync(current);
        changes.push(performance.now() - start);
        const cpu = process.cpuUsage(cpuBefore);
        changeCpu.push((cpu.user + cpu.system) / 1000);
        if (result.error) throw result.error;
        changeKind = result.kind;
        changeBytes.push(result.payloadBytes);
        // The render half of the same partial sync, timed alone (the rest is the tools: nft -f or iptables-restore).
        // A copy of the state: the sync just remembered what it computed for this one; in the sync
        // only the previous state's part was remembered, so time that.
        const fresh = copyOf(current);
        const compared = timed(() => changedServices(previous, fresh));
        const changed = compared.value;
        changeCompares.push(compared.ms);
        changeRenders.push(
          timed(() =>
            mode === 'iptables'
              ? renderIptables(fresh, { changedServices: changed })
              : renderNftables(fresh, { changedServices: changed, previous }),
          ).ms,
        );
      }
      // nft's fixed cost at this table size: a check-only run (`-c`, no commit) of a one-rule script
      // still loads every chain of the table into nft's cache first.
      const floors: number[] = [];
      if (mode === 'nftables') {
        for (let round = 0; round < 3; round++) {
          const start = performance.now();
          await exec(['nft', '-c', '-f', '-'], { input: 'add rule inet portico reject-chain counter\n' });
          floors.push(performance.now() - start);
        }
      }
      await kernel.cleanup();
      rows.push({
        size,
        mode,
        renderMs: render.ms,
        nftFloorMs: median(floors),
        fullSyncMs,
        changeMs: median(changes),
        changeKind,
        changeRenderMs: median(changeRenders),
        changeCompareMs: median(changeCompares),
        changeCpuMs: median(changeCpu),
        changeBytes: median(changeBytes),
        rules,
      });
      console.log(
        `${mode} ${size} services: render ${render.ms.toFixed(0)} ms, full sync ${fullSyncMs.toFixed(0)} ms, one endpoint change ${median(changes).toFixed(0)} ms (${changeKind}; its render ${median(changeRenders).toFixed(1)} ms, payload ${median(changeBytes)} bytes, this process's CPU ${median(changeCpu).toFixed(0)} ms), ${rules} rules`,
      );
    }
  }
} finally {
  execFileSync('ip', ['netns', 'delete', ns]);
}

const ms = (v: number) =>
  v === Number.POSITIVE_INFINITY
    ? `> ${TOOL_CAP_MS.toLocaleString('en')} (killed at the cap)`
    : Number.isNaN(v)
      ? 'n/a'
      : v < 10
        ? v.toFixed(1)
        : v.toFixed(0);
const table = [
  '| services × 10 endpoints | mode | rules in the kernel | render ms | full sync ms (render + apply) | one endpoint change ms (partial sync, median of 5) |',
  '|---:|---|---:|---:|---:|---:|',
  ...rows.map(
    (r) =>
      `| ${r.size.toLocaleString('en')} | ${r.mode} | ${r.rules.toLocaleString('en')} | ${ms(r.renderMs)} | ${ms(r.fullSyncMs)} | ${ms(r.changeMs)} |`,
  ),
];
const ipvsTable = [
  '| services × 10 endpoints | IPVS render ms | virtual servers |',
  '|---:|---:|---:|',
  ...ipvsRender.map(
    (r) => `| ${r.size.toLocaleString('en')} | ${ms(r.ms)} | ${r.virtualServers.toLocaleString('en')} |`,
  ),
];
const nft5000 = rows.find((r) => r.mode === 'nftables' && r.size === 5_000);
const ipt5000 = rows.find((r) => r.mode === 'iptables' && r.size === 5_000);
const target =
  nft5000 === undefined
    ? 'not measured'
    : `${ms(nft5000.changeMs)} ms with nftables at 5,000 services: ${nft5000.changeMs < 200 ? 'meets' : 'MISSES'} the < 200 ms target`;

const nftBreakdown =
  nft5000 === undefined
    ? 'not measured.'
    : `the partial script is ${nft5000.changeBytes.toLocaleString('en')} bytes (flush the service's
chain, write its two rules). Of the ${ms(nft5000.changeMs)} ms, finding the changed services (\`changedServices\`,
comparing 5,000 services) takes ${ms(nft5000.changeCompareMs)} ms and rendering (checking the
state, diffing the map elements against the previous state, writing the one service's chain)
${ms(nft5000.changeRenderMs)} ms, timed alone on the same states (CPU time of this process for the whole sync:
${ms(nft5000.changeCpuMs)} ms); the rest, about
${ms(nft5000.changeMs - nft5000.changeCompareMs - nft5000.changeRenderMs)} ms, is \`nft -f\` with the
\`ip netns exec\` around it, plus the rest of \`KernelL4.sync\` (UDP conntrack bookkeeping, garbage
collection of the previous states). nft's floor is fixed by the table, not the script: \`nft -c -f\`
of a one-rule script (parse and check, no commit) takes ${ms(nft5000.nftFloorMs)} ms here, because
nft (this version) loads every chain of the table into its cache before it evaluates an \`add rule\`.
That is why the layout changed: kube-proxy's has one chain per endpoint (${(5_000 * (ENDPOINTS + 1)).toLocaleString('en')}
per-service chains at 5,000 × 10), for which the same check took 211 ms and one endpoint change
398 ms (2026-12-02, main at b791d77, load average 1.1; 601 ms before partial syncs stopped
refilling the verdict maps). Portico's layout keeps one chain per service: off-node endpoints are DNATed by one
\`dnat ip to numgen random mod N map { i : address . port }\` rule after the masquerade mark, and
only node-local endpoints keep a chain of their own (their hairpin check depends on the endpoint
picked), so 5,000 × 10 off-node endpoints are 5,000 chains and 10,000 rules.`;
const section = `## L4 rule sync (issue 7)

Command: \`sudo npx tsx bench/l4-sync.ts\` (its own network namespace, deleted afterwards; the
host's rules are not touched). Machine: ${os.cpus()[0]?.model.trim() ?? 'unknown'} × ${os.cpus().length},
${os.type()} ${os.release()}, node ${process.version}, ${version(['iptables', '--version'])},
${version(['nft', '--version'])}; a 2-core machine shared with other jobs, so single figures move by
tens of percent. Measured ${new Date().toISOString().slice(0, 10)}.

Every figure goes through \`KernelL4.sync\` (src/l4/sync.ts) and the real tools. "Full sync" is the
first sync into the empty namespace (\`iptables-save -t nat\` to adopt, one
\`iptables-restore --noflush\`, five \`iptables -C\`/\`-I\` for the jumps; or one
\`nft -f\` transaction that replaces the table, read by nothing first). "One endpoint change" is the partial sync after one endpoint of one TCP
service is replaced: iptables rewrites that service's chains plus PORTICO-NODEPORTS (one rule per
service); nftables flushes and rewrites that service's one chain (mark, then DNAT through a
\`numgen\` map over the endpoints) and touches no verdict-map element (the service keeps its chain
name and port; as in kube-proxy's nftables mode only elements that differ are written, never a map
refill).

${table.join('\n')}

IPVS (this kernel has no \`ip_vs\`, so only the rendering is measured):

${ipvsTable.join('\n')}

One endpoint change: ${target}${ipt5000 ? `; iptables ${ms(ipt5000.changeMs)} ms` : ''}. Load average
at the start of this run: ${loadAtStart.map((v) => v.toFixed(1)).join(', ')} (other jobs share the machine).

Where the nftables change goes at 5,000 services: ${nftBreakdown}

kube-proxy's lesson, reproduced: in iptables mode the kernel holds a linear list that grows with
services × endpoints (${ipt5000 ? ipt5000.rules.toLocaleString('en') : '…'} rules at 5,000 × 10), and every
change goes through \`iptables-restore\`, which with the nf_tables backend has to parse and
commit whole chains, so even a partial sync costs in proportion to the chains it rewrites and the
top-level chain it must always rewrite. nftables keeps the per-packet lookup at one hash
(\`meta l4proto . th dport vmap\`) and a partial sync is a small transaction whose script stays
the same size at every table size (${rows
  .filter((r) => r.mode === 'nftables')
  .map((r) => r.changeBytes.toLocaleString('en'))
  .join(', ')} bytes here) — user space < iptables < IPVS/nftables at scale, as kube-proxy
found. What still grows with the table is nft's own start-up (its chain cache, above) and, in
Portico, comparing and checking the whole state (\`changedServices\`, \`checkServices\`: 5,000
services, 50,000 endpoints) on every sync. ${
  nft5000 === undefined
    ? ''
    : nft5000.changeMs < 200
      ? 'With one chain per service the sum stays under the 200 ms budget at 5,000 services.'
      : `On this run the sum is over the 200 ms budget: with the load average above the core count every
process here gets a fraction of a core, and each part stretches with it (by hand on the same machine, a
one-service change script cost nft about 0.01 s of CPU time and 0.06-0.13 s of wall time against a
5,000-chain table, and 0.26 s of CPU, 0.56 s wall, against kube-proxy's 55,000-chain layout).`
}

nft's fixed cost (\`nft -c -f\` of one rule, median of 3) by size: ${rows
  .filter((r) => r.mode === 'nftables')
  .map((r) => `${r.size.toLocaleString('en')}: ${ms(r.nftFloorMs)} ms`)
  .join('; ')}.
`;

console.log(`\n${section}`);
if (subset) {
  console.log('a subset of modes or sizes: bench/RESULTS.md not written');
} else if (!process.argv.includes('--no-write')) {
  writeSection(fileURLToPath(new URL('RESULTS.md', import.meta.url)), '## L4 rule sync (issue 7)', section);
  console.log('wrote bench/RESULTS.md');
}

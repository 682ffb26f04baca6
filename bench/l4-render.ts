/**
 * `l4-render` measures the pure half of the L4 kernel modes: how long rendering takes as the table
 * grows (10 … 5,000 services × 10 endpoints), iptables-restore text vs nft script vs ipvsadm
 * table, full sync vs a partial sync after one endpoint change, and how large the payloads are.
 * Applying (iptables-restore, nft -f) is not measured here; that is the apply step's bench.
 *
 * Figures after the first line are medians with chain names memoised (the steady state of a
 * running proxy); the first line is one cold full render, hashing every name.
 *
 * Run: `npx tsx bench/l4-render.ts [--rounds N]`. Prints a table; nothing is written.
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import type { L4Service, L4State } from '../src/l4/model.js';
import { renderIptables } from '../src/l4/render/iptables.js';
import { renderIpvs } from '../src/l4/render/ipvs.js';
import { renderNftables } from '../src/l4/render/nftables.js';
import { ep, largeState } from '../test/support/l4-fixtures.js';

const SIZES = [10, 100, 1_000, 5_000] as const;
const ENDPOINTS = 10;
const roundsFlag = process.argv.indexOf('--rounds');
const ROUNDS = roundsFlag === -1 ? 7 : Math.max(1, Math.min(50, Number(process.argv[roundsFlag + 1]) || 7));

/** Median wall time of `ROUNDS` runs after one warm-up, in ms. */
function median(run: () => unknown): number {
  run();
  const times: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const start = performance.now();
    run();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

/** The same state with the first endpoint of the middle service replaced. */
function withOneEndpointChanged(state: L4State): { next: L4State; changed: Set<string> } {
  const i = Math.floor(state.services.length / 2);
  const target = state.services[i]!;
  const changedService: L4Service = {
    ...target,
    endpoints: [ep('10.250.0.1', 8080), ...target.endpoints.slice(1)],
  };
  const services = state.services.map((s, j) => (j === i ? changedService : s));
  return { next: { ...state, services }, changed: new Set([target.name]) };
}

const kib = (text: string) => (Buffer.byteLength(text) / 1024).toFixed(0);

console.log(`# L4 rendering, ${ENDPOINTS} endpoints per service, median of ${ROUNDS} rounds`);
console.log(`node ${process.version}, ${os.cpus()[0]?.model ?? 'unknown cpu'} × ${os.cpus().length}\n`);
{
  // Chain names are memoised across renders (a running proxy's steady state); the first render of
  // a large table also pays for hashing every name. Measured once, before anything warms the memo.
  const biggest = largeState(5_000, ENDPOINTS);
  const start = performance.now();
  renderIptables(biggest);
  const ipt = performance.now() - start;
  const nftStart = performance.now();
  renderNftables(biggest);
  const nft = performance.now() - nftStart;
  console.log(
    `first (cold) full render of ${biggest.services.length} services: iptables ${ipt.toFixed(0)} ms, nft ${nft.toFixed(0)} ms\n`,
  );
}
console.log(
  '| services | iptables full ms | iptables 1-change ms | nft full ms | nft 1-change ms | ipvs ms | iptables KiB (full/partial) | nft KiB (full/partial) | nat rules |',
);
console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const size of SIZES) {
  const state = largeState(size, ENDPOINTS);
  const { next, changed } = withOneEndpointChanged(state);
  const iptFull = renderIptables(state);
  const nftFull = renderNftables(state);
  const iptPartial = renderIptables(next, { changedServices: changed, existingChains: iptFull.activeChains });
  const nftPartial = renderNftables(next, { changedServices: changed, existingChains: nftFull.activeChains });
  const row = [
    size,
    median(() => renderIptables(state)).toFixed(1),
    median(() =>
      renderIptables(next, { changedServices: changed, existingChains: iptFull.activeChains }),
    ).toFixed(1),
    median(() => renderNftables(state)).toFixed(1),
    median(() =>
      renderNftables(next, { changedServices: changed, existingChains: nftFull.activeChains }),
    ).toFixed(1),
    median(() => renderIpvs(state)).toFixed(1),
    `${kib(iptFull.payload)} / ${kib(iptPartial.payload)}`,
    `${kib(nftFull.script)} / ${kib(nftPartial.script)}`,
    iptFull.stats.natRulesTotal,
  ];
  console.log(`| ${row.join(' | ')} |`);
}

/**
 * `routing-table` measures the pure routing core at 10, 1,000 and 10,000 Ingresses (1 host, 3
 * paths, 3 endpoints each): translate + compile + endpoint table time and heap, and lookup cost.
 *
 * Run: `node --expose-gc --import tsx bench/routing-table.ts` (or `npx tsx bench/routing-table.ts`,
 * which re-runs itself with `--expose-gc`). Prints a Markdown section for bench/RESULTS.md.
 */
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { compileSnapshot } from '../src/compile/snapshot.js';
import type { RouteSnapshot } from '../src/compile/types.js';
import { buildEndpointTable, collectBackends } from '../src/endpoints/slices.js';
import { translate } from '../src/model/translate/translate.js';
import { type IngressTable, ingressTable, TABLE_OPTIONS, tableHost } from './lib/ingress-table.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  // Heap figures need a forced GC; re-run under --expose-gc with the same arguments.
  const self = fileURLToPath(import.meta.url);
  const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', self, ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  process.exit(r.status ?? 1);
}
const collect: () => void = gc;

const SIZES = [10, 1_000, 10_000] as const;
const LOOKUPS = 1_000_000;
const COMPILE_RUNS = 3;
/** Known hosts in the hot mix: as many as the smallest table has. */
const HOT_HOSTS = 8;
const LOOKUP_ROUNDS = 7;

function build(f: IngressTable): { snapshot: RouteSnapshot; endpoints: number } {
  const model = translate(f.input, TABLE_OPTIONS);
  const snapshot = compileSnapshot(model, 1);
  const table = buildEndpointTable(f.slices, collectBackends(model));
  return { snapshot, endpoints: table.size };
}

const PATHS = ['/', '/api/v1/users/42', '/healthz', '/healthz/', '/static/app.js', '/api/v2'] as const;

/**
 * `requests` builds 4,096 requests over `distinct` known hosts spread evenly across the table (plus
 * 1 in 8 for unknown hosts), cycling through the paths. The request set has the same size at every
 * table size, so the hot mix isolates the cost of the table itself from the cache footprint of the
 * traffic.
 */
function requests(n: number, distinct: number): [string, string][] {
  const hosts = Math.min(n, distinct);
  const stride = Math.floor(n / hosts);
  const out: [string, string][] = [];
  for (let k = 0; k < 4096; k++) {
    const h = k % 8 === 7 ? `unknown-${k % hosts}.example` : tableHost(((k * 7919) % hosts) * stride);
    out.push([h, PATHS[k % PATHS.length]!]);
  }
  return out;
}

function lookupNs(snapshot: RouteSnapshot, reqs: [string, string][]): number {
  let sink = 0;
  const mask = reqs.length - 1;
  for (let i = 0; i < 200_000; i++) {
    const [h, p] = reqs[i & mask]!;
    sink += snapshot.match(h, p).kind.length;
  }
  const start = process.hrtime.bigint();
  for (let i = 0; i < LOOKUPS; i++) {
    const [h, p] = reqs[i & mask]!;
    sink += snapshot.match(h, p).kind.length;
  }
  const ns = Number(process.hrtime.bigint() - start) / LOOKUPS;
  if (sink === 0) throw new Error('unreachable');
  return ns;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(2);

interface Row {
  n: number;
  compileMs: number;
  retainedMb: string;
  heapMb: string;
  hotNs: number;
  spreadNs: number;
}

// Warm the JIT so the first size is not charged for it.
build(ingressTable(200));

const built: { n: number; compileMs: number; retainedMb: string; heapMb: string; snapshot: RouteSnapshot }[] =
  [];
for (const n of SIZES) {
  const f = ingressTable(n);
  const times: number[] = [];
  let kept: ReturnType<typeof build> | undefined;
  let retained = 0;
  for (let r = 0; r < COMPILE_RUNS; r++) {
    kept = undefined;
    collect();
    const before = process.memoryUsage().heapUsed;
    const t0 = performance.now();
    kept = build(f);
    times.push(performance.now() - t0);
    collect();
    retained = process.memoryUsage().heapUsed - before;
  }
  const heap = process.memoryUsage().heapUsed;
  built.push({
    n,
    compileMs: median(times),
    retainedMb: mb(retained),
    heapMb: mb(heap),
    snapshot: kept!.snapshot,
  });
}

// Lookups run round-robin over the sizes, LOOKUP_ROUNDS times, and each figure is the median: the
// machine is shared, and interleaving exposes every size to the same background load.
const hot = built.map(() => [] as number[]);
const spread = built.map(() => [] as number[]);
for (let round = 0; round < LOOKUP_ROUNDS; round++) {
  built.forEach((b, i) => {
    hot[i]!.push(lookupNs(b.snapshot, requests(b.n, HOT_HOSTS)));
    spread[i]!.push(lookupNs(b.snapshot, requests(b.n, b.n)));
  });
}
const rows: Row[] = built.map((b, i) => ({
  n: b.n,
  compileMs: b.compileMs,
  retainedMb: b.retainedMb,
  heapMb: b.heapMb,
  hotNs: median(hot[i]!),
  spreadNs: median(spread[i]!),
}));
for (const r of rows) {
  process.stderr.write(
    `n=${r.n}: ${r.compileMs.toFixed(1)} ms, retained ${r.retainedMb} MB, hot ${r.hotNs.toFixed(1)} ns, spread ${r.spreadNs.toFixed(1)} ns\n`,
  );
}

const base = rows[0]!;
const big = rows.at(-1)!;
const hotRatio = big.hotNs / base.hotNs;
const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
console.log(`## Routing table

_Generated ${new Date().toISOString()} by \`node --expose-gc --import tsx bench/routing-table.ts\` (same as \`npx tsx bench/routing-table.ts\`)._

- **Machine**: ${cpu}, ${os.cpus().length} cores (shared with other work; load average at end ${os
  .loadavg()
  .map((l) => l.toFixed(2))
  .join(' / ')}), Node ${process.version}
- **Workload**: N Ingresses, each 1 host × 3 paths (Prefix \`/\`, Prefix \`/api/v1\`, Exact \`/healthz\`) → 1 Service → 1 EndpointSlice with 3 ready endpoints
- **Build** = \`translate\` + \`compileSnapshot\` + \`buildEndpointTable(collectBackends)\`, median of ${COMPILE_RUNS}; **retained** = heap growth after a forced GC while model, snapshot and endpoint table are alive (inputs excluded); **heap** = total heapUsed then (inputs included)
- **Lookup** = \`snapshot.match(host, path)\`, ${LOOKUPS.toLocaleString('en')} lookups over 4,096 requests (6 paths; 1 in 8 for an unknown host), median of ${LOOKUP_ROUNDS} rounds run round-robin over the sizes. **Hot mix**: ${HOT_HOSTS} known hosts spread across the table, so only the table size changes between rows. **Spread mix**: the requests cover up to 4,096 different hosts, so the working set outgrows the CPU caches at 10,000 — that growth is memory latency, not lookup work

| Ingresses | build ms | retained MB | heap MB | lookup ns/op (hot mix) | vs 10 | lookup ns/op (spread mix) | vs 10 |
| --------: | -------: | ----------: | ------: | ---------------------: | ----: | ------------------------: | ----: |
${rows
  .map(
    (r) =>
      `| ${r.n.toLocaleString('en')} | ${r.compileMs.toFixed(1)} | ${r.retainedMb} | ${r.heapMb} | ${r.hotNs.toFixed(1)} | ${(r.hotNs / base.hotNs).toFixed(2)}× | ${r.spreadNs.toFixed(1)} | ${(r.spreadNs / base.spreadNs).toFixed(2)}× |`,
  )
  .join('\n')}

Targets: 10,000 Ingresses build in < 1 s (${big.compileMs < 1000 ? 'met' : 'MISSED'}: ${big.compileMs.toFixed(0)} ms) and < 150 MB heap (${Number(big.heapMb) < 150 ? 'met' : 'MISSED'}: ${big.heapMb} MB); lookup at 10,000 within 1.5× of 10 on the hot mix (${hotRatio <= 1.5 ? 'met' : 'MISSED'}: ${hotRatio.toFixed(2)}×).
`);

/**
 * `metrics-cardinality` counts the Prometheus series Portico exports at 10,000 Ingresses (1 host,
 * 3 paths each, bench/lib/ingress-table.ts, as the routing-table bench) for three traffic mixes, and what a scrape
 * of that costs; then times the end-of-response hook (`RequestMetrics.observe`) on the hot path.
 *
 * The hook is called directly with the RouteMatch objects the compiled snapshot returns for each
 * Ingress's paths: the same objects, so the same label children, as real requests get.
 *
 * Run: `npx tsx bench/metrics-cardinality.ts [--ingresses N]`; writes the "## Metrics cardinality"
 * section of bench/RESULTS.md.
 */
import os from 'node:os';
import { dirname, join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { compileSnapshot } from '../src/compile/snapshot.js';
import type { RouteMatch } from '../src/compile/types.js';
import { PorticoMetrics } from '../src/metrics/registry.js';
import { translate } from '../src/model/translate/translate.js';
import { ingressTable, TABLE_OPTIONS, tableHost } from './lib/ingress-table.js';
import { writeSection } from './lib/results.js';

const { values } = parseArgs({ options: { ingresses: { type: 'string', default: '10000' } } });
const INGRESSES = Math.max(1, Number.parseInt(values.ingresses, 10) || 10_000);
const OBSERVE_CALLS = 2_000_000;
const benchDir = dirname(fileURLToPath(import.meta.url));

const host = tableHost;
const PATHS = ['/', '/api/v1/users/42', '/healthz'] as const;

function snapshotOf(n: number): ReturnType<typeof compileSnapshot> {
  return compileSnapshot(translate(ingressTable(n).input, TABLE_OPTIONS), 1);
}

interface Mix {
  readonly name: string;
  readonly what: string;
  readonly methods: readonly string[];
  readonly statuses: readonly number[];
}

const MIXES: readonly Mix[] = [
  { name: 'minimal', what: 'GET → 2xx only', methods: ['GET'], statuses: [200] },
  {
    name: 'typical',
    what: 'GET, POST, HEAD × 2xx, 3xx, 4xx, 5xx',
    methods: ['GET', 'POST', 'HEAD'],
    statuses: [200, 304, 404, 503],
  },
  {
    name: 'worst case',
    what: 'every method label (9 standard + OTHER) × every status class (6)',
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH', 'PROPFIND'],
    statuses: [101, 200, 301, 404, 500, 999],
  },
];

interface Count {
  readonly total: number;
  readonly byFamily: ReadonlyMap<string, number>;
  readonly bytes: number;
  readonly renderMs: number;
  /** The longest the event loop was blocked while rendering. */
  readonly stallMs: number;
}

const FAMILY_SUFFIX = /_(bucket|sum|count)$/;

async function count(metrics: PorticoMetrics): Promise<Count> {
  const stalls = monitorEventLoopDelay({ resolution: 1 });
  stalls.enable();
  const started = performance.now();
  const text = await metrics.render();
  const renderMs = performance.now() - started;
  stalls.disable();
  const stallMs = stalls.max / 1e6;
  const byFamily = new Map<string, number>();
  let total = 0;
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    total++;
    const name = line.slice(0, line.search(/[{ ]/)).replace(FAMILY_SUFFIX, '');
    byFamily.set(name, (byFamily.get(name) ?? 0) + 1);
  }
  return { total, byFamily, bytes: Buffer.byteLength(text), renderMs, stallMs };
}

const snapshot = snapshotOf(INGRESSES);
/** Every route of every Ingress, as requests meet them, plus the built-in 404 for unknown hosts. */
const matches: RouteMatch[] = [];
for (let i = 0; i < INGRESSES; i++) for (const path of PATHS) matches.push(snapshot.match(host(i), path));
const notFound = snapshot.match('nobody.example', '/');

const baseline = await count(new PorticoMetrics({ processMetrics: false }));
const rows: { mix: Mix; count: Count }[] = [];
for (const mix of MIXES) {
  const metrics = new PorticoMetrics({ processMetrics: false });
  const hook = metrics.requests;
  for (const match of [...matches, notFound]) {
    for (const method of mix.methods) {
      for (const status of mix.statuses) hook.observe(match, method, status, 0.004, 0.003, 100, 1_000);
    }
  }
  rows.push({ mix, count: await count(metrics) });
  process.stdout.write(`${mix.name}: ${(await count(metrics)).total} series\n`);
}

/** ns per observe() over `routes`, cycling through methods and statuses of the typical mix. */
function timeObserve(routes: readonly RouteMatch[]): number {
  const hook = new PorticoMetrics({ processMetrics: false }).requests;
  const methods = ['GET', 'GET', 'GET', 'POST'];
  const statuses = [200, 200, 200, 404];
  // Warm-up: creates every child, so the timed loop is the steady state.
  for (const match of routes)
    for (let k = 0; k < 4; k++) hook.observe(match, methods[k], statuses[k] ?? 200, 0.004, 0.003, 0, 500);
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 5; round++) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < OBSERVE_CALLS; i++) {
      const k = i & 3;
      hook.observe(
        routes[i % routes.length] as RouteMatch,
        methods[k],
        statuses[k] ?? 200,
        0.004,
        0.003,
        0,
        500,
      );
    }
    best = Math.min(best, Number(process.hrtime.bigint() - started) / OBSERVE_CALLS);
  }
  return best;
}

const oneRoute = timeObserve(matches.slice(0, 1));
const allRoutes = timeObserve(matches);
process.stdout.write(
  `observe: ${oneRoute.toFixed(0)} ns (one route), ${allRoutes.toFixed(0)} ns (all routes)\n`,
);

const cpus = os.cpus();
const load = os
  .loadavg()
  .map((l) => l.toFixed(2))
  .join(' / ');
const n = (x: number): string => x.toLocaleString('en-US');
const families = [
  'portico_requests_total',
  'portico_request_duration_seconds',
  'portico_upstream_response_duration_seconds',
  'portico_request_bytes_total',
  'portico_response_bytes_total',
];
const header = `| mix | ${families.map((f) => `\`${f.replace('portico_', '')}\``).join(' | ')} | all request series | per Ingress | exposition | render (longest stall) | with \`method\` on the histogram too |`;
const table = rows
  .map(({ mix, count: c }) => {
    const request = c.total - baseline.total;
    const classes = new Set(mix.statuses.map((st) => Math.floor(st / 100))).size;
    const withMethod = request + 13 * (mix.methods.length - 1) * classes * (INGRESSES + 1);
    return `| ${mix.name}: ${mix.what} | ${families.map((f) => n(c.byFamily.get(f) ?? 0)).join(' | ')} | **${n(request)}** | ${(request / INGRESSES).toFixed(1)} | ${(c.bytes / 1e6).toFixed(1)} MB | ${c.renderMs.toFixed(0)} ms (${c.stallMs.toFixed(0)} ms) | ${n(withMethod)} |`;
  })
  .join('\n');

const section = `## Metrics cardinality

_Generated ${new Date().toISOString()} by \`npx tsx bench/metrics-cardinality.ts --ingresses ${INGRESSES}\`._

- **Machine**: ${cpus[0]?.model.split(' ').slice(0, 2).join(' ') ?? 'unknown'}, ${cpus.length} cores (load average ${load}), Node ${process.version}
- **What**: ${n(INGRESSES)} Ingresses (1 host, 3 paths, 1 Service each, compiled as in the routing-table bench). Every path of every Ingress, plus the built-in 404 for an unknown host, gets one request per method × status of the mix, through \`RequestMetrics.observe\` with the RouteMatch the snapshot returns; then \`/metrics\` is rendered and its samples counted (each histogram bucket, \`_sum\` and \`_count\` is a series). The ${n(baseline.total)} series of an idle registry (config, Kubernetes, policy gauges; no process metrics) are not counted.
- **Labels**: route (\`ingress\`, \`namespace\`, \`service\`) on every request series; \`method\` (10 values) and \`status\` class (6) on the count; \`status\` class on the latency histogram; 10 latency buckets (13 series per histogram label set). The three paths of an Ingress share its series: no path label.

${header}
|${'---|'.repeat(families.length + 6)}
${table}

Series per Ingress = (method × status pairs seen) + 13 × (status classes seen) + 13 (upstream latency) + 2 (bytes). The last column is what the same traffic would make if the latency histogram were labelled by method as well (13 more series per extra method and class): the reason it is not. Certificate expiry adds one series per TLS Secret in use, the policy counters one per Ingress that denies.

**Hot path**: \`RequestMetrics.observe\` (all five series of one request, plain numbers found through a WeakMap on the RouteMatch) costs **${oneRoute.toFixed(0)} ns** with one route and **${allRoutes.toFixed(0)} ns** cycling through all ${n(matches.length)} routes (cache misses), best of 5 × ${n(OBSERVE_CALLS)} calls.
`;

writeSection(join(benchDir, 'RESULTS.md'), '## Metrics cardinality', section);
process.stdout.write(section);

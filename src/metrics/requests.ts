/**
 * `requests` keeps the per-request series (request count, latency, upstream latency, bytes in and
 * out), recorded once at the end of each response, for proxied and built-in answers alike.
 *
 * Label values are bounded: the Ingress, its namespace and the Service come from the compiled
 * route (they exist as long as the objects do, and their series go when they go: `retain`), the
 * method is folded to the standard ones and the status to its class. Nothing from the request
 * itself (path, host, client address) becomes a label. The latency histogram is by route and status
 * class, not method: each histogram label set is 13 series, and the method would multiply them by up
 * to ten for a dimension latency questions rarely need (the count keeps it). Figures in
 * bench/RESULTS.md, "Metrics cardinality".
 *
 * Hot path: prom-client's `labels(...)` children still build a key string from the label values on
 * every call: measured 1.9 µs per request for the five series with one route, 3.6 µs across 3,000
 * (2 shared cores, load 8). So the series are plain numbers here, one `RouteTotals` per route found through a WeakMap on the
 * `RouteMatch` (compile prebuilds one per route: a lookup by identity), method and status class as
 * array indexes; a request allocates nothing and builds no string.
 *
 * Scrape: these families are written here, not by prom-client's registry, which formats every
 * sample from a label object (about 11 µs a sample on this machine: 3 s of blocked event loop per
 * scrape at 10,000 Ingresses, on the process that proxies). Each route's label text is escaped
 * once, each method/status/bucket suffix is a constant, and the writer yields to the event loop
 * every `LINES_PER_SLICE` lines so a large scrape never stalls requests for long.
 */
import type { RouteMatch } from '../compile/types.js';

/**
 * `LATENCY_BUCKETS` (seconds) serve both the request and the upstream histogram, so the two can be
 * compared bucket by bucket. Steps of 2 to 2.5 from 5 ms (a loopback upstream plus Portico's own
 * share, well under a millisecond, lands in the first bucket: finer buckets would only describe the
 * machine) to 10 s (past it the request is at the scale of the proxy timeouts; `_sum` and `_count`
 * still see it). Ten buckets, not the 14 to 20 of finer layouts, because every bucket is one more
 * series for every label set.
 */
export const LATENCY_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];

/** `STANDARD_METHODS` keep their own `method` label value; any other method is `OTHER`. */
export const STANDARD_METHODS = [
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'CONNECT',
  'OPTIONS',
  'TRACE',
  'PATCH',
] as const;

const METHOD_LABELS: readonly string[] = [...STANDARD_METHODS, 'OTHER'];
const OTHER_METHOD = STANDARD_METHODS.length;
const METHOD_INDEX: ReadonlyMap<string, number> = new Map(STANDARD_METHODS.map((m, i) => [m, i]));

/** Status classes by index; the last one takes any status outside 100..599. */
const STATUS_LABELS: readonly string[] = ['1xx', '2xx', '3xx', '4xx', '5xx', 'other'];

/** `methodLabel` is the `method` label of a request method (case-sensitive, as HTTP methods are). */
export function methodLabel(method: string | undefined): string {
  return METHOD_LABELS[methodIndex(method)] as string;
}

/** `statusClass` is the `status` label of a response status: `2xx`, …, or `other` outside 100..599. */
export function statusClass(status: number): string {
  return STATUS_LABELS[statusIndex(status)] as string;
}

function methodIndex(method: string | undefined): number {
  return (method === undefined ? undefined : METHOD_INDEX.get(method)) ?? OTHER_METHOD;
}

function statusIndex(status: number): number {
  const hundreds = Math.floor(status / 100);
  return hundreds >= 1 && hundreds <= 5 ? hundreds - 1 : STATUS_LABELS.length - 1;
}

/** `namespaceOf` is the namespace of `"namespace/name"`, "" for "" (no Ingress answered). */
export function namespaceOf(ingress: string): string {
  const slash = ingress.indexOf('/');
  return slash === -1 ? '' : ingress.slice(0, slash);
}

/** `RouteLabels` are the route's part of every label set. */
export interface RouteLabels {
  readonly ingress: string;
  readonly namespace: string;
  readonly service: string;
}

/** `routeLabels` are the label values of the route that answered (all "" when none did). */
export function routeLabels(match: RouteMatch | undefined): RouteLabels {
  const ingress = match?.ingress ?? '';
  const backend = match?.backend;
  return {
    ingress,
    // The Service's namespace is the Ingress's; a default backend without an Ingress has only its own.
    namespace: ingress !== '' ? namespaceOf(ingress) : (backend?.namespace ?? ''),
    service: backend?.service ?? '',
  };
}

/**
 * Lines written between two yields to the event loop during a scrape: about 10 ms of work on this
 * machine (bench/metrics-cardinality.ts reports the longest stall).
 */
const LINES_PER_SLICE = 5_000;

/** `escapeLabelValue` escapes a label value for the text exposition format. */
function escapeLabelValue(value: string): string {
  return value.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n');
}

const COUNT_SUFFIXES: readonly string[] = METHOD_LABELS.flatMap((method) =>
  STATUS_LABELS.map((status) => `,method="${method}",status="${status}"} `),
);
const LE_LABELS: readonly string[] = [...LATENCY_BUCKETS.map(String), '+Inf'];

/** `HistogramTotals` is one histogram label set: per-bucket (not cumulative) counts, sum, count. */
class HistogramTotals {
  readonly buckets = new Float64Array(LATENCY_BUCKETS.length);
  sum = 0;
  count = 0;

  observe(seconds: number): void {
    let i = 0;
    while (i < LATENCY_BUCKETS.length && seconds > (LATENCY_BUCKETS[i] as number)) i++;
    if (i < LATENCY_BUCKETS.length) this.buckets[i] = (this.buckets[i] as number) + 1;
    this.sum += seconds;
    this.count++;
  }
}

/** `RouteTotals` are the numbers behind one route's series; label sets appear once used. */
class RouteTotals {
  readonly labels: RouteLabels;
  /** `ingress="…",namespace="…",service="…"`, escaped once. */
  readonly text: string;
  /** Request count by method × status class. */
  readonly counts = new Float64Array(METHOD_LABELS.length * STATUS_LABELS.length);
  /** Request latency by status class. */
  readonly durations: (HistogramTotals | undefined)[] = [];
  upstream: HistogramTotals | undefined;
  requestBytes = 0;
  responseBytes = 0;
  /** Whether the byte counters were ever touched (a route answered only by 304s exports none). */
  bytesSeen = false;

  constructor(labels: RouteLabels) {
    this.labels = labels;
    this.text =
      `ingress="${escapeLabelValue(labels.ingress)}",namespace="${escapeLabelValue(labels.namespace)}",` +
      `service="${escapeLabelValue(labels.service)}"`;
  }
}

/** `RequestFamily` names one exported metric (registry.ts holds the definitions). */
export interface RequestFamily {
  readonly name: string;
  readonly help: string;
}

/** `RequestFamilies` are the five request metrics `RequestMetrics` exports. */
export interface RequestFamilies {
  readonly requests: RequestFamily;
  readonly duration: RequestFamily;
  readonly upstreamDuration: RequestFamily;
  readonly requestBytes: RequestFamily;
  readonly responseBytes: RequestFamily;
}

/**
 * `RequestMetrics` is the end-of-response hook and the store behind the request series. One per
 * process (`PorticoMetrics.requests`); the listeners share it.
 */
export class RequestMetrics {
  /** By `ingress NUL namespace NUL service`: a new snapshot's routes continue the same series. */
  readonly #routes = new Map<string, RouteTotals>();
  readonly #byMatch = new WeakMap<RouteMatch, RouteTotals>();

  readonly #families: RequestFamilies;

  constructor(families: RequestFamilies) {
    this.#families = families;
  }

  /**
   * `observe` records one finished request. Positional arguments so the call allocates nothing;
   * `upstreamSeconds` is negative when no upstream answered. Measured (bench/metrics-cardinality.ts,
   * 2 cores under load 8 to 16): 25 to 74 ns with one route, 72 ns across 3,000 routes and 504 ns
   * across 30,000 (cache misses), against 65 to 100 µs of CPU per proxied request (forward.ts:
   * 10k to 15k req/s on one core): under 1 %. Alternating quick proxy benches (`bench/run.ts
   * --quick --only b`, 3 × 5 s each, with and without this hook) differed by less than their noise.
   */
  observe(
    match: RouteMatch | undefined,
    method: string | undefined,
    status: number,
    seconds: number,
    upstreamSeconds: number,
    requestBytes: number,
    responseBytes: number,
  ): void {
    const route = this.#totals(match);
    const statusAt = statusIndex(status);
    const countAt = methodIndex(method) * STATUS_LABELS.length + statusAt;
    route.counts[countAt] = (route.counts[countAt] as number) + 1;
    let duration = route.durations[statusAt];
    if (duration === undefined) {
      duration = new HistogramTotals();
      route.durations[statusAt] = duration;
    }
    duration.observe(seconds);
    if (upstreamSeconds >= 0) {
      route.upstream ??= new HistogramTotals();
      route.upstream.observe(upstreamSeconds);
    }
    if (requestBytes > 0 || responseBytes > 0) {
      route.requestBytes += requestBytes;
      route.responseBytes += responseBytes;
      route.bytesSeen = true;
    }
  }

  /**
   * `retain` drops the series of Ingresses that no longer exist (called with each new routing
   * table), so deleted Ingresses do not accumulate. Series without an Ingress stay.
   */
  retain(ingresses: ReadonlySet<string>): void {
    for (const [key, route] of this.#routes) {
      if (route.labels.ingress !== '' && !ingresses.has(route.labels.ingress)) this.#routes.delete(key);
    }
  }

  #totals(match: RouteMatch | undefined): RouteTotals {
    const known = match === undefined ? undefined : this.#byMatch.get(match);
    if (known !== undefined) return known;
    const labels = routeLabels(match);
    const key = `${labels.ingress}\u0000${labels.namespace}\u0000${labels.service}`;
    let route = this.#routes.get(key);
    if (route === undefined) {
      route = new RouteTotals(labels);
      this.#routes.set(key, route);
    }
    if (match !== undefined) this.#byMatch.set(match, route);
    return route;
  }

  /**
   * `exposition` is the text of the five families (Prometheus text format 0.0.4), written in
   * slices with a yield to the event loop between them.
   */
  async exposition(): Promise<string> {
    const f = this.#families;
    const counts = [header(f.requests, 'counter')];
    const durations = [header(f.duration, 'histogram')];
    const upstream = [header(f.upstreamDuration, 'histogram')];
    const requestBytes = [header(f.requestBytes, 'counter')];
    const responseBytes = [header(f.responseBytes, 'counter')];
    // A snapshot of the routes: retain() may run while this yields.
    const routes = [...this.#routes.values()];
    let sliceEnd = LINES_PER_SLICE;
    for (const route of routes) {
      const written = counts.length + durations.length + upstream.length + requestBytes.length;
      if (written >= sliceEnd) {
        sliceEnd = written + LINES_PER_SLICE;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      const labels = route.text;
      route.counts.forEach((value, at) => {
        if (value !== 0) counts.push(`${f.requests.name}{${labels}${COUNT_SUFFIXES[at]}${value}`);
      });
      route.durations.forEach((h, status) => {
        if (h !== undefined)
          writeHistogram(durations, f.duration.name, `${labels},status="${STATUS_LABELS[status]}"`, h);
      });
      if (route.upstream !== undefined)
        writeHistogram(upstream, f.upstreamDuration.name, labels, route.upstream);
      if (route.bytesSeen) {
        requestBytes.push(`${f.requestBytes.name}{${labels}} ${route.requestBytes}`);
        responseBytes.push(`${f.responseBytes.name}{${labels}} ${route.responseBytes}`);
      }
    }
    return (
      [counts, durations, upstream, requestBytes, responseBytes]
        .map((lines) => lines.join('\n'))
        .join('\n\n') + '\n'
    );
  }
}

function header(family: RequestFamily, type: 'counter' | 'histogram'): string {
  const help = family.help.replaceAll('\\', '\\\\').replaceAll('\n', '\\n');
  return `# HELP ${family.name} ${help}\n# TYPE ${family.name} ${type}`;
}

function writeHistogram(out: string[], name: string, labels: string, h: HistogramTotals): void {
  let cumulative = 0;
  for (let i = 0; i < LE_LABELS.length; i++) {
    cumulative = i < h.buckets.length ? cumulative + (h.buckets[i] as number) : h.count;
    out.push(`${name}_bucket{${labels},le="${LE_LABELS[i]}"} ${cumulative}`);
  }
  out.push(`${name}_sum{${labels}} ${h.sum}`);
  out.push(`${name}_count{${labels}} ${h.count}`);
}

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
 * every call (measured 1.9 µs per request for the five series, on 2 shared cores). So the
 * series are plain numbers here, one `RouteTotals` per route found through a WeakMap on the
 * `RouteMatch` (compile prebuilds one per route: a lookup by identity), method and status class as
 * array indexes; a request allocates nothing and builds no string. The registry reads them at
 * scrape time through five collectors in prom-client's metric shape, so the exposition is
 * prom-client's. Measured by bench/metrics-cardinality.ts: see the RESULTS.md figure quoted at
 * `RequestMetrics.observe`.
 */
import type { Metric, Registry } from 'prom-client';
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

type LabelValues = Record<string, string | number>;
interface Sample {
  readonly labels: LabelValues;
  readonly value: number;
  readonly metricName?: string;
}

/**
 * `RequestMetrics` is the end-of-response hook and the store behind the request series. One per
 * process (`PorticoMetrics.requests`); the listeners share it.
 */
export class RequestMetrics {
  /** By `ingress NUL namespace NUL service`: a new snapshot's routes continue the same series. */
  readonly #routes = new Map<string, RouteTotals>();
  readonly #byMatch = new WeakMap<RouteMatch, RouteTotals>();

  constructor(families: RequestFamilies, registry: Registry) {
    const register = (family: RequestFamily, type: 'counter' | 'histogram', values: () => Sample[]): void => {
      // prom-client renders any object of this shape (Registry.getMetricsAsString); its own
      // Counter and Histogram classes cannot be fed pre-aggregated numbers.
      const metric = {
        name: family.name,
        help: family.help,
        type,
        aggregator: 'sum',
        get: async () => ({ ...metric, values: values() }),
      };
      registry.registerMetric(metric as unknown as Metric);
    };
    register(families.requests, 'counter', () => this.#countSamples());
    register(families.duration, 'histogram', () =>
      this.#histogramSamples(families.duration.name, (r, out) =>
        r.durations.forEach((h, status) => {
          if (h !== undefined) out.push([{ ...r.labels, status: STATUS_LABELS[status] as string }, h]);
        }),
      ),
    );
    register(families.upstreamDuration, 'histogram', () =>
      this.#histogramSamples(families.upstreamDuration.name, (r, out) => {
        if (r.upstream !== undefined) out.push([{ ...r.labels }, r.upstream]);
      }),
    );
    register(families.requestBytes, 'counter', () => this.#byteSamples((r) => r.requestBytes));
    register(families.responseBytes, 'counter', () => this.#byteSamples((r) => r.responseBytes));
  }

  /**
   * `observe` records one finished request. Positional arguments so the call allocates nothing;
   * `upstreamSeconds` is negative when no upstream answered. Cost: see bench/RESULTS.md "Metrics
   * cardinality" (tens of ns per request, against about 70 µs of CPU per proxied request).
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

  #countSamples(): Sample[] {
    const out: Sample[] = [];
    for (const route of this.#routes.values()) {
      route.counts.forEach((value, i) => {
        if (value === 0) return;
        const method = METHOD_LABELS[Math.floor(i / STATUS_LABELS.length)] as string;
        const status = STATUS_LABELS[i % STATUS_LABELS.length] as string;
        out.push({ labels: { ...route.labels, method, status }, value });
      });
    }
    return out;
  }

  #histogramSamples(
    name: string,
    pick: (route: RouteTotals, out: [LabelValues, HistogramTotals][]) => void,
  ): Sample[] {
    const sets: [LabelValues, HistogramTotals][] = [];
    for (const route of this.#routes.values()) pick(route, sets);
    const out: Sample[] = [];
    for (const [labels, h] of sets) {
      let cumulative = 0;
      LATENCY_BUCKETS.forEach((le, i) => {
        cumulative += h.buckets[i] as number;
        out.push({ labels: { ...labels, le }, value: cumulative, metricName: `${name}_bucket` });
      });
      out.push({ labels: { ...labels, le: '+Inf' }, value: h.count, metricName: `${name}_bucket` });
      out.push({ labels, value: h.sum, metricName: `${name}_sum` });
      out.push({ labels, value: h.count, metricName: `${name}_count` });
    }
    return out;
  }

  #byteSamples(value: (route: RouteTotals) => number): Sample[] {
    const out: Sample[] = [];
    for (const route of this.#routes.values()) {
      if (route.bytesSeen) out.push({ labels: { ...route.labels }, value: value(route) });
    }
    return out;
  }
}

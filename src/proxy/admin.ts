/**
 * `admin` serves the operator endpoints on their own port, apart from the proxy listener so a
 * flood of proxied traffic (or a route for `/healthz`) can never shadow them: `/healthz` (the
 * process is alive), `/readyz` (200 once the first configuration is live and until shutdown
 * starts), `/routes` (what the data plane serves right now, as JSON, with the TCP/UDP services
 * under `l4`), `/metrics` and `/explain`
 * (what one request would meet, `explain.ts`).
 *
 * Plain node:http: three fixed paths do not need a router, and the admin server must keep
 * answering `/readyz` 503 while the proxy listener drains.
 */

import { createServer, type Server } from 'node:http';
import type { RouteSnapshot } from '../compile/types.js';
import type { L4Report } from '../l4/runtime.js';
import type { GlobalSettings } from '../model/settings/types.js';
import type { BackendRef, CanaryRule } from '../model/types.js';
import { fastPathRegex } from '../util/re2-fast-path.js';
import type { ExplainQuery, ExplainReport } from './explain.js';
import type { UpstreamRegistry, UpstreamStats } from './upstreams.js';

/** `AdminSources` is what the admin server reads, at request time. */
export interface AdminSources {
  readonly ready: () => boolean;
  readonly snapshot: () => RouteSnapshot;
  readonly upstreams: UpstreamRegistry;
  /** The global settings in force (ConfigMap over flags). */
  readonly settings?: () => GlobalSettings;
  /** Prometheus exposition, when the process has metrics. */
  readonly metrics?: { render(): Promise<string>; readonly contentType: string };
  /** `/explain`: what a request would meet. */
  readonly explain?: (query: ExplainQuery) => Promise<ExplainReport>;
  /** The L4 path (TCP/UDP services), when the process runs one: shown under `l4` in `/routes`. */
  readonly l4?: () => L4Report | undefined;
}

/** `explainQuery` reads `/explain?host=H&path=P[&client=IP][&scheme=https][&header=name:value…]`. */
export function explainQuery(url: string): ExplainQuery | string {
  const params = new URL(url, 'http://admin.invalid').searchParams;
  const host = params.get('host');
  if (host === null || host === '') return 'host= is required';
  const path = params.get('path') ?? '/';
  if (!path.startsWith('/')) return 'path= must start with /';
  const scheme = params.get('scheme') ?? 'http';
  if (scheme !== 'http' && scheme !== 'https') return 'scheme= must be http or https';
  const headers: Record<string, string> = {};
  for (const h of params.getAll('header')) {
    const colon = h.indexOf(':');
    if (colon <= 0) return `header=${JSON.stringify(h)} must be name:value`;
    headers[h.slice(0, colon).trim().toLowerCase()] = h.slice(colon + 1).trim();
  }
  const client = params.get('client');
  return { host, path, scheme, headers, ...(client !== null && client !== '' ? { client } : {}) };
}

interface BackendView {
  readonly backend: string;
  readonly problem: string | null;
  readonly endpoints: readonly string[];
}

function backendView(backend: BackendRef, upstreams: UpstreamRegistry): BackendView {
  return {
    backend: backend.key,
    problem: backend.problem ?? null,
    endpoints: upstreams.backend(backend.key)?.upstreams.map((u) => u.key) ?? [],
  };
}

/** `CanaryView` is a route's canary on `/routes`: its Ingress, backend and traffic rule. */
type CanaryView = BackendView &
  Omit<CanaryRule, 'backend' | 'policy'> & {
    readonly affinity: boolean;
    readonly loadBalance: string | null;
  };

function canaryView(rule: CanaryRule, upstreams: UpstreamRegistry): CanaryView {
  const { backend, policy, ...traffic } = rule;
  return {
    ...traffic,
    ...backendView(backend, upstreams),
    affinity: policy?.affinity !== undefined,
    loadBalance: policy?.loadBalance?.kind ?? null,
  };
}

/** `RoutesReport` is the JSON body of `/routes`. */
export interface RoutesReport {
  readonly generation: number;
  readonly routes: readonly (BackendView & {
    readonly host: string;
    readonly path: string;
    readonly pathType: string;
    readonly ingress: string;
    readonly field: string;
    /** The RE2 source of a regex path (`use-regex` / `rewrite-target`), matched case-insensitively. */
    readonly regex?: string;
    /**
     * Where that regex runs: `v8` when src/util/re2-fast-path.ts proved a V8 translation gives RE2's
     * answers in linear time (cheaper per request), else `re2`.
     */
    readonly regexEngine?: 'v8' | 're2';
    /** The canary attached to the route, if any. */
    readonly canary?: CanaryView;
  })[];
  readonly hostDefaults: readonly (BackendView & { readonly host: string; readonly ingress: string })[];
  readonly catchAll: (BackendView & { readonly ingress: string }) | null;
  readonly ingresses: RouteSnapshot['model']['ingresses'];
  readonly diagnostics: RouteSnapshot['model']['diagnostics'];
  readonly upstreams: UpstreamStats;
  /** The global settings in force, when the data plane has them. */
  readonly settings?: GlobalSettings;
  /** TCP/UDP services: what is served, rejected entries and routes with the reason, the last kernel sync. */
  readonly l4?: L4Report;
}

/** `describeRoutes` builds the `/routes` report from a snapshot and the live endpoint sets. */
export function describeRoutes(
  snapshot: RouteSnapshot,
  upstreams: UpstreamRegistry,
  settings?: GlobalSettings,
  l4?: L4Report,
): RoutesReport {
  const model = snapshot.model;
  return {
    generation: snapshot.generation,
    routes: model.routes.map((r) => ({
      host: r.host,
      path: r.path,
      pathType: r.pathType,
      ingress: r.ingress,
      field: r.field,
      ...(r.regex !== undefined
        ? {
            regex: r.regex,
            regexEngine: fastPathRegex(r.regex, true).ok ? ('v8' as const) : ('re2' as const),
          }
        : {}),
      ...backendView(r.backend, upstreams),
      ...(r.canary !== undefined ? { canary: canaryView(r.canary, upstreams) } : {}),
    })),
    hostDefaults: [...model.hostDefaults].map(([host, b]) => ({
      host,
      ingress: b.ingress,
      ...backendView(b.backend, upstreams),
    })),
    catchAll:
      model.catchAll === undefined
        ? null
        : { ingress: model.catchAll.ingress, ...backendView(model.catchAll.backend, upstreams) },
    ingresses: model.ingresses,
    diagnostics: model.diagnostics,
    upstreams: upstreams.stats(),
    ...(settings !== undefined ? { settings } : {}),
    ...(l4 !== undefined ? { l4 } : {}),
  };
}

/** `createAdminServer` returns the (not yet listening) admin server. */
export function createAdminServer(sources: AdminSources): Server {
  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0];
    const send = (status: number, type: string, body: string): void => {
      res.writeHead(status, {
        'content-type': type,
        'content-length': Buffer.byteLength(body),
        'cache-control': 'no-store',
        server: 'portico',
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(405, 'text/plain; charset=utf-8', '405 Method Not Allowed\n');
      return;
    }
    switch (path) {
      case '/healthz':
        send(200, 'text/plain; charset=utf-8', 'ok\n');
        return;
      case '/readyz':
        if (sources.ready()) send(200, 'text/plain; charset=utf-8', 'ready\n');
        else send(503, 'text/plain; charset=utf-8', 'not ready\n');
        return;
      case '/routes':
        send(
          200,
          'application/json',
          JSON.stringify(
            describeRoutes(sources.snapshot(), sources.upstreams, sources.settings?.(), sources.l4?.()),
            null,
            2,
          ) + '\n',
        );
        return;
      case '/explain': {
        if (sources.explain === undefined) break;
        const query = explainQuery(req.url ?? '/');
        if (typeof query === 'string') {
          send(400, 'text/plain; charset=utf-8', `400 Bad Request — ${query}\n`);
          return;
        }
        sources.explain(query).then(
          (report) => send(200, 'application/json', JSON.stringify(report, null, 2) + '\n'),
          () => send(500, 'text/plain; charset=utf-8', 'explain failed\n'),
        );
        return;
      }
      case '/metrics':
        if (sources.metrics === undefined) break;
        sources.metrics.render().then(
          (text) => send(200, sources.metrics?.contentType ?? 'text/plain', text),
          () => send(500, 'text/plain; charset=utf-8', 'metrics collection failed\n'),
        );
        return;
    }
    send(
      404,
      'text/plain; charset=utf-8',
      '404 Not Found — admin paths: /healthz /readyz /routes /metrics /explain\n',
    );
  });
}

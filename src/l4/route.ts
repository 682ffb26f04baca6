/**
 * Validation of Portico's L4Route objects (portico.dev/v1alpha1, crds/portico.dev_l4routes.yaml).
 * The CRD's OpenAPI schema refuses most bad values at the API server; this check is the same again
 * for file mode (which has no API server) and names every bad field, as RateLimitPolicy's does.
 *
 * PURE: no I/O imports.
 */
import type { L4Route } from '../model/objects.js';
import { parsePort } from './config-map.js';
import type { L4Protocol, L4ProxyProtocol, L4Scheduler } from './model.js';

export interface L4RouteConfig {
  readonly listenPort: number;
  readonly protocol: L4Protocol;
  readonly service: string;
  /** A Service port number, or a Service port name. */
  readonly port: number | string;
  readonly scheduler: L4Scheduler;
  readonly proxyProtocol: 'none' | L4ProxyProtocol;
  readonly idleTimeoutMs?: number;
}

export interface RouteProblem {
  readonly field: string;
  readonly message: string;
}

export type RouteValidation =
  | { readonly ok: true; readonly config: L4RouteConfig }
  | { readonly ok: false; readonly problems: readonly RouteProblem[] };

/** `L4_ROUTE_SPEC_FIELDS` are the `spec` fields, as the CRD's schema lists them. */
export const L4_ROUTE_SPEC_FIELDS: readonly string[] = [
  'listenPort',
  'protocol',
  'backend',
  'scheduler',
  'proxyProtocol',
  'idleTimeout',
];
export const L4_PROTOCOLS: readonly L4Protocol[] = ['TCP', 'UDP'];
export const L4_SCHEDULERS: readonly L4Scheduler[] = ['rr', 'lc', 'sh'];
export const L4_PROXY_PROTOCOLS: readonly ('none' | L4ProxyProtocol)[] = ['none', 'v1', 'v2'];
/** Longest idle timeout accepted: a day (a flow idle longer is gone for any NAT on the way). */
export const MAX_IDLE_TIMEOUT_MS = 86_400_000;
/** The duration syntax the CRD's pattern also enforces: Go's, units ms, s, m, h. */
export const DURATION_PATTERN = '^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$';

const DNS_1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** `parseGoDuration` reads `500ms`, `30s`, `1m30s`, `1.5h` into milliseconds; undefined if malformed. */
export function parseGoDuration(text: string): number | undefined {
  if (!new RegExp(DURATION_PATTERN).test(text)) return undefined;
  let total = 0;
  for (const m of text.matchAll(/([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)/g)) {
    total += Number(m[1]) * (UNITS[m[2] ?? ''] ?? 0);
  }
  return Math.round(total);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `validateL4Route` checks one route and builds its config. Never throws for bad input. */
export function validateL4Route(route: L4Route): RouteValidation {
  const problems: RouteProblem[] = [];
  const bad = (field: string, message: string): undefined => {
    problems.push({ field, message });
    return undefined;
  };
  const spec: unknown = (route as Partial<L4Route> | null)?.spec;
  if (!isRecord(spec)) {
    bad('spec', 'is required: an object with listenPort and backend');
    return { ok: false, problems };
  }
  for (const field of Object.keys(spec)) {
    if (!L4_ROUTE_SPEC_FIELDS.includes(field)) bad(`spec.${field}`, 'is not a field of L4Route');
  }
  const rawPort = spec['listenPort'];
  const listenPort =
    typeof rawPort === 'number' && Number.isInteger(rawPort) && rawPort >= 1 && rawPort <= 65535
      ? rawPort
      : bad(
          'spec.listenPort',
          rawPort === undefined
            ? 'is required'
            : `${JSON.stringify(rawPort)}: must be a port number (1-65535)`,
        );
  const choice = <T extends string>(field: string, allowed: readonly T[], fallback: T): T | undefined => {
    const v = spec[field];
    if (v === undefined || v === null) return fallback;
    if (typeof v === 'string' && (allowed as readonly string[]).includes(v)) return v as T;
    return bad(`spec.${field}`, `${JSON.stringify(v)}: must be one of ${allowed.join(', ')}`);
  };
  const protocol = choice('protocol', L4_PROTOCOLS, 'TCP');
  const scheduler = choice('scheduler', L4_SCHEDULERS, 'rr');
  const proxyProtocol = choice('proxyProtocol', L4_PROXY_PROTOCOLS, 'none');

  let service: string | undefined;
  let port: number | string | undefined;
  const backend = spec['backend'];
  if (!isRecord(backend)) bad('spec.backend', 'is required: an object with service and port');
  else {
    const name = backend['service'];
    if (typeof name !== 'string' || !DNS_1035_LABEL.test(name) || name.length > 63)
      bad(
        'spec.backend.service',
        name === undefined ? 'is required' : `${JSON.stringify(name)}: must be a Service name`,
      );
    else service = name;
    const p = backend['port'];
    if (typeof p === 'number') {
      if (Number.isInteger(p) && p >= 1 && p <= 65535) port = p;
      else bad('spec.backend.port', `${p}: must be a port number (1-65535) or a port name`);
    } else if (typeof p === 'string' && p !== '') {
      // A quoted number is still a number (intstr's habit); a name must be an IANA_SVC_NAME.
      const n = /^\d+$/.test(p) ? parsePort(p) : undefined;
      if (n !== undefined) port = n;
      else if (
        p.length <= 15 &&
        /^[-a-z0-9]+$/.test(p) &&
        /[a-z]/.test(p) &&
        !p.includes('--') &&
        !/^-|-$/.test(p)
      )
        port = p;
      else bad('spec.backend.port', `${JSON.stringify(p)}: must be a port number (1-65535) or a port name`);
    } else
      bad(
        'spec.backend.port',
        p === undefined ? 'is required' : `${JSON.stringify(p)}: must be a port number or name`,
      );
  }

  let idleTimeoutMs: number | undefined;
  const idle = spec['idleTimeout'];
  if (idle !== undefined && idle !== null) {
    const ms = typeof idle === 'string' ? parseGoDuration(idle) : undefined;
    if (ms === undefined)
      bad('spec.idleTimeout', `${JSON.stringify(idle)}: must be a duration such as 30s or 5m`);
    else if (ms < 1 || ms > MAX_IDLE_TIMEOUT_MS)
      bad('spec.idleTimeout', `${JSON.stringify(idle)}: must be between 1ms and 24h`);
    else idleTimeoutMs = ms;
  }
  if (protocol === 'UDP' && proxyProtocol !== undefined && proxyProtocol !== 'none')
    bad('spec.proxyProtocol', `${proxyProtocol}: PROXY protocol towards the backend is TCP only`);

  if (
    problems.length > 0 ||
    listenPort === undefined ||
    protocol === undefined ||
    scheduler === undefined ||
    proxyProtocol === undefined ||
    service === undefined ||
    port === undefined
  )
    return { ok: false, problems };
  return {
    ok: true,
    config: {
      listenPort,
      protocol,
      service,
      port,
      scheduler,
      proxyProtocol,
      ...(idleTimeoutMs !== undefined ? { idleTimeoutMs } : {}),
    },
  };
}

/** `describeRouteProblems` joins problems into one status message. */
export function describeRouteProblems(problems: readonly RouteProblem[]): string {
  return problems.map((p) => `${p.field}: ${p.message}`).join('; ');
}

/**
 * L4 configuration → `L4State`: the TCP/UDP services ConfigMaps (ingress-nginx's format) and the
 * L4Routes, resolved against Services and EndpointSlices, checked against the `--l4-mode`.
 *
 * Rules (each rejection is one diagnostic naming the object and field; everything else keeps working):
 * - Precedence on a listen port (protocol and port): ConfigMap entries first, then L4Routes oldest
 *   first (creationTimestamp, then namespace/name). The ConfigMaps win because only whoever runs
 *   Portico controls them (the flags name them), while any namespace's user may create an L4Route:
 *   a route must not be able to take a port over from the operator's configuration.
 * - Ports of Portico's own listeners (`reservedPorts`) are refused for both protocols, as
 *   ingress-nginx refuses its reserved ports.
 * - A backend is a Service port, by number (`spec.ports[].port`) or name, with the same protocol.
 *   Endpoints come from the Service's EndpointSlices as for HTTP routes (src/endpoints/slices.ts):
 *   the slice port of the same name and protocol, endpoints not marked `ready: false`, IPv4/IPv6
 *   slices, deduplicated. With `ipFamily`, endpoints of the other family are left out (one family
 *   per iptables/IPVS payload, as kube-proxy runs one proxier per family).
 * - A Service port is exposed on one listen port only (kernel chains are keyed by it).
 * - No ready endpoints: still served (kernel modes REJECT new flows, as kube-proxy), with a warning.
 * - PROXY protocol and idle timeouts are done by the user-space proxy: in a kernel mode a route
 *   asking for either is rejected with the reason.
 *
 * PURE: no I/O imports.
 */
import { type Diagnostic, objectLabel } from '../model/diagnostics.js';
import {
  type ConfigMap,
  type EndpointSlice,
  type L4Route,
  SERVICE_NAME_LABEL,
  type Service,
  type ServicePort,
} from '../model/objects.js';
import { diagnosticsFor } from '../model/translate/locate.js';
import type { StoredObject } from '../store/object-store.js';
import { parseServicesEntry } from './config-map.js';
import {
  compareStrings,
  familyOf,
  type L4Endpoint,
  type L4IpFamily,
  type L4PortRedirect,
  type L4Protocol,
  type L4ProxyProtocol,
  type L4Scheduler,
  type L4Service,
  type L4State,
} from './model.js';
import { describeRouteProblems, validateL4Route } from './route.js';

export type L4Mode = 'userspace' | 'iptables' | 'ipvs' | 'nftables';
export const L4_MODES: readonly L4Mode[] = ['userspace', 'iptables', 'ipvs', 'nftables'];

export interface NamespacedName {
  readonly namespace: string;
  readonly name: string;
}

export interface L4TranslateInput {
  readonly configMaps: readonly StoredObject<ConfigMap>[];
  readonly routes: readonly StoredObject<L4Route>[];
  readonly services: readonly StoredObject<Service>[];
  readonly endpointSlices: readonly StoredObject<EndpointSlice>[];
}

export interface L4TranslateOptions {
  readonly mode: L4Mode;
  readonly tcpServicesConfigMap?: NamespacedName;
  readonly udpServicesConfigMap?: NamespacedName;
  /** Copied into the state: the address kernel modes match (IPVS needs it). */
  readonly nodeIp?: string;
  /** Keep only endpoints of this family; undefined keeps both (nftables `inet`, user space). */
  readonly ipFamily?: L4IpFamily;
  /** Copied into the state: node ports redirected to Portico's HTTP listeners (`--redirect-privileged-ports`). */
  readonly portRedirects?: readonly L4PortRedirect[];
  /** Ports Portico's own listeners hold, and which flag holds them (e.g. 80 → "--http-port"). */
  readonly reservedPorts?: ReadonlyMap<number, string>;
}

/** What an L4Route's `Accepted` condition says (the status writer adds the mode and generation). */
export interface L4RouteVerdict {
  readonly accepted: boolean;
  readonly reason: 'Accepted' | 'Invalid' | 'PortConflict' | 'BackendNotFound' | 'UnsupportedInMode';
  readonly message: string;
}

export interface L4Translation {
  readonly state: L4State;
  readonly diagnostics: readonly Diagnostic[];
  /** Per L4Route, keyed `"namespace/name"`. */
  readonly routeStatus: ReadonlyMap<string, L4RouteVerdict>;
}

/** One listener asked for, by a ConfigMap entry or an L4Route, before resolution. */
interface Candidate {
  readonly origin: string;
  readonly listenPort: number;
  readonly protocol: L4Protocol;
  readonly namespace: string;
  readonly service: string;
  readonly port: number | string;
  readonly scheduler: L4Scheduler;
  readonly proxyProtocol?: L4ProxyProtocol;
  readonly idleTimeoutMs?: number;
  readonly reject: (reason: L4RouteVerdict['reason'], field: string, message: string) => void;
  readonly warn: (field: string, message: string) => void;
  readonly accept: (message: string) => void;
  /** Field names for diagnostics. */
  readonly fields: { readonly listenPort: string; readonly backend: string; readonly port: string };
}

export function isKernelMode(mode: L4Mode): boolean {
  return mode !== 'userspace';
}

export function translateL4(input: L4TranslateInput, options: L4TranslateOptions): L4Translation {
  const diagnostics: Diagnostic[] = [];
  const routeStatus = new Map<string, L4RouteVerdict>();
  const reserved = options.reservedPorts ?? new Map<number, string>();
  const candidates: Candidate[] = [];

  for (const [protocol, ref] of [
    ['TCP', options.tcpServicesConfigMap],
    ['UDP', options.udpServicesConfigMap],
  ] as const) {
    if (ref === undefined) continue;
    const stored = input.configMaps.find(
      (c) =>
        (c.object.metadata.namespace ?? 'default') === ref.namespace && c.object.metadata.name === ref.name,
    );
    if (stored === undefined) {
      diagnostics.push({
        severity: 'warning',
        code: 'PORTICO_WARN_L4',
        object: objectLabel('ConfigMap', ref.namespace, ref.name),
        field: '',
        message: `not found: no ${protocol} services from --${protocol.toLowerCase()}-services-configmap until it exists`,
      });
      continue;
    }
    const diag = diagnosticsFor(stored);
    const data = stored.object.data ?? {};
    const keys = Object.keys(data).sort((a, b) => Number(a) - Number(b) || compareStrings(a, b));
    for (const key of keys) {
      const field = `data[${JSON.stringify(key)}]`;
      const parsed = parseServicesEntry(key, data[key] ?? '', protocol, reserved);
      if (!parsed.ok) {
        diagnostics.push(diag('error', 'PORTICO_ERR_L4_ENTRY_INVALID', field, parsed.reason));
        continue;
      }
      const e = parsed.entry;
      if (e.sendProxy && isKernelMode(options.mode)) {
        diagnostics.push(
          diag(
            'error',
            'PORTICO_ERR_L4_ENTRY_INVALID',
            field,
            `the PROXY field needs --l4-mode userspace: the ${options.mode} mode forwards packets in the kernel, which cannot add a PROXY protocol header`,
          ),
        );
        continue;
      }
      for (const w of e.warnings) diagnostics.push(diag('warning', 'PORTICO_WARN_L4', field, w));
      candidates.push({
        origin: `${objectLabel('ConfigMap', stored.object.metadata.namespace ?? 'default', stored.object.metadata.name)} key ${JSON.stringify(key)}`,
        listenPort: e.listenPort,
        protocol: e.protocol,
        namespace: e.namespace,
        service: e.service,
        port: e.port,
        scheduler: 'rr',
        ...(e.sendProxy ? { proxyProtocol: 'v1' as const } : {}),
        reject: (_reason, f, message) =>
          diagnostics.push(diag('error', 'PORTICO_ERR_L4_ENTRY_INVALID', f, message)),
        warn: (f, message) => diagnostics.push(diag('warning', 'PORTICO_WARN_L4', f, message)),
        accept: () => undefined,
        fields: { listenPort: field, backend: field, port: field },
      });
    }
  }

  const routes = [...input.routes].sort((a, b) => compareAge(a.object, b.object));
  for (const stored of routes) {
    const meta = stored.object.metadata;
    const namespace = meta.namespace ?? 'default';
    const key = `${namespace}/${meta.name}`;
    const diag = diagnosticsFor(stored);
    const reject = (reason: L4RouteVerdict['reason'], field: string, message: string): void => {
      diagnostics.push(diag('error', 'PORTICO_ERR_L4_ROUTE_INVALID', field, message));
      const previous = routeStatus.get(key);
      routeStatus.set(key, {
        accepted: false,
        reason: previous?.accepted === false ? previous.reason : reason,
        message: previous?.accepted === false ? `${previous.message}; ${message}` : `${field}: ${message}`,
      });
    };
    const validation = validateL4Route(stored.object);
    if (!validation.ok) {
      for (const p of validation.problems)
        diagnostics.push(diag('error', 'PORTICO_ERR_L4_ROUTE_INVALID', p.field, p.message));
      routeStatus.set(key, {
        accepted: false,
        reason: 'Invalid',
        message: describeRouteProblems(validation.problems),
      });
      continue;
    }
    const c = validation.config;
    if (isKernelMode(options.mode)) {
      const needs: string[] = [];
      if (c.proxyProtocol !== 'none') needs.push('spec.proxyProtocol');
      if (c.idleTimeoutMs !== undefined) needs.push('spec.idleTimeout');
      if (needs.length > 0) {
        for (const field of needs)
          reject(
            'UnsupportedInMode',
            field,
            `needs --l4-mode userspace: the ${options.mode} mode forwards packets in the kernel, which cannot ${field === 'spec.proxyProtocol' ? 'add a PROXY protocol header' : 'expire idle flows per route'}`,
          );
        continue;
      }
    }
    candidates.push({
      origin: objectLabel('L4Route', namespace, meta.name),
      listenPort: c.listenPort,
      protocol: c.protocol,
      namespace,
      service: c.service,
      port: c.port,
      scheduler: c.scheduler,
      ...(c.proxyProtocol !== 'none' ? { proxyProtocol: c.proxyProtocol } : {}),
      ...(c.idleTimeoutMs !== undefined ? { idleTimeoutMs: c.idleTimeoutMs } : {}),
      reject,
      warn: (field, message) => diagnostics.push(diag('warning', 'PORTICO_WARN_L4', field, message)),
      accept: (message) => routeStatus.set(key, { accepted: true, reason: 'Accepted', message }),
      fields: { listenPort: 'spec.listenPort', backend: 'spec.backend.service', port: 'spec.backend.port' },
    });
  }

  const services = resolveCandidates(candidates, input, options, reserved);
  const state: L4State = {
    services,
    ...(options.nodeIp !== undefined ? { nodeIp: options.nodeIp } : {}),
    ...(options.ipFamily !== undefined ? { ipFamily: options.ipFamily } : {}),
    ...(options.portRedirects !== undefined && options.portRedirects.length > 0
      ? { portRedirects: options.portRedirects }
      : {}),
  };
  return { state, diagnostics, routeStatus };
}

function resolveCandidates(
  candidates: readonly Candidate[],
  input: L4TranslateInput,
  options: L4TranslateOptions,
  reserved: ReadonlyMap<number, string>,
): L4Service[] {
  const servicesByKey = new Map(
    input.services.map((s) => [
      `${s.object.metadata.namespace ?? 'default'}/${s.object.metadata.name}`,
      s.object,
    ]),
  );
  const slicesByService = new Map<string, EndpointSlice[]>();
  for (const { object: slice } of input.endpointSlices) {
    const service = slice.metadata.labels?.[SERVICE_NAME_LABEL];
    if (service === undefined) continue;
    if (slice.addressType !== 'IPv4' && slice.addressType !== 'IPv6') continue;
    const key = `${slice.metadata.namespace ?? 'default'}/${service}`;
    slicesByService.set(key, [...(slicesByService.get(key) ?? []), slice]);
  }
  const listeners = new Map<string, string>();
  const exposed = new Map<string, string>();
  const out: L4Service[] = [];
  for (const c of candidates) {
    const listener = `${c.protocol} ${c.listenPort}`;
    const holder = reserved.get(c.listenPort);
    if (holder !== undefined) {
      c.reject(
        'PortConflict',
        c.fields.listenPort,
        `port ${c.listenPort} is reserved for Portico's ${holder}`,
      );
      continue;
    }
    const taken = listeners.get(listener);
    if (taken !== undefined) {
      c.reject('PortConflict', c.fields.listenPort, `${listener} is already taken by ${taken}`);
      continue;
    }
    const serviceKey = `${c.namespace}/${c.service}`;
    const service = servicesByKey.get(serviceKey);
    if (service === undefined) {
      c.reject('BackendNotFound', c.fields.backend, `Service ${serviceKey} not found`);
      continue;
    }
    if (service.spec?.type === 'ExternalName') {
      c.reject(
        'BackendNotFound',
        c.fields.backend,
        `Service ${serviceKey} is an ExternalName Service: it has no endpoints`,
      );
      continue;
    }
    const servicePort = (service.spec?.ports ?? []).find(
      (p) =>
        (typeof c.port === 'number' ? p.port === c.port : p.name === c.port) && protocolOf(p) === c.protocol,
    );
    if (servicePort === undefined) {
      c.reject(
        'BackendNotFound',
        c.fields.port,
        `Service ${serviceKey} has no ${c.protocol} port ${typeof c.port === 'number' ? c.port : JSON.stringify(c.port)}`,
      );
      continue;
    }
    const name = `${serviceKey}:${servicePort.name || String(servicePort.port)}/${c.protocol}`;
    const exposer = exposed.get(name);
    if (exposer !== undefined) {
      c.reject(
        'PortConflict',
        c.fields.port,
        `Service port ${name} is already exposed by ${exposer} (one listen port per Service port)`,
      );
      continue;
    }
    const endpoints = readyEndpoints(
      slicesByService.get(serviceKey) ?? [],
      servicePort,
      c.protocol,
      options.ipFamily,
    );
    if (endpoints.length === 0)
      c.warn(
        c.fields.port,
        `Service ${serviceKey} port ${servicePort.name || servicePort.port} has no ready endpoints: new flows are refused`,
      );
    listeners.set(listener, c.origin);
    exposed.set(name, c.origin);
    out.push({
      name,
      listenPort: c.listenPort,
      protocol: c.protocol,
      scheduler: c.scheduler,
      endpoints,
      ...(c.proxyProtocol !== undefined ? { proxyProtocol: c.proxyProtocol } : {}),
      ...(c.idleTimeoutMs !== undefined ? { idleTimeoutMs: c.idleTimeoutMs } : {}),
    });
    c.accept(`${listener} → Service ${serviceKey} port ${servicePort.name || servicePort.port}`);
  }
  return out;
}

function protocolOf(port: { readonly protocol?: string }): string {
  return port.protocol ?? 'TCP';
}

function readyEndpoints(
  slices: readonly EndpointSlice[],
  servicePort: ServicePort,
  protocol: L4Protocol,
  family: L4IpFamily | undefined,
): L4Endpoint[] {
  const unique = new Map<string, L4Endpoint>();
  for (const slice of slices) {
    const port = slice.ports?.find(
      (p) => (p.name ?? '') === (servicePort.name ?? '') && protocolOf(p) === protocol,
    )?.port;
    if (port === undefined || port === null) continue;
    for (const endpoint of slice.endpoints ?? []) {
      if (endpoint.conditions?.ready === false) continue;
      for (const address of endpoint.addresses ?? []) {
        if (family !== undefined && familyOf(address) !== family) continue;
        const id = `${address}|${port}`;
        if (!unique.has(id)) unique.set(id, { address, port });
      }
    }
  }
  return [...unique.values()].sort((a, b) => compareStrings(a.address, b.address) || a.port - b.port);
}

/** Oldest first; objects without a creation time (file mode) after those with one, then by name. */
function compareAge(a: L4Route, b: L4Route): number {
  const ta = a.metadata.creationTimestamp;
  const tb = b.metadata.creationTimestamp;
  if (ta !== undefined && tb !== undefined && ta !== tb) return compareStrings(ta, tb);
  if (ta !== undefined && tb === undefined) return -1;
  if (ta === undefined && tb !== undefined) return 1;
  return compareStrings(
    `${a.metadata.namespace ?? 'default'}/${a.metadata.name}`,
    `${b.metadata.namespace ?? 'default'}/${b.metadata.name}`,
  );
}

/**
 * The L4 service table every kernel mode renders from: what kube-proxy calls its ServicePortMap plus
 * EndpointsMap, reduced to what Portico's L4 routes need. A route listens on a port of the node (its
 * NodePort, in kube-proxy's words) and spreads new flows over the ready endpoints of one Service port.
 *
 * PURE: no I/O imports (DESIGN §6, test/unit/architecture.test.ts).
 */
import ipaddr from 'ipaddr.js';

export type L4Protocol = 'TCP' | 'UDP';

/** IPVS schedulers Portico offers (ipvsadm `-s`); iptables and nftables always pick at random. */
export type L4Scheduler = 'rr' | 'lc' | 'sh';

export type L4IpFamily = 'IPv4' | 'IPv6';

/** PROXY protocol header version sent to the backend on connect (haproxy's proxy-protocol.txt). */
export type L4ProxyProtocol = 'v1' | 'v2';

export interface L4Endpoint {
  readonly address: string;
  readonly port: number;
  /**
   * The endpoint is reachable on this node without routing through another host (a local pod, a
   * process on the node). Replies from it come back through the node even when the client's address
   * is kept, so only hairpin traffic (endpoint talking to itself through the service) is masqueraded.
   * Off-node endpoints (the default) are always masqueraded, or their replies would bypass the node.
   */
  readonly nodeLocal?: boolean;
}

export interface L4Service {
  /** `"<namespace>/<service>:<port>/<protocol>"`, e.g. `"db/postgres:5432/TCP"`: the identity chains hash. */
  readonly name: string;
  /** The port opened on the node (ingress-nginx's tcp-services key; kube-proxy's NodePort). */
  readonly listenPort: number;
  readonly protocol: L4Protocol;
  readonly scheduler: L4Scheduler;
  /** Ready endpoints only; order is irrelevant (renderers sort). */
  readonly endpoints: readonly L4Endpoint[];
  /**
   * User space only (kernel renderers ignore it; translation rejects it in kernel modes): send a
   * PROXY protocol header of this version to the backend before the client's bytes.
   */
  readonly proxyProtocol?: L4ProxyProtocol;
  /** User space only, as `proxyProtocol`: a flow idle this long is closed (UDP: forgotten). */
  readonly idleTimeoutMs?: number;
}

export interface L4State {
  readonly services: readonly L4Service[];
  /**
   * The node address services listen on. Absent: any local address (`-m addrtype --dst-type LOCAL`,
   * `fib daddr type local`), as kube-proxy's NodePorts. IPVS needs it: a virtual server is an address.
   */
  readonly nodeIp?: string;
  /** The family of an iptables or IPVS payload (one per payload, as kube-proxy runs one proxier per family). Default IPv4. */
  readonly ipFamily?: L4IpFamily;
  /** The fwmark bit meaning "masquerade this packet" (kube-proxy `--iptables-masquerade-bit`, default 14 → 0x4000). */
  readonly masqueradeBit?: number;
  /**
   * Node-port plumbing for the HTTP data plane (`--redirect-privileged-ports`): TCP traffic to the
   * node's `port` is redirected to Portico's own unprivileged listener on `toPort` (iptables
   * `REDIRECT --to-ports`, nft `redirect to :port`), so the HTTP listeners never need root or
   * NET_BIND_SERVICE. Matched like services (node address, else any local address but loopback).
   */
  readonly portRedirects?: readonly L4PortRedirect[];
}

/** One node port redirected to a local listener (TCP only: the HTTP data plane). */
export interface L4PortRedirect {
  readonly port: number;
  readonly toPort: number;
}

/** A service a renderer left out, with the field at fault (DESIGN §5: bad input never throws). */
export interface L4Rejection {
  readonly service: string;
  readonly field: string;
  readonly reason: string;
}

export interface ServicePortName {
  readonly namespace: string;
  readonly service: string;
  readonly port: string;
  readonly protocol: L4Protocol;
}

const serviceNamePattern =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-a-z0-9.]*[a-z0-9])?):([a-z0-9-]+)\/(TCP|UDP)$/;

export function parseServicePortName(name: string): ServicePortName | undefined {
  const m = serviceNamePattern.exec(name);
  if (!m) return undefined;
  return { namespace: m[1]!, service: m[3]!, port: m[5]!, protocol: m[6] as L4Protocol };
}

/** `"ns/svc:port"`, the form kube-proxy writes in rule comments (protocol dropped). */
export function serviceDisplayName(name: string): string {
  const slash = name.lastIndexOf('/');
  return slash === -1 ? name : name.slice(0, slash);
}

export function masqueradeMark(state: L4State): string {
  return `0x${(1 << (state.masqueradeBit ?? 14)).toString(16)}`;
}

// Dotted-quad without leading zeros: the only IPv4 form endpoints use; checked before ipaddr.js
// because renders classify every endpoint on every sync.
const ipv4Pattern = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

export function familyOf(address: string): L4IpFamily | undefined {
  if (ipv4Pattern.test(address)) return 'IPv4';
  if (!address.includes(':')) return undefined;
  if (!address.includes('%') && ipaddr.IPv6.isValid(address)) return 'IPv6';
  return undefined;
}

/** `ip:port`, bracketing IPv6 as iptables' `--to-destination` and ipvsadm want. */
export function hostPort(address: string, port: number): string {
  return familyOf(address) === 'IPv6' ? `[${address}]:${port}` : `${address}:${port}`;
}

function validPort(port: number): boolean {
  return Number.isInteger(port) && port >= 1 && port <= 65535;
}

export interface CheckedServices {
  readonly services: readonly L4Service[];
  readonly rejected: readonly L4Rejection[];
}

/**
 * The services a renderer can express, sorted by name, and the rest with the reason. `family`
 * limits endpoints (and the node address) to one address family; `undefined` accepts both, each
 * endpoint on its own (nftables' `inet` table).
 */
export function checkServices(state: L4State, family: L4IpFamily | undefined): CheckedServices {
  const rejected: L4Rejection[] = [];
  const services: L4Service[] = [];
  const seenNames = new Set<string>();
  const seenListeners = new Map<string, string>();
  const sorted = [...state.services].sort((a, b) => compareStrings(a.name, b.name));
  for (const service of sorted) {
    const problem = serviceProblem(service, family, seenNames, seenListeners);
    if (problem) {
      rejected.push({ service: service.name, ...problem });
      continue;
    }
    seenNames.add(service.name);
    seenListeners.set(`${service.protocol}/${service.listenPort}`, service.name);
    services.push({ ...service, endpoints: sortEndpoints(service.endpoints) });
  }
  return { services, rejected };
}

function serviceProblem(
  service: L4Service,
  family: L4IpFamily | undefined,
  seenNames: ReadonlySet<string>,
  seenListeners: ReadonlyMap<string, string>,
): { field: string; reason: string } | undefined {
  const parsed = parseServicePortName(service.name);
  if (!parsed)
    return { field: 'name', reason: `"${service.name}" is not "<namespace>/<service>:<port>/<TCP|UDP>"` };
  if (parsed.protocol !== service.protocol) {
    return { field: 'protocol', reason: `${service.protocol} does not match the name's /${parsed.protocol}` };
  }
  if (seenNames.has(service.name)) return { field: 'name', reason: 'listed twice' };
  if (!validPort(service.listenPort))
    return { field: 'listenPort', reason: `${service.listenPort} is not a port (1-65535)` };
  const holder = seenListeners.get(`${service.protocol}/${service.listenPort}`);
  if (holder)
    return {
      field: 'listenPort',
      reason: `${service.protocol} ${service.listenPort} is already taken by ${holder}`,
    };
  const seenEndpoints = new Set<string>();
  for (const [i, endpoint] of service.endpoints.entries()) {
    const endpointFamily = familyOf(endpoint.address);
    if (!endpointFamily)
      return { field: `endpoints[${i}].address`, reason: `"${endpoint.address}" is not an IP address` };
    if (family && endpointFamily !== family) {
      return {
        field: `endpoints[${i}].address`,
        reason: `${endpointFamily} address ${endpoint.address} in an ${family} ruleset (one family per payload; render the other family separately)`,
      };
    }
    if (!validPort(endpoint.port))
      return { field: `endpoints[${i}].port`, reason: `${endpoint.port} is not a port (1-65535)` };
    // hostPort without classifying the address again (every sync checks every endpoint).
    const key =
      endpointFamily === 'IPv6'
        ? `[${endpoint.address}]:${endpoint.port}`
        : `${endpoint.address}:${endpoint.port}`;
    if (seenEndpoints.has(key)) return { field: `endpoints[${i}]`, reason: `${key} listed twice` };
    seenEndpoints.add(key);
  }
  return undefined;
}

function sortEndpoints(endpoints: readonly L4Endpoint[]): readonly L4Endpoint[] {
  return [...endpoints].sort((a, b) => compareStrings(a.address, b.address) || a.port - b.port);
}

/** Code-unit order, independent of locale, so rendered text is byte-stable. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A problem with the state as a whole (not one service), e.g. a node address of the wrong family. */
export function nodeIpProblem(state: L4State, family: L4IpFamily | undefined): L4Rejection | undefined {
  if (state.nodeIp === undefined) return undefined;
  const nodeFamily = familyOf(state.nodeIp);
  if (!nodeFamily) return { service: '*', field: 'nodeIp', reason: `"${state.nodeIp}" is not an IP address` };
  if (family && nodeFamily !== family) {
    return { service: '*', field: 'nodeIp', reason: `${nodeFamily} node address in an ${family} ruleset` };
  }
  return undefined;
}

/**
 * The port redirects a renderer can express, sorted by port, and the rest with the field at fault:
 * both ports valid, not onto itself, one redirect per node port.
 */
export function checkPortRedirects(state: L4State): {
  readonly redirects: readonly L4PortRedirect[];
  readonly rejected: readonly L4Rejection[];
} {
  const redirects: L4PortRedirect[] = [];
  const rejected: L4Rejection[] = [];
  const seen = new Set<number>();
  for (const [i, redirect] of (state.portRedirects ?? []).entries()) {
    const reject = (field: string, reason: string): void => {
      rejected.push({ service: '*', field: `portRedirects[${i}].${field}`, reason });
    };
    if (!validPort(redirect.port)) reject('port', `${redirect.port} is not a port (1-65535)`);
    else if (!validPort(redirect.toPort)) reject('toPort', `${redirect.toPort} is not a port (1-65535)`);
    else if (redirect.toPort === redirect.port)
      reject('toPort', `redirects port ${redirect.port} onto itself`);
    else if (seen.has(redirect.port)) reject('port', `port ${redirect.port} is redirected twice`);
    else {
      seen.add(redirect.port);
      redirects.push({ port: redirect.port, toPort: redirect.toPort });
    }
  }
  return { redirects: redirects.sort((a, b) => a.port - b.port), rejected };
}

function serviceKey(service: L4Service): string {
  // Address and port joined by a space, which no address contains: unambiguous without classifying
  // the address (hostPort), which at 50,000 endpoints per comparison was most of its cost.
  const endpoints = sortEndpoints(service.endpoints).map(
    (e) => `${e.address} ${e.port}${e.nodeLocal ? '+local' : ''}`,
  );
  // proxyProtocol and idleTimeoutMs too: kernel modes never see them set, and user space must.
  return `${service.listenPort} ${service.protocol} ${service.scheduler} ${endpoints.join(',')} ${service.proxyProtocol ?? '-'} ${service.idleTimeoutMs ?? '-'}`;
}

/**
 * Names of services added, removed or changed between two states: what a partial sync must
 * rewrite (kube-proxy's serviceChanges/endpointsChanges, reduced to the result). Node-wide
 * settings (node address, family, mark, port redirects) are not compared: a change there needs a
 * full sync (`nodeSettingsChanged`).
 */
export function changedServices(previous: L4State, current: L4State): Set<string> {
  const before = new Map(previous.services.map((s) => [s.name, rememberedKey(s)]));
  const after = new Map(current.services.map((s) => [s.name, rememberedKey(s)]));
  const changed = new Set<string>();
  for (const [name, key] of after) if (before.get(name) !== key) changed.add(name);
  for (const name of before.keys()) if (!after.has(name)) changed.add(name);
  return changed;
}

/** Node-wide settings differ: the next sync must be full (services alone cannot express the change). */
export function nodeSettingsChanged(previous: L4State, current: L4State): boolean {
  const redirects = (s: L4State) => (s.portRedirects ?? []).map((r) => `${r.port}>${r.toPort}`).join(',');
  return (
    previous.nodeIp !== current.nodeIp ||
    (previous.ipFamily ?? 'IPv4') !== (current.ipFamily ?? 'IPv4') ||
    masqueradeMark(previous) !== masqueradeMark(current) ||
    redirects(previous) !== redirects(current)
  );
}

// Services are immutable, and each sync compares the state it applies now with the one it applied
// last, whose keys it computed then: at 5,000 services that halves the comparison.
const serviceKeys = new WeakMap<L4Service, string>();

function rememberedKey(service: L4Service): string {
  let key = serviceKeys.get(service);
  if (key === undefined) {
    key = serviceKey(service);
    serviceKeys.set(service, key);
  }
  return key;
}

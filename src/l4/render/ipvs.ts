/**
 * L4 state → IPVS: one virtual server per service on the node address with the route's scheduler,
 * one real server per ready endpoint, masquerading forward (`-m`, NAT), weight 1 — the shape of
 * kube-proxy's IPVS mode (pkg/proxy/ipvs/proxier.go) without its dummy interface, since Portico's
 * virtual addresses are the node's own. Rendered as `ipvsadm-restore` input (the format
 * `ipvsadm-save -n` prints), plus a diff against the live table so a sync writes only changes.
 *
 * IPVS does not masquerade or filter by itself; like kube-proxy, the mode needs a few iptables
 * rules beside it: mark node-port traffic for masquerade (with `net.ipv4.vs.conntrack=1` so the
 * nat table sees IPVS-forwarded packets), accept the node ports in INPUT for hosts whose policy
 * drops, and reject new flows to services without endpoints (they get no virtual server). Port
 * redirects (`--redirect-privileged-ports`) are plain nat rules, the same as in the iptables mode:
 * nat PREROUTING runs before IPVS sees the packet, so a redirected port never meets a virtual server.
 *
 * PURE: no I/O imports.
 */
import {
  checkPortRedirects,
  checkServices,
  compareStrings,
  hostPort,
  type L4Rejection,
  type L4Scheduler,
  type L4State,
  masqueradeMark,
  nodeIpProblem,
  serviceDisplayName,
} from '../model.js';
import {
  markMasqueradeChain,
  nodePortsChain,
  postroutingChain,
  redirectsChain,
  servicesChain,
} from '../naming.js';
import {
  hostMask,
  type IptablesJump,
  masqueradeRules,
  nodeAddressMatch,
  protocolMatch,
  quote,
  redirectRules,
} from './iptables.js';

export type IpvsProtocolFlag = '-t' | '-u';

export interface IpvsRealServer {
  /** `ip:port`, IPv6 bracketed, as ipvsadm prints it. */
  readonly address: string;
  /** `-m` masquerading (NAT), `-g` gatewaying (direct routing), `-i` ipip tunnelling. */
  readonly forwarding: '-m' | '-g' | '-i';
  readonly weight: number;
}

export interface IpvsVirtualServer {
  readonly protocol: IpvsProtocolFlag;
  readonly address: string;
  /** Any scheduler ipvsadm knows may appear in a live table; Portico writes rr, lc or sh. */
  readonly scheduler: L4Scheduler | (string & {});
  readonly reals: readonly IpvsRealServer[];
}

export interface IpvsStats {
  readonly virtualServers: number;
  readonly realServers: number;
  readonly companionRules: number;
}

export interface IpvsRender {
  readonly virtualServers: readonly IpvsVirtualServer[];
  /** `ipvsadm-restore` input for an empty table (`ipvsadm-restore < payload`). */
  readonly payload: string;
  /** iptables-restore `--noflush` input for the companion rules. */
  readonly companionPayload: string;
  readonly companionJumps: readonly IptablesJump[];
  /** Kernel settings the mode depends on, for the apply step to set (kube-proxy sets the same). */
  readonly sysctls: Readonly<Record<string, string>>;
  readonly stats: IpvsStats;
  readonly rejected: readonly L4Rejection[];
}

function virtualServerKey(vs: Pick<IpvsVirtualServer, 'protocol' | 'address'>): string {
  return `${vs.protocol} ${vs.address}`;
}

function formatVirtualServer(vs: IpvsVirtualServer): string {
  return `-A ${vs.protocol} ${vs.address} -s ${vs.scheduler}`;
}

function formatRealServer(vs: IpvsVirtualServer, real: IpvsRealServer, verb: '-a' | '-e'): string {
  return `${verb} ${vs.protocol} ${vs.address} -r ${real.address} ${real.forwarding} -w ${real.weight}`;
}

/** The table text as `ipvsadm-save -n` prints it, which `ipvsadm-restore` reads back. */
export function formatIpvsTable(virtualServers: readonly IpvsVirtualServer[]): string {
  const lines = virtualServers.flatMap((vs) => [
    formatVirtualServer(vs),
    ...vs.reals.map((real) => formatRealServer(vs, real, '-a')),
  ]);
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

export function ipvsJumps(): readonly IptablesJump[] {
  const portals = ['-m', 'comment', '--comment', quote('portico service portals'), '-j', servicesChain];
  return [
    { table: 'filter', chain: 'INPUT', args: portals },
    { table: 'filter', chain: 'OUTPUT', args: portals },
    { table: 'nat', chain: 'PREROUTING', args: portals },
    { table: 'nat', chain: 'OUTPUT', args: portals },
    {
      table: 'nat',
      chain: 'POSTROUTING',
      args: ['-m', 'comment', '--comment', quote('portico postrouting rules'), '-j', postroutingChain],
    },
  ];
}

export interface IpvsRenderOptions {
  /**
   * nat chains present now (`iptables-save -t nat`): a PORTICO-REDIRECTS left from when redirects
   * were on is deleted. Absent: nothing is deleted.
   */
  readonly existingChains?: ReadonlySet<string>;
}

export function renderIpvs(state: L4State, options: IpvsRenderOptions = {}): IpvsRender {
  const family = state.ipFamily ?? 'IPv4';
  const missingNode: L4Rejection | undefined =
    state.nodeIp === undefined
      ? {
          service: '*',
          field: 'nodeIp',
          reason: 'IPVS mode needs the node address: a virtual server is an address',
        }
      : nodeIpProblem(state, family);
  const checked = checkServices(state, family);
  const checkedRedirects = checkPortRedirects(state);
  const rejected = [...(missingNode ? [missingNode] : []), ...checked.rejected, ...checkedRedirects.rejected];
  const services = missingNode ? [] : checked.services;
  const redirect = redirectRules(state, family, missingNode ? [] : checkedRedirects.redirects);
  const staleRedirects = redirect.rules.length === 0 && options.existingChains?.has(redirectsChain) === true;
  const nodeIp = state.nodeIp ?? '';
  const mark = masqueradeMark(state);

  const virtualServers: IpvsVirtualServer[] = [];
  const natRules: string[] = [];
  const filterRules: string[] = [];
  for (const service of services) {
    const display = serviceDisplayName(service.name);
    const portMatch = `-d ${nodeIp}/${hostMask(family)} ${protocolMatch(service)} --dport ${service.listenPort}`;
    if (service.endpoints.length === 0) {
      filterRules.push(
        `-A ${servicesChain} -m comment --comment ${quote(`${display} has no endpoints`)} ${portMatch} -j REJECT`,
      );
      continue;
    }
    virtualServers.push({
      protocol: service.protocol === 'TCP' ? '-t' : '-u',
      address: hostPort(nodeIp, service.listenPort),
      scheduler: service.scheduler,
      reals: service.endpoints.map((endpoint) => ({
        address: hostPort(endpoint.address, endpoint.port),
        forwarding: '-m',
        weight: 1,
      })),
    });
    natRules.push(
      `-A ${nodePortsChain} -m comment --comment ${display} ${protocolMatch(service)} --dport ${service.listenPort} -j ${markMasqueradeChain}`,
    );
    filterRules.push(
      `-A ${servicesChain} -m comment --comment ${quote(`${display} node port`)} ${portMatch} -j ACCEPT`,
    );
  }

  const natAll = [
    ...masqueradeRules(mark),
    ...natRules,
    ...redirect.rules,
    ...redirect.jump,
    `-A ${servicesChain} -m comment --comment ${quote('portico ipvs node ports')} ${nodeAddressMatch(state, family)} -j ${nodePortsChain}`,
  ];
  const companion = [
    '*filter',
    `:${servicesChain} - [0:0]`,
    ...filterRules,
    'COMMIT',
    '*nat',
    `:${servicesChain} - [0:0]`,
    `:${nodePortsChain} - [0:0]`,
    `:${postroutingChain} - [0:0]`,
    `:${markMasqueradeChain} - [0:0]`,
    ...(redirect.rules.length > 0 || staleRedirects ? [`:${redirectsChain} - [0:0]`] : []),
    ...natAll,
    ...(staleRedirects ? [`-X ${redirectsChain}`] : []),
    'COMMIT',
  ];
  const forwardSysctl = family === 'IPv6' ? 'net.ipv6.conf.all.forwarding' : 'net.ipv4.ip_forward';
  return {
    virtualServers,
    payload: formatIpvsTable(virtualServers),
    companionPayload: `${companion.join('\n')}\n`,
    companionJumps: ipvsJumps(),
    // vs.conntrack: without it IPVS-forwarded packets skip the nat table and are never masqueraded.
    sysctls: { 'net.ipv4.vs.conntrack': '1', [forwardSysctl]: '1' },
    stats: {
      virtualServers: virtualServers.length,
      realServers: virtualServers.reduce((sum, vs) => sum + vs.reals.length, 0),
      companionRules: natAll.length + filterRules.length,
    },
    rejected,
  };
}

/** A line of `ipvsadm-save -n` Portico could not read, with its 1-based number. */
export interface IpvsParseProblem {
  readonly line: number;
  readonly text: string;
  readonly reason: string;
}

interface MutableVirtualServer {
  protocol: IpvsProtocolFlag;
  address: string;
  scheduler: string;
  reals: IpvsRealServer[];
}

/** Applies one save line to `byKey`; returns why it could not, if it could not. */
function parseIpvsLine(line: string, byKey: Map<string, MutableVirtualServer>): string | undefined {
  const words = line.split(/\s+/);
  const flag = (name: string): string | undefined => {
    const i = words.indexOf(name);
    return i === -1 ? undefined : words[i + 1];
  };
  const protocol: IpvsProtocolFlag | undefined = words.includes('-t')
    ? '-t'
    : words.includes('-u')
      ? '-u'
      : undefined;
  const address = protocol ? flag(protocol) : undefined;
  if (!protocol || !address) return 'not a TCP or UDP service line (-t/-u address)';
  const key = virtualServerKey({ protocol, address });
  if (words[0] === '-A') {
    byKey.set(key, { protocol, address, scheduler: flag('-s') ?? 'wlc', reals: [] });
    return undefined;
  }
  if (words[0] !== '-a') return `unknown command ${words[0]}`;
  const vs = byKey.get(key);
  const real = flag('-r');
  if (!vs) return `real server of ${key}, which was not declared before`;
  if (!real) return 'real server line without -r';
  const forwarding = words.includes('-g') ? '-g' : words.includes('-i') ? '-i' : '-m';
  const weight = Number(flag('-w') ?? '1');
  vs.reals.push({ address: real, forwarding, weight: Number.isFinite(weight) ? weight : 1 });
  return undefined;
}

/**
 * Reads `ipvsadm-save -n` output. Firewall-mark services (`-f`) and options Portico never writes
 * (persistence, netmask) are kept as far as the diff needs them: a service is its protocol and address.
 */
export function parseIpvsSave(text: string): {
  virtualServers: IpvsVirtualServer[];
  problems: IpvsParseProblem[];
} {
  const byKey = new Map<
    string,
    { protocol: IpvsProtocolFlag; address: string; scheduler: string; reals: IpvsRealServer[] }
  >();
  const problems: IpvsParseProblem[] = [];
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const problem = parseIpvsLine(line, byKey);
    if (problem) problems.push({ line: index + 1, text: raw, reason: problem });
  }
  return { virtualServers: [...byKey.values()], problems };
}

export interface IpvsDiffOptions {
  /** The node address Portico renders for: live services on it are Portico's (unless `owns` says otherwise). */
  readonly nodeIp?: string;
  /**
   * Which live virtual servers Portico owns and may delete. The IPVS table is shared by the network
   * namespace; by default a service is ours when its address is the node address (or, without
   * `nodeIp`, an address some desired service uses).
   */
  readonly owns?: (vs: IpvsVirtualServer) => boolean;
}

function hostOf(address: string): string {
  return address.replace(/:\d+$/, '');
}

/**
 * The `ipvsadm-restore` commands that turn `live` into `desired`: new services with their real
 * servers, deleted services (ours only), scheduler edits, real servers added, removed or edited.
 * Empty when nothing differs.
 */
export function diffIpvs(
  live: readonly IpvsVirtualServer[],
  desired: readonly IpvsVirtualServer[],
  options: IpvsDiffOptions = {},
): string[] {
  const ownedHosts = new Set(
    options.nodeIp !== undefined
      ? [hostOf(hostPort(options.nodeIp, 1))]
      : desired.map((vs) => hostOf(vs.address)),
  );
  const owns = options.owns ?? ((vs: IpvsVirtualServer) => ownedHosts.has(hostOf(vs.address)));
  const liveByKey = new Map(live.map((vs) => [virtualServerKey(vs), vs]));
  const desiredKeys = new Set(desired.map(virtualServerKey));
  const commands: string[] = [];
  for (const vs of [...live].sort(byKey)) {
    if (!desiredKeys.has(virtualServerKey(vs)) && owns(vs)) commands.push(`-D ${vs.protocol} ${vs.address}`);
  }
  for (const vs of [...desired].sort(byKey)) {
    const current = liveByKey.get(virtualServerKey(vs));
    if (!current) {
      commands.push(formatVirtualServer(vs), ...vs.reals.map((real) => formatRealServer(vs, real, '-a')));
      continue;
    }
    if (current.scheduler !== vs.scheduler)
      commands.push(`-E ${vs.protocol} ${vs.address} -s ${vs.scheduler}`);
    const liveReals = new Map(current.reals.map((real) => [real.address, real]));
    const wantedReals = new Set(vs.reals.map((real) => real.address));
    for (const real of [...current.reals].sort(byAddress)) {
      if (!wantedReals.has(real.address)) commands.push(`-d ${vs.protocol} ${vs.address} -r ${real.address}`);
    }
    for (const real of [...vs.reals].sort(byAddress)) {
      const existing = liveReals.get(real.address);
      if (!existing) commands.push(formatRealServer(vs, real, '-a'));
      else if (existing.forwarding !== real.forwarding || existing.weight !== real.weight) {
        commands.push(formatRealServer(vs, real, '-e'));
      }
    }
  }
  return commands;
}

function byKey(a: IpvsVirtualServer, b: IpvsVirtualServer): number {
  return compareStrings(virtualServerKey(a), virtualServerKey(b));
}

function byAddress(a: IpvsRealServer, b: IpvsRealServer): number {
  return compareStrings(a.address, b.address);
}

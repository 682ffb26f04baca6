/**
 * L4 state → an `iptables-restore --noflush` payload in kube-proxy's iptables-mode shape
 * (pkg/proxy/iptables/proxier.go `syncProxyRules`), reduced to node-port services:
 *
 *   nat    PREROUTING, OUTPUT ─▶ PORTICO-SERVICES ─(node address)─▶ PORTICO-NODEPORTS ─(proto, port)─▶
 *          PORTICO-SVC-<hash> ─(statistic random 1/(n-i))─▶ PORTICO-SEP-<hash> ─▶ mark, DNAT ip:port
 *          POSTROUTING ─▶ PORTICO-POSTROUTING: MASQUERADE what PORTICO-MARK-MASQ marked
 *   filter INPUT, OUTPUT ─▶ PORTICO-SERVICES: REJECT new flows to services without endpoints
 *
 * With port redirects (`--redirect-privileged-ports`), PORTICO-SERVICES first sends node-address
 * traffic to PORTICO-REDIRECTS, which REDIRECTs TCP 80/443 to Portico's own listeners (a nat
 * REDIRECT is a DNAT to the receiving address: PREROUTING for traffic from outside, OUTPUT for the
 * node's own). The chain exists only while there are redirects; a full sync deletes a stale one.
 *
 * The payload declares only PORTICO-* chains, so `--noflush` leaves every other chain alone. The
 * jumps from the built-in chains cannot be expressed idempotently in a restore payload (an `-A`
 * would add a duplicate on every sync), so, as kube-proxy does with `EnsureRule`, they are returned
 * separately for the apply step to ensure (`iptables -C … || iptables -I …`).
 *
 * Partial syncs (kube-proxy's non-full syncs): the top-level chains are rewritten every time (they
 * are small and reference every service), but only the SVC/SEP chains of changed services are
 * declared and rewritten; a `:CHAIN - [0:0]` line flushes an existing chain. Chains the caller says
 * exist and are no longer active are flushed and deleted (`-X`), ours only.
 *
 * PURE: no I/O imports.
 */
import {
  checkPortRedirects,
  checkServices,
  compareStrings,
  hostPort,
  type L4Endpoint,
  type L4IpFamily,
  type L4PortRedirect,
  type L4Rejection,
  type L4Service,
  type L4State,
  masqueradeMark,
  nodeIpProblem,
  serviceDisplayName,
} from '../model.js';
import {
  endpointChainName,
  isServiceChain,
  markMasqueradeChain,
  nodePortsChain,
  postroutingChain,
  redirectsChain,
  serviceChainName,
  servicesChain,
} from '../naming.js';

export type IptablesTable = 'nat' | 'filter';

/** A rule in a built-in chain that must exist once, at the top of that chain (kube-proxy's iptablesJumpChains). */
export interface IptablesJump {
  readonly table: IptablesTable;
  readonly chain: 'PREROUTING' | 'OUTPUT' | 'POSTROUTING' | 'INPUT';
  /** Arguments after `-A <chain>` / `-C <chain>` / `-I <chain> 1`. */
  readonly args: readonly string[];
}

export interface IptablesRenderOptions {
  /**
   * Names of the services whose chains must be rewritten. Absent: a full sync (every chain written).
   * Include removed services too: their chains are then found stale through `existingChains`.
   */
  readonly changedServices?: ReadonlySet<string>;
  /**
   * Chains present in the nat table now (from `iptables-save -t nat`, or what the last successful
   * sync applied). Those of ours that are no longer active are deleted. Absent: nothing is deleted.
   */
  readonly existingChains?: ReadonlySet<string>;
}

export interface IptablesStats {
  /** `-A` lines in the payload, per table. */
  readonly natRulesWritten: number;
  readonly filterRulesWritten: number;
  /** SVC/SEP chains declared (and so flushed and rewritten) in the payload. */
  readonly serviceChainsWritten: number;
  readonly chainsDeleted: number;
  /** Rules each table holds once the payload is applied (kube-proxy's sync_proxy_rules_iptables_total). */
  readonly natRulesTotal: number;
  readonly filterRulesTotal: number;
}

export interface IptablesRender {
  /** The iptables-restore input; empty when a partial sync has nothing to change. */
  readonly payload: string;
  readonly jumps: readonly IptablesJump[];
  /** Every nat chain of ours that exists once the payload is applied (input to the next sync's `existingChains`). */
  readonly activeChains: ReadonlySet<string>;
  readonly stats: IptablesStats;
  readonly rejected: readonly L4Rejection[];
}

const servicePortalsComment = 'portico service portals';

export function iptablesJumps(): readonly IptablesJump[] {
  const portals = ['-m', 'comment', '--comment', quote(servicePortalsComment), '-j', servicesChain];
  const newPortals = ['-m', 'conntrack', '--ctstate', 'NEW', ...portals];
  return [
    { table: 'filter', chain: 'INPUT', args: newPortals },
    { table: 'filter', chain: 'OUTPUT', args: newPortals },
    { table: 'nat', chain: 'PREROUTING', args: portals },
    { table: 'nat', chain: 'OUTPUT', args: portals },
    {
      table: 'nat',
      chain: 'POSTROUTING',
      args: ['-m', 'comment', '--comment', quote('portico postrouting rules'), '-j', postroutingChain],
    },
  ];
}

/** PORTICO-POSTROUTING masquerades what PORTICO-MARK-MASQ marked (kube-proxy's KUBE-POSTROUTING / KUBE-MARK-MASQ). */
export function masqueradeRules(mark: string): string[] {
  return [
    `-A ${postroutingChain} -m mark ! --mark ${mark}/${mark} -j RETURN`,
    // Clear the bit so a packet re-traversing the stack is not masqueraded twice (kube-proxy does the same).
    `-A ${postroutingChain} -j MARK --xor-mark ${mark}`,
    // --random-fully as kube-proxy (and the nft mode's `masquerade fully-random`): without it, SNAT
    // keeps the client's source port when free, and two clients behind the node can race for it.
    `-A ${postroutingChain} -m comment --comment ${quote('portico service traffic requiring SNAT')} -j MASQUERADE --random-fully`,
    `-A ${markMasqueradeChain} -j MARK --or-mark ${mark}`,
  ];
}

/** kube-proxy's `computeProbability`: Go's `%0.10f` of 1/n. */
export function probability(remaining: number): string {
  return (1 / remaining).toFixed(10);
}

/** Quotes a comment the way kube-proxy writes them: bare when it is one word. */
export function quote(text: string): string {
  return /\s/.test(text) ? `"${text}"` : text;
}

function loopbackNet(family: L4IpFamily): string {
  return family === 'IPv6' ? '::1/128' : '127.0.0.0/8';
}

export function hostMask(family: L4IpFamily): string {
  return family === 'IPv6' ? '128' : '32';
}

/** How node-port traffic is recognised: the configured node address, else any local one except loopback. */
export function nodeAddressMatch(state: L4State, family: L4IpFamily): string {
  return state.nodeIp !== undefined
    ? `-d ${state.nodeIp}/${hostMask(family)}`
    : `-m addrtype --dst-type LOCAL ! -d ${loopbackNet(family)}`;
}

export function protocolMatch(service: L4Service): string {
  const proto = service.protocol.toLowerCase();
  return `-m ${proto} -p ${proto}`;
}

/**
 * The nat rules of the port redirects: the jump from PORTICO-SERVICES (node address only, so
 * loopback and forwarded traffic keep their ports) and PORTICO-REDIRECTS itself. Empty without
 * redirects. Shared by the iptables mode and the IPVS companion rules.
 */
export function redirectRules(
  state: L4State,
  family: L4IpFamily,
  redirects: readonly L4PortRedirect[],
): { jump: string[]; rules: string[] } {
  if (redirects.length === 0) return { jump: [], rules: [] };
  return {
    jump: [
      `-A ${servicesChain} -m comment --comment ${quote('portico privileged port redirects')} ${nodeAddressMatch(state, family)} -j ${redirectsChain}`,
    ],
    rules: redirects.map(
      (r) =>
        `-A ${redirectsChain} -m comment --comment ${quote(`node port ${r.port} -> portico ${r.toPort}`)} -m tcp -p tcp --dport ${r.port} -j REDIRECT --to-ports ${r.toPort}`,
    ),
  };
}

function endpointLabel(service: L4Service, endpoint: L4Endpoint): string {
  return `${serviceDisplayName(service.name)} -> ${hostPort(endpoint.address, endpoint.port)}`;
}

/** The nat rules one service owns (its SVC chain and its SEP chains), in chain order. */
function serviceChainRules(service: L4Service, family: L4IpFamily): { chains: string[]; rules: string[] } {
  const svcChain = serviceChainName(service);
  const display = serviceDisplayName(service.name);
  const chains = [svcChain];
  const rules: string[] = [];
  const n = service.endpoints.length;
  service.endpoints.forEach((endpoint, i) => {
    const sep = endpointChainName(service, endpoint);
    const spread = i < n - 1 ? ` -m statistic --mode random --probability ${probability(n - i)}` : '';
    rules.push(
      `-A ${svcChain} -m comment --comment ${quote(endpointLabel(service, endpoint))}${spread} -j ${sep}`,
    );
  });
  for (const endpoint of service.endpoints) {
    const sep = endpointChainName(service, endpoint);
    chains.push(sep);
    if (endpoint.nodeLocal) {
      // Hairpin: the endpoint reached itself through the service; without SNAT it would answer itself directly.
      rules.push(
        `-A ${sep} -m comment --comment ${display} -s ${endpoint.address}/${hostMask(family)} -j ${markMasqueradeChain}`,
      );
    } else {
      // Off-node endpoint: its replies must come back through this node to be un-NATed.
      rules.push(
        `-A ${sep} -m comment --comment ${quote(`${display} off-node endpoint`)} -j ${markMasqueradeChain}`,
      );
    }
    rules.push(
      `-A ${sep} -m comment --comment ${display} ${protocolMatch(service)} -j DNAT --to-destination ${hostPort(endpoint.address, endpoint.port)}`,
    );
  }
  return { chains, rules };
}

/** Rules a service adds to the nat table in total, without rendering them (partial syncs skip unchanged services). */
function natRuleCount(service: L4Service): number {
  const n = service.endpoints.length;
  return n === 0 ? 0 : 1 + 3 * n; // one NODEPORTS jump; per endpoint a SVC jump, a mark and a DNAT
}

const natFixedRules = 5; // 3 in PORTICO-POSTROUTING, 1 in PORTICO-MARK-MASQ, 1 NODEPORTS jump in PORTICO-SERVICES

export function renderIptables(state: L4State, options: IptablesRenderOptions = {}): IptablesRender {
  const family = state.ipFamily ?? 'IPv4';
  const nodeProblem = nodeIpProblem(state, family);
  const checked = checkServices(state, family);
  const checkedRedirects = checkPortRedirects(state);
  const rejected = [...(nodeProblem ? [nodeProblem] : []), ...checked.rejected, ...checkedRedirects.rejected];
  // A wrong node address would make every rule wrong: render nothing new rather than something unsafe.
  const services = nodeProblem ? [] : checked.services;
  const redirect = redirectRules(state, family, nodeProblem ? [] : checkedRedirects.redirects);
  const mark = masqueradeMark(state);
  const changed = options.changedServices;
  const isChanged = (service: L4Service): boolean => changed === undefined || changed.has(service.name);

  const filterRules: string[] = [];
  const natTopRules: string[] = [];
  const natServiceChains: string[] = [];
  const natServiceRules: string[] = [];
  const activeChains = new Set<string>([
    servicesChain,
    nodePortsChain,
    markMasqueradeChain,
    postroutingChain,
  ]);
  if (redirect.rules.length > 0) activeChains.add(redirectsChain);
  let natRulesTotal = natFixedRules + redirect.jump.length + redirect.rules.length;

  for (const service of services) {
    const display = serviceDisplayName(service.name);
    if (service.endpoints.length === 0) {
      filterRules.push(
        `-A ${servicesChain} -m comment --comment ${quote(`${display} has no endpoints`)} ${nodeAddressMatch(state, family)} ${protocolMatch(service)} --dport ${service.listenPort} -j REJECT`,
      );
      continue;
    }
    natTopRules.push(
      `-A ${nodePortsChain} -m comment --comment ${display} ${protocolMatch(service)} --dport ${service.listenPort} -j ${serviceChainName(service)}`,
    );
    natRulesTotal += natRuleCount(service);
    if (!isChanged(service)) {
      // Unchanged: only the names are needed (to tell active chains from stale ones), not the rules.
      activeChains.add(serviceChainName(service));
      for (const endpoint of service.endpoints) activeChains.add(endpointChainName(service, endpoint));
      continue;
    }
    const { chains, rules } = serviceChainRules(service, family);
    for (const chain of chains) activeChains.add(chain);
    natServiceChains.push(...chains);
    natServiceRules.push(...rules);
  }

  const staleChains = [...(options.existingChains ?? [])]
    .filter((chain) => (isServiceChain(chain) || chain === redirectsChain) && !activeChains.has(chain))
    .sort(compareStrings);

  const stats: IptablesStats = {
    natRulesWritten: 0,
    filterRulesWritten: 0,
    serviceChainsWritten: 0,
    chainsDeleted: 0,
    natRulesTotal,
    filterRulesTotal: filterRules.length,
  };
  const nothingChanged = changed !== undefined && natServiceChains.length === 0 && staleChains.length === 0;
  if (nothingChanged) return { payload: '', jumps: iptablesJumps(), activeChains, stats, rejected };

  const natRules = [
    ...masqueradeRules(mark),
    ...natTopRules,
    ...natServiceRules,
    ...redirect.rules,
    ...redirect.jump,
    `-A ${servicesChain} -m comment --comment ${quote('portico service nodeports; NOTE: this must be the last rule in this chain')} ${nodeAddressMatch(state, family)} -j ${nodePortsChain}`,
  ];
  const lines = [
    '*filter',
    `:${servicesChain} - [0:0]`,
    ...filterRules,
    'COMMIT',
    '*nat',
    `:${servicesChain} - [0:0]`,
    `:${nodePortsChain} - [0:0]`,
    `:${postroutingChain} - [0:0]`,
    `:${markMasqueradeChain} - [0:0]`,
    ...(redirect.rules.length > 0 ? [`:${redirectsChain} - [0:0]`] : []),
    ...natServiceChains.map((chain) => `:${chain} - [0:0]`),
    // Declaring a stale chain flushes it, so the `-X` below cannot fail on a non-empty chain.
    ...staleChains.map((chain) => `:${chain} - [0:0]`),
    ...natRules,
    ...staleChains.map((chain) => `-X ${chain}`),
    'COMMIT',
  ];
  return {
    payload: `${lines.join('\n')}\n`,
    jumps: iptablesJumps(),
    activeChains,
    stats: {
      ...stats,
      natRulesWritten: natRules.length,
      filterRulesWritten: filterRules.length,
      serviceChainsWritten: natServiceChains.length,
      chainsDeleted: staleChains.length,
    },
    rejected,
  };
}

/** The jump rules as `iptables` argument vectors for the apply step: check first, insert at the top if missing. */
export function jumpCommands(jump: IptablesJump): { check: string[]; insert: string[] } {
  const args = jump.args.map((arg) => arg.replace(/^"(.*)"$/, '$1'));
  return {
    check: ['-w', '-t', jump.table, '-C', jump.chain, ...args],
    insert: ['-w', '-t', jump.table, '-I', jump.chain, '1', ...args],
  };
}

/**
 * The payload as `portico l4-rules` prints it: the ensured jumps as comments (iptables-restore
 * skips `#` lines), then the payload. The golden files hold this text.
 */
export function formatIptablesForAudit(render: Pick<IptablesRender, 'payload' | 'jumps'>): string {
  const jumps = render.jumps.map(
    (jump) => `# ensured: -t ${jump.table} -I ${jump.chain} 1 ${jump.args.join(' ')}`,
  );
  return `${jumps.join('\n')}\n${render.payload}`;
}

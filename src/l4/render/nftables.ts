/**
 * L4 state → an `nft -f` script for the one table Portico owns, `table inet portico`, after
 * kube-proxy's nftables mode (pkg/proxy/nftables/proxier.go): a verdict map from
 * (protocol . port) to a per-service chain replaces the linear walk of the iptables mode (one hash
 * lookup per packet). Unlike kube-proxy, off-node endpoints get no chain of their own: the service
 * chain marks for masquerade and DNATs with `numgen random mod N map { i : address . port }`, one
 * rule for all of them. Only node-local endpoints keep a chain, because their masquerade decision
 * (hairpin: the client is the endpoint itself) depends on which endpoint was picked; the service
 * chain sends their share of `numgen` there. nft (1.0.6) loads every chain of the table into its
 * cache before it applies even a one-rule script, so its fixed cost follows the chain count:
 * 5,000 chains at 5,000 services × 10 off-node endpoints instead of 55,000.
 * Commands are written one per line in the `add …` form kube-proxy's knftables emits, so full and
 * partial syncs share one vocabulary.
 *
 * Full sync: `add table` + `delete table` + the whole table, in one transaction: atomic, and it
 * cannot fail on a missing table. Partial sync (given the state the table holds): the chains of
 * changed services are flushed and rewritten, chains of ours that are no longer active are deleted,
 * and only the verdict-map elements that differ are deleted or added, as kube-proxy does. An
 * endpoint change keeps the service's chain name, so its map element is not touched. An `inet`
 * table serves IPv4 and IPv6 at once; each family spreads over its own endpoints.
 *
 * Port redirects (node-port plumbing for the HTTP listeners) are part of the fixed rules: a change
 * there needs a full sync (`nodeSettingsChanged`).
 *
 * PURE: no I/O imports.
 */
import {
  checkPortRedirects,
  checkServices,
  compareStrings,
  familyOf,
  hostPort,
  type L4Endpoint,
  type L4IpFamily,
  type L4PortRedirect,
  type L4Rejection,
  type L4Service,
  type L4State,
  masqueradeMark,
  nodeIpProblem,
  nodeSettingsChanged,
  serviceDisplayName,
} from '../model.js';
import { nftEndpointChainName, nftServiceChainName, nftTable } from '../naming.js';

export interface NftablesRenderOptions {
  /** As for iptables: absent means a full sync. */
  readonly changedServices?: ReadonlySet<string>;
  /** Chains in `table inet portico` now (from `nft list table`, or the last successful sync). */
  readonly existingChains?: ReadonlySet<string>;
  /**
   * With `changedServices`: the state the table holds (the last successful sync), whose map
   * elements the partial script diffs against. Without it a partial script cannot know which
   * elements are there and flushes and refills both maps.
   */
  readonly previous?: L4State;
}

export interface NftablesStats {
  readonly rulesWritten: number;
  readonly serviceChainsWritten: number;
  readonly chainsDeleted: number;
  /** Elements the two verdict maps hold once the script is applied. */
  readonly mapElements: number;
  /** Map elements the script deletes or adds (a full sync or a map refill: every element). */
  readonly mapElementsWritten: number;
  /** Rules the table holds once the script is applied. */
  readonly rulesTotal: number;
}

export interface NftablesRender {
  /** The `nft -f` input; empty when a partial sync has nothing to change. */
  readonly script: string;
  /** Per-service chains (`service-…`, and `endpoint-…` for node-local endpoints) that exist once the script is applied. */
  readonly activeChains: ReadonlySet<string>;
  readonly stats: NftablesStats;
  readonly rejected: readonly L4Rejection[];
}

export const nftServiceMap = 'service-nodeports';
export const nftNoEndpointMap = 'no-endpoint-nodeports';

const t = `inet ${nftTable}`;

export function isNftServiceChain(chain: string): boolean {
  return chain.startsWith('service-') || chain.startsWith('endpoint-');
}

/** The base chains, helper chains, maps and port redirects: written by full syncs only. */
function skeleton(state: L4State, redirects: readonly L4PortRedirect[]): string[] {
  const mark = masqueradeMark(state);
  const nodeMatch = nodeAddressMatch(state);
  return [
    `add table ${t} { comment "Portico L4 services" ; }`,
    `add chain ${t} nat-prerouting { type nat hook prerouting priority -100 ; }`,
    `add chain ${t} nat-output { type nat hook output priority -100 ; }`,
    `add chain ${t} nat-postrouting { type nat hook postrouting priority 100 ; }`,
    `add chain ${t} filter-input { type filter hook input priority -110 ; }`,
    `add chain ${t} filter-output { type filter hook output priority -110 ; }`,
    `add chain ${t} services`,
    `add chain ${t} nodeport-endpoints-check`,
    `add chain ${t} mark-for-masquerade`,
    `add chain ${t} masquerading`,
    `add chain ${t} reject-chain`,
    `add map ${t} ${nftServiceMap} { type inet_proto . inet_service : verdict ; comment "node port traffic" ; }`,
    `add map ${t} ${nftNoEndpointMap} { type inet_proto . inet_service : verdict ; comment "node ports of services without endpoints" ; }`,
    `add rule ${t} nat-prerouting jump services`,
    `add rule ${t} nat-output jump services`,
    `add rule ${t} nat-postrouting jump masquerading`,
    `add rule ${t} filter-input ct state new jump nodeport-endpoints-check`,
    `add rule ${t} filter-output ct state new jump nodeport-endpoints-check`,
    ...nodeMatch.exclusions.map((rule) => `add rule ${t} services ${rule}`),
    // Before the service map: checked redirects never share a port with a TCP service (see checkState).
    ...redirects.map(
      (r) =>
        `add rule ${t} services ${nodeMatch.match} tcp dport ${r.port} redirect to :${r.toPort} comment "node port ${r.port} -> portico ${r.toPort}"`,
    ),
    `add rule ${t} services ${nodeMatch.match} meta l4proto . th dport vmap @${nftServiceMap}`,
    ...nodeMatch.exclusions.map((rule) => `add rule ${t} nodeport-endpoints-check ${rule}`),
    `add rule ${t} nodeport-endpoints-check ${nodeMatch.match} meta l4proto . th dport vmap @${nftNoEndpointMap}`,
    `add rule ${t} mark-for-masquerade meta mark set meta mark or ${mark}`,
    `add rule ${t} masquerading meta mark and ${mark} == 0 return`,
    // Clear the bit so a packet re-traversing the stack is not masqueraded twice (kube-proxy does the same).
    `add rule ${t} masquerading meta mark set meta mark xor ${mark}`,
    `add rule ${t} masquerading masquerade fully-random`,
    `add rule ${t} reject-chain reject`,
  ];
}

/**
 * How node-port traffic is recognised: the configured node address, else any local address but
 * loopback (DNAT from 127.0.0.1 to another host needs route_localnet; kube-proxy excludes it too).
 * In an inet table `ip` and `ip6` matches cannot share a rule, hence separate `return` rules.
 */
function nodeAddressMatch(state: L4State): { exclusions: string[]; match: string } {
  if (state.nodeIp === undefined) {
    return {
      exclusions: ['ip daddr 127.0.0.0/8 return', 'ip6 daddr ::1 return'],
      match: 'fib daddr type local',
    };
  }
  const keyword = familyOf(state.nodeIp) === 'IPv6' ? 'ip6' : 'ip';
  return { exclusions: [], match: `${keyword} daddr ${state.nodeIp}` };
}

/** A node-local endpoint's chain: masquerade only hairpin traffic (the endpoint reaching itself), then DNAT. */
function localEndpointRules(service: L4Service, endpoint: L4Endpoint): string[] {
  const chain = nftEndpointChainName(service, endpoint);
  const ipKeyword = familyOf(endpoint.address) === 'IPv6' ? 'ip6' : 'ip';
  return [
    `add chain ${t} ${chain}`,
    `flush chain ${t} ${chain}`,
    `add rule ${t} ${chain} ${ipKeyword} saddr ${endpoint.address} jump mark-for-masquerade comment "${serviceDisplayName(service.name)} hairpin"`,
    `add rule ${t} ${chain} meta l4proto ${service.protocol.toLowerCase()} dnat ${ipKeyword} to ${hostPort(endpoint.address, endpoint.port)}`,
  ];
}

const families: readonly L4IpFamily[] = ['IPv4', 'IPv6'];

/** Checked endpoints only: their addresses are valid, so a colon means IPv6 (cheaper than familyOf at 50,000 endpoints). */
function byFamily(service: L4Service): Array<{ family: L4IpFamily; endpoints: L4Endpoint[] }> {
  return families
    .map((family) => ({
      family,
      endpoints: service.endpoints.filter((e) => e.address.includes(':') === (family === 'IPv6')),
    }))
    .filter((group) => group.endpoints.length > 0);
}

/**
 * The service chain, per address family: `numgen random mod N` over the family's endpoints, where
 * the first k values (the off-node endpoints) fall through to one mark-and-DNAT rule whose own
 * `numgen random mod k` picks among them (k/N × 1/k = 1/N each), and the rest go to the node-local
 * endpoints' chains. With both families present every rule is guarded by `meta nfproto`: a `dnat ip`
 * is a no-op on an IPv6 packet, and the mark must not be set for a family the rule does not serve.
 */
function serviceRules(service: L4Service): { lines: string[]; rules: number } {
  const chain = nftServiceChainName(service);
  const groups = byFamily(service);
  const proto = service.protocol.toLowerCase();
  const display = serviceDisplayName(service.name);
  const endpointLines: string[] = [];
  const rules: string[] = [];
  for (const { family, endpoints } of groups) {
    const guard = groups.length > 1 ? `meta nfproto ${family === 'IPv6' ? 'ipv6' : 'ipv4'} ` : '';
    const ipKeyword = family === 'IPv6' ? 'ip6' : 'ip';
    const remote = endpoints.filter((e) => !e.nodeLocal);
    const local = endpoints.filter((e) => e.nodeLocal);
    if (local.length > 0) {
      for (const endpoint of local) endpointLines.push(...localEndpointRules(service, endpoint));
      const branches = local
        .map((endpoint, i) => `${remote.length + i} : goto ${nftEndpointChainName(service, endpoint)}`)
        .join(' , ');
      rules.push(`${guard}numgen random mod ${endpoints.length} vmap { ${branches} }`);
    }
    if (remote.length > 0) {
      const target =
        remote.length === 1
          ? hostPort(remote[0]!.address, remote[0]!.port)
          : `numgen random mod ${remote.length} map { ${remote.map((e, i) => `${i} : ${e.address} . ${e.port}`).join(' , ')} }`;
      rules.push(`${guard}jump mark-for-masquerade comment "${display} off-node endpoints"`);
      rules.push(`${guard}meta l4proto ${proto} dnat ${ipKeyword} to ${target}`);
    }
  }
  // Endpoint chains first: a verdict may only name a chain that already exists.
  return {
    lines: [
      ...endpointLines,
      `add chain ${t} ${chain}`,
      `flush chain ${t} ${chain}`,
      ...rules.map((rule) => `add rule ${t} ${chain} ${rule}`),
    ],
    rules: rules.length + 2 * service.endpoints.filter((e) => e.nodeLocal).length,
  };
}

function mapKey(service: L4Service): string {
  return `${service.protocol.toLowerCase()} . ${service.listenPort}`;
}

interface MapElement {
  readonly map: typeof nftServiceMap | typeof nftNoEndpointMap;
  readonly key: string;
  readonly verdict: string;
}

interface Checked {
  /** Valid services, sorted by name. */
  readonly services: readonly L4Service[];
  readonly redirects: readonly L4PortRedirect[];
  /** `checkServices`' rejections (in name order), bad redirects, services on a redirected port (name order). */
  readonly serviceRejections: readonly L4Rejection[];
  readonly redirectRejections: readonly L4Rejection[];
  readonly collisionRejections: readonly L4Rejection[];
  readonly rejected: readonly L4Rejection[];
  /** `services` by name, built when a partial sync first diffs against this state. */
  byName?: Map<string, L4Service>;
}

/**
 * States are immutable, and the state a partial sync diffs against is the one the previous sync
 * rendered: its checked form is remembered by identity, and a partial render re-checks only the
 * changed services against it (at 5,000 services checking them all cost more than the rest of
 * the render together).
 */
const checkedMemo = new WeakMap<L4State, Checked>();

function checkedServices(state: L4State): Checked {
  let checked = checkedMemo.get(state);
  if (checked === undefined) {
    checked = checkState(state);
    checkedMemo.set(state, checked);
  }
  return checked;
}

function assemble(
  services: readonly L4Service[],
  redirects: readonly L4PortRedirect[],
  serviceRejections: readonly L4Rejection[],
  redirectRejections: readonly L4Rejection[],
  collisionRejections: readonly L4Rejection[],
): Checked {
  const rejected = [...serviceRejections, ...redirectRejections, ...collisionRejections];
  return { services, redirects, serviceRejections, redirectRejections, collisionRejections, rejected };
}

function checkState(state: L4State): Checked {
  const nodeProblem = nodeIpProblem(state, undefined);
  const checked = checkServices(state, undefined);
  const { redirects, rejected: badRedirects } = checkPortRedirects(state);
  // A wrong node address would make every rule wrong: render nothing new rather than something unsafe.
  if (nodeProblem) return assemble([], [], [nodeProblem, ...checked.rejected], [], []);
  const { services, collisions } = withoutRedirected(checked.services, redirects);
  return assemble(services, redirects, checked.rejected, badRedirects, collisions);
}

/** A redirected port is the HTTP listener's: a TCP service on it would never see a packet. */
function withoutRedirected(
  checked: readonly L4Service[],
  redirects: readonly L4PortRedirect[],
): { services: L4Service[]; collisions: L4Rejection[] } {
  const redirected = new Map(redirects.map((r) => [r.port, r]));
  const services: L4Service[] = [];
  const collisions: L4Rejection[] = [];
  for (const service of checked) {
    const redirect = service.protocol === 'TCP' ? redirected.get(service.listenPort) : undefined;
    if (redirect === undefined) services.push(service);
    else
      collisions.push({
        service: service.name,
        field: 'listenPort',
        reason: `TCP ${service.listenPort} is redirected to Portico's own listener on ${redirect.toPort} (portRedirects)`,
      });
  }
  return { services, collisions };
}

function listenerOf(service: L4Service): string {
  return `${service.protocol}/${service.listenPort}`;
}

/** Two lists sorted by name merged into one, `a` first among equals (the lists never share a name here). */
function mergeByName<T>(a: readonly T[], b: readonly T[], name: (item: T) => string): T[] {
  const out: T[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && compareStrings(name(a[i]!), name(b[j]!)) <= 0)) out.push(a[i++]!);
    else out.push(b[j++]!);
  }
  return out;
}

/**
 * `checkState(state)` computed from the previous state's checked form and the changed services
 * only, when that is sure to give the same answer: the node settings are the same, and no changed
 * service shares its name or its listener (before or after) with another service, so no verdict on
 * an unchanged service can differ. Otherwise undefined, and the caller checks the whole state.
 */
function recheck(
  state: L4State,
  previous: L4State,
  before: Checked,
  changed: ReadonlySet<string>,
): Checked | undefined {
  if (nodeSettingsChanged(previous, state) || nodeIpProblem(state, undefined)) return undefined;
  const listeners = new Map<string, number>();
  const count = (services: readonly L4Service[]) => {
    for (const service of services)
      listeners.set(listenerOf(service), (listeners.get(listenerOf(service)) ?? 0) + 1);
  };
  const now = state.services.filter((service) => changed.has(service.name));
  const then = previous.services.filter((service) => changed.has(service.name));
  if (new Set(now.map((service) => service.name)).size !== now.length) return undefined;
  count(state.services);
  if (now.some((service) => listeners.get(listenerOf(service)) !== 1)) return undefined;
  listeners.clear();
  count(previous.services);
  if (then.some((service) => listeners.get(listenerOf(service)) !== 1)) return undefined;

  const checked = checkServices({ services: now }, undefined);
  const { services, collisions } = withoutRedirected(checked.services, before.redirects);
  const kept = <T>(items: readonly T[], name: (item: T) => string) =>
    items.filter((item) => !changed.has(name(item)));
  const byService = (r: L4Rejection) => r.service;
  return assemble(
    mergeByName(
      kept(before.services, (s) => s.name),
      services,
      (s) => s.name,
    ),
    before.redirects,
    mergeByName(kept(before.serviceRejections, byService), checked.rejected, byService),
    before.redirectRejections,
    mergeByName(kept(before.collisionRejections, byService), collisions, byService),
  );
}

function mapElementOf(service: L4Service): MapElement {
  return service.endpoints.length === 0
    ? { map: nftNoEndpointMap, key: mapKey(service), verdict: 'goto reject-chain' }
    : { map: nftServiceMap, key: mapKey(service), verdict: `goto ${nftServiceChainName(service)}` };
}

function elementId(element: MapElement): string {
  return `${element.map} ${element.key}`;
}

/** `add element` (with verdicts) or `delete element` (keys only) lines, one per map, in map order. */
function elementCommands(verb: 'add' | 'delete', elements: readonly MapElement[]): string[] {
  return [nftServiceMap, nftNoEndpointMap].flatMap((map) => {
    const items = elements
      .filter((element) => element.map === map)
      .map((element) => (verb === 'add' ? `${element.key} : ${element.verdict}` : element.key));
    return items.length > 0 ? [`${verb} element ${t} ${map} { ${items.join(' , ')} }`] : [];
  });
}

/**
 * The map elements to delete and to add to turn the maps of `previous` into those of `current`.
 * A changed verdict for the same key is a delete and an add: `add element` of a key already mapped
 * elsewhere fails. Deletes come first in the script, so two services swapping ports cannot collide.
 */
function diffElements(
  previous: readonly MapElement[],
  current: readonly MapElement[],
): { deleted: MapElement[]; added: MapElement[] } {
  const before = new Map(previous.map((element) => [elementId(element), element]));
  const after = new Map(current.map((element) => [elementId(element), element]));
  const deleted = previous.filter((element) => after.get(elementId(element))?.verdict !== element.verdict);
  const added = current.filter((element) => before.get(elementId(element))?.verdict !== element.verdict);
  const byId = (a: MapElement, b: MapElement) => compareStrings(elementId(a), elementId(b));
  return { deleted: deleted.sort(byId), added: added.sort(byId) };
}

function isRule(line: string): boolean {
  return line.startsWith('add rule ');
}

/** The rules `serviceRules` writes for a service, counted without rendering them (partial syncs skip most services). */
function serviceRuleCount(service: L4Service): number {
  let count = 0;
  for (const { endpoints } of byFamily(service)) {
    const local = endpoints.filter((e) => e.nodeLocal).length;
    count += (local > 0 ? 1 + 2 * local : 0) + (local < endpoints.length ? 2 : 0);
  }
  return count;
}

/** The valid services of `checked` among `names`, by name. */
function servicesNamed(checked: Checked, names: ReadonlySet<string>): L4Service[] {
  checked.byName ??= new Map(checked.services.map((service) => [service.name, service]));
  const byName = checked.byName;
  return [...names].flatMap((name) => byName.get(name) ?? []);
}

/**
 * The checked form of `state`, and the map elements a partial script must delete and add: with
 * the previous state and a re-check of the changed services only, the elements of those services
 * (no other element can differ); otherwise every element of both states compared.
 */
function checkAndDiff(
  state: L4State,
  options: NftablesRenderOptions,
): {
  checked: Checked;
  diff?: { deleted: MapElement[]; added: MapElement[] };
  /** Unchanged services valid now but not before (a conflict with a changed one went away): their chains are missing. */
  revived?: ReadonlySet<string>;
} {
  const { changedServices: changed, previous } = options;
  const remembered = checkedMemo.get(state);
  if (changed === undefined || previous === undefined)
    return { checked: remembered ?? checkedServices(state) };
  const before = checkedServices(previous);
  const rechecked = remembered === undefined ? recheck(state, previous, before, changed) : undefined;
  if (rechecked !== undefined) {
    checkedMemo.set(state, rechecked);
    const diff = diffElements(
      servicesNamed(before, changed).map(mapElementOf),
      servicesNamed(rechecked, changed).map(mapElementOf),
    );
    return { checked: rechecked, diff };
  }
  const checked = checkedServices(state);
  before.byName ??= new Map(before.services.map((service) => [service.name, service]));
  const valid = before.byName;
  const revived = new Set(checked.services.filter((s) => !valid.has(s.name)).map((s) => s.name));
  return {
    checked,
    diff: diffElements(before.services.map(mapElementOf), checked.services.map(mapElementOf)),
    revived,
  };
}

export function renderNftables(state: L4State, options: NftablesRenderOptions = {}): NftablesRender {
  const { checked, diff, revived } = checkAndDiff(state, options);
  const { services, redirects, rejected } = checked;
  const changed = options.changedServices;

  const activeChains = new Set<string>();
  const chainLines: string[] = [];
  const fixed = skeleton(state, redirects);
  let rulesTotal = fixed.filter(isRule).length;
  for (const service of services) {
    if (service.endpoints.length === 0) continue;
    activeChains.add(nftServiceChainName(service));
    for (const endpoint of service.endpoints)
      if (endpoint.nodeLocal) activeChains.add(nftEndpointChainName(service, endpoint));
    if (changed === undefined || changed.has(service.name) || revived?.has(service.name)) {
      const rendered = serviceRules(service);
      chainLines.push(...rendered.lines);
      rulesTotal += rendered.rules;
    } else rulesTotal += serviceRuleCount(service);
  }

  const stale = [...(options.existingChains ?? [])]
    .filter((chain) => isNftServiceChain(chain) && !activeChains.has(chain))
    // Service chains jump to endpoint chains: delete the referrers first.
    .sort(
      (a, b) => Number(a.startsWith('endpoint-')) - Number(b.startsWith('endpoint-')) || compareStrings(a, b),
    );

  // Full sync: every element. Partial with the previous state: the elements that differ. Partial without it: a refill.
  let elementDeletes: string[] = [];
  let elementAdds: string[];
  let mapElementsWritten = services.length;
  let mapHead: string[] = [];
  if (diff !== undefined) {
    elementDeletes = elementCommands('delete', diff.deleted);
    elementAdds = elementCommands('add', diff.added);
    mapElementsWritten = diff.deleted.length + diff.added.length;
  } else {
    elementAdds = elementCommands('add', services.map(mapElementOf));
    if (changed !== undefined)
      mapHead = [`flush map ${t} ${nftServiceMap}`, `flush map ${t} ${nftNoEndpointMap}`];
  }

  if (
    changed !== undefined &&
    chainLines.length === 0 &&
    stale.length === 0 &&
    (diff === undefined || mapElementsWritten === 0)
  ) {
    const stats = {
      rulesWritten: 0,
      serviceChainsWritten: 0,
      chainsDeleted: 0,
      mapElements: services.length,
      mapElementsWritten: 0,
      rulesTotal,
    };
    return { script: '', activeChains, stats, rejected };
  }

  const head = changed === undefined ? [`add table ${t}`, `delete table ${t}`, ...fixed] : mapHead;
  const lines = [
    ...head,
    // Elements leave the maps before the chains they name can go, and new ones follow the chains they name.
    ...elementDeletes,
    ...chainLines,
    ...elementAdds,
    // Flushing first empties the vmaps that point to endpoint chains, so the deletes cannot fail on references.
    // A full sync replaced the table: stale chains went with it, and naming them would fail the script.
    ...(changed === undefined ? [] : stale.map((chain) => `flush chain ${t} ${chain}`)),
    ...(changed === undefined ? [] : stale.map((chain) => `delete chain ${t} ${chain}`)),
  ];
  const serviceChainsWritten = chainLines.filter((line) => line.startsWith('add chain ')).length;
  return {
    script: `${lines.join('\n')}\n`,
    activeChains,
    stats: {
      rulesWritten: lines.filter(isRule).length,
      serviceChainsWritten,
      chainsDeleted: stale.length,
      mapElements: services.length,
      mapElementsWritten,
      rulesTotal,
    },
    rejected,
  };
}

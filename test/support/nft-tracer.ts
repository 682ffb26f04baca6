/**
 * A small model of one nftables table, enough for the scripts Portico renders: apply `nft -f`
 * scripts as one transaction each (a chain must exist before a rule or a verdict names it; a
 * chain still referenced cannot be deleted), then trace a new connection through the nat and
 * filter hooks: port redirects, vmap lookup → service chain → every `numgen random mod N` branch
 * (a vmap to node-local endpoint chains, values it does not list falling through to the next rule;
 * a DNAT map over address . port) → mark → masquerading. As in the kernel's inet nat, a `dnat ip`
 * on an IPv6 packet (or `ip6` on IPv4) does nothing. Expressions it does not model throw.
 */
import ipaddr from 'ipaddr.js';
import { splitWords, type TracePacket, type TracePath, type TraceResult } from './iptables-tracer.js';

interface Chain {
  hook?: { type: string; hook: string; priority: number };
  rules: string[][];
}

interface Table {
  chains: Map<string, Chain>;
  maps: Map<string, Map<string, string>>;
}

export class NftScriptError extends Error {}

export class SimulatedNftables {
  private table: Table | undefined;

  constructor(private readonly name = 'inet portico') {}

  clone(): SimulatedNftables {
    const copy = new SimulatedNftables(this.name);
    copy.table = this.table ? cloneTable(this.table) : undefined;
    return copy;
  }

  exists(): boolean {
    return this.table !== undefined;
  }

  chainNames(): string[] {
    return [...(this.table?.chains.keys() ?? [])].sort();
  }

  ruleCount(): number {
    return [...(this.table?.chains.values() ?? [])].reduce((sum, chain) => sum + chain.rules.length, 0);
  }

  /** Chains, rules and map elements in sorted order, to compare two tables. */
  dump(): string {
    if (!this.table) return '';
    const out: string[] = [];
    for (const [name, chain] of [...this.table.chains].sort(([a], [b]) => (a < b ? -1 : 1))) {
      out.push(
        `chain ${name}${chain.hook ? ` ${chain.hook.type}/${chain.hook.hook}/${chain.hook.priority}` : ''}`,
      );
      for (const rule of chain.rules) out.push(`  ${rule.join(' ')}`);
    }
    for (const [name, elements] of [...this.table.maps].sort(([a], [b]) => (a < b ? -1 : 1))) {
      out.push(`map ${name}`);
      for (const [key, verdict] of [...elements].sort(([a], [b]) => (a < b ? -1 : 1)))
        out.push(`  ${key} : ${verdict}`);
    }
    return out.join('\n');
  }

  /** Applies a script atomically: on any error nothing changes. */
  apply(script: string): void {
    let table = this.table ? cloneTable(this.table) : undefined;
    for (const [index, raw] of script.split('\n').entries()) {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) continue;
      const fail = (reason: string): never => {
        throw new NftScriptError(`line ${index + 1} (${line}): ${reason}`);
      };
      const words = splitWords(line);
      const [verb, kind] = words;
      const target = `${words[2]} ${words[3]}`;
      if (kind === 'table') {
        if (target !== this.name) fail(`table ${target} is not ${this.name}`);
        if (verb === 'add') table ??= { chains: new Map(), maps: new Map() };
        else if (verb === 'delete') table = table ? undefined : fail('no such table');
        else fail(`unsupported ${verb} table`);
        continue;
      }
      if (target !== this.name) fail(`not table ${this.name}`);
      const t = table ?? fail('no such table');
      const name = words[4] ?? fail('missing name');
      const rest = words.slice(5);
      switch (`${verb} ${kind}`) {
        case 'add chain': {
          if (!t.chains.has(name)) t.chains.set(name, { rules: [], ...hookOf(rest) });
          break;
        }
        case 'flush chain':
          (t.chains.get(name) ?? fail(`no chain ${name}`)).rules = [];
          break;
        case 'delete chain': {
          const chain = t.chains.get(name) ?? fail(`no chain ${name}`);
          if (chain.rules.length > 0) fail(`chain ${name} is not empty`);
          for (const [other, c] of t.chains)
            if (c.rules.some((r) => referencedChains(r).includes(name))) fail(`${name} is used by ${other}`);
          for (const [map, elements] of t.maps)
            if ([...elements.values()].some((v) => v.endsWith(` ${name}`)))
              fail(`${name} is used by map ${map}`);
          t.chains.delete(name);
          break;
        }
        case 'add map':
          if (!t.maps.has(name)) t.maps.set(name, new Map());
          break;
        case 'flush map':
          (t.maps.get(name) ?? fail(`no map ${name}`)).clear();
          break;
        case 'add element': {
          const map = t.maps.get(name) ?? fail(`no map ${name}`);
          for (const [key, verdict] of elementsOf(rest)) {
            const chain = verdict.split(' ')[1] ?? '';
            if (!t.chains.has(chain)) fail(`element ${key} names missing chain ${chain}`);
            const existing = map.get(key);
            if (existing !== undefined && existing !== verdict)
              fail(`element ${key} exists with another verdict`);
            map.set(key, verdict);
          }
          break;
        }
        case 'delete element': {
          // Keys only; as the kernel, a missing element fails the whole transaction.
          const map = t.maps.get(name) ?? fail(`no map ${name}`);
          for (const [key] of elementsOf(rest))
            if (!map.delete(key)) fail(`no element ${key} in map ${name}`);
          break;
        }
        case 'add rule': {
          const chain = t.chains.get(name) ?? fail(`no chain ${name}`);
          for (const ref of referencedChains(rest))
            if (!t.chains.has(ref)) fail(`rule names missing chain ${ref}`);
          for (const map of rest.filter((w) => w.startsWith('@')))
            if (!t.maps.has(map.slice(1))) fail(`no map ${map}`);
          chain.rules.push(rest);
          break;
        }
        default:
          fail(`unsupported command ${verb} ${kind}`);
      }
    }
    this.table = table;
  }

  /** Traces a new connection, like SimulatedIptables.trace. */
  trace(packet: TracePacket, localAddresses: readonly string[]): TraceResult {
    const local = new Set(localAddresses.map((a) => ipaddr.process(a).toString()));
    const fromNode = local.has(ipaddr.process(packet.src).toString());
    const start: NftPacket = { ...packet, fromNode, mark: 0, probability: 1, endpoint: undefined };
    const paths: TracePath[] = [];
    for (const afterNat of this.hook('nat', fromNode ? 'output' : 'prerouting', start, local)) {
      const toNode = local.has(ipaddr.process(afterNat.state.dst).toString());
      const filterHook = fromNode ? 'output' : toNode ? 'input' : 'forward';
      for (const afterFilter of this.hook('filter', filterHook, afterNat.state, local)) {
        const rejected = afterFilter.verdict === 'reject';
        let masquerade = false;
        if (!rejected) {
          for (const post of this.hook('nat', 'postrouting', afterFilter.state, local))
            masquerade ||= post.verdict === 'masquerade';
        }
        paths.push({
          endpoint: afterNat.state.endpoint,
          probability: afterFilter.state.probability,
          masquerade,
          rejected,
        });
      }
    }
    paths.sort((a, b) => ((a.endpoint ?? '') < (b.endpoint ?? '') ? -1 : 1));
    return {
      endpoints: [...new Set(paths.flatMap((p) => (p.endpoint && !p.rejected ? [p.endpoint] : [])))].sort(),
      masquerade: paths.some((p) => p.masquerade),
      rejected: paths.some((p) => p.rejected),
      paths,
    };
  }

  private hook(type: string, hook: string, state: NftPacket, local: ReadonlySet<string>): NftOutcome[] {
    const base = [...(this.table?.chains.values() ?? [])].filter(
      (c) => c.hook?.type === type && c.hook.hook === hook,
    );
    if (base.length > 1) throw new Error(`more than one ${type} ${hook} chain: not modelled`);
    if (base.length === 0) return [{ state, verdict: undefined }];
    return this.run(base[0]!, state, local, 0);
  }

  private run(chain: Chain, state: NftPacket, local: ReadonlySet<string>, depth: number): NftOutcome[] {
    return this.runFrom(chain, 0, state, local, depth);
  }

  private runFrom(
    chain: Chain,
    start: number,
    state: NftPacket,
    local: ReadonlySet<string>,
    depth: number,
  ): NftOutcome[] {
    if (depth > 16) throw new Error('jump depth exceeded');
    for (let i = start; i < chain.rules.length; i++) {
      const results = this.evalRule(chain.rules[i]!, state, local, depth);
      if (results === undefined) continue; // no match
      const outcomes: NftOutcome[] = [];
      for (const result of results) {
        if (result.verdict === 'continue')
          outcomes.push(...this.runFrom(chain, i + 1, result.state, local, depth));
        else outcomes.push(result);
      }
      return outcomes;
    }
    return [{ state, verdict: undefined }];
  }

  private chain(name: string): Chain {
    const chain = this.table?.chains.get(name);
    if (!chain) throw new Error(`no chain ${name}`);
    return chain;
  }

  /** Follows a verdict: `jump` returns here (continue), `goto` does not. */
  private verdict(
    words: readonly string[],
    state: NftPacket,
    local: ReadonlySet<string>,
    depth: number,
  ): NftStep[] {
    const [kind, name] = words;
    if (kind !== 'jump' && kind !== 'goto') throw new Error(`verdict ${words.join(' ')} not modelled`);
    const outcomes = this.run(this.chain(name ?? ''), state, local, depth + 1);
    return outcomes.map((o) =>
      o.verdict === undefined || o.verdict === 'return'
        ? { state: o.state, verdict: kind === 'jump' ? 'continue' : 'return' }
        : o,
    );
  }

  /** undefined: the rule does not match. */
  private evalRule(
    rule: readonly string[],
    start: NftPacket,
    local: ReadonlySet<string>,
    depth: number,
  ): NftStep[] | undefined {
    let state = start;
    const words = rule.slice(0, rule.indexOf('comment') === -1 ? rule.length : rule.indexOf('comment'));
    let i = 0;
    const family = state.dst.includes(':') ? 'ip6' : 'ip';
    while (i < words.length) {
      const w = words[i]!;
      const rest = words.slice(i);
      if ((w === 'ip' || w === 'ip6') && (words[i + 1] === 'daddr' || words[i + 1] === 'saddr')) {
        if (w !== family) return undefined;
        const negate = words[i + 2] === '!=';
        const spec = words[i + (negate ? 3 : 2)]!;
        const address = words[i + 1] === 'daddr' ? state.dst : state.src;
        if (inNet(address, spec) === negate) return undefined;
        i += negate ? 4 : 3;
      } else if (w === 'fib' && rest.slice(0, 4).join(' ') === 'fib daddr type local') {
        if (!local.has(ipaddr.process(state.dst).toString())) return undefined;
        i += 4;
      } else if (w === 'ct' && rest.slice(0, 3).join(' ') === 'ct state new') {
        i += 3;
      } else if (w === 'meta' && words[i + 1] === 'nfproto') {
        if (words[i + 2] !== (family === 'ip6' ? 'ipv6' : 'ipv4')) return undefined;
        i += 3;
      } else if ((w === 'tcp' || w === 'udp') && words[i + 1] === 'dport') {
        if (state.proto !== w || state.dport !== Number(words[i + 2])) return undefined;
        i += 3;
      } else if (w === 'redirect') {
        const m = /^:(\d+)$/.exec(words[i + 2] ?? '');
        if (!m || words[i + 1] !== 'to') throw new Error(`redirect ${words[i + 2]} not modelled`);
        // OUTPUT redirects to loopback; PREROUTING to the receiving interface's address (here: the address asked for).
        const dst = state.fromNode ? (family === 'ip6' ? '::1' : '127.0.0.1') : state.dst;
        const dport = Number(m[1]);
        return [{ state: { ...state, dst, dport, endpoint: hostPortOf(dst, dport) }, verdict: 'dnat' }];
      } else if (w === 'meta' && rest.slice(0, 6).join(' ') === 'meta l4proto . th dport vmap') {
        const map = this.table?.maps.get((words[i + 6] ?? '').slice(1));
        if (!map) throw new Error(`no map ${words[i + 6]}`);
        const verdict = map.get(`${state.proto} . ${state.dport}`);
        return verdict === undefined ? undefined : this.verdict(verdict.split(' '), state, local, depth);
      } else if (w === 'meta' && words[i + 1] === 'l4proto' && words[i + 2] !== '.') {
        if (words[i + 2] !== state.proto) return undefined;
        i += 3;
      } else if (w === 'dnat') {
        if (words[i + 2] !== 'to' || (words[i + 1] !== 'ip' && words[i + 1] !== 'ip6'))
          throw new Error(`dnat ${words.slice(i + 1).join(' ')} not modelled`);
        // The kernel's inet nat skips a NAT statement of the other family: the rule goes on (and ends).
        if (words[i + 1] !== family) return [{ state, verdict: 'continue' }];
        const targets = dnatTargets(words.slice(i + 3));
        return targets.map(({ address, port }) => ({
          state: {
            ...state,
            dst: address,
            dport: port,
            endpoint: hostPortOf(address, port),
            probability: state.probability / targets.length,
          },
          verdict: 'dnat' as const,
        }));
      } else if (w === 'numgen') {
        const n = Number(words[i + 3]);
        const branches = numgenMap(words.slice(i), 'vmap');
        const listed = branches.map(([key]) => key);
        if (listed.some((key) => !(key >= 0 && key < n)) || new Set(listed).size !== listed.length)
          throw new Error(`numgen vmap keys ${listed.join(',')} outside 0..${n - 1} or repeated`);
        const share = { ...state, probability: state.probability / n };
        const outcomes: NftStep[] = branches.flatMap(([, verdict]) =>
          this.verdict(verdict.split(' '), share, local, depth),
        );
        // Values the map does not list match nothing: the packet goes on to the next rule.
        if (branches.length < n)
          outcomes.push({
            state: { ...state, probability: (state.probability * (n - branches.length)) / n },
            verdict: 'continue',
          });
        return outcomes;
      } else if (rest.slice(0, 5).join(' ') === 'meta mark set meta mark') {
        const op = words[i + 5];
        const value = Number(words[i + 6]);
        state = { ...state, mark: op === 'or' ? state.mark | value : state.mark ^ value };
        i += 7;
      } else if (rest.slice(0, 3).join(' ') === 'meta mark and' && words[i + 4] === '==') {
        if ((state.mark & Number(words[i + 3])) !== Number(words[i + 5])) return undefined;
        i += 6;
      } else if (w === 'jump' || w === 'goto') {
        return this.verdict(words.slice(i, i + 2), state, local, depth);
      } else if (w === 'return') {
        return [{ state, verdict: 'return' }];
      } else if (w === 'masquerade') {
        return [{ state, verdict: 'masquerade' }];
      } else if (w === 'reject') {
        return [{ state, verdict: 'reject' }];
      } else {
        throw new Error(`expression "${words.slice(i).join(' ')}" not modelled`);
      }
    }
    return [{ state, verdict: 'continue' }];
  }
}

interface NftPacket {
  /** Sent by the node itself (OUTPUT), not received (PREROUTING). */
  readonly fromNode: boolean;
  readonly src: string;
  readonly dst: string;
  readonly dport: number;
  readonly proto: 'tcp' | 'udp';
  readonly mark: number;
  readonly probability: number;
  readonly endpoint: string | undefined;
}

interface NftOutcome {
  readonly state: NftPacket;
  readonly verdict: 'return' | 'masquerade' | 'reject' | 'dnat' | undefined;
}

type NftStep = NftOutcome | { readonly state: NftPacket; readonly verdict: 'continue' };

/** `numgen random mod N map|vmap { i : value , … }` (from `numgen`) as [i, value] pairs. */
function numgenMap(words: readonly string[], kind: 'map' | 'vmap'): Array<[number, string]> {
  if (
    words[0] !== 'numgen' ||
    words[1] !== 'random' ||
    words[2] !== 'mod' ||
    words[4] !== kind ||
    words[5] !== '{'
  )
    throw new Error(`numgen form "${words.join(' ')}" not modelled`);
  const close = words.indexOf('}');
  return words
    .slice(6, close)
    .join(' ')
    .split(' , ')
    .map((element) => {
      const [key, value] = element.split(' : ');
      return [Number(key), value ?? ''];
    });
}

/** A DNAT target: `a:p`, `[a6]:p`, or `numgen random mod k map { i : a . p , … }` covering 0..k-1. */
function dnatTargets(words: readonly string[]): Array<{ address: string; port: number }> {
  if (words[0] !== 'numgen') {
    const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(words[0] ?? '');
    if (!m) throw new Error(`dnat to ${words[0]} not modelled`);
    return [{ address: m[1]!, port: Number(m[2]) }];
  }
  const n = Number(words[3]);
  const entries = numgenMap(words, 'map').sort(([a], [b]) => a - b);
  // Every value of the numgen must be mapped: an unmapped one would leave the packet un-DNATed.
  if (entries.length !== n || entries.some(([key], i) => key !== i))
    throw new Error(`dnat map keys do not cover 0..${n - 1}`);
  return entries.map(([, value]) => {
    const [address, port] = value.split(' . ');
    return { address: address ?? '', port: Number(port) };
  });
}

function hostPortOf(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

function cloneTable(table: Table): Table {
  return {
    chains: new Map([...table.chains].map(([name, chain]) => [name, { ...chain, rules: [...chain.rules] }])),
    maps: new Map([...table.maps].map(([name, elements]) => [name, new Map(elements)])),
  };
}

function hookOf(words: readonly string[]): Pick<Chain, 'hook'> {
  const text = words.join(' ');
  const m = /type (\w+) hook (\w+) priority (-?\d+)/.exec(text);
  return m ? { hook: { type: m[1]!, hook: m[2]!, priority: Number(m[3]) } } : {};
}

function elementsOf(words: readonly string[]): Array<[string, string]> {
  const body = words.slice(words.indexOf('{') + 1, words.lastIndexOf('}')).join(' ');
  return body.split(' , ').map((element) => {
    const [key, verdict] = element.split(' : ');
    return [key ?? '', verdict ?? ''];
  });
}

function referencedChains(words: readonly string[]): string[] {
  return words.flatMap((w, i) => ((w === 'jump' || w === 'goto') && words[i + 1] ? [words[i + 1]!] : []));
}

function inNet(address: string, spec: string): boolean {
  const [net, bits] = spec.includes('/') ? ipaddr.parseCIDR(spec) : [ipaddr.parse(spec), undefined];
  const addr = ipaddr.process(address);
  if (addr.kind() !== net.kind()) return false;
  return addr.match(net, bits ?? (net.kind() === 'ipv4' ? 32 : 128));
}

/**
 * A small model of the kernel's nat and filter tables, enough to evaluate what Portico renders
 * (kube-proxy's pkg/proxy/iptables testing tracer, `packetFlowTest`): apply iptables-restore
 * `--noflush` payloads to it with the kernel's rules (declared chains are created or flushed,
 * `-X` fails on a referenced or missing chain, a jump to a missing chain fails the whole table),
 * then trace a new connection `{src, dst, dport, proto}` through PREROUTING or OUTPUT, the nat
 * chains, POSTROUTING and the filter hooks. Every branch of `-m statistic` is followed with its
 * probability, so a trace lists every endpoint the packet can reach and how likely each is.
 *
 * Anything the model does not understand throws: a test must not pass on rules it did not read.
 */
import ipaddr from 'ipaddr.js';
import type { IptablesJump } from '../../src/l4/render/iptables.js';

export type TraceProtocol = 'tcp' | 'udp';

export interface TracePacket {
  readonly src: string;
  readonly dst: string;
  readonly dport: number;
  readonly proto: TraceProtocol;
}

export interface TracePath {
  /** `ip:port` the packet is DNATed (or REDIRECTed) to; undefined when no rule rewrote it. */
  readonly endpoint: string | undefined;
  /** A REDIRECT rewrote it: delivered to a local socket on the endpoint's port (absent: no REDIRECT). */
  readonly redirected?: true;
  readonly probability: number;
  readonly masquerade: boolean;
  readonly rejected: boolean;
}

export interface TraceResult {
  /** Every DNAT target some branch reaches, sorted. */
  readonly endpoints: readonly string[];
  /** True when some branch is masqueraded. */
  readonly masquerade: boolean;
  /** True when some branch is rejected in the filter table. */
  readonly rejected: boolean;
  readonly paths: readonly TracePath[];
}

const builtinChains: Readonly<Record<string, readonly string[]>> = {
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
};

const builtinTargets = new Set([
  'ACCEPT',
  'DROP',
  'RETURN',
  'REJECT',
  'DNAT',
  'SNAT',
  'MASQUERADE',
  'MARK',
  'REDIRECT',
]);

export interface ParsedRule {
  readonly chain: string;
  readonly words: readonly string[];
  readonly text: string;
  readonly line: number;
}

/** Splits a rule line into words, honouring double quotes as iptables-restore does. */
export function splitWords(line: string): string[] {
  const words: string[] = [];
  const pattern = /"([^"]*)"|(\S+)/g;
  for (const m of line.matchAll(pattern)) words.push(m[1] ?? m[2] ?? '');
  return words;
}

function targetOf(words: readonly string[]): string | undefined {
  const i = words.indexOf('-j');
  return i === -1 ? undefined : words[i + 1];
}

export class IptablesRestoreError extends Error {}

/** The chains and rules of the nat and filter tables. */
export class SimulatedIptables {
  readonly tables = new Map<string, Map<string, ParsedRule[]>>();

  constructor() {
    for (const [table, chains] of Object.entries(builtinChains)) {
      this.tables.set(table, new Map(chains.map((chain) => [chain, []])));
    }
  }

  clone(): SimulatedIptables {
    const copy = new SimulatedIptables();
    for (const [table, chains] of this.tables) {
      copy.tables.set(table, new Map([...chains].map(([chain, rules]) => [chain, [...rules]])));
    }
    return copy;
  }

  /** iptables -C … || iptables -I … 1 …, as the apply step will. */
  ensureJumps(jumps: readonly IptablesJump[]): void {
    for (const jump of jumps) {
      const rules = this.chainOf(jump.table, jump.chain);
      const text = `-A ${jump.chain} ${jump.args.join(' ')}`;
      if (rules.some((rule) => rule.text === text)) continue;
      rules.unshift({ chain: jump.chain, words: splitWords(text).slice(2), text, line: 0 });
    }
  }

  private chainOf(table: string, chain: string): ParsedRule[] {
    const rules = this.tables.get(table)?.get(chain);
    if (!rules) throw new IptablesRestoreError(`no chain ${chain} in table ${table}`);
    return rules;
  }

  /**
   * Applies a payload like `iptables-restore --noflush`: each table is one transaction, committed
   * only if every line of it is valid.
   */
  apply(payload: string): void {
    let table: string | undefined;
    let working: Map<string, ParsedRule[]> | undefined;
    for (const [index, raw] of payload.split('\n').entries()) {
      const line = raw.trim();
      const fail = (reason: string): never => {
        throw new IptablesRestoreError(`line ${index + 1} (${line}): ${reason}`);
      };
      if (line === '' || line.startsWith('#')) continue;
      if (line.startsWith('*')) {
        table = line.slice(1);
        const current = this.tables.get(table) ?? fail(`unknown table ${table}`);
        working = new Map([...current].map(([chain, rules]) => [chain, [...rules]]));
        continue;
      }
      if (!table || !working) fail('outside a table');
      const chains = working!;
      if (line === 'COMMIT') {
        for (const [chain, rules] of chains) {
          for (const rule of rules) {
            const target = targetOf(rule.words);
            if (target && !builtinTargets.has(target) && !chains.has(target)) {
              fail(`rule in ${chain} jumps to missing chain ${target}`);
            }
          }
        }
        this.tables.set(table!, chains);
        table = undefined;
        working = undefined;
        continue;
      }
      if (line.startsWith(':')) {
        const name = line.slice(1).split(/\s+/)[0] ?? '';
        // A declared user chain is created, or flushed if it exists; a built-in keeps its rules.
        if (!builtinChains[table!]?.includes(name)) chains.set(name, []);
        continue;
      }
      const words = splitWords(line);
      if (words[0] === '-A') {
        const chain = words[1] ?? '';
        const rules = chains.get(chain) ?? fail(`append to missing chain ${chain}`);
        rules.push({ chain, words: words.slice(2), text: line, line: index + 1 });
        continue;
      }
      if (words[0] === '-X') {
        const chain = words[1] ?? '';
        if (!chains.has(chain)) fail(`delete of missing chain ${chain}`);
        if ((chains.get(chain) ?? []).length > 0) fail(`delete of non-empty chain ${chain}`);
        for (const [other, rules] of chains) {
          if (rules.some((rule) => targetOf(rule.words) === chain))
            fail(`delete of ${chain}, still referenced from ${other}`);
        }
        chains.delete(chain);
        continue;
      }
      fail('unsupported command');
    }
    if (table) throw new IptablesRestoreError(`table ${table} not committed`);
  }

  chainNames(table: string): string[] {
    return [...(this.tables.get(table)?.keys() ?? [])].sort();
  }

  /** Rules in chains whose name starts with `prefix`, per table (stats cross-check). */
  ruleCount(table: string, prefix = ''): number {
    let count = 0;
    for (const [chain, rules] of this.tables.get(table) ?? [])
      if (chain.startsWith(prefix)) count += rules.length;
    return count;
  }

  /** The tables as sorted text (chains by name, rules in order), to compare two states. */
  dump(prefix = ''): string {
    const out: string[] = [];
    for (const table of [...this.tables.keys()].sort()) {
      out.push(`*${table}`);
      for (const chain of this.chainNames(table)) {
        if (!chain.startsWith(prefix)) continue;
        out.push(`:${chain}`);
        for (const rule of this.tables.get(table)?.get(chain) ?? []) out.push(rule.text);
      }
    }
    return out.join('\n');
  }

  /**
   * Traces a new connection. `localAddresses` are the node's addresses (`addrtype LOCAL`); a packet
   * whose source is one of them is locally generated and enters through OUTPUT, others through PREROUTING.
   */
  trace(packet: TracePacket, localAddresses: readonly string[]): TraceResult {
    const local = new Set(localAddresses.map((a) => ipaddr.process(a).toString()));
    const fromNode = local.has(ipaddr.process(packet.src).toString());
    const hook = fromNode ? 'OUTPUT' : 'PREROUTING';
    const start: PacketState = {
      ...packet,
      mark: 0,
      probability: 1,
      endpoint: undefined,
      redirected: false,
      hook,
    };
    const natOut = this.walk('nat', hook, start, local);
    const paths: TracePath[] = [];
    for (const afterNat of natOut) {
      if (afterNat.verdict === 'REJECT') throw new Error('REJECT in the nat table');
      const state = afterNat.state;
      const toNode = state.redirected || local.has(ipaddr.process(state.dst).toString());
      const filterChain = fromNode ? 'OUTPUT' : toNode ? 'INPUT' : 'FORWARD';
      for (const afterFilter of this.walk('filter', filterChain, state, local)) {
        const rejected = afterFilter.verdict === 'REJECT' || afterFilter.verdict === 'DROP';
        let masquerade = false;
        if (!rejected) {
          for (const post of this.walk('nat', 'POSTROUTING', afterFilter.state, local)) {
            masquerade ||= post.verdict === 'MASQUERADE';
            if (post.state.probability !== afterFilter.state.probability)
              throw new Error('random match in POSTROUTING');
          }
        }
        paths.push({
          endpoint: state.endpoint,
          ...(state.redirected ? { redirected: true as const } : {}),
          probability: afterFilter.state.probability,
          masquerade,
          rejected,
        });
      }
    }
    paths.sort((a, b) => ((a.endpoint ?? '') < (b.endpoint ?? '') ? -1 : 1));
    const endpoints = [
      ...new Set(paths.flatMap((p) => (p.endpoint && !p.rejected ? [p.endpoint] : []))),
    ].sort();
    return {
      endpoints,
      masquerade: paths.some((p) => p.masquerade),
      rejected: paths.some((p) => p.rejected),
      paths,
    };
  }

  /** Every way through a chain: the final state and the terminating verdict (undefined = fell off / policy ACCEPT). */
  private walk(
    table: string,
    chain: string,
    state: PacketState,
    local: ReadonlySet<string>,
    depth = 0,
  ): Outcome[] {
    if (depth > 32) throw new Error(`jump depth exceeded at ${chain}`);
    const rules = this.tables.get(table)?.get(chain);
    if (!rules) throw new Error(`no chain ${table}/${chain}`);
    return this.walkFrom(table, rules, 0, state, local, depth);
  }

  private walkFrom(
    table: string,
    rules: readonly ParsedRule[],
    start: number,
    state: PacketState,
    local: ReadonlySet<string>,
    depth: number,
  ): Outcome[] {
    for (let i = start; i < rules.length; i++) {
      const rule = rules[i]!;
      const match = matchRule(rule, state, local);
      if (match.probability === 0) continue;
      const outcomes: Outcome[] = [];
      if (match.probability < 1) {
        // The branch where the statistic match fails continues with the next rule.
        const notTaken = { ...state, probability: state.probability * (1 - match.probability) };
        outcomes.push(...this.walkFrom(table, rules, i + 1, notTaken, local, depth));
      }
      const taken = { ...state, probability: state.probability * match.probability };
      const target = targetOf(rule.words);
      for (const result of this.applyTarget(table, rule, target, taken, local, depth)) {
        if (result.verdict === 'continue')
          outcomes.push(...this.walkFrom(table, rules, i + 1, result.state, local, depth));
        else outcomes.push(result);
      }
      return outcomes;
    }
    return [{ state, verdict: undefined }];
  }

  private applyTarget(
    table: string,
    rule: ParsedRule,
    target: string | undefined,
    state: PacketState,
    local: ReadonlySet<string>,
    depth: number,
  ): Array<Outcome | { state: PacketState; verdict: 'continue' }> {
    const words = rule.words;
    const arg = (name: string): string => {
      const i = words.indexOf(name);
      if (i === -1 || words[i + 1] === undefined) throw new Error(`${rule.text}: ${name} missing`);
      return words[i + 1]!;
    };
    switch (target) {
      case undefined:
        return [{ state, verdict: 'continue' }];
      case 'RETURN':
        return [{ state, verdict: 'RETURN' }];
      case 'ACCEPT':
      case 'DROP':
      case 'REJECT':
      case 'MASQUERADE':
        return [{ state, verdict: target }];
      case 'MARK': {
        if (words.includes('--or-mark'))
          return [{ state: { ...state, mark: state.mark | Number(arg('--or-mark')) }, verdict: 'continue' }];
        if (words.includes('--xor-mark'))
          return [{ state: { ...state, mark: state.mark ^ Number(arg('--xor-mark')) }, verdict: 'continue' }];
        throw new Error(`${rule.text}: unsupported MARK form`);
      }
      case 'DNAT': {
        const destination = arg('--to-destination');
        const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(destination);
        if (!m) throw new Error(`${rule.text}: bad --to-destination`);
        return [
          { state: { ...state, dst: m[1]!, dport: Number(m[2]), endpoint: destination }, verdict: 'DNAT' },
        ];
      }
      case 'REDIRECT': {
        // The kernel's REDIRECT is a DNAT to the node itself: loopback for locally generated
        // packets, else the primary address of the receiving interface, which the model does not
        // know; the destination the packet already had (a local address: the rule matched it) stands for it.
        const ports = arg('--to-ports');
        if (!/^\d+$/.test(ports)) throw new Error(`${rule.text}: port ranges are not modelled`);
        if (state.hook !== 'PREROUTING' && state.hook !== 'OUTPUT')
          throw new Error(`${rule.text}: REDIRECT outside PREROUTING and OUTPUT`);
        const dst = state.hook === 'OUTPUT' ? (state.dst.includes(':') ? '::1' : '127.0.0.1') : state.dst;
        const dport = Number(ports);
        const endpoint = dst.includes(':') ? `[${dst}]:${dport}` : `${dst}:${dport}`;
        return [{ state: { ...state, dst, dport, endpoint, redirected: true }, verdict: 'REDIRECT' }];
      }
      default: {
        // A user chain: a RETURN (or falling off its end) resumes after the jump.
        return this.walk(table, target, state, local, depth + 1).map((outcome) =>
          outcome.verdict === 'RETURN' || outcome.verdict === undefined
            ? { state: outcome.state, verdict: 'continue' as const }
            : outcome,
        );
      }
    }
  }
}

interface PacketState {
  readonly src: string;
  readonly dst: string;
  readonly dport: number;
  readonly proto: TraceProtocol;
  readonly mark: number;
  readonly probability: number;
  readonly endpoint: string | undefined;
  readonly redirected: boolean;
  /** The nat hook the packet entered by (REDIRECT's address depends on it). */
  readonly hook: 'PREROUTING' | 'OUTPUT';
}

interface Outcome {
  readonly state: PacketState;
  readonly verdict: 'RETURN' | 'ACCEPT' | 'DROP' | 'REJECT' | 'MASQUERADE' | 'DNAT' | 'REDIRECT' | undefined;
}

function inNet(address: string, spec: string): boolean {
  const [net, bits] = spec.includes('/') ? ipaddr.parseCIDR(spec) : [ipaddr.parse(spec), undefined];
  const addr = ipaddr.process(address);
  const network = net.kind() === 'ipv6' ? net : ipaddr.process(net.toString());
  if (addr.kind() !== network.kind()) return false;
  return addr.match(network, bits ?? (network.kind() === 'ipv4' ? 32 : 128));
}

/** Whether `rule` matches; the probability is below 1 only for `-m statistic`. Throws on options it does not model. */
function matchRule(
  rule: ParsedRule,
  state: PacketState,
  local: ReadonlySet<string>,
): { probability: number } {
  const words = rule.words;
  let probability = 1;
  let negate = false;
  const fail = { probability: 0 };
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    const next = (): string => {
      const value = words[++i];
      if (value === undefined) throw new Error(`${rule.text}: ${word} without a value`);
      return value;
    };
    const check = (result: boolean): boolean => {
      const ok = negate ? !result : result;
      negate = false;
      return ok;
    };
    switch (word) {
      case '!':
        negate = true;
        break;
      case '-m': {
        const module = next();
        if (!['comment', 'tcp', 'udp', 'statistic', 'addrtype', 'mark', 'conntrack'].includes(module)) {
          throw new Error(`${rule.text}: module ${module} not modelled`);
        }
        break;
      }
      case '--comment':
        next();
        break;
      case '-p':
        if (!check(next() === state.proto)) return fail;
        break;
      case '--dport':
        if (!check(Number(next()) === state.dport)) return fail;
        break;
      case '-d':
        if (!check(inNet(state.dst, next()))) return fail;
        break;
      case '-s':
        if (!check(inNet(state.src, next()))) return fail;
        break;
      case '--dst-type': {
        const type = next();
        if (type !== 'LOCAL') throw new Error(`${rule.text}: dst-type ${type} not modelled`);
        if (!check(local.has(ipaddr.process(state.dst).toString()))) return fail;
        break;
      }
      case '--ctstate':
        // Traces are of new connections.
        if (!check(next().split(',').includes('NEW'))) return fail;
        break;
      case '--mark': {
        const [value, mask] = next().split('/');
        const m = Number(mask ?? '0xffffffff');
        if (!check((state.mark & m) === (Number(value) & m))) return fail;
        break;
      }
      case '--mode':
        if (next() !== 'random') throw new Error(`${rule.text}: statistic mode not modelled`);
        break;
      case '--probability':
        probability = Number(next());
        break;
      case '-j':
        // The target and its options are read by applyTarget.
        return { probability };
      default:
        throw new Error(`${rule.text}: option ${word} not modelled`);
    }
  }
  return { probability };
}

/**
 * kube-proxy-style consistency checks of one payload: it declares only our chains, appends only to
 * chains it declares, jumps only to builtin targets or chains it declares (or, for partial syncs,
 * chains that already exist), and deletes only our chains. Returns the problems, empty when sound.
 */
export function checkIptablesPayload(
  payload: string,
  options: { ours: (chain: string) => boolean; existingChains?: ReadonlySet<string> },
): string[] {
  const problems: string[] = [];
  let declared = new Set<string>();
  let table = '';
  for (const [index, line] of payload.split('\n').entries()) {
    const at = `line ${index + 1}`;
    if (line.startsWith('*')) {
      table = line.slice(1);
      declared = new Set();
    } else if (line.startsWith(':')) {
      const chain = line.slice(1).split(' ')[0] ?? '';
      if (!options.ours(chain)) problems.push(`${at}: declares ${table}/${chain}, which is not ours`);
      declared.add(chain);
    } else if (line.startsWith('-A ')) {
      const words = splitWords(line);
      const chain = words[1] ?? '';
      if (!declared.has(chain))
        problems.push(`${at}: appends to ${table}/${chain}, not declared in this payload`);
      const target = targetOf(words);
      if (target === undefined) problems.push(`${at}: rule without a target`);
      else if (!builtinTargets.has(target)) {
        if (!options.ours(target)) problems.push(`${at}: jumps to ${target}, which is not ours`);
        else if (!declared.has(target) && !(table === 'nat' && options.existingChains?.has(target))) {
          problems.push(`${at}: jumps to ${table}/${target}, neither declared nor existing`);
        }
      }
    } else if (line.startsWith('-X ')) {
      const chain = line.slice(3).trim();
      if (!options.ours(chain)) problems.push(`${at}: deletes ${chain}, which is not ours`);
      if (!declared.has(chain)) problems.push(`${at}: deletes ${chain} without flushing it first`);
    } else if (line !== 'COMMIT' && line !== '' && !line.startsWith('#')) {
      problems.push(`${at}: unexpected line ${line}`);
    }
  }
  return problems;
}

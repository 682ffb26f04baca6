/**
 * Stale UDP conntrack entries (kube-proxy's conntrack clean-up, pkg/proxy/conntrack): UDP has no
 * connection to close, so a client that keeps its source port keeps matching the conntrack entry
 * the first packet created, and with it the old NAT decision, for as long as it keeps sending.
 * Two cases need the entries gone, in the same sync that changes the rules:
 *
 * - an endpoint was removed: flows DNATed to it would go on reaching it (or a black hole);
 * - a service went from 0 to ≥1 endpoints: the packets that were rejected or dropped created
 *   un-NATed entries the nat table will never see again (it only sees a flow's first packet).
 *
 * TCP needs nothing: a new connection is a new flow, and an old one fails and is retried.
 */
import { familyOf, type L4State } from '../model.js';
import type { Exec } from './restore.js';

export interface StaleUdpFlows {
  readonly listenPort: number;
  /** The node address the service listens on, when configured (narrows the deletion). */
  readonly nodeIp?: string;
  /** Delete only flows whose replies come from this endpoint; absent: every flow to the port. */
  readonly endpointAddress?: string;
}

/** What must be deleted going from `previous` to `current` (pure). */
export function staleUdpFlows(previous: L4State | undefined, current: L4State): StaleUdpFlows[] {
  const before = new Map((previous?.services ?? []).map((s) => [s.name, s]));
  const nodeIp = current.nodeIp !== undefined ? { nodeIp: current.nodeIp } : {};
  const flows: StaleUdpFlows[] = [];
  for (const service of current.services) {
    if (service.protocol !== 'UDP') continue;
    const old = before.get(service.name);
    // The same object: nothing changed (a partial sync at 5,000 services passes most services through).
    if (old === service) continue;
    if (service.endpoints.length > 0 && (old === undefined || old.endpoints.length === 0)) {
      flows.push({ listenPort: service.listenPort, ...nodeIp });
      continue;
    }
    if (!old || old.listenPort !== service.listenPort) continue;
    const kept = new Set(service.endpoints.map((e) => e.address));
    const gone = new Set(old.endpoints.map((e) => e.address).filter((a) => !kept.has(a)));
    for (const address of [...gone].sort())
      flows.push({ listenPort: service.listenPort, endpointAddress: address, ...nodeIp });
  }
  // A removed UDP service: its flows go on to the endpoints until they expire, as kube-proxy's do.
  const currentNames = new Set(current.services.map((s) => s.name));
  for (const old of previous?.services ?? []) {
    if (old.protocol !== 'UDP' || currentNames.has(old.name)) continue;
    for (const e of old.endpoints)
      flows.push({ listenPort: old.listenPort, endpointAddress: e.address, ...nodeIp });
  }
  return flows;
}

/** The `conntrack -D` argument vector for one set of flows. */
export function conntrackDeleteArgs(flows: StaleUdpFlows): string[] {
  const family = familyOf(flows.endpointAddress ?? flows.nodeIp ?? '') === 'IPv6' ? ['-f', 'ipv6'] : [];
  return [
    'conntrack',
    '-D',
    ...family,
    '-p',
    'udp',
    ...(flows.nodeIp !== undefined ? ['--orig-dst', flows.nodeIp] : []),
    '--dport',
    String(flows.listenPort),
    ...(flows.endpointAddress !== undefined ? ['--reply-src', flows.endpointAddress] : []),
  ];
}

export interface ConntrackFailure {
  readonly argv: readonly string[];
  readonly stderr: string;
}

/**
 * Deletes the flows. "0 flow entries" is not an error (conntrack exits 1 then). Failures are
 * returned, not thrown: the rules are already right, a stale flow only lasts until it expires.
 */
export async function deleteStaleUdpFlows(
  exec: Exec,
  flows: readonly StaleUdpFlows[],
): Promise<ConntrackFailure[]> {
  const failures: ConntrackFailure[] = [];
  for (const f of flows) {
    const argv = conntrackDeleteArgs(f);
    const result = await exec(argv, { timeoutMs: 10_000 });
    if (result.code !== 0 && !/0 flow entries have been deleted/.test(result.stderr)) {
      failures.push({ argv, stderr: result.stderr.trim() });
    }
  }
  return failures;
}

/**
 * Builders for L4 states (DESIGN §7.6: builders, not literals) and the golden cases every renderer
 * is checked against.
 */
import type { L4Endpoint, L4Protocol, L4Scheduler, L4Service, L4State } from '../../src/l4/model.js';
import type { TracePacket } from './iptables-tracer.js';

export function ep(address: string, port: number, options: { nodeLocal?: boolean } = {}): L4Endpoint {
  return options.nodeLocal ? { address, port, nodeLocal: true } : { address, port };
}

export function svc(
  name: string,
  listenPort: number,
  endpoints: readonly L4Endpoint[],
  options: { scheduler?: L4Scheduler } = {},
): L4Service {
  const protocol = (name.endsWith('/UDP') ? 'UDP' : 'TCP') satisfies L4Protocol;
  return { name, listenPort, protocol, scheduler: options.scheduler ?? 'rr', endpoints };
}

export const nodeIp = '192.168.50.10';

export interface GoldenCase {
  readonly name: string;
  readonly state: L4State;
  /** For a partial sync: the state the previous (full) sync rendered, and the services that changed. */
  readonly previous?: L4State;
  readonly changed?: readonly string[];
}

const pg = (endpoints: readonly L4Endpoint[]) =>
  svc('db/postgres:5432/TCP', 5432, endpoints, { scheduler: 'lc' });

export const goldenCases: readonly GoldenCase[] = [
  {
    name: 'one-tcp-service-one-endpoint',
    state: { nodeIp, services: [pg([ep('10.244.1.5', 5432)])] },
  },
  {
    name: 'tcp-service-three-endpoints',
    state: {
      nodeIp,
      services: [
        pg([ep('10.244.1.5', 5432), ep('10.244.2.7', 5432), ep('10.244.0.3', 5432, { nodeLocal: true })]),
      ],
    },
  },
  {
    name: 'udp-service',
    state: {
      nodeIp,
      services: [
        svc('games/quake:27960/UDP', 27960, [ep('10.244.1.9', 27960), ep('10.244.2.9', 27960)], {
          scheduler: 'sh',
        }),
      ],
    },
  },
  {
    name: 'service-without-endpoints',
    state: { nodeIp, services: [svc('db/redis:6379/TCP', 6379, [])] },
  },
  {
    name: 'two-services-any-local-address',
    state: {
      services: [
        pg([ep('10.244.1.5', 5432)]),
        svc('dns/coredns:dns/UDP', 53, [ep('10.244.0.10', 53, { nodeLocal: true })]),
      ],
    },
  },
  {
    name: 'partial-sync-endpoint-change',
    previous: {
      nodeIp,
      services: [
        pg([ep('10.244.1.5', 5432), ep('10.244.2.7', 5432)]),
        svc('db/redis:6379/TCP', 6379, [ep('10.244.1.6', 6379)]),
      ],
    },
    state: {
      nodeIp,
      services: [
        pg([ep('10.244.1.5', 5432), ep('10.244.3.1', 5432)]),
        svc('db/redis:6379/TCP', 6379, [ep('10.244.1.6', 6379)]),
      ],
    },
    changed: ['db/postgres:5432/TCP'],
  },
  {
    name: 'ipv6-service',
    state: {
      nodeIp: 'fd00:50::10',
      ipFamily: 'IPv6',
      services: [pg([ep('fd00:244:1::5', 5432), ep('fd00:244:2::7', 5432)])],
    },
  },
];

/** `count` services of `endpointsEach` endpoints, for measurements. */
export function largeState(count: number, endpointsEach: number): L4State {
  const services: L4Service[] = [];
  for (let i = 0; i < count; i++) {
    const endpoints: L4Endpoint[] = [];
    for (let j = 0; j < endpointsEach; j++) {
      endpoints.push(ep(`10.${100 + (i >> 12)}.${(i >> 4) & 255}.${((i & 15) << 4) | j}`, 8080));
    }
    services.push(svc(`ns${i % 50}/svc${i}:p${i}/${i % 5 === 0 ? 'UDP' : 'TCP'}`, 10000 + i, endpoints));
  }
  return { nodeIp, services };
}

/** One state and the packets kube-proxy-style flow tables run through it (every kernel mode must agree). */
export const flowState: L4State = {
  nodeIp,
  services: [
    svc('db/postgres:5432/TCP', 5432, [ep('10.244.0.3', 5432, { nodeLocal: true }), ep('10.244.1.5', 5432)]),
    svc('dns/coredns:dns/UDP', 53, [ep('10.244.0.10', 53, { nodeLocal: true })]),
    svc('web/app:http/TCP', 8080, [
      ep('10.244.1.1', 80),
      ep('10.244.1.2', 80),
      ep('10.244.1.3', 80),
      ep('10.244.1.4', 80),
    ]),
    svc('db/redis:6379/TCP', 6379, []),
  ],
};
// The node's own addresses: its node IP, the bridge towards local pods, loopback.
export const localAddresses = [nodeIp, '10.244.0.1', '127.0.0.1'];

export const outsideClient = '203.0.113.7';
const client = outsideClient;
export const packetFlows: ReadonlyArray<{
  name: string;
  packet: TracePacket;
  want: { endpoints: string[]; masquerade: boolean; rejected: boolean };
}> = [
  {
    name: 'an outside client reaching the node port is DNATed to either endpoint and masqueraded (one endpoint is off-node)',
    packet: { src: client, dst: nodeIp, dport: 5432, proto: 'tcp' },
    want: { endpoints: ['10.244.0.3:5432', '10.244.1.5:5432'], masquerade: true, rejected: false },
  },
  {
    name: 'UDP to a node port with one node-local endpoint is DNATed and keeps the client address',
    packet: { src: client, dst: nodeIp, dport: 53, proto: 'udp' },
    want: { endpoints: ['10.244.0.10:53'], masquerade: false, rejected: false },
  },
  {
    name: 'TCP to a port only served over UDP is left alone',
    packet: { src: client, dst: nodeIp, dport: 53, proto: 'tcp' },
    want: { endpoints: [], masquerade: false, rejected: false },
  },
  {
    name: 'a port no service listens on is left alone',
    packet: { src: client, dst: nodeIp, dport: 9999, proto: 'tcp' },
    want: { endpoints: [], masquerade: false, rejected: false },
  },
  {
    name: 'a service without endpoints rejects new connections',
    packet: { src: client, dst: nodeIp, dport: 6379, proto: 'tcp' },
    want: { endpoints: [], masquerade: false, rejected: true },
  },
  {
    name: 'a node-local endpoint reaching itself through the service (hairpin) is masqueraded',
    packet: { src: '10.244.0.10', dst: nodeIp, dport: 53, proto: 'udp' },
    want: { endpoints: ['10.244.0.10:53'], masquerade: true, rejected: false },
  },
  {
    name: 'a connection from the node itself goes through OUTPUT and is DNATed the same way',
    packet: { src: nodeIp, dst: nodeIp, dport: 8080, proto: 'tcp' },
    want: {
      endpoints: ['10.244.1.1:80', '10.244.1.2:80', '10.244.1.3:80', '10.244.1.4:80'],
      masquerade: true,
      rejected: false,
    },
  },
  {
    name: 'with a node address configured, another local address of the node is not a service address',
    packet: { src: client, dst: '10.244.0.1', dport: 5432, proto: 'tcp' },
    want: { endpoints: [], masquerade: false, rejected: false },
  },
  {
    name: 'traffic to another host passing through the node is left alone',
    packet: { src: client, dst: '198.51.100.1', dport: 5432, proto: 'tcp' },
    want: { endpoints: [], masquerade: false, rejected: false },
  },
];

/**
 * Golden cases with port redirects (`--redirect-privileged-ports`): kept apart from `goldenCases`
 * so each renderer adds its goldens for them on its own (iptables and the IPVS companion here).
 */
export const redirectGoldenCases: readonly GoldenCase[] = [
  {
    name: 'port-redirects',
    state: {
      nodeIp,
      services: [pg([ep('10.244.1.5', 5432)])],
      portRedirects: [
        { port: 80, toPort: 8080 },
        { port: 443, toPort: 8443 },
      ],
    },
  },
  {
    name: 'port-redirects-any-local-address',
    state: { services: [], portRedirects: [{ port: 80, toPort: 8080 }] },
  },
];

/** The first redirect case's state, and packets through it: where a redirect applies and where it must not. */
export const redirectFlowState: L4State = redirectGoldenCases[0]!.state;
export const redirectFlows: ReadonlyArray<{
  name: string;
  packet: TracePacket;
  want: { endpoints: string[]; redirected: boolean; masquerade: boolean };
}> = [
  {
    name: 'an outside client on the node port 80 is redirected to the HTTP listener on 8080, not masqueraded',
    packet: { src: client, dst: nodeIp, dport: 80, proto: 'tcp' },
    want: { endpoints: [`${nodeIp}:8080`], redirected: true, masquerade: false },
  },
  {
    name: 'an outside client on the node port 443 is redirected to the HTTPS listener on 8443',
    packet: { src: client, dst: nodeIp, dport: 443, proto: 'tcp' },
    want: { endpoints: [`${nodeIp}:8443`], redirected: true, masquerade: false },
  },
  {
    name: 'the node itself connecting to its address on port 80 goes through OUTPUT and lands on loopback 8080',
    packet: { src: nodeIp, dst: nodeIp, dport: 80, proto: 'tcp' },
    want: { endpoints: ['127.0.0.1:8080'], redirected: true, masquerade: false },
  },
  {
    name: 'UDP to port 80 is not redirected (the HTTP data plane is TCP)',
    packet: { src: client, dst: nodeIp, dport: 80, proto: 'udp' },
    want: { endpoints: [], redirected: false, masquerade: false },
  },
  {
    name: 'another local address than the node address keeps port 80',
    packet: { src: client, dst: '10.244.0.1', dport: 80, proto: 'tcp' },
    want: { endpoints: [], redirected: false, masquerade: false },
  },
  {
    name: 'traffic to another host on port 80 passing through the node is left alone',
    packet: { src: client, dst: '198.51.100.1', dport: 80, proto: 'tcp' },
    want: { endpoints: [], redirected: false, masquerade: false },
  },
  {
    name: 'an L4 service beside the redirects is still DNATed to its endpoint',
    packet: { src: client, dst: nodeIp, dport: 5432, proto: 'tcp' },
    want: { endpoints: ['10.244.1.5:5432'], redirected: false, masquerade: true },
  },
];

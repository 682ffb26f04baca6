/**
 * Builders for L4 states (DESIGN §7.6: builders, not literals) and the golden cases every renderer
 * is checked against.
 */
import type { L4Endpoint, L4Protocol, L4Scheduler, L4Service, L4State } from '../../src/l4/model.js';

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

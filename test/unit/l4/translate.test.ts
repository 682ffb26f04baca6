/**
 * L4 configuration → L4State, one case per rule: Service port by number or name, targetPort
 * through the EndpointSlice ports (ready endpoints only), listen-port conflicts (ConfigMap first,
 * then the oldest L4Route), mode checks, and the verdict each L4Route's status gets.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { L4Service } from '../../../src/l4/model.js';
import { type L4Mode, type L4RouteVerdict, translateL4 } from '../../../src/l4/translate.js';
import type { ConfigMap, EndpointSlice, L4Route, Service } from '../../../src/model/objects.js';

const service = (
  namespace: string,
  name: string,
  ports: Service['spec'] extends infer S ? (S extends { ports?: infer P } ? P : never) : never,
  type?: string,
): Service => ({
  kind: 'Service',
  metadata: { namespace, name },
  spec: { ports, ...(type !== undefined ? { type } : {}) },
});

const slice = (
  namespace: string,
  svc: string,
  ports: NonNullable<EndpointSlice['ports']>,
  endpoints: NonNullable<EndpointSlice['endpoints']>,
  addressType = 'IPv4',
): EndpointSlice => ({
  kind: 'EndpointSlice',
  metadata: { namespace, name: `${svc}-${addressType}`, labels: { 'kubernetes.io/service-name': svc } },
  addressType,
  ports,
  endpoints,
});

const tcpServices = (data: Record<string, string>): ConfigMap => ({
  kind: 'ConfigMap',
  metadata: { namespace: 'ingress', name: 'tcp-services' },
  data,
});

const route = (name: string, spec: Record<string, unknown>, created?: string): L4Route => ({
  kind: 'L4Route',
  metadata: { namespace: 'db', name, ...(created !== undefined ? { creationTimestamp: created } : {}) },
  spec,
});

const postgres = service('db', 'postgres', [{ name: 'pg', port: 5432, targetPort: 15432, protocol: 'TCP' }]);
const postgresSlice = slice(
  'db',
  'postgres',
  [{ name: 'pg', port: 15432, protocol: 'TCP' }],
  [
    { addresses: ['10.0.0.2'] },
    { addresses: ['10.0.0.1'], conditions: { ready: true } },
    { addresses: ['10.0.0.3'], conditions: { ready: false } },
  ],
);
const readyPostgres = [
  { address: '10.0.0.1', port: 15432 },
  { address: '10.0.0.2', port: 15432 },
];

interface Case {
  readonly name: string;
  readonly configMap?: ConfigMap;
  readonly routes?: readonly L4Route[];
  readonly services?: readonly Service[];
  readonly slices?: readonly EndpointSlice[];
  readonly mode?: L4Mode;
  readonly ipFamily?: 'IPv4' | 'IPv6';
  readonly wantServices: readonly L4Service[];
  /** `code field: message` of every diagnostic, in order. */
  readonly wantDiagnostics?: readonly string[];
  readonly wantRoutes?: Readonly<Record<string, L4RouteVerdict>>;
}

const pgService = (over: Partial<L4Service> = {}): L4Service => ({
  name: 'db/postgres:pg/TCP',
  listenPort: 5432,
  protocol: 'TCP',
  scheduler: 'rr',
  endpoints: readyPostgres,
  ...over,
});

const cases: readonly Case[] = [
  {
    name: 'a ConfigMap entry by Service port number resolves to the ready endpoints on the target port',
    configMap: tcpServices({ '5432': 'db/postgres:5432' }),
    wantServices: [pgService()],
  },
  {
    name: 'a ConfigMap entry by Service port name resolves the same way',
    configMap: tcpServices({ '6000': 'db/postgres:pg' }),
    wantServices: [pgService({ listenPort: 6000 })],
  },
  {
    name: 'the second PROXY field becomes proxyProtocol v1 in user space',
    configMap: tcpServices({ '5432': 'db/postgres:5432::PROXY' }),
    wantServices: [pgService({ proxyProtocol: 'v1' })],
  },
  {
    name: 'a ConfigMap PROXY entry is rejected in a kernel mode, the others kept',
    configMap: tcpServices({ '5432': 'db/postgres:5432::PROXY', '6000': 'db/postgres:pg' }),
    mode: 'iptables',
    wantServices: [pgService({ listenPort: 6000 })],
    wantDiagnostics: [
      'PORTICO_ERR_L4_ENTRY_INVALID data["5432"]: the PROXY field needs --l4-mode userspace: the iptables mode forwards packets in the kernel, which cannot add a PROXY protocol header',
    ],
  },
  {
    name: 'a missing Service rejects the entry with its key named',
    configMap: tcpServices({ '5432': 'db/nothing:5432' }),
    wantServices: [],
    wantDiagnostics: ['PORTICO_ERR_L4_ENTRY_INVALID data["5432"]: Service db/nothing not found'],
  },
  {
    name: 'a Service port of the other protocol does not match',
    configMap: tcpServices({ '5432': 'db/dns:53' }),
    services: [service('db', 'dns', [{ port: 53, protocol: 'UDP' }])],
    wantServices: [],
    wantDiagnostics: ['PORTICO_ERR_L4_ENTRY_INVALID data["5432"]: Service db/dns has no TCP port 53'],
  },
  {
    name: 'an ExternalName Service is rejected: it has no endpoints',
    configMap: tcpServices({ '5432': 'db/ext:5432' }),
    services: [service('db', 'ext', [{ port: 5432 }], 'ExternalName')],
    wantServices: [],
    wantDiagnostics: [
      'PORTICO_ERR_L4_ENTRY_INVALID data["5432"]: Service db/ext is an ExternalName Service: it has no endpoints',
    ],
  },
  {
    name: 'a Service without ready endpoints is kept, with a warning (new flows are refused)',
    configMap: tcpServices({ '5432': 'db/postgres:5432' }),
    slices: [],
    wantServices: [pgService({ endpoints: [] })],
    wantDiagnostics: [
      'PORTICO_WARN_L4 data["5432"]: Service db/postgres port pg has no ready endpoints: new flows are refused',
    ],
  },
  {
    name: 'with an address family, endpoints of the other family are left out',
    configMap: tcpServices({ '5432': 'db/postgres:5432' }),
    slices: [
      postgresSlice,
      slice(
        'db',
        'postgres',
        [{ name: 'pg', port: 15432, protocol: 'TCP' }],
        [{ addresses: ['fd00::1'] }],
        'IPv6',
      ),
    ],
    ipFamily: 'IPv4',
    wantServices: [pgService()],
  },
  {
    name: 'an L4Route resolves like an entry, with its scheduler, and is Accepted',
    routes: [
      route('pg', { listenPort: 5432, backend: { service: 'postgres', port: 'pg' }, scheduler: 'sh' }),
    ],
    mode: 'ipvs',
    wantServices: [pgService({ scheduler: 'sh' })],
    wantRoutes: {
      'db/pg': { accepted: true, reason: 'Accepted', message: 'TCP 5432 → Service db/postgres port pg' },
    },
  },
  {
    name: 'an L4Route with PROXY protocol and an idle timeout is served in user space',
    routes: [
      route('pg', {
        listenPort: 5432,
        backend: { service: 'postgres', port: 5432 },
        proxyProtocol: 'v2',
        idleTimeout: '1m30s',
      }),
    ],
    wantServices: [pgService({ proxyProtocol: 'v2', idleTimeoutMs: 90_000 })],
    wantRoutes: {
      'db/pg': { accepted: true, reason: 'Accepted', message: 'TCP 5432 → Service db/postgres port pg' },
    },
  },
  {
    name: 'an L4Route with an idle timeout is rejected in a kernel mode with the reason',
    routes: [
      route('pg', { listenPort: 5432, backend: { service: 'postgres', port: 5432 }, idleTimeout: '30s' }),
    ],
    mode: 'nftables',
    wantServices: [],
    wantDiagnostics: [
      'PORTICO_ERR_L4_ROUTE_INVALID spec.idleTimeout: needs --l4-mode userspace: the nftables mode forwards packets in the kernel, which cannot expire idle flows per route',
    ],
    wantRoutes: {
      'db/pg': {
        accepted: false,
        reason: 'UnsupportedInMode',
        message:
          'spec.idleTimeout: needs --l4-mode userspace: the nftables mode forwards packets in the kernel, which cannot expire idle flows per route',
      },
    },
  },
  {
    name: 'an invalid L4Route names every bad field',
    routes: [route('pg', { listenPort: 0, protocol: 'SCTP', backend: { service: 'postgres' } })],
    wantServices: [],
    wantDiagnostics: [
      'PORTICO_ERR_L4_ROUTE_INVALID spec.listenPort: 0: must be a port number (1-65535)',
      'PORTICO_ERR_L4_ROUTE_INVALID spec.protocol: "SCTP": must be one of TCP, UDP',
      'PORTICO_ERR_L4_ROUTE_INVALID spec.backend.port: is required',
    ],
    wantRoutes: {
      'db/pg': {
        accepted: false,
        reason: 'Invalid',
        message:
          'spec.listenPort: 0: must be a port number (1-65535); spec.protocol: "SCTP": must be one of TCP, UDP; spec.backend.port: is required',
      },
    },
  },
  {
    name: 'on a listen-port conflict the ConfigMap wins over an L4Route',
    configMap: tcpServices({ '5432': 'db/postgres:5432' }),
    routes: [
      route('takeover', { listenPort: 5432, backend: { service: 'other', port: 1 } }, '2020-01-01T00:00:00Z'),
    ],
    services: [postgres, service('db', 'other', [{ port: 1 }])],
    wantServices: [pgService()],
    wantDiagnostics: [
      'PORTICO_ERR_L4_ROUTE_INVALID spec.listenPort: TCP 5432 is already taken by ConfigMap ingress/tcp-services key "5432"',
    ],
    wantRoutes: {
      'db/takeover': {
        accepted: false,
        reason: 'PortConflict',
        message: 'spec.listenPort: TCP 5432 is already taken by ConfigMap ingress/tcp-services key "5432"',
      },
    },
  },
  {
    name: 'between L4Routes on one listen port the oldest wins',
    routes: [
      route('newer', { listenPort: 7000, backend: { service: 'other', port: 1 } }, '2024-01-01T00:00:00Z'),
      route(
        'older',
        { listenPort: 7000, backend: { service: 'postgres', port: 5432 } },
        '2023-01-01T00:00:00Z',
      ),
    ],
    services: [postgres, service('db', 'other', [{ port: 1 }])],
    wantServices: [pgService({ listenPort: 7000 })],
    wantDiagnostics: [
      'PORTICO_ERR_L4_ROUTE_INVALID spec.listenPort: TCP 7000 is already taken by L4Route db/older',
    ],
    wantRoutes: {
      'db/older': { accepted: true, reason: 'Accepted', message: 'TCP 7000 → Service db/postgres port pg' },
      'db/newer': {
        accepted: false,
        reason: 'PortConflict',
        message: 'spec.listenPort: TCP 7000 is already taken by L4Route db/older',
      },
    },
  },
  {
    name: 'one Service port is exposed on one listen port only',
    configMap: tcpServices({ '5432': 'db/postgres:5432', '6000': 'db/postgres:pg' }),
    wantServices: [pgService()],
    wantDiagnostics: [
      'PORTICO_ERR_L4_ENTRY_INVALID data["6000"]: Service port db/postgres:pg/TCP is already exposed by ConfigMap ingress/tcp-services key "5432" (one listen port per Service port)',
    ],
  },
  {
    name: "an L4Route on a port of Portico's listeners is rejected",
    routes: [route('web', { listenPort: 80, backend: { service: 'postgres', port: 5432 } })],
    wantServices: [],
    wantDiagnostics: [
      "PORTICO_ERR_L4_ROUTE_INVALID spec.listenPort: port 80 is reserved for Portico's --http-port",
    ],
    wantRoutes: {
      'db/web': {
        accepted: false,
        reason: 'PortConflict',
        message: "spec.listenPort: port 80 is reserved for Portico's --http-port",
      },
    },
  },
];

for (const c of cases) {
  test(c.name, () => {
    const stored = <T>(object: T) => ({ object });
    const result = translateL4(
      {
        configMaps: c.configMap ? [stored(c.configMap)] : [],
        routes: (c.routes ?? []).map(stored),
        services: (c.services ?? [postgres]).map(stored),
        endpointSlices: (c.slices ?? [postgresSlice]).map(stored),
      },
      {
        mode: c.mode ?? 'userspace',
        ...(c.configMap ? { tcpServicesConfigMap: { namespace: 'ingress', name: 'tcp-services' } } : {}),
        reservedPorts: new Map([[80, '--http-port']]),
        ...(c.ipFamily !== undefined ? { ipFamily: c.ipFamily } : {}),
      },
    );
    assert.deepEqual(result.state.services, c.wantServices);
    if (c.wantDiagnostics !== undefined)
      assert.deepEqual(
        result.diagnostics.map((d) => `${d.code} ${d.field}: ${d.message}`),
        c.wantDiagnostics,
      );
    if (c.wantRoutes !== undefined) assert.deepEqual(Object.fromEntries(result.routeStatus), c.wantRoutes);
  });
}

test('a named ConfigMap that does not exist is a warning, not an error', () => {
  const result = translateL4(
    { configMaps: [], routes: [], services: [], endpointSlices: [] },
    { mode: 'userspace', udpServicesConfigMap: { namespace: 'ingress', name: 'udp-services' } },
  );
  assert.deepEqual(result.state.services, []);
  assert.deepEqual(
    result.diagnostics.map((d) => [d.severity, d.object, d.message]),
    [
      [
        'warning',
        'ConfigMap ingress/udp-services',
        'not found: no UDP services from --udp-services-configmap until it exists',
      ],
    ],
  );
});

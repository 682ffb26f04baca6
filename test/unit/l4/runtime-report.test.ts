/**
 * The L4 runtime's diagnostics as operators see them: rejected L4Routes and services ConfigMap
 * entries count in `portico_config_rejected_objects` (kinds L4Route and ServicesConfigMapEntry,
 * back to 0 once fixed, as rejected Ingresses do), and `report()` (the `l4` part of the admin
 * `/routes`) lists what is served, each route's verdict and every diagnostic. User-space mode on
 * 127.0.0.1, so the one accepted service opens a loopback listener and nothing else.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { L4_REJECTED_KINDS, L4Runtime } from '../../../src/l4/runtime.js';
import { silentLogger } from '../../../src/log/logger.js';
import { PorticoMetrics } from '../../../src/metrics/registry.js';
import type { ConfigMap, EndpointSlice, L4Route, Service } from '../../../src/model/objects.js';
import { ObjectStore } from '../../../src/store/object-store.js';
import { freePort } from '../../support/redis.js';

const postgres: Service = {
  kind: 'Service',
  metadata: { namespace: 'db', name: 'postgres' },
  spec: { ports: [{ port: 5432, protocol: 'TCP' }] },
};
const postgresSlice: EndpointSlice = {
  kind: 'EndpointSlice',
  metadata: { namespace: 'db', name: 'postgres-1', labels: { 'kubernetes.io/service-name': 'postgres' } },
  addressType: 'IPv4',
  ports: [{ port: 15432, protocol: 'TCP' }],
  endpoints: [{ addresses: ['127.0.0.1'] }],
};
const route = (name: string, spec: Record<string, unknown>): L4Route => ({
  kind: 'L4Route',
  metadata: { namespace: 'db', name },
  spec,
});

let store: ObjectStore;
let metrics: PorticoMetrics;
let runtime: L4Runtime;
let listenPort: number;

async function rejected(): Promise<Record<string, number>> {
  const values = (await metrics.rejectedObjects.get()).values;
  return Object.fromEntries(values.map((v) => [String(v.labels['kind']), v.value]));
}

before(async () => {
  listenPort = await freePort();
  store = new ObjectStore();
  metrics = new PorticoMetrics();
  const tcpServices: ConfigMap = {
    kind: 'ConfigMap',
    metadata: { namespace: 'ingress', name: 'tcp-services' },
    data: {
      [String(listenPort)]: 'db/postgres:5432',
      '70000': 'db/postgres:5432',
      '7001': 'not-a-backend',
    },
  };
  for (const object of [postgres, postgresSlice, tcpServices]) store.upsert(object);
  store.upsert(route('bad', { listenPort: 'x' }));
  store.upsert(route('gone', { listenPort: 7002, backend: { service: 'gone', port: 1 } }));
  runtime = new L4Runtime({
    store,
    translate: { mode: 'userspace', tcpServicesConfigMap: { namespace: 'ingress', name: 'tcp-services' } },
    logger: silentLogger(),
    bindAddress: '127.0.0.1',
    metrics,
  });
  await runtime.syncNow();
});

after(async () => {
  await runtime.stop();
});

test('rejected L4Routes and services ConfigMap entries count in portico_config_rejected_objects', async () => {
  assert.deepEqual(await rejected(), {
    [L4_REJECTED_KINDS.route]: 2,
    [L4_REJECTED_KINDS.entry]: 2,
  });
});

test('the report lists the served service, the verdict of each route and the diagnostics naming object and field', () => {
  const report = runtime.report();
  assert.equal(report.mode, 'userspace');
  assert.deepEqual(report.services, [
    { name: 'db/postgres:5432/TCP', listenPort, protocol: 'TCP', endpoints: ['127.0.0.1:15432'] },
  ]);
  assert.deepEqual(report.notServed, []);
  assert.equal(report.routes['db/bad']?.reason, 'Invalid');
  assert.equal(report.routes['db/gone']?.reason, 'BackendNotFound');
  const errors = report.diagnostics
    .filter((d) => d.severity === 'error')
    .map((d) => `${d.object} ${d.field}`)
    .sort();
  // db/bad has two faults: two diagnostics, one rejected object in the count above.
  assert.deepEqual(errors, [
    'ConfigMap ingress/tcp-services data["70000"]',
    'ConfigMap ingress/tcp-services data["7001"]',
    'L4Route db/bad spec.backend',
    'L4Route db/bad spec.listenPort',
    'L4Route db/gone spec.backend.service',
  ]);
});

test('once the objects are fixed or removed the counts go back to 0', async () => {
  store.remove('L4Route', 'db', 'bad');
  store.remove('L4Route', 'db', 'gone');
  store.upsert({
    kind: 'ConfigMap',
    metadata: { namespace: 'ingress', name: 'tcp-services' },
    data: { [String(listenPort)]: 'db/postgres:5432' },
  } satisfies ConfigMap);
  await runtime.syncNow();
  assert.deepEqual(await rejected(), { [L4_REJECTED_KINDS.route]: 0, [L4_REJECTED_KINDS.entry]: 0 });
  assert.deepEqual(runtime.report().routes, {});
});

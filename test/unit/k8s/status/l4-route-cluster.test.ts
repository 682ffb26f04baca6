/**
 * Cluster mode for L4Route, through the real `@kubernetes/client-node` against the fake API server:
 * the informers deliver L4Routes, the named tcp-services ConfigMap, Services and EndpointSlices,
 * and the leader writes each route's `status.mode` and `Accepted` condition as the L4 translation
 * decides (accepted; a port the ConfigMap holds; a feature the kernel mode lacks). Every request
 * is one permissions.ts allows.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import type { ClusterConfig } from '../../../../src/cli/flags.js';
import { l4TranslateOptionsFor } from '../../../../src/cli/l4-options.js';
import { Controller } from '../../../../src/controller/loop.js';
import { defaultPipeline } from '../../../../src/controller/pipeline.js';
import { clientTransports } from '../../../../src/k8s/client.js';
import { fromApiObject } from '../../../../src/k8s/convert.js';
import { REQUIRED_PERMISSIONS } from '../../../../src/k8s/permissions.js';
import {
  type ClusterReporting,
  createClusterReportingWith,
  createReportingApis,
} from '../../../../src/k8s/reporting.js';
import { ClusterSource } from '../../../../src/k8s/source.js';
import { desiredL4RouteStatus } from '../../../../src/k8s/status/l4-route.js';
import { translateL4 } from '../../../../src/l4/translate.js';
import { silentLogger } from '../../../../src/log/logger.js';
import { PorticoMetrics } from '../../../../src/metrics/registry.js';
import type { Condition, L4Route } from '../../../../src/model/objects.js';
import { type FakeApiServer, startFakeApiServer } from '../../../support/fake-apiserver/index.js';
import { waitFor } from '../../fake-apiserver/helpers.js';

const TRANSLATE = {
  controllerClass: 'portico.dev/ingress-controller',
  ingressClass: 'portico',
  watchIngressWithoutClass: false,
} as const;

const CLUSTER: ClusterConfig = {
  watchNamespaces: [],
  publishStatusAddresses: [],
  election: {
    leaseName: 'portico-leader',
    namespace: 'default',
    identity: 'portico-a',
    leaseDurationMs: 1_500,
    renewDeadlineMs: 1_000,
    retryPeriodMs: 200,
  },
};

const TCP_SERVICES = { namespace: 'ingress', name: 'tcp-services' };
const L4 = l4TranslateOptionsFor({
  proxy: { httpPort: 80, httpsPort: 443, adminPort: 10254 } as Parameters<
    typeof l4TranslateOptionsFor
  >[0]['proxy'],
  l4: {
    mode: 'iptables',
    tcpServicesConfigMap: TCP_SERVICES,
    cleanupOnExit: false,
    fullSyncPeriodMs: 3_600_000,
  },
});

interface RouteObject {
  metadata: { name: string; namespace: string; generation?: number };
  status?: { observedGeneration?: number; mode?: string; conditions?: Condition[] };
}

let server: FakeApiServer;
let source: ClusterSource;
let reporting: ClusterReporting;
let controller: Controller;

const route = (name: string): RouteObject | undefined =>
  server.get('portico.dev/v1alpha1', 'L4Route', 'db', name) as RouteObject | undefined;
const accepted = (name: string): Condition | undefined =>
  route(name)?.status?.conditions?.find((c) => c.type === 'Accepted');

before(async () => {
  server = await startFakeApiServer({ bookmarkIntervalMs: 100 });
  const kc = new KubeConfig();
  kc.loadFromString(server.kubeconfig());
  for (const name of ['db', 'ingress'])
    server.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  server.create({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'postgres', namespace: 'db' },
    spec: { ports: [{ name: 'pg', port: 5432, targetPort: 15432, protocol: 'TCP' }] },
  });
  server.create({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'replica', namespace: 'db' },
    spec: { ports: [{ port: 5432, protocol: 'TCP' }] },
  });
  server.create({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: 'postgres-1', namespace: 'db', labels: { 'kubernetes.io/service-name': 'postgres' } },
    addressType: 'IPv4',
    ports: [{ name: 'pg', port: 15432, protocol: 'TCP' }],
    endpoints: [{ addresses: ['10.0.0.1'] }],
  });
  server.create({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: TCP_SERVICES,
    data: { '5432': 'db/replica:5432' },
  });
  const l4Route = (name: string, spec: Record<string, unknown>) =>
    server.create({
      apiVersion: 'portico.dev/v1alpha1',
      kind: 'L4Route',
      metadata: { name, namespace: 'db' },
      spec,
    });
  l4Route('pg', { listenPort: 6000, backend: { service: 'postgres', port: 'pg' } });
  l4Route('takeover', { listenPort: 5432, backend: { service: 'postgres', port: 5432 } });
  l4Route('proxied', { listenPort: 6001, backend: { service: 'replica', port: 5432 }, idleTimeout: '30s' });

  const metrics = new PorticoMetrics({ processMetrics: false });
  const logger = silentLogger();
  source = new ClusterSource({
    transports: clientTransports(kc),
    cluster: CLUSTER,
    classes: TRANSLATE,
    l4ConfigMaps: [TCP_SERVICES],
    logger,
    onChange: (change) => controller.notify(change),
    onSynced: () => controller.runNow(),
  });
  reporting = createClusterReportingWith(
    { store: source.store, cluster: CLUSTER, translate: TRANSLATE, logger, metrics, l4: L4 },
    createReportingApis(kc, CLUSTER),
  );
  controller = new Controller({
    source,
    sink: { publishRoutes: () => {}, publishEndpoints: () => {}, setReady: () => {} },
    pipeline: defaultPipeline,
    logger,
    translateOptions: TRANSLATE,
    holdoffMs: 10,
    maxDelayMs: 50,
    // Every controller run follows a store change, L4Route edits included: it asks for a status pass.
    onModel: (m, generation) => reporting.onModel(m, generation),
  });
  source.start();
  reporting.start();
});

after(async () => {
  await reporting.stop();
  controller.stop();
  source.stop();
  await server.close();
});

test('the leader writes Accepted=True and the mode in force on a route it serves', async () => {
  await waitFor('Accepted on db/pg', () => accepted('pg')?.status === 'True', 10_000);
  const c = accepted('pg');
  assert.equal(c?.reason, 'Accepted');
  assert.equal(c?.message, 'TCP 6000 → Service db/postgres port pg (--l4-mode iptables)');
  assert.equal(c?.observedGeneration, 1);
  assert.equal(route('pg')?.status?.mode, 'iptables');
});

test('a route on a port the tcp-services ConfigMap holds is PortConflict', async () => {
  await waitFor('Accepted on db/takeover', () => accepted('takeover') !== undefined, 10_000);
  const c = accepted('takeover');
  assert.equal(c?.status, 'False');
  assert.equal(c?.reason, 'PortConflict');
  assert.equal(
    c?.message,
    'spec.listenPort: TCP 5432 is already taken by ConfigMap ingress/tcp-services key "5432" (--l4-mode iptables)',
  );
});

test('a route with an idle timeout is UnsupportedInMode under a kernel mode', async () => {
  await waitFor('Accepted on db/proxied', () => accepted('proxied') !== undefined, 10_000);
  const c = accepted('proxied');
  assert.equal(c?.status, 'False');
  assert.equal(c?.reason, 'UnsupportedInMode');
});

test('the written status is what the writer wants: a further pass would write nothing', () => {
  const verdicts = translateL4(
    {
      configMaps: source.store.list('ConfigMap'),
      routes: source.store.list('L4Route'),
      services: source.store.list('Service'),
      endpointSlices: source.store.list('EndpointSlice'),
    },
    L4,
  ).routeStatus;
  for (const name of ['pg', 'takeover', 'proxied']) {
    const converted = fromApiObject('L4Route', server.get('portico.dev/v1alpha1', 'L4Route', 'db', name));
    assert.ok(converted.ok);
    assert.equal(
      desiredL4RouteStatus(
        converted.object as L4Route,
        verdicts.get(`db/${name}`),
        'iptables',
        '2030-01-01T00:00:00Z',
      ),
      undefined,
      name,
    );
  }
});

test('every request was one permissions.ts allows', () => {
  for (const r of server.requests) {
    if (r.resource === '') continue;
    const resource = r.subresource ? `${r.resource}/${r.subresource}` : r.resource;
    const allowed = REQUIRED_PERMISSIONS.some(
      (p) => p.group === r.group && p.resource === resource && p.verbs.includes(r.verb),
    );
    assert.ok(allowed, `${r.verb} ${r.group}/${resource} is not in REQUIRED_PERMISSIONS`);
  }
});

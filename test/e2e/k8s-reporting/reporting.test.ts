/**
 * Cluster reporting end to end: two replicas (two identities) against one fake API server, through
 * the real `@kubernetes/client-node`. The store is mirrored from the server by hand (the informers
 * are another module's business) and models are written per scenario, so each test says exactly
 * what the controller would have reported.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import type { ClusterConfig } from '../../../src/cli/flags.js';
import { REQUIRED_PERMISSIONS } from '../../../src/k8s/permissions.js';
import {
  type ClusterReporting,
  createClusterReportingWith,
  createReportingApis,
} from '../../../src/k8s/reporting.js';
import { silentLogger } from '../../../src/log/logger.js';
import { PorticoMetrics } from '../../../src/metrics/registry.js';
import type { Diagnostic } from '../../../src/model/diagnostics.js';
import type { Ingress, IngressClass, Service } from '../../../src/model/objects.js';
import type { IngressReport, RoutingModel } from '../../../src/model/types.js';
import { ObjectStore } from '../../../src/store/object-store.js';
import { type FakeApiServer, startFakeApiServer } from '../../support/fake-apiserver/index.js';

const NS = 'portico-system';
const LEASE_MS = 1_500;
const RENEW_MS = 1_000;
const RETRY_MS = 200;
const ADDRESSES = ['192.0.2.10', 'lb.example.com'];
const WANT_STATUS = [{ hostname: 'lb.example.com' }, { ip: '192.0.2.10' }];
const TRANSLATE = {
  controllerClass: 'portico.dev/ingress-controller',
  ingressClass: 'portico',
  watchIngressWithoutClass: false,
} as const;

interface Replica {
  readonly identity: string;
  readonly store: ObjectStore;
  readonly metrics: PorticoMetrics;
  readonly reporting: ClusterReporting;
}

function cluster(identity: string): ClusterConfig {
  return {
    watchNamespaces: [],
    publishStatusAddresses: ADDRESSES,
    election: {
      leaseName: 'portico-leader',
      namespace: NS,
      identity,
      leaseDurationMs: LEASE_MS,
      renewDeadlineMs: RENEW_MS,
      retryPeriodMs: RETRY_MS,
    },
  };
}

function replica(server: FakeApiServer, identity: string): Replica {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromString(server.kubeconfig());
  const store = new ObjectStore();
  const metrics = new PorticoMetrics({ processMetrics: false });
  const config = cluster(identity);
  const reporting = createClusterReportingWith(
    {
      store,
      cluster: config,
      translate: TRANSLATE,
      logger: silentLogger(),
      metrics,
      eventPatchIntervalMs: 300,
    },
    createReportingApis(kubeConfig, config),
  );
  return { identity, store, metrics, reporting };
}

/** Mirrors what informers would deliver: the server's Ingresses, IngressClasses and Services. */
function mirror(server: FakeApiServer, store: ObjectStore): void {
  const kinds = [
    ['networking.k8s.io/v1', 'Ingress'],
    ['networking.k8s.io/v1', 'IngressClass'],
    ['v1', 'Service'],
  ] as const;
  for (const [apiVersion, kind] of kinds) {
    const objects = server.list(apiVersion, kind) as (Ingress | IngressClass | Service)[];
    const keep = new Set<string>();
    for (const o of objects) {
      store.upsert(o);
      keep.add(o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name);
    }
    for (const key of store.keys(kind)) {
      if (keep.has(key)) continue;
      const [a, b] = key.split('/');
      if (b === undefined) store.remove(kind, undefined, a ?? '');
      else store.remove(kind, a, b);
    }
  }
}

function model(reports: IngressReport[], diagnostics: Diagnostic[] = []): RoutingModel {
  return { routes: [], hostDefaults: new Map(), ingresses: reports, diagnostics };
}

const served = (name: string): IngressReport => ({ ingress: `default/${name}`, state: 'served', reason: '' });

function feed(replicas: readonly Replica[], server: FakeApiServer, m: RoutingModel): void {
  for (const r of replicas) {
    mirror(server, r.store);
    r.reporting.onModel(m, 1);
  }
}

function ingressObject(name: string, cls: string, status: { ip?: string; hostname?: string }[] = []) {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: { name, namespace: 'default' },
    spec: {
      ingressClassName: cls,
      rules: [
        {
          host: `${name}.example.com`,
          http: {
            paths: [
              { path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } },
            ],
          },
        },
      ],
    },
    status: { loadBalancer: { ingress: status } },
  };
}

function statusOf(server: FakeApiServer, name: string): unknown {
  const ing = server.get('networking.k8s.io/v1', 'Ingress', 'default', name) as Ingress | undefined;
  return ing?.status?.loadBalancer?.ingress ?? [];
}

interface CoreEvent {
  readonly metadata: { readonly name: string };
  readonly involvedObject: Record<string, unknown>;
  readonly reason: string;
  readonly message: string;
  readonly type: string;
  readonly count: number;
  readonly source?: { readonly component?: string };
  readonly reportingComponent?: string;
  readonly reportingInstance?: string;
}

function eventsOf(server: FakeApiServer, name: string): CoreEvent[] {
  return (server.list('v1', 'Event', 'default') as CoreEvent[]).filter(
    (e) => e.involvedObject['name'] === name,
  );
}

/** Polls `check` until it passes or `ms` runs out (bounded; real timers, real HTTP). */
async function eventually(
  what: string,
  check: () => boolean | Promise<boolean>,
  ms = 5_000,
): Promise<number> {
  const started = Date.now();
  for (let i = 0; i < 10_000; i++) {
    if (await check()) return Date.now() - started;
    if (Date.now() - started > ms) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`timed out waiting for: ${what}`);
}

async function outcome(r: Replica, name: string): Promise<number> {
  const values = (await r.metrics.statusUpdates.get()).values;
  return values.find((v) => v.labels['outcome'] === name)?.value ?? 0;
}

describe('cluster reporting against the fake API server', () => {
  let server: FakeApiServer;
  let a: Replica;
  let b: Replica;

  before(async () => {
    server = await startFakeApiServer();
    server.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    for (const [name, controller] of [
      ['portico', TRANSLATE.controllerClass],
      ['other', 'example.com/other-controller'],
    ] as const)
      server.create({
        apiVersion: 'networking.k8s.io/v1',
        kind: 'IngressClass',
        metadata: { name },
        spec: { controller },
      });
    server.create(ingressObject('shop', 'portico'));
    server.create(ingressObject('broken', 'portico'));
    server.create(ingressObject('foreign', 'other', [{ ip: '203.0.113.99' }]));
    a = replica(server, 'portico-a');
    b = replica(server, 'portico-b');
  });

  after(async () => {
    await a?.reporting.stop();
    await b?.reporting.stop();
    await server?.close();
  });

  test('one leader: only it writes status; the foreign-class Ingress is never touched', async () => {
    a.reporting.start();
    await eventually('a leads', () => a.reporting.isLeader());
    b.reporting.start();
    const brokenRef: Diagnostic = {
      severity: 'warning',
      code: 'PORTICO_WARN_SERVICE_MISSING',
      object: 'Ingress default/broken',
      field: 'spec.rules[0].http.paths[0].backend.service.name',
      message: 'Service default/nope does not exist; the route answers 503',
    };
    const m = model(
      [
        served('shop'),
        served('broken'),
        { ingress: 'default/foreign', state: 'ignored', reason: 'class other' },
      ],
      [brokenRef],
    );
    feed([a, b], server, m);
    await eventually('shop and broken get the addresses', () => {
      return (
        JSON.stringify(statusOf(server, 'shop')) === JSON.stringify(WANT_STATUS) &&
        JSON.stringify(statusOf(server, 'broken')) === JSON.stringify(WANT_STATUS)
      );
    });
    // Several more runs: the model is the same, so nothing more is written.
    for (let i = 0; i < 3; i++) feed([a, b], server, m);
    await new Promise((resolve) => setTimeout(resolve, 4 * RETRY_MS));
    assert.equal(b.reporting.isLeader(), false);
    assert.equal(await outcome(a, 'updated'), 2);
    assert.equal(await outcome(b, 'updated'), 0);
    const statusWrites = server.requests.filter((r) => r.subresource === 'status' && r.verb === 'update');
    assert.equal(statusWrites.length, 2);
    assert.deepEqual(statusOf(server, 'foreign'), [{ ip: '203.0.113.99' }]);
    assert.deepEqual(
      server.requests.filter((r) => r.name === 'foreign'),
      [],
      'no request of any kind names the foreign-class Ingress',
    );
    const lease = server.get('coordination.k8s.io/v1', 'Lease', NS, 'portico-leader') as {
      spec: { holderIdentity: string; leaseDurationSeconds: number; renewTime: string };
    };
    assert.equal(lease.spec.holderIdentity, 'portico-a');
    assert.equal(lease.spec.leaseDurationSeconds, 2);
    assert.match(lease.spec.renewTime, /\.\d{6}Z$/, 'MicroTime with six fractional digits');
    assert.equal(await a.metrics.leader.get().then((g) => g.values[0]?.value), 1);
    assert.equal(await b.metrics.leader.get().then((g) => g.values[0]?.value), 0);
  });

  test('Events: one Warning Event per diagnostic, repeats counted on the same Event', async () => {
    await eventually('an Event on broken', () => eventsOf(server, 'broken').length > 0);
    const [first] = eventsOf(server, 'broken');
    assert.ok(first);
    assert.equal(first.type, 'Warning');
    assert.equal(first.reason, 'ServiceNotFound');
    assert.equal(
      first.message,
      'spec.rules[0].http.paths[0].backend.service.name: Service default/nope does not exist; the route answers 503',
    );
    assert.equal(first.source?.component, 'portico');
    assert.equal(first.reportingComponent, 'portico.dev/ingress-controller');
    assert.equal(first.reportingInstance, 'portico-a');
    const ingress = server.get('networking.k8s.io/v1', 'Ingress', 'default', 'broken') as Ingress;
    assert.equal(first.involvedObject['kind'], 'Ingress');
    assert.equal(first.involvedObject['namespace'], 'default');
    assert.equal(first.involvedObject['uid'], ingress.metadata.uid);
    assert.equal(first.involvedObject['apiVersion'], 'networking.k8s.io/v1');
    assert.ok(first.involvedObject['resourceVersion']);
    // The same diagnostic in later runs: counted, patched at most once per interval (300 ms here).
    const m = model(
      [served('shop'), served('broken')],
      [
        {
          severity: 'warning',
          code: 'PORTICO_WARN_SERVICE_MISSING',
          object: 'Ingress default/broken',
          field: 'spec.rules[0].http.paths[0].backend.service.name',
          message: 'Service default/nope does not exist; the route answers 503',
        },
      ],
    );
    for (let i = 0; i < 5; i++) {
      feed([a, b], server, m);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await eventually('the Event counts the repeats', () => (eventsOf(server, 'broken')[0]?.count ?? 0) >= 6);
    assert.equal(eventsOf(server, 'broken').length, 1, 'repeats patch, never duplicate');
    assert.ok(server.requests.some((r) => r.resource === 'events' && r.verb === 'patch'));
    const counted = (await a.metrics.events.get()).values.find(
      (v) => v.labels['reason'] === 'ServiceNotFound',
    );
    assert.ok((counted?.value ?? 0) >= 2);
    assert.equal((await b.metrics.events.get()).values.length, 0, 'the follower emits nothing');
  });

  test('an Ingress that stops being served has its status cleared', async () => {
    const m = model([
      served('shop'),
      { ingress: 'default/broken', state: 'rejected', reason: 'invalid path', servingLastGood: false },
    ]);
    feed([a, b], server, m);
    await eventually('broken cleared', () => JSON.stringify(statusOf(server, 'broken')) === '[]');
    assert.deepEqual(statusOf(server, 'shop'), WANT_STATUS);
  });

  test('stop() on the leader releases the Lease; the other takes over in time and writes what is pending', async () => {
    server.create(ingressObject('late', 'portico'));
    const m = model([served('shop'), served('late')]);
    // Only b hears of `late` while a leads; b is not leader, so it writes nothing yet.
    mirror(server, b.store);
    b.reporting.onModel(m, 2);
    await new Promise((resolve) => setTimeout(resolve, 2 * RETRY_MS));
    assert.deepEqual(statusOf(server, 'late'), []);
    const stoppedAt = Date.now();
    await a.reporting.stop();
    assert.equal(a.reporting.isLeader(), false);
    const waited = await eventually('b leads', () => b.reporting.isLeader(), LEASE_MS + RETRY_MS + 1_000);
    assert.ok(Date.now() - stoppedAt <= LEASE_MS + RETRY_MS + 300, `takeover took ${waited} ms`);
    // The new leader's first pass writes everything still due.
    await eventually(
      'late gets the addresses',
      () => JSON.stringify(statusOf(server, 'late')) === JSON.stringify(WANT_STATUS),
    );
    // The server applies the write before the client has the answer: wait for the count too.
    await eventually('b counted its write', async () => (await outcome(b, 'updated')) === 1);
    const lease = server.get('coordination.k8s.io/v1', 'Lease', NS, 'portico-leader') as {
      spec: { holderIdentity: string; leaseTransitions: number };
    };
    assert.equal(lease.spec.holderIdentity, 'portico-b');
    assert.equal(lease.spec.leaseTransitions, 1);
  });

  test('every request was one permissions.ts allows', () => {
    for (const r of server.requests) {
      if (r.resource === '') continue; // discovery and health
      const resource = r.subresource ? `${r.resource}/${r.subresource}` : r.resource;
      const allowed = REQUIRED_PERMISSIONS.some(
        (p) => p.group === r.group && p.resource === resource && p.verbs.includes(r.verb),
      );
      assert.ok(allowed, `${r.verb} ${r.group}/${resource} is not in REQUIRED_PERMISSIONS`);
      if (r.resource === 'leases') assert.equal(r.namespace, NS, 'leases only in the own namespace');
    }
  });
});

describe('publish addresses from --publish-service, through the real client', () => {
  let server: FakeApiServer;
  let r: Replica;

  before(async () => {
    server = await startFakeApiServer();
    server.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    server.create({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'IngressClass',
      metadata: { name: 'portico' },
      spec: { controller: TRANSLATE.controllerClass },
    });
    server.create(ingressObject('shop', 'portico'));
    server.create({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'portico', namespace: NS },
      spec: {
        type: 'NodePort',
        selector: { app: 'portico' },
        ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }],
      },
    });
    const nodes: [string, Record<string, string>][] = [
      ['n1', { ExternalIP: '203.0.113.1', InternalIP: '10.0.0.1' }],
      ['n2', { InternalIP: '10.0.0.2' }],
      ['n3', { ExternalIP: '203.0.113.3' }],
    ];
    for (const [name, addresses] of nodes)
      server.create({
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name },
        status: { addresses: Object.entries(addresses).map(([type, address]) => ({ type, address })) },
      });
    const pods: [string, string, string, Record<string, string>][] = [
      ['portico-1', 'n1', 'Running', { app: 'portico' }],
      ['portico-2', 'n2', 'Running', { app: 'portico' }],
      ['portico-3', 'n3', 'Pending', { app: 'portico' }],
      ['other-1', 'n3', 'Running', { app: 'other' }],
    ];
    for (const [name, nodeName, phase, labels] of pods)
      server.create({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name, namespace: NS, labels },
        spec: { nodeName, containers: [{ name: 'portico', image: 'portico' }] },
        status: { phase },
      });
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromString(server.kubeconfig());
    const store = new ObjectStore();
    const metrics = new PorticoMetrics({ processMetrics: false });
    const config: ClusterConfig = {
      ...cluster('portico-solo'),
      publishStatusAddresses: [],
      publishService: { namespace: NS, name: 'portico' },
    };
    const reporting = createClusterReportingWith(
      { store, cluster: config, translate: TRANSLATE, logger: silentLogger(), metrics },
      createReportingApis(kubeConfig, config),
    );
    r = { identity: 'portico-solo', store, metrics, reporting };
  });

  after(async () => {
    await r?.reporting.stop();
    await server?.close();
  });

  test('NodePort: the nodes of the running selected pods, ExternalIP else InternalIP', async () => {
    r.reporting.start();
    await eventually('leader', () => r.reporting.isLeader());
    feed([r], server, model([served('shop')]));
    await eventually(
      'node addresses',
      () =>
        JSON.stringify(statusOf(server, 'shop')) ===
        JSON.stringify([{ ip: '10.0.0.2' }, { ip: '203.0.113.1' }]),
    );
    const podLists = server.requests.filter((q) => q.resource === 'pods' && q.verb === 'list');
    assert.equal(podLists[0]?.query['labelSelector'], 'app=portico');
  });

  test('the publish Service becomes a LoadBalancer: the next run re-publishes its addresses', async () => {
    const svc = server.get('v1', 'Service', NS, 'portico') as Service;
    server.update({
      ...svc,
      apiVersion: 'v1',
      kind: 'Service',
      spec: { ...svc.spec, type: 'LoadBalancer' },
      status: { loadBalancer: { ingress: [{ hostname: 'edge.example.net' }, { ip: '198.51.100.5' }] } },
    });
    feed([r], server, model([served('shop')]));
    await eventually(
      'load-balancer addresses',
      () =>
        JSON.stringify(statusOf(server, 'shop')) ===
        JSON.stringify([{ hostname: 'edge.example.net' }, { ip: '198.51.100.5' }]),
    );
  });
});

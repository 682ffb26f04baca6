/**
 * The direct store API (what tests use to play the rest of the cluster): same registry rules as
 * HTTP writes, status kept from the object, finalizers, namespace deletion, Service allocation.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ApiError, type FakeApiServer, startFakeApiServer } from '../../support/fake-apiserver/index.js';
import { waitFor } from './helpers.js';

interface Meta {
  readonly metadata: {
    readonly name: string;
    readonly resourceVersion?: string;
    readonly uid?: string;
    readonly deletionTimestamp?: string;
    readonly finalizers?: string[];
    readonly generation?: number;
  };
}

describe('fake apiserver store API', () => {
  let server: FakeApiServer;

  before(async () => {
    server = await startFakeApiServer();
  });

  after(async () => {
    await server.close();
  });

  test('create returns the stored copy with server fields; apply updates it; get/list/delete', () => {
    const created = server.create({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name: 'shop', namespace: 'default' },
      spec: { defaultBackend: { service: { name: 'web', port: { number: 80 } } } },
    }) as Meta;
    assert.ok(created.metadata.uid);
    assert.equal(created.metadata.generation, 1);
    const applied = server.apply({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name: 'shop', namespace: 'default' },
      spec: { defaultBackend: { service: { name: 'web', port: { number: 81 } } } },
    }) as Meta;
    assert.equal(applied.metadata.uid, created.metadata.uid, 'uid is kept on update');
    assert.equal(applied.metadata.generation, 2);
    assert.equal(server.list('networking.k8s.io/v1', 'Ingress').length, 1);
    assert.equal(server.list('networking.k8s.io/v1', 'Ingress', 'other').length, 0);
    assert.equal(server.delete('networking.k8s.io/v1', 'Ingress', 'default', 'shop'), true);
    assert.equal(server.delete('networking.k8s.io/v1', 'Ingress', 'default', 'shop'), false);
    assert.equal(server.get('networking.k8s.io/v1', 'Ingress', 'default', 'shop'), undefined);
  });

  test('update with a stale resourceVersion throws a 409 ApiError', () => {
    const a = server.create({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'c', namespace: 'default' },
    }) as Meta;
    server.update({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'c', namespace: 'default' },
      data: { x: '1' },
    });
    assert.throws(
      () =>
        server.update({
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: 'c', namespace: 'default', resourceVersion: a.metadata.resourceVersion ?? '' },
          data: { x: '2' },
        }),
      (err: unknown) => err instanceof ApiError && err.code === 409 && err.status.reason === 'Conflict',
    );
  });

  test('the store API keeps a status the object carries (it plays kubelet and other controllers)', () => {
    server.create({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'portico-0', namespace: 'default' },
      spec: { nodeName: 'node-a', containers: [{ name: 'p', image: 'portico' }] },
      status: { phase: 'Running', hostIP: '192.0.2.10' },
    });
    const pod = server.get('v1', 'Pod', 'default', 'portico-0') as { status: { hostIP: string } };
    assert.equal(pod.status.hostIP, '192.0.2.10');
    server.update({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'portico-0', namespace: 'default', labels: { a: 'b' } },
      spec: { nodeName: 'node-a', containers: [{ name: 'p', image: 'portico' }] },
    });
    const again = server.get('v1', 'Pod', 'default', 'portico-0') as { status: { hostIP: string } };
    assert.equal(again.status.hostIP, '192.0.2.10', 'an update without status keeps it');
  });

  test('Service allocation: ClusterIP and NodePorts are allocated and kept across updates', () => {
    const svc = server.create({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'portico', namespace: 'default' },
      spec: { type: 'NodePort', ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
    }) as unknown as { spec: { clusterIP: string; ports: { nodePort: number; targetPort: unknown }[] } };
    assert.ok(
      svc.spec.ports[0] && svc.spec.ports[0].nodePort >= 30000 && svc.spec.ports[0].nodePort <= 32767,
    );
    assert.equal(svc.spec.ports[0]?.targetPort, 'http');
    const updated = server.update({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'portico', namespace: 'default' },
      spec: { type: 'NodePort', ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
    }) as unknown as typeof svc;
    assert.equal(updated.spec.clusterIP, svc.spec.clusterIP);
    assert.equal(updated.spec.ports[0]?.nodePort, svc.spec.ports[0]?.nodePort);
  });

  test('an object with finalizers is marked on delete and goes when they are removed', () => {
    server.create({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'held', namespace: 'default', finalizers: ['example.com/hold'] },
    });
    assert.equal(server.delete('v1', 'Secret', 'default', 'held'), true);
    const marked = server.get('v1', 'Secret', 'default', 'held') as Meta;
    assert.ok(marked.metadata.deletionTimestamp);
    server.update({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'held', namespace: 'default', finalizers: [] },
    });
    assert.equal(server.get('v1', 'Secret', 'default', 'held'), undefined);
  });

  test('deleting a Namespace empties it and then removes it; creating inside it meanwhile is 403', async () => {
    server.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'doomed' } });
    server.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: 'doomed' } });
    server.delete('v1', 'Namespace', undefined, 'doomed');
    assert.throws(
      () =>
        server.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'y', namespace: 'doomed' } }),
      (err: unknown) => err instanceof ApiError && err.code === 403,
    );
    await waitFor('namespace gone', () => server.get('v1', 'Namespace', undefined, 'doomed') === undefined);
    assert.equal(server.list('v1', 'ConfigMap', 'doomed').length, 0);
  });

  test('an unserved kind is a programmer error', () => {
    assert.throws(() => server.list('apps/v1', 'Deployment'), /does not serve/);
  });
});

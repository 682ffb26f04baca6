/**
 * Events: created and patched through core v1 and events.k8s.io/v1, which (as on a real cluster)
 * are two views of the same stored object.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CoreV1Api, EventsV1Api } from '@kubernetes/client-node';
import { type FakeApiServer, startFakeApiServer } from '../../support/fake-apiserver/index.js';
import { failureOf, kubeConfigFor } from './helpers.js';

describe('fake apiserver Events', () => {
  let server: FakeApiServer;
  let core: CoreV1Api;
  let events: EventsV1Api;

  before(async () => {
    server = await startFakeApiServer();
    const kc = kubeConfigFor(server);
    core = kc.makeApiClient(CoreV1Api);
    events = kc.makeApiClient(EventsV1Api);
  });

  after(async () => {
    await server.close();
  });

  test('a core v1 Event can be created, patched and listed', async () => {
    const created = await core.createNamespacedEvent({
      namespace: 'default',
      body: {
        metadata: { name: 'shop.17a1' },
        involvedObject: {
          kind: 'Ingress',
          namespace: 'default',
          name: 'shop',
          apiVersion: 'networking.k8s.io/v1',
        },
        reason: 'Rejected',
        message: 'bad annotation',
        type: 'Warning',
        count: 1,
        source: { component: 'portico' },
        firstTimestamp: new Date('2024-05-01T10:00:00.750Z'),
        lastTimestamp: new Date('2024-05-01T10:00:00.750Z'),
      },
    });
    assert.equal(created.count, 1);
    const patched = await core.patchNamespacedEvent({
      namespace: 'default',
      name: 'shop.17a1',
      body: [
        { op: 'replace', path: '/count', value: 2 },
        { op: 'replace', path: '/lastTimestamp', value: '2024-05-01T10:05:00Z' },
      ],
    });
    assert.equal(patched.count, 2);
    const list = await core.listNamespacedEvent({
      namespace: 'default',
      fieldSelector: 'involvedObject.kind=Ingress,involvedObject.name=shop,reason=Rejected',
    });
    assert.equal(list.items.length, 1);
    assert.equal(list.items[0]?.message, 'bad annotation');
    assert.equal(
      list.items[0]?.firstTimestamp?.toISOString(),
      '2024-05-01T10:00:00.000Z',
      'metav1.Time keeps seconds only',
    );
  });

  test('an events.k8s.io/v1 Event is listable as a core Event and vice versa', async () => {
    const created = await events.createNamespacedEvent({
      namespace: 'default',
      body: {
        metadata: { name: 'shop.17a2' },
        eventTime: new Date('2024-05-01T10:00:00.123Z'),
        reportingController: 'portico.dev/controller',
        reportingInstance: 'portico-0',
        action: 'Translate',
        reason: 'BackendMissing',
        note: 'service web not found',
        type: 'Warning',
        regarding: { kind: 'Ingress', namespace: 'default', name: 'shop' },
      },
    });
    assert.equal(created.note, 'service web not found');
    assert.equal(created.regarding?.name, 'shop');
    const asCore = await core.readNamespacedEvent({ namespace: 'default', name: 'shop.17a2' });
    assert.equal(asCore.message, 'service web not found');
    assert.equal(asCore.involvedObject.name, 'shop');
    assert.equal(asCore.reportingComponent, 'portico.dev/controller');
    const patched = await events.patchNamespacedEvent({
      namespace: 'default',
      name: 'shop.17a2',
      body: [
        { op: 'add', path: '/series', value: { count: 2, lastObservedTime: '2024-05-01T10:01:00.000001Z' } },
      ],
    });
    assert.equal(patched.series?.count, 2);
    const list = await events.listNamespacedEvent({
      namespace: 'default',
      fieldSelector: 'regarding.name=shop',
    });
    assert.deepEqual(list.items.map((e) => e.metadata?.name).sort(), ['shop.17a1', 'shop.17a2']);
    const legacy = list.items.find((e) => e.metadata?.name === 'shop.17a1');
    assert.equal(legacy?.deprecatedCount, 2);
    assert.equal(legacy?.note, 'bad annotation');
    assert.equal(server.list('events.k8s.io/v1', 'Event', 'default').length, 2);
    assert.equal(server.list('v1', 'Event').length, 2);
  });

  test('an events.k8s.io/v1 Event needs eventTime, reportingController, action, a Normal/Warning type', async () => {
    const { code, status } = await failureOf(() =>
      events.createNamespacedEvent({
        namespace: 'default',
        body: {
          metadata: { name: 'bad' },
          eventTime: new Date(),
          reportingController: '',
          reportingInstance: 'portico-0',
          reason: 'X',
          type: 'Error',
        } as never,
      }),
    );
    assert.equal(code, 422);
    assert.deepEqual(status.details?.causes?.map((c) => c.field).sort(), [
      'action',
      'reportingController',
      'type',
    ]);
  });

  test('an Event about an object in another namespace is rejected', async () => {
    const { code } = await failureOf(() =>
      core.createNamespacedEvent({
        namespace: 'default',
        body: {
          metadata: { name: 'x.1' },
          involvedObject: { kind: 'Ingress', namespace: 'shop', name: 'x' },
        },
      }),
    );
    assert.equal(code, 422);
  });
});

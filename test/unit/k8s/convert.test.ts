import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { clientTransports } from '../../../src/k8s/client.js';
import { formatTime, fromApiObject, refOf, toPlain } from '../../../src/k8s/convert.js';
import type { KubeKind } from '../../../src/model/objects.js';

/**
 * `typedItem` returns `item` the way client-node 1.x's typed list call hands it back (class
 * instances, Date timestamps), by serving it from a one-shot HTTP server to the real transport.
 */
async function typedItem(kind: KubeKind, item: unknown): Promise<unknown> {
  const server = createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(
      JSON.stringify({ kind: 'List', apiVersion: 'v1', metadata: { resourceVersion: '1' }, items: [item] }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [
        {
          name: 'c',
          server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
          skipTLSVerify: true,
        },
      ],
      users: [{ name: 'u' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    const page = await clientTransports(kc).collection({ kind }).list({ limit: 10 });
    return page.items[0];
  } finally {
    server.close();
  }
}

/** An Ingress as the API server sends it over the wire (and in watch events). */
const wireIngress = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'Ingress',
  metadata: {
    name: 'shop',
    namespace: 'default',
    uid: '6f1c',
    resourceVersion: '42',
    generation: 3,
    creationTimestamp: '2024-05-01T10:20:30Z',
    annotations: { 'nginx.ingress.kubernetes.io/rewrite-target': '/' },
    managedFields: [{ manager: 'kubectl', operation: 'Apply', time: '2024-05-01T10:20:30Z' }],
  },
  spec: {
    ingressClassName: 'portico',
    tls: [{ hosts: ['shop.example'], secretName: 'shop-tls' }],
    rules: [
      {
        host: 'shop.example',
        http: {
          paths: [
            { path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } },
          ],
        },
      },
    ],
  },
  status: { loadBalancer: { ingress: [{ ip: '10.0.0.1' }] } },
};

test('a watch event object converts to Portico types without managedFields, keeping status', () => {
  const r = fromApiObject('Ingress', structuredClone(wireIngress));
  assert.ok(r.ok);
  const { managedFields: _m, ...metadata } = wireIngress.metadata;
  assert.deepEqual(r.object, {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata,
    spec: wireIngress.spec,
    status: wireIngress.status,
  });
});

test('a list item from the typed client (Date timestamps, no kind) converts to the same object', async () => {
  // What client-node 1.x hands back from listIngressForAllNamespaces: class instances, a Date.
  const { kind: _k, apiVersion: _a, ...item } = structuredClone(wireIngress);
  const typed = await typedItem('Ingress', item);
  assert.ok(
    (typed as { metadata: { creationTimestamp: unknown } }).metadata.creationTimestamp instanceof Date,
    'the premise: client-node deserialises creationTimestamp into a Date',
  );
  const fromList = fromApiObject('Ingress', typed);
  const fromWatch = fromApiObject('Ingress', structuredClone(wireIngress));
  assert.ok(fromList.ok && fromWatch.ok);
  assert.deepEqual(fromList.object, fromWatch.object);
  assert.equal(fromList.object.metadata.creationTimestamp, '2024-05-01T10:20:30Z');
});

test('an EndpointSlice keeps only the fields Portico reads', () => {
  const r = fromApiObject('EndpointSlice', {
    metadata: {
      name: 'web-abc',
      namespace: 'default',
      resourceVersion: '7',
      labels: { 'kubernetes.io/service-name': 'web' },
    },
    addressType: 'IPv4',
    endpoints: [
      {
        addresses: ['10.1.0.5'],
        conditions: { ready: true, serving: true, terminating: false },
        nodeName: 'n1',
        targetRef: { kind: 'Pod', name: 'web-1', namespace: 'default', uid: 'u' },
        hints: { forZones: [{ name: 'a' }] },
      },
    ],
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  });
  assert.ok(r.ok);
  assert.deepEqual(r.object, {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: 'web-abc',
      namespace: 'default',
      resourceVersion: '7',
      labels: { 'kubernetes.io/service-name': 'web' },
    },
    addressType: 'IPv4',
    endpoints: [
      {
        addresses: ['10.1.0.5'],
        conditions: { ready: true, serving: true, terminating: false },
        nodeName: 'n1',
      },
    ],
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  });
});

test('a typed Service (IntOrString targetPort) and a Secret convert', async () => {
  const service = await typedItem('Service', {
    metadata: { name: 'web', namespace: 'default', creationTimestamp: '2024-01-02T03:04:05Z' },
    spec: { type: 'ClusterIP', ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
    status: { loadBalancer: {} },
  });
  const r = fromApiObject('Service', service);
  assert.ok(r.ok);
  assert.deepEqual(r.object, {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'web', namespace: 'default', creationTimestamp: '2024-01-02T03:04:05Z' },
    spec: { type: 'ClusterIP', ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
    status: { loadBalancer: {} },
  });
  const secret = fromApiObject('Secret', {
    metadata: { name: 'tls', namespace: 'default' },
    type: 'kubernetes.io/tls',
    data: { 'tls.crt': 'Y3J0', 'tls.key': 'a2V5' },
  });
  assert.ok(secret.ok);
  assert.deepEqual(secret.object, {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'tls', namespace: 'default' },
    type: 'kubernetes.io/tls',
    data: { 'tls.crt': 'Y3J0', 'tls.key': 'a2V5' },
  });
});

test('an IngressClass is cluster-scoped: no namespace even if one is sent', () => {
  const r = fromApiObject('IngressClass', {
    metadata: { name: 'portico', namespace: '' },
    spec: { controller: 'x/y' },
  });
  assert.ok(r.ok);
  assert.deepEqual(r.object.metadata, { name: 'portico' });
});

test('an object that is not one fails with the field', () => {
  assert.deepEqual(fromApiObject('Service', 'nope'), { ok: false, field: '', message: 'not an object' });
  const r = fromApiObject('Service', { metadata: {} });
  assert.equal(r.ok, false);
});

const times = [
  {
    name: 'whole seconds drop the milliseconds',
    date: new Date('2024-05-01T10:20:30.000Z'),
    want: '2024-05-01T10:20:30Z',
  },
  {
    name: 'sub-second times keep them',
    date: new Date('2024-05-01T10:20:30.123Z'),
    want: '2024-05-01T10:20:30.123Z',
  },
  { name: 'an invalid date is empty', date: new Date('nope'), want: '' },
] as const;
for (const c of times) test(`formatTime: ${c.name}`, () => assert.equal(formatTime(c.date), c.want));

test('toPlain drops undefined members and converts nested dates', () => {
  assert.deepEqual(toPlain({ a: undefined, b: [new Date('2020-01-01T00:00:00Z')], c: { d: 1 } }), {
    b: ['2020-01-01T00:00:00Z'],
    c: { d: 1 },
  });
});

test('refOf reads identity cheaply, and nothing from a non-object', () => {
  assert.deepEqual(refOf(wireIngress), { namespace: 'default', name: 'shop', resourceVersion: '42' });
  assert.equal(refOf({ metadata: { resourceVersion: '1' } }), undefined);
  assert.equal(refOf(null), undefined);
});

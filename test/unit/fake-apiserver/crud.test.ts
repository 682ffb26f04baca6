/**
 * The fake API server through the real `@kubernetes/client-node`: CRUD, errors as Status objects,
 * lists with selectors and pagination, status subresource, optimistic concurrency.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CoordinationV1Api,
  CoreV1Api,
  DiscoveryV1Api,
  NetworkingV1Api,
  type V1ConfigMapList,
  type V1Ingress,
  type V1Lease,
  type V1Service,
} from '@kubernetes/client-node';
import { type FakeApiServer, startFakeApiServer } from '../../support/fake-apiserver/index.js';
import { failureOf, kubeConfigFor } from './helpers.js';

function service(name: string, labels: Record<string, string> = {}): V1Service {
  return {
    metadata: { name, labels },
    spec: { ports: [{ name: 'http', port: 80 }], selector: { app: name } },
  };
}

function ingress(name: string, path = '/'): V1Ingress {
  return {
    metadata: { name },
    spec: {
      rules: [
        {
          host: 'shop.example',
          http: {
            paths: [
              { path, pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } },
            ],
          },
        },
      ],
    },
  };
}

describe('fake apiserver CRUD through client-node', () => {
  let server: FakeApiServer;
  let core: CoreV1Api;
  let net: NetworkingV1Api;
  let disco: DiscoveryV1Api;
  let coord: CoordinationV1Api;

  before(async () => {
    server = await startFakeApiServer({ pageSizeLimit: 2 });
    const kc = kubeConfigFor(server);
    core = kc.makeApiClient(CoreV1Api);
    net = kc.makeApiClient(NetworkingV1Api);
    disco = kc.makeApiClient(DiscoveryV1Api);
    coord = kc.makeApiClient(CoordinationV1Api);
    await core.createNamespace({ body: { metadata: { name: 'shop' } } });
  });

  after(async () => {
    await server.close();
  });

  test('create sets server fields and defaults; get returns the stored object', async () => {
    const created = await core.createNamespacedService({ namespace: 'shop', body: service('web') });
    assert.equal(created.kind, 'Service');
    assert.equal(created.apiVersion, 'v1');
    assert.match(created.metadata?.uid ?? '', /^[0-9a-f-]{36}$/);
    assert.match(created.metadata?.resourceVersion ?? '', /^\d+$/);
    assert.ok(created.metadata?.creationTimestamp instanceof Date);
    assert.equal(created.metadata?.namespace, 'shop');
    assert.equal(created.spec?.type, 'ClusterIP');
    assert.equal(created.spec?.ports?.[0]?.protocol, 'TCP');
    assert.equal(created.spec?.ports?.[0]?.targetPort, 80, 'targetPort defaults to port');
    assert.match(created.spec?.clusterIP ?? '', /^10\.96\./);
    const got = await core.readNamespacedService({ namespace: 'shop', name: 'web' });
    assert.equal(got.metadata?.resourceVersion, created.metadata?.resourceVersion);
  });

  test('creating an existing name answers 409 AlreadyExists', async () => {
    const { code, status } = await failureOf(() =>
      core.createNamespacedService({ namespace: 'shop', body: service('web') }),
    );
    assert.equal(code, 409);
    assert.equal(status.kind, 'Status');
    assert.equal(status.reason, 'AlreadyExists');
    assert.equal(status.message, 'services "web" already exists');
  });

  test('a missing object answers 404 NotFound with a Status', async () => {
    const { code, status } = await failureOf(() =>
      core.readNamespacedService({ namespace: 'shop', name: 'nope' }),
    );
    assert.equal(code, 404);
    assert.equal(status.reason, 'NotFound');
    assert.equal(status.message, 'services "nope" not found');
  });

  test('creating in a namespace that does not exist answers 404', async () => {
    const { code, status } = await failureOf(() =>
      core.createNamespacedConfigMap({ namespace: 'ghost', body: { metadata: { name: 'x' } } }),
    );
    assert.equal(code, 404);
    assert.equal(status.message, 'namespaces "ghost" not found');
  });

  test('a body namespace different from the path namespace answers 400', async () => {
    const { code, status } = await failureOf(() =>
      core.createNamespacedConfigMap({
        namespace: 'shop',
        body: { metadata: { name: 'x', namespace: 'default' } },
      }),
    );
    assert.equal(code, 400);
    assert.equal(status.reason, 'BadRequest');
  });

  test('every write bumps the one global resourceVersion', async () => {
    const a = await core.createNamespacedConfigMap({ namespace: 'shop', body: { metadata: { name: 'a' } } });
    const s = await core.createNamespacedSecret({ namespace: 'shop', body: { metadata: { name: 's' } } });
    assert.ok(Number(s.metadata?.resourceVersion) > Number(a.metadata?.resourceVersion));
    assert.equal(s.type, 'Opaque');
    const list = await core.listNamespacedConfigMap({ namespace: 'shop' });
    assert.equal(list.metadata?.resourceVersion, s.metadata?.resourceVersion);
  });

  test('update with a stale resourceVersion answers 409 Conflict; with the current one it succeeds', async () => {
    const lease: V1Lease = {
      metadata: { name: 'portico-leader' },
      spec: {
        holderIdentity: 'a',
        leaseDurationSeconds: 15,
        renewTime: new Date('2024-01-01T00:00:00.123Z'),
      },
    };
    const created = await coord.createNamespacedLease({ namespace: 'shop', body: lease });
    assert.equal(created.metadata?.generation, undefined, 'Leases have no generation');
    const first = await coord.replaceNamespacedLease({
      namespace: 'shop',
      name: 'portico-leader',
      body: { ...created, spec: { ...created.spec, holderIdentity: 'b' } },
    });
    assert.equal(first.spec?.holderIdentity, 'b');
    const { code, status } = await failureOf(() =>
      coord.replaceNamespacedLease({
        namespace: 'shop',
        name: 'portico-leader',
        body: { ...created, spec: { ...created.spec, holderIdentity: 'c' } },
      }),
    );
    assert.equal(code, 409);
    assert.equal(status.reason, 'Conflict');
    assert.match(status.message ?? '', /the object has been modified/);
    const still = await coord.readNamespacedLease({ namespace: 'shop', name: 'portico-leader' });
    assert.equal(still.spec?.holderIdentity, 'b');
  });

  test('a Lease with a wrongly typed spec field answers 400, like the Go decoder', async () => {
    const { code } = await failureOf(() =>
      coord.createNamespacedLease({
        namespace: 'shop',
        body: { metadata: { name: 'bad' }, spec: { leaseDurationSeconds: 'ten' as unknown as number } },
      }),
    );
    assert.equal(code, 400);
  });

  test('generation tracks Ingress spec changes only; the main resource ignores status', async () => {
    const created = await net.createNamespacedIngress({ namespace: 'shop', body: ingress('shop') });
    assert.equal(created.metadata?.generation, 1);
    const annotated = await net.replaceNamespacedIngress({
      namespace: 'shop',
      name: 'shop',
      body: {
        ...created,
        metadata: { ...created.metadata, annotations: { a: 'b' } },
        status: { loadBalancer: { ingress: [{ ip: '192.0.2.1' }] } },
      },
    });
    assert.equal(annotated.metadata?.generation, 1, 'annotations do not bump generation');
    assert.deepEqual(
      annotated.status?.loadBalancer?.ingress ?? [],
      [],
      'status ignored on the main resource',
    );
    const changed = await net.replaceNamespacedIngress({
      namespace: 'shop',
      name: 'shop',
      body: { ...annotated, spec: ingress('shop', '/v2').spec ?? {} },
    });
    assert.equal(changed.metadata?.generation, 2);
  });

  test('PUT /status changes only .status, bumps resourceVersion, not generation', async () => {
    const before = await net.readNamespacedIngress({ namespace: 'shop', name: 'shop' });
    const out = await net.replaceNamespacedIngressStatus({
      namespace: 'shop',
      name: 'shop',
      body: {
        ...before,
        spec: ingress('shop', '/ignored').spec ?? {},
        status: { loadBalancer: { ingress: [{ ip: '192.0.2.1' }] } },
      },
    });
    assert.equal(out.status?.loadBalancer?.ingress?.[0]?.ip, '192.0.2.1');
    assert.equal(out.spec?.rules?.[0]?.http?.paths[0]?.path, '/v2', 'spec ignored on /status');
    assert.equal(out.metadata?.generation, before.metadata?.generation);
    assert.ok(Number(out.metadata?.resourceVersion) > Number(before.metadata?.resourceVersion));
  });

  test('an update that changes nothing does not bump resourceVersion', async () => {
    const before = await net.readNamespacedIngress({ namespace: 'shop', name: 'shop' });
    const out = await net.replaceNamespacedIngressStatus({ namespace: 'shop', name: 'shop', body: before });
    assert.equal(out.metadata?.resourceVersion, before.metadata?.resourceVersion);
  });

  test('patch (client-node default JSON patch) and merge patch', async () => {
    const patched = await core.patchNamespacedService({
      namespace: 'shop',
      name: 'web',
      body: [{ op: 'add', path: '/metadata/labels', value: { tier: 'front' } }],
    });
    assert.equal(patched.metadata?.labels?.['tier'], 'front');
    const statusPatched = await core.patchNamespacedServiceStatus({
      namespace: 'shop',
      name: 'web',
      body: [
        { op: 'replace', path: '/status', value: { loadBalancer: { ingress: [{ ip: '198.51.100.7' }] } } },
      ],
    });
    assert.equal(statusPatched.status?.loadBalancer?.ingress?.[0]?.ip, '198.51.100.7');
    const res = await fetch(`${server.url}/api/v1/namespaces/shop/services/web`, {
      method: 'PATCH',
      headers: { authorization: 'Bearer fake-token', 'content-type': 'application/merge-patch+json' },
      body: JSON.stringify({ metadata: { labels: { tier: null, env: 'prod' } } }),
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { metadata: { labels: Record<string, string> } };
    assert.deepEqual(body.metadata.labels, { env: 'prod' });
  });

  test('delete returns the object or a Success Status; watch-free re-get is 404', async () => {
    await core.deleteNamespacedConfigMap({ namespace: 'shop', name: 'a' });
    const { code } = await failureOf(() => core.readNamespacedConfigMap({ namespace: 'shop', name: 'a' }));
    assert.equal(code, 404);
    const deleted = await core.deleteNamespacedService({ namespace: 'shop', name: 'web' });
    assert.equal(deleted.metadata?.name, 'web');
  });

  test('list with label and field selectors, across namespaces', async () => {
    await core.createNamespacedService({
      namespace: 'shop',
      body: service('a', { app: 'a', tier: 'front' }),
    });
    await core.createNamespacedService({ namespace: 'shop', body: service('b', { app: 'b', tier: 'back' }) });
    await core.createNamespacedService({ namespace: 'default', body: service('c', { app: 'c' }) });
    const names = (items: readonly V1Service[]): string[] => items.map((s) => s.metadata?.name ?? '');
    const cases = [
      { selector: 'tier=front', want: ['a'] },
      { selector: 'tier==back', want: ['b'] },
      { selector: 'tier!=front', want: ['b', 'c'] },
      { selector: 'tier in (front,back)', want: ['a', 'b'] },
      { selector: 'tier notin (front)', want: ['b', 'c'] },
      { selector: 'tier', want: ['a', 'b'] },
      { selector: '!tier', want: ['c'] },
      { selector: 'app,tier!=back', want: ['a', 'c'] },
    ] as const;
    for (const c of cases) {
      const list = await core.listServiceForAllNamespaces({ labelSelector: c.selector });
      assert.deepEqual(names(list.items).sort(), [...c.want], c.selector);
    }
    const byName = await core.listServiceForAllNamespaces({ fieldSelector: 'metadata.name=b' });
    assert.deepEqual(names(byName.items), ['b']);
    const notShop = await core.listServiceForAllNamespaces({ fieldSelector: 'metadata.namespace!=shop' });
    assert.deepEqual(names(notShop.items), ['c']);
    const { code, status } = await failureOf(() =>
      core.listServiceForAllNamespaces({ fieldSelector: 'spec.foo=x' }),
    );
    assert.equal(code, 400);
    assert.equal(status.message, 'field label not supported: spec.foo');
  });

  test('secret field selector on type', async () => {
    await core.createNamespacedSecret({
      namespace: 'shop',
      body: { metadata: { name: 'tls' }, type: 'kubernetes.io/tls', data: { 'tls.crt': '', 'tls.key': '' } },
    });
    const list = await core.listNamespacedSecret({
      namespace: 'shop',
      fieldSelector: 'type=kubernetes.io/tls',
    });
    assert.deepEqual(
      list.items.map((s) => s.metadata?.name),
      ['tls'],
    );
  });

  test('limit and continue page through one consistent snapshot', async () => {
    for (const n of ['p1', 'p2', 'p3', 'p4', 'p5']) {
      await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: n } } });
    }
    const first = await core.listNamespacedConfigMap({ namespace: 'default', limit: 3 });
    assert.equal(first.items.length, 2, 'pageSizeLimit caps the page');
    assert.ok(first.metadata?._continue);
    assert.equal(first.metadata?.remainingItemCount, 3);
    // A write between pages must not show up: continued pages are served at the first page's RV.
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'p0' } } });
    const seen = first.items.map((c) => c.metadata?.name);
    let token: string | undefined = first.metadata?._continue;
    for (let i = 0; i < 10 && token; i++) {
      const page: V1ConfigMapList = await core.listNamespacedConfigMap({
        namespace: 'default',
        limit: 2,
        _continue: token,
      });
      assert.equal(page.metadata?.resourceVersion, first.metadata?.resourceVersion);
      seen.push(...page.items.map((c) => c.metadata?.name));
      token = page.metadata?._continue;
    }
    assert.deepEqual(seen, ['p1', 'p2', 'p3', 'p4', 'p5']);
  });

  test('list with an exact old resourceVersion returns that snapshot; compacted answers 410', async () => {
    const before = await core.listNamespacedConfigMap({ namespace: 'default' });
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'later' } } });
    const old = await core.listNamespacedConfigMap({
      namespace: 'default',
      resourceVersion: before.metadata?.resourceVersion ?? '',
      resourceVersionMatch: 'Exact',
    });
    assert.equal(old.items.length, before.items.length);
    server.compact();
    const { code, status } = await failureOf(() =>
      core.listNamespacedConfigMap({
        namespace: 'default',
        resourceVersion: before.metadata?.resourceVersion ?? '',
        resourceVersionMatch: 'Exact',
      }),
    );
    assert.equal(code, 410);
    assert.equal(status.reason, 'Expired');
  });

  test('discovery-driven endpoints: EndpointSlice list and IngressClass (cluster-scoped)', async () => {
    await disco.createNamespacedEndpointSlice({
      namespace: 'shop',
      body: {
        metadata: { name: 'web-abc', labels: { 'kubernetes.io/service-name': 'web' } },
        addressType: 'IPv4',
        endpoints: [{ addresses: ['10.0.0.1'], conditions: { ready: true } }],
        ports: [{ name: 'http', port: 8080 }],
      },
    });
    const slices = await disco.listEndpointSliceForAllNamespaces({
      labelSelector: 'kubernetes.io/service-name=web',
    });
    assert.equal(slices.items[0]?.ports?.[0]?.protocol, 'TCP');
    const cls = await net.createIngressClass({
      body: { metadata: { name: 'portico' }, spec: { controller: 'portico.dev/controller' } },
    });
    assert.equal(cls.metadata?.namespace, undefined);
    const classes = await net.listIngressClass();
    assert.deepEqual(
      classes.items.map((c) => c.metadata?.name),
      ['portico'],
    );
  });

  test('requests are recorded with their RBAC verb and resource', () => {
    const watchless = server.requests.filter((r) => r.resource === 'ingresses');
    assert.ok(
      watchless.some((r) => r.verb === 'create' && r.group === 'networking.k8s.io' && r.namespace === 'shop'),
    );
    assert.ok(
      server.requests.some(
        (r) => r.verb === 'update' && r.resource === 'ingresses' && r.subresource === 'status',
      ),
    );
    assert.ok(
      server.requests.some(
        (r) => r.verb === 'list' && r.resource === 'services' && r.namespace === undefined,
      ),
    );
  });
});

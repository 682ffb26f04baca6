import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SourceChange } from '../../../src/controller/source.js';
import { ClusterSource } from '../../../src/k8s/source.js';
import { silentLogger } from '../../../src/log/logger.js';
import { PorticoMetrics } from '../../../src/metrics/registry.js';
import type { Secret } from '../../../src/model/objects.js';
import { FakeClock } from '../../../src/util/clock.js';
import { apiError, FakeApi, type RawObject, settle } from './fake-transport.js';

const CLASSES = {
  controllerClass: 'portico.dev/ingress-controller',
  ingressClass: 'portico',
  watchIngressWithoutClass: false,
};

function ingress(
  name: string,
  opts: { tls?: string[]; className?: string; ns?: string; extra?: Record<string, unknown> } = {},
): RawObject {
  return {
    kind: 'Ingress',
    metadata: { name, namespace: opts.ns ?? 'default' },
    spec: {
      ingressClassName: opts.className ?? 'portico',
      ...(opts.tls ? { tls: opts.tls.map((secretName) => ({ hosts: ['a.example'], secretName })) } : {}),
      rules: [
        {
          host: 'a.example',
          http: {
            paths: [
              { path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } },
            ],
          },
        },
      ],
    },
    ...opts.extra,
  };
}

function secret(
  name: string,
  data: Record<string, string> = { 'tls.crt': 'Y3J0', 'tls.key': 'a2V5' },
  ns = 'default',
): RawObject {
  return { kind: 'Secret', metadata: { name, namespace: ns }, type: 'kubernetes.io/tls', data };
}

const ourClass: RawObject = {
  kind: 'IngressClass',
  metadata: { name: 'portico' },
  spec: { controller: CLASSES.controllerClass },
};

function setup(cluster: Partial<ConstructorParameters<typeof ClusterSource>[0]['cluster']> = {}) {
  const api = new FakeApi();
  const changes: SourceChange[] = [];
  let synced = 0;
  const clock = new FakeClock();
  const metrics = new PorticoMetrics({ processMetrics: false });
  const source = new ClusterSource({
    transports: api,
    cluster: { watchNamespaces: [], ...cluster },
    classes: CLASSES,
    logger: silentLogger(),
    metrics,
    clock,
    backoff: { random: () => 0 },
    onChange: (c) => changes.push(c),
    onSynced: () => synced++,
  });
  return { api, source, changes, synced: () => synced, clock, metrics };
}

function secretData(source: ClusterSource, name: string): Readonly<Record<string, string>> {
  const stored = source.store.get('Secret', 'default', name)?.object as Secret | undefined;
  return stored?.data ?? {};
}

const kindsOf = (changes: readonly SourceChange[]) => changes.map((c) => [...c.kinds].sort().join(','));

test('nothing reaches the controller before every informer listed; the sync is one change of every kind', async () => {
  const { api, source, changes, synced, metrics, clock } = setup();
  api.of('IngressClass').put(ourClass);
  api.of('Service').listFailures = [apiError(503)];
  source.start();
  await settle();
  assert.equal(source.hasSynced(), false, 'Services have not listed yet');
  api.of('Ingress').put(ingress('early'));
  await settle();
  assert.deepEqual(changes, []);
  assert.equal(synced(), 0);
  assert.match(await metrics.render(), /portico_k8s_informer_synced\{kind="Service"\} 0/);
  // The Service list is retried after the backoff and succeeds.
  await advance(clock, 200);
  assert.equal(source.hasSynced(), true);
  assert.equal(synced(), 1);
  assert.deepEqual(kindsOf(changes), [
    'ConfigMap,EndpointSlice,Ingress,IngressClass,L4Route,RateLimitPolicy,Secret,Service',
  ]);
  assert.ok(source.store.get('Ingress', 'default', 'early'));
  assert.match(await metrics.render(), /portico_k8s_informer_synced\{kind="Service"\} 1/);
  assert.match(await metrics.render(), /portico_k8s_watch_restarts_total\{kind="Service"\} 1/);
  source.stop();
});

/** `advance` moves the fake clock in steps, letting the async API calls between timers finish. */
async function advance(clock: FakeClock, ms: number, step = 50): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    clock.advance(Math.min(step, ms - t));
    await settle(2);
  }
}

test('changes of one tick are batched; EndpointSlice-only changes say so', async () => {
  const { api, source, changes } = setup();
  source.start();
  await source.whenSynced();
  await settle();
  changes.length = 0;
  api.of('EndpointSlice').put({
    kind: 'EndpointSlice',
    metadata: { name: 'web-1', namespace: 'default', labels: { 'kubernetes.io/service-name': 'web' } },
    addressType: 'IPv4',
    endpoints: [{ addresses: ['10.0.0.1'], conditions: { ready: true } }],
  });
  api.of('EndpointSlice').put({
    kind: 'EndpointSlice',
    metadata: { name: 'web-2', namespace: 'default', labels: { 'kubernetes.io/service-name': 'web' } },
    addressType: 'IPv4',
    endpoints: [{ addresses: ['10.0.0.2'], conditions: { ready: true } }],
  });
  await settle();
  assert.deepEqual(kindsOf(changes), ['EndpointSlice']);
  api.of('Service').put({
    kind: 'Service',
    metadata: { name: 'web', namespace: 'default' },
    spec: { ports: [{ port: 80 }] },
  });
  api.of('Ingress').put(ingress('shop'));
  await settle();
  assert.deepEqual(kindsOf(changes), ['EndpointSlice', 'Ingress,Service']);
  source.stop();
});

test('an Ingress whose only change is its status is stored but does not wake the controller', async () => {
  const { api, source, changes } = setup();
  api.of('Ingress').put(ingress('shop'));
  source.start();
  await source.whenSynced();
  await settle();
  changes.length = 0;
  api
    .of('Ingress')
    .put(ingress('shop', { extra: { status: { loadBalancer: { ingress: [{ ip: '10.9.9.9' }] } } } }));
  await settle();
  assert.deepEqual(changes, []);
  assert.deepEqual(source.store.get('Ingress', 'default', 'shop')?.object.status, {
    loadBalancer: { ingress: [{ ip: '10.9.9.9' }] },
  });
  api.of('Ingress').put(
    ingress('shop', {
      extra: { metadata: { name: 'shop', namespace: 'default', annotations: { a: 'b' } } },
    }),
  );
  await settle();
  assert.deepEqual(kindsOf(changes), ['Ingress'], 'an annotation edit does');
  source.stop();
});

test('only Secrets referenced by a served Ingress are held; Helm releases are not even listed', async () => {
  const { api, source } = setup();
  api.of('IngressClass').put(ourClass);
  api.of('Ingress').put(ingress('shop', { tls: ['shop-tls'] }));
  api.of('Ingress').put(ingress('other', { tls: ['other-tls'], className: 'nginx' }));
  const secrets = api.of('Secret');
  assert.equal(secrets.collection.fieldSelector, 'type!=helm.sh/release.v1');
  secrets.put(secret('shop-tls'));
  secrets.put(secret('other-tls'));
  secrets.put(secret('unrelated'));
  source.start();
  await source.whenSynced();
  await settle();
  assert.deepEqual(source.store.keys('Secret'), ['default/shop-tls']);
  assert.deepEqual(source.secretReferences.referrers('default/shop-tls'), ['default/shop']);
  assert.equal(source.secretFetches, 0, 'the Secret informer started after the Ingresses listed: no GETs');
  source.stop();
});

test('a Secret becomes held when an Ingress starts referencing it (one GET), and dropped when none does', async () => {
  const { api, source, changes } = setup();
  api.of('IngressClass').put(ourClass);
  api.of('Secret').put(secret('later-tls'));
  source.start();
  await source.whenSynced();
  await settle();
  assert.deepEqual(source.store.keys('Secret'), []);
  changes.length = 0;
  api.of('Ingress').put(ingress('shop', { tls: ['later-tls'] }));
  await settle();
  assert.deepEqual(api.gets, ['default/later-tls']);
  assert.deepEqual(source.store.keys('Secret'), ['default/later-tls']);
  assert.deepEqual(kindsOf(changes), ['Ingress', 'Secret']);
  // The referenced Secret's content changes: the watch delivers it whole.
  api.of('Secret').put(secret('later-tls', { 'tls.crt': 'bmV3', 'tls.key': 'a2V5' }));
  await settle();
  assert.equal(secretData(source, 'later-tls')['tls.crt'], 'bmV3');
  // A label-only edit of it is stored silently.
  changes.length = 0;
  api.of('Secret').put({
    ...secret('later-tls', { 'tls.crt': 'bmV3', 'tls.key': 'a2V5' }),
    metadata: { name: 'later-tls', namespace: 'default', labels: { x: 'y' } },
  });
  await settle();
  assert.deepEqual(changes, []);
  // The Ingress goes: the Secret leaves memory.
  api.of('Ingress').delete('default', 'shop');
  await settle();
  assert.deepEqual(source.store.keys('Secret'), []);
  assert.deepEqual(kindsOf(changes), ['Ingress,Secret']);
  assert.equal(api.gets.length, 1);
  source.stop();
});

test('a referenced Secret created after the Ingress arrives through the watch, without a GET', async () => {
  const { api, source } = setup();
  api.of('IngressClass').put(ourClass);
  api.of('Ingress').put(ingress('shop', { tls: ['new-tls'] }));
  source.start();
  await source.whenSynced();
  await settle();
  api.of('Secret').put(secret('new-tls'));
  await settle();
  assert.deepEqual(source.store.keys('Secret'), ['default/new-tls']);
  assert.deepEqual(api.gets, []);
  api.of('Secret').delete('default', 'new-tls');
  await settle();
  assert.deepEqual(source.store.keys('Secret'), []);
  source.stop();
});

test('an IngressClass that makes an Ingress ours brings its Secret in', async () => {
  const { api, source } = setup();
  api.of('Ingress').put(ingress('shop', { tls: ['shop-tls'] }));
  api.of('Secret').put(secret('shop-tls'));
  source.start();
  await source.whenSynced();
  await settle();
  assert.deepEqual(source.store.keys('Secret'), [], 'no IngressClass "portico" yet: not ours');
  api.of('IngressClass').put(ourClass);
  await settle();
  assert.deepEqual(source.store.keys('Secret'), ['default/shop-tls']);
  api.of('IngressClass').delete(undefined, 'portico');
  await settle();
  assert.deepEqual(source.store.keys('Secret'), []);
  source.stop();
});

test('a failed GET of a newly referenced Secret is retried after a backoff; a 404 is not', async () => {
  const { api, source, clock } = setup();
  api.of('IngressClass').put(ourClass);
  api.of('Secret').put(secret('a-tls'));
  source.start();
  await source.whenSynced();
  await settle();
  api.getFailures = [apiError(500)];
  api.of('Ingress').put(ingress('shop', { tls: ['a-tls'] }));
  await settle();
  assert.deepEqual(source.store.keys('Secret'), []);
  await advance(clock, 200);
  assert.deepEqual(source.store.keys('Secret'), ['default/a-tls']);
  assert.equal(api.gets.length, 2);
  source.stop();
});

test('a watch event during the GET wins over the GET answer', async () => {
  const { api, source } = setup();
  api.of('IngressClass').put(ourClass);
  api.of('Secret').put(secret('race-tls', { v: 'b2xk' }));
  source.start();
  await source.whenSynced();
  await settle();
  api.of('Ingress').put(ingress('shop', { tls: ['race-tls'] }));
  // The GET is in flight (it resolves on a later microtask); the Secret changes meanwhile.
  api.of('Secret').put(secret('race-tls', { v: 'bmV3' }));
  await settle();
  assert.equal(secretData(source, 'race-tls')['v'], 'bmV3');
  source.stop();
});

test('--watch-namespace runs one informer per namespace per namespaced kind; --configmap and the default certificate get their own', async () => {
  const { api, source } = setup({
    watchNamespaces: ['a', 'b'],
    configMap: { namespace: 'portico', name: 'settings' },
    defaultSslCertificate: { namespace: 'portico', name: 'default-cert' },
  });
  const describe = api.collections.map((c) =>
    `${c.collection.kind} ${c.collection.namespace ?? '*'} ${c.collection.fieldSelector ?? ''}`.trim(),
  );
  assert.deepEqual(describe.sort(), [
    'ConfigMap a',
    'ConfigMap b',
    'ConfigMap portico metadata.name=settings',
    'EndpointSlice a',
    'EndpointSlice b',
    'Ingress a',
    'Ingress b',
    'IngressClass *',
    'L4Route a',
    'L4Route b',
    'RateLimitPolicy a',
    'RateLimitPolicy b',
    'Secret a type!=helm.sh/release.v1',
    'Secret b type!=helm.sh/release.v1',
    'Secret portico metadata.name=default-cert,type!=helm.sh/release.v1',
    'Service a',
    'Service b',
  ]);
  api.of('Secret', 'portico').put(secret('default-cert', undefined, 'portico'));
  api.of('ConfigMap').put({
    kind: 'ConfigMap',
    metadata: { name: 'settings', namespace: 'portico' },
    data: { 'proxy-body-size': '8m' },
  });
  source.start();
  await source.whenSynced();
  await settle();
  assert.deepEqual(source.store.keys('Secret'), ['portico/default-cert']);
  assert.deepEqual(source.store.keys('ConfigMap'), ['portico/settings']);
  source.stop();
});

test('a relist after an outage reconciles: deleted objects go, the rest stay served throughout', async () => {
  const { api, source, clock, changes, metrics } = setup();
  const services = api.of('Service');
  services.put({
    kind: 'Service',
    metadata: { name: 'stays', namespace: 'default' },
    spec: { ports: [{ port: 80 }] },
  });
  services.put({
    kind: 'Service',
    metadata: { name: 'goes', namespace: 'default' },
    spec: { ports: [{ port: 80 }] },
  });
  source.start();
  await source.whenSynced();
  await settle();
  changes.length = 0;
  services.listFailures = [apiError(503), apiError(503)];
  services.endWatches(apiError(500));
  services.silently((objects) => objects.delete('default/goes'));
  await settle();
  assert.deepEqual(
    source.store.keys('Service').sort(),
    ['default/goes', 'default/stays'],
    'kept during the outage',
  );
  await advance(clock, 1_000);
  assert.match(await metrics.render(), /portico_k8s_watch_disconnected_seconds\{kind="Service"\} 1\n/);
  await advance(clock, 1_000);
  assert.deepEqual(source.store.keys('Service'), ['default/stays']);
  assert.deepEqual(kindsOf(changes), ['Service']);
  assert.match(await metrics.render(), /portico_k8s_watch_restarts_total\{kind="Service"\} 3/);
  await advance(clock, 1_000);
  assert.match(await metrics.render(), /portico_k8s_watch_disconnected_seconds\{kind="Service"\} 0\n/);
  source.stop();
});

test('secretExists answers from the informers, not the store (which holds only referenced Secrets)', async () => {
  const { api, source } = setup({ watchNamespaces: ['a'] });
  api.of('Secret', 'a').put(secret('there', undefined, 'a'));
  assert.equal(source.secretExists('a', 'there'), undefined, 'not listed yet');
  api.of('IngressClass').put(ourClass);
  source.start();
  await source.whenSynced();
  assert.equal(source.secretExists('a', 'there'), true);
  assert.equal(source.secretExists('a', 'missing'), false);
  assert.equal(source.secretExists('elsewhere', 'x'), undefined, 'an unwatched namespace');
  assert.deepEqual(source.store.keys('Secret'), []);
  source.stop();
});

test('without the RateLimitPolicy CRD (404) the source still syncs, and picks policies up once the CRD appears', async () => {
  const { api, source, clock, changes } = setup();
  api.of('RateLimitPolicy').listFailures = [apiError(404), apiError(404)];
  source.start();
  await source.whenSynced();
  assert.equal(source.hasSynced(), true, 'a missing CRD does not hold the first snapshot back');
  assert.deepEqual(source.store.keys('RateLimitPolicy'), []);
  const informer = source.informers.find((i) => i.kind === 'RateLimitPolicy');
  assert.equal(informer?.disconnectedSince, undefined, 'a missing CRD is not reported as a lost watch');
  api.of('RateLimitPolicy').put({
    apiVersion: 'portico.dev/v1alpha1',
    kind: 'RateLimitPolicy',
    metadata: { name: 'api', namespace: 'shop', resourceVersion: '7', generation: 1 },
    spec: { rps: 5 },
  });
  changes.length = 0;
  // Two backoff steps (200 ms, then 400 ms with the test's jitter-free backoff): the second 404,
  // then a list that succeeds.
  await advance(clock, 700);
  assert.deepEqual(source.store.keys('RateLimitPolicy'), ['shop/api']);
  assert.ok(changes.some((c) => c.kinds.has('RateLimitPolicy')));
  source.stop();
});

test("a RateLimitPolicy change of status alone (Portico's own write) does not wake the controller", async () => {
  const { api, source, changes } = setup();
  const policy = (rv: string, status?: unknown) => ({
    apiVersion: 'portico.dev/v1alpha1',
    kind: 'RateLimitPolicy',
    metadata: { name: 'api', namespace: 'shop', resourceVersion: rv, generation: 1 },
    spec: { rps: 5 },
    ...(status !== undefined ? { status } : {}),
  });
  api.of('RateLimitPolicy').put(policy('1'));
  source.start();
  await source.whenSynced();
  await settle();
  changes.length = 0;
  const status = {
    observedGeneration: 1,
    conditions: [
      {
        type: 'Accepted',
        status: 'True',
        observedGeneration: 1,
        lastTransitionTime: '2030-01-01T00:00:00Z',
        reason: 'Accepted',
        message: 'ok',
      },
    ],
  };
  api.of('RateLimitPolicy').put(policy('2', status));
  await settle();
  assert.deepEqual(changes, []);
  assert.equal(
    source.store.get('RateLimitPolicy', 'shop', 'api')?.object.status?.conditions?.[0]?.status,
    'True',
  );
  source.stop();
});

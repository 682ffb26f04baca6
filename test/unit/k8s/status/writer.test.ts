import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { PublishAddresses } from '../../../../src/k8s/status/address.js';
import type { FetchedIngress, IngressStatusApi } from '../../../../src/k8s/status/api.js';
import { ownershipTest, planStatus, StatusWriter } from '../../../../src/k8s/status/writer.js';
import { silentLogger } from '../../../../src/log/logger.js';
import { PorticoMetrics } from '../../../../src/metrics/registry.js';
import type { Ingress, LoadBalancerIngress } from '../../../../src/model/objects.js';
import type { IngressReport, RoutingModel } from '../../../../src/model/types.js';
import { ObjectStore } from '../../../../src/store/object-store.js';
import { FakeClock } from '../../../../src/util/clock.js';
import { ingress, ingressClass, svc, TEST_OPTIONS } from '../../../support/builders.js';

const LB: LoadBalancerIngress[] = [{ ip: '192.0.2.1' }];

function ing(name: string, cls: string, status: LoadBalancerIngress[] = [], rv = '1'): Ingress {
  const built = ingress(name)
    .cls(cls)
    .host(`${name}.example`)
    .prefix('/', svc('web', 80))
    .resourceVersion(rv)
    .build();
  return { ...built, status: { loadBalancer: { ingress: status } } };
}

function model(reports: IngressReport[]): RoutingModel {
  return { routes: [], hostDefaults: new Map(), ingresses: reports, diagnostics: [] };
}

const classes = [
  ingressClass('portico').controller(TEST_OPTIONS.controllerClass).build(),
  ingressClass('other').controller('example.com/other').build(),
];
const isOurs = ownershipTest(classes, TEST_OPTIONS);

describe('planStatus', () => {
  const cases: readonly {
    readonly name: string;
    readonly ingresses: Ingress[];
    readonly reports: IngressReport[];
    readonly want: string[];
  }[] = [
    {
      name: 'a served Ingress without status gets the addresses',
      ingresses: [ing('a', 'portico')],
      reports: [{ ingress: 'default/a', state: 'served', reason: '' }],
      want: ['default/a=192.0.2.1'],
    },
    {
      name: 'a served Ingress already showing the addresses is a no-op',
      ingresses: [ing('a', 'portico', LB)],
      reports: [{ ingress: 'default/a', state: 'served', reason: '' }],
      want: [],
    },
    {
      name: 'a rejected Ingress still served from its last good version keeps the addresses',
      ingresses: [ing('a', 'portico')],
      reports: [{ ingress: 'default/a', state: 'rejected', reason: 'bad', servingLastGood: true }],
      want: ['default/a=192.0.2.1'],
    },
    {
      name: 'a rejected Ingress without a last good version is cleared',
      ingresses: [ing('a', 'portico', LB)],
      reports: [{ ingress: 'default/a', state: 'rejected', reason: 'bad', servingLastGood: false }],
      want: ['default/a='],
    },
    {
      name: 'an unserved Ingress of ours with no status stays as is',
      ingresses: [ing('a', 'portico')],
      reports: [{ ingress: 'default/a', state: 'rejected', reason: 'bad' }],
      want: [],
    },
    {
      name: 'a foreign-class Ingress is never touched, even with our addresses on it',
      ingresses: [ing('a', 'other', LB), ing('b', 'missing-class', LB)],
      reports: [
        { ingress: 'default/a', state: 'ignored', reason: 'not ours' },
        { ingress: 'default/b', state: 'ignored', reason: 'not ours' },
      ],
      want: [],
    },
    {
      name: 'an Ingress the model has not seen yet waits for the next run',
      ingresses: [ing('new', 'portico')],
      reports: [],
      want: [],
    },
    {
      name: 'stale addresses are replaced; the order of changes is by key',
      ingresses: [ing('b', 'portico', [{ ip: '10.9.9.9' }]), ing('a', 'portico', [{ ip: '10.9.9.9' }])],
      reports: [
        { ingress: 'default/a', state: 'served', reason: '' },
        { ingress: 'default/b', state: 'served', reason: '' },
      ],
      want: ['default/a=192.0.2.1', 'default/b=192.0.2.1'],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const changes = planStatus(c.ingresses, model(c.reports), isOurs, LB);
      assert.deepEqual(
        changes.map(
          (x) => `${x.namespace}/${x.name}=${x.addresses.map((a) => a.ip ?? a.hostname).join(',')}`,
        ),
        c.want,
      );
    });
  }
});

/** `FakeIngressApi` is an in-memory status subresource with resourceVersion preconditions. */
class FakeIngressApi implements IngressStatusApi<string> {
  readonly objects = new Map<string, Ingress>();
  readonly calls: string[] = [];
  /** Number of upcoming updates that fail with 409 (someone else wrote first). */
  conflicts = 0;
  /** Runs before the next GET answers, e.g. to change the object behind the writer's back. */
  beforeGet: ((key: string) => void) | undefined;
  failWith: number | undefined;

  put(i: Ingress): void {
    this.objects.set(`${i.metadata.namespace ?? 'default'}/${i.metadata.name}`, i);
  }

  async getIngress(namespace: string, name: string): Promise<FetchedIngress<string> | undefined> {
    const key = `${namespace}/${name}`;
    this.calls.push(`get ${key}`);
    this.beforeGet?.(key);
    const ingress = this.objects.get(key);
    return ingress && { ingress, raw: ingress.metadata.resourceVersion ?? '' };
  }

  async updateIngressStatus(
    fetched: FetchedIngress<string>,
    addresses: readonly LoadBalancerIngress[],
  ): Promise<void> {
    const key = `${fetched.ingress.metadata.namespace ?? 'default'}/${fetched.ingress.metadata.name}`;
    this.calls.push(`update ${key}`);
    if (this.failWith !== undefined) throw Object.assign(new Error('boom'), { code: this.failWith });
    const current = this.objects.get(key);
    if (current === undefined) throw Object.assign(new Error('not found'), { code: 404 });
    if (this.conflicts > 0 || current.metadata.resourceVersion !== fetched.raw) {
      this.conflicts = Math.max(0, this.conflicts - 1);
      this.put({
        ...current,
        metadata: { ...current.metadata, resourceVersion: `${Number(current.metadata.resourceVersion) + 1}` },
      });
      throw Object.assign(new Error('conflict'), { code: 409 });
    }
    this.put({
      ...current,
      metadata: { ...current.metadata, resourceVersion: `${Number(current.metadata.resourceVersion) + 1}` },
      status: { loadBalancer: { ingress: [...addresses] } },
    });
  }
}

function setup(options: { leader?: () => boolean; publish?: () => Promise<PublishAddresses> } = {}) {
  const store = new ObjectStore();
  for (const c of classes) store.upsert(c);
  const api = new FakeIngressApi();
  const metrics = new PorticoMetrics({ processMetrics: false });
  const clock = new FakeClock();
  const writer = new StatusWriter({
    api,
    store,
    translate: TEST_OPTIONS,
    addresses: options.publish ?? (async () => ({ kind: 'known', addresses: LB })),
    isLeader: options.leader ?? (() => true),
    logger: silentLogger(),
    metrics,
    clock,
    maxAttempts: 3,
  });
  const add = (i: Ingress) => {
    store.upsert(i);
    api.put(i);
  };
  const outcomes = async () =>
    Object.fromEntries(
      (await metrics.statusUpdates.get()).values.map((v) => [String(v.labels['outcome']), v.value]),
    );
  return { store, api, writer, add, outcomes, clock };
}

const served = (...keys: string[]) =>
  model(keys.map((k) => ({ ingress: k, state: 'served' as const, reason: '' })));

describe('StatusWriter', () => {
  test('writes served Ingresses through GET then update, and counts it', async () => {
    const { api, writer, add, outcomes } = setup();
    add(ing('a', 'portico'));
    writer.setModel(served('default/a'));
    await writer.idle();
    assert.deepEqual(api.calls, ['get default/a', 'update default/a']);
    assert.deepEqual(api.objects.get('default/a')?.status?.loadBalancer?.ingress, LB);
    assert.deepEqual(await outcomes(), { updated: 1 });
  });

  test('the store already right: no API call at all', async () => {
    const { api, writer, add } = setup();
    add(ing('a', 'portico', LB));
    writer.setModel(served('default/a'));
    await writer.idle();
    assert.deepEqual(api.calls, []);
  });

  test('the store stale but the server right: GET shows no change, no update', async () => {
    const { api, writer, store, outcomes } = setup();
    store.upsert(ing('a', 'portico'));
    api.put(ing('a', 'portico', LB, '2'));
    writer.setModel(served('default/a'));
    await writer.idle();
    assert.deepEqual(api.calls, ['get default/a']);
    assert.deepEqual(await outcomes(), { unchanged: 1 });
  });

  test('409 Conflict: re-GET and retry, then succeed', async () => {
    const { api, writer, add, outcomes } = setup();
    add(ing('a', 'portico'));
    api.conflicts = 2;
    writer.setModel(served('default/a'));
    await writer.idle();
    assert.deepEqual(api.calls, [
      'get default/a',
      'update default/a',
      'get default/a',
      'update default/a',
      'get default/a',
      'update default/a',
    ]);
    assert.deepEqual(await outcomes(), { conflict: 2, updated: 1 });
    assert.deepEqual(api.objects.get('default/a')?.status?.loadBalancer?.ingress, LB);
  });

  test('conflicts beyond the attempt bound give up and retry after a delay', async () => {
    const { api, writer, add, outcomes, clock } = setup();
    add(ing('a', 'portico'));
    api.conflicts = 10;
    writer.setModel(served('default/a'));
    await writer.idle();
    assert.equal(api.calls.filter((c) => c.startsWith('update')).length, 3);
    assert.deepEqual(await outcomes(), { conflict: 3 });
    api.conflicts = 0;
    clock.advance(5_000);
    await writer.idle();
    assert.deepEqual(api.objects.get('default/a')?.status?.loadBalancer?.ingress, LB);
    await writer.stop();
    assert.equal(clock.pending, 0);
  });

  test('an Ingress that moved to another class after the store saw it is left alone', async () => {
    const { api, writer, add } = setup();
    add(ing('a', 'portico'));
    api.beforeGet = () => api.put({ ...ing('a', 'other', [], '5') });
    writer.setModel(served('default/a'));
    await writer.idle();
    assert.deepEqual(api.calls, ['get default/a']);
  });

  test('an Ingress deleted meanwhile is skipped', async () => {
    const { api, writer, store } = setup();
    store.upsert(ing('a', 'portico'));
    writer.setModel(served('default/a'));
    await writer.idle();
    assert.deepEqual(api.calls, ['get default/a']);
  });

  test('other errors are counted, logged and retried later', async () => {
    const { api, writer, add, outcomes, clock } = setup();
    add(ing('a', 'portico'));
    api.failWith = 500;
    writer.setModel(served('default/a'));
    await writer.idle();
    assert.deepEqual(await outcomes(), { error: 1 });
    api.failWith = undefined;
    clock.advance(5_000);
    await writer.idle();
    assert.deepEqual(await outcomes(), { error: 1, updated: 1 });
  });

  test('not leader: nothing is read or written', async () => {
    const { api, writer, add } = setup({ leader: () => false });
    add(ing('a', 'portico'));
    writer.setModel(served('default/a'));
    await writer.idle();
    assert.deepEqual(api.calls, []);
  });

  test('leadership lost between GET and update: no update', async () => {
    let leading = true;
    const { api, writer, add } = setup({ leader: () => leading });
    add(ing('a', 'portico'));
    api.beforeGet = () => {
      leading = false;
    };
    writer.setModel(served('default/a'));
    await writer.idle();
    assert.deepEqual(api.calls, ['get default/a']);
  });

  test('unknown publish addresses write nothing (never clear on a cache miss)', async () => {
    const { api, writer, add } = setup({ publish: async () => ({ kind: 'unknown', reason: 'no Service' }) });
    add(ing('a', 'portico', LB));
    writer.setModel(model([{ ingress: 'default/a', state: 'rejected', reason: 'x' }]));
    await writer.idle();
    assert.deepEqual(api.calls, []);
  });

  test('requests during a pass coalesce into one more pass with the latest model', async () => {
    let resolves = 0;
    const { api, writer, add } = setup({
      publish: async () => {
        resolves++;
        return { kind: 'known', addresses: LB };
      },
    });
    add(ing('a', 'portico'));
    add(ing('b', 'portico'));
    writer.setModel(served('default/a'));
    writer.setModel(served('default/a'));
    writer.setModel(served('default/a', 'default/b'));
    await writer.idle();
    assert.equal(resolves, 2);
    assert.ok(api.objects.get('default/b')?.status?.loadBalancer?.ingress?.length === 1);
  });

  test('stop: no new pass starts', async () => {
    const { api, writer, add } = setup();
    add(ing('a', 'portico'));
    await writer.stop();
    writer.setModel(served('default/a'));
    await writer.idle();
    assert.deepEqual(api.calls, []);
  });
});

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  addressesFromList,
  addressesFromService,
  type NodeAddress,
  type NodeLookup,
  normalizeAddresses,
  type PodPlacement,
  type PublishAddresses,
  type PublishSource,
  resolvePublishAddresses,
  sameAddresses,
} from '../../../../src/k8s/status/address.js';
import type { LoadBalancerIngress, Service } from '../../../../src/model/objects.js';
import { ObjectStore } from '../../../../src/store/object-store.js';

function publishService(spec: NonNullable<Service['spec']>, lb: LoadBalancerIngress[] = []): Service {
  return {
    kind: 'Service',
    apiVersion: 'v1',
    metadata: { name: 'portico', namespace: 'ingress', resourceVersion: '1' },
    spec,
    status: { loadBalancer: { ingress: lb } },
  };
}

class FakeNodes implements NodeLookup {
  readonly calls: string[] = [];
  constructor(
    readonly pods: readonly PodPlacement[],
    readonly nodes: Readonly<Record<string, readonly NodeAddress[]>>,
  ) {}
  async listPods(
    namespace: string,
    selector: Readonly<Record<string, string>>,
  ): Promise<readonly PodPlacement[]> {
    this.calls.push(`pods ${namespace} ${JSON.stringify(selector)}`);
    return this.pods;
  }
  async getNodeAddresses(name: string): Promise<readonly NodeAddress[] | undefined> {
    this.calls.push(`node ${name}`);
    return this.nodes[name];
  }
}

const SELECTOR = { app: 'portico' };
const running = (nodeName: string): PodPlacement => ({ nodeName, phase: 'Running', terminating: false });

describe('publish addresses', () => {
  const cases: readonly {
    readonly name: string;
    readonly source: PublishSource;
    readonly service?: Service;
    readonly lookup?: FakeNodes;
    readonly want: PublishAddresses;
  }[] = [
    {
      name: '--publish-status-address: an IP becomes {ip}, a name {hostname}; sorted, deduped',
      source: { publishStatusAddresses: ['lb.example.com', '10.0.0.2', '10.0.0.1', '10.0.0.2', ' '] },
      want: {
        kind: 'known',
        addresses: [{ hostname: 'lb.example.com' }, { ip: '10.0.0.1' }, { ip: '10.0.0.2' }],
      },
    },
    {
      name: '--publish-status-address wins over --publish-service',
      source: {
        publishStatusAddresses: ['2001:db8::1'],
        publishService: { namespace: 'ingress', name: 'portico' },
      },
      service: publishService({ type: 'LoadBalancer' }, [{ ip: '192.0.2.9' }]),
      want: { kind: 'known', addresses: [{ ip: '2001:db8::1' }] },
    },
    {
      name: 'neither flag: status writing is disabled',
      source: { publishStatusAddresses: [] },
      want: { kind: 'disabled' },
    },
    {
      name: 'publish Service missing from the store: unknown, not empty',
      source: { publishStatusAddresses: [], publishService: { namespace: 'ingress', name: 'portico' } },
      want: { kind: 'unknown', reason: 'publish Service ingress/portico not found' },
    },
    {
      name: 'LoadBalancer: its status IPs and hostnames, plus externalIPs',
      source: { publishStatusAddresses: [], publishService: { namespace: 'ingress', name: 'portico' } },
      service: publishService({ type: 'LoadBalancer', externalIPs: ['198.51.100.7'] }, [
        { ip: '192.0.2.9' },
        { hostname: 'abc.elb.example' },
        { ip: '192.0.2.9' },
      ]),
      want: {
        kind: 'known',
        addresses: [{ hostname: 'abc.elb.example' }, { ip: '192.0.2.9' }, { ip: '198.51.100.7' }],
      },
    },
    {
      name: 'LoadBalancer not provisioned yet: known and empty',
      source: { publishStatusAddresses: [], publishService: { namespace: 'ingress', name: 'portico' } },
      service: publishService({ type: 'LoadBalancer' }),
      want: { kind: 'known', addresses: [] },
    },
    {
      name: 'NodePort with externalIPs: those, without looking at nodes',
      source: { publishStatusAddresses: [], publishService: { namespace: 'ingress', name: 'portico' } },
      service: publishService({
        type: 'NodePort',
        externalIPs: ['203.0.113.2', '203.0.113.1'],
        selector: SELECTOR,
      }),
      lookup: new FakeNodes([running('n1')], { n1: [{ type: 'ExternalIP', address: '1.1.1.1' }] }),
      want: { kind: 'known', addresses: [{ ip: '203.0.113.1' }, { ip: '203.0.113.2' }] },
    },
    {
      name: 'NodePort without externalIPs: nodes of running pods, ExternalIP else InternalIP',
      source: { publishStatusAddresses: [], publishService: { namespace: 'ingress', name: 'portico' } },
      service: publishService({ type: 'NodePort', selector: SELECTOR }),
      lookup: new FakeNodes(
        [
          running('n2'),
          running('n1'),
          running('n1'),
          { nodeName: 'n3', phase: 'Pending', terminating: false },
          { nodeName: 'n4', phase: 'Running', terminating: true },
          { phase: 'Running', terminating: false },
          running('gone'),
        ],
        {
          n1: [
            { type: 'InternalIP', address: '10.1.0.1' },
            { type: 'ExternalIP', address: '203.0.113.10' },
          ],
          n2: [
            { type: 'Hostname', address: 'n2' },
            { type: 'InternalIP', address: '10.1.0.2' },
          ],
          n3: [{ type: 'ExternalIP', address: '203.0.113.30' }],
          n4: [{ type: 'ExternalIP', address: '203.0.113.40' }],
        },
      ),
      want: { kind: 'known', addresses: [{ ip: '10.1.0.2' }, { ip: '203.0.113.10' }] },
    },
    {
      name: 'NodePort without selector: no pods, empty',
      source: { publishStatusAddresses: [], publishService: { namespace: 'ingress', name: 'portico' } },
      service: publishService({ type: 'NodePort' }),
      lookup: new FakeNodes([running('n1')], { n1: [{ type: 'ExternalIP', address: '1.1.1.1' }] }),
      want: { kind: 'known', addresses: [] },
    },
    {
      name: 'ClusterIP: its cluster IP',
      source: { publishStatusAddresses: [], publishService: { namespace: 'ingress', name: 'portico' } },
      service: publishService({ type: 'ClusterIP', clusterIP: '10.96.0.10' }),
      want: { kind: 'known', addresses: [{ ip: '10.96.0.10' }] },
    },
    {
      name: 'ExternalName: its DNS name',
      source: { publishStatusAddresses: [], publishService: { namespace: 'ingress', name: 'portico' } },
      service: publishService({ type: 'ExternalName', externalName: 'edge.example.net' }),
      want: { kind: 'known', addresses: [{ hostname: 'edge.example.net' }] },
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const store = new ObjectStore();
      if (c.service) store.upsert(c.service);
      const lookup = c.lookup ?? new FakeNodes([], {});
      assert.deepEqual(await resolvePublishAddresses(c.source, store, lookup), c.want);
    });
  }

  test('node lookup lists pods with the Service selector in its namespace', async () => {
    const store = new ObjectStore();
    store.upsert(publishService({ type: 'NodePort', selector: SELECTOR }));
    const lookup = new FakeNodes([running('n1')], { n1: [{ type: 'InternalIP', address: '10.0.0.1' }] });
    await resolvePublishAddresses(
      { publishStatusAddresses: [], publishService: { namespace: 'ingress', name: 'portico' } },
      store,
      lookup,
    );
    assert.deepEqual(lookup.calls, ['pods ingress {"app":"portico"}', 'node n1']);
  });
});

describe('address helpers', () => {
  test('addressesFromService says "nodes" for a NodePort Service without externalIPs', () => {
    assert.equal(addressesFromService(publishService({ type: 'NodePort' })), 'nodes');
  });
  test('addressesFromList ignores empty entries', () => {
    assert.deepEqual(addressesFromList(['', ' ']), []);
  });
  test('normalizeAddresses drops empty fields and orders by IP then hostname', () => {
    assert.deepEqual(
      normalizeAddresses([{ ip: '10.0.0.2' }, { ip: '', hostname: 'b' }, { hostname: 'a' }, {}]),
      [{ hostname: 'a' }, { hostname: 'b' }, { ip: '10.0.0.2' }],
    );
  });
  const same: readonly [
    string,
    LoadBalancerIngress[] | undefined,
    LoadBalancerIngress[] | undefined,
    boolean,
  ][] = [
    [
      'order does not matter',
      [{ ip: '1.1.1.1' }, { ip: '2.2.2.2' }],
      [{ ip: '2.2.2.2' }, { ip: '1.1.1.1' }],
      true,
    ],
    ['undefined equals empty', undefined, [], true],
    ['a different address differs', [{ ip: '1.1.1.1' }], [{ ip: '1.1.1.2' }], false],
    ['ip vs hostname differ', [{ ip: '1.1.1.1' }], [{ hostname: '1.1.1.1' }], false],
    ['a missing entry differs', [{ ip: '1.1.1.1' }], [], false],
  ];
  for (const [name, a, b, want] of same) {
    test(`sameAddresses: ${name}`, () => assert.equal(sameAddresses(a, b), want));
  }
});

/**
 * The nft script read through the nft evaluator: the same packet-flow table as the iptables mode
 * (the two modes must agree on every flow), and the same repeated-sync scenario.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { changedServices, type L4Endpoint, type L4State } from '../../../src/l4/model.js';
import { nftEndpointChainName, nftServiceChainName } from '../../../src/l4/naming.js';
import { type NftablesRender, renderNftables } from '../../../src/l4/render/nftables.js';
import {
  ep,
  flowState,
  localAddresses,
  nodeIp,
  outsideClient,
  packetFlows,
  redirectFlowState,
  redirectFlows,
  svc,
} from '../../support/l4-fixtures.js';
import { NftScriptError, SimulatedNftables } from '../../support/nft-tracer.js';

function loaded(state: L4State): SimulatedNftables {
  const table = new SimulatedNftables();
  table.apply(renderNftables(state).script);
  return table;
}

const table = loaded(flowState);
for (const flow of packetFlows) {
  test(`nftables: ${flow.name}`, () => {
    const got = table.trace(flow.packet, localAddresses);
    assert.deepEqual(
      { endpoints: got.endpoints, masquerade: got.masquerade, rejected: got.rejected },
      flow.want,
    );
  });
}

test('nftables: numgen gives every endpoint the same share, and the shares sum to 1', () => {
  const got = table.trace({ src: outsideClient, dst: nodeIp, dport: 8080, proto: 'tcp' }, localAddresses);
  assert.deepEqual(
    got.paths.map((p) => [p.endpoint, p.probability]),
    ['10.244.1.1:80', '10.244.1.2:80', '10.244.1.3:80', '10.244.1.4:80'].map((e) => [e, 0.25]),
  );
});

test('nftables: an IPv6 packet reaches IPv6 endpoints through the same inet table', () => {
  const v6 = loaded({ services: [svc('db/pg:5432/TCP', 5432, [ep('fd00:244::5', 5432)])] });
  const got = v6.trace({ src: 'fd00:99::1', dst: 'fd00:50::10', dport: 5432, proto: 'tcp' }, [
    'fd00:50::10',
    '::1',
  ]);
  assert.deepEqual(got.endpoints, ['[fd00:244::5]:5432']);
  assert.equal(got.masquerade, true);
});

test('nftables: a full sync replaces the whole table in one transaction, whatever was there', () => {
  const t = loaded(flowState);
  t.apply(
    renderNftables({ nodeIp, services: [svc('db/redis:6379/TCP', 6379, [ep('10.0.0.9', 6379)])] }).script,
  );
  assert.equal(
    t.dump(),
    loaded({ nodeIp, services: [svc('db/redis:6379/TCP', 6379, [ep('10.0.0.9', 6379)])] }).dump(),
  );
});

class Harness {
  readonly kernel = new SimulatedNftables();
  applied: L4State = { nodeIp, services: [] };
  needFullSync = true;

  sync(next: L4State, options: { failApply?: boolean } = {}): NftablesRender {
    const existingChains = new Set(this.kernel.chainNames());
    const render = renderNftables(
      next,
      this.needFullSync
        ? { existingChains }
        : { changedServices: changedServices(this.applied, next), existingChains, previous: this.applied },
    );
    if (options.failApply) {
      this.needFullSync = true;
      return render;
    }
    if (render.script !== '') this.kernel.apply(render.script);
    this.applied = next;
    this.needFullSync = false;
    return render;
  }
}

function assertStep(
  step: string,
  h: Harness,
  render: NftablesRender,
  want: { serviceChainsWritten: number; chainsDeleted: number; rulesTotal: number },
): void {
  const { serviceChainsWritten, chainsDeleted, rulesTotal } = render.stats;
  assert.deepEqual({ serviceChainsWritten, chainsDeleted, rulesTotal }, want, `${step}: stats`);
  assert.equal(h.kernel.ruleCount(), want.rulesTotal, `${step}: rules in the table`);
  assert.equal(
    h.kernel.dump(),
    loaded(h.applied).dump(),
    `${step}: the table differs from a full sync of the same state`,
  );
}

const pg = (...endpoints: Array<string | L4Endpoint>) =>
  svc(
    'db/postgres:5432/TCP',
    5432,
    endpoints.map((e) => (typeof e === 'string' ? ep(e, 5432) : e)),
  );
const localPg = ep('10.244.0.3', 5432, { nodeLocal: true });
const redis = svc('db/redis:6379/TCP', 6379, [ep('10.244.1.6', 6379)]);
const mqtt = svc('iot/mqtt:1883/TCP', 1883, [ep('10.244.2.2', 1883)]);
// With a node address: 12 fixed rules (no loopback exclusions). Per service: mark + DNAT for the
// off-node endpoints; with node-local ones, a numgen vmap and 2 rules in each one's chain.
const fixed = 12;

test('nftables: a series of partial syncs keeps the table equal to a full sync, touching only what changed', () => {
  const h = new Harness();
  const s0: L4State = { nodeIp, services: [pg('10.244.1.5', '10.244.2.7')] };
  assertStep('first (full) sync', h, h.sync(s0), {
    serviceChainsWritten: 1,
    chainsDeleted: 0,
    rulesTotal: fixed + 2,
  });

  const s1: L4State = { nodeIp, services: [...s0.services, redis] };
  const r1 = h.sync(s1);
  assert.ok(
    !r1.script.includes(`add chain inet portico ${nftServiceChainName(pg())}`),
    'add service: pg untouched',
  );
  assertStep('add service', h, r1, { serviceChainsWritten: 1, chainsDeleted: 0, rulesTotal: fixed + 2 + 2 });

  const s2: L4State = { nodeIp, services: [pg('10.244.1.5', localPg), redis] };
  const r2 = h.sync(s2);
  assert.ok(
    !r2.script.includes(`add chain inet portico ${nftServiceChainName(redis)}`),
    'endpoint change: redis untouched',
  );
  assertStep('an endpoint becomes node-local: it gets a chain', h, r2, {
    serviceChainsWritten: 2,
    chainsDeleted: 0,
    rulesTotal: fixed + 5 + 2,
  });

  const s3: L4State = { nodeIp, services: [pg('10.244.1.5', localPg)] };
  const r3 = h.sync(s3);
  assert.ok(!h.kernel.chainNames().includes(nftServiceChainName(redis)), 'delete service: its chain is gone');
  assertStep('delete service', h, r3, { serviceChainsWritten: 0, chainsDeleted: 1, rulesTotal: fixed + 5 });

  const s4: L4State = { nodeIp, services: [pg('10.244.1.5', '10.244.3.1')] };
  const r4 = h.sync(s4);
  assert.ok(
    !h.kernel.chainNames().includes(nftEndpointChainName(pg(localPg), localPg)),
    'the node-local endpoint left: its chain is gone',
  );
  assertStep('node-local endpoint replaced by an off-node one', h, r4, {
    serviceChainsWritten: 1,
    chainsDeleted: 1,
    rulesTotal: fixed + 2,
  });

  const r5 = h.sync(s4);
  assert.equal(r5.script, '', 'no-op sync: nothing to apply');
  assertStep('no-op sync', h, r5, { serviceChainsWritten: 0, chainsDeleted: 0, rulesTotal: fixed + 2 });

  const s6: L4State = { nodeIp, services: [...s4.services, mqtt, svc('db/redis:6379/TCP', 6379, [])] };
  h.sync(s6, { failApply: true });
  const s7: L4State = {
    nodeIp,
    services: [...s6.services, svc('iot/coap:5683/UDP', 5683, [ep('10.244.2.3', 5683)])],
  };
  const naive = renderNftables(s7, {
    changedServices: new Set(['iot/coap:5683/UDP']),
    existingChains: new Set(h.kernel.chainNames()),
  });
  // The partial script would point the map at mqtt's chain, which the failed sync never created.
  assert.throws(
    () => h.kernel.clone().apply(naive.script),
    (error: unknown) =>
      error instanceof NftScriptError && error.message.includes(`missing chain ${nftServiceChainName(mqtt)}`),
  );
  const r7 = h.sync(s7);
  assertStep('full sync after a failure', h, r7, {
    serviceChainsWritten: 3,
    chainsDeleted: 0,
    rulesTotal: fixed + 2 + 2 + 2,
  });
});

const mapChangeCases: Array<{ name: string; from: L4State; to: L4State; wantElementLines: number }> = [
  {
    name: 'an endpoint change leaves the verdict maps untouched',
    from: { nodeIp, services: [pg('10.244.1.5', '10.244.2.7'), redis] },
    to: { nodeIp, services: [pg('10.244.1.5', '10.244.3.1'), redis] },
    wantElementLines: 0,
  },
  {
    name: 'a listen port change deletes the old key and adds the new one',
    from: { nodeIp, services: [redis] },
    to: { nodeIp, services: [{ ...redis, listenPort: 16379 }] },
    wantElementLines: 2,
  },
  {
    name: 'two services swapping listen ports never map one key twice',
    from: { nodeIp, services: [redis, mqtt] },
    to: {
      nodeIp,
      services: [
        { ...redis, listenPort: 1883 },
        { ...mqtt, listenPort: 6379 },
      ],
    },
    wantElementLines: 2,
  },
  {
    name: 'a service losing its last endpoint moves from the service map to the no-endpoint map',
    from: { nodeIp, services: [redis, mqtt] },
    to: { nodeIp, services: [redis, { ...mqtt, endpoints: [] }] },
    wantElementLines: 2,
  },
  {
    name: 'a service regaining endpoints moves back to the service map',
    from: { nodeIp, services: [redis, { ...mqtt, endpoints: [] }] },
    to: { nodeIp, services: [redis, mqtt] },
    wantElementLines: 2,
  },
  {
    name: 'a port change of a service without endpoints is written although no chain changes',
    from: { nodeIp, services: [redis, { ...mqtt, endpoints: [] }] },
    to: { nodeIp, services: [redis, { ...mqtt, listenPort: 11883, endpoints: [] }] },
    wantElementLines: 2,
  },
  {
    name: 'deleting a service without endpoints deletes its no-endpoint element',
    from: { nodeIp, services: [redis, { ...mqtt, endpoints: [] }] },
    to: { nodeIp, services: [redis] },
    wantElementLines: 1,
  },
];

for (const c of mapChangeCases) {
  test(`nftables partial sync: ${c.name}, and the table equals a full sync`, () => {
    const h = new Harness();
    h.sync(c.from);
    const render = h.sync(c.to);
    const elementLines = render.script.split('\n').filter((line) => / element /.test(line));
    assert.equal(elementLines.length, c.wantElementLines, render.script);
    assert.ok(!render.script.includes('flush map'), 'a partial sync never refills a map');
    assert.equal(h.kernel.dump(), loaded(c.to).dump());
  });
}

const mixed = svc('db/postgres:5432/TCP', 5432, [
  ep('10.244.1.5', 5432),
  ep('10.244.2.7', 5432),
  ep('10.244.0.3', 5432, { nodeLocal: true }),
  ep('fd00:244:1::5', 5432),
  ep('fd00:244::3', 5432, { nodeLocal: true }),
]);
const dualStackLocal = [...localAddresses, 'fd00:50::10', 'fd00:244::1', '::1'];

const shareCases: Array<{
  name: string;
  state: L4State;
  packet: { src: string; dst: string; dport: number; proto: 'tcp' | 'udp' };
  want: Array<[endpoint: string, probability: number, masquerade: boolean]>;
}> = [
  {
    name: 'off-node and node-local endpoints of one family share numgen equally; only off-node ones are masqueraded',
    state: { nodeIp, services: [mixed] },
    packet: { src: outsideClient, dst: nodeIp, dport: 5432, proto: 'tcp' },
    want: [
      ['10.244.0.3:5432', 1 / 3, false],
      ['10.244.1.5:5432', 1 / 3, true],
      ['10.244.2.7:5432', 1 / 3, true],
    ],
  },
  {
    name: 'a node-local endpoint reaching its own service is masqueraded only on the path back to itself',
    state: { nodeIp, services: [mixed] },
    packet: { src: '10.244.0.3', dst: nodeIp, dport: 5432, proto: 'tcp' },
    want: [
      ['10.244.0.3:5432', 1 / 3, true],
      ['10.244.1.5:5432', 1 / 3, true],
      ['10.244.2.7:5432', 1 / 3, true],
    ],
  },
  {
    name: 'another node-local address is not hairpin traffic',
    state: { nodeIp, services: [mixed] },
    packet: { src: '10.244.0.4', dst: nodeIp, dport: 5432, proto: 'tcp' },
    want: [
      ['10.244.0.3:5432', 1 / 3, false],
      ['10.244.1.5:5432', 1 / 3, true],
      ['10.244.2.7:5432', 1 / 3, true],
    ],
  },
  {
    name: 'an IPv6 packet to a dual-stack service spreads over the IPv6 endpoints only',
    state: { services: [mixed] },
    packet: { src: 'fd00:99::1', dst: 'fd00:50::10', dport: 5432, proto: 'tcp' },
    want: [
      ['[fd00:244:1::5]:5432', 1 / 2, true],
      ['[fd00:244::3]:5432', 1 / 2, false],
    ],
  },
  {
    name: 'an IPv4 packet to a dual-stack service spreads over the IPv4 endpoints only',
    state: { services: [mixed] },
    packet: { src: outsideClient, dst: nodeIp, dport: 5432, proto: 'tcp' },
    want: [
      ['10.244.0.3:5432', 1 / 3, false],
      ['10.244.1.5:5432', 1 / 3, true],
      ['10.244.2.7:5432', 1 / 3, true],
    ],
  },
  {
    name: 'a service of only node-local endpoints goes through a vmap that covers every value',
    state: {
      nodeIp,
      services: [
        svc('dns/coredns:dns/UDP', 53, [
          ep('10.244.0.10', 53, { nodeLocal: true }),
          ep('10.244.0.11', 53, { nodeLocal: true }),
        ]),
      ],
    },
    packet: { src: outsideClient, dst: nodeIp, dport: 53, proto: 'udp' },
    want: [
      ['10.244.0.10:53', 1 / 2, false],
      ['10.244.0.11:53', 1 / 2, false],
    ],
  },
];

for (const c of shareCases) {
  test(`nftables: ${c.name}`, () => {
    const got = loaded(c.state).trace(c.packet, dualStackLocal);
    assert.deepEqual(
      got.paths.map((p) => [p.endpoint, p.probability, p.masquerade]),
      c.want.map(([endpoint, probability, masquerade]) => [endpoint, probability, masquerade]),
    );
  });
}

// The iptables mode traces the same flows (test/unit/l4/iptables-tracer.test.ts): the modes must agree.
const redirectTable = loaded(redirectFlowState);
for (const flow of redirectFlows) {
  test(`nftables redirect: ${flow.name}`, () => {
    const got = redirectTable.trace(flow.packet, localAddresses);
    assert.deepEqual(
      { endpoints: got.endpoints, masquerade: got.masquerade, rejected: got.rejected },
      { endpoints: flow.want.endpoints, masquerade: flow.want.masquerade, rejected: false },
    );
  });
}

const anyLocalRedirects: L4State = { services: [], portRedirects: [{ port: 80, toPort: 8080 }] };
const anyLocalRedirectCases: Array<{
  name: string;
  packet: { src: string; dst: string; dport: number; proto: 'tcp' | 'udp' };
  want: string[];
}> = [
  {
    name: 'without a node address any local address but loopback is redirected',
    packet: { src: outsideClient, dst: '10.244.0.1', dport: 80, proto: 'tcp' },
    want: ['10.244.0.1:8080'],
  },
  {
    name: 'loopback keeps its port (127.0.0.1:80 is not a node port)',
    packet: { src: '127.0.0.1', dst: '127.0.0.1', dport: 80, proto: 'tcp' },
    want: [],
  },
  {
    name: 'an IPv6 client reaching a node address is redirected too (one inet table)',
    packet: { src: 'fd00:99::1', dst: 'fd00:50::10', dport: 80, proto: 'tcp' },
    want: ['[fd00:50::10]:8080'],
  },
  {
    name: 'the node itself reaching its IPv6 address lands on ::1',
    packet: { src: 'fd00:50::10', dst: 'fd00:50::10', dport: 80, proto: 'tcp' },
    want: ['[::1]:8080'],
  },
];

for (const c of anyLocalRedirectCases) {
  test(`nftables redirect: ${c.name}`, () => {
    const got = loaded(anyLocalRedirects).trace(c.packet, dualStackLocal);
    assert.deepEqual(
      { endpoints: got.endpoints, masquerade: got.masquerade },
      { endpoints: c.want, masquerade: false },
    );
  });
}

const rejectionCases: Array<{
  name: string;
  state: L4State;
  want: Array<[string, string]>;
  redirectsKept: number;
}> = [
  {
    name: 'a TCP service on a redirected port is left out, naming its listenPort (a UDP one stays)',
    state: {
      services: [svc('web/x:http/TCP', 80, [ep('10.244.1.1', 80)]), svc('dns/d:dns/UDP', 80, [])],
      portRedirects: [{ port: 80, toPort: 8080 }],
    },
    want: [['web/x:http/TCP', 'listenPort']],
    redirectsKept: 1,
  },
  {
    name: 'a redirect to a port out of range is left out, naming the field',
    state: { services: [], portRedirects: [{ port: 80, toPort: 70000 }] },
    want: [['*', 'portRedirects[0].toPort']],
    redirectsKept: 0,
  },
  {
    name: 'a port redirected twice keeps the first redirect; a redirect onto itself or of port 0 is left out',
    state: {
      services: [],
      portRedirects: [
        { port: 80, toPort: 8080 },
        { port: 80, toPort: 9090 },
        { port: 0, toPort: 9090 },
        { port: 443, toPort: 443 },
      ],
    },
    want: [
      ['*', 'portRedirects[1].port'],
      ['*', 'portRedirects[2].port'],
      ['*', 'portRedirects[3].toPort'],
    ],
    redirectsKept: 1,
  },
];

for (const c of rejectionCases) {
  test(`nftables: ${c.name}`, () => {
    const render = renderNftables(c.state);
    assert.deepEqual(
      render.rejected.map((r) => [r.service, r.field]),
      c.want,
    );
    // What is left out is not in the script; what stays still applies.
    new SimulatedNftables().apply(render.script);
    assert.equal(render.script.match(/ redirect to /g)?.length ?? 0, c.redirectsKept);
  });
}

const transitionCases: Array<{ name: string; from: L4State; to: L4State; wantChainsDeleted: number }> = [
  {
    name: 'an off-node endpoint turning node-local gets its chain',
    from: { nodeIp, services: [pg('10.244.1.5', '10.244.0.3')] },
    to: { nodeIp, services: [pg('10.244.1.5', localPg)] },
    wantChainsDeleted: 0,
  },
  {
    name: 'the last node-local endpoint leaving deletes its chain',
    from: { nodeIp, services: [pg('10.244.1.5', localPg)] },
    to: { nodeIp, services: [pg('10.244.1.5')] },
    wantChainsDeleted: 1,
  },
  {
    name: 'a service of node-local endpoints losing them all deletes every chain it had',
    from: { nodeIp, services: [pg(localPg, ep('10.244.0.4', 5432, { nodeLocal: true }))] },
    to: { nodeIp, services: [pg()] },
    wantChainsDeleted: 3,
  },
  {
    name: 'a service becoming dual-stack is rewritten with per-family rules',
    from: { nodeIp, services: [pg('10.244.1.5')] },
    to: { nodeIp, services: [mixed] },
    wantChainsDeleted: 0,
  },
];

for (const c of transitionCases) {
  test(`nftables partial sync: ${c.name}, and the table equals a full sync`, () => {
    const h = new Harness();
    h.sync(c.from);
    const render = h.sync(c.to);
    assert.equal(render.stats.chainsDeleted, c.wantChainsDeleted);
    assert.equal(h.kernel.dump(), loaded(c.to).dump());
    assert.equal(h.kernel.ruleCount(), render.stats.rulesTotal);
  });
}

// The layout before one chain per service: an endpoint chain for every endpoint (kube-proxy's), as
// a table left by an older Portico holds it when the new one starts and adopts it.
const oldLayoutTable = `add table inet portico
add chain inet portico services
add chain inet portico endpoint-QHZS2P36-db/postgres/tcp/5432__10.244.1.5/5432
add rule inet portico endpoint-QHZS2P36-db/postgres/tcp/5432__10.244.1.5/5432 meta l4proto tcp dnat ip to 10.244.1.5:5432
add chain inet portico service-ZYQBXTSL-db/postgres/tcp/5432
add rule inet portico service-ZYQBXTSL-db/postgres/tcp/5432 numgen random mod 1 vmap { 0 : goto endpoint-QHZS2P36-db/postgres/tcp/5432__10.244.1.5/5432 }
`;

const adoptionCases: Array<{ name: string; live: () => SimulatedNftables; next: L4State }> = [
  {
    name: 'a service removed while Portico was down',
    live: () => loaded({ nodeIp, services: [pg('10.244.1.5'), redis] }),
    next: { nodeIp, services: [pg('10.244.1.5')] },
  },
  {
    name: 'the per-endpoint layout of an older Portico',
    live: () => {
      const table = new SimulatedNftables();
      table.apply(oldLayoutTable);
      return table;
    },
    next: { nodeIp, services: [pg('10.244.1.5')] },
  },
];

for (const c of adoptionCases) {
  test(`nftables: a full sync replaces a table holding chains it no longer needs (${c.name}) without naming them`, () => {
    const live = c.live();
    const render = renderNftables(c.next, { existingChains: new Set(live.chainNames()) });
    assert.doesNotMatch(render.script, /^delete chain /m);
    live.apply(render.script);
    assert.equal(live.dump(), loaded(c.next).dump());
  });
}

// A partial render re-checks only the changed services; whatever the change, its verdicts (and
// their order) must be those of checking the whole state.
const mq = (port: number, address = '10.244.2.2') => svc('iot/mqtt:1883/TCP', port, [ep(address, 1883)]);
const web = svc('web/app:http/TCP', 8080, [ep('10.244.1.1', 80)]);
const withRedirect = (services: L4State['services']): L4State => ({
  nodeIp,
  services,
  portRedirects: [{ port: 80, toPort: 18080 }],
});
const recheckCases: Array<{ name: string; from: L4State; to: L4State }> = [
  {
    name: 'a service moving onto another one’s port',
    from: withRedirect([redis, mq(1883), web]),
    to: withRedirect([redis, mq(8080), web]),
  },
  {
    name: 'a service leaving a shared port frees the one it blocked',
    from: withRedirect([redis, mq(8080), web]),
    to: withRedirect([redis, mq(1883), web]),
  },
  {
    name: 'an invalid endpoint fixed',
    from: withRedirect([redis, mq(1883, 'not-an-ip'), web]),
    to: withRedirect([redis, mq(1883), web]),
  },
  {
    name: 'a valid service broken',
    from: withRedirect([redis, mq(1883), web]),
    to: withRedirect([redis, mq(1883, '10.244.2.2.9'), web]),
  },
  {
    name: 'a TCP service moving onto a redirected port',
    from: withRedirect([redis, mq(1883), web]),
    to: withRedirect([redis, mq(80), web]),
  },
  {
    name: 'a second service of the same name',
    from: withRedirect([redis, mq(1883), web]),
    to: withRedirect([redis, mq(1883), web, mq(1884)]),
  },
  {
    name: 'several rejected services, one of them changed',
    from: withRedirect([
      redis,
      mq(1883, 'bad'),
      svc('a/a:1/TCP', 1, [ep('x', 1)]),
      svc('z/z:1/TCP', 2, [ep('y', 1)]),
      web,
    ]),
    to: withRedirect([
      redis,
      mq(1883, 'worse'),
      svc('a/a:1/TCP', 1, [ep('x', 1)]),
      svc('z/z:1/TCP', 2, [ep('y', 1)]),
      web,
    ]),
  },
];

for (const c of recheckCases) {
  test(`nftables partial sync re-checks like a full check: ${c.name}`, () => {
    const h = new Harness();
    h.sync(c.from);
    const partial = h.sync(c.to);
    const full = renderNftables({ ...c.to });
    assert.deepEqual(partial.rejected, full.rejected);
    assert.equal(h.kernel.dump(), loaded({ ...c.to }).dump());
  });
}

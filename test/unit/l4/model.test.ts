import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { L4State } from '../../../src/l4/model.js';
import { renderIptables } from '../../../src/l4/render/iptables.js';
import { renderIpvs } from '../../../src/l4/render/ipvs.js';
import { renderNftables } from '../../../src/l4/render/nftables.js';
import { ep, nodeIp, svc } from '../../support/l4-fixtures.js';

const good = svc('db/pg:5432/TCP', 5432, [ep('10.0.0.1', 5432)]);

const cases: ReadonlyArray<{
  name: string;
  state: L4State;
  render: 'iptables' | 'nftables' | 'ipvs';
  want: { service: string; field: string; reason: RegExp };
}> = [
  {
    name: 'a name that is not "ns/svc:port/PROTO" is rejected, naming the field',
    state: { services: [{ ...good, name: 'pg' }] },
    render: 'iptables',
    want: { service: 'pg', field: 'name', reason: /not "<namespace>\/<service>:<port>\/<TCP\|UDP>"/ },
  },
  {
    name: 'a protocol that contradicts the name is rejected',
    state: { services: [{ ...good, protocol: 'UDP' }] },
    render: 'nftables',
    want: { service: 'db/pg:5432/TCP', field: 'protocol', reason: /UDP does not match/ },
  },
  {
    name: 'a second service on the same protocol and port is rejected; the first (by name) keeps it',
    state: { services: [good, svc('db/zz:5432/TCP', 5432, [])] },
    render: 'iptables',
    want: { service: 'db/zz:5432/TCP', field: 'listenPort', reason: /already taken by db\/pg:5432\/TCP/ },
  },
  {
    name: 'a listen port out of range is rejected',
    state: { services: [{ ...good, listenPort: 70000 }] },
    render: 'iptables',
    want: { service: 'db/pg:5432/TCP', field: 'listenPort', reason: /not a port/ },
  },
  {
    name: 'an endpoint that is not an IP address is rejected with its index',
    state: { services: [svc('db/pg:5432/TCP', 5432, [ep('10.0.0.1', 1), ep('pg.local', 5432)])] },
    render: 'nftables',
    want: { service: 'db/pg:5432/TCP', field: 'endpoints[1].address', reason: /not an IP address/ },
  },
  {
    name: 'an IPv6 endpoint in an IPv4 iptables ruleset is rejected: one family per payload, as kube-proxy',
    state: { services: [svc('db/pg:5432/TCP', 5432, [ep('fd00::1', 5432)])] },
    render: 'iptables',
    want: {
      service: 'db/pg:5432/TCP',
      field: 'endpoints[0].address',
      reason: /IPv6 address fd00::1 in an IPv4 ruleset/,
    },
  },
  {
    name: 'the same endpoint listed twice is rejected',
    state: { services: [svc('db/pg:5432/TCP', 5432, [ep('10.0.0.1', 5432), ep('10.0.0.1', 5432)])] },
    render: 'iptables',
    want: { service: 'db/pg:5432/TCP', field: 'endpoints[1]', reason: /listed twice/ },
  },
  {
    name: 'IPVS without a node address is rejected as a whole: a virtual server is an address',
    state: { services: [good] },
    render: 'ipvs',
    want: { service: '*', field: 'nodeIp', reason: /needs the node address/ },
  },
  {
    name: 'a node address of the other family is rejected as a whole',
    state: { nodeIp: 'fd00::10', services: [good] },
    render: 'iptables',
    want: { service: '*', field: 'nodeIp', reason: /IPv6 node address in an IPv4 ruleset/ },
  },
];

const renderers = {
  iptables: (s: L4State) => renderIptables(s).rejected,
  nftables: (s: L4State) => renderNftables(s).rejected,
  ipvs: (s: L4State) => renderIpvs(s).rejected,
};

for (const c of cases) {
  test(c.name, () => {
    const rejected = renderers[c.render](c.state);
    const hit = rejected.find((r) => r.service === c.want.service && r.field === c.want.field);
    assert.ok(hit, `no rejection of ${c.want.service} ${c.want.field} in ${JSON.stringify(rejected)}`);
    assert.match(hit.reason, c.want.reason);
  });
}

test('a rejected service is left out of the payload while the others are rendered', () => {
  const render = renderIptables({ nodeIp, services: [good, svc('db/bad:1/TCP', 1, [ep('fd00::1', 1)])] });
  assert.equal(render.rejected.length, 1);
  assert.match(render.payload, /db\/pg:5432/);
  assert.doesNotMatch(render.payload, /db\/bad/);
});

test('nftables accepts IPv4 and IPv6 endpoints in one service: its inet table serves both', () => {
  const render = renderNftables({
    services: [svc('db/pg:5432/TCP', 5432, [ep('10.0.0.1', 5432), ep('fd00::1', 5432)])],
  });
  assert.deepEqual(render.rejected, []);
  assert.match(render.script, /dnat ip to 10\.0\.0\.1:5432/);
  assert.match(render.script, /dnat ip6 to \[fd00::1\]:5432/);
});

test('rendering does not depend on the order services and endpoints are listed in', () => {
  const a = svc('a/x:1/TCP', 1001, [ep('10.0.0.2', 1), ep('10.0.0.1', 1)]);
  const b = svc('b/y:2/UDP', 1002, [ep('10.0.0.3', 2)]);
  const reversed = svc('a/x:1/TCP', 1001, [ep('10.0.0.1', 1), ep('10.0.0.2', 1)]);
  assert.equal(
    renderIptables({ services: [a, b] }).payload,
    renderIptables({ services: [b, reversed] }).payload,
  );
  assert.equal(
    renderNftables({ services: [a, b] }).script,
    renderNftables({ services: [b, reversed] }).script,
  );
});

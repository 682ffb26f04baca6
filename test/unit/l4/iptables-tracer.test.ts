/**
 * Semantics of the rendered iptables rules, read through the tracer in the shape of kube-proxy's
 * packetFlowTest: for a packet, which endpoints can it reach, is it masqueraded, is it rejected.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { L4State } from '../../../src/l4/model.js';
import { isPorticoChain } from '../../../src/l4/naming.js';
import { probability, renderIptables } from '../../../src/l4/render/iptables.js';
import { renderIpvs } from '../../../src/l4/render/ipvs.js';
import { checkIptablesPayload, SimulatedIptables } from '../../support/iptables-tracer.js';
import {
  ep,
  packetFlows as flows,
  goldenCases,
  localAddresses,
  nodeIp,
  outsideClient,
  flowState as state,
  svc,
} from '../../support/l4-fixtures.js';

function loaded(s: L4State): SimulatedIptables {
  const tables = new SimulatedIptables();
  const render = renderIptables(s);
  tables.ensureJumps(render.jumps);
  tables.apply(render.payload);
  return tables;
}

const tables = loaded(state);
for (const flow of flows) {
  test(flow.name, () => {
    const got = tables.trace(flow.packet, localAddresses);
    assert.deepEqual(
      { endpoints: got.endpoints, masquerade: got.masquerade, rejected: got.rejected },
      flow.want,
    );
  });
}

test('the statistic spread gives every endpoint the same share (1/n), and the shares sum to 1', () => {
  const got = tables.trace({ src: outsideClient, dst: nodeIp, dport: 8080, proto: 'tcp' }, localAddresses);
  assert.equal(got.paths.length, 4);
  for (const path of got.paths)
    assert.ok(Math.abs(path.probability - 0.25) < 1e-9, `${path.endpoint}: ${path.probability}`);
  assert.ok(Math.abs(got.paths.reduce((sum, p) => sum + p.probability, 0) - 1) < 1e-9);
});

test('only the off-node endpoint branch is masqueraded for an outside client', () => {
  const got = tables.trace({ src: outsideClient, dst: nodeIp, dport: 5432, proto: 'tcp' }, localAddresses);
  assert.deepEqual(
    got.paths.map((p) => [p.endpoint, p.masquerade]),
    [
      ['10.244.0.3:5432', false],
      ['10.244.1.5:5432', true],
    ],
  );
});

const anyLocal: L4State = { services: [svc('db/postgres:5432/TCP', 5432, [ep('10.244.1.5', 5432)])] };
const anyLocalFlows = [
  {
    name: 'without a node address, any local address of the node serves the port',
    dst: '10.244.0.1',
    want: ['10.244.1.5:5432'],
  },
  {
    name: 'without a node address, loopback is still excluded (DNAT from 127/8 needs route_localnet)',
    dst: '127.0.0.1',
    want: [],
  },
] as const;
for (const flow of anyLocalFlows) {
  test(flow.name, () => {
    const got = loaded(anyLocal).trace(
      { src: nodeIp, dst: flow.dst, dport: 5432, proto: 'tcp' },
      localAddresses,
    );
    assert.deepEqual(got.endpoints, flow.want);
  });
}

const probabilities = [
  { remaining: 2, want: '0.5000000000' },
  { remaining: 3, want: '0.3333333333' },
  { remaining: 4, want: '0.2500000000' },
  { remaining: 7, want: '0.1428571429' },
] as const;
for (const c of probabilities) {
  test(`the probability for ${c.remaining} remaining endpoints is written like kube-proxy's %0.10f (${c.want})`, () => {
    assert.equal(probability(c.remaining), c.want);
  });
}

for (const c of goldenCases.filter((g) => !g.previous)) {
  test(`${c.name}: the payload declares only our chains, and every jump targets a declared chain or a built-in target`, () => {
    const render = renderIptables(c.state);
    assert.deepEqual(checkIptablesPayload(render.payload, { ours: isPorticoChain }), []);
  });

  if (c.state.nodeIp !== undefined) {
    test(`${c.name}: the IPVS companion payload passes the same consistency check`, () => {
      assert.deepEqual(
        checkIptablesPayload(renderIpvs(c.state).companionPayload, { ours: isPorticoChain }),
        [],
      );
    });
  }

  test(`${c.name}: the rule counts in the stats equal what the table holds once applied`, () => {
    const render = renderIptables(c.state);
    const applied = new SimulatedIptables();
    applied.apply(render.payload);
    assert.equal(applied.ruleCount('nat', 'PORTICO-'), render.stats.natRulesTotal);
    assert.equal(applied.ruleCount('filter', 'PORTICO-'), render.stats.filterRulesTotal);
    assert.equal(render.stats.natRulesWritten, render.stats.natRulesTotal);
  });
}

const badPayloads = [
  {
    name: 'the consistency check catches a jump to a chain that is not ours',
    payload: '*nat\n:PORTICO-SERVICES - [0:0]\n-A PORTICO-SERVICES -j KUBE-SERVICES\nCOMMIT\n',
    want: /jumps to KUBE-SERVICES, which is not ours/,
  },
  {
    name: 'the consistency check catches a rule appended to a built-in chain',
    payload: '*nat\n:PORTICO-SERVICES - [0:0]\n-A PREROUTING -j PORTICO-SERVICES\nCOMMIT\n',
    want: /appends to nat\/PREROUTING, not declared in this payload/,
  },
  {
    name: 'the consistency check catches a jump to an undeclared chain of ours',
    payload: '*nat\n:PORTICO-SERVICES - [0:0]\n-A PORTICO-SERVICES -j PORTICO-SVC-AAAA\nCOMMIT\n',
    want: /jumps to nat\/PORTICO-SVC-AAAA, neither declared nor existing/,
  },
] as const;
for (const c of badPayloads) {
  test(c.name, () => {
    const problems = checkIptablesPayload(c.payload, { ours: isPorticoChain });
    assert.ok(
      problems.some((p) => c.want.test(p)),
      problems.join('\n'),
    );
  });
}

test('the simulated restore refuses a payload that jumps to a missing chain, as iptables-restore does', () => {
  assert.throws(
    () => new SimulatedIptables().apply('*nat\n:PORTICO-A - [0:0]\n-A PORTICO-A -j PORTICO-B\nCOMMIT\n'),
    /jumps to missing chain PORTICO-B/,
  );
});

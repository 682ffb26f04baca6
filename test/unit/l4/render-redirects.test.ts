/**
 * Port redirects (`--redirect-privileged-ports`) in the iptables mode and the IPVS companion rules:
 * goldens, the packets they redirect and those they must leave alone (through the iptables tracer),
 * a chain that disappears when redirects are switched off, partial syncs that keep them, and the
 * check that rejects redirects a renderer cannot express.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkPortRedirects, type L4State } from '../../../src/l4/model.js';
import { isPorticoChain, redirectsChain } from '../../../src/l4/naming.js';
import { formatIptablesForAudit, renderIptables } from '../../../src/l4/render/iptables.js';
import { renderIpvs } from '../../../src/l4/render/ipvs.js';
import { assertGolden, canonicalIptables } from '../../support/golden.js';
import { checkIptablesPayload, SimulatedIptables } from '../../support/iptables-tracer.js';
import {
  ep,
  localAddresses,
  nodeIp,
  outsideClient,
  redirectFlowState,
  redirectFlows,
  redirectGoldenCases,
  svc,
} from '../../support/l4-fixtures.js';

const dir = 'test/golden/l4';

for (const c of redirectGoldenCases) {
  test(`${c.name}: the iptables-restore payload matches its golden file`, () => {
    const render = renderIptables(c.state);
    assert.deepEqual(render.rejected, []);
    assertGolden(`${dir}/${c.name}.iptables`, formatIptablesForAudit(render), canonicalIptables);
  });

  test(`${c.name}: the iptables payload declares, appends to and jumps to our chains only`, () => {
    assert.deepEqual(checkIptablesPayload(renderIptables(c.state).payload, { ours: isPorticoChain }), []);
  });

  if (c.state.nodeIp !== undefined) {
    test(`${c.name}: the IPVS companion iptables rules match their golden file`, () => {
      const render = renderIpvs(c.state);
      assert.deepEqual(render.rejected, []);
      assertGolden(`${dir}/${c.name}.ipvs.iptables`, render.companionPayload, canonicalIptables);
    });
  }
}

function loadedIptables(state: L4State): SimulatedIptables {
  const tables = new SimulatedIptables();
  const render = renderIptables(state);
  tables.ensureJumps(render.jumps);
  tables.apply(render.payload);
  return tables;
}

function loadedIpvsCompanion(state: L4State): SimulatedIptables {
  const tables = new SimulatedIptables();
  const render = renderIpvs(state);
  tables.ensureJumps(render.companionJumps);
  tables.apply(render.companionPayload);
  return tables;
}

const iptablesTables = loadedIptables(redirectFlowState);
const ipvsTables = loadedIpvsCompanion(redirectFlowState);
for (const flow of redirectFlows) {
  test(`iptables: ${flow.name}`, () => {
    const got = iptablesTables.trace(flow.packet, localAddresses);
    assert.deepEqual(
      {
        endpoints: got.endpoints,
        redirected: got.paths.some((p) => p.redirected === true),
        masquerade: got.masquerade,
      },
      flow.want,
    );
    assert.equal(got.rejected, false);
  });
  // IPVS forwards services itself (not modelled); the companion rules carry the redirects.
  if (flow.want.redirected || flow.want.endpoints.length === 0) {
    test(`ipvs companion: ${flow.name}`, () => {
      const got = ipvsTables.trace(flow.packet, localAddresses);
      assert.deepEqual(got.endpoints, flow.want.endpoints);
      assert.equal(
        got.paths.some((p) => p.redirected === true),
        flow.want.redirected,
      );
    });
  }
}

const anyLocal = redirectGoldenCases.find((c) => c.state.nodeIp === undefined)!.state;
const anyLocalCases = [
  { name: 'the node address', dst: nodeIp, redirected: true },
  { name: 'another local address of the node', dst: '10.244.0.1', redirected: true },
  { name: 'loopback', dst: '127.0.0.1', redirected: false },
  { name: 'an address of another host', dst: '198.51.100.1', redirected: false },
];
for (const c of anyLocalCases) {
  test(`without a node address, port 80 on ${c.name} is ${c.redirected ? '' : 'not '}redirected`, () => {
    const src = c.dst === '127.0.0.1' ? '127.0.0.1' : outsideClient;
    const got = loadedIptables(anyLocal).trace({ src, dst: c.dst, dport: 80, proto: 'tcp' }, localAddresses);
    assert.equal(
      got.paths.some((p) => p.redirected === true),
      c.redirected,
    );
  });
}

const switchedOff: L4State = { ...redirectFlowState, portRedirects: [] };
const renderers = [
  {
    mode: 'iptables',
    load: loadedIptables,
    next: (existing: ReadonlySet<string>) =>
      renderIptables(switchedOff, { existingChains: existing }).payload,
  },
  {
    mode: 'ipvs',
    load: loadedIpvsCompanion,
    next: (existing: ReadonlySet<string>) =>
      renderIpvs(switchedOff, { existingChains: existing }).companionPayload,
  },
] as const;
for (const r of renderers) {
  test(`${r.mode}: a full sync without redirects deletes ${redirectsChain} and port 80 keeps its port`, () => {
    const tables = r.load(redirectFlowState);
    const existing = new Set(tables.chainNames('nat'));
    assert.ok(existing.has(redirectsChain));
    tables.apply(r.next(existing));
    assert.equal(tables.chainNames('nat').includes(redirectsChain), false);
    const got = tables.trace({ src: outsideClient, dst: nodeIp, dport: 80, proto: 'tcp' }, localAddresses);
    assert.deepEqual(got.endpoints, []);
  });
}

test('iptables: a partial sync (an endpoint change) rewrites the redirects with the top-level chains and keeps them working', () => {
  const tables = loadedIptables(redirectFlowState);
  const before = renderIptables(redirectFlowState);
  const next: L4State = {
    ...redirectFlowState,
    services: [svc('db/postgres:5432/TCP', 5432, [ep('10.244.2.7', 5432)], { scheduler: 'lc' })],
  };
  const partial = renderIptables(next, {
    changedServices: new Set(['db/postgres:5432/TCP']),
    existingChains: before.activeChains,
  });
  assert.deepEqual(checkIptablesPayload(partial.payload, { ours: isPorticoChain }), []);
  tables.apply(partial.payload);
  const web = tables.trace({ src: outsideClient, dst: nodeIp, dport: 443, proto: 'tcp' }, localAddresses);
  assert.deepEqual(web.endpoints, [`${nodeIp}:8443`]);
  const db = tables.trace({ src: outsideClient, dst: nodeIp, dport: 5432, proto: 'tcp' }, localAddresses);
  assert.deepEqual(db.endpoints, ['10.244.2.7:5432']);
});

test('the iptables rule totals count the redirect rules (kube-proxy-style stats stay exact)', () => {
  const render = renderIptables(redirectFlowState);
  assert.equal(loadedIptables(redirectFlowState).ruleCount('nat', 'PORTICO-'), render.stats.natRulesTotal);
});

const checkCases: ReadonlyArray<{
  name: string;
  redirects: NonNullable<L4State['portRedirects']>;
  kept: number[];
  rejectedFields: string[];
}> = [
  {
    name: 'valid pairs are kept, sorted by node port',
    redirects: [
      { port: 443, toPort: 8443 },
      { port: 80, toPort: 8080 },
    ],
    kept: [80, 443],
    rejectedFields: [],
  },
  {
    name: 'a node port outside 1-65535 is rejected naming the field',
    redirects: [{ port: 0, toPort: 8080 }],
    kept: [],
    rejectedFields: ['portRedirects[0].port'],
  },
  {
    name: 'a target port outside 1-65535 is rejected naming the field',
    redirects: [{ port: 80, toPort: 70_000 }],
    kept: [],
    rejectedFields: ['portRedirects[0].toPort'],
  },
  {
    name: 'a redirect onto the same port is rejected',
    redirects: [{ port: 80, toPort: 80 }],
    kept: [],
    rejectedFields: ['portRedirects[0].toPort'],
  },
  {
    name: 'a node port redirected twice keeps the first and rejects the second',
    redirects: [
      { port: 80, toPort: 8080 },
      { port: 80, toPort: 9090 },
    ],
    kept: [80],
    rejectedFields: ['portRedirects[1].port'],
  },
];
for (const c of checkCases) {
  test(`port redirects check: ${c.name}`, () => {
    const checked = checkPortRedirects({ services: [], portRedirects: c.redirects });
    assert.deepEqual(
      checked.redirects.map((r) => r.port),
      c.kept,
    );
    assert.deepEqual(
      checked.rejected.map((r) => r.field),
      c.rejectedFields,
    );
  });
}

test('a rejected redirect is reported by the renderers and not rendered', () => {
  const state: L4State = { nodeIp, services: [], portRedirects: [{ port: 80, toPort: 0 }] };
  for (const render of [renderIptables(state), renderIpvs(state)]) {
    assert.deepEqual(
      render.rejected.map((r) => r.field),
      ['portRedirects[0].toPort'],
    );
  }
  assert.doesNotMatch(renderIptables(state).payload, /REDIRECT/);
});

/**
 * The repeated-sync scenario (DESIGN §7.4): a series of syncs applied one after another to a
 * simulated nat/filter table, the way the sync loop will drive the renderer. After every step the
 * table built by partial syncs must equal the table a full sync of the same state builds from
 * nothing, and the payload must have touched only the chains of what changed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { changedServices, type L4State } from '../../../src/l4/model.js';
import { serviceChainName } from '../../../src/l4/naming.js';
import { type IptablesRender, renderIptables } from '../../../src/l4/render/iptables.js';
import { IptablesRestoreError, SimulatedIptables } from '../../support/iptables-tracer.js';
import { ep, nodeIp, svc } from '../../support/l4-fixtures.js';

const pg = (...addresses: string[]) =>
  svc(
    'db/postgres:5432/TCP',
    5432,
    addresses.map((a) => ep(a, 5432)),
  );
const redis = svc('db/redis:6379/TCP', 6379, [ep('10.244.1.6', 6379)]);
const mqtt = svc('iot/mqtt:1883/TCP', 1883, [ep('10.244.2.2', 1883)]);

/** What the sync loop keeps between syncs: the state last applied and whether the next sync must be full. */
class Harness {
  readonly kernel = new SimulatedIptables();
  applied: L4State = { nodeIp, services: [] };
  needFullSync = true;

  sync(next: L4State, options: { failApply?: boolean } = {}): IptablesRender {
    const existingChains = new Set(this.kernel.chainNames('nat'));
    const render = renderIptables(
      next,
      this.needFullSync
        ? { existingChains }
        : { changedServices: changedServices(this.applied, next), existingChains },
    );
    if (options.failApply) {
      // iptables-restore exited non-zero: nothing was committed; the next sync must be full.
      this.needFullSync = true;
      return render;
    }
    this.kernel.ensureJumps(render.jumps);
    if (render.payload !== '') this.kernel.apply(render.payload);
    this.applied = next;
    this.needFullSync = false;
    return render;
  }
}

function freshFullSync(state: L4State): SimulatedIptables {
  const kernel = new SimulatedIptables();
  const render = renderIptables(state);
  kernel.ensureJumps(render.jumps);
  kernel.apply(render.payload);
  return kernel;
}

function declaredServiceChains(payload: string): string[] {
  return [...payload.matchAll(/^:(PORTICO-(?:SVC|SEP)-\w+) /gm)].map((m) => m[1]!).sort();
}

function assertStep(
  step: string,
  harness: Harness,
  render: IptablesRender,
  want: {
    serviceChainsWritten: number;
    chainsDeleted: number;
    natRulesTotal: number;
    filterRulesTotal: number;
  },
): void {
  const { serviceChainsWritten, chainsDeleted, natRulesTotal, filterRulesTotal } = render.stats;
  assert.deepEqual(
    { serviceChainsWritten, chainsDeleted, natRulesTotal, filterRulesTotal },
    want,
    `${step}: stats`,
  );
  assert.equal(
    harness.kernel.ruleCount('nat', 'PORTICO-'),
    want.natRulesTotal,
    `${step}: nat rules in the table`,
  );
  assert.equal(
    harness.kernel.dump('PORTICO-'),
    freshFullSync(harness.applied).dump('PORTICO-'),
    `${step}: the table differs from a full sync of the same state`,
  );
}

test('a series of partial syncs keeps the table equal to a full sync, touching only what changed', () => {
  const h = new Harness();
  const s0: L4State = { nodeIp, services: [pg('10.244.1.5', '10.244.2.7')] };
  const r0 = h.sync(s0);
  // 5 fixed + 1 node-port jump + 3 per endpoint.
  assertStep('first (full) sync', h, r0, {
    serviceChainsWritten: 3,
    chainsDeleted: 0,
    natRulesTotal: 12,
    filterRulesTotal: 0,
  });

  const s1: L4State = { nodeIp, services: [...s0.services, redis] };
  const r1 = h.sync(s1);
  assert.deepEqual(
    declaredServiceChains(r1.payload).includes(serviceChainName(pg())),
    false,
    'add service: the unchanged service is not rewritten',
  );
  assert.ok(
    declaredServiceChains(r1.payload).includes(serviceChainName(redis)),
    'add service: its chain is written',
  );
  assertStep('add service', h, r1, {
    serviceChainsWritten: 2,
    chainsDeleted: 0,
    natRulesTotal: 16,
    filterRulesTotal: 0,
  });

  const s2: L4State = { nodeIp, services: [pg('10.244.1.5', '10.244.3.1'), redis] };
  const r2 = h.sync(s2);
  assert.ok(
    !declaredServiceChains(r2.payload).includes(serviceChainName(redis)),
    'endpoint change: redis untouched',
  );
  assertStep('endpoint change', h, r2, {
    serviceChainsWritten: 3,
    chainsDeleted: 1,
    natRulesTotal: 16,
    filterRulesTotal: 0,
  });

  const s3: L4State = { nodeIp, services: [pg('10.244.1.5', '10.244.3.1')] };
  const r3 = h.sync(s3);
  assert.ok(
    !h.kernel.chainNames('nat').includes(serviceChainName(redis)),
    'delete service: its chains are gone',
  );
  assertStep('delete service', h, r3, {
    serviceChainsWritten: 0,
    chainsDeleted: 2,
    natRulesTotal: 12,
    filterRulesTotal: 0,
  });

  const r4 = h.sync(s3);
  assert.equal(r4.payload, '', 'no-op sync: nothing to apply');
  assertStep('no-op sync', h, r4, {
    serviceChainsWritten: 0,
    chainsDeleted: 0,
    natRulesTotal: 12,
    filterRulesTotal: 0,
  });

  const s5: L4State = { nodeIp, services: [...s3.services, mqtt, svc('db/redis:6379/TCP', 6379, [])] };
  h.sync(s5, { failApply: true });
  assert.equal(h.needFullSync, true, 'failed apply: the next sync is full');

  const s6: L4State = {
    nodeIp,
    services: [...s5.services, svc('iot/coap:5683/UDP', 5683, [ep('10.244.2.3', 5683)])],
  };
  // A partial sync computed against the last *applied* state would be wrong here: it would skip
  // mqtt, whose chains were never committed. The kernel refuses it, as iptables-restore would.
  const naive = renderIptables(s6, {
    changedServices: new Set(['iot/coap:5683/UDP']),
    existingChains: new Set(h.kernel.chainNames('nat')),
  });
  assert.throws(
    () => h.kernel.clone().apply(naive.payload),
    (error: unknown) =>
      error instanceof IptablesRestoreError &&
      error.message.includes(`missing chain ${serviceChainName(mqtt)}`),
  );

  const r6 = h.sync(s6);
  assert.equal(declaredServiceChains(r6.payload).length, r6.stats.serviceChainsWritten);
  assertStep('full sync after a failure', h, r6, {
    serviceChainsWritten: 3 + 2 + 2,
    chainsDeleted: 0,
    natRulesTotal: 5 + 7 + 4 + 4,
    filterRulesTotal: 1,
  });
});

test('a full sync deletes stale chains of ours it finds, and never touches chains that are not ours', () => {
  const kernel = new SimulatedIptables();
  kernel.apply('*nat\n:KUBE-SVC-XPGD46QRK7WJZT7O - [0:0]\n:PORTICO-SVC-STALESTALESTALE - [0:0]\nCOMMIT\n');
  const render = renderIptables(
    { nodeIp, services: [redis] },
    { existingChains: new Set(kernel.chainNames('nat')) },
  );
  kernel.apply(render.payload);
  assert.equal(render.stats.chainsDeleted, 1);
  assert.ok(kernel.chainNames('nat').includes('KUBE-SVC-XPGD46QRK7WJZT7O'));
  assert.ok(!kernel.chainNames('nat').includes('PORTICO-SVC-STALESTALESTALE'));
});

test('changedServices reports added, removed and modified services, and nothing for equal states in another order', () => {
  const a: L4State = { services: [pg('10.0.0.1', '10.0.0.2'), redis] };
  const reordered: L4State = { services: [redis, pg('10.0.0.2', '10.0.0.1')] };
  assert.deepEqual([...changedServices(a, reordered)], []);
  const b: L4State = { services: [pg('10.0.0.1'), mqtt] };
  assert.deepEqual([...changedServices(a, b)].sort(), [
    'db/postgres:5432/TCP',
    'db/redis:6379/TCP',
    'iot/mqtt:1883/TCP',
  ]);
});

test('a partial sync that takes a service to zero endpoints removes its chains and rejects its port', () => {
  const h = new Harness();
  h.sync({ nodeIp, services: [pg('10.244.1.5'), redis] });
  const render = h.sync({ nodeIp, services: [pg(), redis] });
  assertStep('to zero endpoints', h, render, {
    serviceChainsWritten: 0,
    chainsDeleted: 2,
    natRulesTotal: 5 + 4,
    filterRulesTotal: 1,
  });
  const trace = h.kernel.trace({ src: '203.0.113.7', dst: nodeIp, dport: 5432, proto: 'tcp' }, [nodeIp]);
  assert.deepEqual([trace.endpoints, trace.rejected], [[], true]);
  const back = h.sync({ nodeIp, services: [pg('10.244.1.5'), redis] });
  assertStep('back to one endpoint', h, back, {
    serviceChainsWritten: 2,
    chainsDeleted: 0,
    natRulesTotal: 5 + 4 + 4,
    filterRulesTotal: 0,
  });
});

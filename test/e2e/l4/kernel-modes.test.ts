/**
 * The kernel modes with real rules and real traffic, only inside namespaces this test creates
 * (test/support/l4-lab.ts): `KernelL4` runs in this process, every tool it spawns runs under
 * `ip netns exec <node>`, and a client namespace sends TCP and UDP through the node's address to
 * three backend namespaces. Checked per mode: traffic reaches the backends and spreads over them;
 * removing an endpoint stops new flows to it, for UDP too with a client that keeps its source
 * port (the conntrack clean-up); a second KernelL4 (a Portico restart) adopts the rules and traffic
 * keeps flowing; `cleanup()` leaves no PORTICO-* chain and no portico table. The host's own
 * ruleset is byte-identical before and after.
 *
 * Needs root, ip netns, iptables, nft and conntrack: under CI=true their absence fails the test.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { before, test } from 'node:test';
import { prefixedExec, spawnExec } from '../../../src/l4/apply/restore.js';
import type { L4State } from '../../../src/l4/model.js';
import { createKernelL4, type KernelMode } from '../../../src/l4/sync.js';
import { ep, svc } from '../../support/l4-fixtures.js';
import {
  backendTcpPort,
  backendUdpPort,
  chiSquare,
  createLab,
  hostRuleset,
  type Lab,
  labNodeIp,
  labUnavailable,
} from '../../support/l4-lab.js';

const unavailable = await labUnavailable();
if (unavailable && process.env['CI'] === 'true')
  throw new Error(`kernel-mode traffic tests must run under CI=true: ${unavailable}`);
const skip = unavailable ? `needs root, ip netns, iptables, nft and conntrack: ${unavailable}` : false;

const tcpPort = 7000;
const udpPort = 7001;
// Two degrees of freedom: p = 0.001 is at 13.8; 30 only catches a spread that is plainly broken.
const chiSquareBound = 30;

let hostBefore = '';
before(async () => {
  if (!skip) hostBefore = await hostRuleset();
});

function stateFor(addresses: readonly string[]): L4State {
  return {
    nodeIp: labNodeIp,
    services: [
      svc(
        'lab/echo:tcp/TCP',
        tcpPort,
        addresses.map((a) => ep(a, backendTcpPort)),
      ),
      svc(
        'lab/echo:udp/UDP',
        udpPort,
        addresses.map((a) => ep(a, backendUdpPort)),
      ),
    ],
  };
}

async function withLab(fn: (lab: Lab) => Promise<void>): Promise<void> {
  const lab = await createLab(3);
  try {
    await fn(lab);
  } finally {
    await lab.destroy();
  }
}

function porticoLeftovers(lab: Lab): Promise<string> {
  return lab.inNode(['sh', '-c', 'iptables-save; nft list ruleset']).then((text) =>
    text
      .split('\n')
      .filter((line) => /PORTICO-|table inet portico/.test(line))
      .join('\n'),
  );
}

async function scenario(mode: KernelMode, lab: Lab): Promise<void> {
  const exec = prefixedExec(spawnExec, ['ip', 'netns', 'exec', lab.node]);
  const names = lab.backends.map((b) => b.name);
  const addresses = lab.backends.map((b) => b.ip);
  const kernel = createKernelL4(mode, { exec });

  const first = await kernel.sync(stateFor(addresses));
  assert.equal(first.error, undefined, `first sync: ${first.error?.message}`);
  assert.equal(first.kind, 'full', 'first sync is full (it adopts)');
  assert.deepEqual(first.rejected, []);

  const tcp = await lab.load('tcp', tcpPort, 300);
  assert.equal(tcp['error'], undefined, `TCP through the node: ${JSON.stringify(tcp)}`);
  assert.deepEqual(Object.keys(tcp).sort(), names, 'TCP reaches every backend');
  assert.ok(chiSquare(tcp, names) < chiSquareBound, `TCP spread ${JSON.stringify(tcp)}`);

  const udp = await lab.load('udp', udpPort, 150);
  assert.equal(udp['error'], undefined, `UDP through the node: ${JSON.stringify(udp)}`);
  assert.deepEqual(Object.keys(udp).sort(), names, 'UDP reaches every backend');
  assert.ok(chiSquare(udp, names) < chiSquareBound, `UDP spread ${JSON.stringify(udp)}`);

  // A UDP client keeping its source port stays on one backend through conntrack…
  const srcPort = 40_123;
  const pinned = Object.keys(await lab.load('udp', udpPort, 3, srcPort));
  assert.equal(pinned.length, 1, `one source port, one backend: ${pinned}`);
  const removed = pinned[0]!;
  assert.ok(names.includes(removed), `answered by a backend: ${removed}`);

  // …until that backend is removed: the sync deletes the flow, the next datagram is NATed anew.
  const remaining = lab.backends.filter((b) => b.name !== removed);
  const second = await kernel.sync(stateFor(remaining.map((b) => b.ip)));
  assert.equal(second.error, undefined, `endpoint removal: ${second.error?.message}`);
  assert.equal(second.kind, 'partial', 'an endpoint change is a partial sync');
  assert.equal(second.conntrackFailures, 0);
  const after = await lab.load('udp', udpPort, 3, srcPort);
  assert.equal(after[removed], undefined, `the same source port left ${removed}: ${JSON.stringify(after)}`);
  assert.equal(after['error'], undefined, `UDP after removal: ${JSON.stringify(after)}`);
  const tcpAfter = await lab.load('tcp', tcpPort, 60);
  assert.equal(tcpAfter[removed], undefined, `no new TCP flow to ${removed}: ${JSON.stringify(tcpAfter)}`);
  assert.equal(tcpAfter['error'], undefined);

  const noop = await kernel.sync(stateFor(remaining.map((b) => b.ip)));
  assert.equal(noop.kind, 'skipped', 'an unchanged state applies nothing');

  // A restart: a new KernelL4 adopts the rules the first left, with a full sync, and traffic flows throughout.
  const restarted = createKernelL4(mode, { exec });
  const adopt = await restarted.sync(stateFor(remaining.map((b) => b.ip)));
  assert.equal(adopt.error, undefined, `adopting sync: ${adopt.error?.message}`);
  assert.equal(adopt.kind, 'full');
  const tcpRestart = await lab.load('tcp', tcpPort, 30);
  assert.equal(tcpRestart['error'], undefined, `TCP after a restart: ${JSON.stringify(tcpRestart)}`);
  if (mode === 'iptables') {
    const prerouting = await lab.inNode(['iptables', '-t', 'nat', '-S', 'PREROUTING']);
    assert.equal(
      prerouting.split('\n').filter((l) => l.includes('PORTICO-SERVICES')).length,
      1,
      'jumps not duplicated',
    );
  }

  await restarted.cleanup();
  assert.equal(await porticoLeftovers(lab), '', 'nothing of Portico remains after cleanup');
  const direct = await lab.load('tcp', tcpPort, 3);
  assert.deepEqual(direct, { error: 3 }, 'without rules nothing answers on the node port');
}

for (const mode of ['iptables', 'nftables'] as const) {
  test(
    `${mode}: TCP and UDP reach and spread over the backends, follow endpoint removal and a restart, and clean up`,
    {
      skip,
      timeout: 240_000,
    },
    () => withLab((lab) => scenario(mode, lab)),
  );
}

const ipvsMissing = existsSync('/proc/net/ip_vs')
  ? undefined
  : 'this kernel has no ip_vs (/proc/net/ip_vs is absent)';
test(
  'ipvs: TCP and UDP through IPVS virtual servers, endpoint removal, restart and clean-up',
  {
    skip: skip || (ipvsMissing ? `${ipvsMissing}; the IPVS rendering is tested in test/unit/l4` : false),
    timeout: 240_000,
  },
  () => withLab((lab) => scenario('ipvs', lab)),
);

// Last in the file: tests run in order, so this sees the host after every namespace above is gone.
test('the host iptables, ip6tables and nft rulesets are byte-identical after the namespace runs', {
  skip,
}, async () => {
  assert.equal(await hostRuleset(), hostBefore);
});

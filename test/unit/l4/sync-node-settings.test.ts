/**
 * A change of a node-wide setting (node address, masquerade mark, port redirects) is written into
 * rules a partial sync never rewrites, so `KernelL4.sync` must make it a full sync, in every mode;
 * an unchanged state stays a skipped sync. Recorded with a fake exec whose IPVS table follows what
 * was applied (kube-proxy's fake ipvs), so "skipped" means the same thing in all three modes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Exec } from '../../../src/l4/apply/restore.js';
import type { L4State } from '../../../src/l4/model.js';
import { formatIpvsTable, renderIpvs } from '../../../src/l4/render/ipvs.js';
import { createKernelL4, type KernelMode } from '../../../src/l4/sync.js';
import { ep, nodeIp, svc } from '../../support/l4-fixtures.js';

interface Call {
  readonly argv: readonly string[];
  readonly input?: string;
}

/** A fake exec; `ipvsadm-save` prints the table of the state the test says is live. */
function fakeHost() {
  const calls: Call[] = [];
  let live = '';
  const exec: Exec = async (argv, options) => {
    calls.push({ argv, ...(options?.input !== undefined ? { input: options.input } : {}) });
    if (argv[0] === 'nft' && argv[1] === 'list')
      return { code: 1, stdout: '', stderr: 'No such file or directory' };
    return { code: 0, stdout: argv[0] === 'ipvsadm-save' ? live : '', stderr: '' };
  };
  return {
    exec,
    calls,
    nowLive(state: L4State): void {
      live = formatIpvsTable(renderIpvs(state).virtualServers);
    },
  };
}

const base: L4State = {
  nodeIp,
  services: [svc('db/pg:5432/TCP', 5432, [ep('10.0.0.1', 5432), ep('10.0.0.2', 5432)])],
};

const cases: readonly { name: string; next: L4State; full: boolean }[] = [
  { name: 'an unchanged state', next: base, full: false },
  { name: 'a new node address', next: { ...base, nodeIp: '192.168.50.11' }, full: true },
  { name: 'another masquerade bit', next: { ...base, masqueradeBit: 15 }, full: true },
  {
    name: 'port redirects switched on',
    next: { ...base, portRedirects: [{ port: 80, toPort: 8080 }] },
    full: true,
  },
];

const modes: readonly KernelMode[] = ['iptables', 'nftables', 'ipvs'];

for (const mode of modes) {
  for (const c of cases) {
    test(`${mode}: after ${c.name} the next sync is ${c.full ? 'full' : 'skipped'}`, async () => {
      const host = fakeHost();
      const kernel = createKernelL4(mode, { exec: host.exec });
      const first = await kernel.sync(base);
      assert.equal(first.error, undefined, first.error?.message);
      assert.equal(first.kind, 'full');
      host.nowLive(base);
      const second = await kernel.sync(c.next);
      assert.equal(second.error, undefined, second.error?.message);
      assert.equal(second.kind, c.full ? 'full' : 'skipped');
    });
  }
}

test('a redirect target change is a full sync too (the pairs are compared, not only their presence)', async () => {
  const host = fakeHost();
  const kernel = createKernelL4('iptables', { exec: host.exec });
  await kernel.sync({ ...base, portRedirects: [{ port: 80, toPort: 8080 }] });
  const moved = await kernel.sync({ ...base, portRedirects: [{ port: 80, toPort: 8081 }] });
  assert.equal(moved.kind, 'full');
});

test('iptables: the full sync after a node-setting change re-reads our chains before restoring', async () => {
  const host = fakeHost();
  const kernel = createKernelL4('iptables', { exec: host.exec });
  await kernel.sync(base);
  host.calls.length = 0;
  await kernel.sync({ ...base, masqueradeBit: 15 });
  assert.deepEqual(host.calls[0]?.argv, ['iptables-save', '-t', 'nat']);
  assert.match(host.calls[1]?.input ?? '', /--or-mark 0x8000/);
});

test('ipvs: a new node address deletes the virtual servers on the old one and adds them on the new', async () => {
  const host = fakeHost();
  const kernel = createKernelL4('ipvs', { exec: host.exec });
  await kernel.sync(base);
  host.nowLive(base);
  host.calls.length = 0;
  await kernel.sync({ ...base, nodeIp: '192.168.50.11' });
  const restore = host.calls.find((c) => c.argv[0] === 'ipvsadm' && c.argv[1] === '-R')?.input ?? '';
  assert.match(restore, /^-D -t 192\.168\.50\.10:5432$/m);
  assert.match(restore, /^-A -t 192\.168\.50\.11:5432 -s rr$/m);
});

/**
 * `KernelL4` against a recording fake exec (kube-proxy's fake iptables): which tools run in which
 * sync, full vs partial vs skipped, a full sync after a failure and after the period, and what
 * cleanup removes. The real tools are exercised in test/e2e/l4/kernel-modes.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setImmediate } from 'node:timers/promises';
import type { Exec } from '../../../src/l4/apply/restore.js';
import type { L4State } from '../../../src/l4/model.js';
import { createKernelL4, type KernelL4, startKernelL4Loop } from '../../../src/l4/sync.js';
import { FakeClock } from '../../../src/util/clock.js';
import { ep, nodeIp, svc } from '../../support/l4-fixtures.js';

interface Call {
  readonly argv: readonly string[];
  readonly input?: string;
}

function recorder(fail: (argv: readonly string[]) => string | undefined = () => undefined) {
  const calls: Call[] = [];
  const exec: Exec = async (argv, options) => {
    calls.push({ argv, ...(options?.input !== undefined ? { input: options.input } : {}) });
    const error = fail(argv);
    if (error !== undefined) return { code: 1, stdout: '', stderr: error };
    return { code: 0, stdout: '', stderr: '' };
  };
  return { exec, calls };
}

const pg = (...addresses: string[]) =>
  svc(
    'db/pg:5432/TCP',
    5432,
    addresses.map((a) => ep(a, 5432)),
  );
const dns = (...addresses: string[]) =>
  svc(
    'kube/dns:dns/UDP',
    53,
    addresses.map((a) => ep(a, 53)),
  );
const state = (...services: L4State['services']): L4State => ({ nodeIp, services });

test('iptables: the first sync reads our chains, restores everything and ensures the jumps', async () => {
  const { exec, calls } = recorder();
  const kernel = createKernelL4('iptables', { exec });
  const result = await kernel.sync(state(pg('10.0.0.1')));
  assert.equal(result.kind, 'full');
  assert.equal(result.error, undefined);
  assert.deepEqual(calls[0]!.argv, ['iptables-save', '-t', 'nat']);
  assert.deepEqual(calls[1]!.argv, ['iptables-restore', '-w', '--noflush']);
  assert.match(calls[1]!.input ?? '', /-j DNAT --to-destination 10\.0\.0\.1:5432/);
  assert.equal(calls.filter((c) => c.argv.includes('-C')).length, 5, 'five jumps checked');
});

test('iptables: an unchanged state is skipped and an endpoint change is a partial restore', async () => {
  const { exec, calls } = recorder();
  const kernel = createKernelL4('iptables', { exec });
  await kernel.sync(state(pg('10.0.0.1'), dns('10.0.0.9')));
  calls.length = 0;
  assert.equal((await kernel.sync(state(pg('10.0.0.1'), dns('10.0.0.9')))).kind, 'skipped');
  assert.equal(calls.length, 0, 'nothing ran');
  const partial = await kernel.sync(state(pg('10.0.0.2'), dns('10.0.0.9')));
  assert.equal(partial.kind, 'partial');
  assert.deepEqual(
    calls.map((c) => c.argv[0]),
    ['iptables-restore'],
    'a TCP endpoint change restores once and needs no conntrack clean-up',
  );
  const payload = calls[0]!.input ?? '';
  assert.match(payload, /10\.0\.0\.2:5432/);
  assert.doesNotMatch(payload, /10\.0\.0\.9/, 'the unchanged service is not rewritten');
  assert.match(payload, /^-X PORTICO-SEP-/m, 'the removed endpoint chain is deleted');
});

test('a removed UDP endpoint is cleaned from conntrack in the same sync', async () => {
  const { exec, calls } = recorder();
  const kernel = createKernelL4('nftables', { exec });
  await kernel.sync(state(dns('10.0.0.8', '10.0.0.9')));
  calls.length = 0;
  await kernel.sync(state(dns('10.0.0.8')));
  assert.deepEqual(
    calls.map((c) => c.argv),
    [
      ['nft', '-f', '-'],
      ['conntrack', '-D', '-p', 'udp', '--orig-dst', nodeIp, '--dport', '53', '--reply-src', '10.0.0.9'],
    ],
  );
});

test('after a failed apply the next sync is full, and the error is the tool’s own', async () => {
  let failNext = false;
  const { exec, calls } = recorder((argv) =>
    failNext && argv[0] === 'iptables-restore' ? 'Error occurred at line: 3' : undefined,
  );
  const kernel = createKernelL4('iptables', { exec });
  await kernel.sync(state(pg('10.0.0.1')));
  failNext = true;
  const failed = await kernel.sync(state(pg('10.0.0.2')));
  assert.equal(failed.kind, 'partial');
  assert.match(
    failed.error?.message ?? '',
    /iptables-restore -w --noflush failed \(exit 1\) at payload line 3/,
  );
  failNext = false;
  calls.length = 0;
  const retried = await kernel.sync(state(pg('10.0.0.2')));
  assert.equal(retried.kind, 'full');
  assert.equal(retried.error, undefined);
  assert.deepEqual(calls[0]!.argv, ['iptables-save', '-t', 'nat'], 'the full sync re-reads the chains');
});

test('a full sync happens again once the full-sync period has passed', async () => {
  let now = 0;
  const { exec } = recorder();
  const kernel = createKernelL4('nftables', { exec, fullSyncPeriodMs: 1_000, now: () => now });
  assert.equal((await kernel.sync(state(pg('10.0.0.1')))).kind, 'full');
  now = 999;
  assert.equal((await kernel.sync(state(pg('10.0.0.1')))).kind, 'skipped');
  now = 1_000;
  assert.equal(
    (await kernel.sync(state(pg('10.0.0.1')))).kind,
    'full',
    'applied even though unchanged: it repairs drift',
  );
});

test('nftables: the first sync replaces the whole table in one nft transaction, without reading it first', async () => {
  const { exec, calls } = recorder(() => undefined);
  const kernel = createKernelL4('nftables', { exec });
  const result = await kernel.sync(state(pg('10.0.0.1')));
  assert.equal(result.error, undefined);
  assert.deepEqual(
    calls.map((c) => c.argv),
    [['nft', '-f', '-']],
  );
  assert.match(calls[0]!.input ?? '', /^add table inet portico\ndelete table inet portico\n/);
});

test('cleanup removes the jumps, then our chains, and nothing else', async () => {
  const save = '*nat\n:PREROUTING ACCEPT [0:0]\n:KUBE-SVC-X - [0:0]\n:PORTICO-SERVICES - [0:0]\nCOMMIT\n';
  const calls: Call[] = [];
  const exec: Exec = async (argv, options) => {
    calls.push({ argv, ...(options?.input !== undefined ? { input: options.input } : {}) });
    if (argv.includes('-C'))
      return { code: 1, stdout: '', stderr: 'does a matching rule exist in that chain?' };
    return { code: 0, stdout: argv[0] === 'iptables-save' ? save : '', stderr: '' };
  };
  await createKernelL4('iptables', { exec }).cleanup();
  const restore = calls.find((c) => c.argv[0] === 'iptables-restore');
  assert.equal(
    restore?.input,
    '*filter\n:PORTICO-SERVICES - [0:0]\n-X PORTICO-SERVICES\nCOMMIT\n*nat\n:PORTICO-SERVICES - [0:0]\n-X PORTICO-SERVICES\nCOMMIT\n',
  );
  assert.ok(calls.findIndex((c) => c.argv.includes('-C')) < calls.indexOf(restore!), 'jumps before chains');
});

test('nftables cleanup deletes table inet portico in a transaction that cannot fail when it is absent', async () => {
  const { exec, calls } = recorder();
  await createKernelL4('nftables', { exec }).cleanup();
  assert.deepEqual(calls, [
    { argv: ['nft', '-f', '-'], input: 'add table inet portico\ndelete table inet portico\n' },
  ]);
});

test('ipvs: a sync diffs against ipvsadm-save and writes only the difference', async () => {
  const live = '-A -t 192.168.50.10:5432 -s rr\n-a -t 192.168.50.10:5432 -r 10.0.0.1:5432 -m -w 1\n';
  const calls: Call[] = [];
  const exec: Exec = async (argv, options) => {
    calls.push({ argv, ...(options?.input !== undefined ? { input: options.input } : {}) });
    return { code: 0, stdout: argv[0] === 'ipvsadm-save' ? live : '', stderr: '' };
  };
  const kernel = createKernelL4('ipvs', { exec });
  const result = await kernel.sync(state(pg('10.0.0.1', '10.0.0.2')));
  assert.equal(result.error, undefined);
  const restore = calls.find((c) => c.argv[0] === 'ipvsadm' && c.argv[1] === '-R');
  assert.ok(!calls.some((c) => c.argv[0] === 'ipvsadm-restore'), 'never the wrapper that clears the table');
  assert.equal(restore?.input, '-a -t 192.168.50.10:5432 -r 10.0.0.2:5432 -m -w 1\n');
  assert.ok(
    calls.some((c) => c.argv[0] === 'sysctl'),
    'the full sync sets the sysctls IPVS needs',
  );
});

function fakeKernel(errors: (Error | undefined)[] = []) {
  const synced: L4State[] = [];
  let cleanups = 0;
  const kernel: KernelL4 = {
    mode: 'nftables',
    async sync(s) {
      synced.push(s);
      const error = errors.shift();
      return {
        kind: 'full',
        rejected: [],
        conntrackFailures: 0,
        payloadBytes: 0,
        ...(error ? { error } : {}),
      };
    },
    async cleanup() {
      cleanups++;
    },
  };
  return { kernel, synced, cleanups: () => cleanups };
}

test('the loop syncs the latest state at start and on request, and leaves the rules on stop', async () => {
  const clock = new FakeClock();
  const { kernel, synced, cleanups } = fakeKernel();
  let current = state(pg('10.0.0.1'));
  const loop = startKernelL4Loop({ kernel, state: () => current, clock, minIntervalMs: 1_000 });
  clock.advance(0);
  await setImmediate();
  current = state(pg('10.0.0.2'));
  loop.request();
  clock.advance(1_000);
  await setImmediate();
  await loop.stop();
  assert.deepEqual(synced, [state(pg('10.0.0.1')), state(pg('10.0.0.2'))]);
  assert.equal(cleanups(), 0, 'rules stay when Portico exits');
});

test('the loop retries a failed sync and cleans up on stop when asked to', async () => {
  const clock = new FakeClock();
  const { kernel, synced, cleanups } = fakeKernel([new Error('iptables-restore failed')]);
  const outcomes: string[] = [];
  const loop = startKernelL4Loop({
    kernel,
    state: () => state(pg('10.0.0.1')),
    clock,
    retryInitialMs: 2_000,
    cleanupOnExit: true,
    onSync: (o) => outcomes.push(o.error ? 'failed' : 'ok'),
  });
  clock.advance(0);
  await setImmediate();
  clock.advance(2_000);
  await setImmediate();
  await loop.stop();
  assert.equal(synced.length, 2);
  assert.deepEqual(outcomes, ['failed', 'ok']);
  assert.equal(cleanups(), 1);
});

test('the adopting first sync leaves conntrack alone, so a restart does not cut live UDP sessions', async () => {
  const { exec, calls } = recorder();
  await createKernelL4('nftables', { exec }).sync(state(dns('10.0.0.8')));
  assert.equal(calls.filter((c) => c.argv[0] === 'conntrack').length, 0);
});

test('cleanup in a process that never synced clears the family it was given', async () => {
  const { exec, calls } = recorder();
  await createKernelL4('iptables', { exec, ipFamily: 'IPv6' }).cleanup();
  assert.ok(calls.length > 0);
  assert.ok(
    calls.every((c) => c.argv[0]?.startsWith('ip6tables')),
    calls.map((c) => c.argv[0]).join(' '),
  );
});

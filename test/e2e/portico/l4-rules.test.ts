/**
 * `portico l4-rules` through the built CLI: the payload of each kernel mode for a fixture folder
 * (test/fixtures/l4-rules: ConfigMap entries and L4Routes, some rejected) against golden files,
 * diagnostics on stderr with file:line, and the exit codes (0 clean, 1 something rejected, 2 usage).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { assertGolden } from '../../support/golden.js';
import { runPortico } from '../../support/portico-process.js';

const fixture = 'test/fixtures/l4-rules';
const common = [
  '--manifests',
  fixture,
  '--node-ip',
  '192.0.2.1',
  '--tcp-services-configmap',
  'ingress/tcp-services',
  '--udp-services-configmap',
  'ingress/udp-services',
];

describe('portico l4-rules', () => {
  for (const mode of ['iptables', 'nftables', 'ipvs']) {
    test(`--mode ${mode} prints the payload of its golden file`, async () => {
      const r = await runPortico(['l4-rules', '--mode', mode, ...common]);
      assertGolden(`test/golden/l4-rules/${mode}.stdout`, r.stdout);
    });

    test(`--mode ${mode} names each rejected entry and route on stderr (file:line) and exits 1`, async () => {
      const r = await runPortico(['l4-rules', '--mode', mode, ...common]);
      assert.equal(r.code, 1);
      assertGolden(`test/golden/l4-rules/${mode}.stderr`, r.stderr);
    });
  }

  test('a folder where nothing is rejected prints the payload and exits 0 with an empty stderr', async () => {
    const r = await runPortico([
      'l4-rules',
      '--mode',
      'nftables',
      '--manifests',
      'test/fixtures/l4-rules-clean',
      '--tcp-services-configmap',
      'ingress/tcp-services',
    ]);
    assert.equal(r.stderr, '');
    assert.equal(r.code, 0);
    assert.match(r.stdout, /tcp \. 15432 : goto service-[A-Z0-9]+-db\/postgres\/tcp\/5432/);
  });

  const usageErrors = [
    { name: 'no --mode', args: ['--manifests', fixture], match: /--mode is required/ },
    { name: 'no --manifests', args: ['--mode', 'iptables'], match: /--manifests is required/ },
    {
      name: 'the userspace mode',
      args: ['--mode', 'userspace', '--manifests', fixture],
      match: /userspace has no rules/,
    },
    {
      name: 'ipvs without --node-ip',
      args: ['--mode', 'ipvs', '--manifests', fixture],
      match: /needs --node-ip/,
    },
    {
      name: 'a bad --node-ip',
      args: ['--mode', 'iptables', '--manifests', fixture, '--node-ip', 'node-1'],
      match: /--node-ip "node-1"/,
    },
    {
      name: 'a bad ConfigMap reference',
      args: ['--mode', 'iptables', '--manifests', fixture, '--tcp-services-configmap', 'tcp-services'],
      match: /--tcp-services-configmap "tcp-services": must be namespace\/name/,
    },
  ];
  for (const c of usageErrors) {
    test(`${c.name} is bad usage: exit 2 with the reason on stderr and nothing on stdout`, async () => {
      const r = await runPortico(['l4-rules', ...c.args]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, c.match);
      assert.equal(r.stdout, '');
    });
  }
});

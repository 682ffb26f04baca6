/**
 * `portico cleanup`: its arguments, the payload that removes jumps into our chains, and the
 * per-part reporting against a fake kernel (a recording exec holding iptables-save, nft and
 * ipvsadm-save text). The real tools run in test/e2e/l4/portico-process.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  CLEANUP_HELP,
  type CleanupCommand,
  CleanupUsageError,
  cleanupKernelL4,
  foreignJumpsPayload,
  parseCleanupArgs,
  runCleanup,
} from '../../../src/cli/cleanup.js';
import type { Exec, ExecResult } from '../../../src/l4/apply/restore.js';

describe('parseCleanupArgs', () => {
  const accepted: { name: string; argv: string[]; want: CleanupCommand }[] = [
    { name: 'no flag removes everything', argv: [], want: { kind: 'run', options: { mode: 'all' } } },
    {
      name: 'a named mode removes only that mode',
      argv: ['--mode', 'nftables'],
      want: { kind: 'run', options: { mode: 'nftables' } },
    },
    {
      name: '--mode=VALUE is read like --mode VALUE',
      argv: ['--mode=iptables'],
      want: { kind: 'run', options: { mode: 'iptables' } },
    },
    {
      name: '--node-ip takes an IPv4 address',
      argv: ['--mode', 'ipvs', '--node-ip', '192.0.2.1'],
      want: { kind: 'run', options: { mode: 'ipvs', nodeIp: '192.0.2.1' } },
    },
    {
      name: '--node-ip takes an IPv6 address',
      argv: ['--node-ip', '2001:db8::1'],
      want: { kind: 'run', options: { mode: 'all', nodeIp: '2001:db8::1' } },
    },
    { name: '--help asks for the usage', argv: ['--help'], want: { kind: 'help' } },
    { name: '-h asks for the usage', argv: ['-h'], want: { kind: 'help' } },
    { name: '--help wins over other flags', argv: ['--mode', 'bogus', '--help'], want: { kind: 'help' } },
  ];
  for (const c of accepted) {
    test(`${c.name}`, () => assert.deepEqual(parseCleanupArgs(c.argv), c.want));
  }

  const refused: { name: string; argv: string[]; names: RegExp }[] = [
    { name: 'a mode that does not exist is refused', argv: ['--mode', 'userspace'], names: /--mode/ },
    { name: '--mode without a value is refused', argv: ['--mode'], names: /--mode/ },
    {
      name: 'a --node-ip that is not an address is refused',
      argv: ['--node-ip', 'node1'],
      names: /--node-ip/,
    },
    { name: 'a --node-ip with a zone is refused', argv: ['--node-ip', 'fe80::1%eth0'], names: /--node-ip/ },
    { name: 'an unknown flag is refused', argv: ['--manifests', 'dir'], names: /--manifests/ },
    { name: 'a positional argument is refused', argv: ['iptables'], names: /iptables/ },
  ];
  for (const c of refused) {
    test(`${c.name}, naming it`, () => {
      assert.throws(
        () => parseCleanupArgs(c.argv),
        (err: unknown) => err instanceof CleanupUsageError && c.names.test(err.message),
      );
    });
  }
});

describe('foreignJumpsPayload', () => {
  const cases = [
    {
      name: 'jumps from built-in chains into PORTICO-* chains are deleted as saved, quoting included',
      nat: '*nat\n:PREROUTING ACCEPT [0:0]\n:PORTICO-SERVICES - [0:0]\n-A PREROUTING -m comment --comment "portico service portals" -j PORTICO-SERVICES\n-A PORTICO-SERVICES -j RETURN\nCOMMIT\n',
      filter:
        '*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m conntrack --ctstate NEW -j PORTICO-SERVICES\nCOMMIT\n',
      want: '*filter\n-D INPUT -m conntrack --ctstate NEW -j PORTICO-SERVICES\nCOMMIT\n*nat\n-D PREROUTING -m comment --comment "portico service portals" -j PORTICO-SERVICES\nCOMMIT\n',
    },
    {
      name: 'a goto into a PORTICO-* chain is deleted too',
      nat: '-A OUTPUT -g PORTICO-NODEPORTS\n',
      filter: '',
      want: '*nat\n-D OUTPUT -g PORTICO-NODEPORTS\nCOMMIT\n',
    },
    {
      name: 'rules inside PORTICO-* chains are left to the chain deletion',
      nat: '-A PORTICO-SERVICES -j PORTICO-SVC-ABC\n',
      filter: '',
      want: '',
    },
    {
      name: "other rules, even mentioning PORTICO in a comment, are not Portico's jumps",
      nat: '-A PREROUTING -m comment --comment "-j PORTICO-X is not here" -j KUBE-SERVICES\n-A POSTROUTING -j MASQUERADE\n',
      filter: '-A INPUT -p tcp --dport 22 -j ACCEPT\n',
      want: '',
    },
  ];
  for (const c of cases) {
    test(c.name, () => assert.equal(foreignJumpsPayload({ nat: c.nat, filter: c.filter }), c.want));
  }
});

/**
 * A namespace as the tools show it: iptables-save text per family and table, an nft table (or
 * none), an ipvsadm-save table. Restores that delete chains or jumps change the text; `missing`
 * tools fail as spawn does; `broken` tools fail with their own words.
 */
function fakeKernel(
  init: {
    iptables?: Partial<Record<'IPv4' | 'IPv6', { nat: string; filter: string } | 'no-tables'>>;
    nft?: string;
    ipvs?: string;
    missing?: readonly string[];
    broken?: Readonly<Record<string, string>>;
  } = {},
) {
  const iptables: Record<'IPv4' | 'IPv6', { nat: string; filter: string } | 'no-tables'> = {
    IPv4: init.iptables?.IPv4 ?? { nat: '', filter: '' },
    IPv6: init.iptables?.IPv6 ?? { nat: '', filter: '' },
  };
  let nft = init.nft;
  let ipvs = init.ipvs ?? '';
  const calls: { argv: readonly string[]; input?: string }[] = [];
  const ok = (stdout = ''): ExecResult => ({ code: 0, stdout, stderr: '' });
  const exec: Exec = async (argv, options) => {
    calls.push({ argv, ...(options?.input !== undefined ? { input: options.input } : {}) });
    const tool = argv[0] ?? '';
    if (init.missing?.includes(tool))
      return { code: null, stdout: '', stderr: `${tool}: spawn ${tool} ENOENT` };
    const broken = init.broken?.[tool];
    if (broken !== undefined) return { code: 1, stdout: '', stderr: broken };
    const family = tool.startsWith('ip6') ? 'IPv6' : 'IPv4';
    const tables = iptables[family];
    if (tool.endsWith('tables-save')) {
      if (tables === 'no-tables')
        return { code: 1, stdout: '', stderr: `${tool}: Table does not exist (do you need to insmod?)\n` };
      return ok(tables[argv[2] as 'nat' | 'filter']);
    }
    if (tool.endsWith('tables-restore') && tables !== 'no-tables') {
      // Deleted jumps and chains disappear from the saved text.
      let section: 'nat' | 'filter' = 'filter';
      for (const line of (options?.input ?? '').split('\n')) {
        if (line === '*nat' || line === '*filter') section = line.slice(1) as 'nat' | 'filter';
        const jump = /^-D (.*)$/.exec(line);
        if (jump) tables[section] = tables[section].replace(`-A ${jump[1]}\n`, '');
        const chain = /^-X (\S+)$/.exec(line);
        if (chain)
          tables[section] = tables[section]
            .split('\n')
            .filter((l) => !l.startsWith(`:${chain[1]} `) && !l.startsWith(`-A ${chain[1]} `))
            .join('\n');
      }
      return ok();
    }
    if (tool === 'iptables' || tool === 'ip6tables') return { code: 1, stdout: '', stderr: 'no such rule' };
    if (tool === 'nft' && argv[1] === 'list') {
      return nft === undefined
        ? { code: 1, stdout: '', stderr: 'Error: No such file or directory\n' }
        : ok(nft);
    }
    if (tool === 'nft') {
      if ((options?.input ?? '').includes('delete table inet portico')) nft = undefined;
      return ok();
    }
    if (tool === 'ipvsadm-save') return ok(ipvs);
    if (tool === 'ipvsadm' && argv[1] === '-R') {
      for (const line of (options?.input ?? '').split('\n')) {
        const del = /^-D (-[tu]) (\S+)$/.exec(line);
        if (!del) continue;
        ipvs = ipvs
          .split('\n')
          .filter((l) => !l.includes(` ${del[1]} ${del[2]} `))
          .join('\n');
      }
      return ok();
    }
    return { code: 1, stdout: '', stderr: `unexpected ${argv.join(' ')}` };
  };
  return { exec, calls, iptables, nftTable: () => nft, ipvsTable: () => ipvs };
}

const ourNat = `*nat
:PREROUTING ACCEPT [0:0]
:PORTICO-SERVICES - [0:0]
:PORTICO-SVC-AAAA - [0:0]
-A PREROUTING -m comment --comment "portico service portals" -j PORTICO-SERVICES
-A PREROUTING -j KUBE-SERVICES
-A PORTICO-SERVICES -j PORTICO-SVC-AAAA
COMMIT
`;
const ourFilter = `*filter
:INPUT ACCEPT [0:0]
:PORTICO-SERVICES - [0:0]
-A INPUT -m conntrack --ctstate NEW -m comment --comment "portico service portals" -j PORTICO-SERVICES
-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
COMMIT
`;
const ourNft = 'table inet portico {\n\tchain services {\n\t}\n}\n';
const ipvsTable = `-A -t 192.0.2.1:7000 -s rr
-a -t 192.0.2.1:7000 -r 10.0.0.1:8000 -m -w 1
-A -t 10.96.0.1:443 -s rr
-a -t 10.96.0.1:443 -r 172.18.0.2:6443 -m -w 1
`;

describe('cleanupKernelL4', () => {
  test("mode all removes our chains and jumps in both families and the nft table, and keeps everyone else's rules", async () => {
    const kernel = fakeKernel({
      iptables: { IPv4: { nat: ourNat, filter: ourFilter }, IPv6: { nat: ourNat, filter: '' } },
      nft: ourNft,
    });
    const steps = await cleanupKernelL4({ mode: 'all' }, { exec: kernel.exec, ipvsAvailable: () => false });
    assert.deepEqual(
      steps.map((s) => [s.part, s.outcome]),
      [
        ['iptables (IPv4)', 'removed'],
        ['ip6tables (IPv6)', 'removed'],
        ['ipvs', 'skipped'],
        ['nftables', 'removed'],
      ],
    );
    for (const family of ['IPv4', 'IPv6'] as const) {
      const tables = kernel.iptables[family];
      assert.ok(tables !== 'no-tables');
      assert.doesNotMatch(tables.nat + tables.filter, /PORTICO-/, `${family}: nothing of ours is left`);
    }
    const ipv4 = kernel.iptables.IPv4;
    assert.ok(ipv4 !== 'no-tables');
    assert.match(ipv4.nat, /-A PREROUTING -j KUBE-SERVICES/, "kube-proxy's jump stays");
    assert.match(ipv4.filter, /--dport 22 -j ACCEPT/, "the host's rule stays");
    assert.equal(kernel.nftTable(), undefined);
    assert.match(steps[0]!.detail, /3 chains/);
    assert.match(steps[2]!.detail, /no ip_vs/);
  });

  test('a family whose tables the kernel lacks is skipped, not failed', async () => {
    const kernel = fakeKernel({ iptables: { IPv6: 'no-tables' } });
    const steps = await cleanupKernelL4({ mode: 'iptables' }, { exec: kernel.exec });
    assert.deepEqual(
      steps.map((s) => [s.part, s.outcome]),
      [
        ['iptables (IPv4)', 'absent'],
        ['ip6tables (IPv6)', 'skipped'],
      ],
    );
  });

  test('a lack of privilege is an error, not a missing table', async () => {
    const words =
      "iptables v1.8.9 (legacy): can't initialize iptables table `nat': Permission denied (you must be root)";
    const kernel = fakeKernel({ broken: { 'iptables-save': words } });
    const steps = await cleanupKernelL4({ mode: 'iptables' }, { exec: kernel.exec });
    assert.equal(steps[0]?.outcome, 'failed');
    assert.ok(steps[0]?.detail.includes(words));
  });

  test('a named mode touches only its own tools', async () => {
    const kernel = fakeKernel({ nft: ourNft, iptables: { IPv4: { nat: ourNat, filter: ourFilter } } });
    await cleanupKernelL4({ mode: 'nftables' }, { exec: kernel.exec });
    assert.deepEqual([...new Set(kernel.calls.map((c) => c.argv[0]))], ['nft']);
    const ipv4 = kernel.iptables.IPv4;
    assert.ok(ipv4 !== 'no-tables');
    assert.match(ipv4.nat, /PORTICO-SERVICES/, 'iptables untouched');
  });

  const missingNft = [
    { mode: 'all', outcome: 'skipped', rule: 'with mode all, a part whose tool is not installed is skipped' },
    {
      mode: 'nftables',
      outcome: 'failed',
      rule: 'with the mode named, a tool that is not installed is an error',
    },
  ] as const;
  for (const c of missingNft) {
    test(c.rule, async () => {
      const kernel = fakeKernel({ missing: ['nft'] });
      const steps = await cleanupKernelL4(
        { mode: c.mode },
        { exec: kernel.exec, ipvsAvailable: () => false },
      );
      const nft = steps.find((s) => s.part === 'nftables');
      assert.equal(nft?.outcome, c.outcome);
      assert.match(nft?.detail ?? '', /spawn nft ENOENT/);
    });
  }

  test('a failing part does not stop the others, and its error carries the tool words verbatim', async () => {
    const words = 'iptables-restore v1.8.9 (nf_tables): line 2: CHAIN_DEL failed (Device or resource busy)';
    const kernel = fakeKernel({
      iptables: { IPv4: { nat: ourNat, filter: '' } },
      nft: ourNft,
      broken: { 'iptables-restore': words },
    });
    const steps = await cleanupKernelL4({ mode: 'all' }, { exec: kernel.exec, ipvsAvailable: () => false });
    const ipv4 = steps.find((s) => s.part === 'iptables (IPv4)');
    assert.equal(ipv4?.outcome, 'failed');
    assert.ok(ipv4?.detail.includes(words), ipv4?.detail);
    assert.equal(steps.find((s) => s.part === 'nftables')?.outcome, 'removed');
  });

  test('with --node-ip, the IPVS virtual servers on that address go and the others stay', async () => {
    const kernel = fakeKernel({ ipvs: ipvsTable });
    const steps = await cleanupKernelL4(
      { mode: 'ipvs', nodeIp: '192.0.2.1' },
      { exec: kernel.exec, ipvsAvailable: () => true },
    );
    assert.deepEqual(steps.find((s) => s.part === 'ipvs')?.outcome, 'removed');
    assert.doesNotMatch(kernel.ipvsTable(), /192\.0\.2\.1/);
    assert.match(kernel.ipvsTable(), /10\.96\.0\.1:443/);
  });

  test('without --node-ip, IPVS virtual servers are reported as left, untouched', async () => {
    const kernel = fakeKernel({ ipvs: ipvsTable });
    const steps = await cleanupKernelL4({ mode: 'ipvs' }, { exec: kernel.exec, ipvsAvailable: () => true });
    const ipvs = steps.find((s) => s.part === 'ipvs');
    assert.equal(ipvs?.outcome, 'left');
    assert.match(ipvs?.detail ?? '', /2 virtual server.*--node-ip/);
    assert.equal(kernel.ipvsTable(), ipvsTable);
    assert.ok(!kernel.calls.some((c) => c.argv[0] === 'ipvsadm'), 'no IPVS change');
  });
});

describe('runCleanup', () => {
  async function run(argv: string[], kernel = fakeKernel()) {
    let stdout = '';
    let stderr = '';
    const code = await runCleanup(argv, {
      exec: kernel.exec,
      ipvsAvailable: () => false,
      stdout: (t) => {
        stdout += t;
      },
      stderr: (t) => {
        stderr += t;
      },
    });
    return { code, stdout, stderr };
  }

  test('--help prints the usage on stdout and exits 0', async () => {
    const r = await run(['--help']);
    assert.deepEqual(r, { code: 0, stdout: CLEANUP_HELP, stderr: '' });
  });

  test('bad usage exits 2 with the reason on stderr and runs no tool', async () => {
    const kernel = fakeKernel();
    const r = await run(['--mode', 'userspace'], kernel);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^portico cleanup: --mode: .*\nRun 'portico cleanup --help' for usage\.\n$/);
    assert.equal(kernel.calls.length, 0);
  });

  test('a clean namespace exits 0 with one line per part on stdout', async () => {
    const r = await run([]);
    assert.equal(r.code, 0);
    assert.equal(r.stderr, '');
    assert.deepEqual(r.stdout.trimEnd().split('\n'), [
      'iptables (IPv4): no PORTICO-* chain',
      'ip6tables (IPv6): no PORTICO-* chain',
      'ipvs: skipped: the kernel has no ip_vs (/proc/net/ip_vs is absent)',
      'nftables: no table inet portico',
    ]);
  });

  test('a failed part exits 1 with its error on stderr, the other parts still on stdout', async () => {
    const r = await run(
      ['--mode', 'nftables'],
      fakeKernel({ broken: { nft: 'Error: Could not process rule: Operation not permitted' } }),
    );
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(
      r.stderr,
      /^portico cleanup: nftables: .*Error: Could not process rule: Operation not permitted\n$/,
    );
  });
});

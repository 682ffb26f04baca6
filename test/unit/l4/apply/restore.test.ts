import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  blamedLine,
  deleteChainsPayload,
  type Exec,
  ensureJumps,
  iptablesRestore,
  L4ApplyError,
  nftApply,
  nftListChains,
  porticoChainsIn,
  prefixedExec,
  removeJumps,
  spawnExec,
} from '../../../../src/l4/apply/restore.js';
import { iptablesJumps } from '../../../../src/l4/render/iptables.js';

const blameCases = [
  {
    name: 'iptables-restore 1.8 names the line after "Error occurred at line:"',
    stderr: "iptables-restore v1.8.9 (nf_tables): Chain 'BOGUS' does not exist\nError occurred at line: 4\n",
    want: 4,
  },
  {
    name: 'older iptables-restore says "line N failed"',
    stderr: 'iptables-restore: line 12 failed\n',
    want: 12,
  },
  {
    name: 'nft names the line as file:line:columns',
    stderr: '/dev/stdin:3:24-24: Error: syntax error, unexpected newline\n',
    want: 3,
  },
  {
    name: 'an error without a line number blames no line',
    stderr: 'Permission denied (you must be root)\n',
    want: undefined,
  },
] as const;

for (const c of blameCases) test(c.name, () => assert.equal(blamedLine(c.stderr), c.want));

/** A fake exec answering from a table and recording every command (kube-proxy's fake exec). */
function fakeExec(answer: (argv: readonly string[]) => { code: number; stdout?: string; stderr?: string }) {
  const calls: { argv: readonly string[]; input?: string }[] = [];
  const exec: Exec = async (argv, options) => {
    calls.push({ argv, ...(options?.input !== undefined ? { input: options.input } : {}) });
    const a = answer(argv);
    return { code: a.code, stdout: a.stdout ?? '', stderr: a.stderr ?? '' };
  };
  return { exec, calls };
}

test('a failing iptables-restore is reported verbatim with the payload line it blamed', async () => {
  const { exec } = fakeExec(() => ({
    code: 2,
    stderr: "Chain 'X' does not exist\nError occurred at line: 2\n",
  }));
  await assert.rejects(iptablesRestore(exec, 'IPv4', '*nat\n-A PORTICO-SERVICES -j X\nCOMMIT\n'), (err) => {
    assert.ok(err instanceof L4ApplyError);
    assert.equal(err.code, 'PORTICO_ERR_L4_APPLY');
    assert.equal(err.line, 2);
    assert.equal(err.lineText, '-A PORTICO-SERVICES -j X');
    assert.match(err.message, /Chain 'X' does not exist/);
    return true;
  });
});

test('iptables-restore gets the payload on stdin with --noflush, ip6tables-restore for IPv6', async () => {
  const { exec, calls } = fakeExec(() => ({ code: 0 }));
  await iptablesRestore(exec, 'IPv6', '*nat\nCOMMIT\n');
  assert.deepEqual(calls, [{ argv: ['ip6tables-restore', '-w', '--noflush'], input: '*nat\nCOMMIT\n' }]);
});

test('an empty payload runs no tool', async () => {
  const { exec, calls } = fakeExec(() => ({ code: 0 }));
  await iptablesRestore(exec, 'IPv4', '');
  await nftApply(exec, '');
  assert.deepEqual(calls, []);
});

test('a jump is inserted only when the check says it is missing', async () => {
  const { exec, calls } = fakeExec((argv) => ({
    code: argv.includes('-C') && argv.includes('PREROUTING') ? 1 : 0,
  }));
  await ensureJumps(exec, 'IPv4', iptablesJumps());
  const inserts = calls.filter((c) => c.argv.includes('-I'));
  assert.equal(inserts.length, 1);
  assert.deepEqual(inserts[0]!.argv.slice(0, 7), ['iptables', '-w', '-t', 'nat', '-I', 'PREROUTING', '1']);
});

test('removing jumps deletes every copy until the check fails', async () => {
  let copies = 2;
  const { exec, calls } = fakeExec((argv) => {
    if (!argv.includes('PREROUTING')) return { code: 1 };
    if (argv.includes('-D')) copies--;
    return { code: argv.includes('-C') && copies === 0 ? 1 : 0 };
  });
  await removeJumps(exec, 'IPv4', iptablesJumps());
  assert.equal(calls.filter((c) => c.argv.includes('-D')).length, 2);
  assert.equal(copies, 0);
});

test('only our chains are read from iptables-save and deleted', () => {
  const save =
    '*nat\n:PREROUTING ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\n:PORTICO-SVC-ABC - [0:0]\n:PORTICO-SERVICES - [0:0]\nCOMMIT\n';
  const chains = porticoChainsIn(save);
  assert.deepEqual([...chains].sort(), ['PORTICO-SERVICES', 'PORTICO-SVC-ABC']);
  assert.equal(
    deleteChainsPayload({ nat: new Set([...chains, 'KUBE-SERVICES']), filter: new Set() }),
    '*nat\n:PORTICO-SERVICES - [0:0]\n:PORTICO-SVC-ABC - [0:0]\n-X PORTICO-SERVICES\n-X PORTICO-SVC-ABC\nCOMMIT\n',
  );
  assert.equal(deleteChainsPayload({ nat: new Set(), filter: new Set() }), '');
});

test('nft list of a missing table means no chains, not an error', async () => {
  const { exec } = fakeExec(() => ({
    code: 1,
    stderr: 'Error: No such file or directory\nlist table inet portico\n',
  }));
  assert.equal(await nftListChains(exec), undefined);
});

test('nft chains are read from the table listing', async () => {
  const stdout =
    'table inet portico {\n\tchain services {\n\t}\n\tchain service-ABC-db/pg/tcp/5432 {\n\t}\n}\n';
  const { exec } = fakeExec(() => ({ code: 0, stdout }));
  assert.deepEqual([...((await nftListChains(exec)) ?? [])], ['services', 'service-ABC-db/pg/tcp/5432']);
});

test('a prefixed exec runs the tool under the prefix (ip netns exec)', async () => {
  const { exec, calls } = fakeExec(() => ({ code: 0 }));
  await prefixedExec(exec, ['ip', 'netns', 'exec', 'n1'])(['nft', '-f', '-'], { input: 'x' });
  assert.deepEqual(calls[0]!.argv, ['ip', 'netns', 'exec', 'n1', 'nft', '-f', '-']);
});

test('spawnExec passes stdin through without a shell', async () => {
  const r = await spawnExec(['cat'], { input: '$(echo not expanded)' });
  assert.deepEqual(r, { code: 0, stdout: '$(echo not expanded)', stderr: '' });
});

test('spawnExec reports a missing tool instead of throwing', async () => {
  const r = await spawnExec(['portico-no-such-tool']);
  assert.equal(r.code, null);
  assert.match(r.stderr, /ENOENT/);
});

test('spawnExec kills a tool that outlives its timeout', async () => {
  const r = await spawnExec(['sleep', '5'], { timeoutMs: 50 });
  assert.equal(r.code, null);
  assert.match(r.stderr, /killed after 50 ms/);
});

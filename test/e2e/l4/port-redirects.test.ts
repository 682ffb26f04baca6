/**
 * `--redirect-privileged-ports` with real rules, only inside namespaces this test creates
 * (test/support/l4-lab.ts): a listener in the node namespace on an unprivileged port stands for
 * Portico's HTTP listener; `KernelL4` applies the redirect there (every tool under `ip netns exec
 * <node>`). Checked: a client namespace connecting to the node's port 80 reaches the listener, and
 * so does the node itself (the OUTPUT path); switching the redirects off (a full sync) removes the
 * chain and port 80 answers nothing again; cleanup leaves nothing of Portico; the host's own
 * ruleset is byte-identical before and after. The IPVS companion rules are restored with the real
 * iptables-restore too (the redirect is plain nat and needs no ip_vs); a full IPVS sync needs ip_vs
 * and is skipped with that reason where the kernel has none.
 *
 * Needs root, ip netns, iptables, nft and conntrack: under CI=true their absence fails the test.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { before, test } from 'node:test';
import {
  ensureJumps,
  iptablesRestore,
  listPorticoChains,
  prefixedExec,
  spawnExec,
} from '../../../src/l4/apply/restore.js';
import type { L4State } from '../../../src/l4/model.js';
import { renderIpvs } from '../../../src/l4/render/ipvs.js';
import { createKernelL4, type KernelMode } from '../../../src/l4/sync.js';
import { createLab, hostRuleset, type Lab, labNodeIp, labUnavailable } from '../../support/l4-lab.js';

const unavailable = await labUnavailable();
if (unavailable && process.env['CI'] === 'true')
  throw new Error(`port-redirect kernel tests must run under CI=true: ${unavailable}`);
const skip = unavailable ? `needs root, ip netns, iptables, nft and conntrack: ${unavailable}` : false;

const httpPort = 18080;
const answer = 'portico-http';

// Answers every connection with one line, then closes; exits on its own after 5 minutes at most.
const listenerScript = `
const net = require('node:net');
const server = net.createServer((s) => { s.on('error', () => {}); s.end('${answer}\\n'); });
server.listen(${httpPort}, '0.0.0.0', () => process.stdout.write('ready\\n'));
setTimeout(() => process.exit(0), 300_000).unref();
`;

// One connection from inside the node namespace; prints what came back or "error". Bounded: 2 s.
const nodeClientScript = (port: number) => `
const net = require('node:net');
const s = net.connect({ host: '${labNodeIp}', port: ${port} });
let data = '';
const t = setTimeout(() => { s.destroy(); process.stdout.write('error'); }, 2000);
s.on('data', (d) => { data += d; });
s.on('end', () => { clearTimeout(t); process.stdout.write(data.trim() || 'error'); });
s.on('error', () => { clearTimeout(t); process.stdout.write('error'); });
`;

let hostBefore = '';
before(async () => {
  if (!skip) hostBefore = await hostRuleset();
});

async function startListener(lab: Lab): Promise<ChildProcess> {
  const child = spawn('ip', ['netns', 'exec', lab.node, process.execPath, '-e', listenerScript], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the node listener did not start')), 10_000);
    child.stdout?.once('data', () => {
      clearTimeout(timer);
      resolve();
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the node listener exited with ${code}`));
    });
  });
  return child;
}

async function stopListener(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const closed = new Promise((resolve) => child.once('close', resolve));
  child.kill('SIGKILL');
  await closed;
}

function stateWith(redirects: L4State['portRedirects']): L4State {
  return { nodeIp: labNodeIp, services: [], ...(redirects ? { portRedirects: redirects } : {}) };
}

/** The redirect rules still in the node's ruleset (iptables: the PORTICO-REDIRECTS chain; nftables: a redirect rule). */
async function redirectRulesLeft(mode: KernelMode, lab: Lab): Promise<boolean> {
  if (mode === 'nftables') return /redirect to/.test(await lab.inNode(['nft', 'list', 'ruleset']));
  return /PORTICO-REDIRECTS/.test(await lab.inNode(['iptables-save', '-t', 'nat']));
}

/** What Portico left behind: PORTICO-* chains, or the `portico` table. */
async function porticoLeftovers(mode: KernelMode, lab: Lab): Promise<string[]> {
  const [listing, mark] =
    mode === 'nftables'
      ? [await lab.inNode(['nft', 'list', 'tables']), 'portico']
      : [await lab.inNode(['iptables-save']), 'PORTICO-'];
  return listing.split('\n').filter((line) => line.includes(mark));
}

async function scenario(mode: KernelMode, lab: Lab): Promise<void> {
  const exec = prefixedExec(spawnExec, ['ip', 'netns', 'exec', lab.node]);
  const kernel = createKernelL4(mode, { exec });
  const listener = await startListener(lab);
  try {
    const before = await lab.load('tcp', 80, 3);
    assert.deepEqual(before, { error: 3 }, 'nothing answers on port 80 before the redirect');

    const on = await kernel.sync(stateWith([{ port: 80, toPort: httpPort }]));
    assert.equal(on.error, undefined, `sync with redirects: ${on.error?.message}`);
    assert.deepEqual(on.rejected, []);

    const fromClient = await lab.load('tcp', 80, 20);
    assert.deepEqual(fromClient, { [answer]: 20 }, 'the client reaches the listener through port 80');
    const fromNode = await lab.inNode([process.execPath, '-e', nodeClientScript(80)]);
    assert.equal(fromNode, answer, 'the node reaches its own listener through port 80 (OUTPUT)');
    const other = await lab.load('tcp', 81, 2);
    assert.deepEqual(other, { error: 2 }, 'only the redirected port is redirected');

    const off = await kernel.sync(stateWith(undefined));
    assert.equal(off.error, undefined, `sync without redirects: ${off.error?.message}`);
    assert.equal(off.kind, 'full', 'switching redirects off is a node-wide change: a full sync');
    assert.equal(await redirectRulesLeft(mode, lab), false, 'the redirect rules are gone');
    assert.deepEqual(await lab.load('tcp', 80, 3), { error: 3 }, 'port 80 answers nothing again');

    await kernel.cleanup();
    assert.deepEqual(await porticoLeftovers(mode, lab), [], 'nothing of Portico remains after cleanup');
  } finally {
    await stopListener(listener);
  }
}

async function withLab(fn: (lab: Lab) => Promise<void>): Promise<void> {
  const lab = await createLab(1);
  try {
    await fn(lab);
  } finally {
    await lab.destroy();
  }
}

for (const mode of ['iptables', 'nftables'] as const) {
  test(
    `${mode}: node port 80 reaches a listener on an unprivileged port, from outside and from the node, until switched off`,
    {
      skip,
      timeout: 120_000,
    },
    () => withLab((lab) => scenario(mode, lab)),
  );
}

// The redirect is plain nat, so the IPVS companion payload can be checked on this kernel even
// without ip_vs: restored by the real iptables-restore, it must redirect, then delete its chain.
async function ipvsCompanionScenario(lab: Lab): Promise<void> {
  const exec = prefixedExec(spawnExec, ['ip', 'netns', 'exec', lab.node]);
  const listener = await startListener(lab);
  try {
    const on = renderIpvs(stateWith([{ port: 80, toPort: httpPort }]));
    assert.deepEqual(on.rejected, []);
    await iptablesRestore(exec, 'IPv4', on.companionPayload);
    await ensureJumps(exec, 'IPv4', on.companionJumps);
    assert.deepEqual(await lab.load('tcp', 80, 10), { [answer]: 10 }, 'the client reaches the listener');

    const existing = await listPorticoChains(exec, 'IPv4', 'nat');
    await iptablesRestore(
      exec,
      'IPv4',
      renderIpvs(stateWith(undefined), { existingChains: existing }).companionPayload,
    );
    assert.doesNotMatch(await lab.inNode(['iptables-save', '-t', 'nat']), /PORTICO-REDIRECTS/);
    assert.deepEqual(await lab.load('tcp', 80, 3), { error: 3 }, 'port 80 answers nothing again');

    await createKernelL4('ipvs', { exec }).cleanup();
    const leftovers = (await lab.inNode(['iptables-save']))
      .split('\n')
      .filter((line) => line.includes('PORTICO-'));
    assert.deepEqual(leftovers, [], 'nothing of Portico remains after cleanup');
  } finally {
    await stopListener(listener);
  }
}

test(
  'ipvs companion rules: iptables-restore accepts them and node port 80 reaches the listener (no ip_vs needed)',
  {
    skip,
    timeout: 120_000,
  },
  () => withLab(ipvsCompanionScenario),
);

const ipvsMissing = existsSync('/proc/net/ip_vs')
  ? undefined
  : 'this kernel has no ip_vs (/proc/net/ip_vs is absent)';
test(
  'ipvs: a KernelL4 sync redirects node port 80 the same way',
  {
    skip:
      skip ||
      (ipvsMissing
        ? `${ipvsMissing}; the companion redirect rules are checked above and in test/unit/l4`
        : false),
    timeout: 120_000,
  },
  () => withLab((lab) => scenario('ipvs', lab)),
);

// Last in the file: tests run in order, so this sees the host after every namespace above is gone.
test('the host iptables, ip6tables and nft rulesets are byte-identical after the namespace runs', {
  skip,
}, async () => {
  assert.equal(await hostRuleset(), hostBefore);
});

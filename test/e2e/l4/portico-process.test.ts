/**
 * The L4 path end to end with the real Portico process (dist build) running in the node namespace
 * of test/support/l4-lab.ts (`ip netns exec <node>`), in file mode: a tcp-services and a
 * udp-services ConfigMap (and, in user space, PROXY protocol through a ConfigMap entry and an
 * L4Route) name a Service whose EndpointSlice holds the three backend namespaces' addresses; a
 * client namespace sends TCP and UDP to the node's address. Checked per mode: traffic reaches and
 * spreads over the backends; it keeps flowing across a Portico restart (kernel modes; user space
 * serves again after one); PROXY v1 and v2 headers carry the client namespace's address to the
 * backends (user space); `portico cleanup`, run in the node namespace, and `--cleanup-on-exit`
 * leave no PORTICO-* chain and no portico table. The host's own ruleset is byte-identical before
 * and after.
 *
 * Needs root, ip netns, iptables, nft and conntrack, and `npm run build` (npm run test:e2e does
 * it): under CI=true their absence fails the test.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { before, test } from 'node:test';
import type { KernelMode } from '../../../src/l4/sync.js';
import {
  backendProxyProtocolPort,
  backendTcpPort,
  backendUdpPort,
  chiSquare,
  createLab,
  hostRuleset,
  type Lab,
  labNodeIp,
  labUnavailable,
} from '../../support/l4-lab.js';
import {
  type ManifestDir,
  manifestDir,
  PORTICO_BIN,
  type PorticoProcess,
  runPortico,
  spawnPortico,
} from '../../support/portico-process.js';

const unavailable =
  (await labUnavailable()) ??
  (existsSync(PORTICO_BIN) ? undefined : `${PORTICO_BIN} is not built (npm run build)`);
if (unavailable && process.env['CI'] === 'true')
  throw new Error(`Portico-process L4 tests must run under CI=true: ${unavailable}`);
const skip = unavailable
  ? `needs root, ip netns, iptables, nft, conntrack and a dist build: ${unavailable}`
  : false;

const tcpPort = 7000;
const udpPort = 7001;
const proxyV1Port = 7002;
const proxyV2Port = 7003;
// Two degrees of freedom: p = 0.001 is at 13.8; 30 only catches a spread that is plainly broken.
const chiSquareBound = 30;
const clientIp = '10.77.0.2';

let hostBefore = '';
before(async () => {
  if (!skip) hostBefore = await hostRuleset();
});

/**
 * The manifests folder: ingress-nginx's ConfigMaps for TCP and UDP over one Service with three
 * endpoints; with `proxyProtocol`, a v1 entry (the ConfigMap's second PROXY field) and a v2
 * L4Route towards the backends' PROXY-reading port, through a second Service (a Service port is
 * exposed on one listen port only).
 */
function manifests(addresses: readonly string[], proxyProtocol: boolean): string {
  const service = (name: string, ports: readonly (readonly [string, number, 'TCP' | 'UDP'])[]) => `---
apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: lab }
spec:
  ports:
${ports.map(([n, p, proto]) => `    - { name: ${n}, port: ${p}, targetPort: ${p}, protocol: ${proto} }`).join('\n')}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: ${name}-1, namespace: lab, labels: { kubernetes.io/service-name: ${name} } }
addressType: IPv4
ports:
${ports.map(([n, p, proto]) => `  - { name: ${n}, port: ${p}, protocol: ${proto} }`).join('\n')}
endpoints:
${addresses.map((a) => `  - addresses: [${a}]`).join('\n')}
`;
  const proxyPort = ['proxy', backendProxyProtocolPort, 'TCP'] as const;
  const docs = [
    `apiVersion: v1
kind: ConfigMap
metadata: { name: tcp-services, namespace: lab }
data:
  "${tcpPort}": "lab/echo:${backendTcpPort}"
${proxyProtocol ? `  "${proxyV1Port}": "lab/echo:proxy::PROXY"\n` : ''}---
apiVersion: v1
kind: ConfigMap
metadata: { name: udp-services, namespace: lab }
data:
  "${udpPort}": "lab/echo:udp"
`,
    service('echo', [['tcp', backendTcpPort, 'TCP'], ['udp', backendUdpPort, 'UDP'], proxyPort]),
  ];
  if (proxyProtocol) {
    docs.push(
      service('echo-v2', [proxyPort]),
      `---
apiVersion: portico.dev/v1alpha1
kind: L4Route
metadata: { name: echo-proxy-v2, namespace: lab }
spec:
  listenPort: ${proxyV2Port}
  protocol: TCP
  backend: { service: echo-v2, port: proxy }
  proxyProtocol: v2
`,
    );
  }
  return docs.join('');
}

async function withLab(
  proxyProtocol: boolean,
  fn: (lab: Lab, dir: ManifestDir) => Promise<void>,
): Promise<void> {
  const lab = await createLab(3);
  const dir = await manifestDir({
    'l4.yaml': manifests(
      lab.backends.map((b) => b.ip),
      proxyProtocol,
    ),
  });
  try {
    await fn(lab, dir);
  } finally {
    await dir.cleanup();
    await lab.destroy();
  }
}

function flags(mode: KernelMode | 'userspace'): string[] {
  return [
    '--l4-mode',
    mode,
    '--tcp-services-configmap',
    'lab/tcp-services',
    '--udp-services-configmap',
    'lab/udp-services',
    ...(mode === 'userspace' ? [] : ['--node-ip', labNodeIp]),
  ];
}

/** Portico in the lab's node namespace; user space listens on the node's address, kernel modes only match it. */
function startInNode(lab: Lab, dir: ManifestDir, mode: KernelMode | 'userspace'): Promise<PorticoProcess> {
  return spawnPortico(['--manifests', dir.dir, ...flags(mode)], {
    netns: lab.node,
    bindAddress: mode === 'userspace' ? labNodeIp : '127.0.0.1',
    startTimeoutMs: 20_000,
  });
}

function rulesApplied(portico: PorticoProcess, from = 0): Promise<unknown> {
  return portico.waitForLog((e) => e.msg === 'L4 rules applied', 20_000, from);
}

async function assertSpread(lab: Lab, proto: 'tcp' | 'udp', port: number, count: number): Promise<void> {
  const names = lab.backends.map((b) => b.name);
  const counts = await lab.load(proto, port, count);
  assert.equal(counts['error'], undefined, `${proto} through the node: ${JSON.stringify(counts)}`);
  assert.deepEqual(Object.keys(counts).sort(), names, `${proto} reaches every backend`);
  assert.ok(chiSquare(counts, names) < chiSquareBound, `${proto} spread ${JSON.stringify(counts)}`);
}

async function assertAnswered(lab: Lab, proto: 'tcp' | 'udp', port: number, count: number, when: string) {
  const counts = await lab.load(proto, port, count);
  assert.equal(counts['error'], undefined, `${proto} ${when}: ${JSON.stringify(counts)}`);
}

/** Lines of the node's rulesets (both families, and nft) that belong to Portico. */
async function porticoLeftovers(lab: Lab): Promise<string> {
  const text = await lab.inNode(['sh', '-c', 'iptables-save; ip6tables-save; nft list ruleset']);
  return text
    .split('\n')
    .filter((line) => /PORTICO-|table inet portico/.test(line))
    .join('\n');
}

async function cleanupInNode(lab: Lab): Promise<string> {
  const r = await runPortico(['cleanup', '--node-ip', labNodeIp], 60_000, lab.node);
  assert.equal(r.code, 0, `portico cleanup: ${r.stdout}${r.stderr}`);
  assert.equal(r.stderr, '');
  return r.stdout;
}

async function kernelScenario(mode: KernelMode, lab: Lab, dir: ManifestDir): Promise<void> {
  let portico = await startInNode(lab, dir, mode);
  try {
    await rulesApplied(portico);
    await assertSpread(lab, 'tcp', tcpPort, 300);
    await assertSpread(lab, 'udp', udpPort, 150);

    // A restart: the kernel keeps forwarding while Portico is gone, and the next one adopts the rules.
    const acrossRestart = lab.load('tcp', tcpPort, 400);
    assert.equal(await portico.stop('SIGTERM'), 0, 'a SIGTERM is a clean shutdown');
    assert.notEqual(await porticoLeftovers(lab), '', 'the rules outlive the process');
    await assertAnswered(lab, 'tcp', tcpPort, 60, 'while Portico is down');
    await assertAnswered(lab, 'udp', udpPort, 30, 'while Portico is down');
    portico = await startInNode(lab, dir, mode);
    const adopted = await rulesApplied(portico);
    assert.equal((adopted as { sync?: unknown }).sync, 'full', 'a new process adopts with a full sync');
    const across = await acrossRestart;
    assert.equal(across['error'], undefined, `TCP across the restart: ${JSON.stringify(across)}`);
    await assertAnswered(lab, 'tcp', tcpPort, 60, 'after the restart');
    await assertAnswered(lab, 'udp', udpPort, 30, 'after the restart');
    if (mode === 'iptables') {
      const prerouting = await lab.inNode(['iptables', '-t', 'nat', '-S', 'PREROUTING']);
      assert.equal(
        prerouting.split('\n').filter((l) => l.includes('PORTICO-SERVICES')).length,
        1,
        'the adopting process does not duplicate its jumps',
      );
    }
    assert.equal(await portico.stop('SIGTERM'), 0);
  } finally {
    await portico.stop('SIGKILL');
  }

  const report = await cleanupInNode(lab);
  assert.match(
    report,
    mode === 'nftables'
      ? /^nftables: removed table inet portico/m
      : /^iptables \(IPv4\): removed \d+ chains/m,
  );
  assert.equal(await porticoLeftovers(lab), '', 'nothing of Portico remains after portico cleanup');
  assert.deepEqual(
    await lab.load('tcp', tcpPort, 3),
    { error: 3 },
    'without rules nothing answers on the port',
  );
}

for (const mode of ['iptables', 'nftables'] as const) {
  test(
    `${mode}: a running Portico forwards TCP and UDP over the backends, traffic survives its restart, and portico cleanup removes its rules`,
    { skip, timeout: 90_000 },
    () => withLab(false, (lab, dir) => kernelScenario(mode, lab, dir)),
  );
}

test(
  'nftables: with --cleanup-on-exit a stopping Portico removes its rules itself',
  { skip, timeout: 60_000 },
  () =>
    withLab(false, async (lab, dir) => {
      const portico = await spawnPortico(
        ['--manifests', dir.dir, ...flags('nftables'), '--cleanup-on-exit'],
        {
          netns: lab.node,
          startTimeoutMs: 20_000,
        },
      );
      try {
        await rulesApplied(portico);
        await assertAnswered(lab, 'tcp', tcpPort, 30, 'through the rules');
        assert.notEqual(await porticoLeftovers(lab), '', 'the rules are in place');
        assert.equal(await portico.stop('SIGTERM'), 0);
      } finally {
        await portico.stop('SIGKILL');
      }
      assert.equal(await porticoLeftovers(lab), '', 'nothing of Portico remains after it stopped');
    }),
);

const ipvsMissing = existsSync('/proc/net/ip_vs')
  ? undefined
  : 'this kernel has no ip_vs (/proc/net/ip_vs is absent)';
test(
  'ipvs: a running Portico forwards TCP and UDP through IPVS, traffic survives its restart, and portico cleanup removes its rules',
  {
    skip: skip || (ipvsMissing ? `${ipvsMissing}; the IPVS rendering is tested in test/unit/l4` : false),
    timeout: 90_000,
  },
  () => withLab(false, (lab, dir) => kernelScenario('ipvs', lab, dir)),
);

test(
  'userspace: a running Portico forwards TCP and UDP over the backends, sends PROXY v1 and v2 with the client address, and serves again after a restart',
  { skip, timeout: 90_000 },
  () =>
    withLab(true, async (lab, dir) => {
      let portico = await startInNode(lab, dir, 'userspace');
      try {
        // User space applies before it logs "listening": the listeners are up.
        await assertSpread(lab, 'tcp', tcpPort, 300);
        await assertSpread(lab, 'udp', udpPort, 150);
        for (const [port, version] of [
          [proxyV1Port, 'v1'],
          [proxyV2Port, 'v2'],
        ] as const) {
          const seen = await lab.load('tcp', port, 9);
          const names = lab.backends.map((b) => b.name);
          assert.deepEqual(
            Object.keys(seen).sort(),
            names.map((n) => `${n} ${version} ${clientIp}`),
            `PROXY ${version}: each backend saw the client namespace's address`,
          );
        }

        // User space has no rules to outlive the process: the listening sockets are Portico's own,
        // so the kernel closes them when it exits and new connections are refused until the next
        // one listens. A restart necessarily drops the listeners (kernel modes exist for this).
        assert.equal(await portico.stop('SIGTERM'), 0, 'a SIGTERM is a clean shutdown');
        assert.deepEqual(
          await lab.load('tcp', tcpPort, 3),
          { error: 3 },
          'nothing listens while Portico is down',
        );
        portico = await startInNode(lab, dir, 'userspace');
        await assertSpread(lab, 'tcp', tcpPort, 90);
        await assertAnswered(lab, 'udp', udpPort, 30, 'after the restart');
      } finally {
        await portico.stop('SIGKILL');
      }
      // Nothing of Portico's is in the kernel in user space: cleanup finds nothing and says so.
      const report = await cleanupInNode(lab);
      assert.match(report, /^iptables \(IPv4\): no PORTICO-\* chain$/m);
      assert.match(report, /^nftables: no table inet portico$/m);
      assert.equal(await porticoLeftovers(lab), '');
    }),
);

// Last in the file: tests run in order, so this sees the host after every namespace above is gone.
test('the host iptables, ip6tables and nft rulesets are byte-identical after the Portico runs', {
  skip,
}, async () => {
  assert.equal(await hostRuleset(), hostBefore);
});

/**
 * Two Portico processes against one API server (issue 4): both serve, exactly one holds the Lease
 * and writes Ingress status, and when it exits the other takes over within the lease duration
 * plus a retry period and writes what changed meanwhile.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type FakeApiServer, startFakeApiServer } from '../../support/fake-apiserver/index.js';
import { waitUntil } from '../../support/portico-process.js';
import {
  type ClusterPortico,
  endpointSlice,
  ingress,
  ingressClass,
  metric,
  readyz,
  service,
  startClusterPortico,
  uncoveredRequests,
} from './support.js';

const PUBLISHED = '203.0.113.7';
// Short but valid client-go timings (renew < lease, retry < renew), so failover fits a test.
const ELECTION = ['--lease-duration', '3s', '--renew-deadline', '2s', '--retry-period', '500ms'];

let dir: string;
let api: FakeApiServer;
const replicas: ClusterPortico[] = [];

interface IngressWithStatus {
  status?: { loadBalancer?: { ingress?: { ip?: string; hostname?: string }[] } };
}

function statusIps(name: string): string[] {
  const obj = api.get('networking.k8s.io/v1', 'Ingress', 'default', name) as IngressWithStatus | undefined;
  return (obj?.status?.loadBalancer?.ingress ?? []).map((a) => a.ip ?? a.hostname ?? '');
}

async function leaderFlags(): Promise<number[]> {
  return Promise.all(replicas.map(async (r) => (await metric(r.adminPort, 'portico_leader')) ?? -1));
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'portico-election-'));
  api = await startFakeApiServer();
  for (const obj of [
    ingressClass(),
    service('web'),
    endpointSlice('web', ['10.200.0.10']),
    ingress('shop', { host: 'shop.example' }),
  ])
    api.apply(obj);
  const kubeconfig = await api.writeKubeconfig(dir);
  for (const name of ['portico-a', 'portico-b']) {
    replicas.push(
      await startClusterPortico({
        kubeconfig,
        args: [...ELECTION, '--publish-status-address', PUBLISHED, '--shutdown-delay', '0s'],
        env: { POD_NAME: name, POD_NAMESPACE: 'default' },
      }),
    );
  }
});

after(async () => {
  await Promise.all(replicas.map((r) => r.stop('SIGKILL').catch(() => undefined)));
  await api.close();
  await rm(dir, { recursive: true, force: true });
});

test('two processes: both serve, one leader writes status; when it exits the other takes over', async () => {
  for (const r of replicas) await waitUntil(async () => (await readyz(r.adminPort)) === 200, 15_000, 'ready');

  await waitUntil(async () => statusIps('shop').includes(PUBLISHED), 15_000, 'status written');
  const flags = await leaderFlags();
  assert.deepEqual([...flags].sort(), [0, 1], `exactly one leader, got ${JSON.stringify(flags)}`);
  const leaderIndex = flags.indexOf(1);
  const leader = replicas[leaderIndex]!;
  const follower = replicas[1 - leaderIndex]!;
  const followerWrites = await metric(follower.adminPort, 'portico_k8s_status_updates_total', {
    outcome: 'updated',
  });
  assert.ok((followerWrites ?? 0) === 0, 'the follower wrote no status');

  // The leader exits (SIGTERM releases the Lease); a new Ingress appears meanwhile.
  const exitedAt = Date.now();
  assert.equal(await leader.stop('SIGTERM'), 0);
  api.apply(ingress('late', { host: 'late.example' }));

  await waitUntil(async () => (await metric(follower.adminPort, 'portico_leader')) === 1, 10_000, 'failover');
  const failoverMs = Date.now() - exitedAt;
  // Released Lease: the follower takes over at its next retry; bound by lease duration + retry.
  assert.ok(failoverMs <= 3_500 + 1_000, `took over after ${failoverMs} ms`);
  await waitUntil(async () => statusIps('late').includes(PUBLISHED), 10_000, 'new leader writes status');
  assert.deepEqual(uncoveredRequests(api.requests), []);
});

/**
 * Cluster mode end to end: the compiled `portico` against the fake API server through the real
 * `@kubernetes/client-node`, observed through the admin port (/readyz, /routes, /metrics) and the
 * API server's request log. Traffic through the proxy is tested in traffic.test.ts (it needs a
 * network namespace: the API server refuses loopback endpoint addresses, as the real one does).
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  type FakeApiServer,
  type RecordedRequest,
  startFakeApiServer,
} from '../../support/fake-apiserver/index.js';
import { get, waitUntil } from '../../support/portico-process.js';
import {
  addresses,
  type ClusterPortico,
  endpointSlice,
  ingress,
  ingressClass,
  metric,
  readyz,
  routes,
  service,
  sleep,
  startClusterPortico,
  TcpGate,
  tlsSecret,
  uncoveredRequests,
  waitForRoutes,
} from './support.js';

/** Every request every fake API server of this file saw, for the permissions check at the end. */
const allRequests: RecordedRequest[] = [];
let workDir = '';

before(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'portico-cluster-e2e-'));
});
after(async () => {
  await rm(workDir, { recursive: true, force: true });
});

interface Env {
  readonly api: FakeApiServer;
  readonly portico: ClusterPortico;
  readonly kubeconfig: string;
  readonly gate?: TcpGate;
  close(): Promise<void>;
}

let envCount = 0;

/** `setup` starts a fake API server holding `objects`, then portico against it. */
async function setup(
  objects: readonly object[],
  options: { args?: readonly string[]; gate?: 'open' | 'closed' } = {},
): Promise<Env> {
  const api = await startFakeApiServer({ bookmarkIntervalMs: 500 });
  try {
    return await startAgainst(api, objects, options);
  } catch (err) {
    await api.close();
    throw err;
  }
}

async function startAgainst(
  api: FakeApiServer,
  objects: readonly object[],
  options: { args?: readonly string[]; gate?: 'open' | 'closed' },
): Promise<Env> {
  for (const o of objects) api.create(o as Parameters<FakeApiServer['create']>[0]);
  const dir = join(workDir, `env-${++envCount}`);
  await mkdir(dir, { recursive: true });
  let kubeconfig = await api.writeKubeconfig(dir);
  let gate: TcpGate | undefined;
  if (options.gate) {
    gate = await TcpGate.start(Number(new URL(api.url).port));
    const text = await readFile(kubeconfig, 'utf8');
    kubeconfig = join(dir, 'kubeconfig-gated');
    await writeFile(kubeconfig, text.replace(api.url, `http://127.0.0.1:${gate.port}`));
    if (options.gate === 'closed') gate.cut();
  }
  const portico = await startClusterPortico({
    kubeconfig,
    args: ['--shutdown-delay', '0s', ...(options.args ?? [])],
  });
  if (options.gate !== 'closed') {
    await waitUntil(async () => (await readyz(portico.adminPort)) === 200, 15_000, 'readyz 200');
  }
  return {
    api,
    portico,
    kubeconfig,
    ...(gate ? { gate } : {}),
    async close() {
      const code = await portico.stop();
      allRequests.push(...api.requests);
      await gate?.close();
      await api.close();
      assert.equal(code, 0, 'portico exits 0 on SIGTERM');
    },
  };
}

const base = () => [ingressClass(), service('web'), endpointSlice('web', addresses(1)), ingress('shop')];

describe('cluster mode', () => {
  test('/readyz stays 503 until every informer has listed, then the first snapshot serves', async () => {
    const env = await setup(base(), { gate: 'closed' });
    const { portico, gate } = env;
    try {
      assert.equal((await get(portico.adminPort, '/healthz')).status, 200, 'alive while not synced');
      for (let i = 0; i < 5; i++) {
        assert.equal(await readyz(portico.adminPort), 503, 'not ready without the API server');
        await sleep(100);
      }
      assert.equal(await metric(portico.adminPort, 'portico_k8s_informer_synced', { kind: 'Ingress' }), 0);
      gate?.open();
      await waitUntil(
        async () => (await readyz(portico.adminPort)) === 200,
        15_000,
        'readyz 200 once the API server answers',
      );
      const r = await routes(portico.adminPort);
      assert.deepEqual(
        r.routes.map((x) => [x.host, x.path, x.backend, x.endpoints]),
        [['shop.example', '/', 'default/web:80', ['10.200.0.1:8080']]],
      );
      assert.equal(await metric(portico.adminPort, 'portico_k8s_informer_synced', { kind: 'Ingress' }), 1);
      // The controller's own metrics are kept in cluster mode as in file mode (portico/metrics.test.ts).
      assert.equal(
        await metric(portico.adminPort, 'portico_config_rebuilds_total', { outcome: 'published' }),
        1,
      );
      assert.ok(
        ((await metric(portico.adminPort, 'portico_config_last_success_timestamp_seconds')) ?? 0) > 1.7e9,
      );
      assert.equal(
        await metric(portico.adminPort, 'portico_config_rejected_objects', { kind: 'Ingress' }),
        0,
      );
    } finally {
      await env.close();
    }
  });

  test('Ingresses, Services and EndpointSlices: create, update and delete reach /routes', async () => {
    const env = await setup([ingressClass()]);
    const { api, portico } = env;
    try {
      assert.deepEqual((await routes(portico.adminPort)).routes, []);
      api.create(ingress('shop', { paths: [{ path: '/', service: 'web', port: 80 }] }));
      let r = await waitForRoutes(portico.adminPort, (x) => x.length === 1, 'the new Ingress');
      assert.equal(r[0]?.endpoints.length, 0, 'no Service yet');
      api.create(service('web'));
      api.create(endpointSlice('web', ['10.200.0.7']));
      r = await waitForRoutes(
        portico.adminPort,
        (x) => x[0]?.endpoints.length === 1,
        'endpoints of the new Service',
      );
      assert.deepEqual(r[0]?.endpoints, ['10.200.0.7:8080']);
      // Update: a second path to another Service.
      api.create(service('api'));
      api.create(endpointSlice('api', ['10.200.0.8']));
      api.update(
        ingress('shop', {
          paths: [
            { path: '/', service: 'web', port: 80 },
            { path: '/api', service: 'api', port: 80 },
          ],
        }),
      );
      r = await waitForRoutes(portico.adminPort, (x) => x.length === 2, 'the updated Ingress');
      assert.deepEqual(r.map((x) => [x.path, x.backend, x.endpoints]).sort(), [
        ['/', 'default/web:80', ['10.200.0.7:8080']],
        ['/api', 'default/api:80', ['10.200.0.8:8080']],
      ]);
      // Delete the Service: the route stays (answers 503) and says why.
      api.delete('v1', 'Service', 'default', 'api');
      r = await waitForRoutes(
        portico.adminPort,
        (x) => x.some((y) => y.path === '/api' && y.endpoints.length === 0),
        'the Service gone',
      );
      // Delete the Ingress: its routes go.
      api.delete('networking.k8s.io/v1', 'Ingress', 'default', 'shop');
      await waitForRoutes(portico.adminPort, (x) => x.length === 0, 'the Ingress gone');
    } finally {
      await env.close();
    }
  });

  test('scaling endpoints 1 → 10 → 0 takes the fast path: no new route generation', async () => {
    const env = await setup(base());
    const { api, portico } = env;
    try {
      const before = await routes(portico.adminPort);
      api.update(endpointSlice('web', addresses(10)));
      await waitForRoutes(portico.adminPort, (x) => x[0]?.endpoints.length === 10, '10 endpoints');
      api.update(endpointSlice('web', []));
      await waitForRoutes(portico.adminPort, (x) => x[0]?.endpoints.length === 0, '0 endpoints');
      api.update(endpointSlice('web', addresses(3)));
      await waitForRoutes(portico.adminPort, (x) => x[0]?.endpoints.length === 3, '3 endpoints');
      assert.equal(
        (await routes(portico.adminPort)).generation,
        before.generation,
        'routes were not rebuilt',
      );
      assert.ok(
        portico.logs.some((l) => l.msg === 'endpoints loaded'),
        'the endpoints fast path ran',
      );
    } finally {
      await env.close();
    }
  });

  test('Secrets: Helm releases are never listed; a Secret is fetched once when an Ingress starts using it', async () => {
    const env = await setup([
      ...base(),
      tlsSecret('shop-tls'),
      tlsSecret('unrelated'),
      tlsSecret('sh.helm.release.v1.shop.v1', 'default', 'helm.sh/release.v1'),
    ]);
    const { api, portico } = env;
    try {
      const secretLists = api.requests.filter((r) => r.resource === 'secrets' && r.verb === 'list');
      assert.ok(secretLists.length > 0);
      for (const r of secretLists) assert.equal(r.query['fieldSelector'], 'type!=helm.sh/release.v1');
      const synced = await portico.waitForLog((l) => l.msg === 'informers synced');
      assert.equal(synced['secretsKept'], 0, 'no Ingress references a Secret yet');
      assert.equal(api.requests.filter((r) => r.resource === 'secrets' && r.verb === 'get').length, 0);
      api.update(ingress('shop', { tls: ['shop-tls'] }));
      await waitUntil(
        () => api.requests.some((r) => r.resource === 'secrets' && r.verb === 'get' && r.name === 'shop-tls'),
        10_000,
        'a GET of the newly referenced Secret',
      );
      await sleep(300);
      const gets = api.requests.filter((r) => r.resource === 'secrets' && r.verb === 'get');
      assert.deepEqual(
        gets.map((r) => r.name),
        ['shop-tls'],
        'exactly one GET, of the referenced Secret only',
      );
      // An invalid edit (a bad annotation value, which the API server does not check; no spec.tls)
      // is rejected and the last good version keeps serving: its Secret must stay held, so going
      // back to it needs no new GET.
      const invalid = ingress('shop');
      api.update({
        ...invalid,
        metadata: {
          ...invalid.metadata,
          annotations: { 'nginx.ingress.kubernetes.io/ssl-redirect': 'maybe' },
        },
      });
      await waitUntil(
        async () => JSON.stringify(await routes(portico.adminPort)).includes('"rejected"'),
        10_000,
        'the invalid edit is rejected',
      );
      api.update(ingress('shop', { tls: ['shop-tls'], paths: [{ path: '/v2', service: 'web', port: 80 }] }));
      await waitUntil(
        async () => JSON.stringify(await routes(portico.adminPort)).includes('/v2'),
        10_000,
        'the valid edit is served',
      );
      assert.deepEqual(
        api.requests.filter((r) => r.resource === 'secrets' && r.verb === 'get').map((r) => r.name),
        ['shop-tls'],
        'the Secret of the last good version was kept through the invalid edit',
      );
    } finally {
      await env.close();
    }
  });

  test('--watch-namespace: one informer per namespace, Ingresses elsewhere are not seen', async () => {
    const env = await setup(
      [
        ingressClass(),
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-a' } },
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-b' } },
        service('web', 80, 8080, 'team-a'),
        service('web', 80, 8080, 'team-b'),
        ingress('a', { namespace: 'team-a', host: 'a.example' }),
        ingress('b', { namespace: 'team-b', host: 'b.example' }),
      ],
      { args: ['--watch-namespace', 'team-a'] },
    );
    const { api, portico } = env;
    try {
      const r = await routes(portico.adminPort);
      assert.deepEqual(
        r.routes.map((x) => x.ingress),
        ['team-a/a'],
      );
      const lists = api.requests.filter((x) => x.verb === 'list' || x.verb === 'watch');
      for (const x of lists) {
        if (x.resource === 'ingressclasses') assert.equal(x.namespace, undefined);
        else assert.equal(x.namespace, 'team-a', `${x.verb} ${x.resource} is scoped`);
      }
    } finally {
      await env.close();
    }
  });

  test('--configmap: its settings apply live; ConfigMaps are watched once, namespace-wide (custom-headers)', async () => {
    const settings = (data: Record<string, string>) => ({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'portico-settings', namespace: 'default' },
      data,
    });
    const env = await setup(
      [
        ...base(),
        settings({ 'proxy-read-timeout': '30' }),
        { ...settings({}), metadata: { name: 'other', namespace: 'default' } },
      ],
      { args: ['--configmap', 'default/portico-settings'] },
    );
    const { api, portico } = env;
    try {
      const readTimeout = async () => {
        const body = JSON.parse((await get(portico.adminPort, '/routes')).body) as {
          settings?: { upstream?: { readTimeoutMs?: number } };
        };
        return body.settings?.upstream?.readTimeoutMs;
      };
      assert.equal(await readTimeout(), 30_000);
      api.update(settings({ 'proxy-read-timeout': '45' }));
      await waitUntil(async () => (await readTimeout()) === 45_000, 10_000, 'the edited ConfigMap applied');
      // `custom-headers` annotations read ConfigMaps of any watched namespace, so one informer
      // watches them all; the settings ConfigMap needs no second, name-scoped one.
      const cmRequests = api.requests.filter((r) => r.resource === 'configmaps');
      assert.ok(cmRequests.length > 0);
      for (const r of cmRequests) {
        assert.equal(r.namespace, undefined);
        assert.equal(r.query['fieldSelector'], undefined);
      }
    } finally {
      await env.close();
    }
  });

  test('custom-headers: a ConfigMap created later is seen and re-translates (issue 8)', async () => {
    const shop = ingress('shop');
    const annotated = {
      ...shop,
      metadata: {
        ...shop.metadata,
        annotations: { 'nginx.ingress.kubernetes.io/custom-headers': 'shop-headers' },
      },
    };
    const env = await setup([ingressClass(), service('web'), endpointSlice('web', addresses(1)), annotated]);
    const { api, portico } = env;
    const missing = async (): Promise<boolean> =>
      (await get(portico.adminPort, '/routes')).body.includes('ConfigMap default/shop-headers not found');
    try {
      assert.equal(await missing(), true, 'the missing ConfigMap is reported');
      api.create({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'shop-headers', namespace: 'default' },
        data: { 'X-Frame-Options': 'DENY' },
      });
      await waitUntil(async () => !(await missing()), 10_000, 'the created ConfigMap is read');
    } finally {
      await env.close();
    }
  });

  test('watch drops, compaction (410 Gone) and an API server restart: readyz stays 200, changes still arrive', async () => {
    const env = await setup(base());
    const { api, portico } = env;
    let probing = true;
    const probes: number[] = [];
    const probe = (async () => {
      while (probing) {
        probes.push(await readyz(portico.adminPort));
        const r = await routes(portico.adminPort);
        probes.push(r.routes.length === 0 ? 0 : 200);
        await sleep(25);
      }
    })();
    try {
      // Watches that end within a second of opening, empty, look like a server in trouble and are
      // retried after a backoff with a relist; let them live longer so these are ordinary ends.
      await sleep(1_200);
      // 1. The server ends every watch: portico re-watches from where it was.
      api.dropWatches();
      api.update(endpointSlice('web', addresses(2)));
      await waitForRoutes(
        portico.adminPort,
        (x) => x[0]?.endpoints.length === 2,
        'change after a watch drop',
      );
      // 2. History compacted, then watches dropped: resuming answers 410, portico relists.
      await sleep(1_200);
      // (An object portico does not watch moves the revision past the one it holds, all in one tick,
      // so no bookmark can catch it up first.)
      api.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bump' } });
      api.compact();
      api.dropWatches();
      api.update(endpointSlice('web', addresses(4)));
      await waitForRoutes(portico.adminPort, (x) => x[0]?.endpoints.length === 4, 'change after compaction');
      // The real server (and the fake) answer a too-old watch with 200 and an ERROR 410 event.
      // (pino writes asynchronously: wait for the line rather than expect it already read.)
      await portico.waitForLog((l) => typeof l.msg === 'string' && l.msg.includes('410 Gone'), 5_000);
      // 3. The API server restarts (every connection cut, same port, same data).
      const restartsBefore = (await metric(portico.adminPort, 'portico_k8s_watch_restarts_total')) ?? 0;
      await api.restart();
      api.update(endpointSlice('web', addresses(6)));
      await waitForRoutes(
        portico.adminPort,
        (x) => x[0]?.endpoints.length === 6,
        'change after a restart',
        15_000,
      );
      const restartsAfter = (await metric(portico.adminPort, 'portico_k8s_watch_restarts_total')) ?? 0;
      assert.ok(restartsAfter > restartsBefore, `restarts counted (${restartsBefore} → ${restartsAfter})`);
    } finally {
      probing = false;
      await probe;
      await env.close();
    }
    assert.ok(probes.length > 10);
    assert.deepEqual([...new Set(probes)], [200], 'readyz 200 and routes served throughout');
  });

  test('a long API server outage: the last snapshot keeps serving, and the relist reconciles', async () => {
    const env = await setup(
      [
        ...base(),
        service('old'),
        ingress('old', { host: 'old.example', paths: [{ path: '/', service: 'old', port: 80 }] }),
      ],
      {
        gate: 'open',
      },
    );
    const { api, portico, gate } = env;
    try {
      await waitForRoutes(portico.adminPort, (x) => x.length === 2, 'both Ingresses');
      gate?.cut();
      // Meanwhile the cluster changes: one Ingress goes, one comes.
      api.delete('networking.k8s.io/v1', 'Ingress', 'default', 'old');
      api.create(ingress('new', { host: 'new.example' }));
      for (let i = 0; i < 10; i++) {
        await sleep(200);
        assert.equal(await readyz(portico.adminPort), 200, 'ready during the outage');
        assert.deepEqual(
          (await routes(portico.adminPort)).routes.map((x) => x.host).sort(),
          ['old.example', 'shop.example'],
          'the last snapshot, unchanged',
        );
      }
      const disconnected = await metric(portico.adminPort, 'portico_k8s_watch_disconnected_seconds', {
        kind: 'Ingress',
      });
      assert.ok((disconnected ?? 0) >= 1, `disconnected seconds reported (${disconnected})`);
      assert.ok(
        ((await metric(portico.adminPort, 'portico_k8s_watch_restarts_total', { kind: 'Ingress' })) ?? 0) >=
          1,
      );
      gate?.open();
      await waitForRoutes(
        portico.adminPort,
        (x) =>
          x
            .map((y) => y.host)
            .sort()
            .join() === 'new.example,shop.example',
        'reconciled after the outage',
        40_000,
      );
      await waitUntil(
        async () =>
          (await metric(portico.adminPort, 'portico_k8s_watch_disconnected_seconds', { kind: 'Ingress' })) ===
          0,
        10_000,
        'disconnected back to 0',
      );
      await portico.waitForLog((l) => l.msg === 'watch reconnected', 5_000);
    } finally {
      await env.close();
    }
  });

  test('SIGTERM: /readyz 503 during the 5 s default shutdown delay, routes still served, exit 0', async () => {
    const api = await startFakeApiServer();
    for (const o of base()) api.create(o as Parameters<FakeApiServer['create']>[0]);
    await mkdir(join(workDir, 'sigterm'));
    const kubeconfig = await api.writeKubeconfig(join(workDir, 'sigterm'));
    const portico = await startClusterPortico({ kubeconfig });
    try {
      await waitUntil(async () => (await readyz(portico.adminPort)) === 200, 15_000, 'readyz 200');
      const started = Date.now();
      portico.child.kill('SIGTERM');
      await waitUntil(
        async () => (await readyz(portico.adminPort)) === 503,
        5_000,
        'readyz 503 while shutting down',
      );
      assert.equal((await routes(portico.adminPort)).routes.length, 1, 'still serving during the delay');
      const code = await portico.exited;
      const took = Date.now() - started;
      assert.equal(code, 0);
      assert.ok(took >= 4_500, `waited the cluster-mode default delay (${took} ms)`);
      assert.ok(portico.logs.some((l) => l.msg === 'shutting down' && l['shutdownDelayMs'] === 5_000));
    } finally {
      await portico.stop('SIGKILL');
      allRequests.push(...api.requests);
      await api.close();
    }
  });

  test('every request the API servers saw is covered by src/k8s/permissions.ts', () => {
    assert.ok(allRequests.length > 50, `requests were recorded (${allRequests.length})`);
    assert.deepEqual(uncoveredRequests(allRequests), []);
    const resources = new Set(allRequests.map((r) => r.resource));
    for (const r of ['ingresses', 'ingressclasses', 'services', 'endpointslices', 'secrets', 'configmaps']) {
      assert.ok(resources.has(r), `${r} were read`);
    }
  });
});

/**
 * `traffic-scenario` is run by traffic.test.ts INSIDE a test-made network namespace (`ip netns
 * exec`): the fake API server (on the namespace's loopback), echo backends on 10.200.0.x (the
 * namespace's dummy interface: addresses the API server accepts in EndpointSlices), and the real
 * `portico` in cluster mode. It drives a scenario with real HTTP traffic and prints one JSON line
 * of observations on stdout for the outer test to assert on; progress goes to stderr.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Backend, startBackend } from '../../support/backends.js';
import { type FakeApiServer, startFakeApiServer } from '../../support/fake-apiserver/index.js';
import { get, waitUntil } from '../../support/portico-process.js';
import {
  endpointSlice,
  ingress,
  ingressClass,
  readyz,
  service,
  sleep,
  startClusterPortico,
  uncoveredRequests,
} from './support.js';

/** `ScenarioResult` is what the scenario observed, step by step. */
export interface ScenarioResult {
  readonly firstAnswer: string;
  readonly spreadOverThree: readonly string[];
  readonly noEndpoints: number;
  readonly secondPath: string;
  readonly duringOutage: readonly string[];
  readonly afterRestart: string;
  readonly afterIngressDeleted: number;
  readonly exitCode: number | null;
  readonly uncovered: readonly string[];
}

const BACKEND_PORT = 8080;

function progress(step: string): void {
  process.stderr.write(`[scenario] ${step}\n`);
}

/** `answer` sends one request for `host` + `path` and returns the backend's name or `status N`. */
async function answer(port: number, host: string, path = '/'): Promise<string> {
  const res = await get(port, path, { host, timeoutMs: 5_000 });
  if (res.status !== 200) return `status ${res.status}`;
  return (JSON.parse(res.body) as { name: string }).name;
}

async function until(what: string, cond: () => Promise<boolean>): Promise<void> {
  await waitUntil(cond, 15_000, what);
}

async function main(): Promise<ScenarioResult> {
  const backends: Backend[] = [];
  for (const [i, host] of ['10.200.0.1', '10.200.0.2', '10.200.0.3'].entries()) {
    backends.push(await startBackend({ host, port: BACKEND_PORT, name: `web-${i + 1}` }));
  }
  backends.push(await startBackend({ host: '10.200.0.4', port: BACKEND_PORT, name: 'api-1' }));
  const api: FakeApiServer = await startFakeApiServer();
  const dir = await mkdtemp(join(tmpdir(), 'portico-traffic-'));
  try {
    for (const o of [
      ingressClass(),
      service('web'),
      service('api'),
      endpointSlice('web', ['10.200.0.1']),
      endpointSlice('api', ['10.200.0.4']),
      ingress('shop'),
    ]) {
      api.create(o as Parameters<FakeApiServer['create']>[0]);
    }
    const portico = await startClusterPortico({
      kubeconfig: await api.writeKubeconfig(dir),
      args: ['--shutdown-delay', '0s'],
    });
    try {
      const port = portico.httpPort;
      await until('readyz 200', async () => (await readyz(portico.adminPort)) === 200);
      progress('ready');
      const firstAnswer = await answer(port, 'shop.example');

      progress('scale 1 → 3');
      api.update(endpointSlice('web', ['10.200.0.1', '10.200.0.2', '10.200.0.3']));
      const seen = new Set<string>();
      await until('three backends answering', async () => {
        seen.add(await answer(port, 'shop.example'));
        return seen.size >= 3;
      });
      const spreadOverThree = [...seen].sort();

      progress('scale 3 → 0');
      api.update(endpointSlice('web', []));
      let noEndpoints = 0;
      await until('503 without endpoints', async () => {
        noEndpoints = (await get(port, '/', { host: 'shop.example' })).status;
        return noEndpoints === 503;
      });

      progress('second path');
      api.update(endpointSlice('web', ['10.200.0.2']));
      api.update(
        ingress('shop', {
          paths: [
            { path: '/', service: 'web', port: 80 },
            { path: '/api', service: 'api', port: 80 },
          ],
        }),
      );
      let secondPath = '';
      await until('/api routed', async () => {
        secondPath = await answer(port, 'shop.example', '/api/x');
        return secondPath === 'api-1';
      });

      progress('API server restart');
      // Let the watches settle, so the restart ends healthy ones.
      await sleep(1_200);
      const restart = api.restart();
      const duringOutage: string[] = [];
      for (let i = 0; i < 10; i++) {
        duringOutage.push(await answer(port, 'shop.example'));
        await sleep(30);
      }
      await restart;
      api.update(endpointSlice('web', ['10.200.0.3']));
      let afterRestart = '';
      await until('a change after the restart', async () => {
        afterRestart = await answer(port, 'shop.example');
        return afterRestart === 'web-3';
      });

      progress('delete the Ingress');
      api.delete('networking.k8s.io/v1', 'Ingress', 'default', 'shop');
      let afterIngressDeleted = 0;
      await until('404 once the Ingress is gone', async () => {
        afterIngressDeleted = (await get(port, '/', { host: 'shop.example' })).status;
        return afterIngressDeleted === 404;
      });

      progress('SIGTERM');
      const exitCode = await portico.stop();
      return {
        firstAnswer,
        spreadOverThree,
        noEndpoints,
        secondPath,
        duringOutage,
        afterRestart,
        afterIngressDeleted,
        exitCode,
        uncovered: uncoveredRequests(api.requests),
      };
    } finally {
      await portico.stop('SIGKILL');
    }
  } finally {
    await api.close();
    await Promise.all(backends.map((b) => b.close()));
    await rm(dir, { recursive: true, force: true });
  }
}

main().then(
  (result) => {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    process.exit(0);
  },
  (err: unknown) => {
    process.stderr.write(
      `[scenario] failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  },
);

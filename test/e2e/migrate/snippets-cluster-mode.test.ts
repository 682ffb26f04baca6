/**
 * Cluster mode through the built binary against the fake API server: an Ingress carrying a
 * snippet is rejected with an `InvalidAnnotation` Warning Event naming the annotation, and an
 * unknown annotation becomes one `UnknownAnnotation` Event on its (served) Ingress — folded, not
 * repeated as new Events when the configuration reloads.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { IngressReport } from '../../../src/model/types.js';
import { type FakeApiServer, startFakeApiServer } from '../../support/fake-apiserver/index.js';
import { get, type PorticoProcess, waitUntil } from '../../support/portico-process.js';
import { CONTROLLER, startClusterPortico } from '../cluster/support.js';

const N = 'nginx.ingress.kubernetes.io/';

interface CoreEvent {
  reason: string;
  message: string;
  count?: number;
  involvedObject: { name: string };
}

const ingressObject = (name: string, annotations: Record<string, string>) => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'Ingress',
  metadata: { name, namespace: 'default', annotations },
  spec: {
    ingressClassName: 'portico',
    rules: [
      {
        host: `${name}.test`,
        http: {
          paths: [
            { path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } },
          ],
        },
      },
    ],
  },
});

const service = (name: string) => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace: 'default' },
  spec: { ports: [{ port: 80 }] },
});

describe('snippets and ignored annotations in cluster mode', () => {
  let api: FakeApiServer;
  let dir: string;
  let portico: PorticoProcess | undefined;
  const loads = () => (portico?.logs ?? []).filter((e) => String(e.msg).startsWith('config loaded')).length;
  const events = (reason: string, name: string): CoreEvent[] =>
    (api.list('v1', 'Event', 'default') as CoreEvent[]).filter(
      (e) => e.reason === reason && e.involvedObject.name === name,
    );

  before(async () => {
    api = await startFakeApiServer({ bookmarkIntervalMs: 500 });
    dir = await mkdtemp(join(tmpdir(), 'portico-migrate-cluster-'));
    api.create({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'IngressClass',
      metadata: { name: 'portico' },
      spec: { controller: CONTROLLER },
    });
    api.create(service('web'));
    api.create(ingressObject('shop', { [`${N}enable-influxdb`]: 'true' }));
    api.create(ingressObject('evil', { [`${N}server-snippet`]: 'return 200 "owned";' }));
    portico = await startClusterPortico({
      kubeconfig: await api.writeKubeconfig(dir),
      args: ['--shutdown-delay', '0s'],
    });
  });

  after(async () => {
    await portico?.stop('SIGKILL');
    await api?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('the snippet Ingress is rejected with an InvalidAnnotation Event naming the annotation', async () => {
    const p = portico as PorticoProcess;
    await waitUntil(
      async () => events('InvalidAnnotation', 'evil').length > 0,
      20_000,
      'InvalidAnnotation Event',
    );
    const [event] = events('InvalidAnnotation', 'evil');
    assert.match(
      event?.message ?? '',
      new RegExp(`${N}server-snippet.*is refused: snippets are configuration code`),
    );
    const report = JSON.parse((await get(p.adminPort, '/routes')).body) as { ingresses: IngressReport[] };
    assert.deepEqual(report.ingresses.map((i) => [i.ingress, i.state]).sort(), [
      ['default/evil', 'rejected'],
      ['default/shop', 'served'],
    ]);
  });

  test('the unknown annotation is one UnknownAnnotation Event on its Ingress, not one per reload', async () => {
    await waitUntil(
      async () => events('UnknownAnnotation', 'shop').length > 0,
      20_000,
      'UnknownAnnotation Event',
    );
    assert.match(events('UnknownAnnotation', 'shop')[0]?.message ?? '', /enable-influxdb is ignored/);
    // Other Ingresses reload the configuration.
    api.create(ingressObject('plain', {}));
    await waitUntil(async () => loads() >= 2, 10_000, 'a second load');
    api.create(ingressObject('other', {}));
    await waitUntil(
      async () =>
        (portico as PorticoProcess).logs.filter((e) => String(e.msg).startsWith('config loaded')).length >= 3,
      10_000,
      'two more loads',
    );
    assert.equal(events('UnknownAnnotation', 'shop').length, 1);
    assert.equal(
      (portico as PorticoProcess).logs.filter((e) => e.msg === 'annotation ignored').length,
      1,
      'logged once',
    );
  });
});

/**
 * `proxy-body-size` through the real binary in file mode: the 1m default of the flag (as
 * ingress-nginx's), the ConfigMap key changing it live, and the annotation overriding both.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ingress, ingressClass, svc } from '../../support/builders.js';
import { request } from '../../support/http.js';
import {
  get,
  type ManifestDir,
  manifestDir,
  type PorticoProcess,
  startPortico,
  waitUntil,
} from '../../support/portico-process.js';
import { type Pods, settingsConfigMap, startPods, yamlOf } from './helpers.js';

const MiB = 1024 * 1024;

describe('proxy-body-size (file mode)', () => {
  let pods: Pods;
  let dir: ManifestDir;
  let portico: PorticoProcess;

  const upload = (host: string, bytes: number) =>
    request(portico.httpPort, {
      method: 'POST',
      path: '/upload',
      headers: { host },
      body: Buffer.alloc(bytes),
    });
  const globalLimit = async (): Promise<number | undefined> =>
    (
      JSON.parse((await get(portico.adminPort, '/routes')).body) as {
        settings: { upstream: { maxBodyBytes?: number } };
      }
    ).settings.upstream.maxBodyBytes;

  before(async () => {
    pods = await startPods('web');
    dir = await manifestDir({
      'class.yaml': yamlOf(ingressClass('portico').build()),
      'services.yaml': yamlOf(...pods.objects),
      'plain.yaml': yamlOf(
        ingress('plain').cls('portico').host('plain.test').prefix('/', svc('web', 80)).build(),
      ),
      'small.yaml': yamlOf(
        ingress('small')
          .cls('portico')
          .annotate('nginx.ingress.kubernetes.io/proxy-body-size', '512k')
          .host('small.test')
          .prefix('/', svc('web', 80))
          .build(),
      ),
      'configmap.yaml': settingsConfigMap({}),
    });
    portico = await startPortico({ manifests: dir.dir, args: ['--configmap', 'ingress/portico'] });
  });

  after(async () => {
    await portico?.stop('SIGKILL');
    await pods?.close();
    await dir?.cleanup();
  });

  test('by default a body of exactly 1m passes and one byte more answers 413 (ingress-nginx default)', async () => {
    assert.equal(await globalLimit(), MiB);
    const at = await upload('plain.test', MiB);
    assert.equal(at.status, 200);
    assert.equal(at.json<{ bodyBytes: number }>().bodyBytes, MiB);
    assert.equal((await upload('plain.test', MiB + 1)).status, 413);
  });

  test('the annotation overrides the default for its Ingress only', async () => {
    assert.equal((await upload('small.test', 600 * 1024)).status, 413);
    assert.equal((await upload('plain.test', 600 * 1024)).status, 200);
  });

  test('the ConfigMap key raises the global limit live; the annotation still wins', async () => {
    await dir.write('configmap.yaml', settingsConfigMap({ 'proxy-body-size': '2m' }));
    await waitUntil(async () => (await globalLimit()) === 2 * MiB, 10_000, 'body limit 2m');
    assert.equal((await upload('plain.test', MiB + 1)).status, 200);
    assert.equal((await upload('small.test', 600 * 1024)).status, 413);
  });
});

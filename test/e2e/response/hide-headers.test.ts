/**
 * ConfigMap `hide-headers` end to end: an upstream response header it names never reaches the
 * client on any route, and a route's `custom-headers` still sets its own value of that name. A real
 * portico process in file mode with a real echo backend (which always answers `X-Backend`).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ingress, ingressClass, svc } from '../../support/builders.js';
import {
  get,
  type ManifestDir,
  manifestDir,
  type PorticoProcess,
  startPortico,
} from '../../support/portico-process.js';
import { type Pods, settingsConfigMap, startPods, yamlOf } from '../portico/helpers.js';

const N = 'nginx.ingress.kubernetes.io';

describe('hide-headers (file mode)', () => {
  let pods: Pods;
  let dir: ManifestDir;
  let portico: PorticoProcess;

  before(async () => {
    pods = await startPods('web');
    dir = await manifestDir({
      'class.yaml': yamlOf(ingressClass('portico').build()),
      'settings.yaml': settingsConfigMap({
        'hide-headers': 'X-Backend, Content-Type',
        'global-allowed-response-headers': 'X-Backend',
      }),
      'services.yaml': yamlOf(...pods.objects),
      'app.yaml': yamlOf(
        ingress('plain').cls('portico').host('plain.test').prefix('/', svc('web', 80)).build(),
        {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: 'own', namespace: 'default' },
          data: { 'X-Backend': 'from-configmap' },
        },
        ingress('own')
          .cls('portico')
          .annotate(`${N}/custom-headers`, 'own')
          .host('own.test')
          .prefix('/', svc('web', 80))
          .build(),
      ),
    });
    portico = await startPortico({ manifests: dir.dir, args: ['--configmap', 'ingress/portico'] });
  });

  after(async () => {
    await portico?.stop('SIGKILL');
    await pods?.close();
    await dir?.cleanup();
  });

  test('the named upstream headers never reach the client; the body does', async () => {
    const res = await get(portico.httpPort, '/', { host: 'plain.test' });
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-backend'], undefined);
    assert.equal(res.headers['content-type'], undefined);
    assert.equal((JSON.parse(res.body) as { name: string }).name, 'web');
  });

  test("a route's custom-headers still set their value of a hidden name", async () => {
    const res = await get(portico.httpPort, '/', { host: 'own.test' });
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-backend'], 'from-configmap');
  });
});

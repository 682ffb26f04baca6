/**
 * ConfigMap `keep-alive-requests` end to end: after that many requests on one HTTP/1.1 client
 * connection the last answer says `Connection: close`, and the next request needs a new connection.
 */
import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { ingress, ingressClass, svc } from '../../support/builders.js';
import {
  type ManifestDir,
  manifestDir,
  type PorticoProcess,
  startPortico,
} from '../../support/portico-process.js';
import { type Pods, settingsConfigMap, startPods, yamlOf } from './helpers.js';

describe('keep-alive-requests (file mode)', () => {
  let pods: Pods;
  let dir: ManifestDir;
  let portico: PorticoProcess;

  before(async () => {
    pods = await startPods('web');
    dir = await manifestDir({
      'class.yaml': yamlOf(ingressClass('portico').build()),
      'settings.yaml': settingsConfigMap({ 'keep-alive-requests': '2' }),
      'services.yaml': yamlOf(...pods.objects),
      'app.yaml': yamlOf(ingress('app').cls('portico').host('app.test').prefix('/', svc('web', 80)).build()),
    });
    portico = await startPortico({ manifests: dir.dir, args: ['--configmap', 'ingress/portico'] });
  });

  after(async () => {
    await portico?.stop('SIGKILL');
    await pods?.close();
    await dir?.cleanup();
  });

  test('the second request on a connection is answered with Connection: close; the third opens another', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const once = () =>
      new Promise<{ status: number; connection: string | undefined; port: number }>((resolve, reject) => {
        const req = request(
          { host: '127.0.0.1', port: portico.httpPort, path: '/', headers: { host: 'app.test' }, agent },
          (res) => {
            const port = res.socket.localPort ?? 0;
            res.resume();
            res.on('end', () =>
              resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, port }),
            );
          },
        );
        req.on('error', reject);
        req.end();
      });
    try {
      const first = await once();
      const second = await once();
      const third = await once();
      assert.deepEqual([first.status, second.status, third.status], [200, 200, 200]);
      assert.equal(first.connection, 'keep-alive');
      assert.equal(second.connection, 'close');
      assert.equal(first.port, second.port, 'the first two share a connection');
      assert.notEqual(third.port, second.port, 'the third needs a new one');
    } finally {
      agent.destroy();
    }
  });
});

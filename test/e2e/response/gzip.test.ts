/**
 * ConfigMap `use-gzip` end to end: a real portico process in file mode compresses proxied
 * responses of the listed types for clients that accept gzip, streams a large body through the
 * compressor intact, and leaves other answers alone.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { ingress, ingressClass, svc } from '../../support/builders.js';
import {
  type ManifestDir,
  manifestDir,
  type PorticoProcess,
  startPortico,
} from '../../support/portico-process.js';
import { type Pods, settingsConfigMap, startPods, yamlOf } from '../portico/helpers.js';

interface Raw {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

describe('use-gzip (file mode)', () => {
  let pods: Pods;
  let dir: ManifestDir;
  let portico: PorticoProcess;

  const fetchRaw = (path: string, headers: Record<string, string>, method = 'GET') =>
    new Promise<Raw>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: portico.httpPort,
          path,
          method,
          headers: { host: 'app.test', ...headers },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
          );
          res.on('error', reject);
        },
      );
      req.setTimeout(20_000, () => req.destroy(new Error('timeout')));
      req.on('error', reject);
      req.end();
    });

  before(async () => {
    pods = await startPods('web');
    dir = await manifestDir({
      'class.yaml': yamlOf(ingressClass('portico').build()),
      'settings.yaml': settingsConfigMap({
        'use-gzip': 'true',
        'gzip-types': 'application/json application/octet-stream',
      }),
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

  test('a listed type is compressed for a client that accepts gzip, with Vary', async () => {
    const res = await fetchRaw('/echo', { 'accept-encoding': 'gzip' });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-encoding'], 'gzip');
    assert.equal(res.headers['content-length'], undefined);
    assert.match(String(res.headers.vary), /Accept-Encoding/);
    const echo = JSON.parse(gunzipSync(res.body).toString()) as {
      name: string;
      headers: Record<string, string>;
    };
    assert.equal(echo.name, 'web');
    // The backend still sees what the client accepts; only Portico compresses.
    assert.equal(echo.headers['accept-encoding'], 'gzip');
  });

  test('without Accept-Encoding, and for HEAD, the response is left as it is', async () => {
    const plain = await fetchRaw('/echo', {});
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.equal(Number(plain.headers['content-length']), plain.body.length);
    assert.equal((JSON.parse(plain.body.toString()) as { name: string }).name, 'web');
    const head = await fetchRaw('/echo', { 'accept-encoding': 'gzip' }, 'HEAD');
    assert.equal(head.headers['content-encoding'], undefined);
  });

  test('a 2 MB body streams through the compressor intact', async () => {
    const direct = await fetchRaw('/big?bytes=2000000', {});
    const zipped = await fetchRaw('/big?bytes=2000000', { 'accept-encoding': 'gzip' });
    assert.equal(zipped.headers['content-encoding'], 'gzip');
    assert.ok(zipped.body.length < direct.body.length, `${zipped.body.length} < ${direct.body.length}`);
    const body = gunzipSync(zipped.body);
    assert.equal(body.length, 2_000_000);
    assert.ok(body.equals(direct.body));
  });
});

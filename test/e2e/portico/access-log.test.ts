/**
 * The access log end to end: a real portico process writes one JSON line per request to stdout
 * (or a file), with what the request met; the ConfigMap and the per-Ingress annotation turn lines
 * off.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ingress, ingressClass, svc } from '../../support/builders.js';
import {
  get,
  type LogEntry,
  type ManifestDir,
  manifestDir,
  type PorticoProcess,
  startPortico,
  waitUntil,
} from '../../support/portico-process.js';
import { type Pods, settingsConfigMap, startPods, yamlOf } from './helpers.js';

const accessLines = (p: PorticoProcess): LogEntry[] => p.logs.filter((l) => l['type'] === 'access');

describe('access log (file mode)', () => {
  let pods: Pods;
  let dir: ManifestDir;
  let portico: PorticoProcess;

  before(async () => {
    pods = await startPods('web');
    dir = await manifestDir({
      'class.yaml': yamlOf(ingressClass('portico').build()),
      'services.yaml': yamlOf(...pods.objects),
      'shop.yaml': yamlOf(
        ingress('shop').cls('portico').host('shop.test').prefix('/', svc('web', 80)).build(),
      ),
      'quiet.yaml': yamlOf(
        ingress('quiet')
          .cls('portico')
          .annotate('nginx.ingress.kubernetes.io/enable-access-log', 'false')
          .host('quiet.test')
          .prefix('/', svc('web', 80))
          .build(),
      ),
      'settings.yaml': settingsConfigMap({}),
    });
    portico = await startPortico({ manifests: dir.dir, args: ['--configmap', 'ingress/portico'] });
  });

  after(async () => {
    await portico?.stop('SIGKILL');
    await pods?.close();
    await dir?.cleanup();
  });

  test('a proxied request: one line with route, upstream and timings; never the query string', async () => {
    const res = await get(portico.httpPort, '/cart/items?token=secret', {
      host: 'shop.test',
      headers: { 'x-request-id': 'rid-1' },
    });
    assert.equal(res.status, 200);
    await waitUntil(() => accessLines(portico).some((l) => l['requestId'] === 'rid-1'), 5_000, 'the line');
    const line = accessLines(portico).find((l) => l['requestId'] === 'rid-1');
    assert.ok(line !== undefined);
    assert.equal(line['method'], 'GET');
    assert.equal(line['host'], 'shop.test');
    assert.equal(line['path'], '/cart/items');
    assert.equal(line['status'], 200);
    assert.equal(line['upstreamStatus'], 200);
    assert.equal(line['ingress'], 'default/shop');
    assert.equal(line['service'], 'default/web');
    assert.equal(line['client'], '127.0.0.1');
    assert.equal(line['bytes'], Buffer.byteLength(res.body));
    assert.match(String(line['upstream']), /^127\.0\.0\.\d+:\d+$/);
    assert.equal(typeof line['durationMs'], 'number');
    assert.ok((line['durationMs'] as number) >= (line['upstreamMs'] as number));
    assert.ok(!JSON.stringify(line).includes('secret'), 'the query string is not logged');
  });

  test('a built-in 404 is logged too, without upstream', async () => {
    const res = await get(portico.httpPort, '/', {
      host: 'nobody.test',
      headers: { 'x-request-id': 'rid-404' },
    });
    assert.equal(res.status, 404);
    await waitUntil(() => accessLines(portico).some((l) => l['requestId'] === 'rid-404'), 5_000, 'the line');
    const line = accessLines(portico).find((l) => l['requestId'] === 'rid-404');
    assert.equal(line?.['status'], 404);
    assert.equal(line?.['upstream'], undefined);
    assert.equal(line?.['bytes'], Buffer.byteLength(res.body));
  });

  test('enable-access-log: "false" on an Ingress, then ConfigMap disable-access-log, turn lines off', async () => {
    assert.equal(
      (await get(portico.httpPort, '/', { host: 'quiet.test', headers: { 'x-request-id': 'rid-quiet' } }))
        .status,
      200,
    );
    await dir.write('settings.yaml', settingsConfigMap({ 'disable-access-log': 'true' }));
    await waitUntil(
      async () => {
        await get(portico.httpPort, '/', { host: 'shop.test', headers: { 'x-request-id': 'rid-probe' } });
        const probes = accessLines(portico).filter((l) => l['requestId'] === 'rid-probe').length;
        await get(portico.httpPort, '/', { host: 'shop.test', headers: { 'x-request-id': 'rid-probe' } });
        await new Promise((r) => setTimeout(r, 100));
        return accessLines(portico).filter((l) => l['requestId'] === 'rid-probe').length === probes;
      },
      10_000,
      'lines stop after the ConfigMap change',
    );
    // A marker request after the change, then one with a line-writing request id on the quiet host:
    // neither appears, while Portico's own log keeps working.
    await get(portico.httpPort, '/', { host: 'shop.test', headers: { 'x-request-id': 'rid-after' } });
    await new Promise((r) => setTimeout(r, 300));
    const ids = accessLines(portico).map((l) => l['requestId']);
    assert.ok(!ids.includes('rid-quiet'), 'the quiet Ingress wrote no line');
    assert.ok(!ids.includes('rid-after'), 'no line after disable-access-log');
  });
});

describe('access log to a file', () => {
  test('--access-log FILE writes the lines there, not to stdout', async () => {
    const pods = await startPods('web');
    const files = await mkdtemp(join(tmpdir(), 'portico-access-'));
    const dir = await manifestDir({
      'class.yaml': yamlOf(ingressClass('portico').build()),
      'services.yaml': yamlOf(...pods.objects),
      'shop.yaml': yamlOf(
        ingress('shop').cls('portico').host('shop.test').prefix('/', svc('web', 80)).build(),
      ),
    });
    const file = join(files, 'logs', 'access.log');
    const portico = await startPortico({ manifests: dir.dir, args: ['--access-log', file] });
    try {
      assert.equal(
        (await get(portico.httpPort, '/x', { host: 'shop.test', headers: { 'x-request-id': 'rid-file' } }))
          .status,
        200,
      );
      await waitUntil(
        async () => (await readFile(file, 'utf8').catch(() => '')).includes('"rid-file"'),
        5_000,
        'the line in the file',
      );
      const line = JSON.parse(
        (await readFile(file, 'utf8')).split('\n').find((l) => l.includes('"rid-file"')) ?? '{}',
      ) as LogEntry;
      assert.equal(line['type'], 'access');
      assert.equal(line['path'], '/x');
      assert.equal(accessLines(portico).length, 0, 'nothing on stdout');
    } finally {
      await portico.stop('SIGKILL');
      await pods.close();
      await dir.cleanup();
      await rm(files, { recursive: true, force: true });
    }
  });
});

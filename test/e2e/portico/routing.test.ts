import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ingress, ingressClass, svc } from '../../support/builders.js';
import {
  type ManifestDir,
  manifestDir,
  type PorticoProcess,
  routedTo,
  startPortico,
} from '../../support/portico-process.js';
import { type Pods, startPods, yamlOf } from './helpers.js';

describe('routing through the portico process', () => {
  let pods: Pods;
  let dir: ManifestDir;
  let portico: PorticoProcess;

  before(async () => {
    pods = await startPods('web', 'api', 'other');
    dir = await manifestDir({
      'class.yaml': yamlOf(ingressClass('portico').build()),
      'services.yaml': yamlOf(...pods.objects),
      'shop.yaml': yamlOf(
        ingress('shop')
          .cls('portico')
          .created('2024-01-01T00:00:00Z')
          .host('a.test')
          .prefix('/', svc('web', 80))
          .prefix('/api', svc('api', 80))
          .exact('/exact', svc('api', 80))
          .host('*.w.test')
          .prefix('/', svc('api', 80))
          .build(),
      ),
      'merge.yaml': yamlOf(
        ingress('merged')
          .cls('portico')
          .created('2024-01-02T00:00:00Z')
          .host('a.test')
          .prefix('/other', svc('other', 80))
          .build(),
      ),
      'host-default.yaml': yamlOf(
        ingress('hd')
          .cls('portico')
          .host('hd.test')
          .prefix('/x', svc('web', 80))
          .defaultBackend(svc('api', 80))
          .build(),
      ),
      'fallback.yaml': yamlOf(ingress('fallback').cls('portico').defaultBackend(svc('other', 80)).build()),
      'classes.yaml': yamlOf(
        ingress('not-ours').cls('nginx').host('c.test').prefix('/', svc('web', 80)).build(),
        ingress('no-class').host('n.test').prefix('/', svc('web', 80)).build(),
        ingress('legacy').classAnnotation('portico').host('legacy.test').prefix('/', svc('web', 80)).build(),
      ),
    });
    portico = await startPortico({ manifests: dir.dir });
  });

  after(async () => {
    await portico?.stop('SIGKILL');
    await pods?.close();
    await dir?.cleanup();
  });

  const cases = [
    { name: 'Prefix / catches everything under a host', host: 'a.test', path: '/anything', want: 'web' },
    { name: 'the longest Prefix wins', host: 'a.test', path: '/api/users', want: 'api' },
    { name: 'Prefix matches whole segments only', host: 'a.test', path: '/apix', want: 'web' },
    { name: 'Exact matches only the exact path', host: 'a.test', path: '/exact', want: 'api' },
    { name: 'Exact does not match below it', host: 'a.test', path: '/exact/more', want: 'web' },
    { name: 'host matching ignores case and port', host: 'A.TEST:8080', path: '/api', want: 'api' },
    {
      name: 'paths of another Ingress merge into the same host',
      host: 'a.test',
      path: '/other/x',
      want: 'other',
    },
    { name: 'a wildcard host matches one label', host: 'shop.w.test', path: '/', want: 'api' },
    { name: 'a wildcard host does not match two labels', host: 'a.b.w.test', path: '/', want: 'other' },
    {
      name: 'a host default answers unmatched paths of its host',
      host: 'hd.test',
      path: '/nope',
      want: 'api',
    },
    { name: 'a host default does not shadow its paths', host: 'hd.test', path: '/x/1', want: 'web' },
    {
      name: 'an unknown host gets the catch-all default backend',
      host: 'unknown.test',
      path: '/',
      want: 'other',
    },
    { name: 'an Ingress of another class is ignored', host: 'c.test', path: '/', want: 'other' },
    { name: 'an Ingress without class is ignored by default', host: 'n.test', path: '/', want: 'other' },
    { name: 'the legacy class annotation selects us', host: 'legacy.test', path: '/', want: 'web' },
  ] as const;
  for (const c of cases) {
    test(c.name, async () => {
      assert.equal(await routedTo(portico.httpPort, c.host, c.path), c.want);
    });
  }

  test('the backend sees the original host and path', async () => {
    const { get } = await import('../../support/portico-process.js');
    const res = await get(portico.httpPort, '/api/users?x=1', { host: 'a.test' });
    const echo = JSON.parse(res.body) as { url: string; headers: Record<string, string> };
    assert.equal(echo.url, '/api/users?x=1');
    assert.equal(echo.headers['host'], 'a.test');
  });

  test('the load log line lists ignored Ingresses', () => {
    const load = portico.logs.find((l) => l.msg === 'config loaded');
    assert.ok(load, 'a config loaded line');
    const ignored = (load['ignored'] as { ingress: string }[]).map((i) => i.ingress).sort();
    assert.deepEqual(ignored, ['default/no-class', 'default/not-ours']);
    assert.equal(load['generation'], 1);
    // a.test: /, /api, /exact, /other; *.w.test /; hd.test /x; legacy.test /.
    assert.equal(load['routes'], 7);
    assert.equal(load['routesAdded'], 7);
  });
});

describe('process-level options', () => {
  test('--watch-ingress-without-class and --default-backend-service', async (t) => {
    const pods = await startPods('web', 'fb');
    const dir = await manifestDir({
      'all.yaml': yamlOf(
        ...pods.objects,
        ingress('no-class').host('n.test').prefix('/', svc('web', 80)).build(),
      ),
    });
    t.after(async () => {
      await pods.close();
      await dir.cleanup();
    });
    const portico = await startPortico({
      manifests: dir.dir,
      args: ['--watch-ingress-without-class', '--default-backend-service', 'default/fb:80'],
    });
    t.after(() => portico.stop('SIGKILL'));
    assert.equal(await routedTo(portico.httpPort, 'n.test', '/'), 'web');
    assert.equal(await routedTo(portico.httpPort, 'elsewhere.test', '/'), 'fb');
  });

  test('with no default backend anywhere, unmatched requests get 404', async (t) => {
    const pods = await startPods('web');
    const dir = await manifestDir({
      'all.yaml': yamlOf(
        ...pods.objects,
        ingress('x').cls('portico').host('x.test').prefix('/', svc('web', 80)).build(),
      ),
    });
    t.after(async () => {
      await pods.close();
      await dir.cleanup();
    });
    const portico = await startPortico({ manifests: dir.dir, args: ['--ingress-class', 'portico'] });
    t.after(() => portico.stop('SIGKILL'));
    assert.equal(
      await routedTo(portico.httpPort, 'x.test', '/'),
      'web',
      'IngressClass assumed from --ingress-class',
    );
    assert.equal(await routedTo(portico.httpPort, 'y.test', '/'), 'status 404');
  });
});

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { compileSnapshot } from '../../../src/compile/snapshot.js';
import type { RoutesReport } from '../../../src/proxy/admin.js';
import { backendRef, brokenBackend, endpointsOf, modelOf } from '../../support/fake-snapshot.js';
import { request } from '../../support/http.js';
import { type Harness, startDataPlane } from './harness.js';

let h: Harness;

before(async () => {
  h = await startDataPlane();
  h.dp.setReady(false);
});

after(async () => {
  await h.close();
});

test('/healthz answers 200 from the start', async () => {
  const res = await request(h.ports.admin, { path: '/healthz' });
  assert.equal(res.status, 200);
});

test('/readyz is 503 until setReady(true), then 200', async () => {
  assert.equal((await request(h.ports.admin, { path: '/readyz' })).status, 503);
  h.dp.setReady(true);
  assert.equal((await request(h.ports.admin, { path: '/readyz' })).status, 200);
});

test('before any publish every request gets the built-in 404', async () => {
  const res = await request(h.ports.http, { path: '/', headers: { host: 'x.test' } });
  assert.equal(res.status, 404);
});

test('/routes reports generation, routes with endpoints, host defaults, catch-all, ingresses and diagnostics', async () => {
  const model = {
    ...modelOf(
      [
        { host: 'a.test', path: '/', backend: backendRef('a') },
        {
          host: 'a.test',
          path: '/x',
          pathType: 'Exact',
          backend: brokenBackend('gone', 'Service default/gone not found'),
        },
      ],
      { hostDefaults: new Map([['a.test', backendRef('def')]]), catchAll: backendRef('all') },
    ),
    ingresses: [
      { ingress: 'default/test', state: 'served', reason: '' },
      { ingress: 'default/other', state: 'ignored', reason: 'ingressClassName "nginx" is not ours' },
    ],
    diagnostics: [
      {
        severity: 'warning',
        code: 'PORTICO_WARN_SERVICE_MISSING',
        object: 'Ingress default/test',
        field: 'spec.rules[0].http.paths[1].backend',
        message: 'Service default/gone not found',
      },
    ],
  } as const;
  h.dp.publishRoutes(compileSnapshot(model, 7));
  h.dp.publishEndpoints(endpointsOf({ 'default/a:80': [{ host: '127.0.0.9', port: 8080 }] }));
  const res = await request(h.ports.admin, { path: '/routes' });
  assert.equal(res.status, 200);
  assert.equal(res.headers['content-type'], 'application/json');
  const report = res.json<RoutesReport>();
  assert.equal(report.generation, 7);
  assert.deepEqual(
    report.routes.map((r) => [r.host, r.path, r.pathType, r.backend, r.problem, r.endpoints, r.ingress]),
    [
      ['a.test', '/', 'Prefix', 'default/a:80', null, ['127.0.0.9:8080'], 'default/test'],
      ['a.test', '/x', 'Exact', 'default/gone:80', 'Service default/gone not found', [], 'default/test'],
    ],
  );
  assert.deepEqual(report.hostDefaults, [
    { host: 'a.test', ingress: 'default/test', backend: 'default/def:80', problem: null, endpoints: [] },
  ]);
  assert.equal(report.catchAll?.backend, 'default/all:80');
  assert.equal(report.ingresses[1]?.state, 'ignored');
  assert.match(report.ingresses[1]?.reason ?? '', /not ours/);
  assert.equal(report.diagnostics[0]?.code, 'PORTICO_WARN_SERVICE_MISSING');
  assert.equal(report.upstreams.pools, 1);
});

test('unknown admin paths are 404', async () => {
  assert.equal((await request(h.ports.admin, { path: '/nope' })).status, 404);
});

import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { type Backend, type Echo, startBackend } from '../../support/backends.js';
import { backendRef, brokenBackend, endpointsOf, snapshotOf } from '../../support/fake-snapshot.js';
import { request } from '../../support/http.js';
import { type Harness, startDataPlane } from './harness.js';

let shop: Backend;
let admin: Backend;
let fallback: Backend;
let h: Harness;

before(async () => {
  shop = await startBackend({ name: 'shop' });
  admin = await startBackend({ name: 'admin' });
  fallback = await startBackend({ name: 'fallback' });
  h = await startDataPlane({
    routes: snapshotOf(
      [
        { host: 'shop.example', path: '/', backend: backendRef('shop') },
        { host: 'shop.example', path: '/admin', backend: backendRef('admin') },
        {
          host: 'shop.example',
          path: '/broken',
          backend: brokenBackend('gone', 'Service default/gone not found'),
        },
        { host: 'shop.example', path: '/empty', backend: backendRef('empty') },
        { host: 'fallback.example', path: '/x', pathType: 'Exact', backend: backendRef('shop') },
      ],
      { hostDefaults: new Map([['fallback.example', backendRef('fallback')]]) },
    ),
    endpoints: endpointsOf({
      'default/shop:80': [{ host: shop.host, port: shop.port }],
      'default/admin:80': [{ host: admin.host, port: admin.port }],
      'default/fallback:80': [{ host: fallback.host, port: fallback.port }],
      'default/empty:80': [],
    }),
  });
});

after(async () => {
  await h.close();
  await Promise.all([shop.close(), admin.close(), fallback.close()]);
});

const routeCases = [
  {
    name: 'a host and prefix route reach their backend',
    host: 'shop.example',
    path: '/cart?id=1',
    want: 'shop',
  },
  {
    name: 'the Host header is case-insensitive and may carry a port',
    host: 'SHOP.example:80',
    path: '/',
    want: 'shop',
  },
  { name: 'a trailing dot on the Host is ignored', host: 'shop.example.', path: '/', want: 'shop' },
  { name: 'the longer prefix wins', host: 'shop.example', path: '/admin/users', want: 'admin' },
  {
    name: '/public/../admin matches the /admin rule',
    host: 'shop.example',
    path: '/public/../admin',
    want: 'admin',
  },
  {
    name: '/public/%2e%2e/admin matches the /admin rule',
    host: 'shop.example',
    path: '/public/%2e%2e/admin',
    want: 'admin',
  },
  { name: '//admin matches the /admin rule', host: 'shop.example', path: '//admin', want: 'admin' },
  {
    name: 'an escaped slash does not become a separator',
    host: 'shop.example',
    path: '/admin%2fx',
    want: 'shop',
  },
  {
    name: 'a host default answers paths without a rule',
    host: 'fallback.example',
    path: '/y',
    want: 'fallback',
  },
  { name: 'an Exact rule beats the host default', host: 'fallback.example', path: '/x', want: 'shop' },
] as const;

for (const c of routeCases) {
  test(`routing: ${c.name}`, async () => {
    const res = await request(h.ports.http, { path: c.path, headers: { host: c.host } });
    assert.equal(res.status, 200);
    const echo = res.json<Echo>();
    assert.equal(echo.name, c.want);
    assert.equal(echo.url, c.path, 'the original request target goes upstream unchanged');
    assert.equal(echo.headers['host'], c.host, 'the original Host goes upstream');
  });
}

test('routing: an absolute-form target is matched by its authority and path, and forwarded as sent', async () => {
  const res = await request(h.ports.http, {
    path: 'http://shop.example/admin/x',
    headers: { host: 'other.example' },
  });
  assert.equal(res.status, 200);
  const echo = res.json<Echo>();
  assert.equal(echo.name, 'admin');
  assert.equal(echo.url, 'http://shop.example/admin/x');
});

const refusals = [
  {
    name: 'invalid percent-encoding is 400',
    path: '/a%zz',
    status: 400,
    body: /400 Bad Request — invalid percent-encoding/,
  },
  { name: 'a truncated escape is 400', path: '/a%4', status: 400, body: /400 Bad Request/ },
  { name: 'a path climbing above / is 400', path: '/a/../../etc/passwd', status: 400, body: /climbs above/ },
  { name: 'an escaped climb above / is 400', path: '/%2e%2e/x', status: 400, body: /climbs above/ },
  {
    name: 'no matching route is the built-in 404 naming Portico',
    path: '/nothing',
    host: 'unknown.example',
    status: 404,
    body: /^404 Not Found — no Portico route matches host "unknown.example" path "\/nothing"\n$/,
  },
  {
    name: 'a backend with a problem is 503 stating it',
    path: '/broken',
    status: 503,
    body: /503 Service Unavailable — Portico cannot route to backend default\/gone:80: Service default\/gone not found/,
  },
  {
    name: 'a backend without ready endpoints is 503',
    path: '/empty',
    status: 503,
    body: /no ready endpoints for service default\/empty:80/,
  },
] as const;

for (const c of refusals) {
  test(`built-in answers: ${c.name}`, async () => {
    const host = 'host' in c ? c.host : 'shop.example';
    const res = await request(h.ports.http, { path: c.path, headers: { host } });
    assert.equal(res.status, c.status);
    assert.match(res.text(), c.body);
    assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(res.headers['server'], 'portico');
    assert.match(String(res.headers['x-request-id']), /^[0-9a-f]{32}$/);
    assert.doesNotMatch(res.text(), /\n\s+at /, 'no stack trace');
  });
}

test('responses carry Server: portico and keep the backend Content-Length', async () => {
  const res = await request(h.ports.http, { path: '/big?bytes=12345', headers: { host: 'shop.example' } });
  assert.equal(res.status, 200);
  assert.equal(res.headers['server'], 'portico');
  assert.equal(res.headers['content-length'], '12345');
  assert.equal(res.headers['transfer-encoding'], undefined);
  assert.equal(res.bodyBytes, 12345);
});

test('the backend status code is relayed', async () => {
  const res = await request(h.ports.http, { path: '/status/418', headers: { host: 'shop.example' } });
  assert.equal(res.status, 418);
});

test('HEAD is relayed without a body', async () => {
  const res = await request(h.ports.http, { method: 'HEAD', path: '/x', headers: { host: 'shop.example' } });
  assert.equal(res.status, 200);
  assert.equal(res.bodyBytes, 0);
});

test('an incoming X-Request-ID is kept upstream and on the response', async () => {
  const res = await request(h.ports.http, {
    path: '/',
    headers: { host: 'shop.example', 'x-request-id': 'abc-123' },
  });
  assert.equal(res.headers['x-request-id'], 'abc-123');
  assert.equal(res.json<Echo>().headers['x-request-id'], 'abc-123');
});

test('without X-Request-ID one is generated, sent upstream and returned', async () => {
  const res = await request(h.ports.http, { path: '/', headers: { host: 'shop.example' } });
  const id = String(res.headers['x-request-id']);
  assert.match(id, /^[0-9a-f]{32}$/);
  assert.equal(res.json<Echo>().headers['x-request-id'], id);
});

test('a body with an unusual Content-Type streams through untouched (no 415, no parsing)', async () => {
  const body = '{not json';
  for (const type of ['application/json', 'foo', 'multipart/form-data; boundary=x', '']) {
    const headers: Record<string, string> = { host: 'shop.example' };
    if (type !== '') headers['content-type'] = type;
    const res = await request(h.ports.http, { method: 'POST', path: '/echo', headers, body });
    assert.equal(res.status, 200, type);
    assert.equal(res.json<Echo>().bodyBytes, body.length, type);
  }
});

test('methods beyond the common ones are proxied (PROPFIND, PATCH, DELETE with body)', async () => {
  for (const method of ['PROPFIND', 'PATCH', 'DELETE', 'OPTIONS']) {
    const res = await request(h.ports.http, {
      method,
      path: '/m',
      headers: { host: 'shop.example' },
      body: 'x',
    });
    assert.equal(res.status, 200, method);
    assert.equal(res.json<Echo>().method, method);
  }
});

test('request headers above 32 KiB are answered 431', async () => {
  const res = await request(h.ports.http, {
    path: '/',
    headers: { host: 'shop.example', 'x-big': 'a'.repeat(40 * 1024) },
  });
  assert.equal(res.status, 431);
});

test('request headers just under the limit pass', async () => {
  const res = await request(h.ports.http, {
    path: '/',
    headers: { host: 'shop.example', 'x-big': 'a'.repeat(24 * 1024) },
  });
  assert.equal(res.status, 200);
});

test('two Host headers are refused with 400', async () => {
  const raw = await new Promise<string>((resolve, reject) => {
    const socket = connect(h.ports.http, '127.0.0.1');
    let data = '';
    socket.on('data', (d) => {
      data += d.toString('latin1');
    });
    socket.on('end', () => resolve(data));
    socket.on('close', () => resolve(data));
    socket.on('error', reject);
    socket.write('GET / HTTP/1.1\r\nHost: shop.example\r\nHost: evil.example\r\nConnection: close\r\n\r\n');
  });
  assert.match(raw, /^HTTP\/1\.1 400 /);
  assert.match(raw, /more than one Host header/);
});

test('a keep-alive connection serves several requests', async () => {
  const raw = await new Promise<string>((resolve, reject) => {
    const socket = connect(h.ports.http, '127.0.0.1');
    let data = '';
    socket.on('data', (d) => {
      data += d.toString('latin1');
      if ((data.match(/HTTP\/1\.1 200/g) ?? []).length === 2 && data.endsWith('}')) socket.end();
    });
    socket.on('close', () => resolve(data));
    socket.on('error', reject);
    socket.write(
      'GET /one HTTP/1.1\r\nHost: shop.example\r\n\r\nGET /two HTTP/1.1\r\nHost: shop.example\r\n\r\n',
    );
    setTimeout(() => socket.destroy(), 10_000).unref();
  });
  assert.match(raw, /"url":"\/one"/);
  assert.match(raw, /"url":"\/two"/);
});

test('non-ASCII (latin1) header bytes pass through unchanged', async () => {
  const res = await request(h.ports.http, {
    path: '/',
    headers: { host: 'shop.example', 'x-latin': 'caf\u00e9' },
  });
  assert.equal(res.json<Echo>().headers['x-latin'], 'caf\u00e9');
});

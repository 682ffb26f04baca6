import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type Backend, type Echo, startBackend } from '../../support/backends.js';
import { backendRef, endpointsOf, snapshotOf } from '../../support/fake-snapshot.js';
import { request } from '../../support/http.js';
import { type Harness, startDataPlane } from './harness.js';

let backend: Backend;
let h: Harness;

before(async () => {
  backend = await startBackend({ name: 'app' });
  h = await startDataPlane({
    // 127.0.0.2 plays a load balancer in front of Portico; 127.0.0.3 is anybody.
    trustedProxies: ['127.0.0.2/32'],
    routes: snapshotOf([{ host: 'app.test', path: '/', backend: backendRef('app') }]),
    endpoints: endpointsOf({ 'default/app:80': [backend] }),
  });
});

after(async () => {
  await h.close();
  await backend.close();
});

const spoofed = {
  host: 'app.test',
  'x-forwarded-for': '6.6.6.6',
  'x-real-ip': '6.6.6.6',
  'x-forwarded-proto': 'https',
  'x-forwarded-host': 'evil.test',
  'x-forwarded-port': '443',
  forwarded: 'for=6.6.6.6;proto=https',
  'ssl-client-verify': 'SUCCESS',
  'ssl-client-subject-dn': 'CN=admin',
};

test('from an untrusted peer every forwarding header is overwritten and Forwarded/ssl-client-* removed', async () => {
  const res = await request(h.ports.http, { localAddress: '127.0.0.3', path: '/', headers: spoofed });
  const seen = res.json<Echo>().headers;
  assert.equal(seen['x-forwarded-for'], '127.0.0.3');
  assert.equal(seen['x-real-ip'], '127.0.0.3');
  assert.equal(seen['x-forwarded-proto'], 'http');
  assert.equal(seen['x-forwarded-host'], 'app.test');
  assert.equal(seen['x-forwarded-port'], String(h.ports.http));
  assert.equal(seen['forwarded'], undefined);
  assert.equal(seen['ssl-client-verify'], undefined);
  assert.equal(seen['ssl-client-subject-dn'], undefined);
});

test('from a trusted peer the peer is appended to X-Forwarded-For and the rest is kept, except ssl-client-*', async () => {
  const res = await request(h.ports.http, { localAddress: '127.0.0.2', path: '/', headers: spoofed });
  const seen = res.json<Echo>().headers;
  assert.equal(seen['x-forwarded-for'], '6.6.6.6, 127.0.0.2');
  assert.equal(seen['x-real-ip'], '6.6.6.6');
  assert.equal(seen['x-forwarded-proto'], 'https');
  assert.equal(seen['x-forwarded-host'], 'evil.test');
  assert.equal(seen['x-forwarded-port'], '443');
  assert.equal(seen['forwarded'], 'for=6.6.6.6;proto=https');
  // Only Portico's own client-certificate check speaks about the client certificate.
  assert.equal(seen['ssl-client-verify'], undefined);
  assert.equal(seen['ssl-client-subject-dn'], undefined);
});

test('from a trusted peer without forwarding headers Portico sets them', async () => {
  const res = await request(h.ports.http, {
    localAddress: '127.0.0.2',
    path: '/',
    headers: { host: 'app.test' },
  });
  const seen = res.json<Echo>().headers;
  assert.equal(seen['x-forwarded-for'], '127.0.0.2');
  assert.equal(seen['x-real-ip'], '127.0.0.2');
  assert.equal(seen['x-forwarded-proto'], 'http');
  assert.equal(seen['x-forwarded-host'], 'app.test');
});

test('hop-by-hop request headers never reach the backend', async () => {
  const res = await request(h.ports.http, {
    localAddress: '127.0.0.3',
    path: '/',
    headers: {
      host: 'app.test',
      connection: 'keep-alive, x-private',
      'x-private': 'secret',
      'keep-alive': 'timeout=5',
      'proxy-connection': 'keep-alive',
      te: 'trailers',
      'proxy-authorization': 'Basic Zm9vOmJhcg==',
      authorization: 'Bearer end-to-end',
    },
  });
  const seen = res.json<Echo>().headers;
  for (const name of ['x-private', 'keep-alive', 'proxy-connection', 'te', 'proxy-authorization']) {
    assert.equal(seen[name], undefined, name);
  }
  assert.equal(seen['authorization'], 'Bearer end-to-end');
});

import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { type Backend, type Echo, startBackend } from '../../support/backends.js';
import { backendRef, endpointsOf, snapshotOf } from '../../support/fake-snapshot.js';
import { request } from '../../support/http.js';
import { type Harness, startDataPlane } from './harness.js';

let backend: Backend;
let v6: Backend | undefined;
let h: Harness;

before(async () => {
  backend = await startBackend({ name: 'v4' });
  try {
    v6 = await startBackend({ name: 'v6', host: '::1' });
  } catch {
    v6 = undefined; // no IPv6 loopback on this machine
  }
  const external = {
    ...backendRef('ext'),
    target: { kind: 'external-name', hostname: 'localhost', port: backend.port },
  } as const;
  h = await startDataPlane({
    client: { headerTimeoutMs: 400, keepAliveTimeoutMs: 400 },
    routes: snapshotOf([
      { host: 'app.test', path: '/', backend: backendRef('app') },
      { host: 'v6.test', path: '/', backend: backendRef('v6') },
      { host: 'ext.test', path: '/', backend: external },
    ]),
    endpoints: endpointsOf({ 'default/app:80': [backend] }),
  });
  if (v6 !== undefined) {
    h.dp.publishEndpoints(
      new Map([
        ['default/app:80', [{ address: backend.host, port: backend.port, kind: 'ip' as const }]],
        ['default/v6:80', [{ address: '::1', port: v6.port, kind: 'ip' as const }]],
      ]),
    );
  }
});

after(async () => {
  await h.close();
  await backend.close();
  await v6?.close();
});

function rawExchange(
  write: (socket: ReturnType<typeof connect>) => void,
): Promise<{ data: string; ms: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = connect(h.ports.http, '127.0.0.1');
    let data = '';
    socket.on('data', (d) => {
      data += d.toString('latin1');
    });
    socket.on('close', () => resolve({ data, ms: Date.now() - started }));
    socket.on('error', () => undefined);
    write(socket);
    setTimeout(() => socket.destroy(), 10_000).unref();
  });
}

test('a client that never finishes its headers gets 408 after the header timeout', async () => {
  const { data, ms } = await rawExchange((socket) =>
    socket.write('GET / HTTP/1.1\r\nHost: app.test\r\nX-Slow: '),
  );
  assert.match(data, /^HTTP\/1\.1 408 /);
  assert.ok(ms >= 350, `closed after ${ms} ms`);
});

test('an idle keep-alive connection is closed after the keep-alive timeout', async () => {
  const { data, ms } = await rawExchange((socket) =>
    socket.write('GET /ka HTTP/1.1\r\nHost: app.test\r\n\r\n'),
  );
  assert.match(data, /^HTTP\/1\.1 200 /);
  assert.match(data, /Connection: keep-alive/i);
  assert.ok(ms >= 350 && ms < 5_000, `closed after ${ms} ms`);
});

test('an IPv6 endpoint is reached through http://[::1]:port', async (t) => {
  if (v6 === undefined) {
    t.skip('no IPv6 loopback');
    return;
  }
  const res = await request(h.ports.http, { path: '/', headers: { host: 'v6.test' } });
  assert.equal(res.status, 200);
  assert.equal(res.json<Echo>().name, 'v6');
});

test('an ExternalName backend is reached by DNS name without an endpoint-table entry', async () => {
  const res = await request(h.ports.http, { path: '/', headers: { host: 'ext.test' } });
  assert.equal(res.status, 200);
  assert.equal(res.json<Echo>().headers['host'], 'ext.test');
});

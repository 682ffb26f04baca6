/** A connect timeout towards a host that drops SYNs (test/support/never-accepts.ts) answers 504. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { backendRef, endpointsOf, snapshotOf } from '../../support/fake-snapshot.js';
import { request } from '../../support/http.js';
import { type SilentListener, startNeverAcceptingListener } from '../../support/never-accepts.js';
import { type Harness, startDataPlane, warnings } from './harness.js';

const HOST = '127.0.0.7';

let listener: SilentListener;
let h: Harness;

before(async () => {
  listener = await startNeverAcceptingListener(HOST);
  h = await startDataPlane({
    upstream: { connectTimeoutMs: 300, maxTries: 1 },
    routes: snapshotOf([{ host: 'slow-connect.test', path: '/', backend: backendRef('slow') }]),
    endpoints: endpointsOf({ 'default/slow:80': [{ host: HOST, port: listener.port }] }),
  });
});

after(async () => {
  await h.close();
  listener.close();
});

test('a connect timeout towards the only endpoint answers 504 and is logged with its error code', async () => {
  const started = Date.now();
  const res = await request(h.ports.http, { path: '/', headers: { host: 'slow-connect.test' } });
  const elapsed = Date.now() - started;
  assert.equal(res.status, 504);
  assert.ok(elapsed >= 250, `answered after ${elapsed} ms, before the 300 ms connect timeout`);
  assert.ok(elapsed < 5_000, `answered after ${elapsed} ms: the connect timeout did not fire`);
  const logged = warnings(h.logs).filter((l) => JSON.stringify(l).includes('CONNECT_TIMEOUT'));
  assert.ok(logged.length >= 1, 'the failure is logged once with its code');
});

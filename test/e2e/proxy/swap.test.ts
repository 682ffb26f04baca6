import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { type Backend, type Echo, startBackend } from '../../support/backends.js';
import { backendRef, endpointsOf, snapshotOf } from '../../support/fake-snapshot.js';
import { request } from '../../support/http.js';
import { type Harness, startDataPlane } from './harness.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

let a: Backend;
let b: Backend;
let h: Harness;

const toA = () => endpointsOf({ 'default/a:80': [a], 'default/b:80': [b] });

before(async () => {
  a = await startBackend({ name: 'a', host: '127.0.0.2' });
  b = await startBackend({ name: 'b', host: '127.0.0.3' });
  h = await startDataPlane({
    routes: snapshotOf([{ host: 'swap.test', path: '/', backend: backendRef('a') }], { generation: 1 }),
    endpoints: toA(),
  });
});

after(async () => {
  await h.close();
  await Promise.all([a.close(), b.close()]);
});

async function waitFor(what: string, check: () => boolean): Promise<void> {
  // Bounded: 400 × 25 ms.
  for (let i = 0; i < 400; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`timed out waiting for ${what}`);
}

test('a request in flight keeps the snapshot it began with; the next one uses the new snapshot', async () => {
  const slow = request(h.ports.http, { path: '/slow?ms=600', headers: { host: 'swap.test' } });
  await waitFor('the slow request to reach backend a', () => a.requests() > 0);
  h.dp.publishRoutes(
    snapshotOf([{ host: 'swap.test', path: '/', backend: backendRef('b') }], { generation: 2 }),
  );
  const fresh = await request(h.ports.http, { path: '/', headers: { host: 'swap.test' } });
  assert.equal(fresh.json<Echo>().name, 'b');
  const old = await slow;
  assert.equal(old.status, 200);
  assert.equal(old.json<Echo>().name, 'a');
});

test('an endpoint removed while a request runs on it drains: the request finishes, then the pool closes', async () => {
  h.dp.publishRoutes(
    snapshotOf([{ host: 'swap.test', path: '/', backend: backendRef('a') }], { generation: 3 }),
  );
  const before = a.requests();
  const slow = request(h.ports.http, { path: '/slow?ms=600', headers: { host: 'swap.test' } });
  await waitFor('the slow request to reach backend a', () => a.requests() > before);
  h.dp.publishEndpoints(endpointsOf({ 'default/a:80': [b], 'default/b:80': [b] }));
  assert.equal(h.dp.stats().closing, 1, 'the removed pool is draining');
  const res = await slow;
  assert.equal(res.status, 200);
  assert.equal(res.json<Echo>().name, 'a');
  await waitFor('the drained pool to close', () => h.dp.stats().closing === 0);
  await waitFor('backend a connections to close', () => a.connections() === 0);
  h.dp.publishEndpoints(toA());
});

test('1,000 route and endpoint swaps under live traffic leak no pools, sockets or memory', async () => {
  const host = { host: 'swap.test' };
  let stop = false;
  const statuses = new Map<number, number>();
  // Four clients of live traffic, each bounded by the stop flag.
  const traffic = Array.from({ length: 4 }, async () => {
    while (!stop) {
      const res = await request(h.ports.http, { path: '/t', headers: host });
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    }
  });
  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  const handlesBefore = process.getActiveResourcesInfo().length;

  for (let i = 0; i < 1000; i++) {
    // Alternate the endpoint of backend a between two addresses: every cycle retires one pool
    // and creates another, with requests in flight on both.
    const target = i % 2 === 0 ? b : a;
    h.dp.publishEndpoints(endpointsOf({ 'default/a:80': [target], 'default/b:80': [b] }));
    h.dp.publishRoutes(
      snapshotOf([{ host: 'swap.test', path: '/', backend: backendRef('a') }], { generation: 10 + i }),
    );
    if (i % 10 === 0) await new Promise((r) => setTimeout(r, 1));
    else await new Promise((r) => setImmediate(r));
  }
  stop = true;
  await Promise.all(traffic);
  // End on one live endpoint (b) so every pool of a must be gone.
  h.dp.publishEndpoints(endpointsOf({ 'default/a:80': [b], 'default/b:80': [b] }));

  await waitFor('retired pools to close', () => h.dp.stats().closing === 0);
  assert.equal(h.dp.stats().pools, 1, 'one pool per live endpoint');
  await waitFor('client connections to close', () => h.dp.stats().connections === 0);
  // Backend a's pool was retired; its upstream sockets must be gone. Backend b keeps at most
  // the live pool's keep-alive sockets (one per concurrent client).
  await waitFor('backend a sockets to close', () => a.connections() === 0);
  assert.ok(b.connections() <= 4, `backend b has ${b.connections()} connections`);

  const total = [...statuses.values()].reduce((x, y) => x + y, 0);
  assert.ok(total > 50, `only ${total} requests ran during the swaps`);
  assert.deepEqual([...statuses.keys()], [200], `statuses: ${JSON.stringify([...statuses])}`);

  gc();
  const heapGrowth = process.memoryUsage().heapUsed - heapBefore;
  assert.ok(heapGrowth < 16 * 1024 * 1024, `heap grew by ${(heapGrowth / 1048576).toFixed(1)} MiB`);
  const handlesAfter = process.getActiveResourcesInfo().length;
  assert.ok(handlesAfter <= handlesBefore + 4, `active resources ${handlesBefore} → ${handlesAfter}`);
});

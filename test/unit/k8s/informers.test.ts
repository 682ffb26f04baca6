import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { Informer, type InformerHandler } from '../../../src/k8s/informers.js';
import { silentLogger } from '../../../src/log/logger.js';
import { FakeClock } from '../../../src/util/clock.js';
import { apiError, FakeCollection, type RawObject, settle } from './fake-transport.js';

function svc(name: string, extra: Record<string, unknown> = {}): RawObject {
  return { metadata: { name, namespace: 'default' }, spec: { ports: [{ port: 80 }] }, ...extra };
}

/** A handler that records calls and holds what it was given, like the store would. */
function recorder() {
  const held = new Map<string, string>();
  const calls: string[] = [];
  let lists = 0;
  const handler: InformerHandler = {
    upsert(ref) {
      held.set(`${ref.namespace}/${ref.name}`, ref.resourceVersion);
      calls.push(`upsert ${ref.name}`);
    },
    remove(namespace, name) {
      held.delete(`${namespace}/${name}`);
      calls.push(`remove ${name}`);
    },
    listed() {
      lists++;
    },
  };
  return { handler, held, calls, lists: () => lists };
}

function setup(options: { pageSize?: number } = {}) {
  const api = new FakeCollection({ kind: 'Service' });
  const rec = recorder();
  const clock = new FakeClock();
  const restarts: string[] = [];
  const informer = new Informer({
    kind: 'Service',
    transport: api,
    handler: rec.handler,
    logger: silentLogger(),
    clock,
    backoff: { random: () => 0, jitter: 0.5 },
    onRestart: (reason) => restarts.push(reason),
    ...(options.pageSize !== undefined ? { pageSize: options.pageSize } : {}),
  });
  return { api, rec, clock, informer, restarts };
}

test('an informer lists, reports synced, then follows the watch', async () => {
  const { api, rec, informer } = setup();
  api.put(svc('a'));
  api.put(svc('b'));
  assert.equal(informer.synced, false);
  informer.start();
  await informer.whenSynced();
  await settle();
  assert.deepEqual([...rec.held.keys()].sort(), ['default/a', 'default/b']);
  assert.equal(api.watchCalls.length, 1, 'watches from the list resourceVersion');
  assert.equal(informer.disconnectedSince, undefined, 'connected once the watch is open');
  api.put(svc('c'));
  api.put(svc('a', { spec: { ports: [{ port: 81 }] } }));
  api.delete('default', 'b');
  assert.deepEqual([...rec.held.keys()].sort(), ['default/a', 'default/c']);
  assert.deepEqual(rec.calls.slice(2), ['upsert c', 'upsert a', 'remove b']);
  informer.stop();
});

test('a paged list is applied only once complete', async () => {
  const { api, rec, informer } = setup({ pageSize: 2 });
  api.pageSize = 2;
  for (const n of ['a', 'b', 'c', 'd', 'e']) api.put(svc(n));
  informer.start();
  await informer.whenSynced();
  assert.equal(api.listCalls.length, 3);
  assert.deepEqual(api.listCalls[1], { continue: '2' });
  assert.equal(rec.held.size, 5);
  informer.stop();
});

test('a repeated MODIFIED with an unchanged resourceVersion is dropped at the door', async () => {
  const { api, rec, informer } = setup();
  const a = api.put(svc('a'));
  informer.start();
  await informer.whenSynced();
  await settle();
  api.emitRaw({ type: 'MODIFIED', object: a });
  assert.deepEqual(rec.calls, ['upsert a']);
  informer.stop();
});

test('410 Gone relists at once and reconciles: objects missing from the new list are removed', async () => {
  const { api, rec, informer, restarts, clock } = setup();
  api.put(svc('keep'));
  api.put(svc('gone'));
  informer.start();
  await informer.whenSynced();
  await settle();
  // Events missed while the watch history was compacted away.
  api.silently((objects) => {
    objects.delete('default/gone');
    objects.set('default/new', { metadata: { name: 'new', namespace: 'default', resourceVersion: '9999' } });
  });
  api.emitRaw({
    type: 'ERROR',
    object: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old' },
  });
  clock.advance(0);
  await settle();
  assert.equal(api.listCalls.length, 2, 'relisted without waiting');
  assert.deepEqual([...rec.held.keys()].sort(), ['default/keep', 'default/new']);
  assert.deepEqual(rec.calls.slice(2), ['remove gone', 'upsert new'], 'unchanged objects are not re-sent');
  assert.deepEqual(restarts, ['gone']);
  assert.equal(rec.lists(), 2);
  assert.equal(api.watchers.size, 1, 'watching again');
  informer.stop();
});

test('errors back off exponentially, capped, and the store keeps its objects meanwhile', async () => {
  const { api, rec, informer, restarts, clock } = setup();
  api.put(svc('a'));
  informer.start();
  await informer.whenSynced();
  await settle();
  // The API server goes away: the watch breaks, then lists are refused.
  api.listFailures = Array.from({ length: 12 }, () =>
    Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
  );
  api.endWatches(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
  const delays: number[] = [];
  for (let i = 0; i < 12; i++) {
    const before = api.listCalls.length;
    let waited = 0;
    while (api.listCalls.length === before && waited < 60_000) {
      clock.advance(50);
      waited += 50;
      await settle(2);
    }
    delays.push(waited);
  }
  // random() = 0 takes no jitter off: 200 ms doubling, capped at 30 s.
  assert.deepEqual(delays, [200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000, 30000, 30000, 30000]);
  assert.equal(restarts.length, 13, 'the broken watch, then every refused list');
  assert.deepEqual([...rec.held.keys()], ['default/a'], 'nothing removed during the outage');
  assert.notEqual(informer.disconnectedSince, undefined);
  // The server is back (listFailures drained): the next list succeeds, the watch reopens.
  clock.advance(30_000);
  await settle();
  assert.equal(informer.disconnectedSince, undefined);
  assert.equal(api.watchers.size, 1);
  informer.stop();
});

test('a watch the server ends normally is reopened from the last resourceVersion without a relist', async () => {
  const { api, informer, clock } = setup();
  api.put(svc('a'));
  informer.start();
  await informer.whenSynced();
  await settle();
  const b = api.put(svc('b'));
  clock.advance(5_000);
  api.endWatches();
  await settle();
  assert.equal(api.listCalls.length, 1);
  assert.deepEqual(api.watchCalls.at(-1), b.metadata.resourceVersion);
  informer.stop();
});

test('a watch that closes immediately, empty, is retried after a backoff, not in a hot loop', async () => {
  const { api, informer, clock } = setup();
  informer.start();
  await informer.whenSynced();
  await settle();
  api.endWatches();
  await settle();
  assert.equal(api.watchCalls.length, 1, 'not reopened at once');
  clock.advance(199);
  await settle();
  assert.equal(api.listCalls.length, 1);
  clock.advance(1);
  await settle();
  assert.equal(api.listCalls.length, 2);
  assert.equal(api.watchCalls.length, 2);
  informer.stop();
});

test('bookmarks advance the resourceVersion used to resume', async () => {
  const { api, informer, clock } = setup();
  informer.start();
  await informer.whenSynced();
  await settle();
  api.emitRaw({ type: 'BOOKMARK', object: { kind: 'Service', metadata: { resourceVersion: '123456' } } });
  clock.advance(2_000);
  api.endWatches();
  await settle();
  assert.equal(api.watchCalls.at(-1), '123456');
  informer.stop();
});

test('a failing first list is retried, and synced waits for it', async () => {
  const { api, informer, clock } = setup();
  api.listFailures = [apiError(503)];
  informer.start();
  await settle();
  assert.equal(informer.synced, false);
  clock.advance(200);
  await settle();
  assert.equal(informer.synced, true);
  informer.stop();
});

test('stop ends the watch and cancels retries', async () => {
  const { api, informer, clock } = setup();
  informer.start();
  await informer.whenSynced();
  await settle();
  api.listFailures = [apiError(500)];
  api.endWatches(apiError(500));
  informer.stop();
  clock.advance(60_000);
  await settle();
  assert.equal(api.listCalls.length, 1);
  assert.equal(clock.pending, 0);
});

test('a watch lost for longer than the threshold is logged as an error once, and the reconnection too', async () => {
  const lines: { level: number; msg: string }[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  const api = new FakeCollection({ kind: 'Ingress' });
  const clock = new FakeClock();
  const informer = new Informer({
    kind: 'Ingress',
    transport: api,
    handler: recorder().handler,
    logger,
    clock,
    backoff: { random: () => 0 },
    disconnectedWarnMs: 10_000,
  });
  informer.start();
  await informer.whenSynced();
  await settle();
  clock.advance(5_000);
  api.listFailures = Array.from({ length: 20 }, () => apiError(503));
  api.endWatches(apiError(500));
  for (let t = 0; t < 12_000; t += 100) {
    clock.advance(100);
    await settle(2);
  }
  const errors = lines.filter((l) => l.level === 50);
  assert.equal(errors.length, 1);
  assert.match(errors[0]?.msg ?? '', /watch disconnected for more than 10s/);
  api.listFailures = [];
  clock.advance(30_000);
  await settle();
  assert.ok(lines.some((l) => l.msg === 'watch reconnected'));
  informer.stop();
});

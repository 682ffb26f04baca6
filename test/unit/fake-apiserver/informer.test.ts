/**
 * A real client-node informer (`makeInformer` → `ListWatch`) against the fake API server: it sees
 * adds, updates and deletes, re-watches after `dropWatches()`, relists after a 410 from
 * `compact()`, and recovers from `restart()` once restarted as the library's example does.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import {
  CoreV1Api,
  type Informer,
  type KubeConfig,
  makeInformer,
  type V1Service,
} from '@kubernetes/client-node';
import { type FakeApiServer, startFakeApiServer } from '../../support/fake-apiserver/index.js';
import { kubeConfigFor, waitFor } from './helpers.js';

function service(
  name: string,
  port = 80,
): V1Service & { apiVersion: string; kind: string; metadata: { name: string } } {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: 'default' },
    spec: { ports: [{ port }] },
  };
}

interface Seen {
  readonly events: string[];
  readonly errors: unknown[];
}

let server: FakeApiServer;
let kc: KubeConfig;
let informer: Informer<V1Service> | undefined;

beforeEach(async () => {
  server = await startFakeApiServer({ bookmarkIntervalMs: 50 });
  kc = kubeConfigFor(server);
});

afterEach(async () => {
  await informer?.stop();
  informer = undefined;
  await server.close();
});

function startInformer(): Seen {
  const api = kc.makeApiClient(CoreV1Api);
  const seen: Seen = { events: [], errors: [] };
  const inf = makeInformer(kc, '/api/v1/namespaces/default/services', () =>
    api.listNamespacedService({ namespace: 'default' }),
  );
  inf.on('add', (s) => seen.events.push(`add ${s.metadata?.name}`));
  inf.on('update', (s) => seen.events.push(`update ${s.metadata?.name} ${s.spec?.ports?.[0]?.port}`));
  inf.on('delete', (s) => seen.events.push(`delete ${s.metadata?.name}`));
  inf.on('error', (err) => seen.errors.push(err));
  informer = inf;
  return seen;
}

function watchesOf(srv: FakeApiServer): number {
  return srv.requests.filter((r) => r.verb === 'watch' && r.resource === 'services').length;
}

function listsOf(srv: FakeApiServer): number {
  return srv.requests.filter((r) => r.verb === 'list' && r.resource === 'services').length;
}

test('an informer sees add, update and delete', async () => {
  server.create(service('pre'));
  const seen = startInformer();
  await informer?.start();
  await waitFor('initial add', () => seen.events.includes('add pre'));
  await waitFor('watch open', () => watchesOf(server) === 1);
  server.create(service('web'));
  await waitFor('add', () => seen.events.includes('add web'));
  server.update(service('web', 81));
  await waitFor('update', () => seen.events.includes('update web 81'));
  server.delete('v1', 'Service', 'default', 'web');
  await waitFor('delete', () => seen.events.includes('delete web'));
  assert.deepEqual(seen.events, ['add pre', 'add web', 'update web 81', 'delete web']);
  assert.deepEqual(seen.errors, []);
});

test('after dropWatches() the informer re-watches from its resourceVersion and keeps up', async () => {
  const seen = startInformer();
  await informer?.start();
  await waitFor('watch open', () => watchesOf(server) === 1);
  server.dropWatches();
  await waitFor('re-watch', () => watchesOf(server) === 2);
  server.create(service('after-drop'));
  await waitFor('add after drop', () => seen.events.includes('add after-drop'));
  assert.equal(listsOf(server), 1, 'a clean end of the watch does not relist');
  const rewatch = server.requests.filter((r) => r.verb === 'watch').at(-1);
  assert.match(rewatch?.query['resourceVersion'] ?? '', /^\d+$/);
});

test('after compact() + dropWatches() the watch gets a 410 ERROR and the informer relists', async () => {
  const seen = startInformer();
  await informer?.start();
  await waitFor('watch open', () => watchesOf(server) === 1);
  // All synchronous: the informer's re-watch can only be sent after the write and the compaction,
  // so it asks for a resourceVersion that is gone.
  server.dropWatches();
  server.create(service('during-gap'));
  server.compact();
  await waitFor('relist', () => listsOf(server) === 2);
  await waitFor('add during gap', () => seen.events.includes('add during-gap'));
  // ListWatch opens the next watch after it has processed the relist, asynchronously.
  await waitFor('watch after the relist', () => watchesOf(server) >= 3);
  const watches = server.requests.filter((r) => r.verb === 'watch');
  assert.equal(watches.length, 3, 'initial watch, the 410 watch, and the one after the relist');
  assert.equal(watches[2]?.query['resourceVersion'], server.resourceVersion);
  assert.deepEqual(seen.errors, [], 'a 410 is handled inside ListWatch, not reported');
});

test('a watch from a compacted resourceVersion answers an ERROR event with a 410 Status, then ends', async () => {
  server.create(service('x'));
  server.compact();
  const res = await fetch(`${server.url}/api/v1/namespaces/default/services?watch=1&resourceVersion=1`, {
    headers: { authorization: 'Bearer fake-token' },
  });
  assert.equal(res.status, 200);
  const lines = (await res.text()).trim().split('\n');
  assert.equal(lines.length, 1);
  const event = JSON.parse(lines[0] ?? '') as {
    type: string;
    object: { code: number; reason: string; kind: string };
  };
  assert.equal(event.type, 'ERROR');
  assert.equal(event.object.kind, 'Status');
  assert.equal(event.object.code, 410);
  assert.equal(event.object.reason, 'Expired');
});

test('a bookmark-enabled watch receives BOOKMARK events', async () => {
  const res = await fetch(
    `${server.url}/api/v1/namespaces/default/services?watch=true&allowWatchBookmarks=true`,
    {
      headers: { authorization: 'Bearer fake-token' },
    },
  );
  assert.equal(res.status, 200);
  const reader = res.body?.getReader();
  assert.ok(reader);
  let text = '';
  const deadline = Date.now() + 3000;
  while (!text.includes('BOOKMARK') && Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    text += Buffer.from(value).toString('utf8');
  }
  await reader.cancel();
  const line = text.split('\n').find((l) => l.includes('BOOKMARK')) ?? '';
  const event = JSON.parse(line) as {
    type: string;
    object: { kind: string; metadata: Record<string, unknown> };
  };
  assert.equal(event.object.kind, 'Service');
  assert.deepEqual(Object.keys(event.object.metadata), ['resourceVersion']);
});

test('after restart() the informer reports an error and recovers when started again', async () => {
  const seen = startInformer();
  await informer?.start();
  await waitFor('watch open', () => watchesOf(server) === 1);
  const url = server.url;
  await server.restart();
  assert.equal(server.url, url, 'same port');
  await waitFor('error reported', () => seen.errors.length > 0);
  server.create(service('after-restart'));
  await informer?.start();
  await waitFor('add after restart', () => seen.events.includes('add after-restart'));
});

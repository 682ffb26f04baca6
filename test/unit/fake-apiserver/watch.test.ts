/**
 * Watch semantics over raw HTTP and client-node's `Watch`: selector transitions, namespace
 * scoping, initial events, replay, timeouts, many concurrent streams and their cleanup, TLS.
 */
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { CoreV1Api, Watch } from '@kubernetes/client-node';
import { type FakeApiServer, startFakeApiServer } from '../../support/fake-apiserver/index.js';
import { kubeConfigFor, waitFor } from './helpers.js';

interface WatchEvent {
  readonly type: string;
  readonly object: {
    metadata?: { name?: string; resourceVersion?: string; annotations?: Record<string, string> };
  };
}

interface OpenWatch {
  readonly events: WatchEvent[];
  readonly ended: () => boolean;
  close(): void;
}

async function openWatch(server: FakeApiServer, path: string): Promise<OpenWatch> {
  const controller = new AbortController();
  const res = await fetch(`${server.url}${path}`, {
    headers: { authorization: 'Bearer fake-token' },
    signal: controller.signal,
  });
  assert.equal(res.status, 200);
  const events: WatchEvent[] = [];
  let ended = false;
  const reader = res.body?.getReader();
  assert.ok(reader);
  void (async () => {
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += Buffer.from(value).toString('utf8');
        let nl = buffer.indexOf('\n');
        while (nl >= 0) {
          events.push(JSON.parse(buffer.slice(0, nl)) as WatchEvent);
          buffer = buffer.slice(nl + 1);
          nl = buffer.indexOf('\n');
        }
      }
    } catch {
      // aborted by close()
    }
    ended = true;
  })();
  return { events, ended: () => ended, close: () => controller.abort() };
}

function summary(events: readonly WatchEvent[]): string[] {
  return events.filter((e) => e.type !== 'BOOKMARK').map((e) => `${e.type} ${e.object.metadata?.name}`);
}

function cm(name: string, labels: Record<string, string>, namespace = 'default') {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace, labels } };
}

let server: FakeApiServer | undefined;
const watches: OpenWatch[] = [];

afterEach(async () => {
  for (const w of watches.splice(0)) w.close();
  await server?.close();
  server = undefined;
});

test('label selector transitions: starting to match is ADDED, stopping is DELETED', async () => {
  server = await startFakeApiServer();
  const srv = server;
  const w = await openWatch(
    srv,
    `/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${srv.resourceVersion}&labelSelector=app%3Dweb`,
  );
  watches.push(w);
  srv.create(cm('a', { app: 'other' }));
  srv.update(cm('a', { app: 'web' }));
  srv.update(cm('a', { app: 'web', v: '2' }));
  srv.update(cm('a', { app: 'other' }));
  srv.create(cm('b', { app: 'web' }));
  srv.delete('v1', 'ConfigMap', 'default', 'b');
  await waitFor('events', () => w.events.length >= 5);
  assert.deepEqual(summary(w.events), ['ADDED a', 'MODIFIED a', 'DELETED a', 'ADDED b', 'DELETED b']);
  const deletedA = w.events[2];
  assert.equal(
    deletedA?.object.metadata?.resourceVersion,
    String(Number(w.events[1]?.object.metadata?.resourceVersion) + 1),
  );
});

test('a namespaced watch sees only its namespace; an all-namespaces watch sees everything', async () => {
  server = await startFakeApiServer();
  const srv = server;
  srv.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } });
  const ns = await openWatch(
    srv,
    `/api/v1/namespaces/shop/configmaps?watch=1&resourceVersion=${srv.resourceVersion}`,
  );
  const all = await openWatch(srv, `/api/v1/configmaps?watch=1&resourceVersion=${srv.resourceVersion}`);
  watches.push(ns, all);
  srv.create(cm('x', {}, 'default'));
  srv.create(cm('y', {}, 'shop'));
  await waitFor('all', () => all.events.length >= 2);
  await waitFor('ns', () => ns.events.length >= 1);
  assert.deepEqual(summary(ns.events), ['ADDED y']);
  assert.deepEqual(summary(all.events), ['ADDED x', 'ADDED y']);
});

test('without resourceVersion a watch starts with the current objects as ADDED; with one it replays history', async () => {
  server = await startFakeApiServer();
  const srv = server;
  srv.create(cm('one', {}));
  const mark = srv.resourceVersion;
  srv.create(cm('two', {}));
  srv.update(cm('two', { v: '2' }));
  const fresh = await openWatch(srv, '/api/v1/namespaces/default/configmaps?watch=true');
  const replay = await openWatch(
    srv,
    `/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${mark}`,
  );
  watches.push(fresh, replay);
  await waitFor('fresh', () => fresh.events.length >= 2);
  await waitFor('replay', () => replay.events.length >= 2);
  assert.deepEqual(summary(fresh.events), ['ADDED one', 'ADDED two']);
  assert.deepEqual(summary(replay.events), ['ADDED two', 'MODIFIED two']);
});

test('sendInitialEvents ends the initial state with an annotated BOOKMARK', async () => {
  server = await startFakeApiServer({ bookmarkIntervalMs: 60_000 });
  const srv = server;
  srv.create(cm('one', {}));
  const w = await openWatch(
    srv,
    '/api/v1/namespaces/default/configmaps?watch=true&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan',
  );
  watches.push(w);
  await waitFor('bookmark', () => w.events.some((e) => e.type === 'BOOKMARK'));
  assert.equal(w.events[0]?.type, 'ADDED');
  assert.equal(w.events[1]?.object.metadata?.annotations?.['k8s.io/initial-events-end'], 'true');
  assert.equal(w.events[1]?.object.metadata?.resourceVersion, srv.resourceVersion);
});

test('timeoutSeconds ends the stream', async () => {
  server = await startFakeApiServer();
  const w = await openWatch(server, '/api/v1/configmaps?watch=true&timeoutSeconds=1');
  watches.push(w);
  await waitFor('end', () => w.ended(), 3000);
  assert.equal(server.openWatches, 0);
});

test('many concurrent watches all get events and are cleaned up when clients disconnect', async () => {
  server = await startFakeApiServer();
  const srv = server;
  const many = await Promise.all(
    Array.from({ length: 60 }, () =>
      openWatch(srv, `/api/v1/configmaps?watch=true&resourceVersion=${srv.resourceVersion}`),
    ),
  );
  watches.push(...many);
  assert.equal(srv.openWatches, 60);
  srv.create(cm('fanout', {}));
  await waitFor('fan-out', () => many.every((w) => w.events.length === 1));
  for (const w of many) w.close();
  await waitFor('cleanup', () => srv.openWatches === 0);
});

test('client-node Watch over TLS, including dropWatches()', async () => {
  server = await startFakeApiServer({ tls: true });
  const srv = server;
  assert.match(srv.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const kc = kubeConfigFor(srv);
  const api = kc.makeApiClient(CoreV1Api);
  const list = await api.listNamespacedConfigMap({ namespace: 'default' });
  const seen: string[] = [];
  let done = false;
  const watch = new Watch(kc);
  const req = await watch.watch(
    '/api/v1/namespaces/default/configmaps',
    { resourceVersion: list.metadata?.resourceVersion ?? '' },
    (type, obj: { metadata?: { name?: string } }) => seen.push(`${type} ${obj.metadata?.name}`),
    () => {
      done = true;
    },
  );
  await waitFor('watch open', () => srv.openWatches === 1);
  await api.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'secure' } } });
  await waitFor('event', () => seen.length === 1);
  assert.deepEqual(seen, ['ADDED secure']);
  srv.dropWatches();
  await waitFor('done', () => done);
  req.abort();
});

test('requests without the bearer token are 401 Unauthorized', async () => {
  server = await startFakeApiServer();
  const res = await fetch(`${server.url}/api/v1/namespaces`);
  assert.equal(res.status, 401);
  const body = (await res.json()) as { reason: string };
  assert.equal(body.reason, 'Unauthorized');
});

test('discovery documents list the served resources', async () => {
  server = await startFakeApiServer();
  const get = async (path: string): Promise<Record<string, unknown>> => {
    const res = await fetch(`${server?.url}${path}`, { headers: { authorization: 'Bearer fake-token' } });
    assert.equal(res.status, 200, path);
    return (await res.json()) as Record<string, unknown>;
  };
  const core = await get('/api/v1');
  const names = (core['resources'] as { name: string }[]).map((r) => r.name);
  assert.ok(names.includes('services') && names.includes('services/status') && names.includes('events'));
  const groups = await get('/apis');
  assert.deepEqual((groups['groups'] as { name: string }[]).map((g) => g.name).sort(), [
    'coordination.k8s.io',
    'discovery.k8s.io',
    'events.k8s.io',
    'networking.k8s.io',
    'portico.dev',
  ]);
  const version = await get('/version');
  assert.equal(version['major'], '1');
});

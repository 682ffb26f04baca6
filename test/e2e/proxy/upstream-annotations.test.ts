/**
 * The `upstream` annotation family end to end: Ingress manifests go through translate, compile and
 * the endpoint table into a real data plane with real backends (ingress-nginx's
 * test/e2e/annotations/{proxy,upstreamvhost,serviceupstream}.go behaviours, checked on the wire).
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { compileSnapshot } from '../../../src/compile/snapshot.js';
import { buildEndpointTable, collectBackends } from '../../../src/endpoints/slices.js';
import type { KubeObject, Service } from '../../../src/model/objects.js';
import { translate } from '../../../src/model/translate/translate.js';
import { type Backend, type Echo, startBackend } from '../../support/backends.js';
import {
  endpointSlice,
  ingress,
  ingressClass,
  inputFrom,
  service,
  slicesOf,
  svc,
  TEST_OPTIONS,
} from '../../support/builders.js';
import { request } from '../../support/http.js';
import { type SilentListener, startNeverAcceptingListener } from '../../support/never-accepts.js';
import { type Harness, startDataPlane } from './harness.js';

const N = 'nginx.ingress.kubernetes.io/';
const P = 'portico.dev/';
const CLUSTER_IP = '127.0.0.13';
const DEAD_HOST = '127.0.0.17';

let slow: Backend;
let good: Backend;
let clusterIpBackend: Backend;
let podBackend: Backend;
let failing: Server;
let failingPort = 0;
let failingHits = 0;
let dead: SilentListener;
let h: Harness;

/** A Service whose one port points at `port`, with an EndpointSlice listing `addresses` on it. */
function serviceAt(
  name: string,
  port: number,
  addresses: readonly string[],
  clusterIp?: string,
): KubeObject[] {
  const built = service(name).port(port, undefined, port).build();
  const withIp: Service =
    clusterIp === undefined ? built : { ...built, spec: { ...built.spec, clusterIP: clusterIp } };
  return [
    withIp,
    endpointSlice(`${name}-1`)
      .forService(name)
      .port('', port)
      .ready(...addresses)
      .build(),
  ];
}

function route(
  name: string,
  host: string,
  backend: string,
  port: number,
  annotations: Record<string, string>,
) {
  const b = ingress(name).cls('portico').host(host).prefix('/', svc(backend, port));
  for (const [k, v] of Object.entries(annotations)) b.annotate(k, v);
  return b.build();
}

before(async () => {
  slow = await startBackend({ name: 'slow' });
  good = await startBackend({ name: 'good', host: '127.0.0.2' });
  clusterIpBackend = await startBackend({ name: 'cluster-ip', host: CLUSTER_IP });
  podBackend = await startBackend({ name: 'pod', port: clusterIpBackend.port });
  dead = await startNeverAcceptingListener(DEAD_HOST);
  // An endpoint that always answers 502, on the same port as `good` so both are one Service's pods.
  failing = createServer((req, res) => {
    failingHits++;
    req.resume();
    res.writeHead(502, { 'content-type': 'text/plain' }).end('bad gateway from the failing pod\n');
  });
  await new Promise<void>((resolve) => failing.listen(good.port, '127.0.0.1', resolve));
  failingPort = (failing.address() as AddressInfo).port;
  assert.equal(failingPort, good.port);

  const objects: KubeObject[] = [
    ingressClass('portico').build(),
    ...serviceAt('slow', slow.port, ['127.0.0.1']),
    ...serviceAt('flaky', good.port, ['127.0.0.1', '127.0.0.2']),
    ...serviceAt('dead', dead.port, [DEAD_HOST]),
    // 127.0.0.3 has nothing on that port: connections to it are refused.
    ...serviceAt('half', good.port, ['127.0.0.2', '127.0.0.3']),
    ...serviceAt('web', clusterIpBackend.port, ['127.0.0.1'], CLUSTER_IP),
    route('short-read', 'short.test', 'slow', slow.port, { [`${N}proxy-read-timeout`]: '1' }),
    route('long-read', 'long.test', 'slow', slow.port, { [`${N}proxy-read-timeout`]: '5' }),
    route('body-1k', 'body.test', 'slow', slow.port, { [`${N}proxy-body-size`]: '1k' }),
    route('body-global', 'global-body.test', 'slow', slow.port, {}),
    route('body-unlimited', 'unlimited.test', 'slow', slow.port, { [`${P}proxy-body-size`]: '0' }),
    route('retry-502', 'retry.test', 'flaky', good.port, {
      [`${N}proxy-next-upstream`]: 'error timeout http_502',
      [`${N}proxy-next-upstream-tries`]: '2',
    }),
    route('no-retry', 'plain.test', 'flaky', good.port, {}),
    route('half-default', 'half.test', 'half', good.port, {}),
    route('half-off', 'half-off.test', 'half', good.port, { [`${N}proxy-next-upstream`]: 'off' }),
    route('half-timeout-only', 'half-timeout.test', 'half', good.port, {
      [`${N}proxy-next-upstream`]: 'timeout',
    }),
    route('vhost', 'vhost.test', 'slow', slow.port, { [`${N}upstream-vhost`]: 'internal.example:8080' }),
    route('via-cluster-ip', 'cluster.test', 'web', clusterIpBackend.port, {
      [`${N}service-upstream`]: 'true',
    }),
    route('via-endpoints', 'pods.test', 'web', clusterIpBackend.port, {}),
    route('connect-short', 'connect-short.test', 'dead', dead.port, {}),
    route('connect-long', 'connect-long.test', 'dead', dead.port, { [`${N}proxy-connect-timeout`]: '2' }),
  ];
  const model = translate(inputFrom(objects), TEST_OPTIONS);
  assert.deepEqual(
    model.ingresses.filter((r) => r.state !== 'served'),
    [],
    'every test Ingress is served',
  );
  h = await startDataPlane({
    // Global settings: a short connect timeout and a 4 KiB body limit, so both directions of the
    // per-route overrides show.
    upstream: { connectTimeoutMs: 300, maxTries: 3, maxBodyBytes: 4 * 1024 },
    routes: compileSnapshot(model, 1),
    endpoints: buildEndpointTable(slicesOf(objects), collectBackends(model)),
  });
});

after(async () => {
  await h?.close();
  await Promise.all([slow, good, clusterIpBackend, podBackend].map((b) => b?.close()));
  await new Promise<void>((resolve) => (failing ? failing.close(() => resolve()) : resolve()));
  failing?.closeAllConnections();
  dead?.close();
});

/** A chunked body: `chunks` chunks of `size` bytes, `gapMs` apart (bounded: a handful of chunks). */
function chunked(chunks: number, size: number, gapMs: number): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent === chunks) {
        this.push(null);
        return;
      }
      sent++;
      const chunk = Buffer.alloc(size, 0x61);
      if (sent === 1) this.push(chunk);
      else setTimeout(() => this.push(chunk), gapMs);
    },
  });
}

describe('per-route timeouts (proxy-read-timeout, proxy-connect-timeout)', () => {
  test('a backend slower than the route read timeout answers 504 after that timeout', async () => {
    const started = Date.now();
    const res = await request(h.ports.http, { path: '/slow?ms=2500', headers: { host: 'short.test' } });
    const elapsed = Date.now() - started;
    assert.equal(res.status, 504);
    assert.ok(elapsed >= 900 && elapsed < 2_400, `504 after ${elapsed} ms, not after the 1 s route timeout`);
  });

  test('the same backend behind a route with a longer read timeout answers 200', async () => {
    const res = await request(h.ports.http, { path: '/slow?ms=2500', headers: { host: 'long.test' } });
    assert.equal(res.status, 200);
    assert.equal(res.json<Echo>().name, 'slow');
  });

  test('a route without proxy-connect-timeout keeps the global 300 ms while another route asks for 2 s', async () => {
    const started = Date.now();
    const res = await request(h.ports.http, { path: '/', headers: { host: 'connect-short.test' } });
    const elapsed = Date.now() - started;
    assert.equal(res.status, 504);
    assert.ok(elapsed >= 250 && elapsed < 1_500, `504 after ${elapsed} ms, not after about 300 ms`);
  });

  test('a route proxy-connect-timeout longer than the global one is honoured (504 after about 2 s)', async () => {
    const started = Date.now();
    const res = await request(h.ports.http, { path: '/', headers: { host: 'connect-long.test' } });
    const elapsed = Date.now() - started;
    assert.equal(res.status, 504);
    assert.ok(elapsed >= 1_800 && elapsed < 5_000, `504 after ${elapsed} ms, not after about 2 s`);
  });
});

describe('proxy-body-size', () => {
  test('a Content-Length above the route limit answers 413 and the backend never sees the request', async () => {
    const before = slow.requests();
    const res = await request(h.ports.http, {
      method: 'POST',
      path: '/upload',
      headers: { host: 'body.test' },
      body: Buffer.alloc(2048, 0x62),
    });
    assert.equal(res.status, 413);
    assert.match(res.text(), /413/);
    assert.equal(slow.requests(), before, 'the backend received no request');
  });

  test('a chunked body crossing the route limit while it streams answers 413; the backend never gets all of it', async () => {
    const abortedBefore = slow.aborted();
    const requestsBefore = slow.requests();
    const res = await request(h.ports.http, {
      method: 'POST',
      path: '/upload',
      headers: { host: 'body.test', 'transfer-encoding': 'chunked' },
      body: chunked(6, 512, 30),
    });
    assert.equal(res.status, 413);
    // The backend saw at most the start of the request, and never answered it.
    assert.ok(slow.requests() - requestsBefore <= 1);
    for (let i = 0; i < 20 && slow.aborted() === abortedBefore && slow.requests() > requestsBefore; i++) {
      await sleep(25);
    }
    if (slow.requests() > requestsBefore) assert.equal(slow.aborted(), abortedBefore + 1);
  });

  test('after a 413 the rest of the body is read and dropped, and the connection serves the next request', async () => {
    const before = slow.requests();
    const socket = connect(h.ports.http, '127.0.0.1');
    const received: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    const head = 'POST /upload HTTP/1.1\r\nhost: body.test\r\ncontent-length: 2048\r\n\r\n';
    socket.write(head + 'x'.repeat(2048) + 'GET /after HTTP/1.1\r\nhost: body.test\r\n\r\n');
    const text = async () => Buffer.concat(received).toString('latin1');
    for (let i = 0; i < 100 && !(await text()).includes('"url":"/after"'); i++) await sleep(20);
    socket.destroy();
    const answer = await text();
    assert.match(answer, /^HTTP\/1\.1 413 /);
    assert.match(answer, /HTTP\/1\.1 200 [\s\S]*"url":"\/after"/);
    assert.equal(slow.requests(), before + 1, 'only the second request reached the backend');
  });

  test('a chunked body under the route limit streams through', async () => {
    const res = await request(h.ports.http, {
      method: 'POST',
      path: '/upload',
      headers: { host: 'body.test', 'transfer-encoding': 'chunked' },
      body: chunked(2, 256, 10),
    });
    assert.equal(res.status, 200);
    assert.equal(res.json<{ bodyBytes: number }>().bodyBytes, 512);
  });

  test('without the annotation the global limit applies (flag / ConfigMap)', async () => {
    const res = await request(h.ports.http, {
      method: 'POST',
      path: '/upload',
      headers: { host: 'global-body.test' },
      body: Buffer.alloc(5_000, 0x63),
    });
    assert.equal(res.status, 413);
  });

  test('"0" lifts the limit for the route', async () => {
    const res = await request(h.ports.http, {
      method: 'POST',
      path: '/upload',
      headers: { host: 'unlimited.test' },
      body: Buffer.alloc(64 * 1024, 0x64),
    });
    assert.equal(res.status, 200);
    assert.equal(res.json<{ bodyBytes: number }>().bodyBytes, 64 * 1024);
  });
});

describe('proxy-next-upstream', () => {
  test('http_502 sends the request to the next endpoint before anything reaches the client', async () => {
    const hitsBefore = failingHits;
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await request(h.ports.http, { path: '/', headers: { host: 'retry.test' } });
      statuses.push(res.status);
      if (res.status === 200) assert.equal(res.json<Echo>().name, 'good');
    }
    assert.deepEqual(statuses, [200, 200, 200, 200]);
    assert.ok(failingHits > hitsBefore, 'round robin sent some first attempts to the failing endpoint');
  });

  test('without the annotation a 502 from an endpoint is relayed as it is', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      statuses.push((await request(h.ports.http, { path: '/', headers: { host: 'plain.test' } })).status);
    }
    assert.ok(statuses.includes(502), `statuses ${statuses.join(',')}`);
    assert.ok(statuses.includes(200), `statuses ${statuses.join(',')}`);
  });

  const statusesOf = async (host: string, n: number): Promise<number[]> => {
    const out: number[] = [];
    for (let i = 0; i < n; i++)
      out.push((await request(h.ports.http, { path: '/', headers: { host } })).status);
    return out;
  };

  test('by default a refused connection goes to the next endpoint', async () => {
    assert.deepEqual(await statusesOf('half.test', 4), [200, 200, 200, 200]);
  });

  test('"off": a refused connection is answered 502, never retried', async () => {
    const statuses = await statusesOf('half-off.test', 4);
    assert.ok(statuses.includes(502) && statuses.includes(200), `statuses ${statuses.join(',')}`);
  });

  test('"timeout" alone: a refused connection (an error, not a timeout) is not retried', async () => {
    const statuses = await statusesOf('half-timeout.test', 4);
    assert.ok(statuses.includes(502) && statuses.includes(200), `statuses ${statuses.join(',')}`);
  });

  test('a request with a body is not retried on a status (nothing is buffered)', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await request(h.ports.http, {
        method: 'PUT',
        path: '/',
        headers: { host: 'retry.test' },
        body: 'payload',
      });
      statuses.push(res.status);
    }
    assert.ok(statuses.includes(502), `statuses ${statuses.join(',')}`);
  });
});

describe('upstream-vhost and service-upstream', () => {
  test('upstream-vhost is the Host the backend sees; X-Forwarded-Host keeps the client host', async () => {
    const res = await request(h.ports.http, { path: '/', headers: { host: 'vhost.test' } });
    assert.equal(res.status, 200);
    const echo = res.json<Echo>();
    assert.equal(echo.headers.host, 'internal.example:8080');
    assert.equal(echo.headers['x-forwarded-host'], 'vhost.test');
  });

  test('service-upstream connects to the ClusterIP, while another Ingress of the same Service port uses its endpoints', async () => {
    const viaIp = await request(h.ports.http, { path: '/', headers: { host: 'cluster.test' } });
    assert.equal(viaIp.status, 200);
    assert.equal(viaIp.json<Echo>().name, 'cluster-ip');
    const viaPods = await request(h.ports.http, { path: '/', headers: { host: 'pods.test' } });
    assert.equal(viaPods.status, 200);
    assert.equal(viaPods.json<Echo>().name, 'pod');
  });
});

test('none of the above logged an error (aborted attempts and 413s are expected, not failures)', () => {
  assert.deepEqual(
    h.logs.filter((l) => l.level >= 50),
    [],
  );
});

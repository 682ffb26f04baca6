/**
 * A route `proxy-connect-timeout` shorter than its pool's: the attempt is abandoned when its own
 * deadline passes, the next endpoint answers, and whatever the abandoned attempt reports later is
 * dropped without touching the request body the next attempt streams.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { type Dispatcher, Pool } from 'undici';
import { DEFAULT_HTTPS_OPTIONS, DEFAULT_UPSTREAM_OPTIONS } from '../../../src/config/types.js';
import { silentLogger } from '../../../src/log/logger.js';
import type { RoutePolicy } from '../../../src/model/types.js';
import { DEFAULT_LIMIT_STATUS } from '../../../src/policy/chain.js';
import { newBalancerState } from '../../../src/proxy/balancer.js';
import { Exchange, type ForwardSettings } from '../../../src/proxy/forward.js';
import type { BackendUpstreams, UpstreamDispatcher } from '../../../src/proxy/upstreams.js';
import { type Backend, type Echo, startBackend } from '../../support/backends.js';
import { request } from '../../support/http.js';

/** A pool whose connection never comes on its own: the test decides when, if ever, it does. */
class HeldPool implements UpstreamDispatcher {
  readonly held: Dispatcher.DispatchHandler[] = [];
  closed = false;
  dispatch(_options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    this.held.push(handler);
    return true;
  }
  async close(): Promise<void> {}
  async destroy(): Promise<void> {}
}

const POLICY: RoutePolicy = { backendProtocol: 'HTTP', upstream: { connectTimeoutMs: 100 } };

let backend: Backend;
let live: Pool;
let held: HeldPool;
let front: Server;
let port: number;

before(async () => {
  backend = await startBackend({ name: 'live' });
  live = new Pool(backend.url);
  held = new HeldPool();
  const endpoint = { address: backend.host, port: backend.port, kind: 'ip' as const };
  const set: BackendUpstreams = {
    backendKey: 'ns/svc:80',
    upstreams: [
      // The pools connect with 5 s; the route asks for 100 ms.
      { key: 'held', origin: 'http://held', endpoint, pool: held, connectTimeoutMs: 5_000 },
      { key: 'live', origin: backend.url, endpoint, pool: live, connectTimeoutMs: 5_000 },
    ],
    balancer: newBalancerState(),
  };
  const settings: ForwardSettings = {
    logger: silentLogger(),
    draining: () => false,
    currentEndpoints: () => set,
  };
  front = createServer((req, res) => {
    new Exchange(
      {
        req,
        res,
        headers: ['host', 'x.test'],
        requestId: 'rid',
        backend: set,
        match: { kind: 'catch-all', policy: POLICY, tlsHost: false },
        settings: {
          upstream: DEFAULT_UPSTREAM_OPTIONS,
          clientBodyIdleMs: 60_000,
          accessLog: false,
          trust: () => false,
          https: DEFAULT_HTTPS_OPTIONS,
          hsts: undefined,
          limitStatus: DEFAULT_LIMIT_STATUS,
        },
      },
      settings,
      0, // the first attempt goes to the held pool
    ).start();
  });
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  port = (front.address() as AddressInfo).port;
});

after(async () => {
  await new Promise<void>((resolve) => front.close(() => resolve()));
  await live.close();
  await backend.close();
});

test('the route connect deadline moves the request to the next endpoint, body included', async () => {
  const started = Date.now();
  const res = await request(port, { method: 'POST', path: '/p', body: 'payload' });
  assert.equal(res.status, 200);
  const echo = res.json<Echo>();
  assert.equal(echo.name, 'live');
  assert.equal(echo.bodyBytes, 7);
  assert.ok(Date.now() - started >= 90, 'the first attempt waited for its deadline');
  assert.equal(held.held.length, 1);
});

test('a connection the abandoned attempt gets later is refused without aborting (which would destroy the body)', () => {
  const late = held.held[0];
  assert.ok(late !== undefined);
  let aborted = 0;
  assert.throws(() => late.onConnect?.(() => aborted++), /attempt abandoned/);
  assert.equal(aborted, 0);
  assert.equal(
    late.onHeaders?.(200, [], () => undefined, 'OK'),
    false,
  );
  late.onError?.(new Error('late failure'));
});

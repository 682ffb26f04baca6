import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { Pool } from 'undici';
import { DEFAULT_HTTPS_OPTIONS, DEFAULT_UPSTREAM_OPTIONS } from '../../../src/config/types.js';
import { silentLogger } from '../../../src/log/logger.js';
import { DEFAULT_ROUTE_POLICY } from '../../../src/model/types.js';
import { DEFAULT_LIMIT_STATUS } from '../../../src/policy/chain.js';
import { newBalancerState } from '../../../src/proxy/balancer.js';
import { Exchange, type ForwardSettings } from '../../../src/proxy/forward.js';
import type { BackendUpstreams } from '../../../src/proxy/upstreams.js';
import { type Backend, type Echo, startBackend } from '../../support/backends.js';
import { request } from '../../support/http.js';

let backend: Backend;
let live: Pool;
let retired: Pool;
let front: Server;
let port: number;

before(async () => {
  backend = await startBackend({ name: 'live' });
  live = new Pool(backend.url);
  retired = new Pool(backend.url);
  await retired.close();
  const endpoint = { address: backend.host, port: backend.port, kind: 'ip' as const };
  const stale: BackendUpstreams = {
    backendKey: 'ns/svc:80',
    upstreams: [{ key: 'stale', origin: backend.url, endpoint, pool: retired }],
    balancer: newBalancerState(),
  };
  const current: BackendUpstreams = {
    backendKey: 'ns/svc:80',
    upstreams: [{ key: 'live', origin: backend.url, endpoint, pool: live }],
    balancer: newBalancerState(),
  };
  const settings: ForwardSettings = {
    logger: silentLogger(),
    draining: () => false,
    currentEndpoints: () => current,
  };
  front = createServer((req, res) => {
    new Exchange(
      {
        req,
        res,
        headers: ['host', 'x.test'],
        requestId: 'rid',
        backend: stale,
        match: { kind: 'catch-all', policy: DEFAULT_ROUTE_POLICY, tlsHost: false },
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
      0,
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

test('Exchange: a request whose endpoint set was retired under it is sent on the live set, body included', async () => {
  const res = await request(port, { method: 'POST', path: '/p', body: 'hello' });
  assert.equal(res.status, 200);
  const echo = res.json<Echo>();
  assert.equal(echo.name, 'live');
  assert.equal(echo.bodyBytes, 5);
  assert.equal(res.headers['x-request-id'], 'rid');
  assert.equal(res.headers['server'], 'portico');
});

import assert from 'node:assert/strict';
import { createServer, type Http2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { DEFAULT_UPSTREAM_OPTIONS } from '../../../src/config/types.js';
import type { UpstreamEndpoint } from '../../../src/endpoints/types.js';
import { silentLogger } from '../../../src/log/logger.js';
import type { RoutePolicy, RoutingModel } from '../../../src/model/types.js';
import { buildUpstreamHeaders } from '../../../src/proxy/forwarded-headers.js';
import { H2Upstream, h2RawHeaders, h2RequestHeaders } from '../../../src/proxy/h2-upstream.js';
import { acceptsTrailers, trailerFields } from '../../../src/proxy/hop-by-hop.js';
import { chooseTransport, transportKey } from '../../../src/proxy/upstream-transport.js';
import { UpstreamRegistry } from '../../../src/proxy/upstreams.js';
import type { CaBundleCheck } from '../../../src/tls/ca-bundles.js';
import { backendRef, modelOf } from '../../support/fake-snapshot.js';

const CA: CaBundleCheck = {
  ok: true,
  bundle: { pem: '-----BEGIN CERTIFICATE-----', certificates: [], fingerprint: 'f1' },
};
const CA2: CaBundleCheck = {
  ok: true,
  bundle: { pem: '-----BEGIN CERTIFICATE-----', certificates: [], fingerprint: 'f2' },
};
const backend = backendRef('api', 443, 'shop');

const transportCases: readonly {
  name: string;
  policy: RoutePolicy;
  cas?: ReadonlyMap<string, CaBundleCheck>;
  want: string | { reason: RegExp } | undefined;
}[] = [
  { name: 'HTTP needs no transport', policy: { backendProtocol: 'HTTP' }, want: undefined },
  { name: 'GRPC is cleartext HTTP/2', policy: { backendProtocol: 'GRPC' }, want: 'GRPC' },
  {
    name: 'H2C ignores proxy-ssl settings',
    policy: { backendProtocol: 'H2C', upstreamTls: { verify: true, sendServerName: true } },
    want: 'H2C',
  },
  {
    name: 'HTTPS without verification sends no SNI',
    policy: { backendProtocol: 'HTTPS' },
    want: 'HTTPS noverify sni=',
  },
  {
    name: 'SNI on sends the default name <service>.<namespace>.svc',
    policy: { backendProtocol: 'HTTPS', upstreamTls: { verify: false, sendServerName: true } },
    want: 'HTTPS noverify sni=api.shop.svc',
  },
  {
    name: 'verification checks proxy-ssl-name against the CA bundle, keyed by its fingerprint',
    policy: {
      backendProtocol: 'GRPCS',
      upstreamTls: {
        verify: true,
        sendServerName: false,
        serverName: 'x.test',
        caSecret: { namespace: 'shop', name: 'ca' },
      },
    },
    cas: new Map([['shop/ca', CA]]),
    want: 'GRPCS verify=f1@x.test sni=',
  },
  {
    name: 'a missing CA bundle fails closed',
    policy: {
      backendProtocol: 'HTTPS',
      upstreamTls: { verify: true, sendServerName: false, caSecret: { namespace: 'shop', name: 'ca' } },
    },
    want: { reason: /proxy-ssl-secret shop\/ca: CA bundle not loaded/ },
  },
  {
    name: 'an invalid CA bundle fails closed with its reason',
    policy: {
      backendProtocol: 'HTTPS',
      upstreamTls: { verify: true, sendServerName: false, caSecret: { namespace: 'shop', name: 'ca' } },
    },
    cas: new Map([['shop/ca', { ok: false, reason: 'no ca.crt key' }]]),
    want: { reason: /no ca\.crt key/ },
  },
  {
    name: 'verify on without a Secret fails closed',
    policy: { backendProtocol: 'HTTPS', upstreamTls: { verify: true, sendServerName: false } },
    want: { reason: /no proxy-ssl-secret/ },
  },
];

for (const c of transportCases) {
  test(`chooseTransport: ${c.name}`, () => {
    const got = chooseTransport(c.policy, backend, c.cas);
    if (c.want === undefined) {
      assert.equal(got, undefined);
    } else if (typeof c.want === 'string') {
      assert.equal(got?.ok, true);
      assert.equal(got?.ok === true ? got.transport.key : '', c.want);
    } else {
      assert.equal(got?.ok, false);
      assert.match(got?.ok === false ? got.reason : '', c.want.reason);
    }
  });
}

test('transportKey differs by every setting that changes the connection', () => {
  const keys = new Set([
    transportKey('HTTPS', undefined),
    transportKey('HTTPS', { verify: false, checkName: 'a' }),
    transportKey('HTTPS', { verify: false, checkName: 'a', sni: 'a' }),
    transportKey('HTTPS', { verify: true, checkName: 'a', ...(CA.ok ? { ca: CA.bundle } : {}) }),
    transportKey('HTTPS', { verify: true, checkName: 'b', ...(CA.ok ? { ca: CA.bundle } : {}) }),
    transportKey('HTTPS', { verify: true, checkName: 'a', ...(CA2.ok ? { ca: CA2.bundle } : {}) }),
    transportKey('GRPCS', { verify: false, checkName: 'a' }),
  ]);
  assert.equal(keys.size, 7);
  // Without verification the checked name plays no part.
  assert.equal(
    transportKey('HTTPS', { verify: false, checkName: 'a' }),
    transportKey('HTTPS', { verify: false, checkName: 'b' }),
  );
});

test('h2RequestHeaders: Host becomes :authority, connection fields go, TE only as trailers, repeats joined', () => {
  const got = h2RequestHeaders(
    [
      'Host',
      'a.test',
      'TE',
      'trailers, deflate',
      'Cookie',
      'a=1',
      'cookie',
      'b=2',
      'X-Multi',
      '1',
      'x-multi',
      '2',
      'Keep-Alive',
      '5',
      ':path',
      '/evil',
    ],
    'POST',
    '/svc/M',
    'https',
    '10.0.0.1:50051',
  );
  assert.deepEqual(
    { ...got },
    {
      ':method': 'POST',
      ':scheme': 'https',
      ':path': '/svc/M',
      ':authority': 'a.test',
      te: 'trailers',
      cookie: 'a=1; b=2',
      'x-multi': '1, 2',
    },
  );
  const fallback = h2RequestHeaders(['TE', 'gzip'], 'GET', '/', 'http', '10.0.0.1:80');
  assert.equal(fallback[':authority'], '10.0.0.1:80');
  assert.equal(fallback.te, undefined);
});

test('h2RawHeaders flattens without pseudo-headers, repeated set-cookie kept apart', () => {
  assert.deepEqual(h2RawHeaders({ ':status': '200', 'content-type': 'a', 'set-cookie': ['x=1', 'y=2'] }), [
    'content-type',
    'a',
    'set-cookie',
    'x=1',
    'set-cookie',
    'y=2',
  ]);
});

test('acceptsTrailers and trailerFields', () => {
  assert.equal(acceptsTrailers('trailers'), true);
  assert.equal(acceptsTrailers('gzip, Trailers'), true);
  assert.equal(acceptsTrailers('gzip'), false);
  assert.deepEqual(trailerFields(['grpc-status', '0', 'Connection', 'x', 'X-A', '1', 'x-a', '2']), {
    'grpc-status': '0',
    'x-a': '1, 2',
  });
  assert.equal(trailerFields([Buffer.from('transfer-encoding'), Buffer.from('chunked')]), undefined);
});

test('buildUpstreamHeaders keeps TE: trailers only for HTTP/2 backends', () => {
  const ctx = { peer: '1.2.3.4', trusted: false, proto: 'https', localPort: 443, requestId: 'r' } as const;
  const raw = ['Host', 'a', 'TE', 'trailers'];
  assert.equal(buildUpstreamHeaders(raw, ctx).headers.includes('te'), false);
  const h2 = buildUpstreamHeaders(raw, { ...ctx, teTrailers: true }).headers;
  assert.equal(h2[h2.indexOf('te') + 1], 'trailers');
  assert.equal(
    buildUpstreamHeaders(['TE', 'gzip'], { ...ctx, teTrailers: true }).headers.includes('te'),
    false,
  );
});

function withPolicies(model: RoutingModel, policies: readonly RoutePolicy[]): RoutingModel {
  return {
    ...model,
    routes: model.routes.map((r, i) => ({ ...r, policy: policies[i] ?? { backendProtocol: 'HTTP' } })),
  };
}

test('UpstreamRegistry: one endpoint, three protocols → three pools; endpoint changes and CA changes follow', async () => {
  const reg = new UpstreamRegistry(DEFAULT_UPSTREAM_OPTIONS, silentLogger());
  const api = backendRef('api', 443);
  const https: RoutePolicy = { backendProtocol: 'HTTPS' };
  const grpcs: RoutePolicy = {
    backendProtocol: 'GRPCS',
    upstreamTls: { verify: true, sendServerName: false, caSecret: { namespace: 'default', name: 'ca' } },
  };
  const model = withPolicies(
    modelOf([
      { host: 'a', backend: api },
      { host: 'b', backend: api },
      { host: 'c', backend: api },
    ]),
    [{ backendProtocol: 'HTTP' }, https, grpcs],
  );
  const e1: UpstreamEndpoint = { address: '127.0.0.2', port: 1, kind: 'ip' };
  const e2: UpstreamEndpoint = { address: '127.0.0.3', port: 1, kind: 'ip' };
  reg.setRoutes(model);
  reg.setEndpoints(new Map([[api.key, [e1]]]));
  // GRPCS has no CA bundle yet: HTTP and HTTPS pools only, and its route is refused.
  assert.equal(reg.stats().pools, 2);
  const routeB = { policy: https };
  const routeC = { policy: grpcs };
  assert.match(String(reg.backendVia(routeC, api)), /CA bundle not loaded/);

  reg.setCaBundles(new Map([['default/ca', CA]]));
  assert.equal(reg.stats().pools, 3);
  const plain = reg.backend(api.key);
  const viaHttps = reg.backendVia(routeB, api);
  const viaGrpcs = reg.backendVia(routeC, api);
  assert.ok(typeof viaHttps === 'object' && typeof viaGrpcs === 'object');
  const pools = new Set([
    plain?.upstreams[0]?.pool,
    viaHttps.upstreams[0]?.pool,
    viaGrpcs.upstreams[0]?.pool,
  ]);
  assert.equal(pools.size, 3, 'each protocol has its own pool');
  assert.equal(viaGrpcs.upstreams[0]?.origin, 'https://127.0.0.2:1');
  assert.equal(reg.current(api.key, viaGrpcs.transportKey), viaGrpcs);

  // An incremental endpoint change updates every transport's set, keeping the balancers.
  reg.setEndpoints(new Map([[api.key, [e1, e2]]]));
  assert.equal(reg.stats().pools, 6);
  const grown = reg.backendVia(routeC, api);
  assert.ok(typeof grown === 'object');
  assert.equal(grown.upstreams.length, 2);
  assert.equal(grown.balancer, viaGrpcs.balancer);

  // A new CA content is a new transport: new pools, the old ones retire.
  const retired = grown.upstreams[0]?.pool;
  reg.setCaBundles(new Map([['default/ca', CA2]]));
  const rotated = reg.backendVia(routeC, api);
  assert.ok(typeof rotated === 'object');
  assert.notEqual(rotated.upstreams[0]?.pool, retired);
  assert.equal(retired?.closed, true);
  assert.equal(reg.stats().pools, 6);

  // The routes stop using a transport: its pools go.
  reg.setRoutes(
    withPolicies(model, [
      { backendProtocol: 'HTTP' },
      { backendProtocol: 'HTTP' },
      { backendProtocol: 'HTTP' },
    ]),
  );
  assert.equal(reg.stats().pools, 2);
  await reg.closeAll();
});

test('H2Upstream holds the trailers until every body chunk of a paused stream was delivered', async () => {
  const chunk = Buffer.alloc(16_384, 97);
  const server: Http2Server = createServer();
  server.on('stream', (stream) => {
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    for (let i = 0; i < 200; i++) stream.write(chunk);
    stream.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const upstream = new H2Upstream({
    address: '127.0.0.1',
    port: (server.address() as AddressInfo).port,
    connectTimeoutMs: 2_000,
    headersTimeoutMs: 5_000,
    bodyTimeoutMs: 5_000,
  });
  try {
    let bytes = 0;
    let resume: (() => void) | undefined;
    const trailers = await new Promise<(Buffer | string)[] | null>((resolve, reject) => {
      upstream.dispatch(
        { path: '/x', method: 'POST', headers: ['host', 'a', 'te', 'trailers'], body: null },
        {
          onHeaders: (status, _raw, r) => {
            assert.equal(status, 200);
            resume = r;
            return true;
          },
          onData: (c) => {
            bytes += c.length;
            // A slow client: every chunk pauses the stream for a moment.
            setTimeout(() => resume?.(), 1);
            return false;
          },
          onComplete: resolve,
          onError: reject,
        },
      );
    });
    assert.equal(bytes, 200 * chunk.length, 'no chunk lost');
    assert.deepEqual(trailers, ['grpc-status', '0']);
    assert.equal(upstream.sessions, 1);
  } finally {
    await upstream.destroy();
    await new Promise((r) => server.close(r));
  }
});

test('H2Upstream: a refused connection fails before anything was sent; a closed one says UND_ERR_CLOSED', async () => {
  const upstream = new H2Upstream({
    address: '127.0.0.1',
    port: 1,
    connectTimeoutMs: 2_000,
    headersTimeoutMs: 1_000,
    bodyTimeoutMs: 1_000,
  });
  let connected = false;
  const err = await new Promise<Error>((resolve) => {
    upstream.dispatch(
      { path: '/', method: 'GET', headers: [], body: null },
      { onConnect: () => (connected = true), onError: resolve },
    );
  });
  assert.equal((err as NodeJS.ErrnoException).code, 'ECONNREFUSED');
  assert.equal(connected, false);
  await upstream.close();
  const closed = await new Promise<Error>((resolve) => {
    upstream.dispatch({ path: '/', method: 'GET', headers: [], body: null }, { onError: resolve });
  });
  assert.equal((closed as NodeJS.ErrnoException).code, 'UND_ERR_CLOSED');
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_UPSTREAM_OPTIONS } from '../../../src/config/types.js';
import type { UpstreamEndpoint } from '../../../src/endpoints/types.js';
import { silentLogger } from '../../../src/log/logger.js';
import { endpointKey, externalTargets, UpstreamRegistry } from '../../../src/proxy/upstreams.js';
import { backendRef, modelOf } from '../../support/fake-snapshot.js';

const keyCases = [
  { name: 'IPv4', endpoint: { address: '10.0.0.1', port: 8080, kind: 'ip' }, want: '10.0.0.1:8080' },
  { name: 'IPv6 is bracketed', endpoint: { address: 'fd00::1', port: 80, kind: 'ip' }, want: '[fd00::1]:80' },
  {
    name: 'a DNS name is kept',
    endpoint: { address: 'db.example.com', port: 5432, kind: 'dns' },
    want: 'db.example.com:5432',
  },
] as const satisfies readonly { name: string; endpoint: UpstreamEndpoint; want: string }[];

for (const c of keyCases) {
  test(`endpointKey: ${c.name}`, () => {
    assert.equal(endpointKey(c.endpoint), c.want);
  });
}

test('externalTargets collects ExternalName backends from routes, host defaults and the catch-all', () => {
  const ext = {
    ...backendRef('ext'),
    target: { kind: 'external-name', hostname: 'api.example.com', port: 443 },
  } as const;
  const model = modelOf(
    [
      { host: 'a', backend: ext },
      { host: 'b', backend: backendRef('plain') },
    ],
    {
      catchAll: { ...ext, key: 'default/ext2:80' },
    },
  );
  const got = externalTargets(model);
  assert.deepEqual([...got.keys()].sort(), ['default/ext2:80', 'default/ext:80']);
  assert.deepEqual(got.get('default/ext:80'), { address: 'api.example.com', port: 443, kind: 'dns' });
});

test('UpstreamRegistry creates one pool per endpoint, shares it between backends, and retires removed ones', async () => {
  const reg = new UpstreamRegistry(DEFAULT_UPSTREAM_OPTIONS, silentLogger());
  const e1: UpstreamEndpoint = { address: '127.0.0.2', port: 1, kind: 'ip' };
  const e2: UpstreamEndpoint = { address: '127.0.0.3', port: 1, kind: 'ip' };
  reg.setEndpoints(
    new Map([
      ['ns/a:80', [e1, e2]],
      ['ns/b:80', [e1]],
      ['ns/empty:80', []],
    ]),
  );
  assert.deepEqual(reg.stats(), { pools: 2, closing: 0, backends: 2 });
  assert.equal(reg.backend('ns/a:80')?.upstreams[0], reg.backend('ns/b:80')?.upstreams[0]);
  assert.equal(reg.backend('ns/empty:80'), undefined);
  const balancer = reg.backend('ns/a:80')?.balancer;

  reg.setEndpoints(new Map([['ns/a:80', [e2]]]));
  assert.equal(reg.stats().pools, 1);
  assert.equal(reg.backend('ns/a:80')?.upstreams.length, 1);
  assert.equal(reg.backend('ns/a:80')?.balancer, balancer, 'balancer state survives endpoint updates');
  assert.equal(reg.backend('ns/b:80'), undefined);

  await reg.closeAll();
  assert.deepEqual(reg.stats(), { pools: 0, closing: 0, backends: 0 });
});

test('UpstreamRegistry gives ExternalName backends a pool when the table has none', async () => {
  const reg = new UpstreamRegistry(DEFAULT_UPSTREAM_OPTIONS, silentLogger());
  reg.setExternalTargets(new Map([['ns/ext:80', { address: 'localhost', port: 9, kind: 'dns' as const }]]));
  assert.equal(reg.backend('ns/ext:80')?.upstreams[0]?.key, 'localhost:9');
  assert.equal(reg.stats().pools, 1);
  await reg.closeAll();
});

test('UpstreamRegistry.setOptions re-creates every pool on a connect-timeout change and retires the old ones', async () => {
  const reg = new UpstreamRegistry(DEFAULT_UPSTREAM_OPTIONS, silentLogger());
  const e1: UpstreamEndpoint = { address: '127.0.0.2', port: 1, kind: 'ip' };
  reg.setEndpoints(new Map([['ns/a:80', [e1]]]));
  const before = reg.backend('ns/a:80');
  const balancer = before?.balancer;

  // Read/send timeouts and tries are per request: the pools stay.
  reg.setOptions({ ...DEFAULT_UPSTREAM_OPTIONS, readTimeoutMs: 1_000, maxTries: 1 });
  assert.equal(reg.backend('ns/a:80'), before, 'no new endpoint set');
  assert.equal(reg.stats().closing, 0);

  reg.setOptions({ ...DEFAULT_UPSTREAM_OPTIONS, connectTimeoutMs: 250 });
  const after = reg.backend('ns/a:80');
  assert.notEqual(after, before, 'a new endpoint set was swapped in');
  assert.notEqual(after?.upstreams[0]?.pool, before?.upstreams[0]?.pool, 'with a new pool');
  assert.equal(after?.balancer, balancer, 'balancer state survives');
  assert.equal(reg.connectTimeoutMs, 250);
  assert.equal(reg.stats().pools, 1);
  assert.equal(before?.upstreams[0]?.pool.closed, true, 'the old pool is closing');
  await reg.closeAll();
  assert.deepEqual(reg.stats(), { pools: 0, closing: 0, backends: 0 });
});

test('UpstreamRegistry updates only the backend keys whose endpoint arrays changed, without churning shared pools', async () => {
  const reg = new UpstreamRegistry(DEFAULT_UPSTREAM_OPTIONS, silentLogger());
  const ep = (i: number): UpstreamEndpoint => ({ address: `127.0.1.${i}`, port: 8080, kind: 'ip' });
  // Enough untouched keys that a one-key change takes the incremental path.
  const first = new Map<string, readonly UpstreamEndpoint[]>();
  for (let i = 0; i < 200; i++) first.set(`ns/s${i}:80`, [ep(i)]);
  first.set('ns/shared-a:80', [ep(250)]);
  first.set('ns/shared-b:80', [ep(250)]);
  reg.setEndpoints(first);
  const untouched = reg.backend('ns/s1:80');
  const sharedPool = reg.backend('ns/shared-b:80')?.upstreams[0]?.pool;
  const released = reg.backend('ns/s0:80')?.upstreams[0]?.pool;
  assert.deepEqual(reg.stats(), { pools: 201, closing: 0, backends: 202 });

  const second = new Map(first);
  second.set('ns/s0:80', [ep(251)]); // moves to a new endpoint: ep(0) loses its only user
  second.set('ns/shared-a:80', [ep(252)]); // ep(250) is still used by shared-b
  second.delete('ns/s2:80');
  reg.setEndpoints(second);

  assert.equal(reg.backend('ns/s1:80'), untouched, 'an untouched key keeps its very entry');
  assert.equal(reg.backend('ns/shared-b:80')?.upstreams[0]?.pool, sharedPool, 'a still-shared pool is kept');
  assert.equal(reg.backend('ns/s0:80')?.upstreams[0]?.endpoint.address, '127.0.1.251');
  assert.notEqual(reg.backend('ns/s0:80')?.upstreams[0]?.pool, released);
  assert.equal(reg.backend('ns/s2:80'), undefined);
  // 201 pools + 251 + 252 − ep(0) − ep(2) = 201.
  assert.deepEqual(reg.stats(), { pools: 201, closing: reg.stats().closing, backends: 201 });
  assert.ok(reg.stats().closing <= 2, 'at most the two released pools are draining');

  await reg.closeAll();
  assert.deepEqual(reg.stats(), { pools: 0, closing: 0, backends: 0 });
});

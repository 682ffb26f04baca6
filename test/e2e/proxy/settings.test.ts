/**
 * Global settings applied live (`DataPlane.applySettings`, fed from the ConfigMap): each one takes
 * effect on the running data plane without a restart, and requests in flight keep the settings
 * they started with.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { GlobalSettings } from '../../../src/model/settings/types.js';
import { type Backend, type Echo, refusedPort, startBackend } from '../../support/backends.js';
import { backendRef, endpointsOf, snapshotOf } from '../../support/fake-snapshot.js';
import { request } from '../../support/http.js';
import { type SilentListener, startNeverAcceptingListener } from '../../support/never-accepts.js';
import { type Harness, startDataPlane } from './harness.js';

const BLACKHOLE = '127.0.0.7';

let a: Backend;
let refused: number;
let blackhole: SilentListener;
let blackholePort: number;
let h: Harness;

before(async () => {
  a = await startBackend({ name: 'a', host: '127.0.0.2' });
  refused = await refusedPort('127.0.0.4');
  blackhole = await startNeverAcceptingListener(BLACKHOLE);
  blackholePort = blackhole.port;
  h = await startDataPlane({
    routes: snapshotOf([
      { host: 'app.test', path: '/', backend: backendRef('app') },
      { host: 'retry.test', path: '/', backend: backendRef('retry') },
      { host: 'blackhole.test', path: '/', backend: backendRef('blackhole') },
    ]),
    endpoints: endpointsOf({
      'default/app:80': [a],
      'default/retry:80': [
        { host: '127.0.0.4', port: refused },
        { host: a.host, port: a.port },
      ],
      'default/blackhole:80': [{ host: BLACKHOLE, port: blackholePort }],
    }),
  });
});

after(async () => {
  await h.close();
  blackhole.close();
  await a.close();
});

/** `apply` changes some settings over the ones in force. */
function apply(patch: {
  upstream?: Partial<GlobalSettings['upstream']>;
  client?: Partial<GlobalSettings['client']>;
  forwarded?: Partial<GlobalSettings['forwarded']>;
}): void {
  const s = h.dp.settings;
  h.dp.applySettings({
    ...s,
    upstream: { ...s.upstream, ...patch.upstream },
    client: { ...s.client, ...patch.client },
    forwarded: { ...s.forwarded, ...patch.forwarded },
    https: s.https,
  });
}

const get = (host: string, path = '/', headers: Record<string, string> = {}) =>
  request(h.ports.http, { path, headers: { host, ...headers } });

describe('live settings', () => {
  test('proxy-read-timeout: lowering it turns a slow answer into 504; a request in flight keeps its timeout', async () => {
    apply({ upstream: { readTimeoutMs: 60_000 } });
    // Started under 60 s; the swap below must not cut it.
    const inFlight = get('app.test', '/slow?ms=900');
    await new Promise((r) => setTimeout(r, 100));
    apply({ upstream: { readTimeoutMs: 300 } });
    const started = Date.now();
    const cut = await get('app.test', '/slow?ms=2000');
    const elapsed = Date.now() - started;
    assert.equal(cut.status, 504);
    assert.ok(elapsed >= 250 && elapsed < 1_800, `504 after ${elapsed} ms`);
    assert.equal((await inFlight).status, 200, 'the in-flight request finished under its own timeout');
    apply({ upstream: { readTimeoutMs: 60_000 } });
    assert.equal((await get('app.test', '/slow?ms=500')).status, 200, 'raised again');
  });

  test('proxy-next-upstream-tries: 1 stops retrying a refused endpoint, 3 retries it again', async () => {
    apply({ upstream: { maxTries: 1 } });
    const once = await Promise.all([get('retry.test'), get('retry.test')]);
    // Round-robin starts each request on the next endpoint: one of the two hits the refused one.
    assert.deepEqual(once.map((r) => r.status).sort(), [200, 502]);
    apply({ upstream: { maxTries: 3 } });
    const retried = await Promise.all([get('retry.test'), get('retry.test')]);
    assert.deepEqual(
      retried.map((r) => r.status),
      [200, 200],
    );
  });

  test('proxy-connect-timeout: the pools are re-created with the new timeout, the old ones drain', async () => {
    apply({ upstream: { connectTimeoutMs: 300, maxTries: 1 } });
    assert.ok(h.dp.stats().closing >= 1, 'the old pools are draining');
    const started = Date.now();
    const res = await get('blackhole.test');
    const elapsed = Date.now() - started;
    assert.equal(res.status, 504);
    // The pools were created under the 5 s default: a 504 this early proves the new pools.
    assert.ok(elapsed < 2_500, `504 after ${elapsed} ms`);
    assert.equal((await get('app.test')).status, 200, 'the other backends are served by their new pools');
    apply({ upstream: { connectTimeoutMs: 5_000, maxTries: 3 } });
  });

  test('use-forwarded-headers and proxy-real-ip-cidr: X-Forwarded-For is kept only from trusted peers', async () => {
    const xff = async () => {
      const res = await get('app.test', '/', { 'x-forwarded-for': '203.0.113.9' });
      return res.json<Echo>().headers['x-forwarded-for'];
    };
    apply({ forwarded: { useForwardedHeaders: false, realIpCidrs: ['0.0.0.0/0', '::/0'] } });
    assert.equal(await xff(), '127.0.0.1', 'off: overwritten');
    apply({ forwarded: { useForwardedHeaders: true } });
    assert.equal(await xff(), '203.0.113.9, 127.0.0.1', 'on, trust everyone: appended');
    apply({ forwarded: { realIpCidrs: ['127.0.0.2/32'] } });
    assert.equal(await xff(), '127.0.0.1', 'on, but this peer is outside proxy-real-ip-cidr');
    apply({ forwarded: { realIpCidrs: ['127.0.0.0/8'] } });
    assert.equal(await xff(), '203.0.113.9, 127.0.0.1');
    apply({ forwarded: { useForwardedHeaders: false } });
  });

  test('client-header-timeout and keep-alive change on the listener in place', async () => {
    apply({ client: { headerTimeoutMs: 400, keepAliveTimeoutMs: 300 } });
    const exchange = (text: string) =>
      new Promise<{ data: string; ms: number }>((resolve) => {
        const started = Date.now();
        const socket = connect(h.ports.http, '127.0.0.1');
        let data = '';
        socket.on('data', (d) => {
          data += d.toString('latin1');
        });
        socket.on('close', () => resolve({ data, ms: Date.now() - started }));
        socket.on('error', () => undefined);
        socket.write(text);
        setTimeout(() => socket.destroy(), 10_000).unref();
      });
    const slow = await exchange('GET / HTTP/1.1\r\nHost: app.test\r\nX-Slow: ');
    assert.match(slow.data, /^HTTP\/1\.1 408 /);
    assert.ok(slow.ms >= 350 && slow.ms < 2_500, `408 after ${slow.ms} ms`);
    const idle = await exchange('GET /ka HTTP/1.1\r\nHost: app.test\r\n\r\n');
    assert.match(idle.data, /^HTTP\/1\.1 200 /);
    assert.ok(idle.ms >= 250 && idle.ms < 5_000, `idle connection closed after ${idle.ms} ms`);
    apply({ client: { headerTimeoutMs: 60_000, keepAliveTimeoutMs: 75_000 } });
  });

  test('client-body-timeout: a stalled request body gets 408 after the new idle time', async () => {
    apply({ client: { bodyIdleTimeoutMs: 300 } });
    const started = Date.now();
    const data = await new Promise<string>((resolve) => {
      const socket = connect(h.ports.http, '127.0.0.1');
      let out = '';
      socket.on('data', (d) => {
        out += d.toString('latin1');
      });
      socket.on('close', () => resolve(out));
      socket.on('error', () => undefined);
      socket.write('POST /upload HTTP/1.1\r\nHost: app.test\r\nContent-Length: 100\r\n\r\nabc');
      setTimeout(() => socket.destroy(), 10_000).unref();
    });
    const elapsed = Date.now() - started;
    assert.match(data, /^HTTP\/1\.1 408 /);
    assert.ok(elapsed >= 250 && elapsed < 2_500, `408 after ${elapsed} ms`);
    apply({ client: { bodyIdleTimeoutMs: 60_000 } });
  });

  test('applying the same settings again changes nothing (no pool churn)', () => {
    const before = h.dp.stats();
    h.dp.applySettings(h.dp.settings);
    apply({});
    assert.deepEqual(h.dp.stats().pools, before.pools);
  });
});

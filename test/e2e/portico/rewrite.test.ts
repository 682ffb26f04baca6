/**
 * Regex paths and rewrite end to end: Ingress YAML in a folder, the real `portico` process, echo
 * backends that report the request line they received. The scenarios are ingress-nginx's own
 * (test/e2e/annotations/rewrite.go, approot.go, xforwardedprefix.go, docs/examples/rewrite).
 */
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import type { IngressReport } from '../../../src/model/types.js';
import type { Echo } from '../../support/backends.js';
import { ingress, ingressClass, svc } from '../../support/builders.js';
import {
  get,
  type ManifestDir,
  manifestDir,
  type PorticoProcess,
  startPortico,
  waitUntil,
} from '../../support/portico-process.js';
import { type Pods, startPods, yamlOf } from './helpers.js';

const N = 'nginx.ingress.kubernetes.io/';

/** Ingress `versioned` with one ImplementationSpecific regex path to `plain`. */
function versioned(path: string): string {
  return yamlOf(
    ingress('versioned')
      .cls('portico')
      .annotate(`${N}use-regex`, 'true')
      .host('v.test')
      .path(path, 'ImplementationSpecific', svc('plain', 80))
      .build(),
  );
}

describe('regex paths and rewrite (ingress-nginx scenarios, real process)', () => {
  let pods: Pods;
  let dir: ManifestDir;
  let portico: PorticoProcess;

  const echo = async (host: string, path: string, headers: Record<string, string> = {}) => {
    const res = await get(portico.httpPort, path, { host, headers });
    assert.equal(res.status, 200, `${host}${path}: ${res.body}`);
    return JSON.parse(res.body) as Echo;
  };

  before(async () => {
    pods = await startPods('web', 'lego', 'index', 'plain');
    dir = await manifestDir({
      'class.yaml': yamlOf(ingressClass('portico').build()),
      'services.yaml': yamlOf(...pods.objects),
      'rewrite.yaml': yamlOf(
        ingress('rewrite')
          .cls('portico')
          .annotate(`${N}use-regex`, 'true')
          .annotate(`${N}rewrite-target`, '/$2')
          .annotate(`${N}x-forwarded-prefix`, '/something')
          .host('rewrite.bar.com')
          .path('/something(/|$)(.*)', 'ImplementationSpecific', svc('web', 80))
          .build(),
        // The same route spelled so that it stays on RE2 (`{1}` is outside the V8 fast path).
        ingress('rewrite-re2')
          .cls('portico')
          .annotate(`${N}use-regex`, 'true')
          .annotate(`${N}rewrite-target`, '/$2')
          .annotate(`${N}x-forwarded-prefix`, '/something')
          .host('rewrite-re2.bar.com')
          .path('/some{1}thing(/|$)(.*)', 'ImplementationSpecific', svc('web', 80))
          .build(),
      ),
      'order.yaml': yamlOf(
        ingress('kube-lego')
          .cls('portico')
          .created('2024-01-01T00:00:00Z')
          .host('order.test')
          .prefix('/.well-known/acme/challenge', svc('lego', 80))
          .build(),
        ingress('rewrite-index')
          .cls('portico')
          .created('2024-01-02T00:00:00Z')
          .annotate(`${N}rewrite-target`, '/new/backend')
          .host('order.test')
          .prefix('/', svc('index', 80))
          .build(),
      ),
      'approot.yaml': yamlOf(
        ingress('approot')
          .cls('portico')
          .annotate(`${N}app-root`, '/foo')
          .host('approot.bar.com')
          .prefix('/', svc('web', 80))
          .build(),
      ),
      'versioned.yaml': versioned('/v[0-9]+/items'),
    });
    portico = await startPortico({ manifests: dir.dir });
  });

  after(async () => {
    await portico?.stop('SIGKILL');
    await pods?.close();
    await dir?.cleanup();
  });

  const captureCases = [
    { name: '/something rewrites to /', path: '/something', url: '/' },
    { name: '/something/ rewrites to /', path: '/something/', url: '/' },
    { name: '/something/new rewrites to /new', path: '/something/new', url: '/new' },
    { name: 'the match is case-insensitive', path: '/SomeThing/New', url: '/New' },
    {
      name: 'the query string follows the rewritten path',
      path: '/something/new?a=1&b=2',
      url: '/new?a=1&b=2',
    },
  ];
  for (const c of captureCases) {
    test(`capture groups (docs/examples/rewrite): ${c.name}`, async () => {
      const seen = await echo('rewrite.bar.com', c.path);
      assert.equal(seen.name, 'web');
      assert.equal(seen.url, c.url);
    });
  }

  test('the pattern runs on V8, a pattern outside the fast path on RE2, with the same rewrites', async () => {
    const routes = JSON.parse((await get(portico.adminPort, '/routes')).body) as {
      routes: { host: string; regex?: string; regexEngine?: string }[];
    };
    const engine = (host: string) => routes.routes.find((r) => r.host === host)?.regexEngine;
    assert.equal(engine('rewrite.bar.com'), 'v8');
    assert.equal(engine('rewrite-re2.bar.com'), 're2');
    for (const c of [...captureCases, { path: '/so%C5%BFmething/x' }, { path: '/something%E2%82%AC/x' }]) {
      const fast = await get(portico.httpPort, c.path, { host: 'rewrite.bar.com' });
      const re2 = await get(portico.httpPort, c.path, { host: 'rewrite-re2.bar.com' });
      assert.equal(fast.status, re2.status, c.path);
      if (fast.status === 200)
        assert.equal((JSON.parse(fast.body) as Echo).url, (JSON.parse(re2.body) as Echo).url);
    }
  });

  test('a path the regex does not match is not routed to it', async () => {
    const res = await get(portico.httpPort, '/somethingelse', { host: 'rewrite.bar.com' });
    assert.equal(res.status, 404);
  });

  test('x-forwarded-prefix is sent with the rewrite and replaces the client copy', async () => {
    const seen = await echo('rewrite.bar.com', '/something/x', { 'x-forwarded-prefix': '/forged' });
    assert.equal(seen.headers['x-forwarded-prefix'], '/something');
  });

  test('a route without rewrite sends no X-Forwarded-Prefix of its own and the path unchanged', async () => {
    const seen = await echo('approot.bar.com', '/bar?x=1');
    assert.equal(seen.url, '/bar?x=1');
    assert.equal(seen.headers['x-forwarded-prefix'], undefined);
  });

  test('regex order (rewrite.go "correct longest path match"): the acme path of the older Ingress wins over rewrite `/`', async () => {
    const lego = await echo('order.test', '/.well-known/acme/challenge');
    assert.equal(lego.name, 'lego');
    assert.equal(lego.url, '/.well-known/acme/challenge');
    const index = await echo('order.test', '/anything/else?q=1');
    assert.equal(index.name, 'index');
    assert.equal(index.url, '/new/backend?q=1');
  });

  test('app-root (approot.go): / answers 302 to http://<host>/foo', async () => {
    const res = await get(portico.httpPort, '/', { host: 'approot.bar.com' });
    assert.equal(res.status, 302);
    assert.equal(res.headers['location'], 'http://approot.bar.com/foo');
  });

  test('app-root redirects only /', async () => {
    assert.equal((await echo('approot.bar.com', '/foo')).url, '/foo');
  });

  test('a WebSocket upgrade is rewritten like a plain request', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${portico.httpPort}/something/chat/headers?room=1`, {
      headers: { host: 'rewrite.bar.com' },
      handshakeTimeout: 10_000,
    });
    try {
      const upgraded = new Promise<IncomingMessage>((resolve, reject) => {
        ws.once('upgrade', resolve);
        ws.once('error', reject);
      });
      const first = new Promise<Buffer>((resolve, reject) => {
        ws.once('message', (data) => resolve(data as Buffer));
        ws.once('error', reject);
      });
      assert.equal((await upgraded).statusCode, 101);
      const seen = JSON.parse((await first).toString()) as Echo;
      assert.equal(seen.url, '/chat/headers?room=1');
      assert.equal(seen.headers['x-forwarded-prefix'], '/something');
    } finally {
      ws.terminate();
    }
  });

  test('a lookahead pattern rejects the Ingress naming path and construct; its last good version keeps serving', async () => {
    assert.equal((await echo('v.test', '/v2/items')).name, 'plain');
    const from = portico.logs.length;
    await dir.write('versioned.yaml', versioned('/v(?=1)[0-9]+/items'));
    await portico.waitForLog(
      (e) =>
        JSON.stringify(e).includes('PORTICO_ERR_PATH_INVALID') && JSON.stringify(e).includes('lookahead'),
      10_000,
      from,
    );
    const routes = JSON.parse((await get(portico.adminPort, '/routes')).body) as {
      ingresses: IngressReport[];
      diagnostics: { code: string; field: string; message: string }[];
    };
    const report = routes.ingresses.find((i) => i.ingress === 'default/versioned');
    assert.equal(report?.state, 'rejected');
    assert.equal(report?.servingLastGood, true);
    const d = routes.diagnostics.find((x) => x.code === 'PORTICO_ERR_PATH_INVALID');
    assert.equal(d?.field, 'spec.rules[0].http.paths[0].path');
    assert.match(d?.message ?? '', /lookahead `\(\?=…\)` is not supported/);
    // The last good version still routes; the rejected pattern does not exist.
    assert.equal((await echo('v.test', '/v2/items')).name, 'plain');
    await dir.write('versioned.yaml', versioned('/w[0-9]+/items'));
    await waitUntil(
      async () => (await get(portico.httpPort, '/w3/items', { host: 'v.test' })).status === 200,
      10_000,
      'fixed version applied',
    );
  });
});

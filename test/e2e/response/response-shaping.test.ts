/**
 * Response shaping end to end (issue 8): CORS preflights answered by Portico before Basic auth and
 * without the backend, CORS headers on actual answers (origin list, wildcard subdomains), custom
 * error pages from a default backend with ingress-nginx's X-Code headers, and `custom-headers` —
 * in a real portico process in file mode, with real echo backends.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import type { ConfigMap, Secret } from '../../../src/model/objects.js';
import { refusedPort } from '../../support/backends.js';
import { echoService, ingress, ingressClass, service, svc } from '../../support/builders.js';
import {
  get,
  type ManifestDir,
  manifestDir,
  type PorticoProcess,
  startPortico,
  waitUntil,
} from '../../support/portico-process.js';
import { type Pods, settingsConfigMap, startPods, yamlOf } from '../portico/helpers.js';

const N = 'nginx.ingress.kubernetes.io';
const P = 'portico.dev';

const usersSecret: Secret = {
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name: 'users', namespace: 'default' },
  type: 'Opaque',
  data: { auth: Buffer.from(`alice:${bcrypt.hashSync('alice-pass', 4)}\n`).toString('base64') },
};

const shopHeaders: ConfigMap = {
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'shop-headers', namespace: 'default' },
  // The echo backend sends X-Backend itself: the ConfigMap's value replaces it.
  data: { 'X-Backend': 'from-configmap', 'X-Frame-Options': 'DENY', 'X-Shop': 'yes; really' },
};

const globalResponse: ConfigMap = {
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'response-headers', namespace: 'ingress' },
  data: { 'X-Global': 'everywhere', 'X-Shop': 'global value, overridden by custom-headers' },
};

const globalRequest: ConfigMap = {
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'request-headers', namespace: 'ingress' },
  data: { 'X-Tenant': 'acme', 'User-Agent': 'portico-set' },
};

const basic = (user: string, password: string): string =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

interface EchoBody {
  readonly name: string;
  readonly method: string;
  readonly url: string;
  readonly headers: Record<string, string | undefined>;
}

describe('response shaping (file mode)', () => {
  let pods: Pods;
  let dir: ManifestDir;
  let portico: PorticoProcess;
  const requestsTo = (name: string): number => pods.backends.get(name)?.requests() ?? -1;

  before(async () => {
    pods = await startPods('web', 'error-pages');
    const closed = await refusedPort('127.0.0.1');
    dir = await manifestDir({
      'class.yaml': yamlOf(ingressClass('portico').build()),
      'settings.yaml': settingsConfigMap({
        'add-headers': 'ingress/response-headers',
        'proxy-set-headers': 'ingress/request-headers',
        'global-allowed-response-headers': 'X-Backend,x-frame-options,X-Shop',
        // ConfigMap defaults of the custom-errors and load-balance annotations.
        'custom-http-errors': '410',
        'load-balance': 'ewma',
      }),
      'global-headers.yaml': yamlOf(globalResponse, globalRequest),
      'services.yaml': yamlOf(
        ...pods.objects,
        service('empty').port(80).build(),
        ...echoService('refused', { addresses: ['127.0.0.1'], targetPort: closed }),
      ),
      'cors.yaml': yamlOf(
        usersSecret,
        ingress('api')
          .cls('portico')
          .annotate(`${N}/enable-cors`, 'true')
          .annotate(`${N}/cors-allow-origin`, 'https://app.example.com, http://*.origin.com:8080')
          .annotate(`${N}/cors-allow-methods`, 'GET, POST')
          .annotate(`${N}/cors-expose-headers`, 'X-Total')
          .annotate(`${N}/cors-max-age`, '600')
          .annotate(`${N}/auth-type`, 'basic')
          .annotate(`${N}/auth-secret`, 'users')
          .host('api.test')
          .prefix('/', svc('web', 80))
          .build(),
        ingress('open')
          .cls('portico')
          .annotate(`${P}/enable-cors`, 'true')
          .host('open.test')
          .prefix('/', svc('web', 80))
          .build(),
      ),
      'errors.yaml': yamlOf(
        ingress('pages')
          .cls('portico')
          .annotate(`${N}/custom-http-errors`, '404,503')
          .annotate(`${N}/default-backend`, 'error-pages')
          .host('pages.test')
          .prefix('/', svc('web', 80))
          .build(),
        ingress('refusing')
          .cls('portico')
          .annotate(`${N}/custom-http-errors`, '502')
          .annotate(`${N}/default-backend`, 'error-pages')
          .host('refusing.test')
          .prefix('/', svc('refused', 80))
          .build(),
        ingress('fallback')
          .cls('portico')
          .annotate(`${N}/default-backend`, 'error-pages')
          .host('fallback.test')
          .prefix('/', svc('empty', 80))
          .build(),
        ingress('builtin')
          .cls('portico')
          .annotate(`${N}/custom-http-errors`, '418')
          .host('builtin.test')
          .prefix('/', svc('web', 80))
          .build(),
        // No custom-http-errors of its own: the ConfigMap's list, answered by its default-backend.
        ingress('global-pages')
          .cls('portico')
          .annotate(`${N}/default-backend`, 'error-pages')
          .annotate(`${N}/load-balance`, 'round_robin')
          .host('global-pages.test')
          .prefix('/', svc('web', 80))
          .build(),
      ),
      'headers.yaml': yamlOf(
        shopHeaders,
        ingress('shop')
          .cls('portico')
          .annotate(`${N}/custom-headers`, 'shop-headers')
          .host('shop.test')
          .prefix('/', svc('web', 80))
          .build(),
        {
          ...shopHeaders,
          metadata: { name: 'too-many', namespace: 'default' },
          data: { 'Set-Cookie': 'a=b' },
        },
        ingress('shop-not-allowed')
          .cls('portico')
          .annotate(`${N}/custom-headers`, 'too-many')
          .host('not-allowed.test')
          .prefix('/', svc('web', 80))
          .build(),
        ingress('shop-missing')
          .cls('portico')
          .annotate(`${N}/custom-headers`, 'nope')
          .host('missing.test')
          .prefix('/', svc('web', 80))
          .build(),
      ),
    });
    portico = await startPortico({ manifests: dir.dir, args: ['--configmap', 'ingress/portico'] });
  });

  after(async () => {
    await portico?.stop('SIGKILL');
    await pods?.close();
    await dir?.cleanup();
  });

  test('a preflight is answered 204 by Portico, before Basic auth and without reaching the backend', async () => {
    const before = requestsTo('web');
    const res = await get(portico.httpPort, '/items', {
      host: 'api.test',
      method: 'OPTIONS',
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST' },
    });
    assert.equal(res.status, 204, res.body);
    assert.equal(res.body, '');
    assert.equal(res.headers['access-control-allow-origin'], 'https://app.example.com');
    assert.equal(res.headers['access-control-allow-methods'], 'GET, POST');
    assert.equal(
      res.headers['access-control-allow-headers'],
      'DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range,Authorization',
    );
    assert.equal(res.headers['access-control-allow-credentials'], 'true');
    assert.equal(res.headers['access-control-expose-headers'], 'X-Total');
    assert.equal(res.headers['access-control-max-age'], '600');
    assert.equal(res.headers.vary, 'Origin');
    assert.equal(res.headers['www-authenticate'], undefined);
    assert.equal(requestsTo('web'), before, 'the backend saw nothing');
  });

  test('a preflight from an origin not on the list is not answered by Portico (auth applies)', async () => {
    const res = await get(portico.httpPort, '/items', {
      host: 'api.test',
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    assert.equal(res.status, 401);
    assert.equal(res.headers['access-control-allow-origin'], undefined);
  });

  const originCases = [
    { name: 'a listed origin is echoed back', origin: 'https://app.example.com', allowed: true },
    { name: 'origins match case-insensitively', origin: 'HTTPS://APP.example.com', allowed: true },
    {
      name: 'a wildcard matches one subdomain label with the port',
      origin: 'http://bar-foo.origin.com:8080',
      allowed: true,
    },
    { name: 'a wildcard does not match two labels', origin: 'http://a.b.origin.com:8080', allowed: false },
    { name: 'a wildcard does not match the bare domain', origin: 'http://origin.com:8080', allowed: false },
    { name: 'a wildcard origin needs its port', origin: 'http://abc.origin.com', allowed: false },
    {
      name: 'an origin ending like a listed one does not match',
      origin: 'https://evilhttps://app.example.com',
      allowed: false,
    },
  ] as const;
  for (const c of originCases) {
    test(`actual request: ${c.name}`, async () => {
      const res = await get(portico.httpPort, '/', {
        host: 'api.test',
        headers: { origin: c.origin, authorization: basic('alice', 'alice-pass') },
      });
      assert.equal(res.status, 200, res.body);
      assert.equal(res.headers['access-control-allow-origin'], c.allowed ? c.origin : undefined);
      assert.equal(res.headers['access-control-allow-credentials'], c.allowed ? 'true' : undefined);
      assert.equal(res.headers['access-control-expose-headers'], c.allowed ? 'X-Total' : undefined);
      assert.equal(res.headers.vary, 'Origin');
    });
  }

  test("Portico's own 401 carries the CORS headers too", async () => {
    const res = await get(portico.httpPort, '/', {
      host: 'api.test',
      headers: { origin: 'https://app.example.com' },
    });
    assert.equal(res.status, 401);
    assert.equal(res.headers['access-control-allow-origin'], 'https://app.example.com');
  });

  test('with the default origin (*) every answer says * even without Origin, as ingress-nginx', async () => {
    const plain = await get(portico.httpPort, '/', { host: 'open.test' });
    assert.equal(plain.status, 200);
    assert.equal(plain.headers['access-control-allow-origin'], '*');
    const pre = await get(portico.httpPort, '/', {
      host: 'open.test',
      method: 'OPTIONS',
      headers: { origin: 'https://anything.example', 'access-control-request-method': 'PUT' },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers['access-control-allow-origin'], '*');
    assert.equal(pre.headers['access-control-allow-methods'], 'GET, PUT, POST, DELETE, PATCH, OPTIONS');
    assert.equal(pre.headers['access-control-max-age'], '1728000');
    assert.equal(pre.headers.vary, undefined);
  });

  test('a plain OPTIONS (no Access-Control-Request-Method) goes to the backend', async () => {
    const res = await get(portico.httpPort, '/', {
      host: 'open.test',
      method: 'OPTIONS',
      headers: { origin: 'https://anything.example' },
    });
    assert.equal(res.status, 200);
    assert.equal((JSON.parse(res.body) as EchoBody).method, 'OPTIONS');
  });

  test('a custom-http-errors status is answered by the default backend with the X-Code headers', async () => {
    const res = await get(portico.httpPort, '/status/404?x=1', {
      host: 'pages.test',
      method: 'POST',
      headers: { accept: 'application/json', 'x-request-id': 'req-42' },
    });
    assert.equal(res.status, 200, "the status is the error backend's, as with error_page =");
    const echo = JSON.parse(res.body) as EchoBody;
    assert.equal(echo.name, 'error-pages');
    assert.equal(echo.method, 'GET');
    assert.equal(echo.url, '/');
    assert.deepEqual(
      {
        code: echo.headers['x-code'],
        format: echo.headers['x-format'],
        uri: echo.headers['x-original-uri'],
        namespace: echo.headers['x-namespace'],
        ingress: echo.headers['x-ingress-name'],
        service: echo.headers['x-service-name'],
        port: echo.headers['x-service-port'],
        requestId: echo.headers['x-request-id'],
        host: echo.headers.host,
      },
      {
        code: '404',
        format: 'application/json',
        uri: '/status/404?x=1',
        namespace: 'default',
        ingress: 'pages',
        service: 'web',
        port: '80',
        requestId: 'req-42',
        host: 'pages.test',
      },
    );
  });

  test('the error backend answers with its own status', async () => {
    const res = await get(portico.httpPort, '/status/503', { host: 'pages.test' });
    // The echo backend answers 200 to "/": a real error-pages service answers X-Code.
    assert.equal(res.status, 200);
    assert.equal((JSON.parse(res.body) as EchoBody).headers['x-code'], '503');
  });

  test('statuses not listed pass through from the backend', async () => {
    const res = await get(portico.httpPort, '/status/500', { host: 'pages.test' });
    assert.equal(res.status, 500);
    assert.equal((JSON.parse(res.body) as EchoBody).name, 'web');
  });

  test("without a default backend, Portico's built-in page for the status answers", async () => {
    const res = await get(portico.httpPort, '/status/418', { host: 'builtin.test' });
    assert.equal(res.status, 418);
    assert.match(res.body, /^418 /);
    assert.doesNotMatch(res.body, /"name"/, 'nothing of the backend body reached the client');
  });

  test('ConfigMap custom-http-errors: a route without the annotation uses its default-backend for the listed statuses', async () => {
    const res = await get(portico.httpPort, '/status/410', { host: 'global-pages.test' });
    assert.equal(res.status, 200, res.body);
    const echo = JSON.parse(res.body) as EchoBody;
    assert.equal(echo.name, 'error-pages');
    assert.equal(echo.headers['x-code'], '410');
    assert.equal(echo.headers['x-ingress-name'], 'global-pages');
  });

  test("ConfigMap custom-http-errors: without any default backend Portico's page answers; an annotation's list replaces it", async () => {
    const plain = await get(portico.httpPort, '/status/410', { host: 'open.test' });
    assert.equal(plain.status, 410);
    assert.match(plain.body, /^410 /);
    // pages.test lists 404,503 and builtin.test 418: 410 passes through from the backend.
    for (const host of ['pages.test', 'builtin.test']) {
      const res = await get(portico.httpPort, '/status/410', { host });
      assert.equal(res.status, 410, host);
      assert.equal((JSON.parse(res.body) as EchoBody).name, 'web', host);
    }
  });

  test('ConfigMap load-balance: ewma for routes without a placement annotation, the annotation wins', async () => {
    const step = async (host: string) => {
      const res = await get(portico.adminPort, `/explain?host=${host}&path=/`);
      const report = JSON.parse(res.body) as { steps: Record<string, unknown>[] };
      return report.steps.find((s) => s['step'] === 'load-balance')?.['verdict'];
    };
    assert.equal(await step('open.test'), 'ewma');
    assert.equal(await step('global-pages.test'), 'round_robin');
    assert.equal((await get(portico.httpPort, '/', { host: 'open.test' })).status, 200);
  });

  test('custom-headers: the ConfigMap data are on every response, replacing the backend header', async () => {
    const res = await get(portico.httpPort, '/', { host: 'shop.test' });
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-frame-options'], 'DENY');
    assert.equal(res.headers['x-shop'], 'yes; really');
    assert.equal(res.headers['x-backend'], 'from-configmap');
  });

  test('custom-headers naming a missing ConfigMap fails the routes closed with a diagnostic', async () => {
    const res = await get(portico.httpPort, '/', { host: 'missing.test' });
    assert.equal(res.status, 503);
    const routes = await get(portico.adminPort, '/routes');
    assert.match(routes.body, /ConfigMap default\/nope not found/);
  });

  test("add-headers: every response carries the global headers, Portico's own answers too", async () => {
    const ok = await get(portico.httpPort, '/', { host: 'open.test' });
    assert.equal(ok.headers['x-global'], 'everywhere');
    const refused = await get(portico.httpPort, '/', { host: 'api.test' });
    assert.equal(refused.status, 401);
    assert.equal(refused.headers['x-global'], 'everywhere');
    const preflight = await get(portico.httpPort, '/', {
      host: 'open.test',
      method: 'OPTIONS',
      headers: { origin: 'https://a.example', 'access-control-request-method': 'GET' },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers['x-global'], 'everywhere');
  });

  test('custom-headers win over add-headers of the same name', async () => {
    const res = await get(portico.httpPort, '/', { host: 'shop.test' });
    assert.equal(res.headers['x-shop'], 'yes; really');
    assert.equal(res.headers['x-global'], 'everywhere');
  });

  test("proxy-set-headers: the backend sees them on every request, replacing the client's", async () => {
    const res = await get(portico.httpPort, '/', { host: 'open.test', headers: { 'user-agent': 'client' } });
    const echo = JSON.parse(res.body) as EchoBody;
    assert.equal(echo.headers['x-tenant'], 'acme');
    assert.equal(echo.headers['user-agent'], 'portico-set');
  });

  test('editing the add-headers ConfigMap applies without a restart', async () => {
    await dir.write(
      'global-headers.yaml',
      yamlOf({ ...globalResponse, data: { 'X-Global': 'edited' } }, globalRequest),
    );
    await waitUntil(
      async () => (await get(portico.httpPort, '/', { host: 'open.test' })).headers['x-global'] === 'edited',
      10_000,
      'the edited add-headers ConfigMap applied',
    );
  });

  test("default-backend answers the route's requests while its Service has no ready endpoints", async () => {
    const res = await get(portico.httpPort, '/some/page?q=1', { host: 'fallback.test' });
    assert.equal(res.status, 200, res.body);
    const echo = JSON.parse(res.body) as EchoBody;
    assert.equal(echo.name, 'error-pages');
    assert.equal(echo.url, '/some/page?q=1');
  });

  test("Portico's own 502 (backend refused) is replaced too, as nginx's error_page does", async () => {
    const res = await get(portico.httpPort, '/x', { host: 'refusing.test' });
    assert.equal(res.status, 200, res.body);
    const echo = JSON.parse(res.body) as EchoBody;
    assert.equal(echo.name, 'error-pages');
    assert.equal(echo.headers['x-code'], '502');
    assert.equal(echo.headers['x-service-name'], 'refused');
  });

  test('custom-headers setting a name not in global-allowed-response-headers fails the routes closed', async () => {
    const res = await get(portico.httpPort, '/', { host: 'not-allowed.test' });
    assert.equal(res.status, 503);
    const routes = await get(portico.adminPort, '/routes');
    assert.match(routes.body, /header Set-Cookie is not allowed/);
  });
});

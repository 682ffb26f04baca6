/**
 * External authentication through a real portico process (issue 6): the auth service decides, its
 * `auth-response-headers` reach the backend (forged copies never do), 401/403 are relayed, 401s
 * redirect to `auth-signin`, and a refused request never reaches the backend.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type AuthServer, SESSION_COOKIE, startAuthServer } from '../../support/auth-server.js';
import { ingress, ingressClass, svc } from '../../support/builders.js';
import {
  get,
  type ManifestDir,
  manifestDir,
  type PorticoProcess,
  startPortico,
} from '../../support/portico-process.js';
import { type Pods, settingsConfigMap, startPods, yamlOf } from '../portico/helpers.js';

const N = 'nginx.ingress.kubernetes.io';

describe('external auth (file mode)', () => {
  let pods: Pods;
  let auth: AuthServer;
  let dir: ManifestDir;
  let portico: PorticoProcess;

  before(async () => {
    pods = await startPods('web');
    auth = await startAuthServer({
      good: { user: 'ann', email: 'ann@example.test' },
      banned: { user: 'mal', email: 'mal@example.test', forbidden: true },
    });
    dir = await manifestDir({
      'class.yaml': yamlOf(ingressClass('portico').build()),
      'services.yaml': yamlOf(...pods.objects),
      'auth.yaml': yamlOf(
        ingress('app')
          .cls('portico')
          .annotate(`${N}/auth-url`, `${auth.url}/oauth2/auth`)
          .annotate(`${N}/auth-signin`, 'https://login.example.test/oauth2/start')
          .annotate(`${N}/auth-response-headers`, 'X-Auth-Request-User, X-Auth-Request-Email')
          .host('app.test')
          .prefix('/', svc('web', 80))
          .build(),
        ingress('api')
          .cls('portico')
          .annotate(`${N}/auth-url`, `${auth.url}/oauth2/auth`)
          .host('api.test')
          .prefix('/', svc('web', 80))
          .build(),
        {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name: 'auth-headers', namespace: 'default' },
          data: { 'X-Auth-Tenant': 'acme', 'X-Api-Key': 'from-configmap' },
        },
        ingress('tenant')
          .cls('portico')
          .annotate(`${N}/auth-url`, `${auth.url}/oauth2/auth`)
          .annotate(`${N}/auth-proxy-set-headers`, 'auth-headers')
          .host('tenant.test')
          .prefix('/', svc('web', 80))
          .build(),
        ingress('tenant-missing')
          .cls('portico')
          .annotate(`${N}/auth-url`, `${auth.url}/oauth2/auth`)
          .annotate(`${N}/auth-proxy-set-headers`, 'no-such-configmap')
          .host('tenant-missing.test')
          .prefix('/', svc('web', 80))
          .build(),
      ),
    });
    portico = await startPortico({ manifests: dir.dir });
  });

  after(async () => {
    await portico?.stop('SIGKILL');
    await auth?.close();
    await pods?.close();
    await dir?.cleanup();
  });

  const backendSaw = (body: string): Record<string, string> =>
    (JSON.parse(body) as { headers: Record<string, string> }).headers;

  test('an allowed request carries the auth headers to the backend; forged copies are dropped', async () => {
    const before = pods.backends.get('web')?.requests() ?? 0;
    const res = await get(portico.httpPort, '/orders?x=1', {
      host: 'app.test',
      headers: {
        authorization: 'Bearer good',
        'x-auth-request-user': 'forged',
        'x-auth-request-email': 'forged',
      },
    });
    assert.equal(res.status, 200, res.body);
    const headers = backendSaw(res.body);
    assert.equal(headers['x-auth-request-user'], 'ann');
    assert.equal(headers['x-auth-request-email'], 'ann@example.test');
    assert.equal((pods.backends.get('web')?.requests() ?? 0) - before, 1);
    const seen = auth.seen.at(-1);
    assert.equal(seen?.method, 'GET');
    assert.equal(seen?.headers['x-original-url'], 'http://app.test/orders?x=1');
    assert.equal(seen?.headers['x-original-method'], 'GET');
    assert.equal(seen?.headers['x-real-ip'], '127.0.0.1');
  });

  test('a cookie session gets the refreshed cookie on the backend response', async () => {
    const res = await get(portico.httpPort, '/', {
      host: 'app.test',
      headers: { cookie: `${SESSION_COOKIE}=good` },
    });
    assert.equal(res.status, 200);
    const cookies = [res.headers['set-cookie'] ?? []].flat();
    assert.ok(
      cookies.some((c) => c.startsWith(`${SESSION_COOKIE}=good`)),
      String(cookies),
    );
  });

  test('without a session: 302 to auth-signin with rd=<original URL>, the backend never asked', async () => {
    const before = pods.backends.get('web')?.requests() ?? 0;
    const res = await get(portico.httpPort, '/orders?x=1', { host: 'app.test' });
    assert.equal(res.status, 302);
    assert.equal(
      res.headers['location'],
      'https://login.example.test/oauth2/start?rd=http://app.test%2Forders%3Fx%3D1',
    );
    assert.equal((pods.backends.get('web')?.requests() ?? 0) - before, 0);
  });

  const relayed = [
    { name: 'no auth-signin: the 401 is relayed with its WWW-Authenticate', token: undefined, want: 401 },
    { name: 'a forbidden user gets 403', token: 'banned', want: 403 },
    { name: 'a known user is served', token: 'good', want: 200 },
  ] as const;
  for (const c of relayed) {
    test(c.name, async () => {
      const res = await get(portico.httpPort, '/', {
        host: 'api.test',
        ...(c.token !== undefined ? { headers: { authorization: `Bearer ${c.token}` } } : {}),
      });
      assert.equal(res.status, c.want, res.body);
      if (c.want === 401) assert.equal(res.headers['www-authenticate'], 'Bearer realm="test"');
      if (c.want !== 200)
        assert.ok(!res.body.includes('secret detail'), "the auth service's body is not relayed");
    });
  }

  test("auth-proxy-set-headers: the auth service sees the ConfigMap's headers, replacing the client's", async () => {
    const res = await get(portico.httpPort, '/', {
      host: 'tenant.test',
      headers: { authorization: 'Bearer good', 'x-api-key': 'from-client' },
    });
    assert.equal(res.status, 200, res.body);
    const seen = auth.seen.at(-1);
    assert.equal(seen?.headers['x-auth-tenant'], 'acme');
    assert.equal(seen?.headers['x-api-key'], 'from-configmap');
    // Only the auth request: the backend gets the client's headers.
    assert.equal(backendSaw(res.body)['x-auth-tenant'], undefined);
    assert.equal(backendSaw(res.body)['x-api-key'], 'from-client');
  });

  test('auth-proxy-set-headers naming a missing ConfigMap fails the routes closed (503)', async () => {
    const before = auth.seen.length;
    const res = await get(portico.httpPort, '/', {
      host: 'tenant-missing.test',
      headers: { authorization: 'Bearer good' },
    });
    assert.equal(res.status, 503);
    assert.equal(auth.seen.length, before, 'the auth service was not asked');
  });

  test('explain names the auth service on the way', async () => {
    const res = await get(portico.adminPort, '/explain?host=api.test&path=/');
    assert.match(res.body, /"step": "external-auth"/);
    assert.match(res.body, /once authenticated/);
  });
});

describe('global auth from the ConfigMap (global-auth-url, enable-global-auth, no-auth-locations)', () => {
  let pods: Pods;
  let auth: AuthServer;
  let dir: ManifestDir;
  let portico: PorticoProcess;

  before(async () => {
    pods = await startPods('web');
    auth = await startAuthServer({ good: { user: 'ann', email: 'ann@example.test' } });
    dir = await manifestDir({
      'class.yaml': yamlOf(ingressClass('portico').build()),
      'settings.yaml': settingsConfigMap({
        'global-auth-url': `${auth.url}/oauth2/auth`,
        'global-auth-response-headers': 'X-Auth-Request-User',
      }),
      'services.yaml': yamlOf(...pods.objects),
      'apps.yaml': yamlOf(
        ingress('covered').cls('portico').host('covered.test').prefix('/', svc('web', 80)).build(),
        ingress('public')
          .cls('portico')
          .annotate(`${N}/enable-global-auth`, 'false')
          .host('public.test')
          .prefix('/', svc('web', 80))
          .build(),
        ingress('acme')
          .cls('portico')
          .host('covered.test')
          .prefix('/.well-known/acme-challenge', svc('web', 80))
          .build(),
      ),
    });
    portico = await startPortico({ manifests: dir.dir, args: ['--configmap', 'ingress/portico'] });
  });

  after(async () => {
    await portico?.stop('SIGKILL');
    await auth?.close();
    await pods?.close();
    await dir?.cleanup();
  });

  test('an Ingress without auth of its own is checked by the global auth service', async () => {
    assert.equal((await get(portico.httpPort, '/', { host: 'covered.test' })).status, 401);
    const res = await get(portico.httpPort, '/', {
      host: 'covered.test',
      headers: { authorization: 'Bearer good' },
    });
    assert.equal(res.status, 200, res.body);
    const headers = (JSON.parse(res.body) as { headers: Record<string, string> }).headers;
    assert.equal(headers['x-auth-request-user'], 'ann');
  });

  test('enable-global-auth: "false" and no-auth-locations (ACME challenges) are not checked', async () => {
    const before = auth.seen.length;
    assert.equal((await get(portico.httpPort, '/', { host: 'public.test' })).status, 200);
    assert.equal(
      (await get(portico.httpPort, '/.well-known/acme-challenge/token-1', { host: 'covered.test' })).status,
      200,
    );
    assert.equal(auth.seen.length, before, 'the auth service was not asked');
  });
});

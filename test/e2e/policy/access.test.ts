/**
 * Access policies end to end (issue 6, steps 2 and 4 of the hook order): IP allow/deny lists and
 * Basic authentication, in a real portico process in file mode, with real echo backends.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import type { Secret } from '../../../src/model/objects.js';
import { ingress, ingressClass, service, svc } from '../../support/builders.js';
import {
  get,
  type ManifestDir,
  manifestDir,
  PORTICO_BIN,
  type PorticoProcess,
  startPortico,
  waitUntil,
} from '../../support/portico-process.js';
import { type Pods, settingsConfigMap, startPods, yamlOf } from '../portico/helpers.js';

const N = 'nginx.ingress.kubernetes.io';
const P = 'portico.dev';

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

function opaqueSecret(name: string, data: Record<string, string>): Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace: 'default' },
    type: 'Opaque',
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  };
}

const apr1 = execFileSync('openssl', ['passwd', '-apr1', 'apr-pass'], { encoding: 'utf8' }).trim();
const sha = `{SHA}${createHash('sha1').update('sha-pass').digest('base64')}`;
const htpasswd = [
  `alice:${bcrypt.hashSync('alice-pass', 4)}`,
  `bob:${apr1}`,
  `carol:${sha}`,
  'mallory:{PLAIN}nope',
  '',
].join('\n');

describe('IP lists and Basic auth (file mode)', () => {
  let pods: Pods;
  let dir: ManifestDir;
  let portico: PorticoProcess;

  const echoHeaders = (body: string): Record<string, string> =>
    (JSON.parse(body) as { headers: Record<string, string> }).headers;

  before(async () => {
    pods = await startPods('web');
    dir = await manifestDir({
      'class.yaml': yamlOf(ingressClass('portico').build()),
      'services.yaml': yamlOf(...pods.objects, service('empty').port(80).build()),
      'ip.yaml': yamlOf(
        ingress('only-tens')
          .cls('portico')
          .annotate(`${N}/whitelist-source-range`, '10.0.0.0/8')
          .host('tens.test')
          .prefix('/', svc('web', 80))
          .build(),
        ingress('no-loopback')
          .cls('portico')
          .annotate(`${P}/denylist-source-range`, '127.0.0.0/8')
          .annotate(`${P}/allowlist-source-range`, '127.0.0.1')
          .host('deny.test')
          .prefix('/', svc('web', 80))
          .build(),
        ingress('loopback-ok')
          .cls('portico')
          .annotate(`${N}/allowlist-source-range`, '127.0.0.1/32, ::1')
          .host('allow.test')
          .prefix('/', svc('web', 80))
          .build(),
      ),
      'auth.yaml': yamlOf(
        opaqueSecret('users', { auth: htpasswd }),
        opaqueSecret('user-map', { dave: bcrypt.hashSync('dave-pass', 4) }),
        ingress('private')
          .cls('portico')
          .annotate(`${N}/auth-type`, 'basic')
          .annotate(`${N}/auth-secret`, 'users')
          .annotate(`${N}/auth-realm`, 'Staff only')
          .host('private.test')
          .prefix('/', svc('web', 80))
          .build(),
        ingress('pass')
          .cls('portico')
          .annotate(`${N}/auth-type`, 'basic')
          .annotate(`${N}/auth-secret`, 'user-map')
          .annotate(`${N}/auth-secret-type`, 'auth-map')
          .annotate(`${P}/auth-pass-credentials`, 'true')
          .host('pass.test')
          .prefix('/', svc('web', 80))
          .build(),
        ingress('missing')
          .cls('portico')
          .annotate(`${N}/auth-type`, 'basic')
          .annotate(`${N}/auth-secret`, 'nowhere')
          .host('missing.test')
          .prefix('/', svc('web', 80))
          .build(),
        ingress('no-pods')
          .cls('portico')
          .annotate(`${N}/auth-type`, 'basic')
          .annotate(`${N}/auth-secret`, 'users')
          .host('empty.test')
          .prefix('/', svc('empty', 80))
          .build(),
      ),
    });
    portico = await startPortico({ manifests: dir.dir, args: ['--trusted-proxies', '127.0.0.9/32'] });
  });

  after(async () => {
    await portico?.stop('SIGKILL');
    await pods?.close();
    await dir?.cleanup();
  });

  const ipCases = [
    { name: 'a client outside the allow-list gets 403', host: 'tens.test', want: 403 },
    { name: 'the deny-list wins over the allow-list', host: 'deny.test', want: 403 },
    { name: 'a client on the allow-list (IPv4 /32) is served', host: 'allow.test', want: 200 },
    { name: 'a route without lists is not affected', host: 'private.test', want: 401 },
  ] as const;
  for (const c of ipCases) {
    test(c.name, async () => {
      const res = await get(portico.httpPort, '/', { host: c.host });
      assert.equal(res.status, c.want, res.body);
      if (c.want === 403) assert.match(res.body, /client address 127\.0\.0\.1 is not allowed/);
    });
  }

  test('X-Forwarded-For is not believed from an untrusted peer', async () => {
    const res = await get(portico.httpPort, '/', {
      host: 'tens.test',
      headers: { 'x-forwarded-for': '10.1.2.3' },
    });
    assert.equal(res.status, 403);
  });

  const authCases = [
    { name: 'no credentials: 401 with the realm', auth: undefined, want: 401 },
    {
      name: 'a bcrypt user with the right password is served',
      auth: basic('alice', 'alice-pass'),
      want: 200,
    },
    { name: 'an APR1-MD5 user is served', auth: basic('bob', 'apr-pass'), want: 200 },
    { name: 'a {SHA} user is served', auth: basic('carol', 'sha-pass'), want: 200 },
    { name: 'a wrong password: 401', auth: basic('alice', 'wrong'), want: 401 },
    { name: 'an unknown user: 401', auth: basic('zed', 'alice-pass'), want: 401 },
    { name: 'a user whose line could not be read cannot log in', auth: basic('mallory', 'nope'), want: 401 },
    { name: 'another scheme: 401', auth: 'Bearer abc', want: 401 },
  ] as const;
  for (const c of authCases) {
    test(`basic auth: ${c.name}`, async () => {
      const res = await get(portico.httpPort, '/', {
        host: 'private.test',
        ...(c.auth !== undefined ? { headers: { authorization: c.auth } } : {}),
      });
      assert.equal(res.status, c.want, res.body);
      if (c.want === 401) {
        assert.equal(res.headers['www-authenticate'], 'Basic realm="Staff only", charset="UTF-8"');
      } else {
        assert.equal(echoHeaders(res.body)['authorization'], undefined, 'credentials are not forwarded');
      }
    });
  }

  test('basic auth with auth-map and auth-pass-credentials forwards Authorization', async () => {
    const auth = basic('dave', 'dave-pass');
    const res = await get(portico.httpPort, '/', { host: 'pass.test', headers: { authorization: auth } });
    assert.equal(res.status, 200, res.body);
    assert.equal(echoHeaders(res.body)['authorization'], auth);
  });

  test('a missing auth Secret fails closed with 503 and a diagnostic at /routes', async () => {
    const res = await get(portico.httpPort, '/', {
      host: 'missing.test',
      headers: { authorization: basic('alice', 'alice-pass') },
    });
    assert.equal(res.status, 503);
    assert.match(res.body, /Basic authentication is configured but unusable/);
    const routes = await get(portico.adminPort, '/routes');
    assert.match(routes.body, /Secret default\/nowhere cannot be used for Basic authentication/);
  });

  test('credentials are asked for before "no ready endpoints" is told', async () => {
    const anonymous = await get(portico.httpPort, '/', { host: 'empty.test' });
    assert.equal(anonymous.status, 401);
    const known = await get(portico.httpPort, '/', {
      host: 'empty.test',
      headers: { authorization: basic('alice', 'alice-pass') },
    });
    assert.equal(known.status, 503);
    assert.match(known.body, /no ready endpoints/);
  });

  test('/explain names the Ingress, rule, endpoints and each policy verdict for a client', async () => {
    const ask = async (q: string) => {
      const res = await get(portico.adminPort, `/explain?${q}`);
      assert.equal(res.status, 200, res.body);
      return JSON.parse(res.body) as {
        match: { ingress: string; rule: { path: string; field: string }; endpoints: string[] };
        steps: { step: string; verdict: string }[];
        outcome: string;
      };
    };
    const outside = await ask('host=tens.test&path=/cart&client=192.0.2.1');
    assert.equal(outside.match.ingress, 'default/only-tens');
    assert.equal(outside.match.rule.path, '/');
    assert.equal(outside.match.endpoints.length, 1);
    assert.deepEqual(
      outside.steps.map((s) => [s.step, s.verdict]),
      [['ip-filter', 'refuse (403)']],
    );
    assert.equal(outside.outcome, 'ip-filter: refuse (403)');
    const inside = await ask('host=tens.test&path=/cart&client=10.2.3.4');
    assert.match(inside.outcome, /^proxied to default\/web:80 \(1 endpoint\)$/);
    const privateRoute = await ask('host=private.test&path=/');
    assert.deepEqual(
      privateRoute.steps.map((s) => s.step),
      ['basic-auth'],
    );
    assert.match(privateRoute.outcome, /once authenticated/);
    const missing = await ask('host=missing.test&path=/');
    assert.match(missing.outcome, /basic-auth: refuse \(503\)/);
    assert.equal((await get(portico.adminPort, '/explain?path=/')).status, 400);
  });

  test('portico explain --manifests prints the same report without serving', () => {
    const out = execFileSync(
      process.execPath,
      [
        PORTICO_BIN,
        'explain',
        '--manifests',
        dir.dir,
        '--host',
        'tens.test',
        '--client',
        '192.0.2.1',
        '--output',
        'text',
      ],
      { encoding: 'utf8', timeout: 20_000 },
    );
    assert.match(out, /^ingress {3}default\/only-tens rule tens\.test\/ Prefix/m);
    assert.match(out, /^policy {4}ip-filter: refuse \(403\) \(allow=10\.0\.0\.0\/8 deny=null\)$/m);
    assert.match(out, /^outcome {3}ip-filter: refuse \(403\)$/m);
  });

  test('an edited auth Secret applies without a restart', async () => {
    const file = join(dir.dir, 'auth.yaml');
    const docs = (await readFile(file, 'utf8')).split('---\n');
    const at = docs.findIndex((d) => d.includes('name: user-map\n'));
    assert.ok(at !== -1);
    docs[at] = yamlOf(opaqueSecret('user-map', { erin: bcrypt.hashSync('erin-pass', 4) }));
    await writeFile(file, docs.join('---\n'));
    const as = (user: string, password: string) =>
      get(portico.httpPort, '/', { host: 'pass.test', headers: { authorization: basic(user, password) } });
    await waitUntil(
      async () => (await as('erin', 'erin-pass')).status === 200,
      10_000,
      'the new user to log in',
    );
    assert.equal((await as('dave', 'dave-pass')).status, 401, 'the removed user is refused');
  });
});

describe('IP lists behind a trusted proxy', () => {
  let pods: Pods;
  let dir: ManifestDir;
  let portico: PorticoProcess;

  before(async () => {
    pods = await startPods('web');
    dir = await manifestDir({
      'class.yaml': yamlOf(ingressClass('portico').build()),
      'services.yaml': yamlOf(...pods.objects),
      'ip.yaml': yamlOf(
        ingress('only-tens')
          .cls('portico')
          .annotate(`${N}/whitelist-source-range`, '10.0.0.0/8')
          .host('tens.test')
          .prefix('/', svc('web', 80))
          .build(),
      ),
    });
    portico = await startPortico({ manifests: dir.dir, args: ['--trusted-proxies', '127.0.0.1/32'] });
  });

  after(async () => {
    await portico?.stop('SIGKILL');
    await pods?.close();
    await dir?.cleanup();
  });

  const cases = [
    { name: 'the client named by the trusted proxy is checked', xff: '10.1.2.3', want: 200 },
    {
      name: 'X-Forwarded-For is walked right to left past trusted hops',
      xff: '10.9.9.9, 127.0.0.1',
      want: 200,
    },
    { name: 'a spoofed left-most entry does not help', xff: '10.1.1.1, 192.0.2.7', want: 403 },
    { name: 'without X-Forwarded-For the peer is the client', xff: undefined, want: 403 },
  ] as const;
  for (const c of cases) {
    test(c.name, async () => {
      const res = await get(portico.httpPort, '/', {
        host: 'tens.test',
        ...(c.xff !== undefined ? { headers: { 'x-forwarded-for': c.xff } } : {}),
      });
      assert.equal(res.status, c.want, res.body);
    });
  }
});

describe('ConfigMap address lists (whitelist-source-range, denylist-source-range, block-cidrs)', () => {
  let pods: Pods;
  let dir: ManifestDir;
  let portico: PorticoProcess;

  before(async () => {
    pods = await startPods('web');
    dir = await manifestDir({
      'class.yaml': yamlOf(ingressClass('portico').build()),
      'settings.yaml': settingsConfigMap({
        'whitelist-source-range': '10.0.0.0/8',
        'denylist-source-range': '10.6.6.0/24',
        'block-cidrs': '10.7.7.7',
      }),
      'services.yaml': yamlOf(...pods.objects),
      'ip.yaml': yamlOf(
        ingress('defaults').cls('portico').host('defaults.test').prefix('/', svc('web', 80)).build(),
        ingress('own-lists')
          .cls('portico')
          .annotate(`${N}/whitelist-source-range`, '192.0.2.0/24, 10.7.7.7')
          .annotate(`${N}/denylist-source-range`, '192.0.2.66')
          .host('own.test')
          .prefix('/', svc('web', 80))
          .build(),
      ),
    });
    portico = await startPortico({
      manifests: dir.dir,
      args: ['--trusted-proxies', '127.0.0.1/32', '--configmap', 'ingress/portico'],
    });
  });

  after(async () => {
    await portico?.stop('SIGKILL');
    await pods?.close();
    await dir?.cleanup();
  });

  const cases = [
    {
      name: 'the ConfigMap allow-list admits its clients',
      host: 'defaults.test',
      client: '10.1.2.3',
      want: 200,
    },
    {
      name: 'the ConfigMap allow-list refuses others',
      host: 'defaults.test',
      client: '192.0.2.1',
      want: 403,
    },
    {
      name: 'the ConfigMap deny-list refuses inside the allow-list',
      host: 'defaults.test',
      client: '10.6.6.1',
      want: 403,
    },
    {
      name: "an Ingress's own allow-list replaces the ConfigMap's",
      host: 'own.test',
      client: '192.0.2.1',
      want: 200,
    },
    {
      name: "an Ingress's own deny-list replaces the ConfigMap's",
      host: 'own.test',
      client: '192.0.2.66',
      want: 403,
    },
    {
      name: 'block-cidrs refuses a client every list would admit',
      host: 'own.test',
      client: '10.7.7.7',
      want: 403,
    },
  ] as const;
  for (const c of cases) {
    test(c.name, async () => {
      const res = await get(portico.httpPort, '/', {
        host: c.host,
        headers: { 'x-forwarded-for': c.client },
      });
      assert.equal(res.status, c.want, res.body);
    });
  }
});

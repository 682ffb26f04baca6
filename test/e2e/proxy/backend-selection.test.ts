/**
 * Canary, session affinity and consistent hashing end to end: real backends behind an in-process
 * data plane, snapshots compiled by the real translate/compile path or from hand-built models.
 * Every loop is bounded in count; the weight split is checked with a loose tolerance.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { compileSnapshot } from '../../../src/compile/snapshot.js';
import type { EndpointTable } from '../../../src/endpoints/types.js';
import { translate } from '../../../src/model/translate/translate.js';
import type {
  AffinityPolicy,
  CanaryRule,
  LoadBalancePolicy,
  Route,
  RoutePolicy,
  RoutingModel,
} from '../../../src/model/types.js';
import type { RoutesReport } from '../../../src/proxy/admin.js';
import { type Backend, type Echo, startBackend } from '../../support/backends.js';
import { ingress, ingressClass, inputFrom, service, svc, TEST_OPTIONS } from '../../support/builders.js';
import { backendRef } from '../../support/fake-snapshot.js';
import { type Response, request } from '../../support/http.js';
import { type Harness, startDataPlane } from './harness.js';

const N = 'nginx.ingress.kubernetes.io/';
let main: Backend[];
let canaryBackend: Backend;
let h: Harness;
let generation = 1;

const mainRef = backendRef('main');
const canaryRef = backendRef('canary');

function table(mainBackends: readonly Backend[]): EndpointTable {
  return new Map([
    [mainRef.key, mainBackends.map((b) => ({ address: b.host, port: b.port, kind: 'ip' as const }))],
    [canaryRef.key, [{ address: canaryBackend.host, port: canaryBackend.port, kind: 'ip' as const }]],
    [
      'default/web:80',
      mainBackends.slice(0, 1).map((b) => ({ address: b.host, port: b.port, kind: 'ip' as const })),
    ],
    [
      'default/web-canary:80',
      [{ address: canaryBackend.host, port: canaryBackend.port, kind: 'ip' as const }],
    ],
  ]);
}

function publish(routes: readonly Route[], mainBackends: readonly Backend[] = main): void {
  const model: RoutingModel = {
    routes,
    hostDefaults: new Map(),
    ingresses: [{ ingress: 'default/main', state: 'served', reason: '' }],
    diagnostics: [],
  };
  h.dp.publishRoutes(compileSnapshot(model, ++generation));
  h.dp.publishEndpoints(table(mainBackends));
}

function route(
  host: string,
  extra: { canary?: Partial<CanaryRule>; policy?: Partial<RoutePolicy> } = {},
): Route {
  return {
    host,
    path: '/',
    pathType: 'Prefix',
    backend: mainRef,
    ingress: 'default/main',
    field: 'spec.rules[0].http.paths[0]',
    ...(extra.policy !== undefined ? { policy: { backendProtocol: 'HTTP', ...extra.policy } } : {}),
    ...(extra.canary !== undefined
      ? {
          canary: {
            backend: canaryRef,
            ingress: 'default/canary',
            weight: 0,
            weightTotal: 100,
            ...extra.canary,
          },
        }
      : {}),
  };
}

const affinity = (extra: Partial<AffinityPolicy> = {}): AffinityPolicy => ({
  cookieName: 'route',
  conditionalSameSiteNone: false,
  mode: 'balanced',
  changeOnFailure: false,
  canaryBehavior: 'sticky',
  ...extra,
});

async function get(host: string, headers: Record<string, string> = {}): Promise<Response> {
  const res = await request(h.ports.http, { path: '/', headers: { host, ...headers } });
  assert.equal(res.status, 200, res.text());
  return res;
}
const nameOf = (res: Response): string => res.json<Echo>().name;
function routeCookie(res: Response): string | undefined {
  const set = res.headers['set-cookie']?.find((c) => c.startsWith('route='));
  return set?.slice(0, set.indexOf(';'));
}

before(async () => {
  main = await Promise.all(['m1', 'm2', 'm3', 'm4'].map((name) => startBackend({ name })));
  canaryBackend = await startBackend({ name: 'canary' });
  h = await startDataPlane({});
});

after(async () => {
  await h.close();
  await Promise.all([...main, canaryBackend].map((b) => b.close()));
});

describe('canary', () => {
  const three = () => main.slice(0, 3);
  const cases: readonly {
    name: string;
    canary: Partial<CanaryRule>;
    headers: Record<string, string>;
    want: 'canary' | 'main';
  }[] = [
    {
      name: 'header "always" goes to the canary',
      canary: { byHeader: 'x-canary' },
      headers: { 'x-canary': 'always' },
      want: 'canary',
    },
    {
      name: 'header "never" stays on main, even at weight 100',
      canary: { byHeader: 'x-canary', weight: 100 },
      headers: { 'x-canary': 'never' },
      want: 'main',
    },
    {
      name: 'the header value goes to the canary',
      canary: { byHeader: 'x-env', byHeaderValue: 'staging' },
      headers: { 'x-env': 'staging' },
      want: 'canary',
    },
    {
      name: 'another header value stays on main',
      canary: { byHeader: 'x-env', byHeaderValue: 'staging' },
      headers: { 'x-env': 'prod' },
      want: 'main',
    },
    {
      name: 'a header matching the pattern goes to the canary',
      canary: { byHeader: 'x-user', byHeaderPattern: '^(alice|bob)$' },
      headers: { 'x-user': 'alice' },
      want: 'canary',
    },
    {
      name: 'a header missing the pattern stays on main',
      canary: { byHeader: 'x-user', byHeaderPattern: '^(alice|bob)$' },
      headers: { 'x-user': 'carol' },
      want: 'main',
    },
    {
      name: 'cookie "always" goes to the canary',
      canary: { byCookie: 'beta' },
      headers: { cookie: 'x=1; beta=always' },
      want: 'canary',
    },
    {
      name: 'cookie "never" stays on main, even at weight 100',
      canary: { byCookie: 'beta', weight: 100 },
      headers: { cookie: 'beta=never' },
      want: 'main',
    },
    {
      name: 'the header decides before the cookie',
      canary: { byHeader: 'x-canary', byCookie: 'beta' },
      headers: { 'x-canary': 'never', cookie: 'beta=always' },
      want: 'main',
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      publish([route('canary.test', { canary: c.canary })], three());
      for (let i = 0; i < 3; i++) {
        const got = nameOf(await get('canary.test', c.headers));
        assert.equal(got === 'canary' ? 'canary' : 'main', c.want);
      }
    });
  }

  test('/routes shows the canary of a route with its rule and endpoints', async () => {
    publish([route('canary.test', { canary: { byHeader: 'x-canary', weight: 5 } })], main.slice(0, 3));
    const res = await request(h.ports.admin, { path: '/routes' });
    const report = res.json<RoutesReport>();
    assert.deepEqual(report.routes[0]?.canary, {
      ingress: 'default/canary',
      byHeader: 'x-canary',
      weight: 5,
      weightTotal: 100,
      backend: canaryRef.key,
      problem: null,
      endpoints: [`${canaryBackend.host}:${canaryBackend.port}`],
      affinity: false,
      loadBalance: null,
    });
  });

  test('weight 30 sends about 30 % of 400 requests to the canary', async () => {
    publish([route('canary.test', { canary: { weight: 30 } })], three());
    let canary = 0;
    const total = 400;
    for (let i = 0; i < total; i++) if (nameOf(await get('canary.test')) === 'canary') canary++;
    // Binomial(400, 0.3): mean 120, sd 9.2; the bounds are over 5 sd away.
    assert.ok(canary > 70 && canary < 170, `canary served ${canary} of ${total}`);
  });

  test('a canary without endpoints leaves every request on main', async () => {
    publish([route('canary.test', { canary: { byHeader: 'x-canary' } })], three());
    h.dp.publishEndpoints(new Map([[mainRef.key, table(three()).get(mainRef.key) ?? []]]));
    assert.notEqual(nameOf(await get('canary.test', { 'x-canary': 'always' })), 'canary');
  });

  test('a canary Ingress never serves on its own; with its main Ingress it serves only what its rules choose', async () => {
    const cls = ingressClass('portico').build();
    const services = [service('web').port(80).build(), service('web-canary').port(80).build()];
    const canaryIngress = ingress('beta')
      .cls('portico')
      .created('2024-02-01T00:00:00Z')
      .annotate(`${N}canary`, 'true')
      .annotate(`${N}canary-by-header`, 'x-canary')
      .host('t.test')
      .prefix('/', svc('web-canary', 80))
      .build();
    const mainIngress = ingress('web')
      .cls('portico')
      .created('2024-01-01T00:00:00Z')
      .host('t.test')
      .prefix('/', svc('web', 80))
      .build();

    h.dp.publishRoutes(
      compileSnapshot(translate(inputFrom([cls, ...services, canaryIngress]), TEST_OPTIONS), ++generation),
    );
    h.dp.publishEndpoints(table(main));
    const alone = await request(h.ports.http, {
      path: '/',
      headers: { host: 't.test', 'x-canary': 'always' },
    });
    assert.equal(alone.status, 404, 'a canary alone is not a route');

    h.dp.publishRoutes(
      compileSnapshot(
        translate(inputFrom([cls, ...services, canaryIngress, mainIngress]), TEST_OPTIONS),
        ++generation,
      ),
    );
    assert.equal(nameOf(await get('t.test')), 'm1');
    assert.equal(nameOf(await get('t.test', { 'x-canary': 'always' })), 'canary');
  });

  test('sticky canary: a client the canary served keeps reaching it through the affinity cookie', async () => {
    const sticky = affinity();
    publish(
      [
        route('sticky.test', {
          policy: { affinity: sticky },
          canary: { weight: 50, policy: { backendProtocol: 'HTTP', affinity: sticky } },
        }),
      ],
      main.slice(0, 3),
    );
    let cookie: string | undefined;
    // Weight 50: the chance that 60 draws never pick the canary is 2^-60.
    for (let i = 0; i < 60 && cookie === undefined; i++) {
      const res = await get('sticky.test');
      if (nameOf(res) === 'canary') cookie = routeCookie(res);
    }
    assert.ok(cookie !== undefined, 'the canary set an affinity cookie');
    for (let i = 0; i < 10; i++) assert.equal(nameOf(await get('sticky.test', { cookie })), 'canary');
    let mainCookie: string | undefined;
    let mainName = '';
    for (let i = 0; i < 60 && mainCookie === undefined; i++) {
      const res = await get('sticky.test');
      if (nameOf(res) !== 'canary') {
        mainCookie = routeCookie(res);
        mainName = nameOf(res);
      }
    }
    assert.ok(mainCookie !== undefined, 'the main backend set an affinity cookie');
    for (let i = 0; i < 10; i++)
      assert.equal(nameOf(await get('sticky.test', { cookie: mainCookie })), mainName);
  });
});

describe('session affinity', () => {
  for (const mode of ['balanced', 'persistent'] as const) {
    test(`${mode}: the pinned endpoint survives a snapshot swap that changes the endpoint set but keeps it ready`, async () => {
      const policy = { affinity: affinity({ mode }) };
      publish([route('sticky.test', { policy })], main.slice(0, 3));
      const first = await get('sticky.test');
      const cookie = routeCookie(first);
      assert.ok(cookie !== undefined, 'the first response sets the cookie');
      assert.match(first.headers['set-cookie']?.[0] ?? '', /^route=[^;]+; Path=\/; HttpOnly$/);
      const pinned = nameOf(first);
      for (let i = 0; i < 5; i++) {
        const res = await get('sticky.test', { cookie });
        assert.equal(nameOf(res), pinned);
        assert.equal(routeCookie(res), undefined, 'a valid cookie is not set again');
      }
      // A new snapshot, and one of the other endpoints leaves.
      const keep = main
        .slice(0, 3)
        .filter((b, i) => b.name === pinned || i === main.findIndex((x) => x.name !== pinned));
      publish([route('sticky.test', { policy })], keep);
      for (let i = 0; i < 5; i++) assert.equal(nameOf(await get('sticky.test', { cookie })), pinned);
    });
  }

  test('when an endpoint is added, persistent sessions never move while balanced ones partly move to it', async () => {
    const moved = { balanced: 0, persistent: 0 };
    const sessions = 40;
    for (const mode of ['balanced', 'persistent'] as const) {
      const policy = { affinity: affinity({ mode }) };
      publish([route('grow.test', { policy })], main.slice(0, 3));
      const pins: { cookie: string; name: string }[] = [];
      for (let i = 0; i < sessions; i++) {
        const res = await get('grow.test');
        pins.push({ cookie: routeCookie(res) ?? '', name: nameOf(res) });
      }
      publish([route('grow.test', { policy })], main);
      for (const pin of pins) {
        const now = nameOf(await get('grow.test', { cookie: pin.cookie }));
        if (now !== pin.name) {
          moved[mode]++;
          assert.equal(now, 'm4', 'a session only moves to the added endpoint');
        }
      }
    }
    assert.equal(moved.persistent, 0);
    // Expected 40 / 4 = 10 balanced moves; none at all has probability (3/4)^40 ≈ 1e-5.
    assert.ok(moved.balanced > 0, 'some balanced sessions moved to the new endpoint');
  });

  test('a failed pinned endpoint is retried elsewhere; change-on-failure re-pins the cookie to it', async () => {
    const spare = await startBackend({ name: 'spare' });
    const policy = { affinity: affinity({ mode: 'persistent', changeOnFailure: true }) };
    publish([route('fail.test', { policy })], [spare, main[0] as Backend]);
    let cookie: string | undefined;
    for (let i = 0; i < 40 && cookie === undefined; i++) {
      const res = await get('fail.test');
      if (nameOf(res) === 'spare') cookie = routeCookie(res);
    }
    assert.ok(cookie !== undefined, 'a session pinned to the spare endpoint');
    await spare.close();
    const res = await get('fail.test', { cookie });
    assert.equal(nameOf(res), 'm1', 'the retry reached the other endpoint');
    const moved = routeCookie(res);
    assert.ok(moved !== undefined && moved !== cookie, 'the cookie now pins the endpoint that answered');
    assert.equal(nameOf(await get('fail.test', { cookie: moved })), 'm1');
  });
});

describe('upstream-hash-by', () => {
  test('requests with the same key reach the same endpoint; different keys spread', async () => {
    const loadBalance: LoadBalancePolicy = { kind: 'hash', key: '$http_x_user' };
    publish([route('hash.test', { policy: { loadBalance } })], main.slice(0, 3));
    const seen = new Set<string>();
    for (let u = 0; u < 20; u++) {
      const user = `user-${u}`;
      const first = nameOf(await get('hash.test', { 'x-user': user }));
      seen.add(first);
      for (let i = 0; i < 3; i++) assert.equal(nameOf(await get('hash.test', { 'x-user': user })), first);
    }
    assert.ok(seen.size >= 2, `20 keys landed on ${seen.size} endpoint(s)`);
  });

  test('ewma sends nearly everything to the endpoint that answers faster', async () => {
    // A backend that answers every request after 150 ms, next to an echo backend answering at once.
    const slow = createServer((_req, res) => {
      setTimeout(() => res.end(JSON.stringify({ name: 'slow' })), 150);
    });
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
    const port = (slow.address() as AddressInfo).port;
    const slowBackend = { host: '127.0.0.1', port, name: 'slow' } as Backend;
    try {
      publish(
        [route('ewma.test', { policy: { loadBalance: { kind: 'ewma' } } })],
        [main[0] as Backend, slowBackend],
      );
      let slowCount = 0;
      for (let i = 0; i < 30; i++) if (nameOf(await get('ewma.test')) === 'slow') slowCount++;
      // Two endpoints: both are drawn every time, so once each was measured the fast one wins
      // until the slow one's score decays (10 s): at most the first two requests can be slow.
      assert.ok(slowCount <= 2, `the slow endpoint served ${slowCount} of 30`);
    } finally {
      slow.closeAllConnections();
      await new Promise((resolve) => slow.close(resolve));
    }
  });
});

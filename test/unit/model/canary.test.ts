/**
 * Canary Ingresses through translation: attached to the main route with the same host, path and
 * pathType, never a route, host default or catch-all of their own, one per path, and only their
 * affinity (legacy) and load balancing taken over.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { KubeObject } from '../../../src/model/objects.js';
import { translate } from '../../../src/model/translate/translate.js';
import type { RoutingModel } from '../../../src/model/types.js';
import {
  answer,
  ingress,
  ingressClass,
  inputFrom,
  routeObjects,
  service,
  svc,
  TEST_OPTIONS,
} from '../../support/builders.js';

const N = 'nginx.ingress.kubernetes.io/';
const cls = ingressClass('portico').build();
const base: readonly KubeObject[] = [
  cls,
  service('web').port(80).build(),
  service('web-canary').port(80).build(),
  service('other-canary').port(80).build(),
];
const T1 = '2024-01-01T00:00:00Z';
const T2 = '2024-02-01T00:00:00Z';
const T3 = '2024-03-01T00:00:00Z';

const main = (name = 'main') => ingress(name).cls('portico').created(T1);
const canary = (name = 'canary', created = T2) =>
  ingress(name).cls('portico').created(created).annotate(`${N}canary`, 'true');
const model = (...objects: readonly KubeObject[]): RoutingModel =>
  translate(inputFrom([...base, ...objects]), TEST_OPTIONS);
const canaryDiagnostics = (m: RoutingModel) =>
  m.diagnostics.filter((d) => d.code === 'PORTICO_WARN_CANARY').map((d) => [d.object, d.field, d.message]);

describe('canary attachment', () => {
  const cases: readonly {
    name: string;
    objects: readonly KubeObject[];
    /** `host path` → canary backend key (or undefined), per route of the model. */
    canaries: Record<string, string | undefined>;
    diagnostics?: readonly (readonly [string, string, string])[];
  }[] = [
    {
      name: 'a canary joins the main route with the same host, path and pathType',
      objects: [
        main().host('a.test').prefix('/', svc('web', 80)).build(),
        canary()
          .annotate(`${N}canary-weight`, '20')
          .host('a.test')
          .prefix('/', svc('web-canary', 80))
          .build(),
      ],
      canaries: { 'a.test /': 'default/web-canary:80' },
    },
    {
      name: 'a canary never serves on its own: without a main route it is ignored and reported',
      objects: [canary().host('b.test').prefix('/', svc('web-canary', 80)).build()],
      canaries: {},
      diagnostics: [
        [
          'Ingress default/canary',
          'spec.rules[0].http.paths[0].path',
          'canary for path "/" (Prefix) on host "b.test" is ignored: no main Ingress serves this host, path and pathType (a canary never serves on its own)',
        ],
      ],
    },
    {
      name: 'a different pathType does not attach (ingress-nginx compares path and pathType)',
      objects: [
        main().host('a.test').prefix('/api', svc('web', 80)).build(),
        canary().host('a.test').exact('/api', svc('web-canary', 80)).build(),
      ],
      canaries: { 'a.test /api': undefined },
      diagnostics: [
        [
          'Ingress default/canary',
          'spec.rules[0].http.paths[0].path',
          'canary for path "/api" (Exact) on host "a.test" is ignored: no main Ingress serves this host, path and pathType (a canary never serves on its own)',
        ],
      ],
    },
    {
      name: 'with two canaries on one path the oldest wins and the younger is reported',
      objects: [
        main().host('a.test').prefix('/', svc('web', 80)).build(),
        canary('second', T3).host('a.test').prefix('/', svc('other-canary', 80)).build(),
        canary('first', T2).host('a.test').prefix('/', svc('web-canary', 80)).build(),
      ],
      canaries: { 'a.test /': 'default/web-canary:80' },
      diagnostics: [
        [
          'Ingress default/second',
          'spec.rules[0].http.paths[0].backend',
          'canary for path "/" (Prefix) on host "a.test" is ignored: Ingress default/first (older) is already its canary; only one canary per path',
        ],
      ],
    },
    {
      name: "a canary pointing at the main route's own backend is reported and ignored",
      objects: [
        main().host('a.test').prefix('/', svc('web', 80)).build(),
        canary().host('a.test').prefix('/', svc('web', 80)).build(),
      ],
      canaries: { 'a.test /': undefined },
      diagnostics: [
        [
          'Ingress default/canary',
          'spec.rules[0].http.paths[0].backend',
          'canary for path "/" (Prefix) on host "a.test" is ignored: it points at the main route\'s own backend default/web:80',
        ],
      ],
    },
    {
      name: 'a canary spec.defaultBackend attaches to the routes of rules without host',
      objects: [
        main().rule().prefix('/', svc('web', 80)).prefix('/x', svc('web', 80)).build(),
        canary().defaultBackend(svc('web-canary', 80)).build(),
      ],
      canaries: { ' /': 'default/web-canary:80', ' /x': 'default/web-canary:80' },
    },
    {
      name: 'a canary spec.defaultBackend without host-less main routes is reported, never a catch-all',
      objects: [
        main().host('a.test').prefix('/', svc('web', 80)).build(),
        canary().defaultBackend(svc('web-canary', 80)).build(),
      ],
      canaries: { 'a.test /': undefined },
      diagnostics: [
        [
          'Ingress default/canary',
          'spec.defaultBackend',
          'canary spec.defaultBackend is ignored: no main Ingress has rules without host (a canary is never the catch-all)',
        ],
      ],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const m = model(...c.objects);
      const got = Object.fromEntries(m.routes.map((r) => [`${r.host} ${r.path}`, r.canary?.backend.key]));
      assert.deepEqual(got, c.canaries);
      assert.deepEqual(canaryDiagnostics(m), c.diagnostics ?? []);
      assert.equal(m.catchAll, undefined, 'a canary is never the catch-all');
      assert.equal(m.hostDefaults.size, 0, 'a canary is never a host default');
    });
  }

  test('a canary Ingress older than its main one still attaches (attachment waits for every main route)', () => {
    const m = model(
      canary('early', '2023-01-01T00:00:00Z').host('a.test').prefix('/', svc('web-canary', 80)).build(),
      main().host('a.test').prefix('/', svc('web', 80)).build(),
    );
    assert.equal(m.routes[0]?.canary?.ingress, 'default/early');
    assert.equal(m.routes[0]?.ingress, 'default/main');
  });

  test("a canary Ingress's spec.tls configures nothing: its hosts get no TLS binding", () => {
    const m = model(
      main().host('a.test').prefix('/', svc('web', 80)).build(),
      canary().tls('canary-tls', 'a.test').host('a.test').prefix('/', svc('web-canary', 80)).build(),
    );
    assert.equal(m.tls, undefined);
    assert.equal(m.tlsHosts, undefined);
    assert.equal(m.routes[0]?.canary?.ingress, 'default/canary');
  });

  test('a canary never claims a path: the route and its answer stay the main backend', () => {
    const snapshot = routeObjects([
      ...base,
      canary('early', '2023-01-01T00:00:00Z').host('a.test').prefix('/', svc('web-canary', 80)).build(),
      main().host('a.test').prefix('/', svc('web', 80)).build(),
    ]);
    assert.equal(answer(snapshot, 'a.test', '/'), 'default/web:80');
  });

  test('the rule carries header, value, cookie and weight exactly as annotated', () => {
    const m = model(
      main().host('a.test').prefix('/', svc('web', 80)).build(),
      canary()
        .annotate(`${N}canary-by-header`, 'X-Canary')
        .annotate(`${N}canary-by-header-value`, 'on')
        .annotate(`${N}canary-by-cookie`, 'c')
        .annotate(`${N}canary-weight`, '5')
        .annotate(`${N}canary-weight-total`, '50')
        .host('a.test')
        .prefix('/', svc('web-canary', 80))
        .build(),
    );
    const rule = m.routes[0]?.canary;
    assert.deepEqual(
      { ...rule, backend: rule?.backend.key },
      {
        backend: 'default/web-canary:80',
        ingress: 'default/canary',
        byHeader: 'x-canary',
        byHeaderValue: 'on',
        byCookie: 'c',
        weight: 5,
        weightTotal: 50,
      },
    );
  });
});

describe('canary policy', () => {
  const cases: readonly {
    name: string;
    mainAnnotations: Record<string, string>;
    canaryAnnotations: Record<string, string>;
    want: { cookie?: string; loadBalance?: string; backendProtocol: string };
  }[] = [
    {
      name: "sticky (default): the canary uses the main Ingress's affinity, not its own",
      mainAnnotations: { [`${N}affinity`]: 'cookie', [`${N}session-cookie-name`]: 'main' },
      canaryAnnotations: { [`${N}affinity`]: 'cookie', [`${N}session-cookie-name`]: 'mine' },
      want: { cookie: 'main', backendProtocol: 'HTTP' },
    },
    {
      name: "legacy: the canary uses its own affinity (here none), not the main Ingress's",
      mainAnnotations: { [`${N}affinity`]: 'cookie', [`${N}session-cookie-name`]: 'main' },
      canaryAnnotations: { [`${N}affinity-canary-behavior`]: 'legacy' },
      want: { backendProtocol: 'HTTP' },
    },
    {
      name: 'legacy with its own affinity: the canary cookie is its own',
      mainAnnotations: {},
      canaryAnnotations: {
        [`${N}affinity-canary-behavior`]: 'legacy',
        [`${N}affinity`]: 'cookie',
        [`${N}session-cookie-name`]: 'mine',
      },
      want: { cookie: 'mine', backendProtocol: 'HTTP' },
    },
    {
      name: "load balancing is the canary's own; everything else (backend-protocol) is the main's",
      mainAnnotations: { [`${N}backend-protocol`]: 'HTTPS', [`${N}load-balance`]: 'ewma' },
      canaryAnnotations: { [`${N}upstream-hash-by`]: '$remote_addr', [`${N}backend-protocol`]: 'GRPC' },
      want: { loadBalance: 'hash', backendProtocol: 'HTTPS' },
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      let m1 = main().host('a.test').prefix('/', svc('web', 80));
      for (const [k, v] of Object.entries(c.mainAnnotations)) m1 = m1.annotate(k, v);
      let c1 = canary().host('a.test').prefix('/', svc('web-canary', 80));
      for (const [k, v] of Object.entries(c.canaryAnnotations)) c1 = c1.annotate(k, v);
      const policy = model(m1.build(), c1.build()).routes[0]?.canary?.policy;
      assert.deepEqual(
        {
          ...(policy?.affinity !== undefined ? { cookie: policy.affinity.cookieName } : {}),
          ...(policy?.loadBalance !== undefined ? { loadBalance: policy.loadBalance.kind } : {}),
          backendProtocol: policy?.backendProtocol ?? 'HTTP',
        },
        c.want,
      );
    });
  }
});

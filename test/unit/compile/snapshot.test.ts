import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compileSnapshot, NOT_FOUND } from '../../../src/compile/snapshot.js';
import type { MatchKind } from '../../../src/compile/types.js';
import type { KubeObject } from '../../../src/model/objects.js';
import type { TranslateOptions } from '../../../src/model/translate/translate.js';
import { translate } from '../../../src/model/translate/translate.js';
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

const cls = ingressClass('portico').build();
const services = ['a', 'b', 'c', 'd', 'e', 'wild', 'hostless', 'fallback', 'flag'].map((n) =>
  service(n).port(80).build(),
);
const T1 = '2024-01-01T00:00:00Z';
const T2 = '2024-02-01T00:00:00Z';
const T3 = '2024-03-01T00:00:00Z';

interface Case {
  readonly name: string;
  readonly objects: readonly KubeObject[];
  readonly options?: Partial<TranslateOptions>;
  readonly requests: readonly (readonly [host: string, path: string, want: string, kind: MatchKind])[];
}

const cases: readonly Case[] = [
  {
    name: 'a request for a precise host is matched only against that host, never against the rules without host',
    objects: [
      ingress('host').cls('portico').created(T1).host('a.example').prefix('/api', svc('a', 80)).build(),
      ingress('nohost').cls('portico').created(T2).rule().prefix('/', svc('hostless', 80)).build(),
    ],
    requests: [
      ['a.example', '/api/x', 'default/a:80', 'path'],
      ['a.example', '/other', 'not-found', 'not-found'],
      ['elsewhere.example', '/other', 'default/hostless:80', 'path'],
    ],
  },
  {
    name: "when no path of the selected host matches, the host's defaultBackend answers before the catch-all",
    objects: [
      ingress('host')
        .cls('portico')
        .created(T1)
        .host('a.example')
        .prefix('/api', svc('a', 80))
        .defaultBackend(svc('b', 80))
        .build(),
      ingress('catch').cls('portico').created(T2).defaultBackend(svc('fallback', 80)).build(),
    ],
    requests: [
      ['a.example', '/nope', 'default/b:80', 'host-default'],
      ['other.example', '/nope', 'default/fallback:80', 'catch-all'],
    ],
  },
  {
    name: 'a host rule without http paths still claims its host: its requests go to the catch-all, not to the rules without host',
    objects: [
      ingress('bare').cls('portico').created(T1).hostOnly('bare.example').build(),
      ingress('nohost').cls('portico').created(T2).rule().prefix('/', svc('hostless', 80)).build(),
      ingress('catch').cls('portico').created(T3).defaultBackend(svc('fallback', 80)).build(),
    ],
    requests: [
      ['bare.example', '/anything', 'default/fallback:80', 'catch-all'],
      ['other.example', '/anything', 'default/hostless:80', 'path'],
    ],
  },
  {
    name: 'a host rule without http paths answers with its own defaultBackend when its Ingress has one',
    objects: [
      ingress('bare')
        .cls('portico')
        .created(T1)
        .hostOnly('bare.example')
        .defaultBackend(svc('b', 80))
        .build(),
      ingress('nohost').cls('portico').created(T2).rule().prefix('/', svc('hostless', 80)).build(),
    ],
    requests: [['bare.example', '/x', 'default/b:80', 'host-default']],
  },
  {
    name: 'when the selected host has no defaultBackend, the catch-all answers',
    objects: [
      ingress('host').cls('portico').created(T1).host('a.example').prefix('/api', svc('a', 80)).build(),
      ingress('catch').cls('portico').created(T2).defaultBackend(svc('fallback', 80)).build(),
    ],
    requests: [['a.example', '/nope', 'default/fallback:80', 'catch-all']],
  },
  {
    name: 'a wildcard host is selected when no precise host matches, and is then final',
    objects: [
      ingress('wild').cls('portico').created(T1).host('*.foo.com').prefix('/w', svc('wild', 80)).build(),
      ingress('precise').cls('portico').created(T2).host('bar.foo.com').prefix('/p', svc('a', 80)).build(),
      ingress('nohost').cls('portico').created(T3).rule().prefix('/', svc('hostless', 80)).build(),
    ],
    requests: [
      ['baz.foo.com', '/w', 'default/wild:80', 'path'],
      ['baz.foo.com', '/p', 'not-found', 'not-found'],
      ['bar.foo.com', '/p', 'default/a:80', 'path'],
      ['bar.foo.com', '/w', 'not-found', 'not-found'],
      ['x.baz.foo.com', '/w', 'default/hostless:80', 'path'],
      ['foo.com', '/w', 'default/hostless:80', 'path'],
    ],
  },
  {
    name: 'paths of one host are merged across all Ingresses naming it',
    objects: [
      ingress('one').cls('portico').created(T1).host('a.example').prefix('/one', svc('a', 80)).build(),
      ingress('two').cls('portico').created(T2).host('a.example').prefix('/two', svc('b', 80)).build(),
    ],
    requests: [
      ['a.example', '/one/x', 'default/a:80', 'path'],
      ['a.example', '/two/x', 'default/b:80', 'path'],
    ],
  },
  {
    name: 'an unmatched host falls to the rules without host, then their defaultBackend, then the catch-all',
    objects: [
      ingress('nohost')
        .cls('portico')
        .created(T2)
        .rule()
        .prefix('/app', svc('hostless', 80))
        .defaultBackend(svc('c', 80))
        .build(),
      ingress('catch').cls('portico').created(T1).defaultBackend(svc('fallback', 80)).build(),
    ],
    requests: [
      ['x.example', '/app', 'default/hostless:80', 'path'],
      ['x.example', '/zzz', 'default/c:80', 'host-default'],
      ['', '/zzz', 'default/c:80', 'host-default'],
    ],
  },
  {
    name: 'the catch-all is the defaultBackend of the oldest Ingress without rules',
    objects: [
      ingress('younger').cls('portico').created(T2).defaultBackend(svc('b', 80)).build(),
      ingress('older').cls('portico').created(T1).defaultBackend(svc('a', 80)).build(),
    ],
    requests: [['any.example', '/', 'default/a:80', 'catch-all']],
  },
  {
    name: 'without any Ingress default, --default-backend-service is the catch-all',
    objects: [ingress('host').cls('portico').host('a.example').prefix('/api', svc('a', 80)).build()],
    options: { defaultBackendService: { namespace: 'default', name: 'flag', port: 80 } },
    requests: [
      ['a.example', '/x', 'default/flag:80', 'catch-all'],
      ['', '/', 'default/flag:80', 'catch-all'],
    ],
  },
  {
    name: 'an Ingress default beats --default-backend-service',
    objects: [ingress('catch').cls('portico').defaultBackend(svc('fallback', 80)).build()],
    options: { defaultBackendService: { namespace: 'default', name: 'flag', port: 80 } },
    requests: [['', '/', 'default/fallback:80', 'catch-all']],
  },
  {
    name: 'with no default of any kind the answer is the built-in not-found',
    objects: [ingress('host').cls('portico').host('a.example').exact('/api', svc('a', 80)).build()],
    requests: [
      ['a.example', '/api/', 'not-found', 'not-found'],
      ['b.example', '/', 'not-found', 'not-found'],
    ],
  },
  {
    name: 'a host rule without paths sends its traffic to the defaultBackend (ingress-nginx without_host.go)',
    objects: [
      ingress('backend').cls('portico').hostOnly('only-backend').defaultBackend(svc('a', 80)).build(),
    ],
    requests: [
      ['only-backend', '/', 'default/a:80', 'host-default'],
      ['other', '/', 'not-found', 'not-found'],
    ],
  },
  {
    name: "a host's fallback comes from the oldest Ingress for that host, even when that one has no defaultBackend",
    objects: [
      ingress('old').cls('portico').created(T1).host('a.example').prefix('/old', svc('a', 80)).build(),
      ingress('new')
        .cls('portico')
        .created(T2)
        .host('a.example')
        .prefix('/new', svc('b', 80))
        .defaultBackend(svc('c', 80))
        .build(),
      ingress('catch').cls('portico').created(T3).defaultBackend(svc('fallback', 80)).build(),
    ],
    requests: [
      ['a.example', '/zzz', 'default/fallback:80', 'catch-all'],
      ['a.example', '/new', 'default/b:80', 'path'],
    ],
  },
  {
    name: 'an Ingress defaultBackend with rules serves as fallback for each of its hosts, not as the catch-all',
    objects: [
      ingress('multi')
        .cls('portico')
        .host('a.example')
        .prefix('/a', svc('a', 80))
        .host('b.example')
        .prefix('/b', svc('b', 80))
        .defaultBackend(svc('d', 80))
        .build(),
    ],
    requests: [
      ['a.example', '/z', 'default/d:80', 'host-default'],
      ['b.example', '/z', 'default/d:80', 'host-default'],
      ['c.example', '/z', 'not-found', 'not-found'],
    ],
  },
];

describe('compiled snapshot: host selection and fallback order', () => {
  for (const c of cases) {
    test(c.name, () => {
      const snapshot = routeObjects([cls, ...services, ...c.objects], c.options);
      for (const [host, path, want, kind] of c.requests) {
        assert.equal(answer(snapshot, host, path), want, `${host}${path}`);
        assert.equal(snapshot.match(host, path).kind, kind, `${host}${path} kind`);
      }
    });
  }
});

describe('compiled snapshot: properties', () => {
  const objects = [
    cls,
    ...services,
    ingress('shop')
      .cls('portico')
      .host('a.example')
      .prefix('/', svc('a', 80))
      .exact('/x', svc('b', 80))
      .build(),
    ingress('catch').cls('portico').defaultBackend(svc('fallback', 80)).build(),
  ];

  test('lookups return prebuilt frozen RouteMatch objects, the same object on every call', () => {
    const snapshot = routeObjects(objects);
    for (const [host, path] of [
      ['a.example', '/x'],
      ['a.example', '/y/z'],
      ['nowhere', '/'],
    ] as const) {
      const first = snapshot.match(host, path);
      assert.ok(Object.isFrozen(first));
      assert.equal(snapshot.match(host, path), first);
    }
    assert.ok(Object.isFrozen(snapshot));
  });

  test('the not-found answer is the shared NOT_FOUND constant', () => {
    const snapshot = routeObjects([cls]);
    assert.equal(snapshot.match('a', '/'), NOT_FOUND);
  });

  test('the snapshot carries its generation and the model it was compiled from', () => {
    const model = translate(inputFrom(objects), TEST_OPTIONS);
    const snapshot = compileSnapshot(model, 42);
    assert.equal(snapshot.generation, 42);
    assert.equal(snapshot.model, model);
  });

  test('a path match carries its route and Ingress', () => {
    const m = routeObjects(objects).match('a.example', '/x');
    assert.equal(m.kind, 'path');
    assert.equal(m.ingress, 'default/shop');
    assert.equal(m.route?.path, '/x');
    assert.equal(m.route?.pathType, 'Exact');
  });

  test('the order of routes in the model does not change any answer', () => {
    const model = translate(inputFrom(objects), TEST_OPTIONS);
    const reversed = compileSnapshot({ ...model, routes: [...model.routes].reverse() }, 1);
    const forward = compileSnapshot(model, 1);
    for (const path of ['/', '/x', '/x/', '/y']) {
      assert.equal(
        reversed.match('a.example', path).backend?.key,
        forward.match('a.example', path).backend?.key,
      );
    }
  });
});

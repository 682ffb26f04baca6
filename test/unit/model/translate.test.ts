import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Diagnostic } from '../../../src/model/diagnostics.js';
import type { Ingress, KubeObject } from '../../../src/model/objects.js';
import { compareAge, routeKey } from '../../../src/model/translate/conflicts.js';
import type { TranslateOptions } from '../../../src/model/translate/translate.js';
import { translate } from '../../../src/model/translate/translate.js';
import type { RoutingModel } from '../../../src/model/types.js';
import type { StoredObject } from '../../../src/store/object-store.js';
import {
  answer,
  ingress,
  ingressClass,
  inputFrom,
  resource,
  routeObjects,
  service,
  svc,
  TEST_OPTIONS,
} from '../../support/builders.js';

const cls = ingressClass('portico').build();
const web = service('web').port(80, 'http').port(443, 'https').build();
const other = service('other').port(80).build();
const T1 = '2024-01-01T00:00:00Z';
const T2 = '2024-02-01T00:00:00Z';

function model(objects: readonly KubeObject[], options: Partial<TranslateOptions> = {}): RoutingModel {
  return translate(inputFrom([cls, web, other, ...objects]), { ...TEST_OPTIONS, ...options });
}

function warnings(m: RoutingModel, code: Diagnostic['code']): Diagnostic[] {
  return m.diagnostics.filter((d) => d.code === code);
}

describe('age ordering', () => {
  const at = (name: string, ns: string, ts?: string): Ingress => {
    const b = ingress(name).ns(ns);
    return (ts === undefined ? b : b.created(ts)).build();
  };
  const rows = [
    { name: 'an older creationTimestamp sorts first', a: at('b', 'x', T1), b: at('a', 'x', T2), want: -1 },
    {
      name: 'equal timestamps are ordered by namespace/name',
      a: at('a', 'x', T1),
      b: at('b', 'x', T1),
      want: -1,
    },
    { name: 'namespace is compared before name', a: at('z', 'a', T1), b: at('a', 'b', T1), want: -1 },
    {
      name: 'an object without creationTimestamp sorts after one with it',
      a: at('a', 'a'),
      b: at('z', 'z', T2),
      want: 1,
    },
    {
      name: 'objects without creationTimestamp are ordered by namespace/name',
      a: at('a', 'a'),
      b: at('b', 'a'),
      want: -1,
    },
    {
      name: 'an unparseable creationTimestamp counts as none',
      a: at('a', 'a', 'yesterday'),
      b: at('z', 'z', T2),
      want: 1,
    },
    {
      name: 'timestamps are compared as instants, not strings',
      a: at('a', 'a', '2024-01-01T01:00:00+02:00'),
      b: at('b', 'a', '2024-01-01T00:00:00Z'),
      want: -1,
    },
  ] as const;
  for (const row of rows) {
    test(row.name, () => {
      assert.equal(Math.sign(compareAge(row.a, row.b)), row.want);
      assert.equal(Math.sign(compareAge(row.b, row.a)), -row.want);
    });
  }
});

describe('route keys', () => {
  const rows = [
    {
      name: 'Prefix /foo and Prefix /foo/ are the same rule',
      a: ['/foo', 'Prefix'],
      b: ['/foo/', 'Prefix'],
      same: true,
    },
    {
      name: 'Prefix /foo and ImplementationSpecific /foo are the same rule',
      a: ['/foo', 'Prefix'],
      b: ['/foo', 'ImplementationSpecific'],
      same: true,
    },
    {
      name: 'Exact /foo and Exact /foo/ are different rules',
      a: ['/foo', 'Exact'],
      b: ['/foo/', 'Exact'],
      same: false,
    },
    {
      name: 'Exact /foo and Prefix /foo are different rules',
      a: ['/foo', 'Exact'],
      b: ['/foo', 'Prefix'],
      same: false,
    },
  ] as const;
  for (const row of rows) {
    test(row.name, () => {
      assert.equal(routeKey('h', row.a[0], row.a[1]) === routeKey('h', row.b[0], row.b[1]), row.same);
    });
  }
});

describe('path conflicts', () => {
  const cases = [
    {
      name: 'a duplicate host+path+pathType goes to the Ingress with the older creationTimestamp',
      objects: [
        ingress('newer').created(T2).cls('portico').host('a.example').prefix('/', svc('other', 80)).build(),
        ingress('older').created(T1).cls('portico').host('a.example').prefix('/', svc('web', 80)).build(),
      ],
      winner: 'default/older',
      loser: 'Ingress default/newer',
    },
    {
      name: 'on equal timestamps the duplicate goes to the first namespace/name',
      objects: [
        ingress('b').created(T1).cls('portico').host('a.example').prefix('/', svc('other', 80)).build(),
        ingress('a').created(T1).cls('portico').host('a.example').prefix('/', svc('web', 80)).build(),
      ],
      winner: 'default/a',
      loser: 'Ingress default/b',
    },
    {
      name: 'an Ingress with a creationTimestamp beats one without, whatever their names',
      objects: [
        ingress('aaa').cls('portico').host('a.example').prefix('/', svc('other', 80)).build(),
        ingress('zzz').created(T2).cls('portico').host('a.example').prefix('/', svc('web', 80)).build(),
      ],
      winner: 'default/zzz',
      loser: 'Ingress default/aaa',
    },
    {
      name: 'among Ingresses without creationTimestamp the first namespace/name wins',
      objects: [
        ingress('b').ns('a').cls('portico').host('a.example').prefix('/', svc('other', 80)).build(),
        ingress('a').ns('b').cls('portico').host('a.example').prefix('/', svc('other', 80)).build(),
      ],
      winner: 'a/b',
      loser: 'Ingress b/a',
    },
    {
      name: 'Prefix /foo/ duplicates an older Prefix /foo (trailing slashes are ignored for Prefix)',
      objects: [
        ingress('older').created(T1).cls('portico').host('a.example').prefix('/foo', svc('web', 80)).build(),
        ingress('newer')
          .created(T2)
          .cls('portico')
          .host('a.example')
          .prefix('/foo/', svc('other', 80))
          .build(),
      ],
      winner: 'default/older',
      loser: 'Ingress default/newer',
    },
    {
      name: 'ImplementationSpecific /foo duplicates an older Prefix /foo (it is matched as Prefix)',
      objects: [
        ingress('older').created(T1).cls('portico').host('a.example').prefix('/foo', svc('web', 80)).build(),
        ingress('newer')
          .created(T2)
          .cls('portico')
          .host('a.example')
          .implSpecific('/foo', svc('other', 80))
          .build(),
      ],
      winner: 'default/older',
      loser: 'Ingress default/newer',
    },
    {
      name: 'hosts are compared lowercased, so A.Example duplicates a.example',
      objects: [
        ingress('older').created(T1).cls('portico').host('a.example').prefix('/', svc('web', 80)).build(),
        ingress('newer').created(T2).cls('portico').host('A.Example').prefix('/', svc('other', 80)).build(),
      ],
      winner: 'default/older',
      loser: 'Ingress default/newer',
    },
  ] as const;

  for (const c of cases) {
    test(c.name, () => {
      // Input order must not matter either.
      for (const objects of [c.objects, [...c.objects].reverse()]) {
        const m = model(objects);
        assert.equal(m.routes.length, 1);
        assert.equal(m.routes[0]?.ingress, c.winner);
        const [w] = warnings(m, 'PORTICO_WARN_PATH_CONFLICT');
        assert.equal(w?.object, c.loser);
        assert.equal(w?.severity, 'warning');
        assert.ok(w?.message.includes(c.winner), w?.message);
        assert.ok(m.ingresses.every((r) => r.state === 'served'));
      }
    });
  }

  test('within one Ingress the first duplicate in YAML order wins', () => {
    const m = model([
      ingress('self')
        .cls('portico')
        .host('a.example')
        .prefix('/x', svc('web', 80))
        .prefix('/x/', svc('other', 80))
        .build(),
    ]);
    assert.equal(m.routes.length, 1);
    assert.equal(m.routes[0]?.backend.key, 'default/web:80');
    const [w] = warnings(m, 'PORTICO_WARN_PATH_CONFLICT');
    assert.equal(w?.field, 'spec.rules[0].http.paths[1].path');
    assert.ok(w?.message.includes('spec.rules[0].http.paths[0] of the same Ingress'), w?.message);
  });

  test('Exact and Prefix on the same path do not conflict', () => {
    const m = model([
      ingress('both')
        .cls('portico')
        .host('a.example')
        .prefix('/foo', svc('web', 80))
        .exact('/foo', svc('other', 80))
        .build(),
    ]);
    assert.equal(m.routes.length, 2);
    assert.deepEqual(warnings(m, 'PORTICO_WARN_PATH_CONFLICT'), []);
  });

  test('the same path on different hosts does not conflict', () => {
    const m = model([
      ingress('one').cls('portico').host('a.example').prefix('/', svc('web', 80)).build(),
      ingress('two').cls('portico').host('b.example').prefix('/', svc('other', 80)).build(),
      ingress('three').cls('portico').rule().prefix('/', svc('other', 80)).build(),
    ]);
    assert.equal(m.routes.length, 3);
  });

  test('the losing Ingress keeps its other paths', () => {
    const objects = [
      ingress('older').created(T1).cls('portico').host('a.example').prefix('/', svc('web', 80)).build(),
      ingress('newer')
        .created(T2)
        .cls('portico')
        .host('a.example')
        .prefix('/', svc('other', 80))
        .prefix('/mine', svc('other', 80))
        .build(),
      other,
    ];
    const s = routeObjects([cls, web, ...objects]);
    assert.equal(answer(s, 'a.example', '/'), 'default/web:80');
    assert.equal(answer(s, 'a.example', '/mine/x'), 'default/other:80');
  });
});

describe('backends', () => {
  const rows = [
    {
      name: 'a port number resolves through the Service port to its name',
      backend: svc('web', 443),
      want: {
        key: 'default/web:443',
        target: { kind: 'endpoints', servicePortName: 'https', servicePort: 443 },
      },
    },
    {
      name: 'a port name resolves through the Service port to its number',
      backend: svc('web', 'http'),
      want: {
        key: 'default/web:http',
        target: { kind: 'endpoints', servicePortName: 'http', servicePort: 80 },
      },
    },
    {
      name: 'an unnamed Service port resolves with the empty port name',
      backend: svc('other', 80),
      want: { key: 'default/other:80', target: { kind: 'endpoints', servicePortName: '', servicePort: 80 } },
    },
    {
      name: 'an ExternalName Service resolves to its DNS name and the port as written',
      backend: svc('ext', 8443),
      want: {
        key: 'default/ext:8443',
        target: { kind: 'external-name', hostname: 'api.example.net', port: 8443 },
      },
    },
    {
      name: 'a missing Service is a broken reference with a clear problem',
      backend: svc('ghost', 80),
      want: {
        key: 'default/ghost:80',
        problem: 'service "default/ghost" not found',
        code: 'PORTICO_WARN_SERVICE_MISSING',
      },
    },
    {
      name: 'a missing Service port number is a broken reference',
      backend: svc('web', 8080),
      want: {
        key: 'default/web:8080',
        problem: 'service "default/web" has no port 8080',
        code: 'PORTICO_WARN_SERVICE_PORT_MISSING',
      },
    },
    {
      name: 'a missing Service port name is a broken reference',
      backend: svc('web', 'grpc'),
      want: {
        key: 'default/web:grpc',
        problem: 'service "default/web" has no port named "grpc"',
        code: 'PORTICO_WARN_SERVICE_PORT_MISSING',
      },
    },
    {
      name: 'a Service in another namespace is not found: backends are namespace-local',
      backend: svc('elsewhere', 80),
      want: {
        key: 'default/elsewhere:80',
        problem: 'service "default/elsewhere" not found',
        code: 'PORTICO_WARN_SERVICE_MISSING',
      },
    },
    {
      name: 'a resource backend is unsupported and broken, but the Ingress is still served',
      backend: resource('StorageBucket', 'static', 'k8s.example.com'),
      want: {
        key: 'default/StorageBucket/static:',
        problem:
          'resource backend StorageBucket "default/static" is not supported; only Service backends are',
        code: 'PORTICO_WARN_UNSUPPORTED',
      },
    },
  ] as const;

  for (const row of rows) {
    test(row.name, () => {
      const m = model([
        service('ext').externalName('api.example.net').build(),
        service('elsewhere').ns('other-ns').port(80).build(),
        ingress('shop').cls('portico').host('a.example').prefix('/', row.backend).build(),
      ]);
      assert.equal(m.ingresses[0]?.state, 'served');
      const backend = m.routes[0]?.backend;
      assert.equal(backend?.key, row.want.key);
      if ('target' in row.want) {
        assert.deepEqual(backend?.target, row.want.target);
        assert.equal(backend?.problem, undefined);
        assert.deepEqual(m.diagnostics, []);
      } else {
        assert.equal(backend?.target, undefined);
        assert.equal(backend?.problem, row.want.problem);
        assert.equal(m.diagnostics.length, 1);
        assert.equal(m.diagnostics[0]?.code, row.want.code);
        assert.equal(m.diagnostics[0]?.severity, 'warning');
        assert.ok(m.diagnostics[0]?.field.startsWith('spec.rules[0].http.paths[0].backend'));
        assert.equal(m.diagnostics[0]?.message, row.want.problem);
      }
    });
  }

  test('references to the same Service port share one frozen BackendRef', () => {
    const m = model([
      ingress('a').cls('portico').host('a.example').prefix('/', svc('web', 80)).build(),
      ingress('b').cls('portico').host('b.example').prefix('/', svc('web', 80)).build(),
    ]);
    assert.equal(m.routes[0]?.backend, m.routes[1]?.backend);
    assert.ok(Object.isFrozen(m.routes[0]?.backend));
  });

  test('a broken --default-backend-service is reported and still becomes the catch-all', () => {
    const m = model([], { defaultBackendService: { namespace: 'kube-system', name: 'nope', port: 'http' } });
    assert.equal(m.catchAll?.ingress, '--default-backend-service');
    assert.equal(m.catchAll?.backend.problem, 'service "kube-system/nope" not found');
    assert.equal(m.diagnostics[0]?.object, 'Service kube-system/nope');
  });
});

describe('default backends', () => {
  test('a younger Ingress without rules loses the catch-all with a warning naming the older one', () => {
    const m = model([
      ingress('young').created(T2).cls('portico').defaultBackend(svc('other', 80)).build(),
      ingress('old').created(T1).cls('portico').defaultBackend(svc('web', 80)).build(),
    ]);
    assert.equal(m.catchAll?.ingress, 'default/old');
    const [w] = warnings(m, 'PORTICO_WARN_DEFAULT_BACKEND_CONFLICT');
    assert.equal(w?.object, 'Ingress default/young');
    assert.equal(w?.field, 'spec.defaultBackend');
    assert.ok(w?.message.includes('default/old'));
  });

  test('a younger Ingress for the same host loses the host fallback with a warning', () => {
    const m = model([
      ingress('old')
        .created(T1)
        .cls('portico')
        .host('a.example')
        .prefix('/a', svc('web', 80))
        .defaultBackend(svc('web', 80))
        .build(),
      ingress('young')
        .created(T2)
        .cls('portico')
        .host('a.example')
        .prefix('/b', svc('web', 80))
        .defaultBackend(svc('other', 80))
        .build(),
    ]);
    assert.equal(m.hostDefaults.get('a.example')?.ingress, 'default/old');
    const [w] = warnings(m, 'PORTICO_WARN_DEFAULT_BACKEND_CONFLICT');
    assert.equal(w?.object, 'Ingress default/young');
    assert.ok(w?.message.includes('host "a.example"'));
  });

  test('the defaultBackend of an Ingress with host-less rules is the fallback of host ""', () => {
    const m = model([
      ingress('nohost')
        .cls('portico')
        .rule()
        .prefix('/x', svc('web', 80))
        .defaultBackend(svc('other', 80))
        .build(),
    ]);
    assert.equal(m.hostDefaults.get('')?.backend.key, 'default/other:80');
    assert.equal(m.catchAll, undefined);
  });

  test('no catch-all is set without an Ingress default or the flag', () => {
    const m = model([ingress('x').cls('portico').host('a.example').prefix('/', svc('web', 80)).build()]);
    assert.equal(m.catchAll, undefined);
  });
});

describe('reports and robustness', () => {
  test('every Ingress given gets exactly one report, in input order', () => {
    const m = model([
      ingress('ok').cls('portico').host('a.example').prefix('/', svc('web', 80)).build(),
      ingress('foreign').cls('nginx').host('a.example').prefix('/', svc('web', 80)).build(),
      ingress('bad').cls('portico').host('a.example').prefix('nope', svc('web', 80)).build(),
    ]);
    assert.deepEqual(
      m.ingresses.map((r) => [r.ingress, r.state]),
      [
        ['default/ok', 'served'],
        ['default/foreign', 'ignored'],
        ['default/bad', 'rejected'],
      ],
    );
    assert.ok(m.ingresses[2]?.reason.startsWith('spec.rules[0].http.paths[0].path'));
    assert.equal(m.routes.length, 1);
    assert.equal(m.diagnostics.filter((d) => d.severity === 'error').length, 1);
  });

  test('a rejected Ingress claims no path, so a younger valid duplicate wins', () => {
    const m = model([
      ingress('old-bad')
        .created(T1)
        .cls('portico')
        .host('a.example')
        .prefix('/', svc('web', 80))
        .prefix('x', svc('web', 80))
        .build(),
      ingress('young').created(T2).cls('portico').host('a.example').prefix('/', svc('other', 80)).build(),
    ]);
    assert.equal(m.routes[0]?.ingress, 'default/young');
  });

  test('an Ingress without namespace is treated as namespace default', () => {
    const ing = ingress('x').cls('portico').host('a.example').prefix('/', svc('web', 80)).build();
    const { namespace: _, ...metadata } = ing.metadata;
    const m = model([{ ...ing, metadata }]);
    assert.equal(m.ingresses[0]?.ingress, 'default/x');
    assert.equal(m.routes[0]?.backend.key, 'default/web:80');
  });

  test('route fields, hosts and paths are recorded as translated', () => {
    const m = model([
      ingress('x').cls('portico').host('A.Example').implSpecific(undefined, svc('web', 80)).build(),
    ]);
    assert.deepEqual(
      m.routes.map((r) => [r.host, r.path, r.pathType, r.field]),
      [['a.example', '/', 'ImplementationSpecific', 'spec.rules[0].http.paths[0]']],
    );
  });

  test('garbage objects never make translate throw', () => {
    const junk = [
      null,
      7,
      {},
      { kind: 'Ingress' },
      { kind: 'Ingress', metadata: { name: 'j' }, spec: { rules: [null] } },
    ];
    const m = translate(
      {
        ingresses: junk.map((object) => ({ object }) as unknown as StoredObject<Ingress>),
        ingressClasses: [{ object: null } as unknown as StoredObject<never>],
        services: [{ object: 5 } as unknown as StoredObject<never>],
      },
      { ...TEST_OPTIONS, watchIngressWithoutClass: true },
    );
    assert.equal(m.ingresses.length, junk.length);
    assert.ok(m.ingresses.every((r) => r.state === 'rejected'));
  });

  test('translation is deterministic: the same input gives a deep-equal model', () => {
    const objects = [
      ingress('b').created(T2).cls('portico').host('a.example').prefix('/', svc('other', 80)).build(),
      ingress('a')
        .created(T1)
        .cls('portico')
        .host('a.example')
        .prefix('/', svc('web', 80))
        .defaultBackend(svc('ghost', 80))
        .build(),
    ];
    assert.deepEqual(model(objects), model(objects));
  });
});

describe('warning sources in file mode', () => {
  test('a broken reference is located at the backend it was written in', () => {
    const ing = ingress('x').cls('portico').host('a.example').prefix('/', svc('ghost', 80)).build();
    const lines: Record<string, number> = { 'spec.rules[0].http.paths[0].backend.service': 12, spec: 4 };
    const m = translate(
      {
        ingresses: [
          {
            object: ing,
            locate: (field) => {
              const line = lines[field];
              return line === undefined ? undefined : { file: 'x.yaml', line, column: 9, documentIndex: 1 };
            },
          },
        ],
        ingressClasses: [{ object: cls }],
        services: [],
      },
      TEST_OPTIONS,
    );
    assert.equal(m.diagnostics[0]?.source, 'x.yaml:12:9');
  });
});

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { IngressAdmission } from '../../../src/admission/ingress-admission.js';
import type { AdmissionRequest } from '../../../src/admission/review.js';
import { decodeReview } from '../../../src/admission/review.js';
import type { Ingress, KubeObject } from '../../../src/model/objects.js';
import type { RoutingModel } from '../../../src/model/types.js';
import { ingress, ingressClass, service, svc, TEST_OPTIONS } from '../../support/builders.js';
import { modelOf, type ReviewInit, reviewOf, storeOf } from './fixtures.js';

const T1 = '2024-01-01T00:00:00Z';
const T2 = '2024-02-01T00:00:00Z';
const NOW = '2025-01-01T00:00:00Z';

const tlsSecret: KubeObject = {
  kind: 'Secret',
  metadata: { name: 'a-tls', namespace: 'default' },
  type: 'kubernetes.io/tls',
  data: { 'tls.crt': 'Y2VydA==', 'tls.key': 'a2V5' },
};
const opaqueSecret: KubeObject = {
  kind: 'Secret',
  metadata: { name: 'opaque', namespace: 'default' },
  data: { password: 'cA==' },
};

/** The oldest Ingress: owns a.example Prefix / and Exact /exact. */
const old = ingress('old')
  .created(T1)
  .cls('portico')
  .host('a.example')
  .prefix('/', svc('web', 80))
  .exact('/exact', svc('web', 80))
  .build();
/** Younger, collides on a.example Prefix / (a loser there) and owns Prefix /loser. */
const loser = ingress('loser')
  .created(T2)
  .cls('portico')
  .host('a.example')
  .prefix('/', svc('web', 80))
  .prefix('/loser', svc('web', 80))
  .build();
/** Another controller's Ingress on b.example. */
const foreign = ingress('foreign')
  .created(T1)
  .cls('nginx')
  .host('b.example')
  .prefix('/', svc('web', 80))
  .build();
/** The catch-all: a defaultBackend without rules. */
const fallback = ingress('fallback').created(T1).cls('portico').defaultBackend(svc('web', 80)).build();

const cluster: KubeObject[] = [
  ingressClass('portico').build(),
  ingressClass('nginx').controller('k8s.io/ingress-nginx').build(),
  service('web').port(80, 'http').build(),
  tlsSecret,
  opaqueSecret,
  old,
  loser,
  foreign,
  fallback,
];

function fresh(name: string) {
  return ingress(name).created(NOW).cls('portico');
}

function request(init: ReviewInit): AdmissionRequest {
  const decoded = decodeReview(JSON.stringify(reviewOf(init)));
  assert.ok(decoded.ok, decoded.ok ? '' : decoded.message);
  return decoded.request;
}

function admission(options: { synced?: boolean } = {}): IngressAdmission {
  const store = storeOf(cluster);
  const model = modelOf(store);
  const a = new IngressAdmission({
    translate: TEST_OPTIONS,
    store,
    currentModel: () => (options.synced === false ? undefined : model),
  });
  return a;
}

function withoutNamespace(i: Ingress): unknown {
  const { namespace: _, ...metadata } = i.metadata;
  return { ...i, metadata };
}

interface Case {
  readonly name: string;
  readonly review: ReviewInit;
  readonly synced?: boolean;
  readonly allowed: boolean;
  readonly code?: number;
  /** Every pattern must match the denial message. */
  readonly message?: readonly RegExp[];
  /** Exactly this many warnings, each matching the pattern at its index. */
  readonly warnings?: readonly RegExp[];
}

const cases: readonly Case[] = [
  {
    name: 'a *-snippet annotation is denied as invalid (400) naming the annotation, as ingress-nginx does with snippets disabled',
    review: {
      object: fresh('new')
        .annotate('nginx.ingress.kubernetes.io/configuration-snippet', 'return 200;')
        .host('c.example')
        .prefix('/', svc('web', 80))
        .build(),
    },
    allowed: false,
    code: 400,
    message: [
      /Ingress default\/new is invalid/,
      /metadata\.annotations\["nginx\.ingress\.kubernetes\.io\/configuration-snippet"\]: .*snippets are configuration code; Portico never runs them/,
    ],
  },
  {
    name: 'an annotation Portico does not implement is allowed with a warning saying it is ignored',
    review: {
      object: fresh('new')
        .annotate('nginx.ingress.kubernetes.io/enable-influxdb', 'true')
        .host('c.example')
        .prefix('/', svc('web', 80))
        .build(),
    },
    allowed: true,
    warnings: [/enable-influxdb is ignored/],
  },
  {
    name: 'a new Ingress with its own paths and an existing Service is allowed without warnings',
    review: { object: fresh('new').host('a.example').prefix('/new', svc('web', 80)).build() },
    allowed: true,
    warnings: [],
  },
  {
    name: 'a missing Service is a warning, never a denial (apply order must not matter)',
    review: { object: fresh('new').host('c.example').prefix('/', svc('missing', 80)).build() },
    allowed: true,
    warnings: [/spec\.rules\[0\]\.http\.paths\[0\]\.backend\.service: service "default\/missing" not found/],
  },
  {
    name: 'a missing Service port is a warning',
    review: { object: fresh('new').host('c.example').prefix('/', svc('web', 'grpc')).build() },
    allowed: true,
    warnings: [/service "default\/web" has no port named "grpc"/],
  },
  {
    name: 'a missing TLS Secret is a warning',
    review: {
      object: fresh('new').host('c.example').prefix('/', svc('web', 80)).tls('nope', 'c.example').build(),
    },
    allowed: true,
    warnings: [/spec\.tls\[0\]\.secretName: secret "default\/nope" not found/],
  },
  {
    name: 'an existing kubernetes.io/tls Secret gives no warning',
    review: {
      object: fresh('new').host('c.example').prefix('/', svc('web', 80)).tls('a-tls', 'c.example').build(),
    },
    allowed: true,
    warnings: [],
  },
  {
    name: 'a Secret without tls.crt and tls.key is a warning',
    review: {
      object: fresh('new').host('c.example').prefix('/', svc('web', 80)).tls('opaque', 'c.example').build(),
    },
    allowed: true,
    warnings: [/secret "default\/opaque" has no tls\.crt and tls\.key/],
  },
  {
    name: 'a relative Prefix path is denied as invalid (400) naming the field',
    review: { object: fresh('new').host('c.example').prefix('api', svc('web', 80)).build() },
    allowed: false,
    code: 400,
    message: [
      /Ingress default\/new is invalid/,
      /spec\.rules\[0\]\.http\.paths\[0\]\.path: .*must be an absolute path/,
    ],
  },
  {
    name: 'a path with /../ is denied as invalid',
    review: { object: fresh('new').host('c.example').prefix('/a/../b', svc('web', 80)).build() },
    allowed: false,
    code: 400,
    message: [/must not contain '\/\.\.\/'/],
  },
  {
    name: 'an invalid host is denied as invalid',
    review: { object: fresh('new').host('Bad_Host!').prefix('/', svc('web', 80)).build() },
    allowed: false,
    code: 400,
    message: [/spec\.rules\[0\]\.host/],
  },
  {
    name: 'a backend without port is denied as invalid',
    review: {
      object: fresh('new')
        .host('c.example')
        .prefix('/', { service: { name: 'web' } })
        .build(),
    },
    allowed: false,
    code: 400,
    message: [/port name or number is required/],
  },
  {
    name: 'an unknown pathType is denied as invalid',
    review: { object: fresh('new').host('c.example').path('/', 'Regex', svc('web', 80)).build() },
    allowed: false,
    code: 400,
    message: [/unsupported value "Regex"/],
  },
  {
    name: 'a new Ingress claiming an owned host+path+pathType is denied (403) naming the owner',
    review: { object: fresh('new').host('a.example').prefix('/', svc('web', 80)).build() },
    allowed: false,
    code: 403,
    message: [
      /Ingress default\/new collides/,
      /path "\/" \(Prefix\) on host "a\.example" is already defined by Ingress default\/old/,
    ],
  },
  {
    name: 'host matching is case-insensitive for collisions',
    review: { object: fresh('new').host('A.Example').exact('/exact', svc('web', 80)).build() },
    allowed: false,
    code: 403,
    message: [/already defined by Ingress default\/old/],
  },
  {
    name: 'Prefix /loser/ collides with Prefix /loser (a trailing slash adds no path element)',
    review: { object: fresh('new').host('a.example').prefix('/loser/', svc('web', 80)).build() },
    allowed: false,
    code: 403,
    message: [/already defined by Ingress default\/loser/],
  },
  {
    name: 'ImplementationSpecific / collides with Prefix / (matched as Prefix)',
    review: { object: fresh('new').host('a.example').implSpecific('/', svc('web', 80)).build() },
    allowed: false,
    code: 403,
  },
  {
    name: 'Exact / does not collide with Prefix /',
    review: { object: fresh('new').host('a.example').exact('/', svc('web', 80)).build() },
    allowed: true,
    warnings: [],
  },
  {
    name: 'the same path on another host does not collide',
    review: { object: fresh('new').host('c.example').prefix('/', svc('web', 80)).build() },
    allowed: true,
    warnings: [],
  },
  {
    name: 'the same name in another namespace is another Ingress and collides',
    review: {
      object: ingress('old')
        .ns('team-b')
        .created(NOW)
        .cls('portico')
        .host('a.example')
        .prefix('/', svc('web', 80))
        .build(),
    },
    allowed: false,
    code: 403,
    message: [/Ingress team-b\/old collides/, /Ingress default\/old/],
  },
  {
    name: "a path on another controller's host is ours to take (foreign Ingresses own nothing)",
    review: { object: fresh('new').host('b.example').prefix('/', svc('web', 80)).build() },
    allowed: true,
  },
  {
    name: 'every collision is listed, not only the first',
    review: {
      object: fresh('new')
        .host('a.example')
        .prefix('/', svc('web', 80))
        .exact('/exact', svc('web', 80))
        .build(),
    },
    allowed: false,
    code: 403,
    message: [/paths\[0\]\.path: path "\/"/, /paths\[1\]\.path: path "\/exact" \(Exact\)/],
  },
  {
    name: 'an UPDATE of the owner keeping its paths is allowed',
    review: { operation: 'UPDATE', object: old, oldObject: old },
    allowed: true,
    warnings: [],
  },
  {
    name: 'an UPDATE of the owner whose object omits the namespace takes it from the request',
    review: { operation: 'UPDATE', object: withoutNamespace(old), oldObject: old, namespace: 'default' },
    allowed: true,
    warnings: [],
  },
  {
    name: 'an UPDATE keeping an existing collision is allowed with a warning (it stays the loser)',
    review: {
      operation: 'UPDATE',
      object: { ...loser, metadata: { ...loser.metadata, annotations: { team: 'b' } } },
      oldObject: loser,
    },
    allowed: true,
    warnings: [
      /paths\[0\]\.path: path "\/" \(Prefix\) on host "a\.example" is ignored: already defined by Ingress default\/old \(older\)/,
    ],
  },
  {
    name: 'an UPDATE adding a new collision is denied',
    review: {
      operation: 'UPDATE',
      object: ingress('loser')
        .created(T2)
        .cls('portico')
        .host('a.example')
        .prefix('/loser', svc('web', 80))
        .exact('/exact', svc('web', 80))
        .build(),
      oldObject: loser,
    },
    allowed: false,
    code: 403,
    message: [/path "\/exact" \(Exact\) on host "a\.example" is already defined by Ingress default\/old/],
  },
  {
    name: 'an UPDATE moving a foreign Ingress into our class must not collide',
    review: {
      operation: 'UPDATE',
      object: ingress('foreign')
        .created(T1)
        .cls('portico')
        .host('a.example')
        .prefix('/', svc('web', 80))
        .build(),
      oldObject: ingress('foreign')
        .created(T1)
        .cls('nginx')
        .host('a.example')
        .prefix('/', svc('web', 80))
        .build(),
    },
    allowed: false,
    code: 403,
  },
  {
    name: 'an Ingress of another class is allowed untouched, however invalid or colliding',
    review: {
      object: ingress('theirs')
        .created(NOW)
        .cls('nginx')
        .host('a.example')
        .prefix('bad', { service: { name: 'x' } })
        .build(),
    },
    allowed: true,
    warnings: [],
  },
  {
    name: 'the legacy class annotation of another controller is allowed untouched',
    review: {
      object: ingress('theirs')
        .created(NOW)
        .classAnnotation('nginx')
        .host('a.example')
        .prefix('/', svc('web', 80))
        .build(),
    },
    allowed: true,
    warnings: [],
  },
  {
    name: 'an Ingress naming a class that does not exist (yet) is not ours and is allowed',
    review: {
      object: ingress('x').created(NOW).cls('later').host('a.example').prefix('/', svc('web', 80)).build(),
    },
    allowed: true,
    warnings: [],
  },
  {
    name: 'a path listed twice in one Ingress is allowed with a warning',
    review: {
      object: fresh('new').host('c.example').prefix('/', svc('web', 80)).prefix('/', svc('web', 80)).build(),
    },
    allowed: true,
    warnings: [
      /paths\[1\]\.path: path "\/" \(Prefix\) on host "c\.example" is ignored: already defined by spec\.rules\[0\]\.http\.paths\[0\] of the same Ingress/,
    ],
  },
  {
    name: 'a second catch-all defaultBackend is allowed with a warning naming the one in force',
    review: { object: fresh('new').defaultBackend(svc('web', 80)).build() },
    allowed: true,
    warnings: [
      /spec\.defaultBackend: not used as the catch-all while Ingress default\/fallback \(older\) supplies it/,
    ],
  },
  {
    name: 'before the first sync collisions cannot be checked: allowed with a warning',
    synced: false,
    review: { object: fresh('new').host('a.example').prefix('/', svc('web', 80)).build() },
    allowed: true,
    warnings: [/has not synced/],
  },
  {
    name: 'before the first sync invalid content is still denied',
    synced: false,
    review: { object: fresh('new').host('a.example').prefix('x', svc('web', 80)).build() },
    allowed: false,
    code: 400,
  },
  {
    name: 'DELETE is allowed',
    review: { operation: 'DELETE', oldObject: old },
    allowed: true,
    warnings: [],
  },
  {
    name: 'a status subresource write is allowed',
    review: { operation: 'UPDATE', subResource: 'status', object: old, oldObject: old },
    allowed: true,
    warnings: [],
  },
  {
    name: 'a canary on a served path is no collision: allowed without warnings',
    review: {
      object: fresh('beta')
        .annotate('nginx.ingress.kubernetes.io/canary', 'true')
        .host('a.example')
        .prefix('/', svc('web', 80))
        .build(),
    },
    allowed: true,
    warnings: [],
  },
  {
    name: 'a canary without a main route is allowed with a warning that it serves nothing',
    review: {
      object: fresh('beta')
        .annotate('nginx.ingress.kubernetes.io/canary', 'true')
        .host('z.example')
        .prefix('/', svc('web', 80))
        .build(),
    },
    allowed: true,
    warnings: [/canary for path "\/" \(Prefix\) on host "z\.example" has no main route yet/],
  },
  {
    name: 'a non-Ingress object is allowed',
    review: { group: '', resource: 'services', kind: 'Service', object: service('web').build() },
    allowed: true,
    warnings: [],
  },
  {
    name: 'a CREATE without an object is denied as a bad request',
    review: { operation: 'CREATE', name: 'x' },
    allowed: false,
    code: 400,
    message: [/request\.object is not an Ingress object/],
  },
];

describe('IngressAdmission.review', () => {
  const synced = admission();
  const unsynced = admission({ synced: false });
  for (const c of cases) {
    test(c.name, () => {
      const { verdict } = (c.synced === false ? unsynced : synced).review(request(c.review));
      assert.equal(verdict.allowed, c.allowed, JSON.stringify(verdict));
      if (c.code !== undefined) assert.equal(verdict.status?.code, c.code);
      if (c.allowed) assert.equal(verdict.status, undefined);
      for (const pattern of c.message ?? []) assert.match(verdict.status?.message ?? '', pattern);
      if (c.warnings) {
        assert.equal(verdict.warnings.length, c.warnings.length, JSON.stringify(verdict.warnings));
        c.warnings.forEach((pattern, i) => {
          assert.match(verdict.warnings[i] ?? '', pattern);
        });
      }
    });
  }
});

describe('IngressAdmission.onModel', () => {
  test('a new model replaces the index: a path freed by a deleted owner can be taken', () => {
    const store = storeOf(cluster);
    let model: RoutingModel | undefined = modelOf(store);
    const a = new IngressAdmission({ translate: TEST_OPTIONS, store, currentModel: () => model });
    const claim = request({ object: fresh('new').host('a.example').exact('/exact', svc('web', 80)).build() });
    assert.equal(a.review(claim).verdict.allowed, false);
    store.remove('Ingress', 'default', 'old');
    model = undefined; // the controller publishes through onModel
    a.onModel(modelOf(store));
    assert.equal(a.review(claim).verdict.allowed, true);
  });

  test('the review names the object for the denial log', () => {
    const outcome = admission().review(
      request({ object: fresh('new').host('a.example').prefix('/', svc('web', 80)).build() }),
    );
    assert.equal(outcome.object, 'Ingress default/new');
  });

  test('the review cost does not depend on the number of Ingresses: only the reviewed object is translated', () => {
    // 2,000 Ingresses in the store; a review must not translate them (it would take milliseconds).
    const many: KubeObject[] = [ingressClass('portico').build(), service('web').port(80).build()];
    for (let i = 0; i < 2_000; i++) {
      many.push(
        ingress(`i${i}`).created(T1).cls('portico').host(`h${i}.example`).prefix('/', svc('web', 80)).build(),
      );
    }
    const store = storeOf(many);
    const model = modelOf(store);
    let listed = 0;
    const list = store.list.bind(store);
    store.list = ((kind) => {
      if (kind === 'Ingress') listed++;
      return list(kind);
    }) as typeof store.list;
    const a = new IngressAdmission({ translate: TEST_OPTIONS, store, currentModel: () => model });
    const { verdict } = a.review(
      request({ object: fresh('new').host('h5.example').prefix('/', svc('web', 80)).build() }),
    );
    assert.equal(verdict.allowed, false);
    assert.equal(listed, 0, 'the review listed every Ingress');
  });
});

describe('IngressAdmission secretExists (cluster mode keeps only referenced Secrets in the store)', () => {
  const rows = [
    { name: 'a Secret the informers know is not reported missing', answer: true, warnings: 0 },
    {
      name: 'a Secret in a namespace nobody watches is not reported (unknown)',
      answer: undefined,
      warnings: 0,
    },
    { name: 'a Secret the informers do not know is reported missing', answer: false, warnings: 1 },
  ] as const;
  for (const row of rows) {
    test(row.name, () => {
      const store = storeOf(cluster);
      const model = modelOf(store);
      const asked: string[] = [];
      const a = new IngressAdmission({
        translate: TEST_OPTIONS,
        store,
        currentModel: () => model,
        secretExists: (namespace, name) => {
          asked.push(`${namespace}/${name}`);
          return row.answer;
        },
      });
      const object = fresh('new')
        .host('c.example')
        .prefix('/', svc('web', 80))
        .tls('unheld', 'c.example')
        .build();
      const { verdict } = a.review(request({ object }));
      assert.equal(verdict.allowed, true);
      assert.deepEqual(asked, ['default/unheld']);
      assert.equal(verdict.warnings.length, row.warnings, JSON.stringify(verdict.warnings));
    });
  }
});

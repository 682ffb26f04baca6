import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Ingress, KubeObject } from '../../../src/model/objects.js';
import { translate } from '../../../src/model/translate/translate.js';
import type { RoutingModel } from '../../../src/model/types.js';
import { ingress, ingressClass, inputFrom, service, svc, TEST_OPTIONS } from '../../support/builders.js';

const cls = ingressClass('portico').build();
const web = service('web').port(80).build();
const T1 = '2024-01-01T00:00:00Z';
const T2 = '2024-02-01T00:00:00Z';

function model(objects: readonly KubeObject[]): RoutingModel {
  return translate(inputFrom([cls, web, ...objects]), TEST_OPTIONS);
}

/** `bindings` renders model.tls as host → "ns/secret from ns/ingress", sorted, for compact tables. */
function bindings(m: RoutingModel): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [host, b] of [...(m.tls ?? new Map())].sort(([a], [b]) => (a < b ? -1 : 1))) {
    out[host] = `${b.namespace}/${b.secretName} from ${b.ingress}`;
  }
  return out;
}

function withTls(name: string, created: string, tls: Ingress['spec'] extends infer S ? S : never): Ingress {
  const base = ingress(name)
    .created(created)
    .host('a.example.com')
    .cls('portico')
    .prefix('/', svc('web', 80))
    .build();
  return { ...base, spec: { ...base.spec, ...(tls ?? {}) } };
}

describe('spec.tls bindings', () => {
  const rows: {
    name: string;
    objects: Ingress[];
    want: Record<string, string>;
    conflicts: number;
  }[] = [
    {
      name: 'each host of an entry is bound to its Secret, lowercased',
      objects: [
        withTls('one', T1, { tls: [{ hosts: ['A.Example.com', '*.example.com'], secretName: 's1' }] }),
      ],
      want: {
        '*.example.com': 'default/s1 from default/one',
        'a.example.com': 'default/s1 from default/one',
      },
      conflicts: 0,
    },
    {
      name: 'the oldest Ingress wins a host named by several; the loser is warned about',
      objects: [
        withTls('young', T2, { tls: [{ hosts: ['a.example.com'], secretName: 'young' }] }),
        withTls('old', T1, { tls: [{ hosts: ['a.example.com'], secretName: 'old' }] }),
      ],
      want: { 'a.example.com': 'default/old from default/old' },
      conflicts: 1,
    },
    {
      name: 'the same Secret named twice is no conflict',
      objects: [
        withTls('one', T1, { tls: [{ hosts: ['a.example.com'], secretName: 's' }] }),
        withTls('two', T2, { tls: [{ hosts: ['a.example.com'], secretName: 's' }] }),
      ],
      want: { 'a.example.com': 'default/s from default/one' },
      conflicts: 0,
    },
    {
      name: 'within one Ingress the first entry wins',
      objects: [
        withTls('one', T1, {
          tls: [
            { hosts: ['a.example.com'], secretName: 'first' },
            { hosts: ['a.example.com'], secretName: 'second' },
          ],
        }),
      ],
      want: { 'a.example.com': 'default/first from default/one' },
      conflicts: 1,
    },
    {
      name: 'an entry without secretName is skipped (default certificate)',
      objects: [withTls('one', T1, { tls: [{ hosts: ['a.example.com'] }] })],
      want: {},
      conflicts: 0,
    },
    {
      name: 'an entry without hosts binds nothing',
      objects: [withTls('one', T1, { tls: [{ secretName: 's' }] })],
      want: {},
      conflicts: 0,
    },
  ];
  for (const row of rows) {
    test(row.name, () => {
      const m = model(row.objects);
      assert.deepEqual(bindings(m), row.want);
      assert.equal(m.diagnostics.filter((d) => d.code === 'PORTICO_WARN_TLS_CONFLICT').length, row.conflicts);
    });
  }

  test('the Secret lives in the Ingress namespace and the binding names its field', () => {
    const base = ingress('shop')
      .ns('prod')
      .created(T1)
      .host('a.example.com')
      .cls('portico')
      .prefix('/', svc('web', 80));
    const m = model([base.tls('cert', 'a.example.com').build()]);
    assert.deepEqual(m.tls?.get('a.example.com'), {
      namespace: 'prod',
      secretName: 'cert',
      ingress: 'prod/shop',
      field: 'spec.tls[0].secretName',
    });
  });

  test('without spec.tls the model has no tls field', () => {
    const m = model([
      ingress('plain').created(T1).host('a.example.com').cls('portico').prefix('/', svc('web', 80)).build(),
    ]);
    assert.equal(m.tls, undefined);
  });

  test('ignored Ingresses bind nothing', () => {
    const other = withTls('other', T1, { tls: [{ hosts: ['a.example.com'], secretName: 's' }] });
    const m = model([{ ...other, spec: { ...other.spec, ingressClassName: 'someone-else' } }]);
    assert.equal(m.tls, undefined);
  });
});

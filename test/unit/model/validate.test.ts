import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { DiagnosticCode } from '../../../src/model/diagnostics.js';
import type { Ingress } from '../../../src/model/objects.js';
import { validateIngress } from '../../../src/model/translate/validate.js';
import type { StoredObject } from '../../../src/store/object-store.js';
import { ingress, resource, stored, svc } from '../../support/builders.js';

const base = () => ingress('shop').cls('portico');
const web = svc('web', 80);

/** `raw` builds an Ingress from a literal spec, for shapes the builder refuses to make. */
function raw(spec: unknown): Ingress {
  return { kind: 'Ingress', metadata: { name: 'shop', namespace: 'default' }, spec } as unknown as Ingress;
}

interface Row {
  readonly name: string;
  readonly ingress: Ingress;
  /** Expected errors as `field code`, in order; empty for a valid Ingress. */
  readonly want: readonly `${string} ${DiagnosticCode}`[];
}

const rows: readonly Row[] = [
  // Valid shapes.
  {
    name: 'a host with Prefix, Exact and ImplementationSpecific paths is valid',
    ingress: base().host('a.example').prefix('/', web).exact('/x', web).implSpecific('/y', web).build(),
    want: [],
  },
  {
    name: 'an Ingress with only a defaultBackend is valid',
    ingress: base().defaultBackend(web).build(),
    want: [],
  },
  {
    name: 'a wildcard host with a single leading *. label is valid',
    ingress: base().host('*.example.com').prefix('/', web).build(),
    want: [],
  },
  { name: 'a rule without host is valid', ingress: base().rule().prefix('/', web).build(), want: [] },
  {
    name: 'a rule with a host and no http is valid',
    ingress: base().hostOnly('a.example').defaultBackend(web).build(),
    want: [],
  },
  {
    name: 'an ImplementationSpecific path may be empty',
    ingress: base().host('a.example').implSpecific(undefined, web).build(),
    want: [],
  },
  {
    name: 'a service port may be a name (IANA_SVC_NAME)',
    ingress: base().host('a.example').prefix('/', svc('web', 'http-alt')).build(),
    want: [],
  },
  {
    name: 'a resource backend is valid content (support is another matter)',
    ingress: base()
      .host('a.example')
      .prefix('/', resource('StorageBucket', 'static', 'k8s.example.com'))
      .build(),
    want: [],
  },
  {
    name: 'host names are checked case-insensitively (Portico lowercases them)',
    ingress: base().host('Shop.Example.COM').prefix('/', web).build(),
    want: [],
  },
  {
    name: 'a single-label host is valid',
    ingress: base().host('exact-path-rules').prefix('/', web).build(),
    want: [],
  },
  {
    name: 'TLS hosts and secret names are valid when well-formed',
    ingress: base().host('a.example').prefix('/', web).tls('a-tls', 'a.example', '*.example').build(),
    want: [],
  },

  // Spec-level problems.
  {
    name: 'an Ingress with neither rules nor defaultBackend is invalid',
    ingress: base().build(),
    want: ['spec PORTICO_ERR_OBJECT_INVALID'],
  },
  {
    name: 'an Ingress without spec is invalid',
    ingress: raw(undefined),
    want: ['spec PORTICO_ERR_OBJECT_INVALID'],
  },
  {
    name: 'ingressClassName must be a DNS-1123 subdomain',
    ingress: base().cls('Not_Valid').defaultBackend(web).build(),
    want: ['spec.ingressClassName PORTICO_ERR_OBJECT_INVALID'],
  },
  {
    name: 'rules must be a list',
    ingress: raw({ rules: 'nope' }),
    want: ['spec.rules PORTICO_ERR_OBJECT_INVALID'],
  },

  // Hosts.
  {
    name: 'an IPv4 address is not a valid host',
    ingress: base().host('10.0.0.1').prefix('/', web).build(),
    want: ['spec.rules[0].host PORTICO_ERR_HOST_INVALID'],
  },
  {
    name: 'an IPv6 address is not a valid host',
    ingress: base().host('::1').prefix('/', web).build(),
    want: ['spec.rules[0].host PORTICO_ERR_HOST_INVALID'],
  },
  {
    name: 'a wildcard must be the whole first label',
    ingress: base().host('foo*.example.com').prefix('/', web).build(),
    want: ['spec.rules[0].host PORTICO_ERR_HOST_INVALID'],
  },
  {
    name: 'only one wildcard label is allowed',
    ingress: base().host('*.*.example.com').prefix('/', web).build(),
    want: ['spec.rules[0].host PORTICO_ERR_HOST_INVALID'],
  },
  {
    name: 'a bare * is not a valid host',
    ingress: base().host('*').prefix('/', web).build(),
    want: ['spec.rules[0].host PORTICO_ERR_HOST_INVALID'],
  },
  {
    name: 'a host with a port is not valid',
    ingress: base().host('a.example:8080').prefix('/', web).build(),
    want: ['spec.rules[0].host PORTICO_ERR_HOST_INVALID'],
  },
  {
    name: 'a host label may not start with a hyphen',
    ingress: base().host('-a.example').prefix('/', web).build(),
    want: ['spec.rules[0].host PORTICO_ERR_HOST_INVALID'],
  },
  {
    name: 'a host may not contain underscores',
    ingress: base().host('a_b.example').prefix('/', web).build(),
    want: ['spec.rules[0].host PORTICO_ERR_HOST_INVALID'],
  },
  {
    name: 'a host longer than 253 characters is invalid',
    ingress: base()
      .host(`${'a'.repeat(60)}.`.repeat(5) + 'com')
      .prefix('/', web)
      .build(),
    want: ['spec.rules[0].host PORTICO_ERR_HOST_INVALID'],
  },
  {
    name: 'a malformed TLS host is invalid',
    ingress: base().host('a.example').prefix('/', web).tls('a-tls', 'bad_host').build(),
    want: ['spec.tls[0].hosts[0] PORTICO_ERR_HOST_INVALID'],
  },

  // Paths.
  {
    name: 'http without paths is invalid',
    ingress: raw({ rules: [{ host: 'a.example', http: { paths: [] } }] }),
    want: ['spec.rules[0].http.paths PORTICO_ERR_PATH_INVALID'],
  },
  {
    name: 'pathType is required',
    ingress: base().host('a.example').path('/', undefined, web).build(),
    want: ['spec.rules[0].http.paths[0].pathType PORTICO_ERR_PATH_INVALID'],
  },
  {
    name: 'pathType must be one of the three supported values',
    ingress: base().host('a.example').path('/', 'Regex', web).build(),
    want: ['spec.rules[0].http.paths[0].pathType PORTICO_ERR_PATH_INVALID'],
  },
  {
    name: 'an Exact path is required',
    ingress: base().host('a.example').path(undefined, 'Exact', web).build(),
    want: ['spec.rules[0].http.paths[0].path PORTICO_ERR_PATH_INVALID'],
  },
  {
    name: 'a Prefix path must be absolute',
    ingress: base().host('a.example').prefix('foo', web).build(),
    want: ['spec.rules[0].http.paths[0].path PORTICO_ERR_PATH_INVALID'],
  },
  {
    name: 'an ImplementationSpecific path, when set, must be absolute',
    ingress: base().host('a.example').implSpecific('foo', web).build(),
    want: ['spec.rules[0].http.paths[0].path PORTICO_ERR_PATH_INVALID'],
  },
  {
    name: 'an Exact or Prefix path may not contain //',
    ingress: base().host('a.example').prefix('/a//b', web).build(),
    want: ['spec.rules[0].http.paths[0].path PORTICO_ERR_PATH_INVALID'],
  },
  {
    name: 'an Exact or Prefix path may not contain /../',
    ingress: base().host('a.example').exact('/a/../b', web).build(),
    want: ['spec.rules[0].http.paths[0].path PORTICO_ERR_PATH_INVALID'],
  },
  {
    name: 'an Exact or Prefix path may not contain an encoded slash',
    ingress: base().host('a.example').prefix('/a%2Fb', web).build(),
    want: ['spec.rules[0].http.paths[0].path PORTICO_ERR_PATH_INVALID'],
  },
  {
    name: 'an Exact or Prefix path may not end with /.',
    ingress: base().host('a.example').prefix('/a/.', web).build(),
    want: ['spec.rules[0].http.paths[0].path PORTICO_ERR_PATH_INVALID'],
  },
  {
    name: 'errors name the failing path by index',
    ingress: base().host('a.example').prefix('/ok', web).prefix('bad', web).build(),
    want: ['spec.rules[0].http.paths[1].path PORTICO_ERR_PATH_INVALID'],
  },

  // Backends.
  {
    name: 'a backend needs a service or a resource',
    ingress: base().host('a.example').path('/', 'Prefix', {}).build(),
    want: ['spec.rules[0].http.paths[0].backend PORTICO_ERR_BACKEND_INVALID'],
  },
  {
    name: 'a backend may not set both service and resource',
    ingress: base()
      .host('a.example')
      .prefix('/', { ...web, ...resource('Bucket', 'b') })
      .build(),
    want: ['spec.rules[0].http.paths[0].backend PORTICO_ERR_BACKEND_INVALID'],
  },
  {
    name: 'a service port needs a number or a name',
    ingress: base()
      .host('a.example')
      .prefix('/', { service: { name: 'web' } })
      .build(),
    want: ['spec.rules[0].http.paths[0].backend PORTICO_ERR_BACKEND_INVALID'],
  },
  {
    name: 'a service port may not set both number and name',
    ingress: base()
      .host('a.example')
      .prefix('/', { service: { name: 'web', port: { number: 80, name: 'http' } } })
      .build(),
    want: ['spec.rules[0].http.paths[0].backend PORTICO_ERR_BACKEND_INVALID'],
  },
  {
    name: 'a service port number must be at most 65535',
    ingress: base().host('a.example').prefix('/', svc('web', 65536)).build(),
    want: ['spec.rules[0].http.paths[0].backend.service.port.number PORTICO_ERR_BACKEND_INVALID'],
  },
  {
    name: 'a service port number must be positive',
    ingress: base().host('a.example').prefix('/', svc('web', -1)).build(),
    want: ['spec.rules[0].http.paths[0].backend.service.port.number PORTICO_ERR_BACKEND_INVALID'],
  },
  {
    name: 'a service port number must be an integer, not a string',
    ingress: base()
      .host('a.example')
      .prefix('/', { service: { name: 'web', port: { number: '80' as unknown as number } } })
      .build(),
    want: ['spec.rules[0].http.paths[0].backend.service.port.number PORTICO_ERR_BACKEND_INVALID'],
  },
  {
    name: 'a service port name must contain a letter',
    ingress: base().host('a.example').prefix('/', svc('web', '8080')).build(),
    want: ['spec.rules[0].http.paths[0].backend.service.port.name PORTICO_ERR_BACKEND_INVALID'],
  },
  {
    name: 'a service port name is at most 15 characters',
    ingress: base().host('a.example').prefix('/', svc('web', 'a-very-long-port-name')).build(),
    want: ['spec.rules[0].http.paths[0].backend.service.port.name PORTICO_ERR_BACKEND_INVALID'],
  },
  {
    name: 'a service name must be a DNS-1035 label',
    ingress: base().host('a.example').prefix('/', svc('9web', 80)).build(),
    want: ['spec.rules[0].http.paths[0].backend.service.name PORTICO_ERR_BACKEND_INVALID'],
  },
  {
    name: 'a service name is required',
    ingress: base().host('a.example').prefix('/', svc('', 80)).build(),
    want: ['spec.rules[0].http.paths[0].backend.service.name PORTICO_ERR_BACKEND_INVALID'],
  },
  {
    name: 'a resource backend needs a kind',
    ingress: base().host('a.example').prefix('/', resource('', 'b')).build(),
    want: ['spec.rules[0].http.paths[0].backend.resource.kind PORTICO_ERR_BACKEND_INVALID'],
  },
  {
    name: 'the defaultBackend is validated like any backend',
    ingress: base().defaultBackend(svc('web', 0)).build(),
    want: ['spec.defaultBackend PORTICO_ERR_BACKEND_INVALID'],
  },

  // Several at once.
  {
    name: 'every problem is reported, in document order',
    ingress: base().host('1.1.1.1').prefix('x', web).exact('/ok', svc('web', 70000)).build(),
    want: [
      'spec.rules[0].host PORTICO_ERR_HOST_INVALID',
      'spec.rules[0].http.paths[0].path PORTICO_ERR_PATH_INVALID',
      'spec.rules[0].http.paths[1].backend.service.port.number PORTICO_ERR_BACKEND_INVALID',
    ],
  },
];

describe('validateIngress follows the API server', () => {
  for (const row of rows) {
    test(row.name, () => {
      const got = validateIngress(stored(row.ingress));
      assert.deepEqual(
        got.map((d) => `${d.field} ${d.code}`),
        row.want,
        JSON.stringify(got.map((d) => d.message)),
      );
      for (const d of got) {
        assert.equal(d.severity, 'error');
        assert.equal(d.object, 'Ingress default/shop');
        assert.ok(d.message.length > 0);
      }
    });
  }

  test('garbage instead of an object gives errors, not an exception', () => {
    for (const junk of [
      null,
      42,
      'x',
      [],
      { kind: 'Ingress' },
      { kind: 'Ingress', metadata: { name: 'x' }, spec: 7 },
    ]) {
      const got = validateIngress({ object: junk } as unknown as StoredObject<Ingress>);
      assert.ok(got.length > 0, JSON.stringify(junk));
    }
  });
});

describe('diagnostic sources in file mode', () => {
  const lines: Record<string, number> = {
    '': 1,
    spec: 5,
    'spec.rules': 7,
    'spec.rules[0]': 8,
    'spec.rules[0].host': 8,
  };
  const located = (ing: Ingress): StoredObject<Ingress> => ({
    object: ing,
    locate: (field) => {
      const line = lines[field];
      return line === undefined ? undefined : { file: 'shop.yaml', line, column: 3, documentIndex: 0 };
    },
  });

  const rows = [
    {
      name: 'a field that was written is located at its own line',
      ingress: base().host('10.0.0.1').prefix('/', web).build(),
      want: 'shop.yaml:8:3',
    },
    {
      name: 'a missing field is located at its longest written parent',
      ingress: base().host('a.example').path('/', undefined, web).build(),
      want: 'shop.yaml:8:3',
    },
    {
      name: 'a problem with the whole spec is located at spec',
      ingress: base().build(),
      want: 'shop.yaml:5:3',
    },
  ] as const;
  for (const row of rows) {
    test(row.name, () => {
      const [d] = validateIngress(located(row.ingress));
      assert.equal(d?.source, row.want);
    });
  }

  test('without a locator no source is set', () => {
    const [d] = validateIngress(stored(base().build()));
    assert.ok(d);
    assert.equal('source' in d, false);
  });
});

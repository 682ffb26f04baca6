/**
 * Examples of the Kubernetes Ingress concept page
 * (kubernetes.io/docs/concepts/services-networking/ingress/, kubernetes/website
 * content/en/docs/concepts/services-networking/ingress.md): the path-matching examples table, the
 * hostname wildcards table, single Service, simple fanout and name-based virtual hosting.
 */
import type { KubeObject, PathType } from '../../../src/model/objects.js';
import { echoService, ingress, ingressClass, svc } from '../../support/builders.js';
import type { ConformanceCase } from './types.js';

const ours = ingressClass('portico').build();

function echo(ns: string, names: readonly string[], port = 80): KubeObject[] {
  return names.flatMap((name, i) => echoService(name, { ns, port, addresses: [`127.0.0.${i + 1}`] }));
}

const PT = 'docs-path-table';

// One host per row of the "Examples" table; rule i of a row points at Service `r<row>-<i>`.
const table: readonly (readonly [
  rules: readonly (readonly [PathType, string])[],
  request: string,
  winner: number | undefined,
])[] = [
  [[['Prefix', '/']], '/anything', 0],
  [[['Exact', '/foo']], '/foo', 0],
  [[['Exact', '/foo']], '/bar', undefined],
  [[['Exact', '/foo']], '/foo/', undefined],
  [[['Exact', '/foo/']], '/foo', undefined],
  [[['Prefix', '/foo']], '/foo', 0],
  [[['Prefix', '/foo']], '/foo/', 0],
  [[['Prefix', '/foo/']], '/foo', 0],
  [[['Prefix', '/foo/']], '/foo/', 0],
  [[['Prefix', '/aaa/bb']], '/aaa/bbb', undefined],
  [[['Prefix', '/aaa/bbb']], '/aaa/bbb', 0],
  [[['Prefix', '/aaa/bbb/']], '/aaa/bbb', 0],
  [[['Prefix', '/aaa/bbb']], '/aaa/bbb/', 0],
  [[['Prefix', '/aaa/bbb']], '/aaa/bbb/ccc', 0],
  [[['Prefix', '/aaa/bbb']], '/aaa/bbbxyz', undefined],
  [
    [
      ['Prefix', '/'],
      ['Prefix', '/aaa'],
    ],
    '/aaa/ccc',
    1,
  ],
  [
    [
      ['Prefix', '/'],
      ['Prefix', '/aaa'],
      ['Prefix', '/aaa/bbb'],
    ],
    '/aaa/bbb',
    2,
  ],
  [
    [
      ['Prefix', '/'],
      ['Prefix', '/aaa'],
      ['Prefix', '/aaa/bbb'],
    ],
    '/ccc',
    0,
  ],
  [[['Prefix', '/aaa']], '/ccc', undefined],
  [
    [
      ['Prefix', '/foo'],
      ['Exact', '/foo'],
    ],
    '/foo',
    1,
  ],
];

const pathTable: ConformanceCase = {
  name: 'every row of the Kubernetes path-matching examples table holds, one host per row',
  source: 'kubernetes.io/docs/concepts/services-networking/ingress/#examples',
  manifests: [
    ours,
    ...echo(
      PT,
      table.flatMap(([rules], row) => rules.map((_, i) => `r${row}-${i}`)),
    ),
    ...table.map(([rules], row) => {
      let b = ingress(`row-${row}`).ns(PT).cls('portico').host(`row${row}.paths.example`);
      rules.forEach(([pathType, path], i) => {
        b = b.path(path, pathType, svc(`r${row}-${i}`, 80));
      });
      return b.build();
    }),
  ],
  requests: table.map(([, request, winner], row) => ({
    host: `row${row}.paths.example`,
    path: request,
    expect:
      winner === undefined
        ? { backend: 'not-found' }
        : { backend: `${PT}/r${row}-${winner}:80`, kind: 'path' as const },
  })),
};

const WC = 'docs-wildcard';
const wildcard: ConformanceCase = {
  name: 'a precise host and a wildcard host route independently; the wildcard covers exactly one label',
  source:
    'kubernetes.io/docs/concepts/services-networking/ingress/#hostname-wildcards (ingress-wildcard-host example and table)',
  manifests: [
    ours,
    ...echo(WC, ['service1', 'service2']),
    ingress('ingress-wildcard-host')
      .ns(WC)
      .cls('portico')
      .host('foo.bar.com')
      .prefix('/bar', svc('service1', 80))
      .host('*.foo.com')
      .prefix('/foo', svc('service2', 80))
      .build(),
  ],
  requests: [
    { host: 'foo.bar.com', path: '/bar', expect: { backend: `${WC}/service1:80`, kind: 'path' } },
    { host: 'bar.foo.com', path: '/foo', expect: { backend: `${WC}/service2:80`, kind: 'path' } },
    { host: 'baz.bar.foo.com', path: '/foo', expect: { backend: 'not-found' } },
    { host: 'foo.com', path: '/foo', expect: { backend: 'not-found' } },
    { host: 'bar.foo.com', path: '/bar', expect: { backend: 'not-found' } },
  ],
};

const SS = 'docs-single-service';
const singleService: ConformanceCase = {
  name: 'an Ingress with only a defaultBackend exposes one Service for every host and path',
  source: 'kubernetes.io/docs/concepts/services-networking/ingress/#single-service-ingress',
  manifests: [
    ours,
    ...echo(SS, ['test']),
    ingress('test-ingress').ns(SS).cls('portico').defaultBackend(svc('test', 80)).build(),
  ],
  requests: [
    { host: '', path: '/', expect: { backend: `${SS}/test:80`, kind: 'catch-all' } },
    { host: 'x.example', path: '/a/b?c=d', expect: { backend: `${SS}/test:80`, kind: 'catch-all' } },
  ],
};

const FO = 'docs-simple-fanout';
const fanout: ConformanceCase = {
  name: 'a simple fanout sends /foo and /bar of one host to two Services',
  source: 'kubernetes.io/docs/concepts/services-networking/ingress/#simple-fanout',
  manifests: [
    ours,
    ...echoService('service1', { ns: FO, port: 4200, addresses: ['127.0.0.1'] }),
    ...echoService('service2', { ns: FO, port: 8080, addresses: ['127.0.0.2'] }),
    ingress('simple-fanout-example')
      .ns(FO)
      .cls('portico')
      .host('foo.bar.com')
      .prefix('/foo', svc('service1', 4200))
      .prefix('/bar', svc('service2', 8080))
      .build(),
  ],
  requests: [
    { host: 'foo.bar.com', path: '/foo', expect: { backend: `${FO}/service1:4200`, kind: 'path' } },
    { host: 'foo.bar.com', path: '/bar/x?y=1', expect: { backend: `${FO}/service2:8080`, kind: 'path' } },
    { host: 'FOO.bar.com:80', path: '/foo/', expect: { backend: `${FO}/service1:4200`, kind: 'path' } },
    { host: 'foo.bar.com', path: '/baz', expect: { backend: 'not-found' } },
  ],
};

const VH = 'docs-virtual-hosts';
const virtualHosts: ConformanceCase = {
  name: 'name-based virtual hosting routes by host, and rules without host take every other host',
  source: 'kubernetes.io/docs/concepts/services-networking/ingress/#name-based-virtual-hosting',
  manifests: [
    ours,
    ...echo(VH, ['service1', 'service2', 'service3']),
    ingress('name-virtual-host-ingress-no-third-host')
      .ns(VH)
      .cls('portico')
      .host('first.bar.com')
      .prefix('/', svc('service1', 80))
      .host('second.bar.com')
      .prefix('/', svc('service2', 80))
      .rule()
      .prefix('/', svc('service3', 80))
      .build(),
  ],
  requests: [
    { host: 'first.bar.com', path: '/', expect: { backend: `${VH}/service1:80`, kind: 'path' } },
    { host: 'second.bar.com', path: '/x', expect: { backend: `${VH}/service2:80`, kind: 'path' } },
    { host: 'third.bar.com', path: '/', expect: { backend: `${VH}/service3:80`, kind: 'path' } },
    { host: '', path: '/', expect: { backend: `${VH}/service3:80`, kind: 'path' } },
  ],
};

/** `kubernetesDocsCases` are the examples of the Kubernetes Ingress concept page. */
export const kubernetesDocsCases: ConformanceCase[] = [
  pathTable,
  wildcard,
  singleService,
  fanout,
  virtualHosts,
];

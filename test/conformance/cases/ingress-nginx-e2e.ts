/**
 * Routing scenarios of kubernetes/ingress-nginx `test/e2e` that need no annotations. ingress-nginx
 * tells backends apart with per-Ingress headers (custom-headers, configuration-snippet); here each
 * Ingress points at its own Service instead, and the expected Service stands for the header.
 * `framework.NewSingleIngress` creates Prefix paths; creation order becomes creationTimestamps.
 */
import type { KubeObject } from '../../../src/model/objects.js';
import { echoService, ingress, ingressClass, svc } from '../../support/builders.js';
import type { ConformanceCase, ConformanceRequest } from './types.js';

const ours = ingressClass('portico').build();

function echo(ns: string, names: readonly string[]): KubeObject[] {
  return names.flatMap((name, i) => echoService(name, { ns, port: 80, addresses: [`127.0.0.${i + 1}`] }));
}

function at(minute: number): string {
  return `2024-05-01T10:${String(minute).padStart(2, '0')}:00Z`;
}

function expect(host: string, path: string, backend: string): ConformanceRequest {
  return { host, path, expect: backend === 'not-found' ? { backend } : { backend, kind: 'path' } };
}

const EX = 'nginx-pathtype-exact';
const MX = 'nginx-pathtype-mixed';
const PX = 'nginx-pathtype-prefix';
const WH = 'nginx-without-host';
const MR = 'nginx-multiple-rules';

const pathtypeExact: ConformanceCase = {
  name: 'an Exact path wins for its own path and a Prefix path of the same value serves the subpaths; a later duplicate Prefix changes nothing',
  source:
    'kubernetes/ingress-nginx test/e2e/ingress/pathtype_exact.go "should choose exact location for /exact"',
  manifests: [
    ours,
    ...echo(EX, ['exact', 'exact-suffix', 'duplicated-prefix']),
    ingress('exact')
      .ns(EX)
      .cls('portico')
      .created(at(0))
      .host('exact.path')
      .exact('/exact', svc('exact', 80))
      .build(),
    ingress('exact-suffix')
      .ns(EX)
      .cls('portico')
      .created(at(1))
      .host('exact.path')
      .prefix('/exact', svc('exact-suffix', 80))
      .build(),
    ingress('duplicated-prefix')
      .ns(EX)
      .cls('portico')
      .created(at(2))
      .host('exact.path')
      .prefix('/exact', svc('duplicated-prefix', 80))
      .build(),
  ],
  requests: [
    expect('exact.path', '/exact', `${EX}/exact:80`),
    expect('exact.path', '/exact/suffix', `${EX}/exact-suffix:80`),
  ],
};

const pathtypeMixed: ConformanceCase = {
  name: 'with Exact and Prefix rules on / and /foo the Exact one answers its path and the longest Prefix the rest',
  source: 'kubernetes/ingress-nginx test/e2e/ingress/pathtype_mixed.go "should choose the correct location"',
  manifests: [
    ours,
    ...echo(MX, ['exact-root', 'prefix-root', 'exact-foo', 'prefix-foo']),
    ingress('exact-root')
      .ns(MX)
      .cls('portico')
      .created(at(0))
      .host('mixed.path')
      .exact('/', svc('exact-root', 80))
      .build(),
    ingress('prefix-root')
      .ns(MX)
      .cls('portico')
      .created(at(1))
      .host('mixed.path')
      .prefix('/', svc('prefix-root', 80))
      .build(),
    ingress('exact-foo')
      .ns(MX)
      .cls('portico')
      .created(at(2))
      .host('mixed.path')
      .exact('/foo', svc('exact-foo', 80))
      .build(),
    ingress('prefix-foo')
      .ns(MX)
      .cls('portico')
      .created(at(3))
      .host('mixed.path')
      .prefix('/foo', svc('prefix-foo', 80))
      .build(),
  ],
  requests: [
    expect('mixed.path', '/', `${MX}/exact-root:80`),
    expect('mixed.path', '/bar', `${MX}/prefix-root:80`),
    expect('mixed.path', '/foo', `${MX}/exact-foo:80`),
    expect('mixed.path', '/foo/bar', `${MX}/prefix-foo:80`),
    expect('mixed.path', '/foobar', `${MX}/prefix-root:80`),
  ],
};

const pathtypePrefix: ConformanceCase = {
  name: 'prefix /aaa matches /aaa, /aaa/ and /aaa/cccc but not /aaacccc',
  source:
    'kubernetes/ingress-nginx test/e2e/ingress/pathtype_prefix.go "should return 404 when prefix /aaa does not match request /aaaccc"',
  manifests: [
    ours,
    ...echo(PX, ['echo']),
    ingress('exact').ns(PX).cls('portico').host('prefix.path').prefix('/aaa', svc('echo', 80)).build(),
  ],
  requests: [
    expect('prefix.path', '/aaa', `${PX}/echo:80`),
    expect('prefix.path', '/aaacccc', 'not-found'),
    expect('prefix.path', '/aaa/cccc', `${PX}/echo:80`),
    expect('prefix.path', '/aaa/', `${PX}/echo:80`),
  ],
};

const withoutHost: ConformanceCase = {
  name: 'rules without host answer requests for any host, including requests without a Host header',
  source:
    'kubernetes/ingress-nginx test/e2e/ingress/without_host.go "should set ingress details variables for ingresses without a host"',
  manifests: [
    ours,
    ...echo(WH, ['echo']),
    ingress('default-host').ns(WH).cls('portico').rule().prefix('/', svc('echo', 80)).build(),
  ],
  requests: [expect('', '/', `${WH}/echo:80`), expect('anything.example', '/x', `${WH}/echo:80`)],
};

const onlyBackend: ConformanceCase = {
  name: 'a host rule without paths sends that host to the Ingress defaultBackend',
  source:
    'kubernetes/ingress-nginx test/e2e/ingress/without_host.go "should set ingress details variables for ingresses with host without IngressRuleValue, only Backend"',
  manifests: [
    ours,
    ...echo(WH, ['echo']),
    ingress('backend').ns(WH).cls('portico').hostOnly('only-backend').defaultBackend(svc('echo', 80)).build(),
  ],
  requests: [
    { host: 'only-backend', path: '/', expect: { backend: `${WH}/echo:80`, kind: 'host-default' } },
    { host: 'other-host', path: '/', expect: { backend: 'not-found' } },
  ],
};

const multipleRules: ConformanceCase = {
  name: 'one Ingress with two host rules sends each host to its own Service',
  source:
    'kubernetes/ingress-nginx test/e2e/ingress/multiple_rules.go "should set the correct $service_name NGINX variable"',
  manifests: [
    ours,
    ...echo(MR, ['first-service', 'second-service']),
    ingress('simh')
      .ns(MR)
      .cls('portico')
      .host('first.host')
      .prefix('/', svc('first-service', 80))
      .host('second.host')
      .prefix('/', svc('second-service', 80))
      .build(),
  ],
  requests: [
    expect('first.host', '/exact', `${MR}/first-service:80`),
    expect('second.host', '/exact', `${MR}/second-service:80`),
  ],
};

const DBK = 'nginx-default-backend';

const onlyDefaultBackend: ConformanceCase = {
  name: 'with no Ingress at all every request gets the built-in 404',
  source:
    'kubernetes/ingress-nginx test/e2e/defaultbackend/default_backend.go "should return 404 sending requests when only a default backend is running"',
  manifests: [ours],
  requests: [
    ['', '/'],
    ['', '/demo'],
    ['foo.bar.com', '/'],
    ['foo.bar.com', '/demo'],
  ].map(([host, path]) => ({
    host: host!,
    path: path!,
    expect: { backend: 'not-found', kind: 'not-found' as const },
  })),
};

const customDefaultBackend: ConformanceCase = {
  name: '--default-backend-service answers requests no Ingress matches',
  source:
    'kubernetes/ingress-nginx test/e2e/defaultbackend/custom_default_backend.go "uses custom default backend"',
  manifests: [ours, ...echo(DBK, ['http-svc'])],
  options: { defaultBackendService: { namespace: DBK, name: 'http-svc', port: 80 } },
  requests: [
    { host: '', path: '/', expect: { backend: `${DBK}/http-svc:80`, kind: 'catch-all' } },
    { host: 'unknown.example', path: '/x', expect: { backend: `${DBK}/http-svc:80`, kind: 'catch-all' } },
  ],
};

const defaultBackendWithHosts: ConformanceCase = {
  name: 'an Ingress with a defaultBackend and a host rule without paths serves that host from the defaultBackend',
  source:
    'kubernetes/ingress-nginx test/e2e/defaultbackend/with_hosts.go "should apply the annotation to the default backend"',
  manifests: [
    ours,
    ...echo(DBK, ['echo']),
    ingress('default-backend-annotations')
      .ns(DBK)
      .cls('portico')
      .hostOnly('foo.com')
      .defaultBackend(svc('echo', 80))
      .build(),
  ],
  requests: [{ host: 'foo.com', path: '/', expect: { backend: `${DBK}/echo:80`, kind: 'host-default' } }],
};

const IC = 'nginx-ingress-class';
const classIngress = (name: string) => ingress(name).ns(IC).host(name).prefix('/', svc('http-svc', 80));

const classCases: ConformanceCase[] = [
  {
    name: 'without a specific ingress class, an Ingress of another class is ignored and one without class is served',
    source:
      'kubernetes/ingress-nginx test/e2e/settings/ingress_class.go "Without a specific ingress-class: should ignore Ingress with class"',
    // ingress-nginx then watched class-less Ingresses by default; Portico needs the flag for that.
    options: { watchIngressWithoutClass: true },
    manifests: [
      ours,
      ...echo(IC, ['http-svc']),
      classIngress('foo').classAnnotation('testclass').build(),
      classIngress('bar').build(),
    ],
    requests: [expect('foo', '/', 'not-found'), expect('bar', '/', `${IC}/http-svc:80`)],
  },
  {
    name: 'with a specific ingress class, an Ingress without class is ignored and one with the class annotation is served',
    source:
      'kubernetes/ingress-nginx test/e2e/settings/ingress_class.go "With a specific ingress-class: should ignore Ingress with no class"',
    options: { ingressClass: 'testclass' },
    manifests: [
      ours,
      ...echo(IC, ['http-svc']),
      classIngress('bar').build(),
      classIngress('foo').classAnnotation('testclass').build(),
    ],
    requests: [expect('foo', '/', `${IC}/http-svc:80`), expect('bar', '/', 'not-found')],
  },
  {
    name: 'an Ingress whose class annotation was removed is no longer served',
    source:
      'kubernetes/ingress-nginx test/e2e/settings/ingress_class.go "should delete Ingress when class is removed" (state after the update)',
    options: { ingressClass: 'testclass' },
    manifests: [ours, ...echo(IC, ['http-svc']), classIngress('foo').build()],
    requests: [expect('foo', '/', 'not-found')],
  },
  {
    name: 'an Ingress naming our IngressClass in ingressClassName is served',
    source:
      'kubernetes/ingress-nginx test/e2e/settings/ingress_class.go "check scenarios for IngressClass and ingress.class annotation" (only having IngressClassName)',
    options: { ingressClass: 'test-new-ingress-class' },
    manifests: [
      ingressClass('test-new-ingress-class').build(),
      ...echo(IC, ['http-svc']),
      classIngress('ingress.class').cls('test-new-ingress-class').build(),
    ],
    requests: [expect('ingress.class', '/', `${IC}/http-svc:80`)],
  },
  {
    name: 'an Ingress with our class in the legacy annotation and no ingressClassName is served',
    source:
      'kubernetes/ingress-nginx test/e2e/settings/ingress_class.go "check scenarios for IngressClass and ingress.class annotation" (only having ingress.class annotation)',
    options: { ingressClass: 'test-new-ingress-class' },
    manifests: [
      ingressClass('test-new-ingress-class').build(),
      ...echo(IC, ['http-svc']),
      classIngress('ingress.class').classAnnotation('test-new-ingress-class').build(),
    ],
    requests: [expect('ingress.class', '/', `${IC}/http-svc:80`)],
  },
  {
    name: 'an Ingress with another class in the legacy annotation and no ingressClassName is ignored',
    source:
      'kubernetes/ingress-nginx test/e2e/settings/ingress_class.go "check scenarios for IngressClass and ingress.class annotation" (invalid ingress.class annotation)',
    options: { ingressClass: 'test-new-ingress-class' },
    manifests: [
      ingressClass('test-new-ingress-class').build(),
      ...echo(IC, ['http-svc']),
      classIngress('ingress.class').classAnnotation('invalid').build(),
    ],
    requests: [expect('ingress.class', '/', 'not-found')],
  },
  {
    name: 'an Ingress naming a non-existent IngressClass and no annotation is ignored',
    source:
      'kubernetes/ingress-nginx test/e2e/settings/ingress_class.go "check scenarios for IngressClass and ingress.class annotation" (invalid IngressClassName)',
    options: { ingressClass: 'test-new-ingress-class' },
    manifests: [
      ingressClass('test-new-ingress-class').build(),
      ...echo(IC, ['http-svc']),
      classIngress('ingress.class').cls('invalidclass').build(),
    ],
    requests: [expect('ingress.class', '/', 'not-found')],
  },
];

/** `ingressNginxE2eCases` are the annotation-free routing scenarios of ingress-nginx's e2e suite. */
export const ingressNginxE2eCases: ConformanceCase[] = [
  pathtypeExact,
  pathtypeMixed,
  pathtypePrefix,
  withoutHost,
  onlyBackend,
  multipleRules,
  onlyDefaultBackend,
  customDefaultBackend,
  defaultBackendWithHosts,
  ...classCases,
];

/**
 * Scenarios of kubernetes-sigs/ingress-controller-conformance, `features/*.feature` (release 1.19
 * suite). The upstream manifests carry no class (the cluster's default IngressClass applies), so
 * each case ships a default Portico IngressClass. Requests the upstream suite expects to answer 404
 * expect `not-found` here.
 */
import type { KubeObject } from '../../../src/model/objects.js';
import { echoService, ingress, ingressClass, svc } from '../../support/builders.js';
import type { ConformanceCase } from './types.js';

const defaultClass = ingressClass('portico').isDefault().build();

/** One echo Service per name, each on its own loopback address 127.0.0.<n>. */
function echo(ns: string, names: readonly (string | readonly [string, string])[]): KubeObject[] {
  return names.flatMap((entry, i) => {
    const [name, portName] = typeof entry === 'string' ? [entry, undefined] : entry;
    return echoService(name, {
      ns,
      port: 8080,
      addresses: [`127.0.0.${i + 1}`],
      ...(portName === undefined ? {} : { portName }),
    });
  });
}

const DB = 'conformance-default-backend';
const HR = 'conformance-host-rules';
const PR = 'conformance-path-rules';
const IC = 'conformance-ingress-class';

const defaultBackend: ConformanceCase = {
  name: 'an Ingress with no rules sends all requests to its default backend',
  source: 'kubernetes-sigs/ingress-controller-conformance features/default_backend.feature',
  manifests: [
    defaultClass,
    ...echo(DB, ['echo-service']),
    ingress('default-backend').ns(DB).defaultBackend(svc('echo-service', 8080)).build(),
  ],
  requests: [
    ['my-host', '/'],
    ['my-host', '/sub-path'],
    ['some-host', '/'],
    ['', '/resource'],
    ['some-host', '/resource'],
    ['my-host', '/resource'],
  ].map(([host, path]) => ({
    host: host!,
    path: path!,
    expect: { backend: `${DB}/echo-service:8080`, kind: 'catch-all' as const },
  })),
};

const hostRules: ConformanceCase = {
  name: 'host rules route by the request host, and a wildcard covers exactly one DNS label',
  source: 'kubernetes-sigs/ingress-controller-conformance features/host_rules.feature',
  // The upstream Ingress also has a TLS section for foo.bar.com; TLS is exercised elsewhere, and
  // routing by host is the same over TLS, so the case leaves it (and its Secret) out.
  manifests: [
    defaultClass,
    ...echo(HR, ['wildcard-foo-com', ['foo-bar-com', 'http']]),
    ingress('host-rules')
      .ns(HR)
      .host('*.foo.com')
      .prefix('/', svc('wildcard-foo-com', 8080))
      .host('foo.bar.com')
      .prefix('/', svc('foo-bar-com', 'http'))
      .build(),
  ],
  requests: [
    { host: 'foo.bar.com', path: '/', expect: { backend: `${HR}/foo-bar-com:http`, kind: 'path' } },
    { host: 'subdomain.bar.com', path: '/', expect: { backend: 'not-found' } },
    { host: 'bar.foo.com', path: '/', expect: { backend: `${HR}/wildcard-foo-com:8080`, kind: 'path' } },
    { host: 'baz.bar.foo.com', path: '/', expect: { backend: 'not-found' } },
    { host: 'foo.com', path: '/', expect: { backend: 'not-found' } },
  ],
};

const pathRules: ConformanceCase = {
  name: 'path rules follow Exact, element-wise Prefix, longest match and Exact-over-Prefix precedence',
  source: 'kubernetes-sigs/ingress-controller-conformance features/path_rules.feature',
  manifests: [
    defaultClass,
    ...echo(PR, [
      'foo-exact',
      'foo-prefix',
      'aaa-slash-bbb-prefix',
      'aaa-prefix',
      'aaa-slash-bbb-slash-prefix',
      'foo-slash-exact',
    ]),
    ingress('path-rules')
      .ns(PR)
      .host('exact-path-rules')
      .exact('/foo', svc('foo-exact', 8080))
      .host('prefix-path-rules')
      .prefix('/foo', svc('foo-prefix', 8080))
      .prefix('/aaa/bbb', svc('aaa-slash-bbb-prefix', 8080))
      .prefix('/aaa', svc('aaa-prefix', 8080))
      .host('mixed-path-rules')
      .prefix('/foo', svc('foo-prefix', 8080))
      .exact('/foo', svc('foo-exact', 8080))
      .host('trailing-slash-path-rules')
      .prefix('/aaa/bbb/', svc('aaa-slash-bbb-slash-prefix', 8080))
      .exact('/foo/', svc('foo-slash-exact', 8080))
      .build(),
  ],
  requests: [
    // exact /foo matches request /foo
    { host: 'exact-path-rules', path: '/foo', expect: { backend: `${PR}/foo-exact:8080`, kind: 'path' } },
    // exact /foo does not match request /foo/
    { host: 'exact-path-rules', path: '/foo/', expect: { backend: 'not-found' } },
    // exact /foo does not match request /FOO
    { host: 'exact-path-rules', path: '/FOO', expect: { backend: 'not-found' } },
    // exact /foo does not match request /bar
    { host: 'exact-path-rules', path: '/bar', expect: { backend: 'not-found' } },
    // prefix /foo matches request /foo
    { host: 'prefix-path-rules', path: '/foo', expect: { backend: `${PR}/foo-prefix:8080`, kind: 'path' } },
    // prefix /foo matches request /foo/
    { host: 'prefix-path-rules', path: '/foo/', expect: { backend: `${PR}/foo-prefix:8080`, kind: 'path' } },
    // prefix /foo does not match request /FOO
    { host: 'prefix-path-rules', path: '/FOO', expect: { backend: 'not-found' } },
    // prefix /aaa/bbb matches request /aaa/bbb (the longest path wins over /aaa)
    {
      host: 'prefix-path-rules',
      path: '/aaa/bbb',
      expect: { backend: `${PR}/aaa-slash-bbb-prefix:8080`, kind: 'path' },
    },
    // prefix /aaa/bbb matches request /aaa/bbb/ccc
    {
      host: 'prefix-path-rules',
      path: '/aaa/bbb/ccc',
      expect: { backend: `${PR}/aaa-slash-bbb-prefix:8080`, kind: 'path' },
    },
    // prefix /aaa matches request /aaa/ccc
    {
      host: 'prefix-path-rules',
      path: '/aaa/ccc',
      expect: { backend: `${PR}/aaa-prefix:8080`, kind: 'path' },
    },
    // prefix /aaa does not match request /aaaccc
    { host: 'prefix-path-rules', path: '/aaaccc', expect: { backend: 'not-found' } },
    // mixed: exact /foo is preferred for request /foo
    { host: 'mixed-path-rules', path: '/foo', expect: { backend: `${PR}/foo-exact:8080`, kind: 'path' } },
    // prefix /aaa/bbb/ matches request /aaa/bbb
    {
      host: 'trailing-slash-path-rules',
      path: '/aaa/bbb',
      expect: { backend: `${PR}/aaa-slash-bbb-slash-prefix:8080`, kind: 'path' },
    },
    // prefix /aaa/bbb/ matches request /aaa/bbb/
    {
      host: 'trailing-slash-path-rules',
      path: '/aaa/bbb/',
      expect: { backend: `${PR}/aaa-slash-bbb-slash-prefix:8080`, kind: 'path' },
    },
    // exact /foo/ does not match request /foo
    { host: 'trailing-slash-path-rules', path: '/foo', expect: { backend: 'not-found' } },
  ],
};

const ingressClassCase: ConformanceCase = {
  name: 'an Ingress naming an IngressClass that does not exist is not served',
  source: 'kubernetes-sigs/ingress-controller-conformance features/ingress_class.feature',
  // Upstream only checks that the Ingress gets no status address; here its host must answer 404.
  manifests: [
    defaultClass,
    ...echo(IC, ['ingress-class-prefix']),
    ingress('test-ingress-class')
      .ns(IC)
      .cls('some-invalid-class-name')
      .host('ingress-class')
      .prefix('/', svc('ingress-class-prefix', 8080))
      .build(),
  ],
  requests: [{ host: 'ingress-class', path: '/', expect: { backend: 'not-found', kind: 'not-found' } }],
};

/** `ingressControllerConformanceCases` are the ingress-controller-conformance scenarios. */
export const ingressControllerConformanceCases: ConformanceCase[] = [
  defaultBackend,
  hostRules,
  pathRules,
  ingressClassCase,
];

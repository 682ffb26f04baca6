/**
 * Host-scoped `server-alias` and `from-to-www-redirect` through translation and compilation: the
 * oldest Ingress of a host that sets a value wins, younger ones with a different value are warned
 * and still merge their paths, names are checked against rule hosts and each other, the extra
 * names share their host's certificate, and the compiled table routes them.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compileSnapshot } from '../../../src/compile/snapshot.js';
import type { Diagnostic } from '../../../src/model/diagnostics.js';
import type { KubeObject } from '../../../src/model/objects.js';
import { translate } from '../../../src/model/translate/translate.js';
import type { RoutingModel } from '../../../src/model/types.js';
import {
  type IngressBuilder,
  ingress,
  ingressClass,
  inputFrom,
  service,
  svc,
  TEST_OPTIONS,
} from '../../support/builders.js';

const N = 'nginx.ingress.kubernetes.io/';
const T1 = '2024-01-01T00:00:00Z';
const T2 = '2024-02-01T00:00:00Z';
const T3 = '2024-03-01T00:00:00Z';
const cls = ingressClass('portico').build();
const services = ['a', 'b', 'c'].map((n) => service(n).port(80).build());

const model = (...objects: readonly KubeObject[]): RoutingModel =>
  translate(inputFrom([cls, ...services, ...objects]), TEST_OPTIONS);
const ignored = (m: RoutingModel): Diagnostic[] =>
  m.diagnostics.filter((d) => d.code === 'PORTICO_WARN_HOST_ANNOTATION_IGNORED');
const base = (name: string, created: string, host: string): IngressBuilder =>
  ingress(name).cls('portico').created(created).host(host);

describe('host scope: the oldest Ingress of the host that sets a value supplies it', () => {
  const cases: readonly {
    name: string;
    objects: () => KubeObject[];
    aliases?: readonly string[];
    www?: boolean;
    sources: Record<string, string>;
    warnings: readonly { object: string; field: string; message: string }[];
  }[] = [
    {
      name: 'a younger Ingress with different aliases is warned; the older aliases stay',
      objects: () => [
        base('young', T2, 'foo').annotate(`${N}server-alias`, 'baz').prefix('/b', svc('b', 80)).build(),
        base('old', T1, 'foo').annotate(`${N}server-alias`, 'bar').prefix('/a', svc('a', 80)).build(),
      ],
      aliases: ['bar'],
      sources: { 'server-alias': 'default/old' },
      warnings: [
        {
          object: 'Ingress default/young',
          field: `metadata.annotations["${N}server-alias"]`,
          message: 'server-alias for host "foo" is ignored: Ingress default/old (older) sets it to "bar"',
        },
      ],
    },
    {
      name: 'a younger Ingress with the same aliases (in another order) is not warned',
      objects: () => [
        base('old', T1, 'foo').annotate(`${N}server-alias`, 'x, y').prefix('/a', svc('a', 80)).build(),
        base('young', T2, 'foo').annotate(`${N}server-alias`, 'y,x').prefix('/b', svc('b', 80)).build(),
      ],
      aliases: ['x', 'y'],
      sources: { 'server-alias': 'default/old' },
      warnings: [],
    },
    {
      name: 'an older Ingress without the annotation does not block a younger one that sets it (as ingress-nginx)',
      objects: () => [
        base('old', T1, 'foo').prefix('/a', svc('a', 80)).build(),
        base('young', T2, 'foo').annotate(`${N}server-alias`, 'bar').prefix('/b', svc('b', 80)).build(),
      ],
      aliases: ['bar'],
      sources: { 'server-alias': 'default/young' },
      warnings: [],
    },
    {
      name: 'from-to-www-redirect "false" on the oldest Ingress wins over a younger "true"',
      objects: () => [
        base('old', T1, 'foo.test')
          .annotate(`${N}from-to-www-redirect`, 'false')
          .prefix('/a', svc('a', 80))
          .build(),
        base('young', T2, 'foo.test')
          .annotate(`${N}from-to-www-redirect`, 'true')
          .prefix('/b', svc('b', 80))
          .build(),
      ],
      www: false,
      sources: { 'from-to-www-redirect': 'default/old' },
      warnings: [
        {
          object: 'Ingress default/young',
          field: `metadata.annotations["${N}from-to-www-redirect"]`,
          message:
            'from-to-www-redirect for host "foo.test" is ignored: Ingress default/old (older) sets it to "false"',
        },
      ],
    },
    {
      name: 'the two settings are bound independently, each from its own oldest Ingress',
      objects: () => [
        base('old', T1, 'foo.test')
          .annotate(`${N}server-alias`, 'bar.test')
          .prefix('/a', svc('a', 80))
          .build(),
        base('young', T2, 'foo.test')
          .annotate(`${N}from-to-www-redirect`, 'true')
          .prefix('/b', svc('b', 80))
          .build(),
      ],
      aliases: ['bar.test'],
      www: true,
      sources: { 'server-alias': 'default/old', 'from-to-www-redirect': 'default/young' },
      warnings: [],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const m = model(...c.objects());
      const host = [...(m.hostSettings?.keys() ?? [])][0] ?? '';
      const settings = m.hostSettings?.get(host);
      assert.deepEqual(settings?.aliases, c.aliases);
      assert.equal(settings?.fromToWwwRedirect, c.www);
      assert.deepEqual(settings?.sources, c.sources);
      assert.deepEqual(
        ignored(m).map((d) => ({ object: d.object, field: d.field, message: d.message })),
        c.warnings,
      );
      assert.equal(m.routes.length, 2, 'the paths of both Ingresses merge');
    });
  }

  test('a younger Ingress with several rules for the host is warned once', () => {
    const young = base('young', T2, 'foo')
      .annotate(`${N}server-alias`, 'baz')
      .prefix('/b', svc('b', 80))
      .host('foo')
      .prefix('/c', svc('c', 80))
      .build();
    const m = model(
      base('old', T1, 'foo').annotate(`${N}server-alias`, 'bar').prefix('/a', svc('a', 80)).build(),
      young,
    );
    assert.equal(ignored(m).length, 1);
  });
});

describe('aliases and www names are checked against rule hosts and each other', () => {
  test('an alias that is a rule host is dropped with a warning (ingress-nginx drops it too)', () => {
    const m = model(
      base('a', T1, 'foo').annotate(`${N}server-alias`, 'bar, extra').prefix('/', svc('a', 80)).build(),
      base('b', T2, 'bar').prefix('/', svc('b', 80)).build(),
    );
    assert.deepEqual(m.hostSettings?.get('foo')?.aliases, ['extra']);
    assert.deepEqual(
      ignored(m).map((d) => [d.object, d.message]),
      [['Ingress default/a', 'alias "bar" of host "foo" is dropped: it is a rule host of its own']],
    );
    const snap = compileSnapshot(m, 1);
    assert.equal(snap.match('bar', '/').backend?.key, 'default/b:80', 'the real host keeps its own routes');
    assert.equal(snap.match('extra', '/').backend?.key, 'default/a:80');
  });

  test('an alias equal to its own host is dropped silently', () => {
    const m = model(
      base('a', T1, 'foo').annotate(`${N}server-alias`, 'foo').prefix('/', svc('a', 80)).build(),
    );
    assert.equal(m.hostSettings?.get('foo')?.aliases, undefined);
    assert.deepEqual(ignored(m), []);
  });

  test('an alias two hosts claim goes to the host whose Ingress is older', () => {
    const m = model(
      base('young', T2, 'two').annotate(`${N}server-alias`, 'shared').prefix('/', svc('b', 80)).build(),
      base('old', T1, 'one').annotate(`${N}server-alias`, 'shared').prefix('/', svc('a', 80)).build(),
    );
    assert.deepEqual(m.hostSettings?.get('one')?.aliases, ['shared']);
    assert.equal(m.hostSettings?.get('two')?.aliases, undefined);
    assert.deepEqual(
      ignored(m).map((d) => [d.object, d.message]),
      [
        [
          'Ingress default/young',
          'alias "shared" of host "two" is dropped: it is already an alias of host "one"',
        ],
      ],
    );
  });

  test('server-alias on rules without host is ignored with a warning', () => {
    const m = model(
      ingress('a')
        .cls('portico')
        .created(T1)
        .annotate(`${N}server-alias`, 'bar')
        .rule()
        .prefix('/', svc('a', 80))
        .build(),
    );
    assert.equal(m.hostSettings?.get('')?.aliases, undefined);
    assert.match(ignored(m)[0]?.message ?? '', /^server-alias has no effect on rules without host/);
  });

  const www: readonly {
    name: string;
    host: string;
    others: readonly string[];
    aliases?: string;
    from?: string;
    message?: string;
  }[] = [
    { name: 'a host redirects www.<host> to itself', host: 'shop.test', others: [], from: 'www.shop.test' },
    {
      name: 'a www host redirects the bare name to itself',
      host: 'www.shop.test',
      others: [],
      from: 'shop.test',
    },
    {
      name: 'no redirect when the other name is a rule host (ingress-nginx skips it too)',
      host: 'shop.test',
      others: ['www.shop.test'],
      message:
        'from-to-www-redirect for host "shop.test" makes no redirect: "www.shop.test" is a rule host of its own',
    },
    {
      name: 'no redirect when the other name is an alias: the alias serves it',
      host: 'shop.test',
      others: [],
      aliases: 'www.shop.test',
      message:
        'from-to-www-redirect for host "shop.test" makes no redirect: "www.shop.test" is an alias of host "shop.test"',
    },
    {
      name: 'no redirect for a wildcard host',
      host: '*.shop.test',
      others: [],
      message:
        'from-to-www-redirect for host "*.shop.test" makes no redirect: it has no effect on a wildcard host',
    },
  ];
  for (const c of www) {
    test(c.name, () => {
      let b = base('a', T1, c.host).annotate(`${N}from-to-www-redirect`, 'true');
      if (c.aliases !== undefined) b = b.annotate(`${N}server-alias`, c.aliases);
      const objects: KubeObject[] = [b.prefix('/', svc('a', 80)).build()];
      for (const [i, other] of c.others.entries()) {
        objects.push(base(`other${i}`, T3, other).prefix('/', svc('b', 80)).build());
      }
      const m = model(...objects);
      assert.equal(m.hostSettings?.get(c.host)?.redirectFrom, c.from);
      assert.deepEqual(
        ignored(m).map((d) => d.message),
        c.message === undefined ? [] : [c.message],
      );
    });
  }
});

describe('certificates for aliases and www names', () => {
  test('an alias and the www name are served with their host’s certificate; names with their own keep it', () => {
    const m = model(
      base('a', T1, 'shop.test')
        .annotate(`${N}server-alias`, 'alias.test, own.test')
        .annotate(`${N}from-to-www-redirect`, 'true')
        .prefix('/', svc('a', 80))
        .tls('shop-cert', 'shop.test')
        .tls('own-cert', 'own.test')
        .build(),
    );
    assert.equal(m.tls?.get('alias.test')?.secretName, 'shop-cert');
    assert.equal(m.tls?.get('www.shop.test')?.secretName, 'shop-cert');
    assert.equal(m.tls?.get('own.test')?.secretName, 'own-cert');
    assert.deepEqual(
      m.tlsHosts,
      ['own.test', 'shop.test'],
      'TLS hosts (HTTPS redirects) stay as spec.tls lists them',
    );
  });

  test('a host served by a wildcard certificate shares it', () => {
    const m = model(
      base('a', T1, 'a.shop.test')
        .annotate(`${N}server-alias`, 'b.other.test')
        .prefix('/', svc('a', 80))
        .tls('wild', '*.shop.test')
        .build(),
    );
    assert.equal(m.tls?.get('b.other.test')?.secretName, 'wild');
  });

  test('without TLS no certificate is added', () => {
    const m = model(
      base('a', T1, 'shop.test').annotate(`${N}server-alias`, 'alias.test').prefix('/', svc('a', 80)).build(),
    );
    assert.equal(m.tls, undefined);
  });
});

describe('compiled lookups', () => {
  const m = model(
    base('a', T1, 'shop.test')
      .annotate(`${N}server-alias`, 'alias.test, *.wild.test')
      .annotate(`${N}from-to-www-redirect`, 'true')
      .prefix('/', svc('a', 80))
      .exact('/exact', svc('b', 80))
      .build(),
    base('plain', T2, 'plain.test').prefix('/', svc('c', 80)).build(),
  );
  const snap = compileSnapshot(m, 1);

  const cases: readonly { name: string; host: string; path: string; same?: string; redirect?: string }[] = [
    {
      name: 'an alias answers with the host’s own match object (prefix)',
      host: 'alias.test',
      path: '/x',
      same: 'shop.test',
    },
    {
      name: 'an alias answers with the host’s own match object (exact)',
      host: 'alias.test',
      path: '/exact',
      same: 'shop.test',
    },
    { name: 'a wildcard alias covers one label', host: 'x.wild.test', path: '/y', same: 'shop.test' },
    {
      name: 'a wildcard alias covers no deeper name',
      host: 'a.b.wild.test',
      path: '/y',
      same: 'nowhere.test',
    },
    {
      name: 'the www name redirects every path to the host',
      host: 'www.shop.test',
      path: '/any/path',
      redirect: 'shop.test',
    },
    { name: 'the www name redirects the root too', host: 'www.shop.test', path: '/', redirect: 'shop.test' },
    { name: 'a plain host is untouched', host: 'plain.test', path: '/', same: 'plain.test' },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const got = snap.match(c.host, c.path);
      if (c.same !== undefined) assert.equal(got, snap.match(c.same, c.path));
      if (c.redirect !== undefined) {
        assert.equal(got.kind, 'host-redirect');
        assert.equal(got.hostRedirect, c.redirect);
        assert.equal(got.ingress, 'default/a');
        assert.equal(got.backend, undefined);
      }
    });
  }

  test('every redirect answer is listed among the snapshot’s matches', () => {
    const redirect = snap.match('www.shop.test', '/');
    assert.ok(snap.matches?.includes(redirect));
  });

  test('the model says what the host settings are', () => {
    assert.deepEqual(m.hostSettings?.get('shop.test'), {
      aliases: ['alias.test', '*.wild.test'],
      fromToWwwRedirect: true,
      redirectFrom: 'www.shop.test',
      sources: { 'server-alias': 'default/a', 'from-to-www-redirect': 'default/a' },
    });
    assert.equal(m.hostSettings?.has('plain.test'), false);
  });
});

describe('client-certificate settings report conflicts the same way', () => {
  const withAuth = (name: string, created: string, secret: string) =>
    base(name, created, 'a.test')
      .annotate(`${N}auth-tls-secret`, secret)
      .prefix(`/${name}`, svc('a', 80))
      .build();

  test('a younger Ingress with a different auth-tls-secret is warned', () => {
    const m = model(withAuth('old', T1, 'ca'), withAuth('young', T2, 'other-ca'));
    assert.equal(m.clientAuth?.get('a.test')?.ingress, 'default/old');
    assert.deepEqual(
      ignored(m).map((d) => d.object),
      ['Ingress default/young'],
    );
  });

  test('a younger Ingress repeating the same settings is not warned', () => {
    const m = model(withAuth('old', T1, 'ca'), withAuth('young', T2, 'default/ca'));
    assert.deepEqual(ignored(m), []);
    assert.equal(m.routes.length, 2);
  });
});

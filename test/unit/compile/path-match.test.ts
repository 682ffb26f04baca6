import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PathTable, ruleMatches } from '../../../src/compile/path-match.js';
import type { PathType } from '../../../src/model/objects.js';
import { answer, ingress, ingressClass, routeObjects, service, svc } from '../../support/builders.js';

type Rule = readonly [PathType, string];

interface Row {
  readonly name: string;
  readonly rules: readonly Rule[];
  readonly request: string;
  /** Index into `rules` of the rule that must answer, or undefined for no match (default backend). */
  readonly want: number | undefined;
}

// The "Examples" table of the Kubernetes Ingress concept page
// (kubernetes.io/docs/concepts/services-networking/ingress/#examples), row by row.
const k8sDocsTable: readonly Row[] = [
  { name: 'Prefix / matches all paths', rules: [['Prefix', '/']], request: '/anything/at/all', want: 0 },
  { name: 'Exact /foo matches /foo', rules: [['Exact', '/foo']], request: '/foo', want: 0 },
  { name: 'Exact /foo does not match /bar', rules: [['Exact', '/foo']], request: '/bar', want: undefined },
  { name: 'Exact /foo does not match /foo/', rules: [['Exact', '/foo']], request: '/foo/', want: undefined },
  { name: 'Exact /foo/ does not match /foo', rules: [['Exact', '/foo/']], request: '/foo', want: undefined },
  { name: 'Prefix /foo matches /foo', rules: [['Prefix', '/foo']], request: '/foo', want: 0 },
  { name: 'Prefix /foo matches /foo/', rules: [['Prefix', '/foo']], request: '/foo/', want: 0 },
  { name: 'Prefix /foo/ matches /foo', rules: [['Prefix', '/foo/']], request: '/foo', want: 0 },
  { name: 'Prefix /foo/ matches /foo/', rules: [['Prefix', '/foo/']], request: '/foo/', want: 0 },
  {
    name: 'Prefix /aaa/bb does not match /aaa/bbb',
    rules: [['Prefix', '/aaa/bb']],
    request: '/aaa/bbb',
    want: undefined,
  },
  { name: 'Prefix /aaa/bbb matches /aaa/bbb', rules: [['Prefix', '/aaa/bbb']], request: '/aaa/bbb', want: 0 },
  {
    name: 'Prefix /aaa/bbb/ matches /aaa/bbb, ignoring the trailing slash',
    rules: [['Prefix', '/aaa/bbb/']],
    request: '/aaa/bbb',
    want: 0,
  },
  {
    name: 'Prefix /aaa/bbb matches /aaa/bbb/, matching the trailing slash',
    rules: [['Prefix', '/aaa/bbb']],
    request: '/aaa/bbb/',
    want: 0,
  },
  {
    name: 'Prefix /aaa/bbb matches the subpath /aaa/bbb/ccc',
    rules: [['Prefix', '/aaa/bbb']],
    request: '/aaa/bbb/ccc',
    want: 0,
  },
  {
    name: 'Prefix /aaa/bbb does not match /aaa/bbbxyz, a string prefix only',
    rules: [['Prefix', '/aaa/bbb']],
    request: '/aaa/bbbxyz',
    want: undefined,
  },
  {
    name: 'Prefix / and /aaa: /aaa/ccc matches the /aaa prefix',
    rules: [
      ['Prefix', '/'],
      ['Prefix', '/aaa'],
    ],
    request: '/aaa/ccc',
    want: 1,
  },
  {
    name: 'Prefix /, /aaa and /aaa/bbb: /aaa/bbb matches the /aaa/bbb prefix',
    rules: [
      ['Prefix', '/'],
      ['Prefix', '/aaa'],
      ['Prefix', '/aaa/bbb'],
    ],
    request: '/aaa/bbb',
    want: 2,
  },
  {
    name: 'Prefix /, /aaa and /aaa/bbb: /ccc matches the / prefix',
    rules: [
      ['Prefix', '/'],
      ['Prefix', '/aaa'],
      ['Prefix', '/aaa/bbb'],
    ],
    request: '/ccc',
    want: 0,
  },
  {
    name: 'Prefix /aaa does not match /ccc, which uses the default backend',
    rules: [['Prefix', '/aaa']],
    request: '/ccc',
    want: undefined,
  },
  {
    name: 'mixed Prefix /foo and Exact /foo: /foo prefers Exact',
    rules: [
      ['Prefix', '/foo'],
      ['Exact', '/foo'],
    ],
    request: '/foo',
    want: 1,
  },
];

// Rules beyond the docs table that follow from the same definitions.
const moreRows: readonly Row[] = [
  { name: 'Exact /foo/ matches /foo/', rules: [['Exact', '/foo/']], request: '/foo/', want: 0 },
  { name: 'Exact / matches only /', rules: [['Exact', '/']], request: '/x', want: undefined },
  {
    name: 'matching is case sensitive: Prefix /foo does not match /FOO',
    rules: [['Prefix', '/foo']],
    request: '/FOO',
    want: undefined,
  },
  {
    name: 'matching is case sensitive: Exact /foo does not match /FOO',
    rules: [['Exact', '/foo']],
    request: '/FOO',
    want: undefined,
  },
  {
    name: 'Prefix /aaa does not match /aaaccc',
    rules: [['Prefix', '/aaa']],
    request: '/aaaccc',
    want: undefined,
  },
  { name: 'Prefix / matches the bare root /', rules: [['Prefix', '/']], request: '/', want: 0 },
  {
    name: 'ImplementationSpecific is matched as Prefix: /foo matches /foo/bar',
    rules: [['ImplementationSpecific', '/foo']],
    request: '/foo/bar',
    want: 0,
  },
  {
    name: 'ImplementationSpecific is matched as Prefix: /foo does not match /foobar',
    rules: [['ImplementationSpecific', '/foo']],
    request: '/foobar',
    want: undefined,
  },
  {
    name: 'an Exact match beats a longer-written Prefix rule that also matches',
    rules: [
      ['Prefix', '/foo/'],
      ['Exact', '/foo/'],
    ],
    request: '/foo/',
    want: 1,
  },
  {
    name: 'a longer Prefix beats a shorter Exact that does not match the request',
    rules: [
      ['Exact', '/foo'],
      ['Prefix', '/foo/bar'],
    ],
    request: '/foo/bar/baz',
    want: 1,
  },
  {
    name: 'Exact /foo and Prefix /: /foo/ falls to the / prefix because Exact needs the exact string',
    rules: [
      ['Exact', '/foo'],
      ['Prefix', '/'],
    ],
    request: '/foo/',
    want: 1,
  },
  {
    name: 'the longest of several matching Prefix rules wins even when listed last',
    rules: [
      ['Prefix', '/a'],
      ['Prefix', '/a/b'],
      ['Prefix', '/a/b/c'],
    ],
    request: '/a/b/c/d',
    want: 2,
  },
  {
    name: 'a Prefix rule longer than the request never matches',
    rules: [['Prefix', '/a/b/c']],
    request: '/a/b',
    want: undefined,
  },
  {
    name: 'an empty path element in the request is an element: Prefix /a/b does not match /a//b',
    rules: [['Prefix', '/a/b']],
    request: '/a//b',
    want: undefined,
  },
  {
    name: 'non-ASCII paths match element-wise too',
    rules: [['Prefix', '/caf\u00e9']],
    request: '/caf\u00e9/menu',
    want: 0,
  },
];

function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]];
  return items.flatMap((item, i) =>
    permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]),
  );
}

const controller = ingressClass('portico').build();
const web = service('web').port(80).build();

function svcName(i: number): string {
  return `rule${i}`;
}

describe('path matching (Kubernetes Ingress docs examples, and more)', () => {
  for (const row of [...k8sDocsTable, ...moreRows]) {
    test(row.name, () => {
      // Every order of the rules must give the same answer: YAML order never matters.
      for (const order of permutations(row.rules.map((rule, i) => [rule, i] as const))) {
        let b = ingress('paths').cls('portico').host('paths.example');
        for (const [[pathType, path], i] of order) b = b.path(path, pathType, svc(svcName(i), 80));
        const services = row.rules.map((_, i) => service(svcName(i)).port(80).build());
        const snapshot = routeObjects([controller, web, ...services, b.build()]);
        const want = row.want === undefined ? 'not-found' : `default/${svcName(row.want)}:80`;
        assert.equal(
          answer(snapshot, 'paths.example', row.request),
          want,
          `rule order ${order.map(([, i]) => i)}`,
        );
      }
      // The reference definition agrees on which rules match at all.
      if (row.want !== undefined) {
        const [pathType, path] = row.rules[row.want]!;
        assert.ok(ruleMatches(pathType, path, row.request));
      } else {
        for (const [pathType, path] of row.rules) assert.ok(!ruleMatches(pathType, path, row.request));
      }
    });
  }
});

describe('PathTable agrees with the reference definition', () => {
  const rules: Rule[] = [
    ['Prefix', '/'],
    ['Prefix', '/a'],
    ['Prefix', '/a/b/'],
    ['Exact', '/a/b'],
    ['Exact', '/a/'],
    ['ImplementationSpecific', '/x/y'],
    ['Prefix', '/x/yz'],
  ];
  const requests = [
    '/',
    '/a',
    '/a/',
    '/a/b',
    '/a/b/',
    '/a/bc',
    '/a/b/c',
    '/x',
    '/x/y',
    '/x/yz/1',
    '/x/y/z',
    '/zzz',
  ];

  test('for every request the table returns the longest matching rule, Exact first on ties', () => {
    const table = new PathTable<number>(-1);
    rules.forEach(([t, p], i) => {
      table.add(p, t, i);
    });
    for (const request of requests) {
      const matching = rules
        .map(([t, p], i) => ({ t, p, i, len: t === 'Exact' ? p.length : p.replace(/\/+$/, '').length }))
        .filter(({ t, p }) => ruleMatches(t, p, request))
        .sort((x, y) => y.len - x.len || (x.t === 'Exact' ? -1 : 0) - (y.t === 'Exact' ? -1 : 0));
      assert.equal(table.lookup(request), matching[0]?.i, request);
    }
  });

  test('Prefix /foo and /foo/ are one rule, so the first one added wins', () => {
    const table = new PathTable<string>('none');
    assert.equal(table.add('/foo', 'Prefix', 'first'), true);
    assert.equal(table.add('/foo/', 'Prefix', 'second'), false);
    assert.equal(table.add('/foo', 'ImplementationSpecific', 'third'), false);
    assert.equal(table.lookup('/foo/bar'), 'first');
  });

  test('Exact /foo and /foo/ are two rules', () => {
    const table = new PathTable<string>('none');
    assert.equal(table.add('/foo', 'Exact', 'a'), true);
    assert.equal(table.add('/foo/', 'Exact', 'b'), true);
    assert.equal(table.lookup('/foo'), 'a');
    assert.equal(table.lookup('/foo/'), 'b');
  });
});

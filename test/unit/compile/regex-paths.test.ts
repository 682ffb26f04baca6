/**
 * Regex paths (`use-regex`, `rewrite-target`) through translation and the compiled snapshot:
 * which rule answers, checked against ingress-nginx's own e2e scenarios
 * (test/e2e/annotations/rewrite.go, docs/user-guide/ingress-path-matching.md) and against an
 * independent reference of its order (every location sorted by length, first match wins; Exact
 * first) written with V8's RegExp instead of RE2.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ruleMatches } from '../../../src/compile/path-match.js';
import type { KubeObject, PathType } from '../../../src/model/objects.js';
import { prefixKey } from '../../../src/model/translate/conflicts.js';
import { answer, ingress, ingressClass, routeObjects, service, svc } from '../../support/builders.js';

const N = 'nginx.ingress.kubernetes.io/';
const cls = ingressClass('portico').build();
const HOST = 'rewrite.bar.com';

/** One Ingress of the test host: its annotations and its paths, each to a Service of its own. */
interface Ing {
  readonly name: string;
  readonly annotations?: Record<string, string>;
  readonly paths: readonly (readonly [PathType, string, string])[];
}

function objects(ingresses: readonly Ing[]): KubeObject[] {
  const out: KubeObject[] = [cls];
  ingresses.forEach((ing, i) => {
    let b = ingress(ing.name)
      .cls('portico')
      .created(`2024-01-0${i + 1}T00:00:00Z`);
    for (const [k, v] of Object.entries(ing.annotations ?? {})) b = b.annotate(k, v);
    b = b.host(HOST);
    for (const [pathType, path, to] of ing.paths) {
      b = b.path(path, pathType, svc(to, 80));
      out.push(service(to).port(80).build());
    }
    out.push(b.build());
  });
  return out;
}

const regexOn = { [`${N}use-regex`]: 'true' };

const scenarios: readonly {
  name: string;
  ingresses: readonly Ing[];
  requests: readonly (readonly [path: string, want: string])[];
}[] = [
  {
    name: 'rewrite.go "should use correct longest path match": a longer plain path of another Ingress beats a regex `/`',
    ingresses: [
      { name: 'kube-lego', paths: [['Prefix', '/.well-known/acme/challenge', 'lego']] },
      {
        name: 'rewrite-index',
        annotations: { [`${N}rewrite-target`]: '/new/backend' },
        paths: [['Prefix', '/', 'index']],
      },
    ],
    requests: [
      ['/.well-known/acme/challenge', 'lego'],
      ['/.well-known/acme/challenge/token', 'lego'],
      ['/anything', 'index'],
    ],
  },
  {
    name: 'rewrite.go "should use ~* location modifier": `/foo` stays with the plain Ingress, `/foo/bar` goes to `/foo.+`',
    ingresses: [
      { name: 'foo', paths: [['Prefix', '/foo', 'plain']] },
      {
        name: 'regex',
        annotations: { ...regexOn, [`${N}rewrite-target`]: '/new/backend' },
        paths: [['Prefix', '/foo.+', 'regex']],
      },
    ],
    requests: [
      ['/foo', 'plain'],
      ['/foo/bar', 'regex'],
      ['/FOO/bar', 'regex'],
    ],
  },
  {
    name: 'rewrite.go "should fail to use longest match for documented warning": a longer pattern beats a shorter plain path',
    ingresses: [
      { name: 'foo', paths: [['Prefix', '/foo/bar/bar', 'plain']] },
      {
        name: 'regex',
        annotations: { ...regexOn, [`${N}rewrite-target`]: '/new/backend' },
        paths: [['Prefix', '/foo/bar/[a-z]{3}', 'regex']],
      },
    ],
    requests: [
      ['/foo/bar/bar', 'regex'],
      ['/foo/bar/b', 'not-found'],
    ],
  },
  {
    name: 'ingress-path-matching.md: regex paths are tried longest first within one Ingress',
    ingresses: [
      {
        name: 'test-ingress-3',
        annotations: regexOn,
        paths: [
          ['ImplementationSpecific', '/foo/bar/bar', 'bar'],
          ['ImplementationSpecific', '/foo/bar/[A-Z0-9]{3}', 'three'],
        ],
      },
    ],
    requests: [
      ['/foo/bar/bar', 'three'],
      ['/foo/bar/xy', 'not-found'],
    ],
  },
  {
    name: 'ingress-path-matching.md: `/foo/bar/(.+)` takes `/foo/bar/1`, the plain rules keep the rest',
    ingresses: [
      { name: 'test-ingress-1', paths: [['Prefix', '/foo/bar', 'one']] },
      {
        name: 'test-ingress-2',
        annotations: { [`${N}rewrite-target`]: '/$1' },
        paths: [['Prefix', '/foo/bar/(.+)', 'three']],
      },
    ],
    requests: [
      ['/foo/bar/1', 'three'],
      ['/foo/bar/', 'one'],
      ['/foo/bar', 'one'],
    ],
  },
  {
    name: 'Exact paths stay exact in a use-regex Ingress and win over every regex',
    ingresses: [
      {
        name: 'r',
        annotations: regexOn,
        paths: [
          ['Exact', '/a.c', 'exact'],
          ['Prefix', '/.*', 'any'],
        ],
      },
    ],
    requests: [
      ['/a.c', 'exact'],
      ['/abc', 'any'],
      ['/A.C', 'any'],
    ],
  },
  {
    name: 'use-regex applies to its own Ingress only (kubernetes/ingress-nginx#7586): the other Ingress keeps element-wise Prefix',
    ingresses: [
      { name: 'plain', paths: [['Prefix', '/app', 'plain']] },
      { name: 'r', annotations: regexOn, paths: [['Prefix', '/z', 'regex']] },
    ],
    requests: [
      ['/app/x', 'plain'],
      ['/apples', 'not-found'],
      ['/APP', 'not-found'],
      ['/zoo', 'regex'],
    ],
  },
  {
    name: 'a pattern and a plain path of equal length: the regex wins',
    ingresses: [
      { name: 'plain', paths: [['Prefix', '/abc', 'plain']] },
      { name: 'r', annotations: regexOn, paths: [['Prefix', '/ab.', 'regex']] },
    ],
    requests: [
      ['/abc', 'regex'],
      ['/abc/d', 'regex'],
    ],
  },
  {
    name: 'every alternative is anchored at the start',
    ingresses: [{ name: 'r', annotations: regexOn, paths: [['Prefix', '/a|/b', 'alt']] }],
    requests: [
      ['/b/x', 'alt'],
      ['/x/b', 'not-found'],
    ],
  },
];

describe('regex path order (ingress-nginx scenarios)', () => {
  for (const s of scenarios) {
    test(s.name, () => {
      const snapshot = routeObjects(objects(s.ingresses));
      for (const [path, want] of s.requests) {
        const got = answer(snapshot, HOST, path);
        assert.equal(got, want === 'not-found' ? 'not-found' : `default/${want}:80`, `${path}`);
      }
    });
  }
});

/** The reference: Exact first, then every other rule by length (regex first on ties), first match. */
function reference(
  rules: readonly { pathType: PathType; path: string; regex: boolean; to: string }[],
  request: string,
): string {
  const exact = rules.find((r) => r.pathType === 'Exact' && r.path === request);
  if (exact !== undefined) return exact.to;
  const length = (r: (typeof rules)[number]) => (r.regex ? r.path.length : prefixKey(r.path).length);
  const ordered = rules
    .filter((r) => r.pathType !== 'Exact')
    .sort((a, b) => length(b) - length(a) || Number(b.regex) - Number(a.regex));
  const hit = ordered.find((r) =>
    r.regex ? new RegExp(`^(?:${r.path})`, 'i').test(request) : ruleMatches(r.pathType, r.path, request),
  );
  return hit?.to ?? 'not-found';
}

describe('the snapshot agrees with the reference order on every request', () => {
  const plain: Ing = {
    name: 'plain',
    paths: [
      ['Prefix', '/', 'p-root'],
      ['Prefix', '/api', 'p-api'],
      ['Prefix', '/api/v1/users', 'p-users'],
      ['Exact', '/api/v1', 'p-exact'],
    ],
  };
  const regex: Ing = {
    name: 'regex',
    annotations: regexOn,
    paths: [
      ['Prefix', '/api/v[0-9]+', 'r-version'],
      ['ImplementationSpecific', '/api/v[0-9]+/users/[0-9]+', 'r-user'],
      ['Prefix', '/static/.*\\.css', 'r-css'],
      ['Exact', '/api/v2', 'r-exact'],
    ],
  };
  const rules = [plain, regex].flatMap((ing) =>
    ing.paths.map(([pathType, path, to]) => ({
      pathType,
      path,
      to,
      regex: ing === regex && pathType !== 'Exact',
    })),
  );
  const requests = [
    '/',
    '/api',
    '/api/v1',
    '/api/v2',
    '/api/v1/users',
    '/api/v1/users/7',
    '/API/V3/users/12/x',
    '/api/vx',
    '/static/a/b.css',
    '/static/a.js',
    '/apiary',
  ];
  const snapshot = routeObjects(objects([plain, regex]));
  for (const request of requests) {
    test(`${request} answers as the reference says`, () => {
      const want = reference(rules, request);
      assert.equal(
        answer(snapshot, HOST, request),
        want === 'not-found' ? 'not-found' : `default/${want}:80`,
      );
    });
  }
});

/**
 * A regex path RE2 cannot compile rejects its Ingress at validation (so the controller keeps the
 * last good version), naming the path field and the construct; paths of Ingresses without
 * `use-regex` are never compiled.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { validateIngress } from '../../../src/model/translate/validate.js';
import { ingress, stored, svc } from '../../support/builders.js';

const N = 'nginx.ingress.kubernetes.io/';

const cases: readonly {
  name: string;
  annotations: Record<string, string>;
  paths: readonly (readonly [string, string])[];
  errors: readonly (readonly [field: string, message: string])[];
}[] = [
  {
    name: 'a lookahead in a use-regex Ingress is refused at its path field',
    annotations: { [`${N}use-regex`]: 'true' },
    paths: [
      ['/ok', 'Prefix'],
      ['/v(?=1)', 'ImplementationSpecific'],
    ],
    errors: [
      [
        'spec.rules[0].http.paths[1].path',
        'invalid value "/v(?=1)": lookahead `(?=…)` is not supported (RE2 syntax: no lookaround, backreferences or possessive quantifiers); use-regex (or rewrite-target) makes this path an RE2 regular expression',
      ],
    ],
  },
  {
    name: 'rewrite-target makes paths regexes, so a backreference is refused too',
    annotations: { [`${N}rewrite-target`]: '/$1' },
    paths: [['/(a)\\1', 'Prefix']],
    errors: [
      [
        'spec.rules[0].http.paths[0].path',
        'invalid value "/(a)\\\\1": backreference `\\1` is not supported (RE2 syntax: no lookaround, backreferences or possessive quantifiers); use-regex (or rewrite-target) makes this path an RE2 regular expression',
      ],
    ],
  },
  {
    name: 'Exact paths are not regexes, so they are never compiled',
    annotations: { [`${N}use-regex`]: 'true' },
    paths: [['/v(?=1)', 'Exact']],
    errors: [],
  },
  {
    name: 'without use-regex the same text is a plain path',
    annotations: {},
    paths: [['/v(?=1)', 'Prefix']],
    errors: [],
  },
];

describe('regex path validation', () => {
  for (const c of cases) {
    test(c.name, () => {
      let b = ingress('r').cls('portico');
      for (const [k, v] of Object.entries(c.annotations)) b = b.annotate(k, v);
      b = b.host('r.example');
      for (const [path, pathType] of c.paths) b = b.path(path, pathType, svc('web', 80));
      const got = validateIngress(stored(b.build())).map((d) => [d.field, d.message] as const);
      assert.deepEqual(got, c.errors);
      for (const d of validateIngress(stored(b.build()))) assert.equal(d.code, 'PORTICO_ERR_PATH_INVALID');
    });
  }
});

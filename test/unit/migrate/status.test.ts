/**
 * The migration status of an annotation key is computed from family tables and the refusal table
 * only: rows are supported (with a documented difference when they say one), `*-snippet` is
 * refused under either prefix, anything else under our prefixes is unknown.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { annotationVerdict, failsMigration, UNKNOWN_REASON } from '../../../src/migrate/status.js';
import { SNIPPET_REASON } from '../../../src/model/annotations/refused.js';
import { FAMILIES } from '../../../src/model/annotations/registry.js';
import {
  type AnnotationSpec,
  defineAnnotations,
  type Parsed,
  PREFIXES,
} from '../../../src/model/annotations/spec.js';

const N = 'nginx.ingress.kubernetes.io/';
const P = 'portico.dev/';
const anyString = (raw: string): Parsed<string> => ({ ok: true, value: raw });
const row = (extra: Partial<AnnotationSpec<string>> = {}): AnnotationSpec<string> => ({
  validate: anyString,
  scope: 'location',
  risk: 'low',
  default: '(none)',
  doc: 'test row',
  ...extra,
});

const families = [
  defineAnnotations('plain', 'test family', { 'same-meaning': row() }),
  defineAnnotations('aliased', 'test family', {
    'allow-range': row({ aliases: ['old-range'], differs: 'lists are normalised' }),
  }),
  defineAnnotations('split', 'test family', {
    'ours-only': row({ prefixes: ['portico.dev'] }),
    'theirs-only': row({ prefixes: ['nginx.ingress.kubernetes.io'] }),
  }),
  // A table must not be able to make a snippet acceptable.
  defineAnnotations('sneaky', 'test family', { 'server-snippet': row() }),
];

const cases = [
  {
    rule: 'an nginx key a family reads with no difference is supported, spelled portico.dev/',
    key: `${N}same-meaning`,
    want: { status: 'supported', family: 'plain', portico: `${P}same-meaning` },
  },
  {
    rule: 'a row with `differs` makes the nginx key supported with that difference',
    key: `${N}allow-range`,
    want: {
      status: 'supported-with-difference',
      family: 'aliased',
      portico: `${P}allow-range`,
      difference: 'lists are normalised',
    },
  },
  {
    rule: "an alias is supported under the row's main Portico spelling, with the row's difference",
    key: `${N}old-range`,
    want: {
      status: 'supported-with-difference',
      family: 'aliased',
      portico: `${P}allow-range`,
      difference: 'lists are normalised',
    },
  },
  {
    rule: 'the portico.dev/ spelling of a row with a difference is plainly supported (nothing to differ from)',
    key: `${P}allow-range`,
    want: { status: 'supported', family: 'aliased', portico: `${P}allow-range` },
  },
  {
    rule: 'an nginx key whose row is read only under portico.dev/ is unknown',
    key: `${N}ours-only`,
    want: { status: 'unknown', reason: UNKNOWN_REASON },
  },
  {
    rule: 'a row read only under the nginx prefix is supported under that spelling',
    key: `${N}theirs-only`,
    want: { status: 'supported', family: 'split', portico: `${N}theirs-only` },
  },
  {
    rule: 'an nginx *-snippet is refused, even when a table has a row for it',
    key: `${N}server-snippet`,
    want: { status: 'refused', reason: SNIPPET_REASON },
  },
  {
    rule: 'a portico.dev/ *-snippet is refused too',
    key: `${P}configuration-snippet`,
    want: { status: 'refused', reason: SNIPPET_REASON },
  },
  {
    rule: 'a key no row reads is unknown',
    key: `${N}enable-influxdb`,
    want: { status: 'unknown', reason: UNKNOWN_REASON },
  },
  {
    rule: 'a key outside both prefixes is unknown, saying which prefixes Portico reads',
    key: 'kubernetes.io/ingress.class',
    want: { status: 'unknown', reason: `Portico reads only the ${PREFIXES.join(' and ')} prefixes` },
  },
] as const;

describe('annotationVerdict', () => {
  for (const c of cases) {
    test(c.rule, () => {
      assert.deepEqual(annotationVerdict(c.key, families), { key: c.key, ...c.want });
    });
  }

  test('every row of the real registry read under the nginx prefix is supported (with its difference, if any)', () => {
    let checked = 0;
    for (const family of FAMILIES) {
      for (const [name, spec] of Object.entries(family.specs) as [string, AnnotationSpec<unknown>][]) {
        if (!(spec.prefixes ?? PREFIXES).includes('nginx.ingress.kubernetes.io')) continue;
        const verdict = annotationVerdict(`${N}${name}`);
        assert.equal(verdict.family, family.family, name);
        assert.equal(
          verdict.status,
          spec.differs === undefined ? 'supported' : 'supported-with-difference',
          name,
        );
        assert.equal(verdict.difference, spec.differs, name);
        checked++;
      }
    }
    assert.ok(checked > 0, 'the registry has nginx-prefixed rows');
  });

  const exits = [
    { status: 'supported', fails: false },
    { status: 'supported-with-difference', fails: false },
    { status: 'refused', fails: true },
    { status: 'unknown', fails: true },
  ] as const;
  for (const e of exits) {
    test(`a ${e.status} annotation ${e.fails ? 'fails' : 'passes'} the migration check`, () => {
      assert.equal(failsMigration(e.status), e.fails);
    });
  }
});

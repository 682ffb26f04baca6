/**
 * The annotation framework itself: the typed reader (precedence, problems, consumed keys) and the
 * registry's unknown-key and fail-closed reporting.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { readIngressAnnotations } from '../../../../src/model/annotations/registry.js';
import {
  AnnotationReader,
  annotationField,
  defineAnnotations,
} from '../../../../src/model/annotations/spec.js';
import { sslRedirectAnnotations } from '../../../../src/model/annotations/ssl-redirect.js';
import { boolean, integer } from '../../../../src/model/annotations/validators.js';
import type { Ingress } from '../../../../src/model/objects.js';
import { DEFAULT_ROUTE_POLICY } from '../../../../src/model/types.js';

const P = 'portico.dev/';
const N = 'nginx.ingress.kubernetes.io/';

// A family made for these tests: aliases and a prefix restriction, which no real family uses yet.
const testFamily = defineAnnotations('test', 'Test family.', {
  'limit-rps': {
    validate: integer(1, 100),
    scope: 'location',
    risk: 'low',
    default: '(none)',
    doc: 'x',
    aliases: ['old-limit-rps'],
  },
  'own-only': {
    validate: boolean,
    scope: 'location',
    risk: 'low',
    default: 'false',
    doc: 'x',
    prefixes: ['portico.dev'],
  },
});

describe('AnnotationReader.read: precedence', () => {
  const rows: readonly {
    readonly name: string;
    readonly annotations: Record<string, string>;
    readonly want: number | undefined;
    readonly key?: string;
  }[] = [
    { name: 'absent', annotations: {}, want: undefined },
    { name: 'nginx prefix alone', annotations: { [`${N}limit-rps`]: '5' }, want: 5, key: `${N}limit-rps` },
    { name: 'portico prefix alone', annotations: { [`${P}limit-rps`]: '6' }, want: 6, key: `${P}limit-rps` },
    {
      name: 'portico.dev wins over the nginx prefix',
      annotations: { [`${N}limit-rps`]: '5', [`${P}limit-rps`]: '6' },
      want: 6,
      key: `${P}limit-rps`,
    },
    {
      name: 'an alias is read when the main name is absent',
      annotations: { [`${N}old-limit-rps`]: '7' },
      want: 7,
      key: `${N}old-limit-rps`,
    },
    {
      name: 'the main name wins over an alias, whatever the prefixes',
      annotations: { [`${P}old-limit-rps`]: '7', [`${N}limit-rps`]: '8' },
      want: 8,
      key: `${N}limit-rps`,
    },
  ];
  for (const r of rows) {
    test(r.name, () => {
      const reader = new AnnotationReader(r.annotations, 'default');
      const got = reader.read(testFamily, 'limit-rps');
      assert.equal(got?.value, r.want);
      if (r.key !== undefined) {
        assert.equal(got?.key, r.key);
        assert.equal(got?.field, `metadata.annotations["${r.key}"]`);
      }
      assert.deepEqual(reader.problems, []);
    });
  }

  test('a key outside its prefixes is not read (and stays unknown)', () => {
    const reader = new AnnotationReader({ [`${N}own-only`]: 'true' }, 'default');
    assert.equal(reader.read(testFamily, 'own-only'), undefined);
    assert.equal(reader.consumed(`${N}own-only`), false);
    assert.equal(reader.consumed(`${P}own-only`), true);
  });

  test('a name outside the family is a programming error', () => {
    const reader = new AnnotationReader({}, 'default');
    // @ts-expect-error: the key is typed; this checks the runtime guard too.
    assert.throws(() => reader.read(testFamily, 'nope'), /not in family test/);
  });
});

describe('AnnotationReader.read: invalid values are problems, read as absent', () => {
  const rows: readonly {
    readonly name: string;
    readonly annotations: Record<string, unknown>;
    readonly problems: readonly { field: string; message: string }[];
  }[] = [
    {
      name: 'a value the validator refuses',
      annotations: { [`${N}limit-rps`]: 'fast' },
      problems: [
        { field: `metadata.annotations["${N}limit-rps"]`, message: '"fast": must be a whole number' },
      ],
    },
    {
      name: 'out of range',
      annotations: { [`${P}limit-rps`]: '0' },
      problems: [
        { field: `metadata.annotations["${P}limit-rps"]`, message: '"0": must be between 1 and 100' },
      ],
    },
    {
      name: 'a number where YAML needed quotes',
      annotations: { [`${N}limit-rps`]: 5 },
      problems: [
        { field: `metadata.annotations["${N}limit-rps"]`, message: 'must be a string (quote it in YAML)' },
      ],
    },
    {
      name: 'a boolean where YAML needed quotes',
      annotations: { [`${P}own-only`]: true },
      problems: [
        { field: `metadata.annotations["${P}own-only"]`, message: 'must be a string (quote it in YAML)' },
      ],
    },
    {
      name: 'only the winning spelling is checked: a bad nginx value under a good portico one is ignored',
      annotations: { [`${P}limit-rps`]: '3', [`${N}limit-rps`]: 'bad' },
      problems: [],
    },
  ];
  for (const r of rows) {
    test(r.name, () => {
      const reader = new AnnotationReader(r.annotations, 'default');
      const first = reader.read(testFamily, 'limit-rps');
      const second = reader.read(testFamily, 'own-only');
      if (r.problems.length > 0) assert.equal(first === undefined || second === undefined, true);
      assert.deepEqual(reader.problems, r.problems);
    });
  }
});

test('annotationField quotes the key as JSON', () => {
  assert.equal(
    annotationField(`${N}ssl-redirect`),
    'metadata.annotations["nginx.ingress.kubernetes.io/ssl-redirect"]',
  );
});

test('ownKeys lists only keys under our two prefixes', () => {
  const reader = new AnnotationReader(
    { [`${P}a`]: '1', [`${N}b`]: '2', 'kubernetes.io/ingress.class': 'x', 'portico.devx/c': '3' },
    'default',
  );
  assert.deepEqual(reader.ownKeys().sort(), [`${N}b`, `${P}a`]);
});

const ing = (annotations: unknown, namespace = 'shop'): Ingress =>
  ({ kind: 'Ingress', metadata: { name: 'i', namespace, annotations }, spec: {} }) as unknown as Ingress;

describe('readIngressAnnotations', () => {
  test('no annotations: the shared default policy, nothing reported', () => {
    const r = readIngressAnnotations(ing(undefined));
    assert.equal(r.policy, DEFAULT_ROUTE_POLICY);
    assert.deepEqual([r.problems, r.denials, r.unknown], [[], [], []]);
  });

  test('annotations that are not a map are treated as none (never throws)', () => {
    for (const bad of [null, 'x', ['a'], 3]) {
      const r = readIngressAnnotations(ing(bad));
      assert.equal(r.policy, DEFAULT_ROUTE_POLICY);
    }
  });

  test('foreign annotations are not ours to report; unknown keys under our prefixes are, sorted', () => {
    const r = readIngressAnnotations(
      ing({
        'kubernetes.io/ingress.class': 'portico',
        'cert-manager.io/cluster-issuer': 'x',
        [`${N}mirror-target`]: '/',
        [`${P}ssl-redirekt`]: 'false',
        [`${N}ssl-redirect`]: 'false',
      }),
    );
    assert.deepEqual(r.unknown, [
      { key: `${N}mirror-target`, field: `metadata.annotations["${N}mirror-target"]` },
      { key: `${P}ssl-redirekt`, field: `metadata.annotations["${P}ssl-redirekt"]` },
    ]);
    assert.equal(r.policy.sslRedirect, false);
  });

  test('a family key read through the table is never reported unknown, even when both prefixes are set', () => {
    const r = readIngressAnnotations(ing({ [`${P}ssl-redirect`]: 'true', [`${N}ssl-redirect`]: 'false' }));
    assert.deepEqual(r.unknown, []);
    assert.equal(r.policy.sslRedirect, true, 'portico.dev wins');
  });

  test('the ssl-redirect family table is the one the docs list', () => {
    assert.deepEqual(Object.keys(sslRedirectAnnotations.specs), ['ssl-redirect', 'force-ssl-redirect']);
  });
});

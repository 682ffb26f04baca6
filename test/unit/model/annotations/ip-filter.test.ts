/**
 * The ip-filter family read through an `AnnotationReader`: validation, normalisation, aliases and
 * prefix precedence.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  cidrSet,
  type IpFilterLists,
  ipFilterAnnotations,
  normaliseCidr,
  parseIpFilter,
} from '../../../../src/model/annotations/ip-filter.js';
import { type AnnotationProblem, AnnotationReader } from '../../../../src/model/annotations/spec.js';

const P = 'portico.dev/';
const N = 'nginx.ingress.kubernetes.io/';
const field = (key: string): string => `metadata.annotations["${key}"]`;

function read(annotations: Record<string, unknown>): {
  filter: IpFilterLists;
  problems: readonly AnnotationProblem[];
} {
  const reader = new AnnotationReader(annotations, 'shop');
  const filter = parseIpFilter(reader);
  for (const key of reader.ownKeys()) assert.ok(reader.consumed(key), `${key} is read by the family`);
  return { filter, problems: reader.problems };
}

describe('ip-filter family', () => {
  const rows: readonly {
    name: string;
    annotations: Record<string, unknown>;
    filter?: IpFilterLists;
    problems?: readonly AnnotationProblem[];
  }[] = [
    { name: 'absent: no lists', annotations: {}, filter: {} },
    {
      name: 'allowlist-source-range, IPv4 and IPv6, normalised',
      annotations: { [`${N}allowlist-source-range`]: '10.1.2.3/8, 192.168.0.7 ,2001:DB8::1/32' },
      filter: { allow: ['10.0.0.0/8', '192.168.0.7/32', '2001:db8::/32'] },
    },
    {
      name: 'whitelist-source-range is read as an alias',
      annotations: { [`${N}whitelist-source-range`]: '10.0.0.0/8' },
      filter: { allow: ['10.0.0.0/8'] },
    },
    {
      name: 'the main name wins over the alias',
      annotations: {
        [`${N}whitelist-source-range`]: '10.0.0.0/8',
        [`${N}allowlist-source-range`]: '172.16.0.0/12',
      },
      filter: { allow: ['172.16.0.0/12'] },
    },
    {
      name: 'portico.dev wins over nginx.ingress.kubernetes.io',
      annotations: { [`${N}denylist-source-range`]: '10.0.0.0/8', [`${P}denylist-source-range`]: '::1' },
      filter: { deny: ['::1/128'] },
    },
    {
      name: 'both lists, duplicates removed after normalisation',
      annotations: {
        [`${P}allowlist-source-range`]: '0.0.0.0/0,::/0',
        [`${P}denylist-source-range`]: '10.0.0.1/8, 10.0.0.0/8, ::ffff:192.0.2.0/120',
      },
      filter: { allow: ['0.0.0.0/0', '::/0'], deny: ['10.0.0.0/8', '192.0.2.0/24'] },
    },
    {
      name: 'bad entries are all named, with the field path',
      annotations: { [`${N}allowlist-source-range`]: '10.0.0.0/8, 10.0.0.0/33, example.com' },
      problems: [
        {
          field: field(`${N}allowlist-source-range`),
          message:
            '"10.0.0.0/8, 10.0.0.0/33, example.com": "10.0.0.0/33", "example.com" are not an IP address or CIDR',
        },
      ],
      filter: {},
    },
    {
      name: 'an empty list is refused',
      annotations: { [`${N}denylist-source-range`]: ' , ' },
      problems: [
        {
          field: field(`${N}denylist-source-range`),
          message: '" , ": must list at least one CIDR or address',
        },
      ],
      filter: {},
    },
    {
      name: 'a non-string value is refused',
      annotations: { [`${P}denylist-source-range`]: 10 },
      problems: [
        { field: field(`${P}denylist-source-range`), message: 'must be a string (quote it in YAML)' },
      ],
      filter: {},
    },
  ];
  for (const r of rows) {
    test(r.name, () => {
      const got = read(r.annotations);
      assert.deepEqual(got.problems, r.problems ?? []);
      if (r.filter !== undefined) assert.deepEqual(got.filter, r.filter);
    });
  }

  test('normaliseCidr', () => {
    const cases: readonly [string, string | undefined][] = [
      ['192.168.1.77/24', '192.168.1.0/24'],
      ['1.2.3.4', '1.2.3.4/32'],
      ['0.0.0.0/0', '0.0.0.0/0'],
      ['::', '::/128'],
      ['::ffff:1.2.3.4', '1.2.3.4/32'],
      ['::ffff:0:0/96', '0.0.0.0/0'],
      ['::ffff:0:0/95', '::fffe:0:0/95'],
      ['FE80::1/10', 'fe80::/10'],
      ['fe80::1%eth0', undefined],
      ['1.2.3', undefined],
      ['01.2.3.4', undefined],
      ['1.2.3.4/', undefined],
      ['::1/129', undefined],
      ['', undefined],
    ];
    for (const [input, want] of cases) assert.equal(normaliseCidr(input), want, input);
  });

  test('the table documents what cidrSet accepts and the alias', () => {
    assert.equal(ipFilterAnnotations.specs['allowlist-source-range'].validate, cidrSet);
    assert.deepEqual(ipFilterAnnotations.specs['allowlist-source-range'].aliases, ['whitelist-source-range']);
    assert.equal(ipFilterAnnotations.specs['denylist-source-range'].scope, 'location');
  });
});

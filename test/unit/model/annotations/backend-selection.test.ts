/**
 * The canary, affinity and load-balance families read through an `AnnotationReader`: valid values,
 * defaults, edge cases, invalid values with their exact errors, and companions without their switch.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseAffinity } from '../../../../src/model/annotations/affinity.js';
import { parseCanary } from '../../../../src/model/annotations/canary.js';
import { parseLoadBalance } from '../../../../src/model/annotations/load-balance.js';
import { type AnnotationProblem, AnnotationReader } from '../../../../src/model/annotations/spec.js';

const P = 'portico.dev/';
const N = 'nginx.ingress.kubernetes.io/';
const field = (key: string): string => `metadata.annotations["${key}"]`;

interface Row<T> {
  readonly name: string;
  readonly annotations: Record<string, string>;
  readonly value?: T | undefined;
  readonly problems?: readonly AnnotationProblem[];
  readonly warnings?: readonly AnnotationProblem[];
}

function check<T>(parse: (r: AnnotationReader) => T, row: Row<T>): void {
  const reader = new AnnotationReader(row.annotations, 'shop');
  const value = parse(reader);
  for (const key of reader.ownKeys()) assert.ok(reader.consumed(key), `${key} is read by the family`);
  assert.deepEqual(reader.problems, row.problems ?? []);
  assert.deepEqual(reader.warnings, row.warnings ?? []);
  if (!('value' in row) || row.value === undefined) assert.equal(value, undefined);
  else assert.deepEqual(value, row.value);
}

describe('canary family', () => {
  const canary = field(`${N}canary`);
  const rows: readonly Row<ReturnType<typeof parseCanary>>[] = [
    { name: 'absent: not a canary', annotations: {}, value: undefined },
    {
      name: 'canary alone: weight 0 of 100, field of the switch kept for diagnostics',
      annotations: { [`${N}canary`]: 'true' },
      value: { weight: 0, weightTotal: 100, field: canary },
    },
    {
      name: 'header, value, cookie, weight and total, header name lowercased',
      annotations: {
        [`${N}canary`]: 'true',
        [`${N}canary-by-header`]: 'X-Canary',
        [`${N}canary-by-header-value`]: 'yes please',
        [`${N}canary-by-cookie`]: 'use_canary',
        [`${N}canary-weight`]: '30',
        [`${N}canary-weight-total`]: '1000',
      },
      value: {
        byHeader: 'x-canary',
        byHeaderValue: 'yes please',
        byCookie: 'use_canary',
        weight: 30,
        weightTotal: 1000,
        field: canary,
      },
    },
    {
      name: 'portico.dev spelling wins over the nginx one',
      annotations: { [`${N}canary`]: 'true', [`${N}canary-weight`]: '10', [`${P}canary-weight`]: '20' },
      value: { weight: 20, weightTotal: 100, field: canary },
    },
    {
      name: 'a pattern is kept when no value is set',
      annotations: {
        [`${N}canary`]: 'true',
        [`${N}canary-by-header`]: 'x-user',
        [`${N}canary-by-header-pattern`]: '^(alice|bob)$',
      },
      value: {
        byHeader: 'x-user',
        byHeaderPattern: '^(alice|bob)$',
        weight: 0,
        weightTotal: 100,
        field: canary,
      },
    },
    {
      name: 'the value beats the pattern: the pattern is reported as ignored',
      annotations: {
        [`${N}canary`]: 'true',
        [`${N}canary-by-header`]: 'x-user',
        [`${N}canary-by-header-value`]: 'alice',
        [`${N}canary-by-header-pattern`]: 'bob',
      },
      value: { byHeader: 'x-user', byHeaderValue: 'alice', weight: 0, weightTotal: 100, field: canary },
      warnings: [
        {
          field: field(`${N}canary-by-header-pattern`),
          message: `${N}canary-by-header-pattern is ignored: canary-by-header-value is set and wins`,
        },
      ],
    },
    {
      name: 'a value without canary-by-header is reported as ignored',
      annotations: { [`${N}canary`]: 'true', [`${N}canary-by-header-value`]: 'x' },
      value: { weight: 0, weightTotal: 100, field: canary },
      warnings: [
        {
          field: field(`${N}canary-by-header-value`),
          message: `${N}canary-by-header-value is ignored without canary-by-header`,
        },
      ],
    },
    {
      name: 'a weight above the total is clamped to the total, with a warning',
      annotations: { [`${N}canary`]: 'true', [`${N}canary-weight`]: '150' },
      value: { weight: 100, weightTotal: 100, field: canary },
      warnings: [
        {
          field: field(`${N}canary-weight`),
          message: `${N}canary-weight 150 is above canary-weight-total 100: every request goes to the canary`,
        },
      ],
    },
    {
      name: 'a total below 100 is honoured',
      annotations: { [`${N}canary`]: 'true', [`${N}canary-weight`]: '1', [`${N}canary-weight-total`]: '4' },
      value: { weight: 1, weightTotal: 4, field: canary },
    },
    {
      name: 'companions without canary: "true" are reported and ignored (the Ingress stays a main one)',
      annotations: { [`${N}canary`]: 'false', [`${N}canary-weight`]: '50' },
      value: undefined,
      warnings: [
        {
          field: field(`${N}canary-weight`),
          message: `${N}canary-weight is ignored: this Ingress is not a canary (canary is not "true")`,
        },
      ],
    },
    {
      name: 'a non-boolean canary is invalid',
      annotations: { [`${N}canary`]: 'yes' },
      value: undefined,
      problems: [{ field: canary, message: '"yes": must be "true" or "false"' }],
    },
    {
      name: 'a header name with a space is invalid',
      annotations: { [`${N}canary`]: 'true', [`${N}canary-by-header`]: 'x canary' },
      value: { weight: 0, weightTotal: 100, field: canary },
      problems: [
        {
          field: field(`${N}canary-by-header`),
          message: `"x canary": must be an HTTP header name (letters, digits and !#$%&'*+.^_\`|~-)`,
        },
      ],
    },
    {
      name: 'a negative weight is invalid',
      annotations: { [`${N}canary`]: 'true', [`${N}canary-weight`]: '-1' },
      value: { weight: 0, weightTotal: 100, field: canary },
      problems: [{ field: field(`${N}canary-weight`), message: '"-1": must be a whole number' }],
    },
    {
      name: 'a zero total is invalid',
      annotations: { [`${N}canary`]: 'true', [`${N}canary-weight-total`]: '0' },
      value: { weight: 0, weightTotal: 100, field: canary },
      problems: [{ field: field(`${N}canary-weight-total`), message: '"0": must be between 1 and 1000000' }],
    },
    {
      name: 'a lookahead pattern is refused naming the construct',
      annotations: {
        [`${N}canary`]: 'true',
        [`${N}canary-by-header`]: 'x-user',
        [`${N}canary-by-header-pattern`]: '^(?!bob)',
      },
      value: { byHeader: 'x-user', weight: 0, weightTotal: 100, field: canary },
      problems: [
        {
          field: field(`${N}canary-by-header-pattern`),
          message:
            '"^(?!bob)": is not a valid regular expression: negative lookahead `(?!…)` is not supported (RE2 syntax: no lookaround, backreferences or possessive quantifiers)',
        },
      ],
    },
    {
      name: 'a backreference is refused naming the construct',
      annotations: {
        [`${N}canary`]: 'true',
        [`${N}canary-by-header`]: 'x-user',
        [`${N}canary-by-header-pattern`]: '(a)\\1',
      },
      value: { byHeader: 'x-user', weight: 0, weightTotal: 100, field: canary },
      problems: [
        {
          field: field(`${N}canary-by-header-pattern`),
          message:
            '"(a)\\\\1": is not a valid regular expression: backreference `\\1` is not supported (RE2 syntax: no lookaround, backreferences or possessive quantifiers)',
        },
      ],
    },
    {
      name: 'an unbalanced pattern is refused',
      annotations: {
        [`${N}canary`]: 'true',
        [`${N}canary-by-header`]: 'x-user',
        [`${N}canary-by-header-pattern`]: '(a',
      },
      value: { byHeader: 'x-user', weight: 0, weightTotal: 100, field: canary },
      problems: [
        {
          field: field(`${N}canary-by-header-pattern`),
          message: '"(a": is not a valid regular expression: unbalanced parentheses',
        },
      ],
    },
  ];
  for (const row of rows) test(row.name, () => check(parseCanary, row));
});

describe('affinity family', () => {
  const base = {
    cookieName: 'INGRESSCOOKIE',
    conditionalSameSiteNone: false,
    mode: 'balanced',
    changeOnFailure: false,
    canaryBehavior: 'sticky',
  } as const;
  const rows: readonly Row<ReturnType<typeof parseAffinity>>[] = [
    { name: 'absent: no affinity', annotations: {}, value: undefined },
    {
      name: 'affinity: cookie alone takes every default',
      annotations: { [`${N}affinity`]: 'cookie' },
      value: base,
    },
    {
      name: 'every session-cookie setting is read',
      annotations: {
        [`${N}affinity`]: 'cookie',
        [`${N}affinity-mode`]: 'persistent',
        [`${N}affinity-canary-behavior`]: 'legacy',
        [`${N}session-cookie-name`]: 'route',
        [`${N}session-cookie-path`]: '/app',
        [`${N}session-cookie-domain`]: '.Example.com',
        [`${N}session-cookie-max-age`]: '3600',
        [`${N}session-cookie-expires`]: '7200',
        [`${N}session-cookie-samesite`]: 'none',
        [`${N}session-cookie-conditional-samesite-none`]: 'true',
        [`${N}session-cookie-secure`]: 'false',
        [`${N}session-cookie-change-on-failure`]: 'true',
      },
      value: {
        cookieName: 'route',
        path: '/app',
        domain: '.example.com',
        maxAgeSeconds: 3600,
        expiresSeconds: 7200,
        sameSite: 'None',
        conditionalSameSiteNone: true,
        secure: false,
        mode: 'persistent',
        changeOnFailure: true,
        canaryBehavior: 'legacy',
      },
    },
    {
      name: 'cookie settings without affinity are reported and ignored',
      annotations: { [`${N}session-cookie-name`]: 'route' },
      value: undefined,
      warnings: [
        {
          field: field(`${N}session-cookie-name`),
          message: `${N}session-cookie-name is ignored without affinity: "cookie"`,
        },
      ],
    },
    {
      name: 'only cookie affinity exists',
      annotations: { [`${N}affinity`]: 'ip' },
      value: undefined,
      problems: [{ field: field(`${N}affinity`), message: '"ip": must be one of "cookie"' }],
    },
    {
      name: 'an unknown mode is invalid',
      annotations: { [`${N}affinity`]: 'cookie', [`${N}affinity-mode`]: 'sticky' },
      value: base,
      problems: [
        { field: field(`${N}affinity-mode`), message: '"sticky": must be one of "balanced", "persistent"' },
      ],
    },
    {
      name: 'a cookie path must start with a slash and hold no semicolon',
      annotations: { [`${N}affinity`]: 'cookie', [`${N}session-cookie-path`]: '/a;b' },
      value: base,
      problems: [
        {
          field: field(`${N}session-cookie-path`),
          message: '"/a;b": must be a path starting with "/", without ";", spaces or control characters',
        },
      ],
    },
    {
      name: 'a cookie name with "=" is invalid',
      annotations: { [`${N}affinity`]: 'cookie', [`${N}session-cookie-name`]: 'a=b' },
      value: base,
      problems: [
        {
          field: field(`${N}session-cookie-name`),
          message: `"a=b": must be a cookie name (letters, digits and !#$%&'*+.^_\`|~-)`,
        },
      ],
    },
    {
      name: 'a max-age in words is invalid',
      annotations: { [`${N}affinity`]: 'cookie', [`${N}session-cookie-max-age`]: '1h' },
      value: base,
      problems: [{ field: field(`${N}session-cookie-max-age`), message: '"1h": must be a whole number' }],
    },
    {
      name: 'an unknown SameSite is invalid',
      annotations: { [`${N}affinity`]: 'cookie', [`${N}session-cookie-samesite`]: 'Maybe' },
      value: base,
      problems: [
        {
          field: field(`${N}session-cookie-samesite`),
          message: '"Maybe": must be one of "None", "Lax", "Strict"',
        },
      ],
    },
  ];
  for (const row of rows) test(row.name, () => check(parseAffinity, row));
});

describe('load-balance family', () => {
  const rows: readonly Row<ReturnType<typeof parseLoadBalance>>[] = [
    { name: 'absent: round robin by default (no policy)', annotations: {}, value: undefined },
    { name: 'ewma', annotations: { [`${N}load-balance`]: 'ewma' }, value: { kind: 'ewma' } },
    {
      name: 'round_robin explicitly',
      annotations: { [`${N}load-balance`]: 'round_robin' },
      value: { kind: 'round_robin' },
    },
    {
      name: 'upstream-hash-by with a variable',
      annotations: { [`${N}upstream-hash-by`]: '$request_uri' },
      value: { kind: 'hash', key: '$request_uri' },
    },
    {
      name: 'text, braces and prefixed variables mix',
      annotations: { [`${N}upstream-hash-by`]: 'u-\u0024{cookie_session}-$http_x_user-$arg_id' },
      value: { kind: 'hash', key: 'u-\u0024{cookie_session}-$http_x_user-$arg_id' },
    },
    {
      name: 'subset with its default size of 3',
      annotations: { [`${N}upstream-hash-by`]: '$remote_addr', [`${N}upstream-hash-by-subset`]: 'true' },
      value: { kind: 'hash', key: '$remote_addr', subset: { size: 3 } },
    },
    {
      name: 'subset with a size',
      annotations: {
        [`${N}upstream-hash-by`]: '$remote_addr',
        [`${N}upstream-hash-by-subset`]: 'true',
        [`${N}upstream-hash-by-subset-size`]: '5',
      },
      value: { kind: 'hash', key: '$remote_addr', subset: { size: 5 } },
    },
    {
      name: 'hash-by wins over load-balance, which is reported',
      annotations: { [`${N}upstream-hash-by`]: '$host', [`${N}load-balance`]: 'ewma' },
      value: { kind: 'hash', key: '$host' },
      warnings: [
        {
          field: field(`${N}load-balance`),
          message: `${N}load-balance is ignored: upstream-hash-by is set and wins`,
        },
      ],
    },
    {
      name: 'subset settings without hash-by are reported',
      annotations: { [`${N}upstream-hash-by-subset`]: 'true' },
      value: undefined,
      warnings: [
        {
          field: field(`${N}upstream-hash-by-subset`),
          message: `${N}upstream-hash-by-subset is ignored without upstream-hash-by`,
        },
      ],
    },
    {
      name: 'an unknown algorithm is invalid',
      annotations: { [`${N}load-balance`]: 'least_conn' },
      value: undefined,
      problems: [
        { field: field(`${N}load-balance`), message: '"least_conn": must be one of "round_robin", "ewma"' },
      ],
    },
    {
      name: 'an unknown variable is refused with the known list (annotations are data, never code)',
      annotations: { [`${N}upstream-hash-by`]: '$request_body' },
      value: undefined,
      problems: [
        {
          field: field(`${N}upstream-hash-by`),
          message:
            '"$request_body": variable $request_body is not supported; use $request_uri, $uri, $args, $query_string, $remote_addr, $binary_remote_addr, $host, $scheme, $request_method, $http_<header>, $cookie_<name>, $arg_<name>',
        },
      ],
    },
    {
      name: 'a constant key is refused',
      annotations: { [`${N}upstream-hash-by`]: 'always-the-same' },
      value: undefined,
      problems: [
        {
          field: field(`${N}upstream-hash-by`),
          message:
            '"always-the-same": must use at least one variable (e.g. $request_uri, $remote_addr): a constant key sends every request to one endpoint',
        },
      ],
    },
    {
      name: 'an unclosed brace is refused',
      annotations: { [`${N}upstream-hash-by`]: '\u0024{host' },
      value: undefined,
      problems: [
        { field: field(`${N}upstream-hash-by`), message: '"\u0024{host": "\u0024{" is not closed by "}"' },
      ],
    },
    {
      name: 'a subset size of 0 is invalid',
      annotations: {
        [`${N}upstream-hash-by`]: '$host',
        [`${N}upstream-hash-by-subset`]: 'true',
        [`${N}upstream-hash-by-subset-size`]: '0',
      },
      value: { kind: 'hash', key: '$host', subset: { size: 3 } },
      problems: [
        { field: field(`${N}upstream-hash-by-subset-size`), message: '"0": must be between 1 and 1000' },
      ],
    },
  ];
  for (const row of rows) test(row.name, () => check(parseLoadBalance, row));

  test('with affinity on the same Ingress, load balancing is kept but reported as not in force', () => {
    check((r) => parseLoadBalance(r, true), {
      name: '',
      annotations: { [`${N}load-balance`]: 'ewma' },
      value: { kind: 'ewma' },
      warnings: [
        {
          field: field(`${N}load-balance`),
          message: `${N}load-balance is not in force: affinity "cookie" places the requests of this Ingress`,
        },
      ],
    });
  });
});

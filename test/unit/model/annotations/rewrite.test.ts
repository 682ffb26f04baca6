/**
 * The rewrite family (`use-regex`, `rewrite-target`, `x-forwarded-prefix`, `app-root`) read through
 * an `AnnotationReader`: valid values, edge cases, and invalid values with their exact errors.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  parseRewrite,
  type RewriteSettings,
  regexSource,
} from '../../../../src/model/annotations/rewrite.js';
import { type AnnotationProblem, AnnotationReader } from '../../../../src/model/annotations/spec.js';

const P = 'portico.dev/';
const N = 'nginx.ingress.kubernetes.io/';
const field = (key: string): string => `metadata.annotations["${key}"]`;

function read(annotations: Record<string, unknown>): {
  settings: RewriteSettings;
  problems: readonly AnnotationProblem[];
  warnings: readonly AnnotationProblem[];
} {
  const reader = new AnnotationReader(annotations, 'shop');
  const settings = parseRewrite(reader);
  for (const key of reader.ownKeys()) assert.ok(reader.consumed(key), `${key} is read by the family`);
  return { settings, problems: reader.problems, warnings: reader.warnings };
}

const cases: readonly {
  name: string;
  annotations: Record<string, unknown>;
  settings: RewriteSettings;
  problems?: readonly AnnotationProblem[];
  warnings?: readonly AnnotationProblem[];
}[] = [
  { name: 'absent: plain paths, no rewrite', annotations: {}, settings: { useRegex: false } },
  {
    name: 'use-regex "true" makes paths regexes',
    annotations: { [`${N}use-regex`]: 'true' },
    settings: { useRegex: true },
  },
  {
    name: 'use-regex "false" keeps plain paths',
    annotations: { [`${N}use-regex`]: 'false' },
    settings: { useRegex: false },
  },
  {
    name: 'rewrite-target implies use-regex',
    annotations: { [`${N}rewrite-target`]: '/$2' },
    settings: { useRegex: true, policy: { target: '/$2' } },
  },
  {
    name: 'rewrite-target implies use-regex even when use-regex is "false"',
    annotations: { [`${N}rewrite-target`]: '/', [`${N}use-regex`]: 'false' },
    settings: { useRegex: true, policy: { target: '/' } },
  },
  {
    name: 'rewrite-target without a leading slash is accepted, as ingress-nginx does',
    annotations: { [`${N}rewrite-target`]: '$1' },
    settings: { useRegex: true, policy: { target: '$1' } },
  },
  {
    name: 'rewrite-target may carry its own query with captures',
    annotations: { [`${P}rewrite-target`]: '/search?q=$1&lang=en' },
    settings: { useRegex: true, policy: { target: '/search?q=$1&lang=en' } },
  },
  {
    name: 'an empty rewrite-target is no rewrite (ingress-nginx skips empty values)',
    annotations: { [`${N}rewrite-target`]: '' },
    settings: { useRegex: false },
  },
  {
    name: 'portico.dev wins over nginx.ingress.kubernetes.io',
    annotations: { [`${N}rewrite-target`]: '/a', [`${P}rewrite-target`]: '/b' },
    settings: { useRegex: true, policy: { target: '/b' } },
  },
  {
    name: 'x-forwarded-prefix goes with rewrite-target; spaces are removed',
    annotations: { [`${N}rewrite-target`]: '/$1', [`${N}x-forwarded-prefix`]: ' /api / v1' },
    settings: { useRegex: true, policy: { target: '/$1', forwardedPrefix: '/api/v1' } },
  },
  {
    name: 'x-forwarded-prefix without rewrite-target is reported and ignored, as ingress-nginx ignores it',
    annotations: { [`${N}x-forwarded-prefix`]: '/api' },
    settings: { useRegex: false },
    warnings: [
      {
        field: field(`${N}x-forwarded-prefix`),
        message: 'has no effect without rewrite-target (as in ingress-nginx); ignored',
      },
    ],
  },
  {
    name: 'an empty x-forwarded-prefix sends nothing',
    annotations: { [`${N}rewrite-target`]: '/foo', [`${N}x-forwarded-prefix`]: '' },
    settings: { useRegex: true, policy: { target: '/foo' } },
  },
  {
    name: 'app-root alone leaves paths plain',
    annotations: { [`${N}app-root`]: '/app1' },
    settings: { useRegex: false, policy: { appRoot: '/app1' } },
  },
  {
    name: 'an invalid use-regex is named with the accepted spellings',
    annotations: { [`${N}use-regex`]: 'yes' },
    settings: { useRegex: false },
    problems: [{ field: field(`${N}use-regex`), message: '"yes": must be "true" or "false"' }],
  },
  {
    name: 'rewrite-target refuses nginx variables',
    annotations: { [`${N}rewrite-target`]: '/$host/$1' },
    settings: { useRegex: false },
    problems: [
      {
        field: field(`${N}rewrite-target`),
        message:
          '"/$host/$1": `$host` is not supported: only capture groups `$1` to `$9` (nginx variables are not expanded)',
      },
    ],
  },
  {
    name: 'rewrite-target refuses a lone $',
    annotations: { [`${N}rewrite-target`]: '/path/$' },
    settings: { useRegex: false },
    problems: [
      {
        field: field(`${N}rewrite-target`),
        message: '"/path/$": `$` must be followed by a capture group number 1 to 9',
      },
    ],
  },
  {
    name: "rewrite-target refuses characters outside ingress-nginx's set",
    annotations: { [`${N}rewrite-target`]: '/a b' },
    settings: { useRegex: false },
    problems: [
      {
        field: field(`${N}rewrite-target`),
        message:
          '"/a b": may contain only letters, digits, `-._~/:` and capture groups `$1` to `$9` before the `?`',
      },
    ],
  },
  {
    name: 'rewrite-target refuses a scheme-relative URL',
    annotations: { [`${N}rewrite-target`]: '//evil.example/x' },
    settings: { useRegex: false },
    problems: [
      { field: field(`${N}rewrite-target`), message: '"//evil.example/x": must be a path, not `//host`' },
    ],
  },
  {
    name: 'rewrite-target refuses a broken escape in its query',
    annotations: { [`${N}rewrite-target`]: '/x?a=%zz' },
    settings: { useRegex: false },
    problems: [
      {
        field: field(`${N}rewrite-target`),
        message:
          '"/x?a=%zz": the query part may contain only letters, digits, `-._~/:&=`, `%XX` escapes and `$1` to `$9`',
      },
    ],
  },
  {
    name: 'x-forwarded-prefix refuses quotes (no header injection)',
    annotations: { [`${N}rewrite-target`]: '/', [`${N}x-forwarded-prefix`]: '/a";evil' },
    settings: { useRegex: true, policy: { target: '/' } },
    problems: [
      {
        field: field(`${N}x-forwarded-prefix`),
        message: '"/a\\";evil": may contain only letters, digits, `-._~/:` and capture groups `$1` to `$9`',
      },
    ],
  },
  {
    name: 'app-root refuses an absolute URL',
    annotations: { [`${N}app-root`]: 'https://example.com/app' },
    settings: { useRegex: false },
    problems: [
      {
        field: field(`${N}app-root`),
        message: '"https://example.com/app": must be an absolute path on the same host, like `/app1`',
      },
    ],
  },
  {
    name: 'app-root refuses a scheme-relative URL (an open redirect)',
    annotations: { [`${N}app-root`]: '//evil.example' },
    settings: { useRegex: false },
    problems: [
      {
        field: field(`${N}app-root`),
        message: '"//evil.example": must be an absolute path on the same host, like `/app1`',
      },
    ],
  },
  {
    name: 'app-root refuses capture groups: there is nothing to capture from `/`',
    annotations: { [`${N}app-root`]: '/app/$1' },
    settings: { useRegex: false },
    problems: [
      { field: field(`${N}app-root`), message: '"/app/$1": may contain only letters, digits and `-._~/:`' },
    ],
  },
];

describe('rewrite family', () => {
  for (const c of cases) {
    test(c.name, () => {
      const got = read(c.annotations);
      assert.deepEqual(got.settings, c.settings);
      assert.deepEqual(got.problems, c.problems ?? []);
      assert.deepEqual(got.warnings, c.warnings ?? []);
    });
  }

  test('a regex path is anchored at the start with every alternative inside the anchor', () => {
    assert.equal(regexSource('/a|/b'), '^(?:/a|/b)');
  });
});

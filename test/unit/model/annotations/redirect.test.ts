/**
 * The redirect and server-alias families read through an `AnnotationReader`: valid values, edge
 * cases (precedence, fallbacks, both prefixes) and invalid values with their exact errors.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseRedirect, type RedirectSettings } from '../../../../src/model/annotations/redirect.js';
import { parseServerAlias } from '../../../../src/model/annotations/server-alias.js';
import { type AnnotationProblem, AnnotationReader } from '../../../../src/model/annotations/spec.js';

const P = 'portico.dev/';
const N = 'nginx.ingress.kubernetes.io/';
const field = (key: string): string => `metadata.annotations["${key}"]`;

interface Outcome {
  readonly settings: RedirectSettings;
  readonly aliases?: readonly string[];
  readonly problems: readonly AnnotationProblem[];
  readonly warnings: readonly AnnotationProblem[];
}

function read(annotations: Record<string, unknown>): Outcome {
  const reader = new AnnotationReader(annotations, 'shop');
  const settings = parseRedirect(reader);
  const aliases = parseServerAlias(reader)?.value;
  for (const key of reader.ownKeys()) assert.ok(reader.consumed(key), `${key} is read by a family`);
  return {
    settings,
    ...(aliases !== undefined ? { aliases } : {}),
    problems: reader.problems,
    warnings: reader.warnings,
  };
}

describe('redirect family: valid values and edge cases', () => {
  const rows: readonly {
    name: string;
    annotations: Record<string, string>;
    redirect?: { location: string; status: number };
    preserve?: boolean;
    www?: boolean;
    warnings?: readonly AnnotationProblem[];
  }[] = [
    { name: 'absent: no redirect, nothing else', annotations: {} },
    {
      name: 'permanent-redirect answers 301 by default, with the URL as written',
      annotations: { [`${N}permanent-redirect`]: 'https://new.example.com/landing?src=old' },
      redirect: { location: 'https://new.example.com/landing?src=old', status: 301 },
    },
    {
      name: 'permanent-redirect-code picks the status',
      annotations: { [`${N}permanent-redirect`]: 'http://a.example', [`${N}permanent-redirect-code`]: '308' },
      redirect: { location: 'http://a.example', status: 308 },
    },
    {
      name: 'temporal-redirect answers 302 by default',
      annotations: { [`${N}temporal-redirect`]: 'https://maintenance.example.com' },
      redirect: { location: 'https://maintenance.example.com', status: 302 },
    },
    {
      name: 'temporal-redirect-code 307 is used',
      annotations: {
        [`${P}temporal-redirect`]: 'https://t.example',
        [`${P}temporal-redirect-code`]: ' 307 ',
      },
      redirect: { location: 'https://t.example', status: 307 },
    },
    {
      name: '303 See Other is a redirect status too',
      annotations: {
        [`${N}permanent-redirect`]: 'https://a.example',
        [`${N}permanent-redirect-code`]: '303',
      },
      redirect: { location: 'https://a.example', status: 303 },
    },
    {
      name: 'temporal wins over permanent, as in ingress-nginx, and permanent is reported as ignored',
      annotations: {
        [`${N}permanent-redirect`]: 'https://p.example',
        [`${N}temporal-redirect`]: 'https://t.example',
      },
      redirect: { location: 'https://t.example', status: 302 },
      warnings: [
        {
          field: field(`${N}permanent-redirect`),
          message:
            'permanent-redirect is ignored: temporal-redirect is set too and wins, as in ingress-nginx',
        },
      ],
    },
    {
      name: 'a code that is not a redirect status falls back to the default with a warning (ingress-nginx: silently)',
      annotations: {
        [`${N}permanent-redirect`]: 'https://p.example',
        [`${N}permanent-redirect-code`]: '418',
      },
      redirect: { location: 'https://p.example', status: 301 },
      warnings: [
        {
          field: field(`${N}permanent-redirect-code`),
          message: '418 is not a redirect status (301, 302, 303, 307, 308); the redirect answers 301',
        },
      ],
    },
    {
      name: '300 carries no Location in nginx: Portico falls back to 302 for a temporal redirect',
      annotations: { [`${N}temporal-redirect`]: 'https://t.example', [`${N}temporal-redirect-code`]: '300' },
      redirect: { location: 'https://t.example', status: 302 },
      warnings: [
        {
          field: field(`${N}temporal-redirect-code`),
          message: '300 is not a redirect status (301, 302, 303, 307, 308); the redirect answers 302',
        },
      ],
    },
    {
      name: 'a code without its URL has no effect and says so',
      annotations: { [`${N}permanent-redirect-code`]: '308' },
      warnings: [
        {
          field: field(`${N}permanent-redirect-code`),
          message: `${N}permanent-redirect-code has no effect without permanent-redirect`,
        },
      ],
    },
    {
      name: 'an empty URL means no redirect, as in ingress-nginx, with a warning',
      annotations: { [`${N}permanent-redirect`]: '  ' },
      warnings: [
        { field: field(`${N}permanent-redirect`), message: `${N}permanent-redirect is empty: no redirect` },
      ],
    },
    {
      name: 'portico.dev wins over nginx.ingress.kubernetes.io',
      annotations: {
        [`${N}permanent-redirect`]: 'https://n.example',
        [`${P}permanent-redirect`]: 'https://p.example',
      },
      redirect: { location: 'https://p.example', status: 301 },
    },
    {
      name: 'an upper-case scheme and a port are accepted',
      annotations: { [`${N}permanent-redirect`]: 'HTTPS://a.example:8443/x' },
      redirect: { location: 'HTTPS://a.example:8443/x', status: 301 },
    },
    {
      name: 'percent-escapes and RFC 3986 sub-delimiters are accepted',
      annotations: { [`${N}temporal-redirect`]: "https://a.example/a%20b;c,d+e!*'()@x#frag" },
      redirect: { location: "https://a.example/a%20b;c,d+e!*'()@x#frag", status: 302 },
    },
    {
      name: 'preserve-trailing-slash "false" is kept for the HTTPS redirect',
      annotations: { [`${N}preserve-trailing-slash`]: 'false' },
      preserve: false,
    },
    {
      name: 'preserve-trailing-slash "true" is kept as written',
      annotations: { [`${P}preserve-trailing-slash`]: 'true' },
      preserve: true,
    },
    {
      name: 'from-to-www-redirect is read (host scoped: bound by translation)',
      annotations: { [`${N}from-to-www-redirect`]: 'true' },
      www: true,
    },
  ];
  for (const row of rows) {
    test(row.name, () => {
      const got = read(row.annotations);
      assert.deepEqual(got.problems, []);
      assert.deepEqual(got.settings.redirect, row.redirect);
      assert.equal(got.settings.preserveTrailingSlash, row.preserve);
      assert.equal(got.settings.fromToWww?.value, row.www);
      assert.deepEqual(got.warnings, row.warnings ?? []);
    });
  }
});

describe('redirect family: invalid values name the field and the reason', () => {
  const rows: readonly { name: string; key: string; value: string; message: string }[] = [
    {
      name: 'a relative URL is refused: only absolute http(s) URLs redirect',
      key: `${N}permanent-redirect`,
      value: '/elsewhere',
      message: '"/elsewhere": must be an absolute http:// or https:// URL',
    },
    {
      name: 'a URL without scheme is refused (ingress-nginx: "only http and https are valid protocols")',
      key: `${N}permanent-redirect`,
      value: 'ok.com',
      message: '"ok.com": must be an absolute http:// or https:// URL',
    },
    {
      name: 'another scheme is refused',
      key: `${N}temporal-redirect`,
      value: 'ftp://files.example',
      message: '"ftp://files.example": must be an absolute http:// or https:// URL',
    },
    {
      name: 'nginx variables are refused by name, never expanded',
      key: `${N}permanent-redirect`,
      value: 'https://new.example$request_uri',
      message:
        '"https://new.example$request_uri": nginx variables such as $request_uri are not expanded; write the whole target URL',
    },
    {
      name: 'a space is refused, naming the character',
      key: `${N}permanent-redirect`,
      value: 'https://a.example/a b',
      message: '"https://a.example/a b": " " is not allowed in a URL (percent-encode it)',
    },
    {
      name: 'a broken percent-escape is refused',
      key: `${N}permanent-redirect`,
      value: 'https://a.example/%zz',
      message: '"https://a.example/%zz": "%" is not allowed in a URL (percent-encode it)',
    },
    {
      name: 'a URL without host is refused',
      key: `${N}temporal-redirect`,
      value: 'http://',
      message: '"http://": is not a valid URL',
    },
    {
      name: 'a code that is not an integer is refused',
      key: `${N}permanent-redirect-code`,
      value: '30x',
      message: '"30x": must be an integer',
    },
    {
      name: 'an empty code is refused',
      key: `${N}temporal-redirect-code`,
      value: '',
      message: '"": must be an integer',
    },
    {
      name: 'from-to-www-redirect takes Go booleans only',
      key: `${N}from-to-www-redirect`,
      value: 'yes',
      message: '"yes": must be "true" or "false"',
    },
    {
      name: 'preserve-trailing-slash takes Go booleans only',
      key: `${P}preserve-trailing-slash`,
      value: 'on',
      message: '"on": must be "true" or "false"',
    },
    {
      name: 'a regular-expression server alias is refused by name',
      key: `${N}server-alias`,
      value: 'a.example, ~^www\\d+\\.example\\.com$',
      message:
        '"a.example, ~^www\\\\d+\\\\.example\\\\.com$": "~^www\\\\d+\\\\.example\\\\.com$": regular-expression server names are not supported',
    },
    {
      name: 'an IP address is not an alias',
      key: `${N}server-alias`,
      value: '10.0.0.1',
      message: '"10.0.0.1": "10.0.0.1" is an IP address, not a host name',
    },
    {
      name: 'an alias with an underscore is refused',
      key: `${P}server-alias`,
      value: 'a_b.example',
      message: '"a_b.example": "a_b.example" is not a valid host name',
    },
    {
      name: 'a misplaced wildcard is refused',
      key: `${N}server-alias`,
      value: 'a.*.example',
      message: '"a.*.example": "a.*.example" is not a valid host name',
    },
    {
      name: 'a bare wildcard is refused',
      key: `${N}server-alias`,
      value: '*.',
      message: '"*.": "*." is not a valid wildcard host name (e.g. "*.example.com")',
    },
  ];
  for (const row of rows) {
    test(row.name, () => {
      const got = read({ [row.key]: row.value });
      assert.deepEqual(got.problems, [{ field: field(row.key), message: row.message }]);
    });
  }

  test('a value that is not a string is refused', () => {
    const got = read({ [`${N}permanent-redirect`]: 301 });
    assert.deepEqual(got.problems, [
      { field: field(`${N}permanent-redirect`), message: 'must be a string (quote it in YAML)' },
    ]);
  });
});

describe('server-alias family', () => {
  const rows: readonly { name: string; value: string; aliases: readonly string[] | undefined }[] = [
    { name: 'one alias', value: 'bar', aliases: ['bar'] },
    {
      name: 'a comma-separated list, trimmed and lowercased',
      value: ' Bar.Example , baz.example',
      aliases: ['bar.example', 'baz.example'],
    },
    {
      name: 'duplicates and empty items are dropped',
      value: 'a.example,,a.example, ',
      aliases: ['a.example'],
    },
    { name: 'a wildcard alias is allowed', value: '*.alias.example', aliases: ['*.alias.example'] },
    { name: 'an empty value sets no alias', value: ' , ', aliases: undefined },
  ];
  for (const row of rows) {
    test(row.name, () => {
      const got = read({ [`${N}server-alias`]: row.value });
      assert.deepEqual(got.problems, []);
      assert.deepEqual(got.aliases, row.aliases);
    });
  }
});

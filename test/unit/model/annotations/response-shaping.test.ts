/**
 * The response-shaping families (`cors`, `custom-errors`, `custom-headers`) read through an
 * `AnnotationReader`: ingress-nginx's defaults, valid and edge values, and invalid values with
 * their exact errors.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CORS_DEFAULTS, parseCors } from '../../../../src/model/annotations/cors.js';
import {
  type CustomErrorsSettings,
  parseCustomErrors,
} from '../../../../src/model/annotations/custom-errors.js';
import { parseCustomHeaders } from '../../../../src/model/annotations/custom-headers.js';
import { type AnnotationProblem, AnnotationReader } from '../../../../src/model/annotations/spec.js';
import type { CorsPolicy } from '../../../../src/model/types.js';

const P = 'portico.dev/';
const N = 'nginx.ingress.kubernetes.io/';
const field = (key: string): string => `metadata.annotations["${key}"]`;

const DEFAULT_CORS: CorsPolicy = {
  allowOrigins: ['*'],
  allowMethods: CORS_DEFAULTS.allowMethods,
  allowHeaders: CORS_DEFAULTS.allowHeaders,
  allowCredentials: true,
  maxAgeSeconds: 1_728_000,
};

function readCors(annotations: Record<string, string>): {
  cors: CorsPolicy | undefined;
  problems: readonly AnnotationProblem[];
  warnings: readonly AnnotationProblem[];
} {
  const reader = new AnnotationReader(annotations, 'shop');
  const cors = parseCors(reader);
  for (const key of reader.ownKeys()) assert.ok(reader.consumed(key), `${key} is read by the family`);
  return { cors, problems: reader.problems, warnings: reader.warnings };
}

describe('cors family', () => {
  const cases: readonly {
    name: string;
    annotations: Record<string, string>;
    cors?: CorsPolicy;
    problems?: readonly AnnotationProblem[];
    warnings?: readonly AnnotationProblem[];
  }[] = [
    { name: 'absent: no CORS', annotations: {} },
    {
      name: 'enable-cors alone takes ingress-nginx defaults (any origin, credentials, 20 days)',
      annotations: { [`${N}enable-cors`]: 'true' },
      cors: DEFAULT_CORS,
    },
    {
      name: 'enable-cors "false" turns CORS off',
      annotations: { [`${N}enable-cors`]: 'false' },
    },
    {
      name: 'cors-* without enable-cors are reported as ignored',
      annotations: { [`${N}cors-max-age`]: '10' },
      warnings: [
        {
          field: field(`${N}cors-max-age`),
          message: `${N}cors-max-age is ignored: enable-cors is not "true"`,
        },
      ],
    },
    {
      name: 'an origin list is lowercased and deduplicated',
      annotations: {
        [`${N}enable-cors`]: 'true',
        [`${N}cors-allow-origin`]:
          'https://origin.cors.com:8080, HTTPS://Origin.cors.com:8080,http://*.origin.com',
      },
      cors: { ...DEFAULT_CORS, allowOrigins: ['https://origin.cors.com:8080', 'http://*.origin.com'] },
    },
    {
      name: '* anywhere in the list allows every origin, as ingress-nginx',
      annotations: { [`${N}enable-cors`]: 'true', [`${N}cors-allow-origin`]: '*, https://foo.bar.com' },
      cors: DEFAULT_CORS,
    },
    {
      name: 'a blank origin list allows every origin, as ingress-nginx',
      annotations: { [`${N}enable-cors`]: 'true', [`${N}cors-allow-origin`]: '      ' },
      cors: DEFAULT_CORS,
    },
    {
      name: 'an origin without scheme is refused naming it',
      annotations: {
        [`${N}enable-cors`]: 'true',
        [`${N}cors-allow-origin`]: 'origin.cors.com:8080, https://origin2.cors.com',
      },
      problems: [
        {
          field: field(`${N}cors-allow-origin`),
          message:
            '"origin.cors.com:8080, https://origin2.cors.com": "origin.cors.com:8080" is not an origin: write "*", "https://host[:port]" or "https://*.domain[:port]"',
        },
      ],
    },
    {
      name: 'an origin with a path, a variable or a port past 65535 is refused',
      annotations: {
        [`${N}enable-cors`]: 'true',
        [`${N}cors-allow-origin`]: 'https://a.example/x,$http_origin,https://b.example:70000',
      },
      problems: [
        {
          field: field(`${N}cors-allow-origin`),
          message:
            '"https://a.example/x,$http_origin,https://b.example:70000": "https://a.example/x", "$http_origin", "https://b.example:70000" are not origins: write "*", "https://host[:port]" or "https://*.domain[:port]"',
        },
      ],
    },
    {
      name: 'methods, headers, expose headers, credentials and max-age are read',
      annotations: {
        [`${P}enable-cors`]: 'true',
        [`${N}cors-allow-methods`]: 'POST,GET',
        [`${N}cors-allow-headers`]: 'DNT, User-Agent,X_Custom',
        [`${N}cors-expose-headers`]: 'X-CustomResponseHeader, *',
        [`${N}cors-allow-credentials`]: 'false',
        [`${N}cors-max-age`]: '200',
      },
      cors: {
        ...DEFAULT_CORS,
        allowMethods: 'POST, GET',
        allowHeaders: 'DNT, User-Agent, X_Custom',
        exposeHeaders: 'X-CustomResponseHeader, *',
        allowCredentials: false,
        maxAgeSeconds: 200,
      },
    },
    {
      name: 'a method with a non-letter is refused naming it',
      annotations: { [`${N}enable-cors`]: 'true', [`${N}cors-allow-methods`]: 'GET, P0ST' },
      problems: [
        {
          field: field(`${N}cors-allow-methods`),
          message: '"GET, P0ST": "P0ST" is not a method name (letters only)',
        },
      ],
    },
    {
      name: 'a header with a colon or * in allow-headers is refused',
      annotations: { [`${N}enable-cors`]: 'true', [`${N}cors-allow-headers`]: 'X-A: b, *' },
      problems: [
        {
          field: field(`${N}cors-allow-headers`),
          message: '"X-A: b, *": "X-A: b", "*" are not a header name (letters, digits, "-" and "_" only)',
        },
      ],
    },
    {
      name: 'an empty method list is refused',
      annotations: { [`${N}enable-cors`]: 'true', [`${N}cors-allow-methods`]: ' , ' },
      problems: [{ field: field(`${N}cors-allow-methods`), message: '" , ": must list at least one method' }],
    },
    {
      name: 'a negative max-age is refused',
      annotations: { [`${N}enable-cors`]: 'true', [`${N}cors-max-age`]: '-1' },
      problems: [{ field: field(`${N}cors-max-age`), message: '"-1": must be a whole number' }],
    },
    {
      name: 'enable-cors that is not a boolean is refused',
      annotations: { [`${N}enable-cors`]: 'yes' },
      problems: [{ field: field(`${N}enable-cors`), message: '"yes": must be "true" or "false"' }],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const got = readCors(c.annotations);
      // An invalid value rejects the whole Ingress; what the rest parses to is then unused.
      if (c.problems === undefined) assert.deepEqual(got.cors, c.cors);
      assert.deepEqual(got.problems, c.problems ?? []);
      assert.deepEqual(got.warnings, c.warnings ?? []);
    });
  }
});

describe('custom-errors family', () => {
  const cases: readonly {
    name: string;
    annotations: Record<string, string>;
    settings: { codes?: readonly number[]; backend?: string };
    problems?: readonly AnnotationProblem[];
  }[] = [
    { name: 'absent: nothing', annotations: {}, settings: {} },
    {
      name: 'codes are deduplicated and sorted',
      annotations: { [`${N}custom-http-errors`]: '503, 404,404 ,500' },
      settings: { codes: [404, 500, 503] },
    },
    {
      name: 'default-backend names a Service of the namespace',
      annotations: { [`${N}custom-http-errors`]: '404', [`${N}default-backend`]: 'error-pages' },
      settings: { codes: [404], backend: 'error-pages' },
    },
    {
      name: 'a status outside 300-599 or not a number is refused naming it',
      annotations: { [`${N}custom-http-errors`]: '404,200,abc,600' },
      settings: {},
      problems: [
        {
          field: field(`${N}custom-http-errors`),
          message: '"404,200,abc,600": "200", "abc", "600" are not status codes from 300 to 599',
        },
      ],
    },
    {
      name: 'a default-backend in another namespace is refused',
      annotations: { [`${N}default-backend`]: 'other/error-pages' },
      settings: {},
      problems: [
        {
          field: field(`${N}default-backend`),
          message:
            '"other/error-pages": must be a Service name in the Ingress\'s namespace, without "namespace/"',
        },
      ],
    },
    {
      name: 'an invalid Service name is refused',
      annotations: { [`${N}default-backend`]: 'Error_Pages' },
      settings: {},
      problems: [
        { field: field(`${N}default-backend`), message: '"Error_Pages": is not a valid Service name' },
      ],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const reader = new AnnotationReader(c.annotations, 'shop');
      const got: CustomErrorsSettings = parseCustomErrors(reader);
      assert.deepEqual(
        {
          ...(got.codes !== undefined ? { codes: got.codes } : {}),
          ...(got.backend !== undefined ? { backend: got.backend.value } : {}),
        },
        c.settings,
      );
      assert.deepEqual(reader.problems, c.problems ?? []);
    });
  }
});

describe('custom-headers family', () => {
  const cases: readonly {
    name: string;
    value: string;
    ref?: { namespace?: string; name: string };
    problem?: string;
  }[] = [
    { name: 'a name is read', value: 'shop-headers', ref: { name: 'shop-headers' } },
    {
      name: 'namespace/name is read (translation applies the namespace rule)',
      value: 'shop/shop-headers',
      ref: { namespace: 'shop', name: 'shop-headers' },
    },
    {
      name: 'an invalid name is refused',
      value: 'Shop_Headers',
      problem: '"Shop_Headers": "Shop_Headers" is not a valid ConfigMap name',
    },
    {
      name: 'more than one slash is refused',
      value: 'a/b/c',
      problem: '"a/b/c": must be "name" or "namespace/name"',
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const reader = new AnnotationReader({ [`${N}custom-headers`]: c.value }, 'shop');
      const got = parseCustomHeaders(reader);
      assert.deepEqual(got?.value, c.ref);
      assert.deepEqual(
        reader.problems,
        c.problem === undefined ? [] : [{ field: field(`${N}custom-headers`), message: c.problem }],
      );
    });
  }
});

/**
 * The basic-auth family read through an `AnnotationReader`: the auth-type/auth-secret pairing,
 * digest refused, realm validation, the portico.dev-only auth-pass-credentials, namespaces.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type BasicAuthConfig,
  basicAuthAnnotations,
  parseBasicAuth,
  realm,
} from '../../../../src/model/annotations/basic-auth.js';
import { type AnnotationProblem, AnnotationReader } from '../../../../src/model/annotations/spec.js';

const P = 'portico.dev/';
const N = 'nginx.ingress.kubernetes.io/';
const field = (key: string): string => `metadata.annotations["${key}"]`;

function read(annotations: Record<string, string>): {
  auth: BasicAuthConfig | undefined;
  problems: readonly AnnotationProblem[];
  unconsumed: string[];
} {
  const reader = new AnnotationReader(annotations, 'shop');
  const auth = parseBasicAuth(reader);
  return { auth, problems: reader.problems, unconsumed: reader.ownKeys().filter((k) => !reader.consumed(k)) };
}

const basic = { [`${N}auth-type`]: 'basic', [`${N}auth-secret`]: 'users' };

describe('basic-auth family', () => {
  const rows: readonly {
    name: string;
    annotations: Record<string, string>;
    auth?: BasicAuthConfig;
    problems?: readonly AnnotationProblem[];
    unconsumed?: readonly string[];
  }[] = [
    { name: 'absent', annotations: {} },
    {
      name: 'auth-type basic + auth-secret: defaults (auth-file, empty realm, credentials stripped)',
      annotations: basic,
      auth: {
        secret: { namespace: 'shop', name: 'users' },
        secretType: 'auth-file',
        realm: '',
        passCredentials: false,
        field: field(`${N}auth-secret`),
      },
    },
    {
      name: 'every setting, portico.dev prefix wins',
      annotations: {
        ...basic,
        [`${P}auth-secret`]: 'shop/admins',
        [`${N}auth-secret-type`]: 'auth-map',
        [`${N}auth-realm`]: 'Authentication Required - admins',
        [`${P}auth-pass-credentials`]: 'true',
      },
      auth: {
        secret: { namespace: 'shop', name: 'admins' },
        secretType: 'auth-map',
        realm: 'Authentication Required - admins',
        passCredentials: true,
        field: field(`${P}auth-secret`),
      },
    },
    {
      name: 'auth-pass-credentials is read under portico.dev only',
      annotations: { ...basic, [`${N}auth-pass-credentials`]: 'true' },
      auth: {
        secret: { namespace: 'shop', name: 'users' },
        secretType: 'auth-file',
        realm: '',
        passCredentials: false,
        field: field(`${N}auth-secret`),
      },
      unconsumed: [`${N}auth-pass-credentials`],
    },
    {
      name: 'a cross-namespace Secret fails closed (deny), no Secret reference kept',
      annotations: { [`${N}auth-type`]: 'basic', [`${N}auth-secret`]: 'other/users' },
      auth: {
        secretType: 'auth-file',
        realm: '',
        passCredentials: false,
        field: field(`${N}auth-secret`),
        deny: `${N}auth-secret: Secret other/users is in another namespace; only Secrets in shop may be used`,
      },
    },
    {
      name: 'auth-secret without auth-type is invalid',
      annotations: { [`${N}auth-secret`]: 'users' },
      problems: [
        {
          field: field(`${N}auth-secret`),
          message:
            'needs auth-type: "basic" (without it these routes would be served without authentication)',
        },
      ],
    },
    {
      name: 'auth-type without auth-secret is invalid',
      annotations: { [`${P}auth-type`]: 'basic' },
      problems: [
        {
          field: field(`${P}auth-type`),
          message: '"basic" needs auth-secret: the Secret with the users (htpasswd)',
        },
      ],
    },
    {
      name: 'digest is refused with a reason',
      annotations: { ...basic, [`${N}auth-type`]: 'digest' },
      problems: [
        {
          field: field(`${N}auth-type`),
          message:
            '"digest": "digest" is not supported (RFC 7616 digest with MD5 is weaker than Basic over TLS); use "basic" over HTTPS',
        },
        {
          field: field(`${N}auth-secret`),
          message:
            'needs auth-type: "basic" (without it these routes would be served without authentication)',
        },
      ],
    },
    {
      name: 'an unknown auth-type lists the accepted one',
      annotations: { ...basic, [`${N}auth-type`]: 'bearer' },
      problems: [
        { field: field(`${N}auth-type`), message: '"bearer": must be one of "basic"' },
        {
          field: field(`${N}auth-secret`),
          message:
            'needs auth-type: "basic" (without it these routes would be served without authentication)',
        },
      ],
    },
    {
      name: 'auth-secret-type takes auth-file or auth-map',
      annotations: { ...basic, [`${N}auth-secret-type`]: 'auth-ldap' },
      problems: [
        {
          field: field(`${N}auth-secret-type`),
          message: '"auth-ldap": must be one of "auth-file", "auth-map"',
        },
      ],
      auth: {
        secret: { namespace: 'shop', name: 'users' },
        secretType: 'auth-file',
        realm: '',
        passCredentials: false,
        field: field(`${N}auth-secret`),
      },
    },
    {
      name: 'a realm with a quote is refused',
      annotations: { ...basic, [`${N}auth-realm`]: 'say "hi"' },
      problems: [
        { field: field(`${N}auth-realm`), message: '"say \\"hi\\"": must not contain quotes or backslashes' },
      ],
      auth: {
        secret: { namespace: 'shop', name: 'users' },
        secretType: 'auth-file',
        realm: '',
        passCredentials: false,
        field: field(`${N}auth-secret`),
      },
    },
    {
      name: 'a malformed Secret reference',
      annotations: { [`${N}auth-type`]: 'basic', [`${N}auth-secret`]: 'a/b/c' },
      problems: [
        { field: field(`${N}auth-secret`), message: '"a/b/c": must be "name" or "namespace/name"' },
        {
          field: field(`${N}auth-type`),
          message: '"basic" needs auth-secret: the Secret with the users (htpasswd)',
        },
      ],
    },
  ];
  for (const r of rows) {
    test(r.name, () => {
      const got = read(r.annotations);
      assert.deepEqual(got.problems, r.problems ?? []);
      assert.deepEqual(got.auth, r.auth);
      assert.deepEqual(got.unconsumed, r.unconsumed ?? []);
    });
  }

  test('realm validation', () => {
    const cases: readonly [string, string | true][] = [
      ['', true],
      ['Authentication Required - foo', true],
      ["Admins' area (v2) / staging: #1", true],
      ['line\r\nSet-Cookie: x=1', 'must not contain control characters (CR, LF, tab…)'],
      ['tab\there', 'must not contain control characters (CR, LF, tab…)'],
      ['back\\slash', 'must not contain quotes or backslashes'],
      ['Zürich', 'must be printable ASCII'],
      ['x'.repeat(257), 'must be at most 256 characters'],
    ];
    for (const [input, want] of cases) {
      const got = realm(input);
      assert.deepEqual(got, want === true ? { ok: true, value: input } : { ok: false, reason: want }, input);
    }
  });

  test('auth-pass-credentials is portico.dev only and documented as a difference', () => {
    const spec = basicAuthAnnotations.specs['auth-pass-credentials'];
    assert.deepEqual(spec.prefixes, ['portico.dev']);
    assert.match(spec.differs ?? '', /forwards/);
  });
});

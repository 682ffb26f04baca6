/**
 * Parse tables of the annotation families, through the registry's one entry point.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type IngressAnnotations,
  readIngressAnnotations,
} from '../../../../src/model/annotations/registry.js';
import type { Ingress } from '../../../../src/model/objects.js';
import { DEFAULT_ROUTE_POLICY, type RoutePolicy } from '../../../../src/model/types.js';

const P = 'portico.dev/';
const N = 'nginx.ingress.kubernetes.io/';
const field = (key: string): string => `metadata.annotations["${key}"]`;

const read = (annotations: Record<string, string>, namespace = 'shop'): IngressAnnotations =>
  readIngressAnnotations({
    kind: 'Ingress',
    metadata: { name: 'i', namespace, annotations },
    spec: {},
  } as unknown as Ingress);

interface PolicyRow {
  readonly name: string;
  readonly annotations: Record<string, string>;
  /** The expected policy, or the expected problems (the Ingress is rejected). */
  readonly policy?: RoutePolicy;
  readonly problems?: readonly { field: string; message: string }[];
}

function run(rows: readonly PolicyRow[]): void {
  for (const r of rows) {
    test(r.name, () => {
      const got = read(r.annotations);
      assert.deepEqual(got.problems, r.problems ?? []);
      if (r.policy !== undefined) assert.deepEqual(got.policy, r.policy);
      assert.deepEqual(got.unknown, []);
    });
  }
}

describe('ssl-redirect family', () => {
  run([
    {
      name: 'absent: the default policy (the ConfigMap decides)',
      annotations: {},
      policy: DEFAULT_ROUTE_POLICY,
    },
    {
      name: 'nginx ssl-redirect "false"',
      annotations: { [`${N}ssl-redirect`]: 'false' },
      policy: { backendProtocol: 'HTTP', sslRedirect: false },
    },
    {
      name: 'portico force-ssl-redirect "true"',
      annotations: { [`${P}force-ssl-redirect`]: 'true' },
      policy: { backendProtocol: 'HTTP', forceSslRedirect: true },
    },
    {
      name: 'Go ParseBool spellings as ingress-nginx',
      annotations: { [`${N}ssl-redirect`]: 'True', [`${N}force-ssl-redirect`]: '0' },
      policy: { backendProtocol: 'HTTP', sslRedirect: true, forceSslRedirect: false },
    },
    {
      name: '"yes" is refused with the field path',
      annotations: { [`${N}ssl-redirect`]: 'yes' },
      problems: [{ field: field(`${N}ssl-redirect`), message: '"yes": must be "true" or "false"' }],
    },
  ]);
});

describe('backend-protocol family', () => {
  run([
    {
      name: 'HTTPS, case-insensitive',
      annotations: { [`${N}backend-protocol`]: 'https' },
      policy: { backendProtocol: 'HTTPS' },
    },
    {
      name: 'GRPCS',
      annotations: { [`${P}backend-protocol`]: 'GRPCS' },
      policy: { backendProtocol: 'GRPCS' },
    },
    { name: 'H2C', annotations: { [`${N}backend-protocol`]: 'h2c' }, policy: { backendProtocol: 'H2C' } },
    {
      name: 'AUTO_HTTP is refused with a reason',
      annotations: { [`${N}backend-protocol`]: 'AUTO_HTTP' },
      problems: [
        {
          field: field(`${N}backend-protocol`),
          message: '"AUTO_HTTP": "AUTO_HTTP" is not supported; use "HTTP", "HTTPS", "GRPC", "GRPCS" or "H2C"',
        },
      ],
    },
    {
      name: 'an unknown protocol lists the accepted ones',
      annotations: { [`${N}backend-protocol`]: 'SPDY' },
      problems: [
        {
          field: field(`${N}backend-protocol`),
          message: '"SPDY": must be one of "HTTP", "HTTPS", "GRPC", "GRPCS", "H2C"',
        },
      ],
    },
    {
      name: 'verification with a same-namespace CA Secret, a name and SNI',
      annotations: {
        [`${N}backend-protocol`]: 'HTTPS',
        [`${N}proxy-ssl-verify`]: 'on',
        [`${N}proxy-ssl-secret`]: 'shop/backend-ca',
        [`${N}proxy-ssl-name`]: 'API.internal',
        [`${N}proxy-ssl-server-name`]: 'on',
      },
      policy: {
        backendProtocol: 'HTTPS',
        upstreamTls: {
          verify: true,
          sendServerName: true,
          caSecret: { namespace: 'shop', name: 'backend-ca' },
          serverName: 'api.internal',
        },
      },
    },
    {
      name: 'a bare Secret name is in the Ingress namespace',
      annotations: { [`${N}proxy-ssl-secret`]: 'ca' },
      policy: {
        backendProtocol: 'HTTP',
        upstreamTls: { verify: false, sendServerName: false, caSecret: { namespace: 'shop', name: 'ca' } },
      },
    },
    {
      name: 'verify "on" without a CA Secret is invalid',
      annotations: { [`${N}proxy-ssl-verify`]: 'on' },
      problems: [
        {
          field: field(`${N}proxy-ssl-verify`),
          message: '"on" needs proxy-ssl-secret: a Secret with the CA bundle (ca.crt)',
        },
      ],
    },
    {
      name: 'proxy-ssl-verify takes on/off only',
      annotations: { [`${N}proxy-ssl-verify`]: 'maybe' },
      problems: [{ field: field(`${N}proxy-ssl-verify`), message: '"maybe": must be "on" or "off"' }],
    },
    {
      name: 'a malformed Secret reference',
      annotations: { [`${N}proxy-ssl-secret`]: 'a/b/c' },
      problems: [
        { field: field(`${N}proxy-ssl-secret`), message: '"a/b/c": must be "name" or "namespace/name"' },
      ],
    },
  ]);

  test('a CA Secret in another namespace denies the routes (fail closed) and is listed as a denial', () => {
    const got = read({ [`${N}backend-protocol`]: 'HTTPS', [`${N}proxy-ssl-secret`]: 'other/ca' });
    assert.deepEqual(got.problems, []);
    assert.match(got.policy.deny ?? '', /Secret other\/ca is in another namespace; only Secrets in shop/);
    assert.equal(got.policy.upstreamTls?.caSecret, undefined, 'the foreign Secret is never referenced');
    assert.deepEqual(got.denials, [{ field: field(`${N}proxy-ssl-secret`), message: got.policy.deny }]);
  });
});

describe('auth-tls family', () => {
  test('absent without auth-tls-secret, even when other auth-tls keys are set', () => {
    const got = read({ [`${N}auth-tls-verify-client`]: 'optional' });
    assert.equal(got.clientAuth, undefined);
    assert.deepEqual(got.unknown, []);
  });

  test('defaults: verify on, depth 1, no certificate upstream', () => {
    const got = read({ [`${N}auth-tls-secret`]: 'shop/client-ca' });
    assert.equal(got.clientAuth?.verify, 'on');
    assert.equal(got.clientAuth?.depth, 1);
    assert.equal(got.clientAuth?.passCertificate, false);
    assert.deepEqual(got.clientAuth?.caSecret.value, { namespace: 'shop', name: 'client-ca' });
    assert.equal(got.clientAuth?.deny, undefined);
  });

  test('every key set', () => {
    const got = read({
      [`${P}auth-tls-secret`]: 'client-ca',
      [`${N}auth-tls-verify-client`]: 'optional_no_ca',
      [`${N}auth-tls-verify-depth`]: '3',
      [`${N}auth-tls-pass-certificate-to-upstream`]: 'true',
    });
    assert.deepEqual(
      [got.clientAuth?.verify, got.clientAuth?.depth, got.clientAuth?.passCertificate],
      ['optional_no_ca', 3, true],
    );
    assert.equal(got.clientAuth?.caSecret.field, field(`${P}auth-tls-secret`));
  });

  const invalid = [
    [
      `${N}auth-tls-verify-client`,
      'required',
      '"required": must be one of "on", "optional", "optional_no_ca", "off"',
    ],
    [`${N}auth-tls-verify-depth`, '0', '"0": must be between 1 and 16'],
    [`${N}auth-tls-pass-certificate-to-upstream`, 'on', '"on": must be "true" or "false"'],
  ] as const;
  for (const [key, value, message] of invalid) {
    test(`${key}: ${JSON.stringify(value)} is invalid`, () => {
      const got = read({ [`${N}auth-tls-secret`]: 'ca', [key]: value });
      assert.deepEqual(got.problems, [{ field: field(key), message }]);
    });
  }

  test('a CA Secret in another namespace: deny with a denial on the secret field', () => {
    const got = read({ [`${N}auth-tls-secret`]: 'kube-system/ca' });
    assert.match(got.clientAuth?.deny ?? '', /Secret kube-system\/ca is in another namespace/);
    assert.deepEqual(got.denials, [{ field: field(`${N}auth-tls-secret`), message: got.clientAuth?.deny }]);
  });
});

/** Reading Basic-auth Secrets: which ones fail closed, what is warned about, when nothing changes. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import type { Diagnostic } from '../../../../src/model/diagnostics.js';
import type { Secret } from '../../../../src/model/objects.js';
import { AuthSecretTable, checkAuthSecret } from '../../../../src/policy/auth/auth-secrets.js';

const SHA = (p: string): string => `{SHA}${createHash('sha1').update(p).digest('base64')}`;

function secret(data: Record<string, string>): Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'users', namespace: 'default' },
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  };
}

describe('checkAuthSecret', () => {
  const cases = [
    { name: 'a missing Secret fails', s: undefined, type: 'auth-file', want: 'Secret not found' },
    {
      name: 'auth-file without an auth key fails',
      s: secret({ other: 'x' }),
      type: 'auth-file',
      want: 'no "auth" key (auth-secret-type auth-file)',
    },
    {
      name: 'a file with no usable line fails, naming the first problem',
      s: secret({ auth: 'eve:{PLAIN}x\n' }),
      type: 'auth-file',
      want: /^no usable user \(line 1: /,
    },
    {
      name: 'an htpasswd file with one good user passes',
      s: secret({ auth: `ann:${SHA('pw')}\n` }),
      type: 'auth-file',
      want: 1,
    },
    {
      name: 'auth-map reads one user per key',
      s: secret({ ann: SHA('a'), ben: SHA('b') }),
      type: 'auth-map',
      want: 2,
    },
  ] as const;
  for (const c of cases) {
    test(c.name, () => {
      const check = checkAuthSecret(c.s, c.type);
      if (typeof c.want === 'number') {
        assert.ok(check.ok);
        assert.equal(check.users.users.size, c.want);
      } else {
        assert.ok(!check.ok);
        if (typeof c.want === 'string') assert.equal(check.reason, c.want);
        else assert.match(check.reason, c.want);
      }
    });
  }

  test('the fingerprint follows the users, not the Secret object', () => {
    const a = checkAuthSecret(secret({ auth: `ann:${SHA('pw')}\n` }), 'auth-file');
    const b = checkAuthSecret(secret({ auth: `# comment\nann:${SHA('pw')}\n` }), 'auth-file');
    const c = checkAuthSecret(secret({ auth: `ann:${SHA('other')}\n` }), 'auth-file');
    assert.ok(a.ok && b.ok && c.ok);
    assert.equal(a.fingerprint, b.fingerprint);
    assert.notEqual(a.fingerprint, c.fingerprint);
  });
});

describe('AuthSecretTable', () => {
  const use = (ingress: string) => ({
    ingress,
    field: 'metadata.annotations["nginx.ingress.kubernetes.io/auth-secret"]',
    namespace: 'default',
    name: 'users',
    secretType: 'auth-file' as const,
  });

  test('every Ingress using a broken Secret gets a warning; skipped lines are named', () => {
    const table = new AuthSecretTable();
    const diagnostics: Diagnostic[] = [];
    const s = secret({ auth: `ann:${SHA('pw')}\nbad line\n` });
    const out = table.build(
      new Map([['auth-file:default/users', [use('default/a'), use('default/b')]]]),
      () => s,
      diagnostics,
    );
    assert.ok(out.get('auth-file:default/users')?.ok);
    assert.equal(diagnostics.length, 2);
    assert.match(diagnostics[0]?.message ?? '', /entries left out.*line 2: expected "user:hash"/);
    const missing: Diagnostic[] = [];
    table.build(new Map([['auth-file:default/users', [use('default/a')]]]), () => undefined, missing);
    assert.match(
      missing[0]?.message ?? '',
      /cannot be used for Basic authentication: Secret not found; its routes answer 503/,
    );
  });

  test('an unchanged Secret object is not parsed again', () => {
    const table = new AuthSecretTable();
    const s = secret({ auth: `ann:${SHA('pw')}\n` });
    const uses = new Map([['auth-file:default/users', [use('default/a')]]]);
    const first = table.build(uses, () => s, []).get('auth-file:default/users');
    const second = table.build(uses, () => s, []).get('auth-file:default/users');
    assert.equal(first, second);
  });
});

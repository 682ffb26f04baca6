import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { describe, test } from 'node:test';
import type { Secret } from '../../../src/model/objects.js';
import type { TlsBinding } from '../../../src/model/types.js';
import { sameTable, TlsTableBuilder } from '../../../src/tls/table.js';
import { makeCertificate, tlsSecret } from '../../support/certs.js';

const a = makeCertificate('a.test', { keyType: 'ecdsa' });
const b = makeCertificate('b.test', { keyType: 'ecdsa' });

function binding(secretName: string, ingress = 'default/web'): TlsBinding {
  return { namespace: 'default', secretName, ingress, field: 'spec.tls[0].secretName' };
}

describe('TlsTableBuilder', () => {
  test('good Secrets serve their hosts; a bad or missing one is reported and spares the others', () => {
    const secrets = new Map<string, Secret>([
      ['a', tlsSecret('a', a)],
      ['bad', tlsSecret('bad', { cert: a.cert, key: b.key })],
    ]);
    const result = new TlsTableBuilder().build(
      new Map([
        ['a.test', binding('a')],
        ['bad.test', binding('bad')],
        ['gone.test', binding('gone', 'default/other')],
      ]),
      (_ns, name) => secrets.get(name),
    );
    assert.deepEqual([...result.table.hosts.keys()], ['a.test']);
    const invalid = result.diagnostics.filter((d) => d.code === 'PORTICO_WARN_TLS_SECRET_INVALID');
    assert.deepEqual(
      invalid.map((d) => [d.object, d.field, d.message]),
      [
        [
          'Ingress default/web',
          'spec.tls[0].secretName',
          'Secret default/bad cannot be used: tls.key does not match the certificate in tls.crt; "bad.test" gets the default certificate',
        ],
        [
          'Ingress default/other',
          'spec.tls[0].secretName',
          'Secret default/gone cannot be used: Secret not found; "gone.test" gets the default certificate',
        ],
      ],
    );
  });

  test('the Secrets served, default certificate included, are listed with their notAfter; failed ones are not', () => {
    const secrets = new Map<string, Secret>([
      ['a', tlsSecret('a', a)],
      ['b', tlsSecret('b', b)],
      ['bad', tlsSecret('bad', { cert: a.cert, key: b.key })],
    ]);
    const result = new TlsTableBuilder().build(
      new Map([
        ['a.test', binding('a')],
        ['www.a.test', binding('a')],
        ['bad.test', binding('bad')],
      ]),
      (_ns, name) => secrets.get(name),
      { namespace: 'default', name: 'b' },
    );
    assert.deepEqual(
      [...result.certificates.entries()],
      [
        [
          'default/a',
          { namespace: 'default', name: 'a', notAfter: Date.parse(new X509Certificate(a.cert).validTo) },
        ],
        [
          'default/b',
          { namespace: 'default', name: 'b', notAfter: Date.parse(new X509Certificate(b.cert).validTo) },
        ],
      ],
    );
  });

  test('a SAN mismatch is served with a warning', () => {
    const result = new TlsTableBuilder().build(new Map([['other.test', binding('a')]]), () =>
      tlsSecret('a', a),
    );
    assert.equal(result.table.hosts.size, 1);
    assert.deepEqual(
      result.diagnostics.map((d) => d.code),
      ['PORTICO_WARN_TLS_CERTIFICATE'],
    );
  });

  test('an unchanged Secret object is not checked again; a changed one is', () => {
    const builder = new TlsTableBuilder();
    const secret = tlsSecret('a', a);
    const bindings = new Map([['a.test', binding('a')]]);
    const first = builder.build(bindings, () => secret);
    const second = builder.build(bindings, () => secret);
    assert.equal(
      second.table.hosts.get('a.test'),
      first.table.hosts.get('a.test'),
      'same pair object: cache hit',
    );
    assert.ok(sameTable(first.table, second.table));
    const rotated = builder.build(bindings, () => tlsSecret('a', b));
    assert.ok(!sameTable(second.table, rotated.table));
  });

  test('--default-ssl-certificate: used when valid, a problem otherwise', () => {
    const builder = new TlsTableBuilder();
    const ok = builder.build(undefined, () => tlsSecret('d', a), { namespace: 'ns', name: 'd' });
    assert.ok(ok.table.defaultCertificate !== undefined);
    const missing = builder.build(undefined, () => undefined, { namespace: 'ns', name: 'd' });
    assert.equal(missing.table.defaultCertificate, undefined);
    assert.equal(missing.defaultProblem, 'Secret ns/d cannot be used: Secret not found');
  });
});

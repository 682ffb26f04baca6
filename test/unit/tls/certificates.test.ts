import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { describe, test } from 'node:test';
import { checkCertificate, checkPair } from '../../../src/tls/certificates.js';
import {
  DEFAULT_CERTIFICATE_CN,
  generateDefaultCertificate,
  generateRsaCertificate,
} from '../../../src/tls/default-certificate.js';
import { makeCertificate, tlsSecret } from '../../support/certs.js';

const rsa = makeCertificate('a.example.com');
const ecdsa = makeCertificate('b.example.com', { keyType: 'ecdsa' });
const ed25519 = makeCertificate('c.example.com', { keyType: 'ed25519' });
const wildcard = makeCertificate('*.example.com', { keyType: 'ecdsa' });
const YEAR = 365 * 24 * 3_600_000;

describe('checkCertificate', () => {
  const rows: {
    name: string;
    secret: ReturnType<typeof tlsSecret>;
    hosts: string[];
    now?: number;
    ok: boolean;
    /** Substring of the reason (failures) or of the single warning (successes); '' = no warning. */
    says: string;
  }[] = [
    { name: 'RSA, host covered', secret: tlsSecret('s', rsa), hosts: ['a.example.com'], ok: true, says: '' },
    { name: 'ECDSA P-256', secret: tlsSecret('s', ecdsa), hosts: ['b.example.com'], ok: true, says: '' },
    { name: 'Ed25519', secret: tlsSecret('s', ed25519), hosts: ['c.example.com'], ok: true, says: '' },
    {
      name: 'a wildcard certificate covers a precise host and a wildcard host',
      secret: tlsSecret('s', wildcard),
      hosts: ['x.example.com', '*.example.com'],
      ok: true,
      says: '',
    },
    {
      name: 'a precise certificate does not cover a wildcard host (served, warned)',
      secret: tlsSecret('s', rsa),
      hosts: ['*.example.com'],
      ok: true,
      says: 'does not cover "*.example.com"',
    },
    {
      name: 'SAN mismatch is served and warned about',
      secret: tlsSecret('s', rsa),
      hosts: ['other.example.org'],
      ok: true,
      says: 'does not cover "other.example.org"',
    },
    {
      name: 'an expired certificate is served and warned about',
      secret: tlsSecret('s', rsa),
      hosts: ['a.example.com'],
      now: Date.now() + YEAR,
      ok: true,
      says: 'expired',
    },
    {
      name: 'garbage PEM fails',
      secret: tlsSecret('s', {
        cert: '-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n',
        key: rsa.key,
      }),
      hosts: ['a.example.com'],
      ok: false,
      says: 'tls.crt is not a PEM certificate',
    },
    {
      name: 'a garbage key fails',
      secret: tlsSecret('s', { cert: rsa.cert, key: 'not a key' }),
      hosts: ['a.example.com'],
      ok: false,
      says: 'tls.key is not a PEM private key',
    },
    {
      name: 'a key of another certificate fails',
      secret: tlsSecret('s', { cert: rsa.cert, key: ecdsa.key }),
      hosts: ['a.example.com'],
      ok: false,
      says: 'does not match',
    },
    {
      name: 'a missing tls.key fails',
      secret: {
        kind: 'Secret',
        metadata: { name: 's' },
        data: { 'tls.crt': Buffer.from(rsa.cert).toString('base64') },
      },
      hosts: ['a.example.com'],
      ok: false,
      says: 'tls.key is missing',
    },
  ];
  for (const row of rows) {
    test(row.name, () => {
      const result = checkCertificate(row.secret, row.hosts, row.now);
      assert.equal(result.ok, row.ok, JSON.stringify(result.ok ? result.warnings : result.reason));
      if (result.ok) {
        if (row.says === '') assert.deepEqual(result.warnings, []);
        else {
          assert.equal(result.warnings.length, 1, JSON.stringify(result.warnings));
          assert.match(result.warnings[0] ?? '', new RegExp(row.says.replace(/[.*"]/g, '\\$&')));
        }
      } else assert.ok(result.reason.includes(row.says), result.reason);
    });
  }

  test('a chain in tls.crt is accepted (leaf first)', () => {
    const chain = `${rsa.cert}${ecdsa.cert}`;
    const result = checkCertificate(tlsSecret('s', { cert: chain, key: rsa.key }), ['a.example.com']);
    assert.equal(result.ok, true);
  });

  test('stringData is read when data is absent; the fingerprint follows the content', () => {
    const a = checkCertificate(
      { kind: 'Secret', metadata: { name: 's' }, stringData: { 'tls.crt': rsa.cert, 'tls.key': rsa.key } },
      [],
    );
    const b = checkCertificate(tlsSecret('s', rsa), []);
    const c = checkCertificate(tlsSecret('s', ecdsa), []);
    assert.ok(a.ok && b.ok && c.ok);
    assert.equal(a.pair.fingerprint, b.pair.fingerprint);
    assert.notEqual(a.pair.fingerprint, c.pair.fingerprint);
  });
});

describe('generateDefaultCertificate', () => {
  test('is self-signed, named Portico Default Certificate, valid for a year, and passes the checks', () => {
    const pair = generateDefaultCertificate();
    const x509 = new X509Certificate(pair.cert);
    assert.equal(x509.subject, `CN=${DEFAULT_CERTIFICATE_CN}`);
    assert.equal(x509.issuer, `CN=${DEFAULT_CERTIFICATE_CN}`);
    assert.ok(x509.verify(x509.publicKey), 'signature verifies with its own key');
    const days = (Date.parse(x509.validTo) - Date.now()) / 86_400_000;
    assert.ok(days > 364 && days < 366, String(days));
    assert.equal(checkPair(pair.cert, pair.key).ok, true);
  });

  test('the RSA variant is RSA-2048, signed sha256WithRSA, and passes the checks', () => {
    const pair = generateRsaCertificate();
    const x509 = new X509Certificate(pair.cert);
    assert.equal(x509.subject, `CN=${DEFAULT_CERTIFICATE_CN}`);
    assert.equal(x509.publicKey.asymmetricKeyType, 'rsa');
    assert.equal(x509.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
    assert.ok(x509.verify(x509.publicKey));
    assert.equal(x509.subjectAltName, 'DNS:ingress.local');
    assert.equal(checkPair(pair.cert, pair.key).ok, true);
  });

  test('each call makes a new key', () => {
    assert.notEqual(generateDefaultCertificate().key, generateDefaultCertificate().key);
  });
});

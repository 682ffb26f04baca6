import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SniContexts } from '../../../src/proxy/tls.js';
import { type CertificatePair, checkCertificate } from '../../../src/tls/certificates.js';
import { generateDefaultCertificate } from '../../../src/tls/default-certificate.js';
import { makeCertificate, tlsSecret } from '../../support/certs.js';

function pairOf(cn: string): CertificatePair {
  const check = checkCertificate(tlsSecret('s', makeCertificate(cn, { keyType: 'ecdsa' })), []);
  if (!check.ok) throw new Error(check.reason);
  return check.pair;
}

describe('SniContexts', () => {
  const a = pairOf('a.test');
  const w = pairOf('*.w.test');
  const generated = generateDefaultCertificate();

  test('lookup: precise name, then a wildcard one label up, else the default', () => {
    const sni = new SniContexts(generated);
    sni.publish({
      hosts: new Map([
        ['a.test', a],
        ['*.w.test', w],
        ['x.w.test', a],
      ]),
    });
    const fallback = sni.lookup('unknown.test');
    const rows: [string, 'a' | 'w' | 'default'][] = [
      ['a.test', 'a'],
      ['A.TEST', 'a'],
      ['x.w.test', 'a'],
      ['y.w.test', 'w'],
      ['w.test', 'default'],
      ['z.y.w.test', 'default'],
      ['localhost', 'default'],
    ];
    for (const [name, want] of rows) {
      const got = sni.lookup(name);
      if (want === 'default') assert.equal(got, fallback, name);
      else assert.equal(got, sni.lookup(want === 'a' ? 'a.test' : 'y.w.test'), name);
      if (want !== 'default') assert.notEqual(got, fallback, name);
    }
  });

  test('contexts are cached per certificate content, across publishes', () => {
    const sni = new SniContexts(generated);
    sni.publish({ hosts: new Map([['a.test', a]]) });
    const first = sni.lookup('a.test');
    sni.publish({
      hosts: new Map([
        ['a.test', a],
        ['b.test', a],
      ]),
    });
    assert.equal(sni.size, 1, 'one context for one certificate');
    assert.equal(sni.lookup('a.test'), first, 'unchanged certificate keeps its context');
    assert.equal(sni.lookup('b.test'), first);
    sni.publish({ hosts: new Map([['a.test', w]]) });
    assert.notEqual(sni.lookup('a.test'), first, 'a rotated certificate gets a new context');
    assert.equal(sni.size, 1, 'the old context is dropped');
  });

  test('a configured default certificate replaces the generated one and reports the change once', () => {
    const sni = new SniContexts(generated);
    assert.equal(sni.publish({ hosts: new Map(), defaultCertificate: a }), true);
    assert.equal(sni.defaultPair, a);
    assert.equal(sni.publish({ hosts: new Map(), defaultCertificate: a }), false);
    assert.equal(sni.publish({ hosts: new Map() }), true);
    assert.equal(sni.defaultPair, generated);
  });
});

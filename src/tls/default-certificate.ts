/**
 * `default-certificate` makes the certificate served when nothing better fits (unknown SNI name,
 * no SNI, a broken Secret) and no `--default-ssl-certificate` is given: self-signed, like
 * ingress-nginx's "Kubernetes Ingress Controller Fake Certificate", so clients see a clear name.
 */
import { generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';
import forge from 'node-forge';
import { type CertificatePair, fingerprintOf } from './certificates.js';

/** `DEFAULT_CERTIFICATE_CN` is the subject common name of the generated certificate. */
export const DEFAULT_CERTIFICATE_CN = 'Portico Default Certificate';

const ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';
const SHA256_WITH_RSA = '1.2.840.113549.1.1.11';

/** `DefaultKeyType` is the key type of a generated certificate. */
export type DefaultKeyType = 'rsa' | 'ecdsa';
const { asn1 } = forge;
/** Exported by node-forge's x509 module but missing from @types/node-forge. */
const pkiInternals = forge.pki as unknown as {
  getTBSCertificate(cert: forge.pki.Certificate): forge.asn1.Asn1;
};

/**
 * `generateDefaultCertificate` builds a fresh self-signed certificate valid for one year, with an
 * ECDSA P-256 key: under a millisecond, where RSA-2048 key generation alone took 77–445 ms on the
 * reference machine (bench/tls-default-cert.ts), over the 100 ms start-up budget. The listener
 * copes with an ECDSA default beside RSA SNI certificates (src/proxy/tls.ts `SNI_SIGALGS`).
 *
 * node-forge builds the X.509 fields (subject, validity, extensions: what `node:crypto` cannot do)
 * and `node:crypto` signs: node-forge signs with RSA only. The public key and signature are
 * spliced into forge's ASN.1.
 */
export function generateDefaultCertificate(now = new Date()): CertificatePair {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return buildCertificate(publicKey, privateKey, 'ecdsa', now);
}

/** `generateRsaCertificate` is the RSA-2048 variant, kept for the benchmark's comparison. */
export function generateRsaCertificate(now = new Date()): CertificatePair {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return buildCertificate(publicKey, privateKey, 'rsa', now);
}

function buildCertificate(
  publicKey: KeyObject,
  privateKey: KeyObject,
  type: DefaultKeyType,
  now: Date,
): CertificatePair {
  const cert = forge.pki.createCertificate();
  // A stand-in so forge can serialise the TBSCertificate; the real key replaces it below.
  cert.publicKey = forge.pki.setRsaPublicKey(new forge.jsbn.BigInteger('3'), new forge.jsbn.BigInteger('3'));
  // A positive 16-byte serial: the top bit cleared so DER does not read it as negative.
  const serial = randomBytes(16);
  serial[0] = (serial[0] ?? 0) & 0x7f;
  cert.serialNumber = serial.toString('hex');
  cert.validity.notBefore = new Date(now.getTime() - 60_000);
  cert.validity.notAfter = new Date(now.getTime() + 365 * 24 * 3_600_000);
  const subject = [{ name: 'commonName', value: DEFAULT_CERTIFICATE_CN }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: type === 'rsa' },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: [{ type: 2, value: 'ingress.local' }] },
  ]);
  // forge writes this OID; the identifier is replaced below anyway.
  cert.siginfo.algorithmOid = type === 'rsa' ? SHA256_WITH_RSA : ECDSA_WITH_SHA256;
  const tbs = pkiInternals.getTBSCertificate(cert);
  if (!Array.isArray(tbs.value) || tbs.value.length < 7) throw new Error('unexpected TBSCertificate layout');
  // TBSCertificate: version, serial, signature algorithm, issuer, validity, subject, SPKI, extensions.
  tbs.value[2] = algorithmIdentifier(type);
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  tbs.value[6] = asn1.fromDer(spki.toString('binary'));
  const tbsDer = asn1.toDer(tbs).getBytes();
  const signature = sign('sha256', Buffer.from(tbsDer, 'binary'), privateKey);
  const certificate = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    tbs,
    algorithmIdentifier(type),
    // BIT STRING: a leading 0 says no unused bits.
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BITSTRING, false, `\u0000${signature.toString('binary')}`),
  ]);
  const certPem = forge.pem.encode({ type: 'CERTIFICATE', body: asn1.toDer(certificate).getBytes() });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  return { cert: certPem, key: keyPem, fingerprint: fingerprintOf(certPem, keyPem) };
}

/** ecdsa-with-SHA256 has no parameters at all (RFC 5758 §3.2); sha256WithRSAEncryption has NULL (RFC 4055). */
function algorithmIdentifier(type: DefaultKeyType): forge.asn1.Asn1 {
  const oid = type === 'rsa' ? SHA256_WITH_RSA : ECDSA_WITH_SHA256;
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(oid).getBytes()),
    ...(type === 'rsa' ? [asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, '')] : []),
  ]);
}

/**
 * `default-certificate` makes the certificate served when nothing better fits (unknown SNI name,
 * no SNI, a broken Secret) and no `--default-ssl-certificate` is given: self-signed, like
 * ingress-nginx's "Kubernetes Ingress Controller Fake Certificate", so clients see a clear name.
 */
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import forge from 'node-forge';
import { type CertificatePair, fingerprintOf } from './certificates.js';

/** `DEFAULT_CERTIFICATE_CN` is the subject common name of the generated certificate. */
export const DEFAULT_CERTIFICATE_CN = 'Portico Default Certificate';

const ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';
const { asn1 } = forge;
/** Exported by node-forge's x509 module but missing from @types/node-forge. */
const pkiInternals = forge.pki as unknown as {
  getTBSCertificate(cert: forge.pki.Certificate): forge.asn1.Asn1;
};

/**
 * `generateDefaultCertificate` builds a fresh self-signed certificate valid for one year.
 *
 * Why ECDSA P-256 signed by `node:crypto` rather than RSA signed by node-forge: on the reference
 * machine RSA-2048 key generation alone took 77–295 ms and node-forge's JavaScript RSA signature
 * another 25–60 ms, far over the 100 ms start-up budget; a P-256 key and signature take well under
 * a millisecond natively. node-forge only signs with RSA, so it builds the X.509 fields (subject,
 * validity, extensions: what `node:crypto` cannot do) and the EC public key and signature are
 * spliced into its ASN.1. bench/tls-default-cert.ts records the cost.
 */
export function generateDefaultCertificate(now = new Date()): CertificatePair {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const cert = forge.pki.createCertificate();
  // A stand-in so forge can serialise the TBSCertificate; the real EC key replaces it below.
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
    { name: 'keyUsage', digitalSignature: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: [{ type: 2, value: 'ingress.local' }] },
  ]);
  // forge writes this OID (with a NULL parameter); the identifier is replaced below anyway.
  cert.siginfo.algorithmOid = ECDSA_WITH_SHA256;
  const tbs = pkiInternals.getTBSCertificate(cert);
  if (!Array.isArray(tbs.value) || tbs.value.length < 7) throw new Error('unexpected TBSCertificate layout');
  // TBSCertificate: version, serial, signature algorithm, issuer, validity, subject, SPKI, extensions.
  tbs.value[2] = algorithmIdentifier();
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  tbs.value[6] = asn1.fromDer(spki.toString('binary'));
  const tbsDer = asn1.toDer(tbs).getBytes();
  const signature = sign('sha256', Buffer.from(tbsDer, 'binary'), privateKey);
  const certificate = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    tbs,
    algorithmIdentifier(),
    // BIT STRING: a leading 0 says no unused bits.
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BITSTRING, false, `\u0000${signature.toString('binary')}`),
  ]);
  const certPem = forge.pem.encode({ type: 'CERTIFICATE', body: asn1.toDer(certificate).getBytes() });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  return { cert: certPem, key: keyPem, fingerprint: fingerprintOf(certPem, keyPem) };
}

/** ecdsa-with-SHA256 with no parameters at all (RFC 5758 §3.2: not even NULL, unlike RSA). */
function algorithmIdentifier(): forge.asn1.Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(ECDSA_WITH_SHA256).getBytes()),
  ]);
}

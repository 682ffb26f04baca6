/**
 * `certificates` checks a `kubernetes.io/tls` Secret before its certificate is served. Hard
 * failures (missing keys, PEM that does not parse, a key that does not match) keep the Secret out
 * of service; soft ones (expired, SANs that do not cover the host) are served and warned about, as
 * ingress-nginx does: a wrong certificate beats a connection refused for the operator to debug.
 */
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import type { Secret } from '../model/objects.js';
import type { AuthSecretCheck } from '../policy/auth/auth-secrets.js';
import type { CaBundleCheck } from './ca-bundles.js';

/** `CertificatePair` is what a secure context is built from: PEM text, the chain allowed in `cert`. */
export interface CertificatePair {
  readonly cert: string;
  readonly key: string;
  /** sha256 of cert and key: identifies the content, so a context is built once per version. */
  readonly fingerprint: string;
}

/** `TlsTable` is what the controller publishes to the data plane: checked certificates by SNI name. */
export interface TlsTable {
  /** Lowercased host or `*.example.com` → certificate. Hosts whose Secret failed are absent. */
  readonly hosts: ReadonlyMap<string, CertificatePair>;
  /** `--default-ssl-certificate`, when given and valid; otherwise the generated one is used. */
  readonly defaultCertificate?: CertificatePair;
  /**
   * CA bundles by Secret (`"namespace/name"`), for every CA Secret the model references
   * (`auth-tls-secret`, `proxy-ssl-secret`); a failed check is kept so users of it fail closed.
   */
  readonly caBundles?: ReadonlyMap<string, CaBundleCheck>;
  /**
   * Basic-auth users by `authSecretKey` (`"auth-file:namespace/name"`), for every auth Secret the
   * model references; a failed check is kept so its routes fail closed.
   */
  readonly authSecrets?: ReadonlyMap<string, AuthSecretCheck>;
}

/** `CertificateCheck` is the verdict on one Secret for the hosts it is meant to serve. */
export type CertificateCheck =
  | {
      readonly ok: true;
      readonly pair: CertificatePair;
      readonly warnings: readonly string[];
      /** When the certificate (first of `tls.crt`) expires, in ms since the epoch (NaN if unreadable). */
      readonly notAfter: number;
    }
  | { readonly ok: false; readonly reason: string };

/** `secretValue` reads one key of a Secret: `data` is base64 (as the API serves it), `stringData` plain. */
export function secretValue(secret: Secret, key: string): string | undefined {
  const data = secret.data?.[key];
  if (typeof data === 'string') return Buffer.from(data, 'base64').toString('utf8');
  const plain = secret.stringData?.[key];
  return typeof plain === 'string' ? plain : undefined;
}

/** `fingerprintOf` hashes a certificate/key pair (a NUL separates them so no two pairs collide). */
export function fingerprintOf(cert: string, key: string): string {
  return createHash('sha256').update(cert).update('\u0000').update(key).digest('hex');
}

/**
 * `checkPair` runs the hard checks on PEM text: the certificate (first of the chain) and the key
 * parse, the key matches the certificate, and `tls.createSecureContext` accepts both — the last
 * word, since it is what the listener will call.
 */
export function checkPair(
  cert: string,
  key: string,
): { ok: true; x509: X509Certificate } | { ok: false; reason: string } {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (err) {
    return { ok: false, reason: `tls.crt is not a PEM certificate (${messageOf(err)})` };
  }
  let privateKey: ReturnType<typeof createPrivateKey>;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    return { ok: false, reason: `tls.key is not a PEM private key (${messageOf(err)})` };
  }
  if (!x509.checkPrivateKey(privateKey)) {
    return { ok: false, reason: 'tls.key does not match the certificate in tls.crt' };
  }
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    return { ok: false, reason: `the certificate cannot be used for TLS (${messageOf(err)})` };
  }
  return { ok: true, x509 };
}

/**
 * `checkCertificate` checks a Secret for `hosts` (lowercased; `*.example.com` allowed). `now` is
 * injectable for tests of expiry.
 */
export function checkCertificate(
  secret: Secret,
  hosts: readonly string[],
  now = Date.now(),
): CertificateCheck {
  const cert = secretValue(secret, 'tls.crt');
  const key = secretValue(secret, 'tls.key');
  if (cert === undefined || cert.trim() === '') return { ok: false, reason: 'tls.crt is missing or empty' };
  if (key === undefined || key.trim() === '') return { ok: false, reason: 'tls.key is missing or empty' };
  const checked = checkPair(cert, key);
  if (!checked.ok) return checked;
  const x509 = checked.x509;
  const warnings: string[] = [];
  const notAfter = Date.parse(x509.validTo);
  if (Number.isFinite(notAfter) && notAfter < now)
    warnings.push(`the certificate expired on ${x509.validTo}`);
  const uncovered = hosts.filter((host) => !covers(x509, host));
  if (uncovered.length > 0) {
    const names = x509.subjectAltName ?? `subject ${x509.subject.replaceAll('\n', ', ')}`;
    warnings.push(`the certificate (${names}) does not cover ${uncovered.map((h) => `"${h}"`).join(', ')}`);
  }
  return { ok: true, pair: { cert, key, fingerprint: fingerprintOf(cert, key) }, warnings, notAfter };
}

/**
 * `covers` asks whether a certificate is valid for a host. For a wildcard host the question is
 * whether any name it matches is covered, so a stand-in label is checked: a `*.example.com`
 * certificate covers it, a certificate for `a.example.com` alone does not.
 */
function covers(x509: X509Certificate, host: string): boolean {
  const name = host.startsWith('*.') ? `portico-sni-check${host.slice(1)}` : host;
  return x509.checkHost(name) !== undefined;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

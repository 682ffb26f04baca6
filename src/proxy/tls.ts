/**
 * `tls` holds the HTTPS listener's certificates: the table the controller publishes (host →
 * checked certificate), a SecureContext per certificate content (built once, reused by every
 * handshake and every host sharing it), and the SNI lookup.
 */
import { createSecureContext, type SecureContext, type SecureContextOptions } from 'node:tls';
import type { CertificatePair, TlsTable } from '../tls/certificates.js';

export type { TlsTable } from '../tls/certificates.js';

/** `MIN_TLS_VERSION` is the oldest protocol served: TLS 1.0 and 1.1 are deprecated (RFC 8996). */
export const MIN_TLS_VERSION = 'TLSv1.2';

/**
 * `SNI_SIGALGS` is the listener's signature-algorithm preference, applied with `honorCipherOrder`.
 * Node switches to an SNI certificate with `SSL_use_certificate`, which fills only the slot of
 * that key's type: the listener's own certificate (the generated ECDSA default) stays loaded
 * beside it, and with the usual ECDSA-first order it would win every handshake whose SNI
 * certificate is RSA or Ed25519. Putting RSA, then EdDSA, before ECDSA makes whichever certificate
 * the SNI lookup chose the one presented: an ECDSA SNI certificate replaces the default in its slot.
 * Checked by test/e2e/tls (RSA, ECDSA and Ed25519 certificates, TLS 1.2 and 1.3).
 */
export const SNI_SIGALGS = [
  'rsa_pss_rsae_sha256',
  'rsa_pss_rsae_sha384',
  'rsa_pss_rsae_sha512',
  'rsa_pkcs1_sha256',
  'rsa_pkcs1_sha384',
  'rsa_pkcs1_sha512',
  'ed25519',
  'ed448',
  'ecdsa_secp256r1_sha256',
  'ecdsa_secp384r1_sha384',
  'ecdsa_secp521r1_sha512',
].join(':');

/**
 * `contextOptions` are the options every context gets (the listener's own included): the
 * certificate and the handshake settings (`handshakeOptions` in tls-settings.ts).
 */
export function contextOptions(
  pair: CertificatePair,
  handshake: SecureContextOptions = {},
): SecureContextOptions {
  return { minVersion: MIN_TLS_VERSION, ...handshake, cert: pair.cert, key: pair.key };
}

/**
 * `SniContexts` answers the listener's SNICallback. `publish` swaps the whole lookup table at
 * once, so a handshake sees either the old or the new table, and a rotated Secret is used by the
 * next handshake; connections already open keep the context they negotiated.
 */
export class SniContexts {
  readonly #generated: CertificatePair;
  /** Fingerprint → context: content-addressed, so an unchanged Secret never rebuilds its context. */
  #byFingerprint = new Map<string, SecureContext>();
  #hosts: ReadonlyMap<string, SecureContext> = new Map();
  #default: { readonly pair: CertificatePair; readonly context: SecureContext };
  #handshake: SecureContextOptions;
  #table: TlsTable | undefined;

  constructor(generated: CertificatePair, handshake: SecureContextOptions = {}) {
    this.#generated = generated;
    this.#handshake = handshake;
    this.#default = { pair: generated, context: createSecureContext(contextOptions(generated, handshake)) };
  }

  /** `handshake` are the handshake settings every context is built with. */
  get handshake(): SecureContextOptions {
    return this.#handshake;
  }

  /**
   * `configure` rebuilds every context with new handshake settings (ssl-protocols, ssl-ciphers,
   * tickets…): the cache is per certificate AND settings, so nothing built with the old settings
   * is reused. New handshakes use them at once; open connections keep theirs.
   */
  configure(handshake: SecureContextOptions): void {
    this.#handshake = handshake;
    this.#byFingerprint = new Map();
    this.#default = {
      pair: this.#default.pair,
      context: createSecureContext(contextOptions(this.#default.pair, handshake)),
    };
    this.#byFingerprint.set(this.#default.pair.fingerprint, this.#default.context);
    if (this.#table !== undefined) this.publish(this.#table);
    else this.#byFingerprint = new Map();
  }

  /** `defaultPair` is the certificate for unknown names and clients without SNI. */
  get defaultPair(): CertificatePair {
    return this.#default.pair;
  }

  /** `size` is the number of cached contexts (tests: one per distinct certificate). */
  get size(): number {
    return this.#byFingerprint.size;
  }

  /**
   * `publish` installs a new table. Returns true when the default certificate changed, so the
   * caller can give the listener its new no-SNI context.
   */
  publish(table: TlsTable): boolean {
    this.#table = table;
    const next = new Map<string, SecureContext>();
    const hosts = new Map<string, SecureContext>();
    const contextOf = (pair: CertificatePair): SecureContext => {
      let context = next.get(pair.fingerprint) ?? this.#byFingerprint.get(pair.fingerprint);
      // The pair was checked by createSecureContext already (checkPair), so this does not throw.
      context ??= createSecureContext(contextOptions(pair, this.#handshake));
      next.set(pair.fingerprint, context);
      return context;
    };
    for (const [host, pair] of table.hosts) hosts.set(host, contextOf(pair));
    const pair = table.defaultCertificate ?? this.#generated;
    const changed = pair.fingerprint !== this.#default.pair.fingerprint;
    if (changed) this.#default = { pair, context: contextOf(pair) };
    else if (table.defaultCertificate !== undefined) next.set(pair.fingerprint, this.#default.context);
    this.#byFingerprint = next;
    this.#hosts = hosts;
    return changed;
  }

  /** `lookup` finds the context for an SNI name: the precise name, then a wildcard one label up. */
  lookup(servername: string): SecureContext {
    const name = servername.toLowerCase();
    const exact = this.#hosts.get(name);
    if (exact !== undefined) return exact;
    const dot = name.indexOf('.');
    // A wildcard covers exactly one label, as in certificates (RFC 6125 §6.4.3) and ingress-nginx.
    if (dot > 0) {
      const wildcard = this.#hosts.get(`*${name.slice(dot)}`);
      if (wildcard !== undefined) return wildcard;
    }
    return this.#default.context;
  }

  /** `sniCallback` is the listener's `SNICallback`. */
  readonly sniCallback = (
    servername: string,
    done: (err: Error | null, ctx?: SecureContext) => void,
  ): void => {
    done(null, this.lookup(servername));
  };
}

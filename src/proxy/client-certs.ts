/**
 * `client-certs` is client-certificate authentication (`auth-tls-*`) on the request path. Node
 * asks for client certificates per listener, not per SNI context, so the HTTPS listener requests
 * an optional certificate from everyone once some host uses it (`requestCert`, toggled live by the
 * data plane) and never rejects a handshake (`rejectUnauthorized: false`); each request to a host
 * with a policy is then checked here against that host's CA bundle, as nginx does per server:
 *
 * - TLS name ≠ Host on such a host → 421 (nginx's rule: a connection set up for one name cannot
 *   carry requests for a host that checks client certificates);
 * - unusable policy or CA bundle → 503 (fails closed);
 * - `on`: no certificate → 400, bad one → 400; `optional`: none → proxied as `NONE`, bad → 400;
 *   `optional_no_ca`: an unknown issuer is passed as `FAILED:<reason>`, other errors → 400 (as
 *   nginx's `ngx_ssl_verify_error_optional`); `off`: not checked.
 *
 * The verdict goes upstream in the headers ingress-nginx sets (`ssl-client-verify`,
 * `ssl-client-subject-dn`, `ssl-client-issuer-dn`, and `ssl-client-cert` when asked); clients'
 * own copies are always removed by `forwarded-headers`.
 */
import type { X509Certificate } from 'node:crypto';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { normalizeHost } from '../compile/normalize.js';
import type { ClientAuthPolicy, RoutingModel } from '../model/types.js';
import type { CaBundleCheck } from '../tls/ca-bundles.js';
import type { ProxyErrorCode } from './errors.js';
import { statusLine } from './errors.js';

/** `CLIENT_AUTH_EKU` is the clientAuth extended key usage (RFC 5280 §4.2.1.12, id-kp-clientAuth). */
export const CLIENT_AUTH_EKU = '1.3.6.1.5.5.7.3.2';

/**
 * `ChainVerdict` is the outcome of `verifyClientChain`. Reasons are OpenSSL's own wording
 * (`X509_verify_cert_error_string`), the text nginx puts after `FAILED:` in `$ssl_client_verify`.
 * `untrusted` marks the failures nginx's `optional_no_ca` tolerates: the issuer is unknown.
 */
export type ChainVerdict =
  | { readonly ok: true; readonly notAfter: number }
  | { readonly ok: false; readonly reason: string; readonly untrusted: boolean };

const fail = (reason: string, untrusted = false): ChainVerdict => ({ ok: false, reason, untrusted });

/** Dates as `X509Certificate.validFrom`/`validTo` print them (`Nov 25 05:07:42 2026 GMT`). */
function timeOf(text: string): number {
  return Date.parse(text);
}

function checkDates(cert: X509Certificate, now: number): ChainVerdict | undefined {
  if (now < timeOf(cert.validFrom)) return fail('certificate is not yet valid');
  if (now > timeOf(cert.validTo)) return fail('certificate has expired');
  return undefined;
}

/** An EKU extension, when present, must allow client authentication (OpenSSL purpose `sslclient`). */
function allowsClientAuth(cert: X509Certificate): boolean {
  const eku = cert.keyUsage as readonly string[] | undefined;
  return eku === undefined || eku.includes(CLIENT_AUTH_EKU);
}

function signedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  return cert.checkIssued(issuer) && signatureValid(cert, issuer);
}

function signatureValid(cert: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return cert.verify(issuer.publicKey);
  } catch {
    // A key type that cannot have made this signature.
    return false;
  }
}

/**
 * `verifyClientChain` checks a client certificate as OpenSSL does for purpose `sslclient`, with a
 * CA bundle as trust anchors: from the leaf (`presented[0]`), through the intermediates the client
 * sent (the rest of `presented`, any order), to a certificate of `anchors`. Every link must carry a valid
 * signature and dates; intermediates must be CAs; an EKU, where present, must allow clientAuth.
 * `depth` bounds the issuers above the leaf, anchor included (nginx `ssl_verify_depth`: 1 means
 * the leaf is issued directly by a CA of the bundle). Any bundle certificate is an anchor, also an
 * intermediate CA (OpenSSL's partial-chain mode). `notAfter` is when a success stops holding.
 */
export function verifyClientChain(
  presented: readonly X509Certificate[],
  anchors: readonly X509Certificate[],
  depth: number,
  now: number,
): ChainVerdict {
  const leaf = presented[0];
  if (leaf === undefined) return fail('no certificate');
  const leafDates = checkDates(leaf, now);
  if (leafDates !== undefined) return leafDates;
  if (!allowsClientAuth(leaf)) return fail('unsupported certificate purpose');
  let notAfter = timeOf(leaf.validTo);
  let current = leaf;
  for (let issuers = 1; ; issuers++) {
    const anchor = anchors.find((a) => signedBy(current, a));
    if (anchor !== undefined) {
      if (issuers > depth) return fail('certificate chain too long');
      const anchorDates = checkDates(anchor, now);
      if (anchorDates !== undefined) return anchorDates;
      return { ok: true, notAfter: Math.min(notAfter, timeOf(anchor.validTo)) };
    }
    const from = current;
    const next = presented.find((c) => c !== from && from.checkIssued(c));
    if (next === undefined) {
      if (current.checkIssued(current)) {
        return fail(
          current === leaf ? 'self-signed certificate' : 'self-signed certificate in certificate chain',
          true,
        );
      }
      return fail('unable to get local issuer certificate', true);
    }
    if (!signatureValid(current, next)) return fail('certificate signature failure');
    // `next` is an intermediate: the anchor would sit above it, one issuer more.
    if (issuers + 1 > depth) return fail('certificate chain too long');
    if (!next.ca) return fail('invalid CA certificate');
    const dates = checkDates(next, now);
    if (dates !== undefined) return dates;
    if (!allowsClientAuth(next)) return fail('unsupported certificate purpose');
    notAfter = Math.min(notAfter, timeOf(next.validTo));
    current = next;
  }
}

/**
 * `rfc2253` renders a name the way nginx's `$ssl_client_s_dn` does (OpenSSL `XN_FLAG_RFC2253`):
 * every RDN and value in reverse order, comma-separated, `+` between values of one RDN, RFC 2253 escapes, and
 * bytes outside ASCII as `\XX`. Input is `X509Certificate.subject`/`.issuer`: one RDN per line in
 * certificate order, already RFC 2253-escaped, multi-valued RDNs joined by ` + `.
 */
export function rfc2253(multiline: string): string {
  if (multiline === '') return '';
  const rdns = multiline.split('\n').reverse();
  let out = '';
  for (const [i, rdn] of rdns.entries()) {
    if (i > 0) out += ',';
    // An escaped `+` inside a value is `\+`, so ` + ` can only separate the values of one RDN;
    // OpenSSL's reversed order applies to those values too.
    out += escapeNonAscii(rdn.includes(' + ') ? rdn.split(' + ').reverse().join('+') : rdn);
  }
  return out;
}

function escapeNonAscii(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the range is the point
  if (!/[^\x00-\x7f]/.test(text)) return text;
  let out = '';
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    if (code < 0x80) {
      out += ch;
      continue;
    }
    for (const byte of Buffer.from(ch, 'utf8'))
      out += `\\${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** `escapedCertificate` is nginx's `$ssl_client_escaped_cert`: the PEM, URL-encoded. */
export function escapedCertificate(cert: X509Certificate): string {
  return encodeURIComponent(cert.toString());
}

/**
 * `wantsClientCertificates` tells whether the HTTPS listener must ask clients for certificates:
 * some host checks them (`auth-tls-verify-client` other than `off`).
 */
export function wantsClientCertificates(model: RoutingModel): boolean {
  for (const policy of model.clientAuth?.values() ?? []) if (policy.verify !== 'off') return true;
  return false;
}

/** Longest chain read from a client (verify depth is at most 16). */
const MAX_PRESENTED = 17;

/**
 * `presentedChain` is what the client sent: the leaf, then the intermediates node:tls links as
 * `issuerCertificate` (absent on a resumed session, which keeps only the leaf).
 */
function presentedChain(leaf: X509Certificate): X509Certificate[] {
  const chain = [leaf];
  let current = leaf.issuerCertificate;
  while (current !== undefined && chain.length < MAX_PRESENTED && !chain.includes(current)) {
    chain.push(current);
    current = current.issuerCertificate;
  }
  return chain;
}

/** `ClientAuthOutcome` is what a request to a host with a client-auth policy gets. */
export type ClientAuthOutcome =
  | { readonly ok: true; readonly headers: readonly string[] }
  | {
      readonly ok: false;
      readonly status: 400 | 421 | 503;
      readonly code: ProxyErrorCode;
      readonly body: string;
    };

const NONE: ClientAuthOutcome = Object.freeze({
  ok: true,
  headers: Object.freeze(['ssl-client-verify', 'NONE']),
});

function refuse(status: 400 | 421 | 503, code: ProxyErrorCode, detail: string): ClientAuthOutcome {
  return { ok: false, status, code, body: `${statusLine(status)} — ${detail}\n` };
}

interface CachedSuccess {
  readonly notAfter: number;
}

/** Successful verdicts kept across connections (see `ClientCertChecker`). */
const MAX_CACHED = 10_000;

/**
 * `ClientCertChecker` holds the CA bundles the controller published and checks requests against
 * them. Successes are cached per (leaf fingerprint, bundle, depth) until the chain's earliest
 * `notAfter`, so keep-alive requests and new connections of a known client skip the signature
 * checks. That cache also covers TLS session resumption: a resumed session still knows the leaf
 * but not the intermediates the client sent in the full handshake. Failures are not cached: the
 * same leaf may succeed on a later connection that sends its intermediates.
 */
export class ClientCertChecker {
  #bundles: ReadonlyMap<string, CaBundleCheck> = new Map();
  readonly #successes = new Map<string, CachedSuccess>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** `publish` installs the CA bundles of a new TLS table; verdicts of replaced bundles age out. */
  publish(bundles: ReadonlyMap<string, CaBundleCheck> | undefined): void {
    this.#bundles = bundles ?? new Map();
  }

  /** `cached` is the number of cached successes (tests). */
  get cached(): number {
    return this.#successes.size;
  }

  /**
   * `check` applies `policy` to one request for `host` (normalised) that arrived on `socket`.
   * `tls` is false on the plain-HTTP listener, where no certificate can have been sent.
   */
  check(socket: Socket, tls: boolean, host: string, policy: ClientAuthPolicy): ClientAuthOutcome {
    const tlsSocket = tls ? (socket as TLSSocket) : undefined;
    if (policy.verify !== 'off' && tlsSocket !== undefined) {
      const sni = tlsSocket.servername;
      if (typeof sni === 'string' && sni !== '' && normalizeHost(sni) !== host) {
        return refuse(
          421,
          'PORTICO_ERR_MISDIRECTED',
          `the TLS connection was set up for ${JSON.stringify(sni)}, not for ${JSON.stringify(host)}, which checks client certificates; open a new connection`,
        );
      }
    }
    if (policy.deny !== undefined) return refuse(503, 'PORTICO_ERR_CLIENT_AUTH_CONFIG', policy.deny);
    const key = `${policy.caSecret.namespace}/${policy.caSecret.name}`;
    const bundle = this.#bundles.get(key);
    if (bundle === undefined || !bundle.ok) {
      return refuse(
        503,
        'PORTICO_ERR_CLIENT_AUTH_CONFIG',
        `client certificates for ${JSON.stringify(host)} cannot be checked: CA Secret ${key} ${bundle === undefined ? 'is not loaded' : `cannot be used: ${bundle.reason}`}`,
      );
    }
    if (policy.verify === 'off') return NONE;
    const leaf = tlsSocket?.getPeerX509Certificate();
    if (leaf === undefined) {
      if (policy.verify === 'on') {
        return refuse(400, 'PORTICO_ERR_CLIENT_CERT', 'No required SSL certificate was sent');
      }
      return NONE;
    }
    const verdict = this.#verify(leaf, bundle.bundle.certificates, bundle.bundle.fingerprint, policy.depth);
    if (!verdict.ok && !(policy.verify === 'optional_no_ca' && verdict.untrusted)) {
      return refuse(400, 'PORTICO_ERR_CLIENT_CERT', `The SSL certificate error: ${verdict.reason}`);
    }
    const headers = [
      'ssl-client-verify',
      verdict.ok ? 'SUCCESS' : `FAILED:${verdict.reason}`,
      'ssl-client-subject-dn',
      rfc2253(leaf.subject),
      'ssl-client-issuer-dn',
      rfc2253(leaf.issuer),
    ];
    if (policy.passCertificate) headers.push('ssl-client-cert', escapedCertificate(leaf));
    return { ok: true, headers };
  }

  #verify(
    leaf: X509Certificate,
    anchors: readonly X509Certificate[],
    bundleFingerprint: string,
    depth: number,
  ): ChainVerdict {
    const now = this.#now();
    const key = `${leaf.fingerprint256}|${bundleFingerprint}|${depth}`;
    const cached = this.#successes.get(key);
    if (cached !== undefined) {
      if (now <= cached.notAfter) return { ok: true, notAfter: cached.notAfter };
      this.#successes.delete(key);
    }
    const verdict = verifyClientChain(presentedChain(leaf), anchors, depth, now);
    if (verdict.ok) {
      if (this.#successes.size >= MAX_CACHED) {
        // Map iteration is insertion order: drop the oldest entry.
        const oldest = this.#successes.keys().next();
        if (oldest.done !== true) this.#successes.delete(oldest.value);
      }
      this.#successes.set(key, { notAfter: verdict.notAfter });
    }
    return verdict;
  }
}

/**
 * `tls-settings` turns the HTTPS listener's global settings (ingress-nginx's `ssl-*` keys and
 * `use-http2`) into what node:tls takes: SecureContext options, the ALPN choice and a session cache.
 *
 * Node 20 findings these follow (checked by test/e2e/tls/tls-settings.test.ts):
 * - `ciphers` holding only TLS 1.2 names leaves the TLS 1.3 suites at OpenSSL's defaults (Node
 *   sends `TLS_…` names to SSL_CTX_set_ciphersuites and the rest to SSL_CTX_set_cipher_list).
 * - DHE suites need Diffie-Hellman parameters; `dhparam: 'auto'` lets OpenSSL pick them by key size,
 *   without it DHE-RSA suites are silently never chosen.
 * - Node's TLS server has no session cache of its own (OpenSSL's internal one is switched off):
 *   session-ID resumption happens only through the server's `newSession`/`resumeSession` events.
 * - Node's SNI switch takes only the certificate from the context SNICallback returns: protocol
 *   versions, ciphers, options (tickets) and the session cache stay the listener's own context's.
 *   Every context still gets the same settings, so none depends on which one is in charge.
 */
import { constants } from 'node:crypto';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import type { TlsSettings } from '../model/settings/tls.js';

/** `ALPN_H2` and `ALPN_HTTP1` are the ALPN protocol IDs Portico serves on HTTPS. */
export const ALPN_H2 = 'h2';
export const ALPN_HTTP1 = 'http/1.1';

/**
 * `ECDSA_LAST` moves the ECDSA-authenticated TLS 1.2 suites after the others, keeping the order
 * within each group (OpenSSL's `+` operator). Node's SNI switch fills only the certificate slot of
 * the SNI certificate's key type, so the listener's generated ECDSA certificate stays loaded
 * beside an RSA one; with ingress-nginx's ECDSA-first order TLS 1.2 would pick an ECDSA suite and
 * present that certificate instead of the host's. This is the cipher-suite half of `SNI_SIGALGS`
 * (tls.ts). A host has one certificate, so the order between the two groups decides nothing else.
 */
export const ECDSA_LAST = ':+aECDSA';

/** `handshakeOptions` are the SecureContext options every context of the listener gets. */
export function handshakeOptions(tls: TlsSettings): SecureContextOptions {
  const protocols = tls.protocols;
  return {
    minVersion: protocols[0] ?? 'TLSv1.2',
    maxVersion: protocols[protocols.length - 1] ?? 'TLSv1.3',
    ciphers: `${tls.ciphers}${ECDSA_LAST}`,
    dhparam: 'auto',
    ...(tls.sessionTickets ? {} : { secureOptions: constants.SSL_OP_NO_TICKET }),
  };
}

/** `opensslCipherCheck` says why OpenSSL refuses a cipher string, or undefined when it takes it. */
export function opensslCipherCheck(ciphers: string): string | undefined {
  try {
    createSecureContext({ ciphers });
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/**
 * `selectAlpn` is the listener's ALPNCallback: h2 when offered and enabled, else HTTP/1.1 when
 * offered. A client offering neither gets undefined, i.e. the no_application_protocol alert, as
 * nginx answers. Read on every handshake, so `use-http2` changes without a restart.
 */
export function selectAlpn(http2: () => boolean): (arg: { protocols: string[] }) => string | undefined {
  return ({ protocols }) => {
    if (http2() && protocols.includes(ALPN_H2)) return ALPN_H2;
    return protocols.includes(ALPN_HTTP1) ? ALPN_HTTP1 : undefined;
  };
}

/** `SessionCacheSettings` bound the session cache. */
export interface SessionCacheSettings {
  readonly enabled: boolean;
  readonly maxBytes: number;
  readonly timeoutMs: number;
}

interface CachedSession {
  readonly data: Buffer;
  readonly bytes: number;
  readonly expiresAt: number;
}

/**
 * `SessionCache` is the TLS session cache behind the listener's `newSession`/`resumeSession`
 * events: bounded by bytes of session data (least recently used evicted first) and by the session
 * timeout. A Map keeps insertion order, so re-inserting on use makes its first key the LRU one.
 */
export class SessionCache {
  readonly #sessions = new Map<string, CachedSession>();
  readonly #now: () => number;
  #settings: SessionCacheSettings;
  #bytes = 0;

  constructor(settings: SessionCacheSettings, now: () => number = Date.now) {
    this.#settings = settings;
    this.#now = now;
  }

  /** `size` is the number of sessions held. */
  get size(): number {
    return this.#sessions.size;
  }

  /** `bytes` is the session data held, ids included. */
  get bytes(): number {
    return this.#bytes;
  }

  /** `configure` applies new bounds; turning the cache off empties it. */
  configure(settings: SessionCacheSettings): void {
    this.#settings = settings;
    if (!settings.enabled) this.clear();
    else this.#evictOver(settings.maxBytes);
  }

  clear(): void {
    this.#sessions.clear();
    this.#bytes = 0;
  }

  /** `store` keeps a new session (a session larger than the whole cache is not kept). */
  store(id: Buffer, data: Buffer): void {
    const s = this.#settings;
    if (!s.enabled) return;
    const key = id.toString('latin1');
    this.#delete(key);
    const bytes = id.length + data.length;
    if (bytes > s.maxBytes) return;
    const now = this.#now();
    // The least recently used sessions are the likeliest to have expired: drop those first.
    for (const [oldKey, old] of this.#sessions) {
      if (old.expiresAt > now) break;
      this.#delete(oldKey);
    }
    this.#evictOver(s.maxBytes - bytes);
    this.#sessions.set(key, { data, bytes, expiresAt: now + s.timeoutMs });
    this.#bytes += bytes;
  }

  /** `lookup` returns a live session's data and marks it recently used. */
  lookup(id: Buffer): Buffer | undefined {
    if (!this.#settings.enabled) return undefined;
    const key = id.toString('latin1');
    const hit = this.#sessions.get(key);
    if (hit === undefined) return undefined;
    this.#sessions.delete(key);
    if (hit.expiresAt <= this.#now()) {
      this.#bytes -= hit.bytes;
      return undefined;
    }
    this.#sessions.set(key, hit);
    return hit.data;
  }

  /** The server's `newSession` listener. */
  readonly onNewSession = (id: Buffer, data: Buffer, done: () => void): void => {
    this.store(id, data);
    done();
  };

  /** The server's `resumeSession` listener. */
  readonly onResumeSession = (id: Buffer, done: (err: Error | null, data: Buffer | null) => void): void => {
    done(null, this.lookup(id) ?? null);
  };

  #delete(key: string): void {
    const old = this.#sessions.get(key);
    if (old === undefined) return;
    this.#sessions.delete(key);
    this.#bytes -= old.bytes;
  }

  /** Evicts the least recently used sessions until at most `limit` bytes remain. */
  #evictOver(limit: number): void {
    for (const [key, session] of this.#sessions) {
      if (this.#bytes <= limit) return;
      this.#sessions.delete(key);
      this.#bytes -= session.bytes;
    }
  }
}

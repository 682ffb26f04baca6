/**
 * `tls` holds the HTTPS listener's global settings (ingress-nginx's `ssl-*` keys and `use-http2`):
 * their shape, defaults and validators. The data plane turns them into SecureContext options
 * (src/proxy/tls-settings.ts).
 */
import type { TlsListenerOptions, TlsProtocol } from '../../config/types.js';
import type { Parsed, Validator } from './validators.js';

export type { TlsProtocol } from '../../config/types.js';

/** `TlsSettings` governs the HTTPS listener's handshakes; same shape as the flags' `TlsListenerOptions`. */
export type TlsSettings = TlsListenerOptions;

/** `INGRESS_NGINX_CIPHERS` is ingress-nginx's `ssl-ciphers` default, verbatim. */
export const INGRESS_NGINX_CIPHERS =
  'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384';

/** `DEFAULT_TLS_SETTINGS` are ingress-nginx's defaults (and the flags' defaults). */
export const DEFAULT_TLS_SETTINGS: TlsSettings = {
  protocols: ['TLSv1.2', 'TLSv1.3'],
  ciphers: INGRESS_NGINX_CIPHERS,
  sessionCache: true,
  // nginx's shared:SSL:10m: ten megabytes of session data.
  sessionCacheBytes: 10 * 1024 * 1024,
  sessionTimeoutMs: 10 * 60_000,
  sessionTickets: false,
  http2: true,
};

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = (reason: string): Parsed<never> => ({ ok: false, reason });

const SUPPORTED_PROTOCOLS: readonly TlsProtocol[] = ['TLSv1.2', 'TLSv1.3'];
const DEPRECATED_PROTOCOLS: ReadonlySet<string> = new Set(['SSLv2', 'SSLv3', 'TLSv1', 'TLSv1.1']);

/**
 * `tlsProtocols` reads nginx's `ssl_protocols` list (blank-separated). TLS 1.0 and 1.1 are refused
 * (RFC 8996 deprecates them) rather than silently dropped, so the value in force is what was asked.
 * Returned in ascending order, deduplicated.
 */
export const tlsProtocols: Validator<readonly TlsProtocol[]> = (raw) => {
  const names = raw.split(/[\s,]+/).filter((n) => n !== '');
  if (names.length === 0) return fail('must list TLSv1.2, TLSv1.3 or both');
  const chosen = new Set<TlsProtocol>();
  for (const name of names) {
    if (DEPRECATED_PROTOCOLS.has(name))
      return fail(`${name} is not supported (deprecated by RFC 8996); use TLSv1.2 and/or TLSv1.3`);
    const protocol = SUPPORTED_PROTOCOLS.find((p) => p === name);
    if (protocol === undefined)
      return fail(`${JSON.stringify(name)} is not a TLS version (TLSv1.2, TLSv1.3)`);
    chosen.add(protocol);
  }
  return ok(SUPPORTED_PROTOCOLS.filter((p) => chosen.has(p)));
};

/** `CipherCheck` asks the TLS library whether it accepts a cipher string; undefined means yes. */
export type CipherCheck = (ciphers: string) => string | undefined;

// The model may not load node:tls (pure layer), so the process that has one installs the real
// check (src/proxy/tls-settings.ts); until then only the syntax is checked.
let cipherCheck: CipherCheck = () => undefined;

/** `useCipherCheck` installs the TLS library's check behind `cipherList`. */
export function useCipherCheck(check: CipherCheck): void {
  cipherCheck = check;
}

/**
 * `cipherList` reads an OpenSSL cipher string for TLS 1.2 (nginx's `ssl_ciphers`). TLS 1.3 suite
 * names (`TLS_…`) are refused: in nginx they are not part of `ssl_ciphers` either, and TLS 1.3
 * keeps OpenSSL's default suites whatever this list says.
 */
export const cipherList: Validator<string> = (raw) => {
  const value = raw.trim();
  if (value === '') return fail('must list at least one cipher');
  if (!/^[A-Za-z0-9_+!@=.:, -]+$/.test(value)) return fail('is not an OpenSSL cipher string');
  const tls13 = value.split(/[:, ]+/).find((c) => c.startsWith('TLS_'));
  if (tls13 !== undefined)
    return fail(
      `${tls13} is a TLS 1.3 suite; ssl-ciphers lists TLS 1.2 ciphers only (TLS 1.3 uses its defaults)`,
    );
  const refused = cipherCheck(value);
  return refused === undefined ? ok(value) : fail(`OpenSSL refuses it: ${refused}`);
};

const SIZE_UNITS: Readonly<Record<string, number>> = { '': 1, k: 1024, m: 1024 * 1024 };
// Far above any sensible session cache; keeps the byte count a safe integer.
const MAX_CACHE_BYTES = 1024 * 1024 * 1024;

/** `nginxSize` reads an nginx size (`"10m"`, `"512k"`, `"4096"`) into bytes, at least 1k. */
export const nginxSize: Validator<number> = (raw) => {
  const m = /^(\d+)([kKmM]?)$/.exec(raw.trim());
  if (m === null) return fail('must be a size such as "10m", "512k" or bytes');
  const bytes = Number(m[1]) * (SIZE_UNITS[(m[2] ?? '').toLowerCase()] ?? 1);
  if (bytes < 1024) return fail('must be at least 1k');
  if (bytes > MAX_CACHE_BYTES) return fail('must be at most 1024m');
  return ok(bytes);
};

/** `showSize` renders bytes as nginx writes sizes (`10m`, `512k`, or bytes). */
export function showSize(bytes: number): string {
  if (bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)}m`;
  if (bytes % 1024 === 0) return `${bytes / 1024}k`;
  return String(bytes);
}

/** `showMinutes` renders milliseconds as nginx's `ssl_session_timeout` is usually written (`10m`). */
export function showMinutes(ms: number): string {
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return ms % 1_000 === 0 ? `${ms / 1_000}s` : `${ms}ms`;
}

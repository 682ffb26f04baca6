/**
 * `upstream-errors` is the one table mapping an upstream failure to the client status (DESIGN §5):
 * refused/reset/socket errors → 502, connect timeout and headers/body timeouts → 504, no ready
 * endpoints and DNS failures → 503. Every row is tested.
 */
import type { ProxyErrorCode } from './errors.js';

/**
 * `FailurePhase` says how far an attempt got: `connect` errors prove nothing reached the
 * upstream, so any method may be retried on the next endpoint; `exchange` errors may have
 * delivered (part of) the request.
 */
export type FailurePhase = 'connect' | 'exchange';

/** `UpstreamErrorRow` is one row of the table. */
export interface UpstreamErrorRow {
  /** Node/undici error code, or a `PORTICO_*` pseudo code for failures the data plane detects itself. */
  readonly errorCode: string;
  readonly status: 400 | 502 | 503 | 504;
  readonly code: ProxyErrorCode;
  readonly phase: FailurePhase;
  /** Short human text for the response body and the log line. */
  readonly what: string;
}

/** `NO_ENDPOINTS` is the pseudo error code for a backend without ready endpoints. */
export const NO_ENDPOINTS = 'PORTICO_NO_ENDPOINTS';
/** `SEND_TIMEOUT` is the pseudo error code for an upstream that stopped reading the request body. */
export const SEND_TIMEOUT = 'PORTICO_SEND_TIMEOUT';

/** `UPSTREAM_ERROR_TABLE` lists every known failure; anything else takes `DEFAULT_UPSTREAM_ERROR`. */
export const UPSTREAM_ERROR_TABLE: readonly UpstreamErrorRow[] = [
  {
    errorCode: 'ECONNREFUSED',
    status: 502,
    code: 'PORTICO_ERR_UPSTREAM_CONNECT',
    phase: 'connect',
    what: 'connection refused',
  },
  {
    errorCode: 'EHOSTUNREACH',
    status: 502,
    code: 'PORTICO_ERR_UPSTREAM_CONNECT',
    phase: 'connect',
    what: 'host unreachable',
  },
  {
    errorCode: 'ENETUNREACH',
    status: 502,
    code: 'PORTICO_ERR_UPSTREAM_CONNECT',
    phase: 'connect',
    what: 'network unreachable',
  },
  {
    errorCode: 'EADDRNOTAVAIL',
    status: 502,
    code: 'PORTICO_ERR_UPSTREAM_CONNECT',
    phase: 'connect',
    what: 'address not available',
  },
  {
    errorCode: 'UND_ERR_CONNECT_TIMEOUT',
    status: 504,
    code: 'PORTICO_ERR_UPSTREAM_CONNECT_TIMEOUT',
    phase: 'connect',
    what: 'connect timeout',
  },
  {
    errorCode: 'ETIMEDOUT',
    status: 504,
    code: 'PORTICO_ERR_UPSTREAM_CONNECT_TIMEOUT',
    phase: 'connect',
    what: 'connect timeout',
  },
  {
    errorCode: 'ENOTFOUND',
    status: 503,
    code: 'PORTICO_ERR_UPSTREAM_DNS',
    phase: 'connect',
    what: 'DNS name not found',
  },
  {
    errorCode: 'EAI_AGAIN',
    status: 503,
    code: 'PORTICO_ERR_UPSTREAM_DNS',
    phase: 'connect',
    what: 'DNS lookup failed',
  },
  // The pool was closed between endpoint choice and dispatch (endpoint removed): nothing was sent.
  {
    errorCode: 'UND_ERR_CLOSED',
    status: 502,
    code: 'PORTICO_ERR_UPSTREAM_CLOSED',
    phase: 'connect',
    what: 'upstream pool closed',
  },
  {
    errorCode: 'UND_ERR_DESTROYED',
    status: 502,
    code: 'PORTICO_ERR_UPSTREAM_CLOSED',
    phase: 'connect',
    what: 'upstream pool closed',
  },
  {
    errorCode: 'ECONNRESET',
    status: 502,
    code: 'PORTICO_ERR_UPSTREAM_RESET',
    phase: 'exchange',
    what: 'connection reset',
  },
  {
    errorCode: 'EPIPE',
    status: 502,
    code: 'PORTICO_ERR_UPSTREAM_RESET',
    phase: 'exchange',
    what: 'connection reset',
  },
  {
    errorCode: 'ECONNABORTED',
    status: 502,
    code: 'PORTICO_ERR_UPSTREAM_RESET',
    phase: 'exchange',
    what: 'connection aborted',
  },
  {
    errorCode: 'UND_ERR_SOCKET',
    status: 502,
    code: 'PORTICO_ERR_UPSTREAM_RESET',
    phase: 'exchange',
    what: 'socket error',
  },
  {
    errorCode: 'UND_ERR_HEADERS_TIMEOUT',
    status: 504,
    code: 'PORTICO_ERR_UPSTREAM_TIMEOUT',
    phase: 'exchange',
    what: 'response headers timeout',
  },
  {
    errorCode: 'UND_ERR_BODY_TIMEOUT',
    status: 504,
    code: 'PORTICO_ERR_UPSTREAM_TIMEOUT',
    phase: 'exchange',
    what: 'response body timeout',
  },
  {
    errorCode: SEND_TIMEOUT,
    status: 504,
    code: 'PORTICO_ERR_UPSTREAM_SEND_TIMEOUT',
    phase: 'exchange',
    what: 'request body send timeout',
  },
  {
    errorCode: 'UND_ERR_HEADERS_OVERFLOW',
    status: 502,
    code: 'PORTICO_ERR_UPSTREAM_PROTOCOL',
    phase: 'exchange',
    what: 'response headers too large',
  },
  {
    errorCode: 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
    status: 502,
    code: 'PORTICO_ERR_UPSTREAM_PROTOCOL',
    phase: 'exchange',
    what: 'response length mismatch',
  },
  {
    errorCode: 'HPE_INVALID_CONSTANT',
    status: 502,
    code: 'PORTICO_ERR_UPSTREAM_PROTOCOL',
    phase: 'exchange',
    what: 'invalid HTTP response',
  },
  // undici refuses some header a client may legally send; the request cannot be forwarded as sent.
  {
    errorCode: 'UND_ERR_INVALID_ARG',
    status: 400,
    code: 'PORTICO_ERR_BAD_REQUEST',
    phase: 'connect',
    what: 'request cannot be forwarded',
  },
  {
    errorCode: 'UND_ERR_NOT_SUPPORTED',
    status: 400,
    code: 'PORTICO_ERR_BAD_REQUEST',
    phase: 'connect',
    what: 'request cannot be forwarded',
  },
  {
    errorCode: NO_ENDPOINTS,
    status: 503,
    code: 'PORTICO_ERR_NO_ENDPOINTS',
    phase: 'connect',
    what: 'no ready endpoints',
  },
];

/** `DEFAULT_UPSTREAM_ERROR` answers failures the table does not know (HTTP parser errors among them). */
export const DEFAULT_UPSTREAM_ERROR: UpstreamErrorRow = {
  errorCode: '*',
  status: 502,
  code: 'PORTICO_ERR_UPSTREAM',
  phase: 'exchange',
  what: 'upstream error',
};

/**
 * `TLS_VERIFY_ERROR` answers a backend certificate that failed `proxy-ssl-verify` (untrusted
 * chain, wrong name, expired): 502 as ingress-nginx. Nothing was sent, so another endpoint may be
 * tried (it may have a good certificate).
 */
export const TLS_VERIFY_ERROR: UpstreamErrorRow = {
  errorCode: 'CERT_*',
  status: 502,
  code: 'PORTICO_ERR_UPSTREAM_TLS',
  phase: 'connect',
  what: 'backend certificate rejected',
};

/** `TLS_HANDSHAKE_ERROR` answers any other failed TLS handshake with a backend (`ERR_SSL_*`). */
export const TLS_HANDSHAKE_ERROR: UpstreamErrorRow = {
  errorCode: 'ERR_SSL_*',
  status: 502,
  code: 'PORTICO_ERR_UPSTREAM_TLS',
  phase: 'connect',
  what: 'TLS handshake with the backend failed',
};

/** OpenSSL's X509 verification codes (as Node reports them) and Node's own name check. */
const TLS_VERIFY_CODES: ReadonlySet<string> = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_CRL',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECRYPT_CRL_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CRL_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'CRL_NOT_YET_VALID',
  'CRL_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

const PARSER_ERROR: UpstreamErrorRow = {
  errorCode: 'HPE_*',
  status: 502,
  code: 'PORTICO_ERR_UPSTREAM_PROTOCOL',
  phase: 'exchange',
  what: 'invalid HTTP response',
};

const BY_CODE: ReadonlyMap<string, UpstreamErrorRow> = new Map(
  UPSTREAM_ERROR_TABLE.map((row) => [row.errorCode, row]),
);

/**
 * `errorCodeOf` digs the Node/undici code out of an error: its own `code`, else its `cause`'s,
 * else the first of an AggregateError's (happy-eyeballs connects report several).
 */
export function errorCodeOf(err: unknown): string {
  if (typeof err !== 'object' || err === null) return '';
  const own = (err as { code?: unknown }).code;
  if (typeof own === 'string' && own !== '') return own;
  const cause = (err as { cause?: unknown }).cause;
  if (cause !== undefined && cause !== err) {
    const inner = errorCodeOf(cause);
    if (inner !== '') return inner;
  }
  const errors = (err as { errors?: unknown }).errors;
  if (Array.isArray(errors) && errors.length > 0) return errorCodeOf(errors[0]);
  return '';
}

/** `classifyUpstreamError` returns the table row for an error (or a pseudo code string). */
export function classifyUpstreamError(err: unknown): UpstreamErrorRow {
  const code = typeof err === 'string' ? err : errorCodeOf(err);
  const row = BY_CODE.get(code);
  if (row !== undefined) return row;
  if (code.startsWith('HPE_')) return PARSER_ERROR;
  if (TLS_VERIFY_CODES.has(code)) return TLS_VERIFY_ERROR;
  if (code.startsWith('ERR_SSL_')) return TLS_HANDSHAKE_ERROR;
  return DEFAULT_UPSTREAM_ERROR;
}

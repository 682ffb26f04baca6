/**
 * `hop-by-hop` strips the headers that describe one connection rather than the message
 * (RFC 9110 §7.6.1), in both directions: the fixed list below plus every header the Connection
 * header names.
 *
 * Decisions: `TE` is dropped, except that `TE: trailers` goes to HTTP/2 backends (gRPC needs it;
 * `forwarded-headers.ts`); response trailers are relayed to the client (`trailerFields`).
 * `Proxy-Authorization`/`Proxy-Authenticate` are dropped as well: Portico is the only proxy on
 * this hop and does no proxy authentication, so credentials meant for it must not reach a
 * backend. `Trailer` (the announcement) is dropped from responses: trailers themselves are relayed
 * where the client connection can carry them (HTTP/2, or a chunked HTTP/1.1 response).
 */

/** `HOP_BY_HOP` lists the lowercased names always stripped, whatever the Connection header says. */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'transfer-encoding',
  'upgrade',
  'proxy-authenticate',
  'proxy-authorization',
  'trailer',
]);

/**
 * Names a Connection header may not remove: dropping them would change message framing or
 * routing rather than connection state.
 */
const PROTECTED: ReadonlySet<string> = new Set(['host', 'content-length']);

/**
 * `connectionTokens` returns the lowercased header names a Connection header value lists
 * (beyond `close`/`keep-alive`/`upgrade`, which name no header), or undefined when there are none,
 * which is the common case and costs no allocation.
 */
export function connectionTokens(value: string | undefined): ReadonlySet<string> | undefined {
  if (value === undefined) return undefined;
  const lower = value.toLowerCase();
  if (lower === 'keep-alive' || lower === 'close' || lower === 'upgrade') return undefined;
  let tokens: Set<string> | undefined;
  for (const part of lower.split(',')) {
    const token = part.trim();
    if (token === '' || token === 'close' || token === 'keep-alive' || token === 'upgrade') continue;
    if (PROTECTED.has(token)) continue;
    tokens ??= new Set();
    tokens.add(token);
  }
  return tokens;
}

/** `isHopByHop` tells whether a lowercased header name must not be forwarded. */
export function isHopByHop(lowerName: string, named: ReadonlySet<string> | undefined): boolean {
  return HOP_BY_HOP.has(lowerName) || named?.has(lowerName) === true;
}

/**
 * Header bytes are latin1 on the wire; decoding them as UTF-8 would turn any byte >= 0x80 into
 * U+FFFD. latin1 round-trips every byte through Node's header writer unchanged.
 */
function latin1(value: Buffer | string | undefined): string {
  if (value === undefined) return '';
  return typeof value === 'string' ? value : value.toString('latin1');
}

/** `ResponseHeaderOptions` are what the data plane adds to every proxied response. */
export interface ResponseHeaderOptions {
  readonly requestId: string;
  /** True while draining: the client must not reuse the connection. */
  readonly closeConnection: boolean;
  /**
   * Portico's Strict-Transport-Security `[name, value]`: replaces the upstream's, as ingress-nginx's
   * `more_set_headers` does.
   */
  readonly hsts?: readonly string[] | undefined;
  /** Flat `[name, value, …]` Portico adds after the upstream's (RateLimit-*, Set-Cookie from external auth). */
  readonly extra?: readonly string[] | undefined;
  /** Lowercased names Portico sets itself (CORS, `custom-headers`): the upstream's are dropped. */
  readonly replace?: ReadonlySet<string> | undefined;
}

/**
 * `buildResponseHeaders` turns an upstream's raw response headers (undici's flat `[name, value,
 * …]` Buffer list) into the flat string list for `ServerResponse.writeHead`: hop-by-hop headers
 * and the upstream's `Server` dropped, `Server: portico` added, `X-Request-ID` added unless the
 * upstream set one, `Connection: close` added while draining, and Portico's Strict-Transport-Security
 * instead of the upstream's when `hsts` is given. Content-Length is kept, so a
 * sized upstream body stays sized for the client.
 */
export function buildResponseHeaders(
  raw: readonly (Buffer | string)[],
  opts: ResponseHeaderOptions,
): string[] {
  let named: ReadonlySet<string> | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = latin1(raw[i]);
    if (name.length === 10 && name.toLowerCase() === 'connection') {
      const tokens = connectionTokens(latin1(raw[i + 1]));
      if (tokens !== undefined) {
        const merged = new Set(named);
        for (const t of tokens) merged.add(t);
        named = merged;
      }
    }
  }
  const out: string[] = [];
  const hsts = opts.hsts;
  let hasRequestId = false;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = latin1(raw[i]);
    const lower = name.toLowerCase();
    if (isHopByHop(lower, named) || lower === 'server') continue;
    if (hsts !== undefined && lower === 'strict-transport-security') continue;
    if (opts.replace?.has(lower) === true) continue;
    if (lower === 'x-request-id') hasRequestId = true;
    out.push(name, latin1(raw[i + 1]));
  }
  out.push('server', 'portico');
  if (!hasRequestId) out.push('x-request-id', opts.requestId);
  if (hsts !== undefined) out.push(hsts[0] as string, hsts[1] as string);
  if (opts.extra !== undefined) for (const h of opts.extra) out.push(h);
  if (opts.closeConnection) out.push('connection', 'close');
  return out;
}

/** `acceptsTrailers` tells whether a TE value lists `trailers` (the only TE HTTP/2 allows). */
export function acceptsTrailers(value: string): boolean {
  for (const part of value.split(',')) {
    const token = part.trim().toLowerCase();
    if (token === 'trailers' || token.startsWith('trailers;')) return true;
  }
  return false;
}

/**
 * `trailerFields` turns an upstream's raw trailers (flat `[name, value, …]`) into the object
 * `ServerResponse.addTrailers` takes, hop-by-hop names dropped and repeated names joined; undefined
 * when nothing is left.
 */
export function trailerFields(raw: readonly (Buffer | string)[]): Record<string, string> | undefined {
  let out: Record<string, string> | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = latin1(raw[i]).toLowerCase();
    if (HOP_BY_HOP.has(name) || name === 'content-length') continue;
    const value = latin1(raw[i + 1]);
    out ??= {};
    const previous = out[name];
    out[name] = previous === undefined ? value : `${previous}, ${value}`;
  }
  return out;
}

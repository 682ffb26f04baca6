/**
 * `http2` adapts HTTP/2 requests (node:http2's compatibility API, `Http2ServerRequest`) to the
 * HTTP/1.1 shape the rest of the data plane and every upstream speak. Only requests with
 * `httpVersionMajor === 2` come here, so HTTP/1.1 requests pay nothing.
 *
 * - Pseudo-headers (`:method`, `:path`, `:scheme`, `:authority`) never go upstream; the Host sent
 *   upstream is `:authority` (RFC 9113 §8.3.1: an intermediary forwarding over HTTP/1.1 builds
 *   Host from it), else the Host header.
 * - Cookie headers, which HTTP/2 may split into several fields (RFC 9113 §8.2.3), are joined
 *   with "; " into one, as HTTP/1.1 servers expect.
 * - A request has a body unless its HEADERS frame ended the stream: HTTP/2 needs neither
 *   Content-Length nor Transfer-Encoding.
 */
import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';

/** `Http2RequestView` is an HTTP/2 request's headers in HTTP/1.1 form. */
export interface Http2RequestView {
  /** `[name, value, …]` without pseudo-headers, Host first. */
  readonly rawHeaders: string[];
  /** The authority the request is for (`:authority`, else Host). */
  readonly host: string | undefined;
  /** A Host header names another authority than `:authority`: a malformed request (RFC 9113 §8.3.1). */
  readonly conflictingHost: boolean;
}

/** `isHttp2` tells whether a request came over HTTP/2. */
export function isHttp2(req: IncomingMessage): boolean {
  return req.httpVersionMajor === 2;
}

/** `http2RequestView` converts an HTTP/2 request's `rawHeaders` (see the module comment). */
export function http2RequestView(raw: readonly string[]): Http2RequestView {
  let authority: string | undefined;
  let host: string | undefined;
  let hostCount = 0;
  let cookie: string | undefined;
  const rest: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    if (name.charCodeAt(0) === 0x3a /* : */) {
      if (name === ':authority') authority = value;
      continue;
    }
    const lower = name.toLowerCase();
    if (lower === 'host') {
      hostCount++;
      host ??= value;
      continue;
    }
    if (lower === 'cookie') {
      cookie = cookie === undefined ? value : `${cookie}; ${value}`;
      continue;
    }
    rest.push(name, value);
  }
  const effective = authority ?? host;
  const conflictingHost =
    hostCount > 1 ||
    (authority !== undefined && host !== undefined && host.toLowerCase() !== authority.toLowerCase());
  const rawHeaders = effective === undefined ? [] : ['host', effective];
  for (const item of rest) rawHeaders.push(item);
  if (cookie !== undefined) rawHeaders.push('cookie', cookie);
  return { rawHeaders, host: effective, conflictingHost };
}

/**
 * `http2HasBody` tells whether an HTTP/2 request carries a body. The compatibility request is
 * typed as node:http's by Fastify; its stream is what knows.
 */
export function http2HasBody(req: IncomingMessage): boolean {
  return !(req as unknown as Http2ServerRequest).stream.endAfterHeaders;
}

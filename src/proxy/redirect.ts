/**
 * `redirect` is Portico's HTTP → HTTPS behaviour, as ingress-nginx has it: which plain-HTTP
 * requests are redirected (`ssl-redirect` / `force-ssl-redirect`, ConfigMap and annotations), the
 * `Location` they get, the redirect response itself, and the Strict-Transport-Security header that
 * HTTPS responses of TLS hosts carry. The decision runs right after routing, before anything else
 * looks at the request (ingress-nginx redirects in its rewrite phase, before auth and proxying).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RouteMatch } from '../compile/types.js';
import type { HstsOptions, HttpsOptions, RedirectCode } from '../config/types.js';
import type { RouteRedirectStatus } from '../model/types.js';

/** `RedirectStatus` is any status Portico redirects with: HTTPS redirects and route redirects. */
export type RedirectStatus = RedirectCode | RouteRedirectStatus;

/**
 * HTTP-01 challenges must reach their solver over plain HTTP. Like ingress-nginx's
 * `location /.well-known/acme-challenge/` this is a prefix with the trailing slash: the bare
 * `/.well-known/acme-challenge` is redirected like any other path.
 */
export const ACME_CHALLENGE_PREFIX = '/.well-known/acme-challenge/';

/**
 * `wantsHttpsRedirect` is the policy half of the decision: `force-ssl-redirect` for any host, else
 * `ssl-redirect` for hosts listed in `spec.tls`; the Ingress's annotation wins over the ConfigMap.
 */
export function wantsHttpsRedirect(match: RouteMatch, https: HttpsOptions): boolean {
  const policy = match.policy;
  if (policy.forceSslRedirect ?? https.forceSslRedirect) return true;
  return match.tlsHost && (policy.sslRedirect ?? https.sslRedirect);
}

/** `isAcmeChallenge` says whether a normalised path is exempt from redirects. */
export function isAcmeChallenge(path: string): boolean {
  return path.startsWith(ACME_CHALLENGE_PREFIX);
}

// A DNS name or IPv4 address, or a bracketed IPv6 literal: nothing that could move the URL elsewhere.
const REDIRECT_HOST = /^(?:[a-z0-9_-]+(?:\.[a-z0-9_-]+)*|\[[0-9a-f:.]+\])$/;

/**
 * `originForm` is the path and query of a request target as the client sent it; an absolute-form
 * target (`http://host/p?q`) gives `/p?q`.
 */
export function originForm(target: string): string {
  if (target.charCodeAt(0) === 0x2f /* / */) return target;
  const scheme = target.indexOf('://');
  if (scheme === -1) return '/';
  for (let i = scheme + 3; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c === 0x2f /* / */) return target.slice(i);
    if (c === 0x3f /* ? */) return `/${target.slice(i)}`;
    if (c === 0x23 /* # */) break;
  }
  return '/';
}

/**
 * `httpsLocation` builds `https://<host>[:port]<target>`. `host` is the normalised request host
 * (lowercase, no port); Portico's own listener ports never appear, only `redirectPort` when it is
 * not 443. Undefined when the host is absent or not a plain host name: such a request is not
 * redirected but handled as usual.
 */
export function httpsLocation(
  host: string,
  target: string,
  redirectPort: number,
  dropTrailingSlash = false,
): string | undefined {
  if (!REDIRECT_HOST.test(host)) return undefined;
  const port = redirectPort === 443 ? '' : `:${redirectPort}`;
  let rest = originForm(target);
  // `preserve-trailing-slash: "false"`: ingress-nginx's default, one `/` off the end of the whole
  // request URI (query included), so `/` becomes `https://host`.
  if (dropTrailingSlash && rest.endsWith('/')) rest = rest.slice(0, -1);
  return `https://${host}${port}${rest}`;
}

/** `isRedirectHost` says whether a (normalised) host may appear in a Location Portico builds. */
export function isRedirectHost(host: string): boolean {
  return REDIRECT_HOST.test(host);
}

/** `forwardedHttps` says whether a (trusted) proxy in front says the client used HTTPS. */
export function forwardedHttps(req: IncomingMessage): boolean {
  const proto = req.headers['x-forwarded-proto'];
  if (typeof proto !== 'string') return false;
  const comma = proto.indexOf(',');
  return (comma === -1 ? proto : proto.slice(0, comma)).trim().toLowerCase() === 'https';
}

const REASONS: Readonly<Record<RedirectStatus, string>> = {
  301: 'Moved Permanently',
  302: 'Found',
  303: 'See Other',
  307: 'Temporary Redirect',
  308: 'Permanent Redirect',
};

// nginx's own redirect page, which ingress-nginx users see today, signed by Portico.
const bodyOf = (code: RedirectStatus): string =>
  `<html>\n<head><title>${code} ${REASONS[code]}</title></head>\n<body>\n<center><h1>${code} ${REASONS[code]}</h1></center>\n<hr><center>portico</center>\n</body>\n</html>\n`;

const BODIES: Readonly<Record<RedirectStatus, { readonly text: string; readonly length: string }>> = {
  301: { text: bodyOf(301), length: String(Buffer.byteLength(bodyOf(301))) },
  302: { text: bodyOf(302), length: String(Buffer.byteLength(bodyOf(302))) },
  303: { text: bodyOf(303), length: String(Buffer.byteLength(bodyOf(303))) },
  307: { text: bodyOf(307), length: String(Buffer.byteLength(bodyOf(307))) },
  308: { text: bodyOf(308), length: String(Buffer.byteLength(bodyOf(308))) },
};

/** `redirectBody` is the HTML body of a redirect (for tests and the upgrade path). */
export function redirectBody(code: RedirectStatus): string {
  return BODIES[code].text;
}

/**
 * `sendRedirect` answers with the redirect. `close` forces `Connection: close` (draining, or an
 * unread request body still on the wire: the body is never read).
 */
export function sendRedirect(
  res: ServerResponse,
  code: RedirectStatus,
  location: string,
  requestId: string,
  close: boolean,
  hsts?: readonly string[],
): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const body = BODIES[code];
  const headers = [
    'location',
    location,
    'content-type',
    'text/html',
    'content-length',
    body.length,
    'server',
    'portico',
    'x-request-id',
    requestId,
  ];
  if (close) headers.push('connection', 'close');
  if (hsts !== undefined) headers.push(...hsts);
  res.writeHead(code, headers);
  res.end(res.req.method === 'HEAD' ? undefined : body.text);
}

/**
 * `rawRedirect` is the redirect as bytes for a socket that left HTTP handling (a WebSocket upgrade
 * on plain HTTP): the client gets the same answer as without `Upgrade`, then the connection closes.
 */
export function rawRedirect(code: RedirectStatus, location: string, requestId: string): string {
  const body = BODIES[code];
  return (
    `HTTP/1.1 ${code} ${REASONS[code]}\r\nlocation: ${location}\r\ncontent-type: text/html\r\n` +
    `content-length: ${body.length}\r\nserver: portico\r\nx-request-id: ${requestId}\r\nconnection: close\r\n\r\n${body.text}`
  );
}

/**
 * `hstsHeader` renders the Strict-Transport-Security header as the `[name, value]` pair pushed onto
 * response headers, or undefined when HSTS is off. Computed when settings change, not per request.
 */
export function hstsHeader(hsts: HstsOptions): readonly string[] | undefined {
  if (!hsts.enabled) return undefined;
  const value = `max-age=${hsts.maxAgeSeconds}${hsts.includeSubdomains ? '; includeSubDomains' : ''}${hsts.preload ? '; preload' : ''}`;
  return Object.freeze(['strict-transport-security', value]);
}

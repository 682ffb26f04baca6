/**
 * `route-redirect` answers the requests that are redirected by configuration rather than by the
 * HTTPS policy: a route with `permanent-redirect` / `temporal-redirect` (a fixed Location), and a
 * `from-to-www-redirect` name (the same scheme, path and query on the host it redirects to).
 * ingress-nginx answers both with nginx's `return`, in the rewrite phase: before its HTTPS
 * redirect, IP lists, rate limits and authentication, and without reading the request body.
 */
import type { IncomingMessage } from 'node:http';
import type { RouteMatch } from '../compile/types.js';
import { peerAddress } from './forwarded-headers.js';
import type { LiveSettings } from './live-settings.js';
import { forwardedHttps, originForm, type RedirectStatus } from './redirect.js';

/** `ConfiguredRedirect` is the answer: a status and the Location it carries. */
export interface ConfiguredRedirect {
  readonly status: RedirectStatus;
  readonly location: string;
}

/**
 * `configuredRedirect` returns the redirect `match` answers with, or undefined (the common case,
 * two property reads). The www Location keeps the request's scheme: `https` on the HTTPS listener
 * or when a trusted proxy in front says the client used HTTPS; only an https Location carries a
 * port (`--https-redirect-port` when not 443), so a plain-HTTP redirect never points at it.
 */
export function configuredRedirect(
  req: IncomingMessage,
  match: RouteMatch,
  target: string,
  proto: 'http' | 'https',
  settings: LiveSettings,
): ConfiguredRedirect | undefined {
  const to = match.hostRedirect;
  if (to === undefined) return match.policy.redirect;
  const https = proto === 'https' || (forwardedHttps(req) && settings.trust(peerAddress(req.socket)));
  const port = https && settings.https.redirectPort !== 443 ? `:${settings.https.redirectPort}` : '';
  return {
    status: settings.https.redirectCode,
    location: `${https ? 'https' : 'http'}://${to}${port}${originForm(target)}`,
  };
}

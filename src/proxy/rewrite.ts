/**
 * `rewrite` is the data-plane half of the `rewrite` family: the `app-root` redirect and the
 * upstream request target of a rewritten route (prepared once per snapshot in compile/rewrite.ts).
 * Routes without a rewrite never reach this module: `resolve` checks one field and moves on.
 */
import type { UpstreamRewrite } from '../compile/rewrite.js';
import type { RouteMatch } from '../compile/types.js';

// `host[:port]`: a DNS name, IPv4 address or bracketed IPv6 literal, and an optional port. Anything
// else never reaches a Location header.
const HOST_HEADER = /^(?:[a-z0-9_-]+(?:\.[a-z0-9_-]+)*|\[[0-9a-f:.]+\])(?::[0-9]{1,5})?$/i;

/**
 * `appRootLocation` is where a request for `/` goes when its route sets `app-root`, or undefined
 * when no redirect applies. nginx answers `302 $scheme://$http_host<app-root>`: the Host header as
 * the client sent it, port included. A Host that is not a plain `host[:port]` gets the normalised
 * host instead, and without a usable host the Location is relative.
 */
export function appRootLocation(
  match: RouteMatch,
  path: string,
  proto: 'http' | 'https',
  rawHost: string | undefined,
  host: string,
): string | undefined {
  const appRoot = match.rewrite?.appRoot;
  if (appRoot === undefined || path !== '/') return undefined;
  const authority = rawHost !== undefined && HOST_HEADER.test(rawHost) ? rawHost : host;
  if (!HOST_HEADER.test(authority)) return appRoot;
  return `${proto}://${authority}${appRoot}`;
}

/** `queryOf` is the query of a request target without its `?`, or undefined when it has none. */
export function queryOf(target: string): string | undefined {
  const q = target.indexOf('?');
  return q === -1 ? undefined : target.slice(q + 1);
}

/**
 * `rewriteUpstream` is the upstream request of a rewritten route, or undefined when the route sends
 * the request target unchanged. `path` is the normalised path the route matched.
 */
export function rewriteUpstream(
  match: RouteMatch,
  path: string,
  target: string,
): UpstreamRewrite | undefined {
  const apply = match.rewrite?.apply;
  return apply === undefined ? undefined : apply(path, queryOf(target));
}

/**
 * `setForwardedPrefix` puts `X-Forwarded-Prefix: value` in a flat upstream header list, replacing
 * any copy the client sent (nginx's `proxy_set_header` replaces too).
 */
export function setForwardedPrefix(headers: string[], value: string): void {
  for (let i = headers.length - 2; i >= 0; i -= 2) {
    if ((headers[i] as string).toLowerCase() === 'x-forwarded-prefix') headers.splice(i, 2);
  }
  headers.push('x-forwarded-prefix', value);
}

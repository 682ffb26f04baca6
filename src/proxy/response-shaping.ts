/**
 * `response-shaping` gathers the response headers a route's policy sets itself: CORS
 * (`cors.ts`) and the `custom-headers` ConfigMap. They go on the backend's responses (replacing
 * the backend's headers of the same names, as ingress-nginx's `more_set_headers` does) and on
 * Portico's own answers for the route (refusals, 503s), so a browser sees CORS headers on a 401
 * or a 429 too. `Vary` is added to, never replaced.
 */
import type { IncomingMessage } from 'node:http';
import type { RoutePolicy } from '../model/types.js';
import { actualHeaders, CORS_HEADER_NAMES } from './cors.js';

/** `ResponseShaping` is what one response gets: headers to add, and the upstream names they replace. */
export interface ResponseShaping {
  readonly headers: readonly string[];
  readonly replace: ReadonlySet<string>;
}

interface Static {
  readonly headers: readonly string[];
  readonly replace: ReadonlySet<string>;
}

const statics = new WeakMap<RoutePolicy, Static>();

function staticPart(policy: RoutePolicy): Static {
  const hit = statics.get(policy);
  if (hit !== undefined) return hit;
  const headers: string[] = [];
  const replace = new Set<string>();
  if (policy.cors !== undefined) for (const n of CORS_HEADER_NAMES) replace.add(n);
  for (const [name, value] of policy.responseHeaders ?? []) {
    headers.push(name, value);
    replace.add(name.toLowerCase());
  }
  const out = { headers, replace };
  statics.set(policy, out);
  return out;
}

/** `responseShaping` returns the shaping of a response to `req` on a route with `policy`, if any. */
export function responseShaping(
  req: IncomingMessage,
  policy: RoutePolicy | undefined,
): ResponseShaping | undefined {
  if (policy === undefined || (policy.cors === undefined && policy.responseHeaders === undefined)) {
    return undefined;
  }
  const fixed = staticPart(policy);
  if (policy.cors === undefined) return fixed;
  return { headers: [...actualHeaders(req, policy.cors), ...fixed.headers], replace: fixed.replace };
}

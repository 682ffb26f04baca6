/**
 * `response-shaping` gathers the headers Portico sets itself on a route's answers: CORS
 * (`cors.ts`), the route's `custom-headers` ConfigMap and the global `add-headers` ConfigMap (the
 * route's win over the global ones of the same name). They go on the backend's responses
 * (replacing the backend's headers of the same names, as ingress-nginx's `more_set_headers` does)
 * and on Portico's own answers (refusals, 503s), so a browser sees CORS headers on a 401 or a 429
 * too. `Vary` is added to, never replaced. `withUpstreamHeaders` is the request-side twin for
 * `proxy-set-headers`.
 */
import type { IncomingMessage } from 'node:http';
import type { RoutePolicy } from '../model/types.js';
import { actualHeaders, CORS_HEADER_NAMES } from './cors.js';

/** `HeaderPairs` is `[name, value]` pairs (`RoutePolicy.responseHeaders`, `add-headers`). */
export type HeaderPairs = readonly (readonly [string, string])[];

/** `ResponseShaping` is what one response gets: headers to add, and the upstream names they replace. */
export interface ResponseShaping {
  readonly headers: readonly string[];
  readonly replace: ReadonlySet<string>;
}

interface Static extends ResponseShaping {
  readonly global: HeaderPairs | undefined;
  readonly hide: readonly string[] | undefined;
}

const byPolicy = new WeakMap<RoutePolicy, Static>();
const NO_POLICY: RoutePolicy = Object.freeze({ backendProtocol: 'HTTP' });

function staticPart(
  policy: RoutePolicy,
  global: HeaderPairs | undefined,
  hide: readonly string[] | undefined,
): Static {
  const hit = byPolicy.get(policy);
  if (hit !== undefined && hit.global === global && hit.hide === hide) return hit;
  const headers: string[] = [];
  // `hide-headers` are dropped like the names Portico sets, without a value of their own.
  const replace = new Set<string>(hide);
  if (policy.cors !== undefined) for (const n of CORS_HEADER_NAMES) replace.add(n);
  const own = new Set((policy.responseHeaders ?? []).map(([name]) => name.toLowerCase()));
  for (const [name, value] of [
    ...(global ?? []).filter(([n]) => !own.has(n.toLowerCase())),
    ...(policy.responseHeaders ?? []),
  ]) {
    headers.push(name, value);
    replace.add(name.toLowerCase());
  }
  const out = { headers, replace, global, hide };
  byPolicy.set(policy, out);
  return out;
}

/**
 * `responseShaping` returns the shaping of a response to `req` on a route with `policy`
 * (`global`: the `add-headers` pairs in force), or undefined when there is none — the common case,
 * decided without allocating.
 */
export function responseShaping(
  req: IncomingMessage,
  policy: RoutePolicy | undefined,
  global?: HeaderPairs,
  hide?: readonly string[],
): ResponseShaping | undefined {
  const p = policy ?? NO_POLICY;
  if (p.cors === undefined && p.responseHeaders === undefined && global === undefined && hide === undefined)
    return undefined;
  const fixed = staticPart(p, global, hide);
  if (p.cors === undefined) return fixed;
  return { headers: [...actualHeaders(req, p.cors), ...fixed.headers], replace: fixed.replace };
}

/**
 * `withUpstreamHeaders` sets `proxy-set-headers` pairs on a flat upstream request header list:
 * the client's headers of those names are dropped. Returns `headers` itself when there are none.
 */
export function withUpstreamHeaders(headers: string[], set: HeaderPairs | undefined): string[] {
  if (set === undefined || set.length === 0) return headers;
  const names = new Set(set.map(([name]) => name.toLowerCase()));
  const out: string[] = [];
  for (let i = 0; i + 1 < headers.length; i += 2) {
    const name = headers[i] as string;
    if (!names.has(name.toLowerCase())) out.push(name, headers[i + 1] as string);
  }
  for (const [name, value] of set) out.push(name, value);
  return out;
}

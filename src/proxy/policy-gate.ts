/**
 * `policy-gate` puts a route's policy chain (`src/policy/chain.ts`) between routing and the
 * upstream, for plain requests and WebSocket upgrades alike. It runs after the answers that need
 * neither backend nor credentials (400s, 404s, HTTPS redirects, client-certificate checks, fail-closed
 * policies) and before a missing backend is admitted: a 503 "no ready endpoints" is only told to a
 * client that got past the route's IP lists, limits and authentication.
 */
import type { IncomingMessage } from 'node:http';
import type { PolicyEngine, PolicyResult } from '../policy/chain.js';
import type { ProxyErrorCode } from './errors.js';
import { peerAddress } from './forwarded-headers.js';
import type { Resolution, ResolveContext } from './resolve.js';

// Built-in answers that come AFTER the policies: they describe the backend.
const BACKEND_ANSWERS: ReadonlySet<ProxyErrorCode> = new Set<ProxyErrorCode>([
  'PORTICO_ERR_NO_ENDPOINTS',
  'PORTICO_ERR_BACKEND_PROBLEM',
  'PORTICO_ERR_UPSTREAM_TLS_CONFIG',
]);

/**
 * `gate` runs the policies of a resolved request when it has any; undefined means "no policy
 * applies", the common case, decided with one cached lookup.
 */
export function gate(
  req: IncomingMessage,
  r: Resolution,
  ctx: ResolveContext,
): PolicyResult | Promise<PolicyResult> | undefined {
  const policies: PolicyEngine | undefined = ctx.policies;
  if (policies === undefined || r.match === undefined || r.host === undefined) return undefined;
  if (!r.ok && (r.location !== undefined || !BACKEND_ANSWERS.has(r.code))) return undefined;
  if (!policies.hasChain(r.match)) return undefined;
  const settings = r.ok ? r.settings : ctx.settings();
  return policies.run({
    req,
    match: r.match,
    peer: r.ok ? r.peer : peerAddress(req.socket),
    trust: settings.trust,
    limitStatus: settings.limitStatus,
    proto: ctx.proto,
    host: r.host,
    requestId: r.requestId,
  });
}

/** `withHeaders` joins two optional flat header lists. */
export function withHeaders(
  a: readonly string[] | undefined,
  b: readonly string[] | undefined,
): readonly string[] | undefined {
  if (b === undefined || b.length === 0) return a;
  if (a === undefined || a.length === 0) return b;
  return [...a, ...b];
}

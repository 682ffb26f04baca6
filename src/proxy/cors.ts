/**
 * `cors` is the request-time half of the `cors` annotation family: it answers preflights and
 * computes the `Access-Control-*` headers of actual responses. Origins are compiled once per
 * policy object (a WeakMap, so a snapshot swap drops them with the policy).
 *
 * As ingress-nginx: `*` answers `Access-Control-Allow-Origin: *` to every request (with or without
 * `Origin`); a list answers the request's own origin when it matches, and nothing otherwise.
 * Unlike ingress-nginx, matches are whole-string (its regex is not anchored at the start) and
 * list answers carry `Vary: Origin`, so a shared cache never serves one origin's answer to another.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CorsPolicy } from '../model/types.js';
import type { ProxyErrorCode } from './errors.js';
import type { Resolution } from './resolve.js';

interface Wildcard {
  /** `https://` */
  readonly prefix: string;
  /** `.example.com:8443` */
  readonly suffix: string;
}

interface CompiledCors {
  readonly any: boolean;
  readonly exact: ReadonlySet<string>;
  readonly wildcards: readonly Wildcard[];
  /** Preflight answer headers after Access-Control-Allow-Origin (same for every origin). */
  readonly preflight: readonly string[];
  /** Actual-response headers after Access-Control-Allow-Origin. */
  readonly actual: readonly string[];
}

const compiled = new WeakMap<CorsPolicy, CompiledCors>();

// One DNS label in place of `*` (ingress-nginx: `[A-Za-z0-9\-]+`).
const LABEL = /^[a-z0-9-]+$/;

function compile(policy: CorsPolicy): CompiledCors {
  const hit = compiled.get(policy);
  if (hit !== undefined) return hit;
  const exact = new Set<string>();
  const wildcards: Wildcard[] = [];
  for (const origin of policy.allowOrigins) {
    const star = origin.indexOf('://*.');
    if (star === -1) exact.add(origin);
    else wildcards.push({ prefix: origin.slice(0, star + 3), suffix: origin.slice(star + 4) });
  }
  const common: string[] = [];
  if (policy.allowCredentials) common.push('access-control-allow-credentials', 'true');
  if (policy.exposeHeaders !== undefined) common.push('access-control-expose-headers', policy.exposeHeaders);
  const out: CompiledCors = {
    any: policy.allowOrigins.includes('*'),
    exact,
    wildcards,
    actual: common,
    preflight: [
      ...common,
      'access-control-allow-methods',
      policy.allowMethods,
      'access-control-allow-headers',
      policy.allowHeaders,
      'access-control-max-age',
      String(policy.maxAgeSeconds),
    ],
  };
  compiled.set(policy, out);
  return out;
}

/** `originAllowed` says whether `origin` (as the client sent it) matches the policy's list. */
export function originAllowed(policy: CorsPolicy, origin: string): boolean {
  const c = compile(policy);
  if (c.any) return true;
  const o = origin.toLowerCase();
  if (c.exact.has(o)) return true;
  for (const w of c.wildcards) {
    if (o.length <= w.prefix.length + w.suffix.length) continue;
    if (!o.startsWith(w.prefix) || !o.endsWith(w.suffix)) continue;
    if (LABEL.test(o.slice(w.prefix.length, o.length - w.suffix.length))) return true;
  }
  return false;
}

function originOf(req: IncomingMessage): string | undefined {
  const origin = req.headers.origin;
  return typeof origin === 'string' && origin !== '' ? origin : undefined;
}

/** `CORS_HEADER_NAMES` are the headers Portico sets on actual responses, replacing the backend's. */
export const CORS_HEADER_NAMES: readonly string[] = [
  'access-control-allow-origin',
  'access-control-allow-credentials',
  'access-control-expose-headers',
];

/**
 * `preflightHeaders` returns the headers of Portico's 204 answer when `req` is a CORS preflight
 * (OPTIONS with `Origin` and `Access-Control-Request-Method`) from an allowed origin; undefined
 * otherwise (the request then goes on like any other, to the policies and the backend).
 */
export function preflightHeaders(req: IncomingMessage, policy: CorsPolicy): string[] | undefined {
  if (req.method !== 'OPTIONS') return undefined;
  const origin = originOf(req);
  if (origin === undefined || req.headers['access-control-request-method'] === undefined) return undefined;
  if (!originAllowed(policy, origin)) return undefined;
  const c = compile(policy);
  const headers = ['access-control-allow-origin', c.any ? '*' : origin, ...c.preflight];
  if (!c.any) headers.push('vary', 'Origin');
  // ingress-nginx also sets Content-Length: 0, which RFC 9110 §8.6 forbids on a 204.
  headers.push('content-type', 'text/plain charset=UTF-8');
  return headers;
}

/**
 * `actualHeaders` returns the CORS headers of a response to `req` (the backend's or Portico's
 * own): empty when the origin is not allowed, only `Vary: Origin` then for a list.
 */
export function actualHeaders(req: IncomingMessage, policy: CorsPolicy): string[] {
  const c = compile(policy);
  if (c.any) return ['access-control-allow-origin', '*', ...c.actual];
  const origin = originOf(req);
  if (origin === undefined || !originAllowed(policy, origin)) return ['vary', 'Origin'];
  return ['access-control-allow-origin', origin, ...c.actual, 'vary', 'Origin'];
}

// Built-in answers a preflight still gets answered over: they describe the backend, which a
// preflight never reaches. 400s, 404s, redirects and client-certificate refusals come first.
const BACKEND_ANSWERS: ReadonlySet<ProxyErrorCode> = new Set<ProxyErrorCode>([
  'PORTICO_ERR_NO_ENDPOINTS',
  'PORTICO_ERR_BACKEND_PROBLEM',
  'PORTICO_ERR_UPSTREAM_TLS_CONFIG',
]);

/**
 * `answerPreflight` answers a CORS preflight of a route with `enable-cors` (204, step 1 of the hook
 * order: before IP lists, limits and authentication, and without the backend) and returns true;
 * false when `r` is not such a request. `close` forces `Connection: close` (draining).
 */
export function answerPreflight(
  req: IncomingMessage,
  res: ServerResponse,
  r: Resolution,
  close: boolean,
  global?: readonly (readonly [string, string])[],
): boolean {
  const cors = r.match?.policy.cors;
  if (cors === undefined || r.location !== undefined) return false;
  if (!r.ok && !BACKEND_ANSWERS.has(r.code)) return false;
  const headers = preflightHeaders(req, cors);
  if (headers === undefined) return false;
  const own = r.match?.policy.responseHeaders ?? [];
  const ownNames = new Set(own.map(([name]) => name.toLowerCase()));
  for (const [name, value] of global ?? []) if (!ownNames.has(name.toLowerCase())) headers.push(name, value);
  for (const [name, value] of own) headers.push(name, value);
  headers.push('server', 'portico', 'x-request-id', r.requestId);
  if (r.hsts !== undefined) headers.push(...r.hsts);
  if (close && req.httpVersionMajor !== 2) headers.push('connection', 'close');
  res.writeHead(204, headers);
  res.end();
  return true;
}

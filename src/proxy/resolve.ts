/**
 * `resolve` is the request-side half shared by plain HTTP and WebSocket upgrades: normalise host
 * and path, look the request up in ONE snapshot, check the backend, pick its endpoint set and
 * build the upstream headers. It answers with either an upstream plan or a built-in response.
 */
import type { IncomingMessage } from 'node:http';
import { normalizeHost, normalizeRequestPath } from '../compile/normalize.js';
import type { RouteMatch, RouteSnapshot } from '../compile/types.js';
import type { ClientCertChecker } from './client-certs.js';
import {
  backendProblemBody,
  badRequestBody,
  noEndpointsBody,
  notFoundBody,
  type ProxyErrorCode,
  statusLine,
} from './errors.js';
import { buildUpstreamHeaders, clientAddress, generateRequestId } from './forwarded-headers.js';
import type { LiveSettings } from './live-settings.js';
import type { BackendUpstreams, UpstreamRegistry } from './upstreams.js';

/** `ResolveContext` is what resolution needs from the data plane. */
export interface ResolveContext {
  readonly snapshot: () => RouteSnapshot;
  readonly upstreams: UpstreamRegistry;
  /** The global settings in force; read once per request, the result travels with it. */
  readonly settings: () => LiveSettings;
  readonly proto: 'http' | 'https';
  /** Checks hosts with `auth-tls-*`; without it such hosts fail closed (503). */
  readonly clientCerts?: ClientCertChecker;
}

/** `Resolution` is the outcome of `resolveRequest`. */
export type Resolution =
  | {
      readonly ok: true;
      readonly requestId: string;
      readonly match: RouteMatch;
      readonly backend: BackendUpstreams;
      readonly headers: string[];
      readonly peer: string;
      readonly path: string;
      /** The settings this request runs with, from start to end. */
      readonly settings: LiveSettings;
    }
  | {
      readonly ok: false;
      readonly requestId: string;
      readonly status: 400 | 404 | 421 | 503;
      readonly code: ProxyErrorCode;
      readonly body: string;
      readonly match?: RouteMatch;
    };

const CLIENT_AUTH_UNAVAILABLE = {
  ok: false,
  status: 503,
  code: 'PORTICO_ERR_CLIENT_AUTH_CONFIG',
  body: `${statusLine(503)} — client certificates cannot be checked on this listener\n`,
} as const;

/** `requestIdOf` returns the client's X-Request-ID, or a fresh one. */
export function requestIdOf(req: IncomingMessage): string {
  const incoming = req.headers['x-request-id'];
  return typeof incoming === 'string' && incoming !== '' ? incoming : generateRequestId();
}

/** Host of an absolute-form target (`http://host:port/p`), which RFC 9112 §3.2.2 says wins over Host. */
function absoluteFormHost(target: string): string | undefined {
  if (target.charCodeAt(0) === 0x2f /* / */) return undefined;
  const scheme = target.indexOf('://');
  if (scheme === -1) return undefined;
  const start = scheme + 3;
  let end = target.length;
  for (let i = start; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c === 0x2f || c === 0x3f || c === 0x23) {
      end = i;
      break;
    }
  }
  const authority = target.slice(start, end);
  const at = authority.lastIndexOf('@');
  return at === -1 ? authority : authority.slice(at + 1);
}

/** `routeLabel` names the route that answered, for logs. */
export function routeLabel(match: RouteMatch | undefined): string {
  if (match === undefined) return 'none';
  if (match.route !== undefined)
    return `${match.ingress ?? '?'} ${match.route.host || '*'}${match.route.path}`;
  return match.ingress === undefined ? match.kind : `${match.ingress} ${match.kind}`;
}

/** `resolveRequest` routes one request; see the module comment. */
export function resolveRequest(req: IncomingMessage, ctx: ResolveContext, upgrade?: string): Resolution {
  const requestId = requestIdOf(req);
  const snapshot = ctx.snapshot();
  const target = req.url ?? '/';
  const normalized = normalizeRequestPath(target);
  if (!normalized.ok) {
    return {
      ok: false,
      requestId,
      status: 400,
      code: 'PORTICO_ERR_BAD_REQUEST',
      body: badRequestBody(normalized.reason),
    };
  }
  const host = normalizeHost(absoluteFormHost(target) ?? req.headers.host);
  const match = snapshot.match(host, normalized.path);
  // Client-certificate hosts are checked before anything else answers, 404s included.
  let clientAuthHeaders: readonly string[] | undefined;
  if (match.clientAuth !== undefined) {
    const outcome =
      ctx.clientCerts?.check(req.socket, ctx.proto === 'https', host, match.clientAuth) ??
      CLIENT_AUTH_UNAVAILABLE;
    if (!outcome.ok) {
      return { ok: false, requestId, status: outcome.status, code: outcome.code, body: outcome.body, match };
    }
    clientAuthHeaders = outcome.headers;
  }
  const backendRef = match.backend;
  if (match.kind === 'not-found' || backendRef === undefined) {
    return {
      ok: false,
      requestId,
      status: 404,
      code: 'PORTICO_ERR_NO_ROUTE',
      body: notFoundBody(host, normalized.path),
      match,
    };
  }
  if (backendRef.problem !== undefined || backendRef.target === undefined) {
    return {
      ok: false,
      requestId,
      status: 503,
      code: 'PORTICO_ERR_BACKEND_PROBLEM',
      body: backendProblemBody(backendRef.key, backendRef.problem ?? 'the backend has no resolved target'),
      match,
    };
  }
  const backend = ctx.upstreams.backend(backendRef.key);
  if (backend === undefined || backend.upstreams.length === 0) {
    return {
      ok: false,
      requestId,
      status: 503,
      code: 'PORTICO_ERR_NO_ENDPOINTS',
      body: noEndpointsBody(backendRef.key),
      match,
    };
  }
  const socket = req.socket;
  const peer = clientAddress(socket.remoteAddress);
  const settings = ctx.settings();
  const built = buildUpstreamHeaders(req.rawHeaders, {
    peer,
    trusted: settings.trust(peer),
    proto: ctx.proto,
    localPort: socket.localPort ?? 0,
    requestId,
    ...(upgrade === undefined ? {} : { upgrade }),
  });
  if (built.duplicateHost) {
    return {
      ok: false,
      requestId,
      status: 400,
      code: 'PORTICO_ERR_BAD_REQUEST',
      body: badRequestBody('more than one Host header'),
      match,
    };
  }
  if (clientAuthHeaders !== undefined) built.headers.push(...clientAuthHeaders);
  return {
    ok: true,
    requestId,
    match,
    backend,
    headers: built.headers,
    peer,
    path: normalized.path,
    settings,
  };
}
